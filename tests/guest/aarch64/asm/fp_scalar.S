// heron-build: standalone march=armv8-a+crypto+crc
// Scalar floating point: arithmetic, fused multiply-add, min/max, compares (NZCV),
// conditional compare/select, conversions between H/S/D, to/from integers and fixed
// point, rounding to integral, FMOV forms; under every FPCR rounding mode, with flush-to-
// zero and default-NaN, printing the FPSR cumulative flags after each instruction.
#include "fp_simd_rt.inc"
        .text
test_main:
        stp     x29, x30, [sp, #-16]!
        .irp    fpcr, 0x0, 0x400000, 0x800000, 0xc00000, 0x1000000, 0x2000000, 0x3c00000
        SETFPCR \fpcr
        T fadd s0, s2, s3
        T fadd d0, d3, d5
        T fsub d0, d3, d3
        T fsub s0, s4, s2
        T fmul s0, s2, s2
        T fmul d0, d5, d3
        T fnmul d0, d3, d5
        T fdiv s0, s2, s4
        T fdiv d0, d5, d3
        T fdiv s0, s2, s6
        T fsqrt d0, d3
        T fsqrt s0, s2
        T fabs d0, d3
        T fneg s0, s4
        T fmadd d0, d3, d5, d3
        T fmsub s0, s2, s3, s4
        T fnmadd d0, d5, d5, d3
        T fnmsub s0, s6, s2, s7
        T fmax s0, s2, s4
        T fmin d0, d3, d0
        T fmaxnm s0, s4, s2
        T fminnm d0, d3, d5
        T fcmp s2, s4
        T fcmpe d3, d5
        T fcmp d3, #0.0
        T fcmpe s4, #0.0
        T fcvt s0, d3
        T fcvt d0, s2
        T fcvt h0, s2
        T fcvt h0, d5
        T fcvt s0, h6
        T fcvt d0, h1
        T frintn d0, d3
        T frinta s0, s2
        T frintp d0, d5
        T frintm s0, s7
        T frintz d0, d7
        T frinti s0, s6
        T frintx d0, d6
        T scvtf d0, x1
        T ucvtf s0, x0
        T scvtf s0, w3
        T ucvtf d0, w1, #7
        T scvtf s0, x0, #60
        T fcvtzs x0, d3
        T fcvtzs w0, s2
        T fcvtzu x0, d6
        T fcvtns w0, d5
        T fcvtms x0, s6
        T fcvtps w0, s2
        T fcvtas x0, d7
        T fcvtau w0, s3
        T fcvtzs x0, d5, #64
        T fcvtzu w0, s2, #3
        .endr
        SETNZCV 0x60000000
        T fccmp d3, d5, #0xf, eq
        T fccmp d3, d5, #0xf, ne
        T fccmpe s2, s4, #0x5, pl
        T fcsel d0, d3, d5, eq
        T fcsel s0, s2, s4, gt
        T fmov s0, #-3.75
        T fmov d0, #0.125
        T fmov d0, d6
        T fmov s0, w1
        T fmov d0, x0
        T fmov x0, d6
        T fmov w0, s4
        T fmov v0.d[1], x1
        T fmov x0, v6.d[1]
        ldp     x29, x30, [sp], #16
        ret
