// RV64A: LR/SC success and failure, every AMO in .w and .d form (old value returned,
// .w results sign-extended, memory after), aq/rl variants, rd == x0.
#include "macros.inc"
        .macro AMO op, init, val
        lla      s0, cell
        li      t1, \init
        sd      t1, 0(s0)
        li      t2, \val
        \op     t0, t2, (s0)
        ld      t3, 0(s0)
        SHOW    "\op \init \val old", t0
        SHOW    "\op \init \val mem", t3
        .endm

        .data
        .balign 8
cell:   .dword  0
cell2:  .dword  0
        .text
        .globl test_main
test_main:
        addi    sp, sp, -16
        sd      ra, 0(sp)

        // lr.d / sc.d success
        lla      s0, cell
        li      t1, 100
        sd      t1, 0(s0)
        lr.d    t0, (s0)
        addi    t0, t0, 1
        sc.d    t2, t0, (s0)
        SHOW    "sc.d success rc", t2
        ld      t3, 0(s0)
        SHOW    "sc.d success mem", t3
        // second sc without a new lr fails
        li      t0, 555
        sc.d    t2, t0, (s0)
        snez    t2, t2
        SHOW    "sc.d again fails", t2
        ld      t3, 0(s0)
        SHOW    "sc.d again mem", t3
        // lr.w sign-extends; sc.w writes 32 bits
        li      t1, 0x1111111180000000
        sd      t1, 0(s0)
        lr.w    t0, (s0)
        SHOW    "lr.w", t0
        li      t1, 0x7654321
        sc.w    t2, t1, (s0)
        SHOW    "sc.w rc", t2
        ld      t3, 0(s0)
        SHOW    "sc.w mem", t3
        // aq/rl variants and a CAS loop
        li      t1, 40
        sd      t1, 0(s0)
1:      lr.d.aq t0, (s0)
        addi    t0, t0, 2
        sc.d.rl t2, t0, (s0)
        bnez    t2, 1b
        ld      t3, 0(s0)
        SHOW    "cas loop", t3
        // lr to one address, sc to another: must fail
        lla      s1, cell2
        sd      zero, 0(s1)
        lr.d    t0, (s0)
        li      t1, 9
        sc.d    t2, t1, (s1)
        snez    t2, t2
        SHOW    "sc other addr fails", t2
        ld      t3, 0(s1)
        SHOW    "sc other addr mem", t3

        AMO     amoswap.d, 0x1122334455667788, -1
        AMO     amoadd.d, 0x7fffffffffffffff, 1
        AMO     amoxor.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        AMO     amoand.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        AMO     amoor.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        AMO     amomin.d, -5, 3
        AMO     amomin.d, 3, -5
        AMO     amomax.d, -5, 3
        AMO     amominu.d, -5, 3
        AMO     amomaxu.d, -5, 3
        AMO     amoswap.w, 0x1122334455667788, 0x80000000
        AMO     amoadd.w, 0xaaaaaaaa7fffffff, 1
        AMO     amoxor.w, 0x12345678f0f0f0f0, -1
        AMO     amoand.w, 0x12345678f0f0f0f0, 0x0ff00ff0
        AMO     amoor.w, 0x123456780000000f, 0xf0000000
        AMO     amomin.w, 0x0000000080000000, 1
        AMO     amomin.w, 0x0000000000000001, 0xffffffff80000000
        AMO     amomax.w, 0x0000000080000000, 1
        AMO     amominu.w, 0x0000000080000000, 1
        AMO     amomaxu.w, 0x0000000080000000, 1
        AMO     amomaxu.w, 0xffffffff00000001, 0x00000000ffffffff
        AMO     amoadd.d.aqrl, 10, 20
        AMO     amoswap.w.aq, 5, 6
        // rd = x0
        lla      s0, cell
        li      t1, 3
        sd      t1, 0(s0)
        li      t2, 4
        amoadd.d x0, t2, (s0)
        ld      t3, 0(s0)
        SHOW    "amoadd.d x0", t3

        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret
