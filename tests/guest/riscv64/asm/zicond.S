// heron-build: march=rv64gc
// Zicond: czero.eqz / czero.nez, encoded with .insn because binutils 2.40 does not know
// the mnemonics. qemu 7.2 lacks Zicond, so the expected output is checked in
// (tests/guest/riscv64/expected/zicond.out).
#include "macros.inc"
        // czero.eqz rd, rs1, rs2: rd = rs2 == 0 ? 0 : rs1   (funct7 0000111, funct3 101)
        // czero.nez rd, rs1, rs2: rd = rs2 != 0 ? 0 : rs1   (funct7 0000111, funct3 111)
        .macro CZ name, f3, a, b
        li      t1, \a
        li      t2, \b
        .insn   r OP, \f3, 7, t0, t1, t2
        SHOW    "\name \a \b", t0
        .endm
        .text
        .globl test_main
test_main:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        CZ      czero.eqz, 5, 0x1234, 0
        CZ      czero.eqz, 5, 0x1234, 1
        CZ      czero.eqz, 5, -1, 0x8000000000000000
        CZ      czero.nez, 7, 0x1234, 0
        CZ      czero.nez, 7, 0x1234, 1
        CZ      czero.nez, 7, -1, 0x8000000000000000
        // select idiom: t0 = cond ? a : b  ==  czero.eqz(a, cond) | czero.nez(b, cond)
        li      t1, 111
        li      t2, 222
        li      t3, 1
        .insn   r OP, 5, 7, t4, t1, t3
        .insn   r OP, 7, 7, t5, t2, t3
        or      t0, t4, t5
        SHOW    "select 1", t0
        li      t3, 0
        .insn   r OP, 5, 7, t4, t1, t3
        .insn   r OP, 7, 7, t5, t2, t3
        or      t0, t4, t5
        SHOW    "select 0", t0
        // rd == rs1 == rs2
        li      t0, 9
        .insn   r OP, 5, 7, t0, t0, t0
        SHOW    "czero.eqz t0 t0 t0", t0
        li      t0, 9
        .insn   r OP, 7, 7, t0, t0, t0
        SHOW    "czero.nez t0 t0 t0", t0
        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret
