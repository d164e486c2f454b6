// heron-build: standalone march=armv8-a+crypto+crc
// Advanced SIMD structure loads and stores: LD1-LD4/ST1-ST4 multiple structures (1-4
// registers, every arrangement), single structures to/from one lane, LD1R-LD4R, with
// immediate and register post-index (the printed x0 is the base offset afterwards).
#include "fp_simd_rt.inc"

        // TM insn: like T, with x0 = a buffer of known bytes; prints x0 - buffer.
        .macro TM insn:vararg
        bl      load_state
        mov     x0, x28
        \insn
        sub     x0, x0, x28
        adr     x17, 9997f
        bl      dump
        .pushsection .rodata
9997:   .asciz  "\insn"
        .popsection
        .endm

        .text
fill:   // membuf[i] = i * 7 + 3
        mov     x16, #0
1:      mov     x17, #7
        mul     x17, x16, x17
        add     x17, x17, #3
        strb    w17, [x28, x16]
        add     x16, x16, #1
        cmp     x16, #512
        b.lo    1b
        ret

test_main:
        stp     x29, x30, [sp, #-16]!
        bl      fill
        TM ld1 {v0.16b}, [x0]
        TM ld1 {v0.8b, v1.8b}, [x0], #16
        TM ld1 {v0.4s, v1.4s, v2.4s}, [x0], x2
        TM ld1 {v0.2d, v1.2d, v2.2d, v3.2d}, [x0], #64
        TM ld2 {v0.16b, v1.16b}, [x0]
        TM ld2 {v0.4h, v1.4h}, [x0], #16
        TM ld3 {v0.8h, v1.8h, v2.8h}, [x0], #48
        TM ld3 {v0.2s, v1.2s, v2.2s}, [x0]
        TM ld4 {v0.16b, v1.16b, v2.16b, v3.16b}, [x0], #64
        TM ld4 {v0.2d, v1.2d, v2.2d, v3.2d}, [x0]
        TM ld1 {v0.b}[11], [x0], #1
        TM ld1 {v0.h}[5], [x0]
        TM ld2 {v0.s, v1.s}[3], [x0], #8
        TM ld3 {v0.d, v1.d, v2.d}[1], [x0], x3
        TM ld4 {v0.b, v1.b, v2.b, v3.b}[15], [x0], #4
        TM ld1r {v0.16b}, [x0], #1
        TM ld2r {v0.4h, v1.4h}, [x0]
        TM ld3r {v0.4s, v1.4s, v2.4s}, [x0], #12
        TM ld4r {v0.1d, v1.1d, v2.1d, v3.1d}, [x0], #32
        TM st1 {v4.16b, v5.16b}, [x0], #32
        TM ld1 {v0.16b, v1.16b, v2.16b, v3.16b}, [x0]
        TM st2 {v4.8h, v5.8h}, [x0]
        TM ld1 {v0.16b, v1.16b, v2.16b, v3.16b}, [x0]
        TM st3 {v5.2s, v6.2s, v7.2s}, [x0], #24
        TM ld1 {v0.16b, v1.16b, v2.16b, v3.16b}, [x0]
        TM st4 {v4.16b, v5.16b, v6.16b, v7.16b}, [x0]
        TM ld1 {v0.16b, v1.16b, v2.16b, v3.16b}, [x0]
        TM st1 {v6.d}[1], [x0], #8
        TM st2 {v6.b, v7.b}[9], [x0]
        TM st4 {v4.s, v5.s, v6.s, v7.s}[2], [x0], x2
        TM ld1 {v0.16b, v1.16b, v2.16b, v3.16b}, [x0]
        ldp     x29, x30, [sp], #16
        ret
