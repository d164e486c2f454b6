/* heron guest workload "strmem": the C library's memory and string routines
 * (memset, memcpy, memmove, strlen, memchr, strcmp) over buffers of many sizes and
 * alignments, driven by a pseudo-random sequence.
 * Usage: strmem [N]   (N = rounds, default 3000000). Prints a checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE 8192

static unsigned char src[SIZE + 64], dst[SIZE + 64];
static char s1[SIZE + 64], s2[SIZE + 64];

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static int sign(int v) { return (v > 0) - (v < 0); }

int main(int argc, char **argv) {
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 3000000;
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (unsigned char)(next() % 255 + 1);
    uint64_t sum = 0;
    for (long r = 0; r < rounds; r++) {
        uint32_t v = next();
        size_t len = (v % 1024) + ((v >> 10) % 4 == 0 ? (v >> 12) % 6000 : 0);
        size_t so = (v >> 20) % 16, d = (v >> 24) % 16;
        unsigned char fill = (unsigned char)('a' + (v >> 28));

        memset(dst + d, fill, len);
        sum += dst[d + len / 2];
        memcpy(dst + d, src + so, len);
        sum = sum * 3 + dst[d + len / 3];
        memmove(dst + d + 3, dst + d, len / 2);
        sum += dst[d + len / 4 + 3];

        /* Two strings that agree on a prefix of length `len / 2 + (v & 7)`. */
        size_t slen = len < 16 ? 16 : len;
        memcpy(s1, src + so, slen);
        memcpy(s2, src + so, slen);
        s1[slen] = 0;
        s2[slen] = 0;
        size_t diff = len / 2 + (v & 7);
        if (diff < slen)
            s2[diff] = (char)(s2[diff] == 'x' ? 'y' : 'x');
        sum += strlen(s1) ^ (strlen(s2 + (v & 15)) << 1);
        sum += (uint64_t)(sign(strcmp(s1, s2)) + 1) * 7;

        unsigned char *hit = memchr(src + so, (int)(v >> 8) & 0xff, len);
        sum += hit ? (uint64_t)(hit - src) : 12345;
        sum ^= sum >> 29;
    }
    printf("strmem rounds=%ld checksum=%016llx\n", rounds, (unsigned long long)sum);
    return 0;
}
