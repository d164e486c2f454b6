/* heron guest workload "nbody": double-precision FP with sqrt and fused multiply-add.
 * The classic five-body planetary simulation, advanced N steps. Every product-sum is
 * an explicit fma() and the program is built with -ffp-contract=off, so the result is
 * bit-identical on every IEEE-754 host and guest.
 * Usage: nbody [N]   (N = steps, default 10000000). Prints energies before and after. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.141592653589793
#define SOLAR_MASS (4 * PI * PI)
#define DAYS_PER_YEAR 365.24
#define NB 5

struct body { double x, y, z, vx, vy, vz, mass; };

static struct body bodies[NB] = {
    {0, 0, 0, 0, 0, 0, SOLAR_MASS},
    {4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
     1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR,
     -6.90460016972063023e-05 * DAYS_PER_YEAR, 9.54791938424326609e-04 * SOLAR_MASS},
    {8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
     -2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR,
     2.30417297573763929e-05 * DAYS_PER_YEAR, 2.85885980666130812e-04 * SOLAR_MASS},
    {1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
     2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR,
     -2.96589568540237556e-05 * DAYS_PER_YEAR, 4.36624404335156298e-05 * SOLAR_MASS},
    {1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
     2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR,
     -9.51592254519715870e-05 * DAYS_PER_YEAR, 5.15138902046611451e-05 * SOLAR_MASS},
};

static void offset_momentum(void) {
    double px = 0, py = 0, pz = 0;
    for (int i = 0; i < NB; i++) {
        px = fma(bodies[i].vx, bodies[i].mass, px);
        py = fma(bodies[i].vy, bodies[i].mass, py);
        pz = fma(bodies[i].vz, bodies[i].mass, pz);
    }
    bodies[0].vx = -px / SOLAR_MASS;
    bodies[0].vy = -py / SOLAR_MASS;
    bodies[0].vz = -pz / SOLAR_MASS;
}

static double energy(void) {
    double e = 0;
    for (int i = 0; i < NB; i++) {
        struct body *b = &bodies[i];
        double v2 = fma(b->vx, b->vx, fma(b->vy, b->vy, b->vz * b->vz));
        e = fma(0.5 * b->mass, v2, e);
        for (int j = i + 1; j < NB; j++) {
            struct body *c = &bodies[j];
            double dx = b->x - c->x, dy = b->y - c->y, dz = b->z - c->z;
            double d = sqrt(fma(dx, dx, fma(dy, dy, dz * dz)));
            e -= (b->mass * c->mass) / d;
        }
    }
    return e;
}

static void advance(double dt) {
    for (int i = 0; i < NB; i++) {
        struct body *b = &bodies[i];
        for (int j = i + 1; j < NB; j++) {
            struct body *c = &bodies[j];
            double dx = b->x - c->x, dy = b->y - c->y, dz = b->z - c->z;
            double d2 = fma(dx, dx, fma(dy, dy, dz * dz));
            double mag = dt / (d2 * sqrt(d2));
            double bm = c->mass * mag, cm = b->mass * mag;
            b->vx = fma(-dx, bm, b->vx);
            b->vy = fma(-dy, bm, b->vy);
            b->vz = fma(-dz, bm, b->vz);
            c->vx = fma(dx, cm, c->vx);
            c->vy = fma(dy, cm, c->vy);
            c->vz = fma(dz, cm, c->vz);
        }
    }
    for (int i = 0; i < NB; i++) {
        struct body *b = &bodies[i];
        b->x = fma(dt, b->vx, b->x);
        b->y = fma(dt, b->vy, b->y);
        b->z = fma(dt, b->vz, b->z);
    }
}

static uint64_t bits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

int main(int argc, char **argv) {
    long steps = argc > 1 ? strtol(argv[1], NULL, 10) : 10000000;
    offset_momentum();
    double e0 = energy();
    for (long s = 0; s < steps; s++)
        advance(0.01);
    double e1 = energy();
    printf("nbody steps=%ld e0=%.9f e1=%.9f bits=%016llx:%016llx\n", steps, e0, e1,
           (unsigned long long)bits(e0), (unsigned long long)bits(e1));
    return 0;
}
