# Cache-block operations (Zicboz, Zicbom, Zicbop) on 64-byte blocks:
# - M: cbo.zero with an unaligned rs1 zeros exactly its block (every byte around is
#   checked), cbo.clean/flush/inval and prefetch.* are no-ops;
# - cbo.zero over code that ran, then fence.i: the next call runs the zeros (illegal
#   instruction at the routine, mepc = the routine);
# - menvcfg's CBIE/CBCFE/CBZE read back (WARL: CBIE's reserved 10 keeps the old value);
# - one S-mode routine runs twice: menvcfg.CBZE = 0 -> illegal instruction (mcause 2,
#   mtval = the instruction), CBZE = 1 -> it zeros its block;
# - S with Sv39 paging: all four on an unmapped address raise store page faults (15) with
#   mtval = rs1; on mapped memory the management ops succeed and change nothing.
# Traps are not delegated: the M handler leaves mcause in s3, mtval in s4, mepc in s5 and
# resumes at s2 (in M, without mret, for an ecall from S).
        .include "bare.inc"
        .option arch, +zicbom, +zicboz, +zicbop
        .globl _start
        .equ ROOT, 0x80010000
        .equ DATA, 0x80030000
        .equ CODEBUF, 0x80040000
        .equ VA_UNMAPPED, 0x40000123
        .equ CBZE, 0x80
        .equ CBCFE, 0x40
        .equ CBIE_FLUSH, 0x10
        .text
_start:
        la      t0, trap
        csrw    mtvec, t0
        li      t0, -1                  # PMP: everything RWX for S and U
        csrw    pmpaddr0, t0
        li      t0, 0x0f
        csrw    pmpcfg0, t0

        # ---- M: cbo.zero zeros exactly one block ----
        li      a0, DATA                # DATA..DATA+0x200: 0xa5
        li      a1, 0x200
        li      a2, 0xa5
        call    fill
        li      s1, DATA + 0x7f         # last byte of block DATA+0x40
        li      s3, 0
        cbo.zero (s1)
        cbo.clean (s1)
        cbo.flush (s1)
        cbo.inval (s1)
        prefetch.r 0(s1)
        prefetch.w 64(s1)
        prefetch.i -64(s1)
        li      t0, 0x18000000          # prefetches never fault, even with nothing there
        prefetch.r 0(t0)
        CHECK   s3, 0, 0x01
        li      a0, DATA
        li      a1, 0x40
        li      a2, 0xa5
        call    check
        CHECK   a0, 0, 0x02
        li      a0, DATA + 0x40
        li      a1, 0x40
        li      a2, 0
        call    check
        CHECK   a0, 0, 0x03
        li      a0, DATA + 0x80
        li      a1, 0x180
        li      a2, 0xa5
        call    check
        CHECK   a0, 0, 0x04

        # ---- cbo.zero over code that ran ----
        la      t0, routine             # copy `routine` (8 bytes) to CODEBUF
        li      t1, CODEBUF
        ld      t2, 0(t0)
        sd      t2, 0(t1)
        fence.i
        li      a0, 0
        li      t0, CODEBUF
        jalr    t0
        CHECK   a0, 1, 0x05
        li      s1, CODEBUF + 0x3c
        cbo.zero (s1)
        fence.i
        li      a0, 0
        la      s2, 1f
        li      s3, 0
        li      t0, CODEBUF
        jalr    t0                      # illegal instruction at CODEBUF
1:      CHECK   s3, 2, 0x06
        CHECK   s5, CODEBUF, 0x07
        CHECK   a0, 0, 0x08

        # ---- menvcfg fields read back (WARL) ----
        li      t0, CBZE | CBCFE | CBIE_FLUSH
        csrw    menvcfg, t0
        csrr    t1, menvcfg
        andi    t1, t1, 0xf0
        CHECK   t1, 0xd0, 0x09
        li      t0, 0xe0                # CBIE = 10 (reserved): CBIE stays 01
        csrw    menvcfg, t0
        csrr    t1, menvcfg
        andi    t1, t1, 0xf0
        CHECK   t1, 0xd0, 0x0a

        # ---- the same S routine with CBZE = 0, then 1 ----
        li      a0, DATA + 0x100        # refill DATA+0x100..0x200
        li      a1, 0x100
        li      a2, 0xa5
        call    fill
        csrw    menvcfg, zero
        li      s1, DATA + 0x105
        la      s6, 2f
        call    enter_s                 # s_zero with CBZE = 0
2:      CHECK   s7, 2, 0x10
        li      t0, 0x0044a00f          # mtval: the instruction, cbo.zero (s1)
        bne     s8, t0, bad_tval
        li      a0, DATA + 0x100
        li      a1, 0x40
        li      a2, 0xa5
        call    check
        CHECK   a0, 0, 0x11
        li      t0, CBZE
        csrw    menvcfg, t0
        la      s6, 3f
        call    enter_s                 # s_zero with CBZE = 1
3:      CHECK   s7, 0, 0x12
        li      a0, DATA + 0x100
        li      a1, 0x40
        li      a2, 0
        call    check
        CHECK   a0, 0, 0x13
        li      a0, DATA + 0x140
        li      a1, 0xc0
        li      a2, 0xa5
        call    check
        CHECK   a0, 0, 0x14

        # ---- S with Sv39: faults on an unmapped page, no-ops on mapped memory ----
        li      t0, ROOT                # root[0]: 0..1 GiB (devices), root[2]: RAM,
        li      t1, (0 << 10) | 0xc7    # both identity, A/D set; root[1] invalid
        sd      t1, 0(t0)
        sd      zero, 8(t0)
        li      t1, ((0x80000000 >> 12) << 10) | 0xcf
        sd      t1, 16(t0)
        li      t0, (8 << 60) | (ROOT >> 12)
        csrw    satp, t0
        sfence.vma
        li      t0, CBZE | CBCFE | CBIE_FLUSH
        csrw    menvcfg, t0
        la      s6, 4f
        call    enter_s_paging
4:      csrw    satp, zero
        sfence.vma
        CHECK   s7, 0, 0x2f
        li      a0, DATA + 0x180        # the mapped block the management ops hit
        li      a1, 0x40
        li      a2, 0xa5
        call    check
        CHECK   a0, 0, 0x30
        PRINT   "BARE-CBO-OK\n"
        j       pass

bad_tval:
        li      a0, 0x7f
        j       fail

# enter S at s_zero (or s_paging) with mret; the S code ends with an ecall, whose trap
# continues in M at s6.
enter_s:
        la      t0, s_zero
        j       1f
enter_s_paging:
        la      t0, s_paging
1:      csrw    mepc, t0
        li      t0, 3 << 11
        csrc    mstatus, t0
        li      t0, 1 << 11             # MPP = S
        csrs    mstatus, t0
        mret

# S: cbo.zero (s1); s7/s8 = the cause/tval it trapped with (0 if none)
s_zero:
        la      s2, 1f
        li      s3, 0
        li      s4, 0
        cbo.zero (s1)
1:      mv      s7, s3
        mv      s8, s4
        mv      s2, s6
        ecall

        # EXPECT_SPF insn: insn must raise a store page fault with mtval = s1
        .macro EXPECT_SPF insn, code
        la      s2, 7f
        li      s3, 0
        li      s4, 0
        \insn
7:
        CHECK   s3, 15, \code
        bne     s4, s1, bad_tval
        .endm
        .macro EXPECT_OK insn, code
        la      s2, 7f
        li      s3, 0
        \insn
7:
        CHECK   s3, 0, \code
        .endm

# S with paging on: s7 = 0 at the end (the checks jump to fail otherwise)
s_paging:
        li      s1, VA_UNMAPPED
        EXPECT_SPF "cbo.clean (s1)", 0x20
        EXPECT_SPF "cbo.flush (s1)", 0x21
        EXPECT_SPF "cbo.inval (s1)", 0x22
        EXPECT_SPF "cbo.zero (s1)", 0x23
        EXPECT_OK "prefetch.w 0(s1)", 0x24
        li      s1, DATA + 0x1a1
        EXPECT_OK "cbo.clean (s1)", 0x25
        EXPECT_OK "cbo.flush (s1)", 0x26
        EXPECT_OK "cbo.inval (s1)", 0x27
        li      s7, 0
        mv      s2, s6
        ecall

# a0: address, a1: length, a2: byte
fill:
        sb      a2, 0(a0)
        addi    a0, a0, 1
        addi    a1, a1, -1
        bnez    a1, fill
        ret

# a0: address, a1: length, a2: byte -> a0 = 0 if every byte equals a2, else 1
check:
        lbu     t0, 0(a0)
        bne     t0, a2, 1f
        addi    a0, a0, 1
        addi    a1, a1, -1
        bnez    a1, check
        li      a0, 0
        ret
1:      li      a0, 1
        ret

        .balign 8
routine:                                # li a0, 1 ; ret (8 bytes, copied to CODEBUF)
        .option push
        .option norvc
        addi    a0, zero, 1
        jalr    zero, 0(ra)
        .option pop

        .align 2
trap:
        csrr    s3, mcause
        csrr    s4, mtval
        csrr    s5, mepc
        li      t0, 9
        beq     s3, t0, 1f
        csrw    mepc, s2
        mret
1:      jr      s2                      # ecall from S: go on in M at s2
