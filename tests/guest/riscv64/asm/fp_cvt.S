// F/D conversions and fused multiply-add: float<->integer with saturation and NV on
// NaN/infinity/out-of-range, rounding of each conversion under static modes, W results
// sign-extended, integer sources with garbage upper bits, single<->double, and
// fmadd/fmsub/fnmsub/fnmadd (single rounding, inf*0 + NaN raises NV).
#include "macros.inc"
        .set    D1,    0x3ff0000000000000
        .set    DM1,   0xbff0000000000000
        .set    D2,    0x4000000000000000
        .set    D3,    0x4008000000000000
        .set    D10,   0x4024000000000000
        .set    DP1,   0x3fb999999999999a
        .set    D2P5,  0x4004000000000000      // 2.5
        .set    DM2P5, 0xc004000000000000      // -2.5
        .set    DMP5,  0xbfe0000000000000      // -0.5
        .set    D3E9,  0x41e65a0bc0000000      // 3e9
        .set    DM3E9, 0xc1e65a0bc0000000      // -3e9
        .set    D2P32M1, 0x41efffffffe00000    // 4294967295.0
        .set    D1E19, 0x43e158e460913d00      // 1e19
        .set    DM1E19, 0xc3e158e460913d00
        .set    D2P64, 0x43f0000000000000      // 2^64
        .set    D2P63, 0x43e0000000000000      // 2^63
        .set    DM2P63, 0xc3e0000000000000     // -2^63
        .set    D1E300, 0x7e37e43c8800759c
        .set    DINF,  0x7ff0000000000000
        .set    DNINF, 0xfff0000000000000
        .set    DQNAN, 0x7ff8000000000000
        .set    DSNAN, 0x7ff0000000000001
        .set    DNZ,   0x8000000000000000
        .set    S1,    0x3f800000
        .set    S2,    0x40000000
        .set    S3,    0x40400000
        .set    S2P5,  0x40200000
        .set    SM2P5, 0xc0200000
        .set    SINF,  0x7f800000
        .set    SQNAN, 0x7fc00000
        .set    SSNAN, 0x7f800001
        .set    S3E9,  0x4f32d05e
        .set    SP1,   0x3dcccccd

        .text
        .globl test_main
