// RV64I control flow: every branch taken and not taken on signed/unsigned edge values,
// jal/jalr link values, jalr clearing bit 0, jalr with rd == rs1, backwards loops.
#include "macros.inc"
        .macro BR op, a, b
        li      t1, \a
        li      t2, \b
        li      t0, 0
        \op     t1, t2, 1f
        li      t0, 1                   // not taken
1:      SHOW    "\op \a \b (0=taken)", t0
        .endm

        .text
        .globl test_main
test_main:
        addi    sp, sp, -16
        sd      ra, 0(sp)

        BR      beq, 5, 5
        BR      beq, 5, 6
        BR      bne, 5, 5
        BR      bne, 0, -1
        BR      blt, -1, 0
        BR      blt, 0, -1
        BR      blt, 3, 3
        BR      bge, 3, 3
        BR      bge, -1, 0
        BR      bge, 0x7fffffffffffffff, 0x8000000000000000
        BR      bltu, 0, -1
        BR      bltu, -1, 0
        BR      bltu, 0x7fffffffffffffff, 0x8000000000000000
        BR      bgeu, -1, 0
        BR      bgeu, 0, -1
        BR      bgeu, 7, 7
        BR      bgt, 1, 0
        BR      ble, 1, 0
        BR      bgtu, -1, 1
        BR      bleu, -1, 1

        // jal: link is the address after the jal
        jal     t0, 2f
1:      nop
2:      lla      t1, 1b
        sub     t0, t0, t1
        SHOW    "jal link - next", t0
        // jal forward over code; x0 link (plain j)
        li      t0, 1
        j       3f
        li      t0, 2
3:      SHOW    "j skipped", t0
        // jalr with an odd target: bit 0 is cleared
        lla      t1, 4f
        addi    t1, t1, 1
        li      t0, 7
        jalr    t2, 0(t1)
        li      t0, 8
4:      SHOW    "jalr odd target", t0
        // jalr rd == rs1: target uses the old value
        lla      t0, 5f
        jalr    t0, 0(t0)
6:      nop
5:      lla      t1, 6b
        sub     t0, t0, t1
        SHOW    "jalr t0,0(t0) link - next", t0
        // jalr with an offset
        lla      t1, 7f - 8
        li      t0, 0
        jalr    x0, 8(t1)
        li      t0, 1
7:      SHOW    "jalr offset", t0
        // call/ret through a function
        li      a0, 20
        call    fn_double
        SHOW    "call fn_double(20)", a0
        // backward loop: sum 1..100
        li      t0, 0
        li      t1, 100
8:      add     t0, t0, t1
        addi    t1, t1, -1
        bnez    t1, 8b
        SHOW    "sum 1..100", t0
        // nested loop with a long count (exercises block chaining)
        li      t0, 0
        li      t2, 300
9:      li      t1, 1000
10:     addi    t0, t0, 3
        addi    t1, t1, -1
        bnez    t1, 10b
        addi    t2, t2, -1
        bnez    t2, 9b
        SHOW    "nested loop", t0
        // indirect jump through a table
        li      t0, 0
        li      s1, 0
11:     lla      t1, table
        slli    t2, s1, 3
        add     t1, t1, t2
        ld      t1, 0(t1)
        jalr    ra, 0(t1)
        addi    s1, s1, 1
        li      t2, 3
        blt     s1, t2, 11b
        SHOW    "jump table", t0

        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret

fn_double:
        add     a0, a0, a0
        ret
case0:  addi    t0, t0, 1
        ret
case1:  addi    t0, t0, 0x10
        ret
case2:  addi    t0, t0, 0x100
        ret
        .section .rodata
        .balign 8
table:  .dword  case0, case1, case2
