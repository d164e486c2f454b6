/* heron-build: march=armv8.1-a
 * atomic128: 128-bit single-copy atomicity of LDXP/STXP, LDAXP/STLXP and CASP/CASPAL (64-bit
 * pairs) and of 32-bit-pair CASP, under several threads.
 *  - "pair": threads increment a pair (lo, hi) kept as hi == lo ^ MAGIC, half of them with
 *    LDXP/STXP loops, half with CASP loops; every pair a thread reads must satisfy the
 *    invariant and the final count must be exact.
 *  - "mixed": threads bump the high half with 128-bit CASP or STXP while other threads add
 *    to the low half with 64-bit LDADD; a 128-bit update that is not atomic against the
 *    64-bit one loses some of those additions.
 *  - "casp32": 32-bit pair CASP on a 64-bit word, same invariant.
 * Prints the totals and the number of torn CASP results (0 expected). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define MAGIC 0x5a5a5a5a5a5a5a5aULL
#define THREADS 4
#define ITERS 20000
#define MIXED_ITERS 100000

struct pair {
  uint64_t lo, hi;
} __attribute__((aligned(16)));

static struct pair p = {0, MAGIC};
static struct pair m = {0, 0};
static uint64_t w32 __attribute__((aligned(8))) = (uint64_t)0x5a5a5a5aU << 32;
static long torn;

static void note_torn(void) { __atomic_add_fetch(&torn, 1, __ATOMIC_RELAXED); }

/* One increment of p with LDAXP/STLXP (acq = 1) or LDXP/STXP. */
static void inc_excl(int acq) {
  uint64_t lo, hi;
  uint32_t fail;
  do {
    if (acq) {
      __asm__ volatile("ldaxp %0, %1, [%2]" : "=&r"(lo), "=&r"(hi) : "r"(&p) : "memory");
    } else {
      __asm__ volatile("ldxp %0, %1, [%2]" : "=&r"(lo), "=&r"(hi) : "r"(&p) : "memory");
    }
    if (hi != (lo ^ MAGIC)) {
      /* LDXP alone may tear (it is atomic only with a successful STXP), but a torn
       * pair must never be stored back: retry. */
      __asm__ volatile("clrex" ::: "memory");
      fail = 1;
      continue;
    }
    uint64_t nlo = lo + 1, nhi = nlo ^ MAGIC;
    if (acq) {
      __asm__ volatile("stlxp %w0, %1, %2, [%3]" : "=&r"(fail) : "r"(nlo), "r"(nhi), "r"(&p) : "memory");
    } else {
      __asm__ volatile("stxp %w0, %1, %2, [%3]" : "=&r"(fail) : "r"(nlo), "r"(nhi), "r"(&p) : "memory");
    }
  } while (fail);
}

/* CASPAL on (lo, hi) at q: returns the old pair in *olo, *ohi. */
static void caspal(struct pair *q, uint64_t elo, uint64_t ehi, uint64_t nlo, uint64_t nhi, uint64_t *olo,
                   uint64_t *ohi) {
  register uint64_t x0 __asm__("x0") = elo;
  register uint64_t x1 __asm__("x1") = ehi;
  register uint64_t x2 __asm__("x2") = nlo;
  register uint64_t x3 __asm__("x3") = nhi;
  __asm__ volatile("caspal x0, x1, x2, x3, [%4]" : "+r"(x0), "+r"(x1) : "r"(x2), "r"(x3), "r"(q) : "memory");
  *olo = x0;
  *ohi = x1;
}

/* Plain CASP (no ordering) on p. */
static void casp(uint64_t elo, uint64_t ehi, uint64_t nlo, uint64_t nhi, uint64_t *olo, uint64_t *ohi) {
  register uint64_t x4 __asm__("x4") = elo;
  register uint64_t x5 __asm__("x5") = ehi;
  register uint64_t x6 __asm__("x6") = nlo;
  register uint64_t x7 __asm__("x7") = nhi;
  __asm__ volatile("casp x4, x5, x6, x7, [%4]" : "+r"(x4), "+r"(x5) : "r"(x6), "r"(x7), "r"(&p) : "memory");
  *olo = x4;
  *ohi = x5;
}

static void inc_casp(int ordered) {
  uint64_t lo = 0, hi = MAGIC;
  for (;;) {
    uint64_t olo, ohi;
    if (ordered) {
      caspal(&p, lo, hi, lo + 1, (lo + 1) ^ MAGIC, &olo, &ohi);
    } else {
      casp(lo, hi, lo + 1, (lo + 1) ^ MAGIC, &olo, &ohi);
    }
    if (olo == lo && ohi == hi) {
      return;
    }
    if (ohi != (olo ^ MAGIC)) {
      note_torn();
    }
    lo = olo;
    hi = ohi;
  }
}

static void *pair_worker(void *arg) {
  long id = (long)arg;
  for (int i = 0; i < ITERS; i++) {
    switch (id & 3) {
    case 0: inc_excl(0); break;
    case 1: inc_casp(0); break;
    case 2: inc_excl(1); break;
    default: inc_casp(1); break;
    }
  }
  return NULL;
}

/* mixed: id even bumps m.hi with CASPAL, id odd with LDXP/STXP; each also adds 1 to m.lo
 * with a 64-bit LDADD per iteration. */
static void *mixed_worker(void *arg) {
  long id = (long)arg;
  for (int i = 0; i < MIXED_ITERS; i++) {
    uint64_t one = 1, old;
    __asm__ volatile("ldadd %1, %0, [%2]" : "=&r"(old) : "r"(one), "r"(&m.lo) : "memory");
    if (id & 1) {
      uint64_t lo, hi;
      uint32_t fail;
      do {
        __asm__ volatile("ldxp %0, %1, [%2]" : "=&r"(lo), "=&r"(hi) : "r"(&m) : "memory");
        __asm__ volatile("stxp %w0, %1, %2, [%3]" : "=&r"(fail) : "r"(lo), "r"(hi + 1), "r"(&m) : "memory");
      } while (fail);
    } else {
      uint64_t lo = 0, hi = 0;
      for (;;) {
        uint64_t olo, ohi;
        caspal(&m, lo, hi, lo, hi + 1, &olo, &ohi);
        if (olo == lo && ohi == hi) {
          break;
        }
        lo = olo;
        hi = ohi;
      }
    }
  }
  return NULL;
}

/* casp32: the word holds (lo32, hi32) with hi32 == lo32 ^ 0x5a5a5a5a. */
static void *casp32_worker(void *arg) {
  (void)arg;
  for (int i = 0; i < ITERS; i++) {
    uint32_t lo = 0, hi = 0x5a5a5a5aU;
    for (;;) {
      register uint32_t w0 __asm__("w8") = lo;
      register uint32_t w1 __asm__("w9") = hi;
      register uint32_t w2 __asm__("w10") = lo + 1;
      register uint32_t w3 __asm__("w11") = (lo + 1) ^ 0x5a5a5a5aU;
      __asm__ volatile("caspal w8, w9, w10, w11, [%4]" : "+r"(w0), "+r"(w1) : "r"(w2), "r"(w3), "r"(&w32) : "memory");
      if (w0 == lo && w1 == hi) {
        break;
      }
      if (w1 != (w0 ^ 0x5a5a5a5aU)) {
        note_torn();
      }
      lo = w0;
      hi = w1;
    }
  }
  return NULL;
}

static void run(void *(*f)(void *)) {
  pthread_t t[THREADS];
  for (long i = 0; i < THREADS; i++) {
    pthread_create(&t[i], NULL, f, (void *)i);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
  }
}

int main(void) {
  run(pair_worker);
  printf("pair lo %llu consistent %d torn %ld\n", (unsigned long long)p.lo, p.hi == (p.lo ^ MAGIC), torn);
  torn = 0;
  run(mixed_worker);
  printf("mixed lo %llu hi %llu\n", (unsigned long long)m.lo, (unsigned long long)m.hi);
  run(casp32_worker);
  uint32_t lo = (uint32_t)w32, hi = (uint32_t)(w32 >> 32);
  printf("casp32 lo %u consistent %d torn %ld\n", lo, hi == (lo ^ 0x5a5a5a5aU), torn);
  /* Single-threaded edge cases: a failing CASP returns the current pair and stores
   * nothing; a failing STXP after the pair changed reports 1. */
  struct pair q __attribute__((aligned(16))) = {7, 9};
  uint64_t olo, ohi;
  caspal(&q, 7, 8, 1, 2, &olo, &ohi);
  printf("casp fail old %llu %llu mem %llu %llu\n", (unsigned long long)olo, (unsigned long long)ohi,
         (unsigned long long)q.lo, (unsigned long long)q.hi);
  caspal(&q, 7, 9, 1, 2, &olo, &ohi);
  printf("casp ok old %llu %llu mem %llu %llu\n", (unsigned long long)olo, (unsigned long long)ohi,
         (unsigned long long)q.lo, (unsigned long long)q.hi);
  uint64_t a, b;
  uint32_t fail;
  __asm__ volatile("ldxp %0, %1, [%2]" : "=&r"(a), "=&r"(b) : "r"(&q) : "memory");
  q.hi = 5;
  __asm__ volatile("stxp %w0, %1, %2, [%3]" : "=&r"(fail) : "r"(a), "r"(b), "r"(&q) : "memory");
  printf("stxp after change %u mem %llu %llu\n", fail, (unsigned long long)q.lo, (unsigned long long)q.hi);
  __asm__ volatile("ldxp %0, %1, [%2]" : "=&r"(a), "=&r"(b) : "r"(&q) : "memory");
  __asm__ volatile("stxp %w0, %1, %2, [%3]" : "=&r"(fail) : "r"(a + 10), "r"(b + 10), "r"(&q) : "memory");
  printf("stxp %u mem %llu %llu\n", fail, (unsigned long long)q.lo, (unsigned long long)q.hi);
  int ok = p.lo == (uint64_t)THREADS * ITERS && p.hi == (p.lo ^ MAGIC) && m.lo == (uint64_t)THREADS * MIXED_ITERS &&
           m.hi == (uint64_t)THREADS * MIXED_ITERS && lo == THREADS * ITERS && hi == (lo ^ 0x5a5a5a5aU) && torn == 0;
  printf("%s\n", ok ? "atomic128 ok" : "atomic128 FAILED");
  return ok ? 0 : 1;
}
