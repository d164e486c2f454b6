// heron-build: march=rv64gc
// RV64C: every compressed instruction that exists on RV64, written with explicit c.*
// mnemonics so the assembler must emit the 16-bit forms; also 32-bit instructions at
// 2-byte aligned addresses and jumps between mixed-size code.
#include "macros.inc"
        .data
        .balign 8
cdata:  .dword  0x1122334455667788, 0x99aabbccddeeff00
        .double 1.5, -2.25
        .text
        .globl test_main
test_main:
        addi    sp, sp, -16
        sd      ra, 0(sp)

        c.li    a0, -32
        SHOW    "c.li -32", a0
        c.li    a0, 31
        c.addi  a0, -1
        SHOW    "c.addi", a0
        li      a0, 0x7fffffff
        c.addiw a0, 1
        SHOW    "c.addiw", a0
        c.addiw a0, 0                   // sext.w
        SHOW    "c.addiw 0", a0
        c.lui   a1, 0xfffe1
        SHOW    "c.lui 0xfffe1", a1
        c.lui   a1, 1
        SHOW    "c.lui 1", a1
        c.li    a2, 3
        c.slli  a2, 62
        SHOW    "c.slli", a2
        c.srli  a2, 61
        SHOW    "c.srli", a2
        li      a2, -128
        c.srai  a2, 3
        SHOW    "c.srai", a2
        li      a2, 0x1234
        c.andi  a2, -16
        SHOW    "c.andi", a2
        c.mv    a3, a2
        SHOW    "c.mv", a3
        c.add   a3, a2
        SHOW    "c.add", a3
        li      a4, 0x0ff0
        c.sub   a3, a4
        SHOW    "c.sub", a3
        c.xor   a3, a4
        SHOW    "c.xor", a3
        c.or    a3, a4
        SHOW    "c.or", a3
        c.and   a3, a4
        SHOW    "c.and", a3
        li      a3, 0x7fffffff
        li      a4, -1
        c.subw  a3, a4
        SHOW    "c.subw", a3
        li      a3, 0x7fffffff
        c.addw  a3, a3
        SHOW    "c.addw", a3

        // loads/stores (register-based)
        lla     a5, cdata
        c.lw    a0, 0(a5)
        SHOW    "c.lw", a0
        c.lw    a0, 4(a5)
        SHOW    "c.lw 4", a0
        c.ld    a1, 8(a5)
        SHOW    "c.ld", a1
        c.fld   fa0, 16(a5)
        fmv.x.d a2, fa0
        SHOW    "c.fld", a2
        c.fsd   fa0, 24(a5)
        c.ld    a2, 24(a5)
        SHOW    "c.fsd", a2
        li      a0, -2
        c.sw    a0, 0(a5)
        c.ld    a2, 0(a5)
        SHOW    "c.sw", a2
        c.sd    a0, 8(a5)
        c.ld    a2, 8(a5)
        SHOW    "c.sd", a2

        // sp-based forms and c.addi16sp / c.addi4spn
        c.addi16sp sp, -64
        li      a0, 0x55aa55aa55aa55aa
        c.sdsp  a0, 8(sp)
        c.ldsp  a1, 8(sp)
        SHOW    "c.sdsp/c.ldsp", a1
        c.swsp  a0, 20(sp)
        c.lwsp  a1, 20(sp)
        SHOW    "c.swsp/c.lwsp", a1
        c.fsdsp fa0, 32(sp)
        c.fldsp fa1, 32(sp)
        fmv.x.d a1, fa1
        SHOW    "c.fsdsp/c.fldsp", a1
        c.addi4spn a2, sp, 16
        sub     a2, a2, sp
        SHOW    "c.addi4spn - sp", a2
        c.addi16sp sp, 64

        // control flow
        c.li    a0, 0
        c.beqz  a0, 1f
        c.li    a0, 9
1:      SHOW    "c.beqz taken", a0
        c.li    a0, 1
        c.bnez  a0, 2f
        c.li    a0, 9
2:      SHOW    "c.bnez taken", a0
        c.li    a0, 0
        c.bnez  a0, 3f
        c.li    a0, 5
3:      SHOW    "c.bnez not taken", a0
        c.li    a0, 1
        c.j     4f
        c.li    a0, 2
4:      SHOW    "c.j", a0
        lla     a1, 5f
        c.li    a0, 3
        c.jr    a1
        c.li    a0, 4
5:      SHOW    "c.jr", a0
        lla     a1, cfun
        c.li    a0, 10
        c.jalr  a1
6:      SHOW    "c.jalr result", a0
        lla     a1, 6b
        sub     a0, ra, a1
        SHOW    "c.jalr link - next", a0
        // a 32-bit instruction at a 2-byte aligned address
        .balign 4
        c.nop
        addi    a0, zero, 0x123
        addi    a0, a0, 1
        SHOW    "misaligned 32-bit", a0
        // loop made of compressed instructions
        c.li    a0, 0
        c.li    a1, 10
7:      c.addi  a0, 3
        c.addi  a1, -1
        c.bnez  a1, 7b
        SHOW    "c loop", a0

        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret

cfun:   c.addi  a0, 5
        c.jr    ra
