// heron-build: standalone march=armv8-a+crypto+crc
// Advanced SIMD floating point (single and double lanes): arithmetic, fused multiply-add
// by vector and by element, pairwise and across-lane min/max/add, compares, conversions
// (to/from integer and fixed point, FCVTN/FCVTL/FCVTXN), rounding, estimates and steps,
// under several FPCR settings, printing FPSR after each instruction.
#include "fp_simd_rt.inc"
        .text
test_main:
        stp     x29, x30, [sp, #-16]!
        .irp    fpcr, 0x0, 0xc00000, 0x1000000, 0x2800000
        SETFPCR \fpcr
        T fadd v0.4s, v2.4s, v4.4s
        T fsub v0.2d, v3.2d, v5.2d
        T fmul v0.4s, v2.4s, v6.4s
        T fdiv v0.2d, v5.2d, v3.2d
        T fmla v0.4s, v2.4s, v2.4s
        T fmls v0.2d, v3.2d, v5.2d
        T fmla v0.4s, v2.4s, v4.s[1]
        T fmul v0.2d, v3.2d, v5.d[1]
        T fmulx v0.4s, v4.4s, v2.4s
        T fmulx d0, d3, v5.d[0]
        T fmax v0.4s, v2.4s, v4.4s
        T fminnm v0.2d, v3.2d, v5.2d
        T fmaxp v0.4s, v2.4s, v4.4s
        T fminnmp v0.2d, v3.2d, v5.2d
        T faddp v0.4s, v2.4s, v6.4s
        T faddp d0, v5.2d
        T fmaxnmp s0, v4.2s
        T fmaxv s0, v2.4s
        T fminnmv s0, v4.4s
        T fabd v0.4s, v2.4s, v6.4s
        T fabs v0.2d, v5.2d
        T fneg v0.4s, v4.4s
        T fsqrt v0.4s, v2.4s
        T fcmeq v0.4s, v2.4s, v4.4s
        T fcmge v0.2d, v3.2d, v5.2d
        T fcmgt v0.4s, v2.4s, #0.0
        T fcmle v0.2d, v5.2d, #0.0
        T fcmlt s0, s4, #0.0
        T facge v0.4s, v2.4s, v4.4s
        T facgt d0, d3, d5
        T fcvtzs v0.4s, v2.4s
        T fcvtzu v0.2d, v5.2d, #40
        T fcvtns v0.4s, v6.4s
        T fcvtau d0, d5
        T scvtf v0.4s, v7.4s
        T ucvtf v0.2d, v6.2d, #12
        T fcvtn v0.4h, v2.4s
        T fcvtn2 v0.4s, v3.2d
        T fcvtxn v0.2s, v3.2d
        T fcvtl v0.4s, v1.4h
        T fcvtl2 v0.2d, v2.4s
        T frintn v0.4s, v2.4s
        T frintx v0.2d, v5.2d
        T frinti v0.4s, v6.4s
        T frecpe v0.4s, v2.4s
        T frsqrte v0.2d, v5.2d
        T frecps v0.4s, v2.4s, v6.4s
        T frsqrts d0, d3, d5
        T frecpx s0, s2
        T urecpe v0.4s, v6.4s
        T ursqrte v0.2s, v1.2s
        .endr
        ldp     x29, x30, [sp], #16
        ret
