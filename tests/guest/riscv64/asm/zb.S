// heron-build: march=rv64gc_zba_zbb_zbs
// Zba, Zbb and Zbs: every instruction, with W forms and edge values (zero, all ones,
// values whose upper 32 bits must be ignored or sign-extended).
#include "macros.inc"
        .text
        .globl test_main
test_main:
        addi    sp, sp, -16
        sd      ra, 0(sp)

        // Zba
        RR      add.uw, 0xffffffff80000001, 0x10
        RR      add.uw, 0x00000000ffffffff, 1
        RR      sh1add, 0x4000000000000001, 7
        RR      sh2add, -1, 4
        RR      sh3add, 0x2000000000000001, 1
        RR      sh1add.uw, 0xffffffff80000000, 1
        RR      sh2add.uw, 0x12345678ffffffff, 0
        RR      sh3add.uw, 0xffffffff00000003, 0x100
        RI      slli.uw, 0xffffffff80000001, 0
        RI      slli.uw, 0xffffffff80000001, 4
        RI      slli.uw, 0xfedcba9876543210, 40

        // Zbb
        RR      andn, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        RR      orn, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        RR      xnor, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        R1      clz, 0
        R1      clz, 1
        R1      clz, -1
        R1      clz, 0x0000100000000000
        R1      clzw, 0
        R1      clzw, 0xffffffff00010000
        R1      clzw, 0x80000000
        R1      ctz, 0
        R1      ctz, 0x8000000000000000
        R1      ctz, 0x0000000000000100
        R1      ctzw, 0
        R1      ctzw, 0xffffffff00000000
        R1      ctzw, 0x0000000000800000
        R1      cpop, -1
        R1      cpop, 0x0123456789abcdef
        R1      cpopw, 0xffffffff0000000f
        R1      cpopw, -1
        RR      max, -1, 1
        RR      maxu, -1, 1
        RR      min, -1, 1
        RR      minu, -1, 1
        RR      max, 0x8000000000000000, 0x7fffffffffffffff
        R1      sext.b, 0x180
        R1      sext.b, 0x17f
        R1      sext.h, 0x18000
        R1      sext.h, 0x7fff
        R1      zext.h, 0xffffffffffff8001
        RR      rol, 0x8000000000000001, 1
        RR      rol, 0x0123456789abcdef, 68
        RR      ror, 0x8000000000000001, 1
        RR      ror, 0x0123456789abcdef, 0xfc
        RI      rori, 0x0123456789abcdef, 63
        RI      rori, 0x0123456789abcdef, 0
        RR      rolw, 0xffffffff80000001, 1
        RR      rolw, 0x0000000012345678, 36
        RR      rorw, 0x0000000000000001, 1
        RR      rorw, 0x1234567812345678, 32
        RI      roriw, 0x00000000000000ff, 4
        RI      roriw, 0xaaaaaaaa00000001, 0
        R1      orc.b, 0x0100ff0000800001
        R1      orc.b, 0
        R1      rev8, 0x0123456789abcdef

        // Zbs
        RR      bclr, -1, 63
        RR      bclr, -1, 64
        RI      bclri, -1, 31
        RR      bext, 0x8000000000000000, 63
        RR      bext, 0x8000000000000000, 127
        RI      bexti, 0x10, 4
        RI      bexti, 0x10, 5
        RR      binv, 0, 32
        RI      binvi, -1, 0
        RR      bset, 0, 63
        RR      bset, 0, 0x41
        RI      bseti, 0, 31

        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret
