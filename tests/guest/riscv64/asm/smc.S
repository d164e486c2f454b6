// Self-modifying code: instructions written to an RWX page, made visible with fence.i,
// executed often enough to become hot (JIT tier), then rewritten and executed again;
// a W^X cycle with mprotect; code replaced through munmap + mmap MAP_FIXED at the same
// address.
#include "macros.inc"
        .set    INSN_ADDI1, 0x00150513          // addi a0, a0, 1
        .set    INSN_ADDI3, 0x00350513          // addi a0, a0, 3
        .set    INSN_SLLI1, 0x00151513          // slli a0, a0, 1
        .set    INSN_XORI,  0x0ff54513          // xori a0, a0, 0xff
        .set    INSN_RET,   0x00008067          // jalr x0, 0(ra)
        .set    INSN_NOP,   0x00000013

        // CALLN n: a0 = 0; call the code at s0 n times; show a0
        .macro CALLN label, n
        li      a0, 0
        li      s1, \n
.Lcall\@:
        jalr    ra, 0(s0)
        addi    s1, s1, -1
        bnez    s1, .Lcall\@
        SHOW    "\label", a0
        .endm

        .macro MMAP prot, flags, addr=0
        li      a0, \addr
        li      a1, 4096
        li      a2, \prot
        li      a3, \flags
        li      a4, -1
        li      a5, 0
        li      a7, 222                         // mmap
        ecall
        .endm

        .text
        .globl test_main
test_main:
        addi    sp, sp, -16
        sd      ra, 0(sp)

        MMAP    7, 0x22                         // RWX, MAP_PRIVATE|MAP_ANONYMOUS
        mv      s0, a0
        srli    t0, a0, 63
        SHOW    "mmap failed", t0
        li      t1, INSN_ADDI1
        sw      t1, 0(s0)
        li      t1, INSN_RET
        sw      t1, 4(s0)
        fence.i
        CALLN   "addi1 x3000", 3000
        li      t1, INSN_ADDI3
        sw      t1, 0(s0)
        fence.i
        CALLN   "addi3 x3000", 3000
        // grow the function: addi3; slli; ret
        li      t1, INSN_SLLI1
        sw      t1, 4(s0)
        li      t1, INSN_RET
        sw      t1, 8(s0)
        fence.i
        CALLN   "addi3+slli x5", 5
        // rewrite one instruction after it ran hot
        li      t1, INSN_NOP
        sw      t1, 4(s0)
        fence.i
        CALLN   "addi3+nop x2000", 2000
        // patch a single byte of the immediate: addi a0, a0, 3 -> addi a0, a0, 7
        li      t1, 0x70
        lbu     t2, 2(s0)
        andi    t2, t2, 0x0f
        or      t1, t1, t2
        sb      t1, 2(s0)
        fence.i
        CALLN   "addi7 (byte patch) x100", 100

        // W^X: make it RW, write, make it RX, run
        mv      a0, s0
        li      a1, 4096
        li      a2, 3                           // PROT_READ|PROT_WRITE
        li      a7, 226                         // mprotect
        ecall
        SHOW    "mprotect rw", a0
        li      t1, INSN_XORI
        sw      t1, 0(s0)
        li      t1, INSN_RET
        sw      t1, 4(s0)
        mv      a0, s0
        li      a1, 4096
        li      a2, 5                           // PROT_READ|PROT_EXEC
        li      a7, 226
        ecall
        SHOW    "mprotect rx", a0
        fence.i
        CALLN   "xori x1001", 1001

        // replace the mapping at the same address
        mv      a0, s0
        li      a1, 4096
        li      a7, 215                         // munmap
        ecall
        SHOW    "munmap", a0
        mv      a0, s0
        li      a1, 4096
        li      a2, 7
        li      a3, 0x32                        // MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED
        li      a4, -1
        li      a5, 0
        li      a7, 222
        ecall
        sub     t0, a0, s0
        SHOW    "mmap fixed same address", t0
        li      t1, INSN_ADDI3
        sw      t1, 0(s0)
        sw      t1, 4(s0)
        li      t1, INSN_RET
        sw      t1, 8(s0)
        fence.i
        CALLN   "new mapping addi3+addi3 x1000", 1000

        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret
