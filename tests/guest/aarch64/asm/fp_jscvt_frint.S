// heron-build: standalone march=armv8.5-a
// FJCVTZS (FEAT_JSCVT: NZCV = 0Z00, Wd = value mod 2^32) and FRINT32Z/32X/64Z/64X
// (FEAT_FRINTTS), scalar and vector, on edge values (NaN, infinities, out-of-range,
// -0.0, denormals, halfway cases) under every rounding mode and flush-to-zero, printing
// results, FPSR flags and NZCV.
#include "fp_simd_rt.inc"

// TV val, insn: the fixed input state, then v1 = {val, val} (64-bit lanes), then insn.
        .macro TV val, insn:vararg
        bl      load_state
        ldr     x16, =\val
        dup     v1.2d, x16
        \insn
        adr     x17, 9998f
        bl      dump
        .pushsection .rodata
9998:   .asciz  "\insn \val"
        .popsection
        .endm

        .text
test_main:
        stp     x29, x30, [sp, #-16]!
        SETNZCV 0xf0000000
        .irp    fpcr, 0x0, 0x400000, 0xc00000, 0x1000000, 0x2000000
        SETFPCR \fpcr
        .irp    v, 0x4045000000000000, 0xbffc000000000000, 0x8000000000000000, 0x0000000000000000, 0x41e0000000000000, 0xc1e0000000000000, 0xc1e0000000200000, 0x41dfffffffe00000, 0x41f0000000500000, 0x4340000000000001, 0x7e37e43c8800759c, 0x7ff8000000000000, 0x7ff0000000000001, 0x7ff0000000000000, 0xfff0000000000000, 0x0000000000000001, 0x8000000000000001, 0x0010000000000000, 0xc3e0000000000000, 0x43e0000000000000
        TV \v, fjcvtzs w0, d1
        .endr
        .endr
        .irp    fpcr, 0x0, 0x400000, 0x800000, 0xc00000, 0x1000000
        SETFPCR \fpcr
        .irp    v, 0x4004000000000000, 0xc004000000000000, 0x3fe0000000000000, 0xbfd0000000000000, 0x41dfffffffe00000, 0xc1e0000000100000, 0x41e0000000000000, 0xc1e0000000000000, 0x43e0000000000000, 0xc3e0000000000000, 0x43dfffffffffffff, 0x7ff8000000000001, 0x7ff4000000000000, 0xfff0000000000000, 0x0000000000000001, 0x8000000000000000
        TV \v, frint32z d0, d1
        TV \v, frint32x d0, d1
        TV \v, frint64z d0, d1
        TV \v, frint64x d0, d1
        TV \v, frint32x v0.2d, v1.2d
        TV \v, frint64z v0.2d, v1.2d
        .endr
        .irp    v, 0x4020000040200000, 0x4f32d05ecf32d05e, 0xcf0000004f000000, 0x7fc000007fa00000, 0xbf0000003f000000, 0x7f800000ff800000, 0x5f0000005effffff, 0x00000001800007ff, 0xdf000000c0600000
        TV \v, frint32z s0, s1
        TV \v, frint32x s0, s1
        TV \v, frint64z s0, s1
        TV \v, frint64x s0, s1
        TV \v, frint32z v0.4s, v1.4s
        TV \v, frint32x v0.2s, v1.2s
        TV \v, frint64x v0.4s, v1.4s
        TV \v, frint64z v0.2s, v1.2s
        .endr
        .endr
        ldp     x29, x30, [sp], #16
        ret
