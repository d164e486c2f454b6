// System registers EL0 can reach (TPIDR_EL0, NZCV, FPCR/FPSR, CTR_EL0, DCZID_EL0), barriers,
// hints, DC ZVA, IC IVAU, and the counter being monotonic.
#include "macros.inc"
        .text
        .globl  test_main
test_main:
        stp     x29, x30, [sp, #-16]!
        TB
        msr tpidr_el0, x1
        mrs x0, tpidr_el0
        TE "msr tpidr_el0, x1; mrs x0, tpidr_el0"
        T mrs x0, nzcv
        NZCV 0xf0000000
        T mrs x0, nzcv
        NZCV 0
        TB
        msr nzcv, x1
        mrs x0, nzcv
        TE "msr nzcv, x1; mrs x0, nzcv"
        TB
        msr nzcv, x2
        cset x0, mi
        cset x1, eq
        TE "msr nzcv, x2; cset x0, mi; cset x1, eq"
        TB
        mov x9, #0x3c00000
        msr fpcr, x9
        mrs x0, fpcr
        msr fpcr, xzr
        TE "mov x9, #0x3c00000; msr fpcr, x9; mrs x0, fpcr; msr fpcr, xzr"
        TB
        msr fpsr, x4
        mrs x0, fpsr
        msr fpsr, xzr
        TE "msr fpsr, x4; mrs x0, fpsr; msr fpsr, xzr"
        // CTR_EL0 and DCZID_EL0 are CPU-model values: print model-independent facts.
        TB
        mrs     x9, ctr_el0
        lsr     x0, x9, #31             // RES1
        ubfx    x1, x9, #16, #4         // DminLine: at least 16 bytes
        cmp     x1, #2
        cset    x1, hs
        and     x2, x9, #0xf            // IminLine
        cmp     x2, #2
        cset    x2, hs
        TE "ctr_el0 fields"
        // DC ZVA zeroes exactly the DCZID_EL0-sized aligned block around the address.
        TB
        mrs     x9, dczid_el0
        ubfx    x0, x9, #4, #1          // DZP: 0 = allowed
        and     x9, x9, #0xf
        mov     x10, #4
        lsl     x9, x10, x9             // block size in bytes
        mov     x10, #0
        mov     x11, #-1
1:      strb    w11, [x28, x10]
        add     x10, x10, #1
        cmp     x10, #4096
        b.lo    1b
        add     x3, x28, #1024
        add     x3, x3, x9, lsr #1      // middle of the block at membuf+1024
        dc      zva, x3
        add     x12, x28, #1024
        ldrb    w1, [x12, #-1]          // before the block: untouched (0xff)
        ldrb    w2, [x12]               // first byte: 0
        add     x13, x12, x9
        ldrb    w3, [x13, #-1]          // last byte of the block: 0
        ldrb    w4, [x13]               // after: 0xff
        orr     x1, x1, x2, lsl #8
        orr     x2, x3, x4, lsl #8
        mov     x3, #0
        TE "dc zva block"
        TB
        mrs x0, cntvct_el0
        mrs x1, cntvct_el0
        cmp x1, x0
        cset x0, hs
        mov x1, #0
        msr nzcv, xzr
        TE "mrs x0, cntvct_el0; mrs x1, cntvct_el0; cmp x1, x0; cset x0, hs; mov x1, #0"
        TB
        mrs x0, cntfrq_el0
        cmp x0, #0
        cset x0, ne
        TE "mrs x0, cntfrq_el0; cmp x0, #0; cset x0, ne"
        TB
        nop
        yield
        dmb ish
        dmb ishld
        dsb sy
        isb
        mov x0, #1
        TE "nop; yield; dmb ish; dmb ishld; dsb sy; isb; mov x0, #1"
        TB
        hint #0x22
        sevl
        dmb oshst
        mov x0, #2
        TE "hint #0x22; sevl; dmb oshst; mov x0, #2"
        TB
        dc cvau, x28
        dsb ish
        ic ivau, x28
        dsb ish
        isb
        mov x0, #3
        TE "dc cvau, x28; dsb ish; ic ivau, x28; dsb ish; isb; mov x0, #3"
        TB
        clrex
        mov x0, #4
        TE "clrex; mov x0, #4"
        ldp     x29, x30, [sp], #16
        ret
