// F/D non-arithmetic: NaN boxing of single values in 64-bit registers, fmin/fmax with
// signed zeros and signalling NaNs, compares and their NV rules, fclass of all ten
// classes, sign injection, fmv between register files, flw/fsw/fld/fsd.
#include "macros.inc"
        .set    D1,    0x3ff0000000000000
        .set    DM1,   0xbff0000000000000
        .set    DINF,  0x7ff0000000000000
        .set    DNINF, 0xfff0000000000000
        .set    DQNAN, 0x7ff8000000000000
        .set    DSNAN, 0x7ff0000000000001
        .set    DNZ,   0x8000000000000000
        .set    S1,    0x3f800000
        .set    SM1,   0xbf800000
        .set    SINF,  0x7f800000
        .set    SNINF, 0xff800000
        .set    SQNAN, 0x7fc00000
        .set    SSNAN, 0x7f800001
        .set    SNZ,   0x80000000

        .data
        .balign 8
fbuf:   .dword  0, 0, 0
        .text
        .globl test_main
test_main:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        fsflags zero
        fsrm    zero

        // NaN boxing
        li      t1, 0x3f800000
        fmv.w.x ft1, t1
        fmv.x.d t0, ft1
        SHOW    "fmv.w.x boxes", t0
        li      t1, 0x80000000
        fmv.w.x ft1, t1
        fmv.x.w t0, ft1
        SHOW    "fmv.x.w sign-extends", t0
        li      t1, 0x000000003f800000          // not boxed: reads as canonical NaN
        fmv.d.x ft1, t1
        fadd.s  ft0, ft1, ft1
        fmv.x.d t0, ft0
        SHOW    "fadd.s unboxed", t0
        FLAGS   "fadd.s unboxed"
        fsgnj.s ft0, ft1, ft1
        fmv.x.d t0, ft0
        SHOW    "fsgnj.s unboxed", t0
        fmv.x.w t0, ft1
        SHOW    "fmv.x.w unboxed (raw low bits)", t0
        fclass.s t0, ft1
        SHOW    "fclass.s unboxed", t0
        fcvt.d.s ft0, ft1
        fmv.x.d t0, ft0
        SHOW    "fcvt.d.s unboxed", t0
        FLAGS   "fcvt.d.s unboxed"
        li      t1, 0xffffffef3f800000          // almost boxed: still NaN
        fmv.d.x ft1, t1
        feq.s   t0, ft1, ft1
        SHOW    "feq.s almost boxed", t0
        FLAGS   "feq.s almost boxed"
        lla     s0, fbuf
        li      t1, 0x1122334455667788
        sd      t1, 0(s0)
        flw     ft2, 0(s0)
        fmv.x.d t0, ft2
        SHOW    "flw boxes", t0
        fsd     ft2, 8(s0)
        ld      t0, 8(s0)
        SHOW    "fsd of boxed single", t0
        li      t1, 0x0123456789abcdef
        fmv.d.x ft3, t1
        sd      zero, 16(s0)
        fsw     ft3, 16(s0)
        ld      t0, 16(s0)
        SHOW    "fsw of unboxed (low 32 bits)", t0
        fld     ft4, 0(s0)
        fmv.x.d t0, ft4
        SHOW    "fld", t0
        li      t1, 0x7ff0000000000001          // sNaN payload kept by moves
        fmv.d.x ft5, t1
        fsd     ft5, 8(s0)
        ld      t0, 8(s0)
        SHOW    "fsd keeps sNaN", t0
        fmv.d   ft6, ft5                        // fsgnj.d: no canonicalisation
        fmv.x.d t0, ft6
        SHOW    "fmv.d keeps sNaN", t0
        FLAGS   "moves"

        // fmin/fmax
        FD2N    fmin.d, DNZ, 0
        FD2N    fmin.d, 0, DNZ
        FD2N    fmax.d, DNZ, 0
        FD2N    fmax.d, 0, DNZ
        FD2N    fmin.d, DQNAN, D1
        FD2N    fmax.d, DM1, DQNAN
        FD2N    fmin.d, DSNAN, D1
        FD2N    fmax.d, D1, DSNAN
        FD2N    fmin.d, DQNAN, DQNAN
        FD2N    fmax.d, DSNAN, DQNAN
        FD2N    fmin.d, DNINF, DINF
        FD2N    fmax.d, DNINF, DINF
        FS2N    fmin.s, SNZ, 0
        FS2N    fmax.s, SNZ, 0
        FS2N    fmin.s, SQNAN, S1
        FS2N    fmin.s, SSNAN, S1
        FS2N    fmax.s, SSNAN, SSNAN
        FS2N    fmax.s, SM1, S1

        // compares
        FDX     feq.d, D1, D1
        FDX     feq.d, DNZ, 0
        FDX     feq.d, DQNAN, D1
        FDX     feq.d, DSNAN, D1
        FDX     flt.d, DQNAN, D1
        FDX     fle.d, D1, DQNAN
        FDX     flt.d, DNZ, 0
        FDX     fle.d, DNZ, 0
        FDX     flt.d, DM1, D1
        FDX     fle.d, D1, DM1
        FDX     flt.d, DNINF, DINF
        FSX     feq.s, S1, S1
        FSX     feq.s, SQNAN, SQNAN
        FSX     feq.s, SSNAN, S1
        FSX     flt.s, SQNAN, S1
        FSX     fle.s, SNZ, 0
        FSX     flt.s, SM1, S1

        // fclass: one value of each class
        FDC     fclass.d, DNINF
        FDC     fclass.d, DM1
        FDC     fclass.d, 0x800fffffffffffff
        FDC     fclass.d, DNZ
        FDC     fclass.d, 0
        FDC     fclass.d, 0x0000000000000001
        FDC     fclass.d, D1
        FDC     fclass.d, DINF
        FDC     fclass.d, DSNAN
        FDC     fclass.d, DQNAN
        FDC     fclass.d, 0xfff8000000000001
        FSC     fclass.s, SNINF
        FSC     fclass.s, SM1
        FSC     fclass.s, 0x807fffff
        FSC     fclass.s, SNZ
        FSC     fclass.s, 0
        FSC     fclass.s, 0x00000001
        FSC     fclass.s, S1
        FSC     fclass.s, SINF
        FSC     fclass.s, SSNAN
        FSC     fclass.s, SQNAN

        // sign injection
        FD2N    fsgnj.d, D1, DM1
        FD2N    fsgnjn.d, D1, DM1
        FD2N    fsgnjx.d, DM1, DM1
        FD2N    fsgnj.d, DQNAN, DNZ
        FD2N    fsgnjn.d, DSNAN, DSNAN
        FD2N    fsgnjx.d, DNZ, D1
        FS2N    fsgnj.s, S1, SM1
        FS2N    fsgnjn.s, S1, S1
        FS2N    fsgnjx.s, SM1, SM1
        FS2N    fsgnj.s, SSNAN, SNZ
        li      t1, 0xc000000000000000
        fmv.d.x ft1, t1
        fabs.d  ft0, ft1
        fmv.x.d t0, ft0
        SHOW    "fabs.d -2", t0
        fneg.d  ft0, ft0
        fmv.x.d t0, ft0
        SHOW    "fneg.d 2", t0
        FLAGS   "sign injection"

        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret
