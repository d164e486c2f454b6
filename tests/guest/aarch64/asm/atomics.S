// Exclusives (LDXR/STXR, pairs, CLREX), acquire/release (LDAR/STLR/LDAPR/LDAPUR/STLUR), and
// the LSE atomics (LD<op>, ST<op>, SWP, CAS, CASP) in every size and ordering.
// x28 = scratch buffer.
        .arch   armv8.4-a
#include "macros.inc"
        .text
        .globl  test_main
test_main:
        stp     x29, x30, [sp, #-16]!
        // membuf[0..64] = 0x0f0e0d...; x15 = membuf + 64 holds 0x8000000000000005
        adr     x9, pattern
        ldp     x10, x11, [x9]
        stp     x10, x11, [x28]
        stp     x11, x10, [x28, #16]
        stp     x10, x11, [x28, #32]
        stp     x11, x10, [x28, #48]
        .macro  RESET
        ldp     x10, x11, [x16, #0]
        .endm
        TB
        ldxr x0, [x28]
        stxr w1, x9, [x28]
        ldr x2, [x28]
        str x0, [x28]
        TE "ldxr x0, [x28]; stxr w1, x9, [x28]; ldr x2, [x28]; str x0, [x28]"
        TB
        ldxr w0, [x28]
        add w0, w0, #1
        stxr w1, w0, [x28]
        ldr x2, [x28]
        sub w0, w0, #1
        str w0, [x28]
        TE "ldxr w0, [x28]; add w0, w0, #1; stxr w1, w0, [x28]; ldr x2, [x28]; sub w0, w0, #1; str w0, [x28]"
        TB
        add x3, x28, #1
        ldaxrb w0, [x3]
        stlxrb w1, w9, [x3]
        ldr x2, [x28]
        strb w0, [x3]
        TE "add x3, x28, #1; ldaxrb w0, [x3]; stlxrb w1, w9, [x3]; ldr x2, [x28]; strb w0, [x3]"
        TB
        add x3, x28, #2
        ldxrh w0, [x3]
        stxrh w1, w10, [x3]
        ldr x2, [x28]
        strh w0, [x3]
        TE "add x3, x28, #2; ldxrh w0, [x3]; stxrh w1, w10, [x3]; ldr x2, [x28]; strh w0, [x3]"
        TB
        ldxr x0, [x28]
        clrex
        stxr w1, x9, [x28]
        ldr x2, [x28]
        TE "ldxr x0, [x28]; clrex; stxr w1, x9, [x28]; ldr x2, [x28]"
        TB
        stxr w1, x9, [x28]
        ldr x2, [x28]
        TE "stxr w1, x9, [x28]; ldr x2, [x28]"
        TB
        ldxr x0, [x28]
        add x3, x28, #8
        stxr w1, x9, [x3]
        ldr x2, [x28, #8]
        TE "ldxr x0, [x28]; add x3, x28, #8; stxr w1, x9, [x3]; ldr x2, [x28, #8]"
        TB
        add x5, x28, #16
        ldxp x0, x1, [x5]
        stxp w2, x1, x0, [x5]
        ldp x3, x4, [x5]
        stp x0, x1, [x5]
        mov x1, x4
        TE "add x5, x28, #16; ldxp x0, x1, [x5]; stxp w2, x1, x0, [x5]; ldp x3, x4, [x5]; stp x0, x1, [x5]; mov x1, x4"
        TB
        add x5, x28, #16
        ldaxp w0, w1, [x5]
        stlxp w2, w1, w0, [x5]
        ldr x3, [x5]
        stp w0, w1, [x5]
        TE "add x5, x28, #16; ldaxp w0, w1, [x5]; stlxp w2, w1, w0, [x5]; ldr x3, [x5]; stp w0, w1, [x5]"
        TB
        add x3, x28, #8
        ldar x0, [x3]
        TE "add x3, x28, #8; ldar x0, [x3]"
        TB
        add x3, x28, #9
        ldarb w0, [x3]
        TE "add x3, x28, #9; ldarb w0, [x3]"
        TB
        add x3, x28, #10
        ldarh w0, [x3]
        TE "add x3, x28, #10; ldarh w0, [x3]"
        TB
        add x3, x28, #12
        ldar w0, [x3]
        TE "add x3, x28, #12; ldar w0, [x3]"
        T ldapr x0, [x28]
        TB
        add x3, x28, #3
        ldaprb w0, [x3]
        TE "add x3, x28, #3; ldaprb w0, [x3]"
        T ldapur x0, [x28, #8]
        T ldapursb x0, [x28, #15]
        T ldapursh w0, [x28, #14]
        T ldapursw x0, [x28, #4]
        TB
        add x3, x28, #128
        stlr x1, [x3]
        ldr x0, [x3]
        TE "add x3, x28, #128; stlr x1, [x3]; ldr x0, [x3]"
        TB
        add x3, x28, #128
        stlrb w9, [x3]
        ldr x0, [x3]
        TE "add x3, x28, #128; stlrb w9, [x3]; ldr x0, [x3]"
        TB
        add x3, x28, #128
        add x3, x3, #2
        stlrh w10, [x3]
        ldr x0, [x3, #-2]
        TE "add x3, x28, #128; add x3, x3, #2; stlrh w10, [x3]; ldr x0, [x3, #-2]"
        TB
        add x3, x28, #128
        stlur w1, [x3, #4]
        ldr x0, [x3]
        TE "add x3, x28, #128; stlur w1, [x3, #4]; ldr x0, [x3]"
        TB
        add x3, x28, #128
        stlurb w2, [x3, #-1]
        ldr x0, [x3, #-8]
        TE "add x3, x28, #128; stlurb w2, [x3, #-1]; ldr x0, [x3, #-8]"
        // LSE: the old value goes to the destination, memory gets the result.
        .irp    op, ldadd, ldclr, ldeor, ldset, ldsmax, ldsmin, ldumax, ldumin, swp
        TB
        add x3, x28, #192
        str x1, [x3]
        \op x2, x0, [x3]
        ldr x1, [x3]
        TE "add x3, x28, #192; str x1, [x3]; \op x2, x0, [x3]; ldr x1, [x3]"
        TB
        add x3, x28, #192
        str x1, [x3]
        \op\()al w9, w0, [x3]
        ldr x1, [x3]
        TE "add x3, x28, #192; str x1, [x3]; \op\()al w9, w0, [x3]; ldr x1, [x3]"
        TB
        add x3, x28, #192
        str x2, [x3]
        \op\()a w10, w0, [x3]
        ldr x1, [x3]
        TE "add x3, x28, #192; str x2, [x3]; \op\()a w10, w0, [x3]; ldr x1, [x3]"
        TB
        add x3, x28, #192
        str x1, [x3]
        \op\()lh w10, w0, [x3]
        ldr x1, [x3]
        TE "add x3, x28, #192; str x1, [x3]; \op\()lh w10, w0, [x3]; ldr x1, [x3]"
        TB
        add x3, x28, #192
        str x1, [x3]
        \op\()alb w13, w0, [x3]
        ldr x1, [x3]
        TE "add x3, x28, #192; str x1, [x3]; \op\()alb w13, w0, [x3]; ldr x1, [x3]"
        TB
        add x3, x28, #192
        str x4, [x3]
        \op\()b w6, w0, [x3, #0]
        ldr x1, [x3]
        TE "add x3, x28, #192; str x4, [x3]; \op\()b w6, w0, [x3, #0]; ldr x1, [x3]"
        .endr
        TB
        add x3, x28, #192
        str x1, [x3]
        stadd x9, [x3]
        ldr x1, [x3]
        TE "add x3, x28, #192; str x1, [x3]; stadd x9, [x3]; ldr x1, [x3]"
        TB
        add x3, x28, #192
        str x1, [x3]
        stsmaxl w10, [x3]
        ldr x1, [x3]
        TE "add x3, x28, #192; str x1, [x3]; stsmaxl w10, [x3]; ldr x1, [x3]"
        TB
        add x3, x28, #192
        str x1, [x3]
        cas x1, x9, [x3]
        ldr x2, [x3]
        TE "add x3, x28, #192; str x1, [x3]; cas x1, x9, [x3]; ldr x2, [x3]"
        TB
        add x3, x28, #192
        str x1, [x3]
        mov x0, x1
        casal x0, x9, [x3]
        ldr x2, [x3]
        TE "add x3, x28, #192; str x1, [x3]; mov x0, x1; casal x0, x9, [x3]; ldr x2, [x3]"
        TB
        add x3, x28, #192
        str x1, [x3]
        casa w0, w9, [x3]
        ldr x2, [x3]
        TE "add x3, x28, #192; str x1, [x3]; casa w0, w9, [x3]; ldr x2, [x3]"
        TB
        add x3, x28, #192
        str x1, [x3]
        mov w0, w1
        casl w0, w9, [x3]
        ldr x2, [x3]
        TE "add x3, x28, #192; str x1, [x3]; mov w0, w1; casl w0, w9, [x3]; ldr x2, [x3]"
        TB
        add x3, x28, #192
        str x1, [x3]
        mov w0, w1
        casb w0, w9, [x3]
        ldr x2, [x3]
        TE "add x3, x28, #192; str x1, [x3]; mov w0, w1; casb w0, w9, [x3]; ldr x2, [x3]"
        TB
        add x3, x28, #192
        str x1, [x3]
        casalh w0, w9, [x3]
        ldr x2, [x3]
        TE "add x3, x28, #192; str x1, [x3]; casalh w0, w9, [x3]; ldr x2, [x3]"
        TB
        add x3, x28, #192
        stp x0, x1, [x3]
        casp x0, x1, x4, x5, [x3]
        ldp x2, x3, [x3]
        TE "add x3, x28, #192; stp x0, x1, [x3]; casp x0, x1, x4, x5, [x3]; ldp x2, x3, [x3]"
        TB
        add x3, x28, #192
        stp x0, x1, [x3]
        mov x6, x1
        caspal x6, x7, x4, x5, [x3]
        mov x0, x6
        mov x1, x7
        ldp x2, x3, [x3]
        TE "add x3, x28, #192; stp x0, x1, [x3]; mov x6, x1; caspal x6, x7, x4, x5, [x3]; mov x0, x6; mov x1, x7; ldp x2, x3, [x3]"
        TB
        add x3, x28, #192
        stp x1, x0, [x3]
        mov x0, x1
        ldr x1, [x3, #8]
        caspa x0, x1, x4, x5, [x3]
        ldp x2, x3, [x3]
        TE "add x3, x28, #192; stp x1, x0, [x3]; mov x0, x1; ldr x1, [x3, #8]; caspa x0, x1, x4, x5, [x3]; ldp x2, x3, [x3]"
        TB
        add x3, x28, #192
        str x1, [x3]
        mov x0, x1
        casp w0, w1, w4, w5, [x3]
        ldr x2, [x3]
        TE "add x3, x28, #192; str x1, [x3]; mov x0, x1; casp w0, w1, w4, w5, [x3]; ldr x2, [x3]"
        TB
        add x3, x28, #192
        str x1, [x3]
        caspl w0, w1, w4, w5, [x3]
        ldr x2, [x3]
        TE "add x3, x28, #192; str x1, [x3]; caspl w0, w1, w4, w5, [x3]; ldr x2, [x3]"
        ldp     x29, x30, [sp], #16
        ret
        .balign 8
pattern: .quad  0x0706050403020100, 0x8f8e8d8c8b8a8988
