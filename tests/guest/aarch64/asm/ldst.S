// Loads and stores: every size and extension, unsigned/unscaled/pre/post-indexed, register
// offsets with extend and shift, pairs (LDPSW, pre/post), literals, FP/SIMD registers.
// x28 = scratch buffer (membuf), filled with a byte pattern first.
#include "macros.inc"
        .text
        .globl  test_main
test_main:
        stp     x29, x30, [sp, #-16]!
        // membuf[i] = i * 37 + 11 for 512 bytes
        mov     x9, #0
1:      mov     x10, #37
        mul     x10, x9, x10
        add     x10, x10, #11
        strb    w10, [x28, x9]
        add     x9, x9, #1
        cmp     x9, #512
        b.lo    1b
        T ldrb w0, [x28, #7]
        T ldrsb x0, [x28, #9]
        T ldrsb w0, [x28, #9]
        T ldrh w0, [x28, #6]
        T ldrsh x0, [x28, #14]
        T ldrsh w0, [x28, #14]
        T ldr w0, [x28, #4]
        T ldrsw x0, [x28, #12]
        T ldr x0, [x28, #8]
        T ldr x0, [x28, #4088]
        T ldur x0, [x28, #3]
        T ldur w0, [x28, #-0]
        T ldursh x0, [x28, #255]
        TB
        mov x1, x28
        ldr x0, [x1, #16]!
        sub x1, x1, x28
        TE "mov x1, x28; ldr x0, [x1, #16]!; sub x1, x1, x28"
        TB
        mov x1, x28
        ldr x0, [x1], #-8
        sub x1, x1, x28
        TE "mov x1, x28; ldr x0, [x1], #-8; sub x1, x1, x28"
        TB
        mov x1, x28
        ldrb w0, [x1, #255]!
        sub x1, x1, x28
        TE "mov x1, x28; ldrb w0, [x1, #255]!; sub x1, x1, x28"
        TB
        mov x1, x28
        ldrsh w0, [x1], #3
        sub x1, x1, x28
        TE "mov x1, x28; ldrsh w0, [x1], #3; sub x1, x1, x28"
        T ldr x0, [x28, x9, lsl #3]
        T ldr x0, [x28, x9]
        T ldr w0, [x28, w9, uxtw #2]
        T ldrh w0, [x28, w9, sxtw #1]
        TB
        mov x1, #-4
        ldrb w0, [x28, x15, lsl #0]
        ldrsb x1, [x28, w13, uxtw]
        TE "mov x1, #-4; ldrb w0, [x28, x15, lsl #0]; ldrsb x1, [x28, w13, uxtw]"
        TB
        mov x10, #-8
        add x1, x28, #64
        ldr x0, [x1, w10, sxtw]
        TE "mov x10, #-8; add x1, x28, #64; ldr x0, [x1, w10, sxtw]"
        T ldp x0, x1, [x28, #16]
        T ldp w0, w1, [x28, #20]
        T ldpsw x0, x1, [x28, #24]
        TB
        mov x3, x28
        ldp x0, x1, [x3, #32]!
        sub x3, x3, x28
        TE "mov x3, x28; ldp x0, x1, [x3, #32]!; sub x3, x3, x28"
        TB
        mov x3, x28
        ldp w0, w1, [x3], #-16
        sub x3, x3, x28
        TE "mov x3, x28; ldp w0, w1, [x3], #-16; sub x3, x3, x28"
        TB
        mov x3, x28
        ldpsw x0, x1, [x3, #-8]!
        sub x3, x3, x28
        TE "mov x3, x28; ldpsw x0, x1, [x3, #-8]!; sub x3, x3, x28"
        T ldnp x0, x1, [x28, #48]
        T ldr x0, lit64
        T ldr w0, lit64
        T ldrsw x0, lit32
        T prfm pldl1keep, [x28]
        T prfm pstl2strm, lit64
        TB
        str x1, [x28, #256]
        ldr x0, [x28, #256]
        TE "str x1, [x28, #256]; ldr x0, [x28, #256]"
        TB
        strb w1, [x28, #257]
        ldr x0, [x28, #256]
        TE "strb w1, [x28, #257]; ldr x0, [x28, #256]"
        TB
        strh w1, [x28, #258]
        ldr x0, [x28, #256]
        TE "strh w1, [x28, #258]; ldr x0, [x28, #256]"
        TB
        str w2, [x28, #260]
        ldr x0, [x28, #256]
        TE "str w2, [x28, #260]; ldr x0, [x28, #256]"
        TB
        add x3, x28, #256
        stur x1, [x3, #7]
        ldp x0, x1, [x28, #256]
        TE "add x3, x28, #256; stur x1, [x3, #7]; ldp x0, x1, [x28, #256]"
        TB
        mov x3, x28
        str x0, [x3, #248]!
        sub x3, x3, x28
        ldr x0, [x28, #248]
        TE "mov x3, x28; str x0, [x3, #248]!; sub x3, x3, x28; ldr x0, [x28, #248]"
        TB
        mov x3, x28
        strh w1, [x3], #5
        sub x3, x3, x28
        ldr x0, [x28]
        TE "mov x3, x28; strh w1, [x3], #5; sub x3, x3, x28; ldr x0, [x28]"
        TB
        stp x0, x1, [x28, #288]
        ldp x2, x3, [x28, #288]
        TE "stp x0, x1, [x28, #288]; ldp x2, x3, [x28, #288]"
        TB
        stp w0, w1, [x28, #200]
        ldr x2, [x28, #200]
        TE "stp w0, w1, [x28, #200]; ldr x2, [x28, #200]"
        TB
        mov x3, x28
        stp x1, x0, [x3, #320]!
        sub x3, x3, x28
        ldp x0, x1, [x28, #320]
        TE "mov x3, x28; stp x1, x0, [x3, #320]!; sub x3, x3, x28; ldp x0, x1, [x28, #320]"
        TB
        mov x3, x28
        add x3, x3, #336
        stp w1, w0, [x3], #-16
        sub x3, x3, x28
        ldr x0, [x28, #336]
        TE "mov x3, x28; add x3, x3, #336; stp w1, w0, [x3], #-16; sub x3, x3, x28; ldr x0, [x28, #336]"
        TB
        str x1, [x28, x9, lsl #3]
        ldr x0, [x28, #40]
        TE "str x1, [x28, x9, lsl #3]; ldr x0, [x28, #40]"
        TB
        str w0, [x28, w9, uxtw]
        ldr x0, [x28]
        TE "str w0, [x28, w9, uxtw]; ldr x0, [x28]"
        TB
        str xzr, [x28, #8]
        ldr x0, [x28, #8]
        TE "str xzr, [x28, #8]; ldr x0, [x28, #8]"
        TB
        stnp x1, x2, [x28, #352]
        ldp x0, x3, [x28, #352]
        TE "stnp x1, x2, [x28, #352]; ldp x0, x3, [x28, #352]"
        // FP/SIMD register loads and stores.
        TB
        ldr q0, [x28, #16]
        str q0, [x28, #384]
        ldp x0, x1, [x28, #384]
        TE "ldr q0, [x28, #16]; str q0, [x28, #384]; ldp x0, x1, [x28, #384]"
        TB
        ldr d0, [x28, #24]
        str q0, [x28, #384]
        ldp x0, x1, [x28, #384]
        TE "ldr d0, [x28, #24]; str q0, [x28, #384]; ldp x0, x1, [x28, #384]"
        TB
        ldr s0, [x28, #12]
        fmov x0, d0
        TE "ldr s0, [x28, #12]; fmov x0, d0"
        TB
        ldr h0, [x28, #2]
        fmov x0, d0
        TE "ldr h0, [x28, #2]; fmov x0, d0"
        TB
        ldr b0, [x28, #3]
        fmov x0, d0
        TE "ldr b0, [x28, #3]; fmov x0, d0"
        TB
        ldr q0, [x28, #32]
        str b0, [x28, #400]
        str h0, [x28, #402]
        str s0, [x28, #404]
        str d0, [x28, #408]
        ldp x0, x1, [x28, #400]
        TE "ldr q0, [x28, #32]; str b0, [x28, #400]; str h0, [x28, #402]; str s0, [x28, #404]; str d0, [x28, #408]; ldp x0, x1, [x28, #400]"
        TB
        ldp q0, q1, [x28, #64]
        stp q1, q0, [x28, #416]
        ldp x0, x1, [x28, #416]
        ldp x2, x3, [x28, #432]
        TE "ldp q0, q1, [x28, #64]; stp q1, q0, [x28, #416]; ldp x0, x1, [x28, #416]; ldp x2, x3, [x28, #432]"
        TB
        ldp d0, d1, [x28, #8]
        fmov x0, d1
        fmov x1, d0
        TE "ldp d0, d1, [x28, #8]; fmov x0, d1; fmov x1, d0"
        TB
        ldp s0, s1, [x28, #8]
        fmov w0, s1
        fmov w1, s0
        TE "ldp s0, s1, [x28, #8]; fmov w0, s1; fmov w1, s0"
        TB
        mov x3, x28
        ldr q0, [x3, #16]!
        sub x3, x3, x28
        fmov x0, d0
        TE "mov x3, x28; ldr q0, [x3, #16]!; sub x3, x3, x28; fmov x0, d0"
        TB
        mov x3, x28
        ldr d0, [x3], #8
        sub x3, x3, x28
        fmov x0, d0
        TE "mov x3, x28; ldr d0, [x3], #8; sub x3, x3, x28; fmov x0, d0"
        TB
        ldur q0, [x28, #5]
        fmov x0, d0
        mov x1, v0.d[1]
        TE "ldur q0, [x28, #5]; fmov x0, d0; mov x1, v0.d[1]"
        TB
        ldr q0, [x28, x9, lsl #4]
        fmov x0, d0
        mov x1, v0.d[1]
        TE "ldr q0, [x28, x9, lsl #4]; fmov x0, d0; mov x1, v0.d[1]"
        TB
        ldr d0, litd
        fmov x0, d0
        TE "ldr d0, litd; fmov x0, d0"
        TB
        ldr s0, lit32
        fmov w0, s0
        TE "ldr s0, lit32; fmov w0, s0"
        TB
        ldr q0, litq
        fmov x0, d0
        mov x1, v0.d[1]
        TE "ldr q0, litq; fmov x0, d0; mov x1, v0.d[1]"
        ldp     x29, x30, [sp], #16
        ret
        .balign 16
litq:   .quad   0x1122334455667788, 0x99aabbccddeeff00
lit64:  .quad   0x8877665544332211
litd:   .quad   0x400921fb54442d18
lit32:  .word   0x80000001
