/* heron guest workload "sieve": integer loops and byte stores.
 * Sieve of Eratosthenes over odd numbers below 2^21, repeated N times (each pass
 * also folds the primes into a running checksum).
 * Usage: sieve [N]   (N = passes, default 250). Prints prime count and checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT (1u << 21)

int main(int argc, char **argv) {
    long passes = argc > 1 ? strtol(argv[1], NULL, 10) : 250;
    static uint8_t composite[LIMIT / 2];
    uint64_t sum = 0;
    uint32_t count = 0;
    for (long p = 0; p < passes; p++) {
        memset(composite, 0, sizeof composite);
        /* composite[i] describes the odd number 2*i+1. */
        for (uint32_t i = 1; (2 * i + 1) * (2 * i + 1) < LIMIT; i++) {
            if (composite[i])
                continue;
            uint32_t step = 2 * i + 1;
            for (uint32_t j = (step * step) / 2; j < LIMIT / 2; j += step)
                composite[j] = 1;
        }
        count = 1; /* the prime 2 */
        uint64_t s = 2;
        for (uint32_t i = 1; i < LIMIT / 2; i++) {
            if (!composite[i]) {
                count++;
                s = s * 31 + (2 * i + 1) + (uint64_t)p;
            }
        }
        sum ^= s + (sum << 7) + (sum >> 3);
    }
    printf("sieve passes=%ld primes=%u checksum=%016llx\n", passes, count,
           (unsigned long long)sum);
    return 0;
}
