// heron-build: standalone march=armv8.2-a+fp16
// FEAT_FP16: half-precision scalar and Advanced SIMD arithmetic, compares, conversions,
// rounding, estimates and reductions on edge values (NaNs with payloads, signalling NaNs,
// infinities, -0, denormals, the largest normal) under rounding modes, FZ16 (flushes half
// denormals), FZ (must not), DN and AHP (must not affect arithmetic), printing results,
// FPSR flags and NZCV.
#include "fp_simd_rt.inc"

// TV2 a, b, insn: the fixed input state, then v1 = {a, a}, v2 = {b, b}, then insn.
        .macro TV2 a, b, insn:vararg
        bl      load_state
        ldr     x16, =\a
        dup     v1.2d, x16
        ldr     x16, =\b
        dup     v2.2d, x16
        \insn
        adr     x17, 9998f
        bl      dump
        .pushsection .rodata
9998:   .asciz  "\insn \a \b"
        .popsection
        .endm

        .macro ALL a, b
        TV2 \a, \b, fadd h0, h1, h2
        TV2 \a, \b, fsub h0, h1, h2
        TV2 \a, \b, fmul h0, h1, h2
        TV2 \a, \b, fdiv h0, h1, h2
        TV2 \a, \b, fnmul h0, h1, h2
        TV2 \a, \b, fmax h0, h1, h2
        TV2 \a, \b, fminnm h0, h1, h2
        TV2 \a, \b, fmadd h0, h1, h2, h1
        TV2 \a, \b, fnmsub h0, h2, h2, h1
        TV2 \a, \b, fabs h0, h1
        TV2 \a, \b, fneg h0, h2
        TV2 \a, \b, fsqrt h0, h1
        TV2 \a, \b, frintn h0, h1
        TV2 \a, \b, frinta h0, h2
        TV2 \a, \b, frintx h0, h1
        TV2 \a, \b, frinti h0, h2
        TV2 \a, \b, fcmp h1, h2
        TV2 \a, \b, fcmpe h2, #0.0
        TV2 \a, \b, fccmp h1, h2, #2, ne
        TV2 \a, \b, fcsel h0, h1, h2, eq
        TV2 \a, \b, fcvt s0, h1
        TV2 \a, \b, fcvt d0, h2
        TV2 \a, \b, fcvt h0, s2
        TV2 \a, \b, fcvtzs w0, h1
        TV2 \a, \b, fcvtns x0, h2
        TV2 \a, \b, fcvtau w0, h1
        TV2 \a, \b, fcvtzu x0, h2, #5
        TV2 \a, \b, scvtf h0, w1
        TV2 \a, \b, ucvtf h0, x0, #3
        TV2 \a, \b, fmov w0, h2
        TV2 \a, \b, fmov h0, x1
        TV2 \a, \b, fmov h0, #-1.5
        TV2 \a, \b, fadd v0.8h, v1.8h, v2.8h
        TV2 \a, \b, fmul v0.4h, v1.4h, v2.4h
        TV2 \a, \b, fdiv v0.8h, v2.8h, v1.8h
        TV2 \a, \b, fmla v0.8h, v1.8h, v2.8h
        TV2 \a, \b, fmls v0.4h, v1.4h, v2.h[5]
        TV2 \a, \b, fmulx v0.8h, v1.8h, v2.h[1]
        TV2 \a, \b, fmulx h0, h1, h2
        TV2 \a, \b, fmaxnmv h0, v1.8h
        TV2 \a, \b, fminv h0, v2.4h
        TV2 \a, \b, faddp h0, v1.2h
        TV2 \a, \b, fmaxnmp h0, v2.2h
        TV2 \a, \b, fmaxp v0.8h, v1.8h, v2.8h
        TV2 \a, \b, fminnm v0.8h, v1.8h, v2.8h
        TV2 \a, \b, fcmgt v0.8h, v1.8h, v2.8h
        TV2 \a, \b, fcmeq v0.8h, v1.8h, #0.0
        TV2 \a, \b, fcmle h0, h2, #0.0
        TV2 \a, \b, facge v0.4h, v1.4h, v2.4h
        TV2 \a, \b, fabd v0.8h, v1.8h, v2.8h
        TV2 \a, \b, frecpe v0.8h, v1.8h
        TV2 \a, \b, frsqrte v0.8h, v2.8h
        TV2 \a, \b, frecps v0.8h, v1.8h, v2.8h
        TV2 \a, \b, frsqrts h0, h1, h2
        TV2 \a, \b, frecpx h0, h2
        TV2 \a, \b, fsqrt v0.8h, v2.8h
        TV2 \a, \b, frintm v0.8h, v1.8h
        TV2 \a, \b, fcvtzs v0.8h, v1.8h
        TV2 \a, \b, fcvtmu v0.4h, v2.4h
        TV2 \a, \b, scvtf v0.8h, v1.8h
        TV2 \a, \b, ucvtf h0, h2
        TV2 \a, \b, fcvtzs v0.8h, v2.8h, #3
        TV2 \a, \b, ucvtf v0.4h, v1.4h, #2
        TV2 \a, \b, fneg v0.8h, v1.8h
        TV2 \a, \b, fmov v0.8h, #2.0
        TV2 \a, \b, fcvtn v0.4h, v1.4s
        TV2 \a, \b, fcvtl2 v0.4s, v2.8h
        .endm

        .text
test_main:
        stp     x29, x30, [sp, #-16]!
        SETNZCV 0x40000000
        .irp    fpcr, 0x0, 0x400000, 0xc00000, 0x80000, 0x2080000, 0x1000000, 0x4000000
        SETFPCR \fpcr
        ALL 0x3c00c0007bff0001, 0x7e017d00fc008000
        ALL 0x0400355542483800, 0x5640d64010000200
        ALL 0x7d00040103ff7bff, 0x3c00bc0004007c00
        .endr
        ldp     x29, x30, [sp], #16
        ret
