/* heron guest workload "matmul": double-precision matrix multiply (fused multiply-add,
 * loads/stores with strides). Multiplies two 128x128 matrices N times (i-k-j order,
 * explicit fma(); built with -ffp-contract=off so the result is bit-identical on every
 * IEEE-754 machine); between rounds one row of B is nudged so no round repeats.
 * Usage: matmul [N]   (N = multiplications, default 3000). Prints a checksum of C. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM 128

static double A[DIM][DIM], B[DIM][DIM], C[DIM][DIM];

static void multiply(void) {
    for (int i = 0; i < DIM; i++) {
        for (int j = 0; j < DIM; j++)
            C[i][j] = 0;
        for (int k = 0; k < DIM; k++) {
            double a = A[i][k];
            for (int j = 0; j < DIM; j++)
                C[i][j] = fma(a, B[k][j], C[i][j]);
        }
    }
}

int main(int argc, char **argv) {
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 3000;
    uint32_t s = 12345;
    for (int i = 0; i < DIM; i++)
        for (int j = 0; j < DIM; j++) {
            s = s * 1103515245u + 12345u;
            A[i][j] = (double)(s >> 8) / 16777216.0 - 0.5;
            s = s * 1103515245u + 12345u;
            B[i][j] = (double)(s >> 8) / 16777216.0 - 0.5;
        }
    double total = 0;
    for (long r = 0; r < rounds; r++) {
        multiply();
        double trace = 0;
        for (int i = 0; i < DIM; i++)
            trace += C[i][i];
        total = fma(total, 0.5, trace);
        int row = (int)(r % DIM);
        for (int j = 0; j < DIM; j++)
            B[row][j] = fma(B[row][j], 0.999, C[row][j] * 1e-3);
    }
    double sum = 0;
    for (int i = 0; i < DIM; i++)
        for (int j = 0; j < DIM; j++)
            sum += C[i][j];
    uint64_t tb, sb;
    memcpy(&tb, &total, sizeof tb);
    memcpy(&sb, &sum, sizeof sb);
    printf("matmul rounds=%ld total=%.12e sum=%.12e bits=%016llx:%016llx\n", rounds, total, sum,
           (unsigned long long)tb, (unsigned long long)sb);
    return 0;
}
