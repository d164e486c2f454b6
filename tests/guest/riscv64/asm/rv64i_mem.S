// RV64I loads and stores: every width, sign/zero extension, negative offsets,
// misaligned accesses (allowed in Linux user mode), loads into x0, store/load forwarding.
#include "macros.inc"
        .data
        .balign 16
buf:    .dword  0x8899aabbccddeeff, 0x0011223344556677, 0xf0e1d2c3b4a59687, 0
        .space  64
        .text
        .globl test_main
test_main:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        lla      s0, buf

        lb      t0, 0(s0)
        SHOW    "lb 0", t0
        lbu     t0, 0(s0)
        SHOW    "lbu 0", t0
        lb      t0, 14(s0)
        SHOW    "lb 14", t0
        lh      t0, 0(s0)
        SHOW    "lh 0", t0
        lhu     t0, 0(s0)
        SHOW    "lhu 0", t0
        lh      t0, 8(s0)
        SHOW    "lh 8", t0
        lw      t0, 4(s0)
        SHOW    "lw 4", t0
        lwu     t0, 4(s0)
        SHOW    "lwu 4", t0
        lw      t0, 8(s0)
        SHOW    "lw 8", t0
        ld      t0, 16(s0)
        SHOW    "ld 16", t0
        addi    t1, s0, 24
        ld      t0, -16(t1)
        SHOW    "ld -16", t0
        lbu     t0, -1(t1)
        SHOW    "lbu -1", t0

        // misaligned loads
        lh      t0, 1(s0)
        SHOW    "lh 1", t0
        lhu     t0, 7(s0)
        SHOW    "lhu 7", t0
        lw      t0, 3(s0)
        SHOW    "lw 3", t0
        lwu     t0, 6(s0)
        SHOW    "lwu 6", t0
        ld      t0, 5(s0)
        SHOW    "ld 5", t0
        ld      t0, 15(s0)
        SHOW    "ld 15", t0

        // stores of each width, then read back the whole dword
        addi    s1, s0, 32
        li      t1, 0x0102030405060708
        sd      t1, 0(s1)
        li      t1, 0xabcd
        sb      t1, 0(s1)
        sh      t1, 2(s1)
        ld      t0, 0(s1)
        SHOW    "after sb/sh", t0
        li      t1, 0xdeadbeefcafef00d
        sw      t1, 4(s1)
        ld      t0, 0(s1)
        SHOW    "after sw", t0
        sd      t1, 8(s1)
        lw      t0, 8(s1)
        SHOW    "lw after sd", t0
        lhu     t0, 14(s1)
        SHOW    "lhu after sd", t0

        // misaligned stores
        sd      zero, 16(s1)
        sd      zero, 24(s1)
        li      t1, 0x1122334455667788
        sd      t1, 19(s1)
        ld      t0, 16(s1)
        SHOW    "sd 19 lo", t0
        ld      t0, 24(s1)
        SHOW    "sd 19 hi", t0
        li      t1, 0xa1b2c3d4
        sw      t1, 17(s1)
        sh      t1, 31(s1)
        ld      t0, 16(s1)
        SHOW    "sw 17", t0
        ld      t0, 24(s1)
        SHOW    "sh 31", t0

        // a load into x0 has no effect on x0
        lw      x0, 0(s0)
        SHOW    "x0 after load", x0
        // base register overwritten by the load
        mv      t0, s0
        ld      t0, 8(t0)
        SHOW    "ld t0 8(t0)", t0
        // stack (sp-relative) accesses
        addi    sp, sp, -16
        li      t1, -3
        sw      t1, 4(sp)
        lwu     t0, 4(sp)
        SHOW    "sp lwu", t0
        lw      t0, 4(sp)
        SHOW    "sp lw", t0
        addi    sp, sp, 16

        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret
