// heron-build: standalone march=armv8-a+crypto+crc
// Advanced SIMD integer: the operations glibc's string functions use (cmeq, umaxp, addp,
// shrn, logic, ext, tbl/tbx, dup/ins/umov/smov, movi/mvni/orr/bic immediates, zip/uzp/trn,
// rev, cnt, across-lane reductions) and the arithmetic, shift, saturating (FPSR.QC),
// widening and narrowing groups, vector and scalar forms.
#include "fp_simd_rt.inc"
        .text
test_main:
        stp     x29, x30, [sp, #-16]!
        T cmeq v0.16b, v1.16b, #0
        T cmeq v0.16b, v1.16b, v6.16b
        T cmeq d0, d6, d7
        T umaxp v0.16b, v1.16b, v6.16b
        T uminp v0.8h, v6.8h, v7.8h
        T addp v0.16b, v1.16b, v7.16b
        T addp d0, v6.2d
        T shrn v0.8b, v1.8h, #4
        T shrn2 v0.16b, v6.8h, #3
        T and v0.16b, v1.16b, v6.16b
        T bic v0.8b, v1.8b, v6.8b
        T orr v0.16b, v1.16b, v6.16b
        T orn v0.16b, v1.16b, v6.16b
        T eor v0.16b, v1.16b, v6.16b
        T bsl v0.16b, v1.16b, v6.16b
        T bit v0.16b, v1.16b, v6.16b
        T bif v0.8b, v1.8b, v6.8b
        T ext v0.16b, v1.16b, v6.16b, #5
        T ext v0.8b, v1.8b, v6.8b, #7
        T tbl v0.16b, {v6.16b}, v7.16b
        T tbl v0.16b, {v1.16b, v2.16b}, v7.16b
        T tbx v0.8b, {v1.16b, v2.16b, v3.16b}, v6.8b
        T tbx v0.16b, {v4.16b, v5.16b, v6.16b, v7.16b}, v1.16b
        T dup v0.16b, w0
        T dup v0.8h, w1
        T dup v0.2d, x0
        T dup v0.4s, v6.s[2]
        T dup b0, v1.b[9]
        T ins v0.s[2], w1
        T ins v0.b[15], v1.b[0]
        T umov w0, v1.b[4]
        T umov x0, v6.d[1]
        T smov w0, v1.b[13]
        T smov x0, v6.h[2]
        T movi v0.16b, #0x80
        T movi v0.4h, #0x12, lsl #8
        T movi v0.4s, #0x34, msl #16
        T movi d0, #0xff0000ffff00ff00
        T movi v0.2d, #0x00ffffff00000000
        T mvni v0.8h, #0x56
        T mvni v0.2s, #0x78, msl #8
        T orr v0.4s, #0x11, lsl #24
        T bic v0.8h, #0xff
        T zip1 v0.16b, v1.16b, v6.16b
        T zip2 v0.8h, v1.8h, v6.8h
        T uzp1 v0.4s, v1.4s, v6.4s
        T uzp2 v0.16b, v1.16b, v6.16b
        T trn1 v0.8b, v1.8b, v6.8b
        T trn2 v0.2d, v1.2d, v6.2d
        T rev64 v0.16b, v1.16b
        T rev32 v0.8h, v6.8h
        T rev16 v0.16b, v1.16b
        T cnt v0.16b, v6.16b
        T uaddlv h0, v1.16b
        T saddlv s0, v6.8h
        T addv b0, v1.16b
        T addv s0, v6.4s
        T umaxv b0, v1.16b
        T smaxv h0, v6.8h
        T uminv s0, v6.4s
        T sminv b0, v1.8b
        T add v0.2d, v6.2d, v7.2d
        T sub v0.16b, v1.16b, v6.16b
        T mul v0.8h, v6.8h, v7.8h
        T mla v0.4s, v6.4s, v7.4s
        T mls v0.8b, v1.8b, v6.8b
        T mul v0.4s, v6.4s, v7.s[1]
        T mla v0.8h, v6.8h, v7.h[6]
        T cmhi v0.16b, v1.16b, v6.16b
        T cmhs v0.8h, v1.8h, v6.8h
        T cmgt v0.4s, v6.4s, v7.4s
        T cmge v0.2d, v6.2d, v7.2d
        T cmtst v0.16b, v1.16b, v6.16b
        T cmle v0.8h, v6.8h, #0
        T cmlt v0.4s, v6.4s, #0
        T abs v0.16b, v6.16b
        T neg v0.2d, v6.2d
        T abs d0, d6
        T shl v0.16b, v1.16b, #3
        T ushr v0.2d, v6.2d, #63
        T sshr v0.4s, v6.4s, #9
        T usra v0.8h, v6.8h, #4
        T srshr v0.16b, v1.16b, #2
        T ursra d0, d6, #33
        T sli v0.4s, v6.4s, #12
        T sri v0.8h, v6.8h, #5
        T sshl v0.8h, v6.8h, v7.8h
        T ushl d0, d6, d7
        T srshl v0.4s, v6.4s, v7.4s
        T ushll v0.8h, v1.8b, #0
        T sshll2 v0.4s, v6.8h, #5
        T uxtl2 v0.2d, v6.4s
        T xtn v0.8b, v6.8h
        T xtn2 v0.4s, v6.2d
        T sqxtn v0.8b, v6.8h
        T uqxtn v0.4h, v6.4s
        T sqxtun2 v0.16b, v6.8h
        T sqxtn s0, d6
        T sqadd v0.16b, v1.16b, v6.16b
        T uqadd v0.8h, v6.8h, v7.8h
        T sqsub v0.4s, v6.4s, v7.4s
        T uqsub d0, d7, d6
        T sqshl v0.8h, v6.8h, #7
        T uqshl v0.16b, v1.16b, v7.16b
        T sqshlu v0.4s, v6.4s, #3
        T sqrshrn v0.4h, v6.4s, #5
        T uqrshrn2 v0.16b, v6.8h, #1
        T sqrshrun v0.8b, v6.8h, #2
        T sqdmulh v0.8h, v6.8h, v7.8h
        T sqrdmulh v0.4s, v6.4s, v7.s[3]
        T sqdmull v0.4s, v6.4h, v7.4h
        T sqdmlal2 v0.2d, v6.4s, v7.4s
        T sqdmlsl s0, h6, v7.h[1]
        T sqabs v0.16b, v6.16b
        T sqneg v0.4s, v6.4s
        T suqadd v0.8h, v6.8h
        T usqadd v0.16b, v1.16b
        T uaddl v0.8h, v1.8b, v6.8b
        T saddw2 v0.4s, v6.4s, v7.8h
        T usubl2 v0.2d, v6.4s, v7.4s
        T ssubw v0.8h, v6.8h, v1.8b
        T umull v0.2d, v6.2s, v7.2s
        T smull2 v0.8h, v1.16b, v6.16b
        T umlal v0.4s, v6.4h, v7.h[2]
        T smlsl2 v0.2d, v6.4s, v7.s[0]
        T uabd v0.16b, v1.16b, v6.16b
        T saba v0.8h, v6.8h, v7.8h
        T uabdl v0.4s, v6.4h, v7.4h
        T sabal2 v0.8h, v1.16b, v6.16b
        T uhadd v0.16b, v1.16b, v6.16b
        T srhadd v0.4s, v6.4s, v7.4s
        T shsub v0.8h, v6.8h, v7.8h
        T umax v0.16b, v1.16b, v6.16b
        T smin v0.4s, v6.4s, v7.4s
        T addhn v0.8b, v6.8h, v7.8h
        T raddhn2 v0.8h, v6.4s, v7.4s
        T subhn v0.2s, v6.2d, v7.2d
        T saddlp v0.8h, v1.16b
        T uadalp v0.2d, v6.4s
        T cls v0.8h, v6.8h
        T clz v0.16b, v1.16b
        T rbit v0.16b, v6.16b
        T not v0.8b, v6.8b
        T shll v0.8h, v1.8b, #8
        T pmul v0.16b, v1.16b, v6.16b
        ldp     x29, x30, [sp], #16
        ret
