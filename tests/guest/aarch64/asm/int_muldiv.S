// Multiply (MADD/MSUB, widening, high halves) and divide with the corner cases
// (division by zero, INT_MIN / -1).
#include "macros.inc"
        .text
        .globl  test_main
test_main:
        stp     x29, x30, [sp, #-16]!
        T mul x0, x1, x0
        T mul w0, w1, w0
        T madd x0, x1, x0, x9
        T msub x0, x1, x0, x9
        T madd w0, w1, w0, w9
        T msub w0, w1, w0, w9
        T mneg x0, x1, x10
        T smull x0, w1, w10
        T umull x0, w1, w10
        T smaddl x0, w14, w14, x1
        T smsubl x0, w14, w12, x1
        T umaddl x0, w12, w12, x1
        T umsubl x0, w12, w14, x1
        T smnegl x0, w1, w9
        T umnegl x0, w1, w9
        T smulh x0, x1, x0
        T smulh x0, x2, x2
        T smulh x0, x4, x4
        T umulh x0, x1, x0
        T umulh x0, x4, x4
        T umulh x0, x2, x9
        T udiv x0, x1, x0
        T udiv x0, x1, x5
        T udiv w0, w1, w9
        T udiv w0, w1, w5
        T sdiv x0, x1, x9
        T sdiv x0, x1, x10
        T sdiv x0, x2, x4
        T sdiv x0, x1, x5
        T sdiv w0, w14, w4
        T sdiv w0, w14, w5
        T sdiv w0, w1, w10
        ldp     x29, x30, [sp], #16
        ret
