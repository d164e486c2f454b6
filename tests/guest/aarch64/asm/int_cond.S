// Conditional select/increment/invert/negate and conditional compare under every NZCV
// value and condition, and the condition codes through B.cond.
#include "macros.inc"
        .text
        .globl  test_main
test_main:
        stp     x29, x30, [sp, #-16]!
        .irp    cond, eq, ne, cs, cc, mi, pl, vs, vc, hi, ls, ge, lt, gt, le, al, nv
        TS csel x0, x1, x9, \cond
        .endr
        TS csinc x0, x1, x4, ne
        TS csinv w0, w1, w5, gt
        TS csneg x0, x1, x9, le
        TS cset x0, hi
        TS csetm w0, lt
        TS cinc x0, x1, ge
        TS ccmp x1, x0, #0xa, ne
        TS ccmp w9, #5, #0x3, ge
        TS ccmn x4, #1, #0x5, lt
        TS ccmn w12, w9, #0xf, vs
        TS ccmp x2, #1, #0, hi
        ldp     x29, x30, [sp], #16
        ret
