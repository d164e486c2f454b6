// Bitfield moves (SBFM/UBFM/BFM and their aliases), EXTR/ROR, variable shifts, and the
// one-source ops (RBIT, REV*, CLZ, CLS) in 64- and 32-bit forms.
#include "macros.inc"
        .text
        .globl  test_main
test_main:
        stp     x29, x30, [sp, #-16]!
        T lsl x0, x1, #1
        T lsl x0, x1, #63
        T lsl w0, w1, #31
        T lsr x0, x1, #4
        T lsr w0, w1, #31
        T asr x0, x1, #60
        T asr x0, x2, #63
        T asr w0, w14, #5
        T ror x0, x1, #8
        T ror w0, w1, #1
        T ubfx x0, x1, #4, #8
        T ubfx x0, x1, #60, #4
        T ubfx w0, w1, #0, #31
        T sbfx x0, x1, #60, #4
        T sbfx x0, x1, #3, #9
        T sbfx w0, w1, #28, #4
        T ubfiz x0, x1, #60, #4
        T ubfiz w0, w1, #3, #7
        T sbfiz x0, x13, #8, #8
        T sbfiz w0, w13, #24, #8
        T bfi x0, x1, #8, #16
        T bfi w0, w1, #28, #4
        T bfxil x0, x1, #60, #4
        T bfxil w0, w1, #0, #16
        T bfi x0, xzr, #4, #8
        T sxtb x0, w1
        T sxth x0, w1
        T sxtw x0, w1
        T sxtb w0, w13
        T uxtb w0, w1
        T uxth w0, w1
        T extr x0, x1, x0, #4
        T extr x0, x1, x0, #0
        T extr w0, w1, w0, #31
        T lslv x0, x1, x7
        T lsl x0, x1, x9
        T lsr x0, x1, x10
        T asr x0, x2, x10
        T ror x0, x1, x10
        T lsl w0, w1, w10
        T lsr w0, w1, w9
        T asr w0, w14, w10
        T ror w0, w1, w9
        T rbit x0, x1
        T rbit w0, w1
        T rev x0, x1
        T rev w0, w1
        T rev16 x0, x1
        T rev16 w0, w1
        T rev32 x0, x1
        T clz x0, x1
        T clz x0, x5
        T clz x0, x13
        T clz w0, w5
        T clz w0, w13
        T cls x0, x1
        T cls x0, x5
        T cls x0, x4
        T cls x0, x14
        T cls w0, w14
        T cls w0, w5
        ldp     x29, x30, [sp], #16
        ret
