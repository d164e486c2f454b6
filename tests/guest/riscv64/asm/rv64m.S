// RV64M: multiplications (all high-half variants), divisions and remainders with
// division by zero and signed overflow, and the W forms with garbage in the upper bits.
#include "macros.inc"
        .text
        .globl test_main
test_main:
        addi    sp, sp, -16
        sd      ra, 0(sp)

        RR      mul, 7, -3
        RR      mul, 0x123456789abcdef0, 0x0fedcba987654321
        RR      mul, 0x8000000000000000, -1
        RR      mulh, 0x123456789abcdef0, 0x0fedcba987654321
        RR      mulh, -1, -1
        RR      mulh, 0x8000000000000000, 0x8000000000000000
        RR      mulh, 0x8000000000000000, 2
        RR      mulhu, -1, -1
        RR      mulhu, 0x8000000000000000, 2
        RR      mulhu, 0x123456789abcdef0, 0xfedcba9876543210
        RR      mulhsu, -1, -1
        RR      mulhsu, -2, 3
        RR      mulhsu, 0x8000000000000000, 0xffffffffffffffff
        RR      mulhsu, 5, -1
        RR      mulw, 0x7fffffff, 2
        RR      mulw, 0x1234567800010000, 0xabcdef0000010000
        RR      mulw, -1, -1

        RR      div, 20, 6
        RR      div, -20, 6
        RR      div, 20, -6
        RR      div, -20, -6
        RR      div, 5, 0
        RR      div, -5, 0
        RR      div, 0x8000000000000000, -1
        RR      divu, 20, 6
        RR      divu, -1, 2
        RR      divu, 5, 0
        RR      rem, 20, 6
        RR      rem, -20, 6
        RR      rem, 20, -6
        RR      rem, -20, -6
        RR      rem, 5, 0
        RR      rem, -5, 0
        RR      rem, 0x8000000000000000, -1
        RR      remu, 20, 6
        RR      remu, -1, 10
        RR      remu, 5, 0
        RR      remu, -5, 0

        RR      divw, 0xffffffff00000014, 0x1234567800000006
        RR      divw, -20, 6
        RR      divw, 5, 0
        RR      divw, 0x80000000, -1
        RR      divw, 0x1234567880000000, 0xffffffff
        RR      divuw, 0xffffffff, 2
        RR      divuw, 0x12345678fffffffe, 0x0000000100000001
        RR      divuw, 5, 0
        RR      divuw, 0x80000000, 0
        RR      remw, -20, 6
        RR      remw, 0x80000000, -1
        RR      remw, 0x1234567800000007, 0
        RR      remw, 0xffffffff80000005, 0
        RR      remuw, 0xffffffff, 10
        RR      remuw, 0x80000005, 0
        RR      remuw, 0xabcdef0012345678, 0x0000000100000000

        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret
