// RV64I register/immediate arithmetic, logic, shifts, compares, lui/auipc and the
// W forms, with edge cases (overflow, sign extension, shift amounts masked to 6/5 bits).
#include "macros.inc"
        .text
        .globl test_main
test_main:
        addi    sp, sp, -16
        sd      ra, 0(sp)

        RR      add, 1, 2
        RR      add, 0x7fffffffffffffff, 1
        RR      add, -1, -1
        RR      sub, 0, 1
        RR      sub, 0x8000000000000000, 1
        RR      sub, 5, 0x7fffffffffffffff
        RI      addi, 0, -2048
        RI      addi, 0, 2047
        RI      addi, 0x7fffffffffffffff, 1
        RR      sll, 1, 63
        RR      sll, 1, 64
        RR      sll, 1, 65
        RR      sll, 0x123456789abcdef0, 36
        RR      srl, 0x8000000000000000, 63
        RR      srl, 0x8000000000000000, 0x7f
        RR      srl, -1, 4
        RR      sra, 0x8000000000000000, 63
        RR      sra, 0x8000000000000000, 1
        RR      sra, 0x4000000000000000, 62
        RR      sra, -16, 0xffffffffffffff02
        RI      slli, 3, 62
        RI      srli, -1, 63
        RI      srai, -256, 4
        RI      srai, 0x7000000000000000, 60
        RR      slt, -1, 0
        RR      slt, 0, -1
        RR      slt, 5, 5
        RR      sltu, -1, 0
        RR      sltu, 0, -1
        RR      sltu, 0, 0
        RI      slti, -5, -4
        RI      slti, -4, -5
        RI      sltiu, 5, -1
        RI      sltiu, -1, -1
        RI      sltiu, 0, 1
        RR      xor, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        RR      or, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        RR      and, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        RI      xori, 0x1234, -1
        RI      ori, 0x1234, -2048
        RI      andi, 0x123456789abcdef0, -16
        RI      andi, 0x123456789abcdef0, 0x7ff

        // W forms: results are 32-bit, sign-extended to 64; inputs use only the low 32 bits
        RR      addw, 0x7fffffff, 1
        RR      addw, 0xffffffff00000001, 0x00000000ffffffff
        RR      addw, 0x1234567800000000, 0
        RR      subw, 0, 1
        RR      subw, 0x80000000, 1
        RR      subw, 0xaaaaaaaa7fffffff, 0x55555555ffffffff
        RI      addiw, 0x7fffffff, 1
        RI      addiw, 0xffffffff80000000, -1
        RI      addiw, 0x123456789abcdef0, 0
        RR      sllw, 1, 31
        RR      sllw, 1, 32
        RR      sllw, 0xffffffff00000003, 33
        RR      srlw, 0x80000000, 31
        RR      srlw, 0xffffffff80000000, 0
        RR      srlw, 0xffffffff80000000, 32
        RR      srlw, -1, 4
        RR      sraw, 0x80000000, 31
        RR      sraw, 0x80000000, 4
        RR      sraw, 0x0000000170000000, 28
        RR      sraw, -1, 63
        RI      slliw, 0x80000001, 1
        RI      slliw, 0x0000000012345678, 4
        RI      srliw, 0xffffffff80000000, 31
        RI      srliw, 0x1234567880000000, 0
        RI      sraiw, 0x0000000080000000, 31
        RI      sraiw, 0x00000000f0000000, 0

        // lui / auipc
        lui     t0, 0x80000
        SHOW    "lui 0x80000", t0
        lui     t0, 0x7ffff
        SHOW    "lui 0x7ffff", t0
        lui     t0, 0xfffff
        addi    t0, t0, -1
        SHOW    "lui+addi -1", t0
1:      auipc   t0, 0
        lla      t1, 1b
        sub     t0, t0, t1
        SHOW    "auipc 0 - label", t0
2:      auipc   t0, 0x80000
        lla      t1, 2b
        sub     t0, t0, t1
        SHOW    "auipc 0x80000 - label", t0
3:      auipc   t0, 1
        lla      t1, 3b
        sub     t0, t0, t1
        SHOW    "auipc 1 - label", t0

        // li of wide constants (lui/addi/slli sequences)
        li      t0, 0x123456789abcdef0
        SHOW    "li 0x123456789abcdef0", t0
        li      t0, -0x123456789abcdef
        SHOW    "li -0x123456789abcdef", t0
        li      t0, 0x00000000ffffffff
        SHOW    "li 0xffffffff", t0

        // writes to x0 are discarded
        li      t1, 77
        add     x0, t1, t1
        addi    x0, x0, 5
        lui     x0, 1
        SHOW    "x0", x0
        mv      t0, x0
        SHOW    "mv from x0", t0
        // rd == rs1 == rs2
        li      t0, 21
        add     t0, t0, t0
        SHOW    "add t0 t0 t0", t0
        li      t0, 5
        sll     t0, t0, t0
        SHOW    "sll t0 t0 t0", t0

        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret
