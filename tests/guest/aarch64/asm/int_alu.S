// Integer add/subtract (immediate, shifted, extended, with carry) and logical
// (immediate, shifted) in 64- and 32-bit forms, with and without setting flags.
#include "macros.inc"
        .text
        .globl  test_main
test_main:
        stp     x29, x30, [sp, #-16]!
        T add x0, x1, #0xfff
        T add x0, x1, #0xabc, lsl #12
        T add w0, w1, #1
        T adds x0, x3, #1
        T adds w0, w11, #1
        T adds x0, x4, #1
        T adds w0, w12, #1
        T subs x0, x5, #1
        T subs w0, w5, #0
        T subs x0, x2, #1
        T cmp x0, #0x123
        T cmn x4, #1
        T cmp w6, #1
        T sub sp, sp, #16
        TB
        mov x9, sp
        add x0, sp, #0x30
        sub x0, x0, x9
        mov x9, #5
        TE "mov x9, sp; add x0, sp, #0x30; sub x0, x0, x9; mov x9, #5"
        TB
        mov x9, sp
        mov x1, sp
        sub x1, x1, x9
        mov x9, #5
        TE "mov x9, sp; mov x1, sp; sub x1, x1, x9; mov x9, #5"
        T add x0, x1, x2, lsl #3
        T add x0, x1, x2, lsr #63
        T add x0, x1, x0, asr #7
        T add w0, w1, w0, lsl #31
        T adds x0, x2, x2
        T adds x0, x3, x3
        T adds w0, w14, w14
        T subs x0, x2, x9
        T subs x0, x5, x4
        T subs w0, w6, w9
        T negs x0, x2
        T negs w0, w5
        T neg x0, x1, lsl #4
        T cmp x1, x0, lsl #1
        T add x0, x1, w9, uxtb
        T add x0, x1, w10, sxtb #2
        T add x0, x1, w10, sxth #4
        T add x0, x1, w10, uxtw #1
        T add x0, x1, w10, sxtw
        T add x0, x1, x10, sxtx #3
        TB
        mov x1, sp
        add x0, sp, w9, uxtw #4
        sub x0, x0, x1
        mov x1, #0
        TE "mov x1, sp; add x0, sp, w9, uxtw #4; sub x0, x0, x1; mov x1, #0"
        T sub x0, x1, w13, sxtb
        T adds x0, x1, w14, sxtw
        T subs w0, w1, w13, uxtb #1
        T cmp x0, w0, uxtw
        T adc x0, x1, x2
        T adcs x0, x4, x5
        T adcs w0, w12, w5
        T sbc x0, x1, x0
        T sbcs x0, x5, x5
        T sbcs w0, w5, w12
        T ngc x0, x1
        T ngcs w0, w9
        NZCV 0x20000000
        T adc x0, x1, x2
        T adcs x0, x4, x5
        T adcs x0, x3, x5
        T adcs w0, w11, w5
        T adcs w0, w12, w12
        T sbcs x0, x5, x5
        T sbcs x0, x2, x9
        T sbcs w0, w5, w12
        T ngcs x0, x5
        NZCV 0
        T and x0, x1, #0xff00ff00ff00ff00
        T and w0, w1, #0x3
        T orr x0, x5, #0x5555555555555555
        T orr w0, w5, #0xffff0000
        T eor x0, x0, #0x8000000000000001
        T eor w0, w0, #0x7ffffffe
        T ands x0, x0, #0xf
        T ands x0, x2, #0x8000000000000000
        T ands w0, w1, #0x80000000
        T tst x5, #1
        T mov x0, #0x1111111111111111
        T mov w0, #0xe7e7e7e7
        T and x0, x1, x0, lsl #4
        T bic x0, x1, x0
        T orr x0, x1, x0, ror #12
        T orn x0, x5, x1, lsr #2
        T orn w0, w5, w1, asr #3
        T eor x0, x1, x0, asr #63
        T eon x0, x1, x0
        T eon w0, w1, w0, ror #31
        T ands x0, x1, x0
        T ands x0, x2, x4
        T bics x0, x1, x1
        T bics w0, w14, w11
        T tst x1, x2
        T mvn x0, x1
        T mvn w0, w1, lsl #3
        T mov x0, x1
        T mov w0, w1
        T movz x0, #0xbeef, lsl #48
        T movz w0, #0x1234, lsl #16
        T movn x0, #0
        T movn w0, #0
        T movn x0, #0x1234, lsl #32
        T movk x0, #0xaaaa, lsl #16
        T movk w1, #0x5555
        T movk x1, #0xffff, lsl #48
        T adr x0, .
        T adrp x0, .
        add     sp, sp, #16             // undo "sub sp" above (load_state does not touch sp)
        ldp     x29, x30, [sp], #16
        ret
