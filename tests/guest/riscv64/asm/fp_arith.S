// F/D arithmetic: add/sub/mul/div/sqrt under every static rounding mode and under the
// dynamic mode set with fsrm; fflags (NV DZ OF UF NX) after each operation; special
// values (infinities, signed zeros, subnormals, quiet and signalling NaNs); fcsr access.
#include "macros.inc"
        .set    D1,    0x3ff0000000000000      // 1.0
        .set    DM1,   0xbff0000000000000      // -1.0
        .set    D2,    0x4000000000000000      // 2.0
        .set    D3,    0x4008000000000000      // 3.0
        .set    DP1,   0x3fb999999999999a      // 0.1
        .set    DMAX,  0x7fefffffffffffff
        .set    DMINN, 0x0010000000000000      // smallest normal
        .set    DSUB,  0x0000000000000001      // smallest subnormal
        .set    DINF,  0x7ff0000000000000
        .set    DNINF, 0xfff0000000000000
        .set    DQNAN, 0x7ff8000000000000
        .set    DSNAN, 0x7ff0000000000001
        .set    DNZ,   0x8000000000000000
        .set    DEPS,  0x3ca0000000000000      // 2^-53 (half an ulp of 1.0)
        .set    S1,    0x3f800000
        .set    SM1,   0xbf800000
        .set    S3,    0x40400000
        .set    SMAX,  0x7f7fffff
        .set    SMINN, 0x00800000
        .set    SINF,  0x7f800000
        .set    SQNAN, 0x7fc00000
        .set    SSNAN, 0x7f800001
        .set    SNZ,   0x80000000
        .set    SEPS,  0x33800000              // 2^-24
        .set    S2,    0x40000000

        .text
        .globl test_main
test_main:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        fsflags zero
        fsrm    zero

        // 1/3 and -1/3 in every static rounding mode
        .irp rm, rne, rtz, rdn, rup, rmm
        FD2     fdiv.d, D1, D3, \rm
        FD2     fdiv.d, DM1, D3, \rm
        FS2     fdiv.s, S1, S3, \rm
        FS2     fdiv.s, SM1, S3, \rm
        .endr
        // ties: 1 + 2^-53 (double) and 1 + 2^-24 (single)
        .irp rm, rne, rtz, rdn, rup, rmm
        FD2     fadd.d, D1, DEPS, \rm
        FS2     fadd.s, S1, SEPS, \rm
        FD2     fsub.d, DM1, DEPS, \rm
        .endr
        // the same through the dynamic rounding mode (frm)
        li      s1, 0
1:      fsrm    t3, s1
        SHOW    "fsrm old", t3
        frrm    t3
        SHOW    "frrm", t3
        FD2     fdiv.d, D1, D3
        FS2     fdiv.s, SM1, S3
        FD2     fadd.d, D1, DEPS
        FD1     fsqrt.d, D2
        addi    s1, s1, 1
        li      t3, 5
        blt     s1, t3, 1b
        fsrm    zero

        // flags
        FD2     fmul.d, DMAX, D2                // OF NX
        FD2     fmul.d, DMAX, D2, rtz           // OF NX, max
        FD2     fmul.d, DMINN, DP1              // UF NX
        FD2     fmul.d, DMINN, 0x3fe0000000000000  // exact subnormal: no UF
        FD2     fdiv.d, D1, 0                   // DZ
        FD2     fdiv.d, DM1, 0                  // DZ, -inf
        FD2     fdiv.d, 0, 0                    // NV
        FD2     fsub.d, DINF, DINF              // NV
        FD2     fmul.d, DINF, 0                 // NV
        FD2     fadd.d, DSNAN, D1               // NV, canonical NaN
        FD2     fadd.d, DQNAN, D1               // no flag
        FD2     fadd.d, 0xfff8000000001234, D1  // payload dropped
        FD2     fadd.d, DSUB, DSUB
        FD2     fadd.d, DNZ, DNZ                // -0
        FD2     fadd.d, DNZ, 0                  // +0
        FD2     fadd.d, DNZ, 0, rdn             // -0 in rdn
        FD2     fsub.d, D1, D1, rdn             // -0 in rdn
        FD2     fsub.d, D1, D1
        FD2     fmul.d, DNZ, D3
        FD2     fdiv.d, DINF, DINF              // NV
        FD2     fdiv.d, D1, DINF
        FS2     fmul.s, SMAX, S2
        FS2     fmul.s, SMINN, 0x3dcccccd       // UF NX
        FS2     fdiv.s, S1, 0
        FS2     fdiv.s, 0, 0
        FS2     fadd.s, SSNAN, S1
        FS2     fadd.s, SQNAN, S1
        FS2     fsub.s, SINF, SINF
        FS2     fadd.s, SNZ, SNZ
        FD1     fsqrt.d, D2, rne
        FD1     fsqrt.d, D2, rtz
        FD1     fsqrt.d, D2, rup
        FD1     fsqrt.d, DNZ                    // -0
        FD1     fsqrt.d, DM1                    // NV
        FD1     fsqrt.d, DINF
        FD1     fsqrt.d, DSNAN
        FS1     fsqrt.s, S2, rne
        FS1     fsqrt.s, S2, rdn
        FS1     fsqrt.s, SM1
        FS1     fsqrt.s, SNZ

        // fcsr: frm and fflags together
        li      t3, 3
        fsrm    t3
        FD2     fdiv.d, D1, D3
        fdiv.d  ft0, ft1, ft2                   // FLAGS cleared fflags; set NX again
        frcsr   t3
        SHOW    "frcsr rup+NX", t3
        li      t3, 0xff
        fscsr   t4, t3
        SHOW    "fscsr old", t4
        frflags t3
        SHOW    "frflags after fscsr 0xff", t3
        frrm    t3
        SHOW    "frrm after fscsr 0xff", t3
        fsflagsi 0x5
        frflags t3
        SHOW    "fsflagsi 5", t3
        fsrmi   t3, 1
        SHOW    "fsrmi old", t3
        csrr    t3, fcsr
        SHOW    "csrr fcsr", t3
        csrrci  t3, fflags, 1
        csrr    t3, fflags
        SHOW    "csrrci fflags 1", t3
        fscsr   zero
        csrr    t3, fcsr
        SHOW    "fcsr cleared", t3

        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret
