/* malloc_stress: deterministic (xorshift) mix of malloc/calloc/realloc/free of sizes from
 * 1 byte to 512 KiB (brk and mmap backed), each block filled with a pattern and verified
 * before it is freed; plus raw mmap/mprotect/mremap/munmap and sbrk. */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "t.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

#define SLOTS 512
static unsigned char *ptr[SLOTS];
static size_t len[SLOTS];
static unsigned char tag[SLOTS];

static int verify(int i) {
  for (size_t k = 0; k < len[i]; k += 1 + len[i] / 64)
    if (ptr[i][k] != (unsigned char)(tag[i] + k)) return 0;
  return len[i] == 0 || ptr[i][len[i] - 1] == (unsigned char)(tag[i] + len[i] - 1);
}

static void fill(int i) {
  for (size_t k = 0; k < len[i]; k++) ptr[i][k] = (unsigned char)(tag[i] + k);
}

int main(void) {
  uint64_t checksum = 0;
  long bad = 0;
  for (int round = 0; round < 20000; round++) {
    int i = next() % SLOTS;
    if (ptr[i]) {
      if (!verify(i)) bad++;
      if (next() % 3 == 0) {
        size_t nl = 1 + next() % (next() % 32 == 0 ? (512 << 10) : 2048);
        unsigned char *p = realloc(ptr[i], nl);
        CHECK(p != NULL);
        size_t keep = nl < len[i] ? nl : len[i];
        for (size_t k = 0; k < keep; k += 1 + keep / 32)
          if (p[k] != (unsigned char)(tag[i] + k)) bad++;
        ptr[i] = p;
        len[i] = nl;
        fill(i);
        continue;
      }
      checksum += len[i];
      free(ptr[i]);
      ptr[i] = NULL;
      continue;
    }
    size_t n = 1 + next() % (next() % 128 == 0 ? (512 << 10) : 512);
    tag[i] = (unsigned char)next();
    if (next() % 4 == 0) {
      ptr[i] = calloc(n, 1);
      CHECK(ptr[i] != NULL);
      for (size_t k = 0; k < n; k += 1 + n / 16)
        if (ptr[i][k]) bad++;
    } else {
      ptr[i] = malloc(n);
      CHECK(ptr[i] != NULL);
    }
    len[i] = n;
    fill(i);
  }
  for (int i = 0; i < SLOTS; i++) {
    if (ptr[i] && !verify(i)) bad++;
    free(ptr[i]);
  }
  printf("malloc rounds done, bad=%ld checksum=%llu\n", bad, (unsigned long long)checksum);

  /* raw mappings */
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  unsigned char *m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED);
  CHECK(m[0] == 0 && m[4 * pg - 1] == 0);
  memset(m, 0x5a, 4 * pg);
  CHECK(mprotect(m, pg, PROT_READ) == 0);
  CHECK(m[0] == 0x5a);
  CHECK(mprotect(m, pg, PROT_READ | PROT_WRITE) == 0); /* mremap needs one mapping */
  unsigned char *m2 = mremap(m, 4 * pg, 64 * pg, MREMAP_MAYMOVE);
  CHECK(m2 != MAP_FAILED);
  if (m2 != MAP_FAILED) {
    printf("mremap kept data: %d %d, new tail zero: %d\n", m2[pg] == 0x5a, m2[4 * pg - 1] == 0x5a,
           m2[64 * pg - 1] == 0);
    CHECK(munmap(m2, 64 * pg) == 0);
  }
  unsigned char *big = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(big != MAP_FAILED);
  if (big != MAP_FAILED) {
    for (size_t k = 0; k < (64u << 20); k += pg) big[k] = (unsigned char)(k >> 12);
    unsigned s = 0;
    for (size_t k = 0; k < (64u << 20); k += pg) s += big[k];
    printf("64 MiB mapping touched, sum=%u\n", s);
    CHECK(munmap(big, 64 << 20) == 0);
  }
  void *b0 = sbrk(0);
  CHECK(sbrk(3 * pg) == b0);
  memset(b0, 1, 3 * pg);
  CHECK((char *)sbrk(0) == (char *)b0 + 3 * pg);
  CHECK(sbrk(-(intptr_t)(3 * pg)) != (void *)-1);
  printf("sbrk ok\n");
  return test_exit();
}