test_main:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        fsflags zero
        fsrm    zero

        // double -> int32
        .irp rm, rne, rtz, rdn, rup, rmm
        FDC     fcvt.w.d, D2P5, \rm
        FDC     fcvt.w.d, DM2P5, \rm
        FDC     fcvt.wu.d, DMP5, \rm
        .endr
        FDC     fcvt.w.d, DQNAN, rtz
        FDC     fcvt.w.d, DSNAN, rtz
        FDC     fcvt.w.d, DINF, rtz
        FDC     fcvt.w.d, DNINF, rtz
        FDC     fcvt.w.d, D3E9, rtz
        FDC     fcvt.w.d, DM3E9, rtz
        FDC     fcvt.w.d, DNZ, rtz
        FDC     fcvt.wu.d, DM1, rtz
        FDC     fcvt.wu.d, D2P32M1, rtz
        FDC     fcvt.wu.d, D3E9, rtz
        FDC     fcvt.wu.d, D1E19, rtz
        FDC     fcvt.wu.d, DQNAN, rtz
        FDC     fcvt.wu.d, DNINF, rtz
        // double -> int64
        FDC     fcvt.l.d, D1E19, rtz
        FDC     fcvt.l.d, DM1E19, rtz
        FDC     fcvt.l.d, D2P63, rtz
        FDC     fcvt.l.d, DM2P63, rtz
        FDC     fcvt.l.d, DQNAN, rtz
        FDC     fcvt.l.d, DNINF, rtz
        FDC     fcvt.l.d, DM2P5, rmm
        FDC     fcvt.lu.d, D1E19, rtz
        FDC     fcvt.lu.d, D2P64, rtz
        FDC     fcvt.lu.d, DM1, rtz
        FDC     fcvt.lu.d, DMP5, rup
        FDC     fcvt.lu.d, DSNAN, rtz
        FDC     fcvt.lu.d, DINF, rtz
        // single -> int
        FSC     fcvt.w.s, S2P5, rne
        FSC     fcvt.w.s, SM2P5, rmm
        FSC     fcvt.w.s, S3E9, rtz
        FSC     fcvt.w.s, SQNAN, rtz
        FSC     fcvt.wu.s, S3E9, rtz
        FSC     fcvt.wu.s, SM2P5, rtz
        FSC     fcvt.l.s, S3E9, rtz
        FSC     fcvt.l.s, SINF, rtz
        FSC     fcvt.lu.s, SQNAN, rtz
        FSC     fcvt.lu.s, SP1, rup
        li      t1, 0x3f800000                  // unboxed single source: NaN
        fmv.d.x ft1, t1
        fcvt.w.s t0, ft1, rtz
        SHOW    "fcvt.w.s unboxed", t0
        FLAGS   "fcvt.w.s unboxed"

        // int -> float
        FCVT    fcvt.s.w, 16777217, rne
        FCVT    fcvt.s.w, 16777217, rup
        FCVT    fcvt.s.w, 16777217, rdn
        FCVT    fcvt.s.w, -16777217, rdn
        FCVT    fcvt.s.w, 0x1234567880000000, rne
        FCVT    fcvt.s.wu, 0x12345678ffffffff, rne
        FCVT    fcvt.s.wu, 0xffffffff, rtz
        FCVT    fcvt.s.l, 0x7fffffffffffffff, rne
        FCVT    fcvt.s.l, -1, rne
        FCVT    fcvt.s.lu, -1, rne
        FCVT    fcvt.s.lu, -1, rtz
        FCVT    fcvt.d.w, 0x1234567880000000
        FCVT    fcvt.d.wu, 0x12345678ffffffff
        FCVT    fcvt.d.l, 0x7fffffffffffffff, rne
        FCVT    fcvt.d.l, 0x7fffffffffffffff, rtz
        FCVT    fcvt.d.l, 0x8000000000000000, rne
        FCVT    fcvt.d.lu, -1, rne
        FCVT    fcvt.d.lu, -1, rdn
        FCVT    fcvt.d.l, 0, rdn

        // single <-> double
        FD1     fcvt.s.d, DP1, rne
        FD1     fcvt.s.d, DP1, rtz
        FD1     fcvt.s.d, DP1, rup
        FD1     fcvt.s.d, D1E300, rne
        FD1     fcvt.s.d, D1E300, rtz
        FD1     fcvt.s.d, DSNAN, rne
        FD1     fcvt.s.d, 0xfff8000000001234, rne
        FD1     fcvt.s.d, DNZ, rne
        FD1     fcvt.s.d, 0x0000000000000001, rne
        FD1     fcvt.s.d, 0x0000000000000001, rup
        li      t1, SP1
        fmv.w.x ft1, t1
        fcvt.d.s ft0, ft1
        fmv.x.d t0, ft0
        SHOW    "fcvt.d.s 0.1f", t0
        FLAGS   "fcvt.d.s"
        li      t1, SSNAN
        fmv.w.x ft1, t1
        fcvt.d.s ft0, ft1
        fmv.x.d t0, ft0
        SHOW    "fcvt.d.s sNaN", t0
        FLAGS   "fcvt.d.s"

        // fused multiply-add
        FD3     fmadd.d, D2, D3, D1
        FD3     fmsub.d, D2, D3, D1
        FD3     fnmsub.d, D2, D3, D1
        FD3     fnmadd.d, D2, D3, D1
        FD3     fmadd.d, DP1, D10, DM1          // fused: 2^-54 + ..., not 0
        FD3     fmadd.d, DP1, D10, DM1, rtz
        FD3     fmadd.d, DP1, D10, DM1, rdn
        FD3     fmadd.d, DINF, 0, DQNAN         // NV even with a quiet NaN addend
        FD3     fmadd.d, DINF, 0, D1
        FD3     fmadd.d, D1, DINF, DNINF
        FD3     fmadd.d, D1, D1, DSNAN
        FD3     fmadd.d, DQNAN, D1, D1
        FD3     fmsub.d, D1, 0, 0               // +0 - +0 = +0
        FD3     fmsub.d, D1, 0, 0, rdn          // -0 in rdn
        FD3     fnmadd.d, D1, 0, 0              // -(0) - 0 = -0
        FD3     fnmsub.d, D1, DNZ, 0
        FS3     fmadd.s, S2, S3, S1
        FS3     fmsub.s, S2, S3, S1
        FS3     fnmsub.s, S2, S3, S1
        FS3     fnmadd.s, S2, S3, S1
        FS3     fmadd.s, SP1, 0x41200000, 0xbf800000
        FS3     fmadd.s, SINF, 0, SQNAN
        FS3     fmadd.s, S1, S1, SSNAN

        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret
