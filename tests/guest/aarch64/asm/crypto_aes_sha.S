// heron-build: standalone march=armv8-a+crypto+crc
// Cryptographic extension and CRC32: AESE/AESD/AESMC/AESIMC, SHA1C/P/M/H/SU0/SU1,
// SHA256H/H2/SU0/SU1, PMULL/PMULL2 (8- and 64-bit), CRC32{B,H,W,X} and CRC32C*.
#include "fp_simd_rt.inc"
        .text
test_main:
        stp     x29, x30, [sp, #-16]!
        T aese v0.16b, v1.16b
        T aesd v0.16b, v6.16b
        T aesmc v0.16b, v1.16b
        T aesimc v0.16b, v6.16b
        T sha1c q0, s1, v6.4s
        T sha1p q0, s6, v7.4s
        T sha1m q0, s2, v1.4s
        T sha1h s0, s6
        T sha1su0 v0.4s, v1.4s, v6.4s
        T sha1su1 v0.4s, v7.4s
        T sha256h q0, q1, v6.4s
        T sha256h2 q0, q6, v7.4s
        T sha256su0 v0.4s, v1.4s
        T sha256su1 v0.4s, v6.4s, v7.4s
        T pmull v0.1q, v1.1d, v6.1d
        T pmull2 v0.1q, v1.2d, v6.2d
        T pmull v0.8h, v1.8b, v6.8b
        T pmull2 v0.8h, v1.16b, v7.16b
        T crc32b w0, w0, w1
        T crc32h w0, w1, w3
        T crc32w w0, w3, w0
        T crc32x w0, w1, x0
        T crc32cb w0, w0, w1
        T crc32ch w0, w1, w3
        T crc32cw w0, w3, w0
        T crc32cx w0, w1, x0
        ldp     x29, x30, [sp], #16
        ret
