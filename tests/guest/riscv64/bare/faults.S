# Misbehaving guest: wild physical addresses and MMIO accesses of the wrong size must give
# the guest access faults (mcause 1/5/7 with mtval = the address), never a host error.
# Run with -m 64M (RAM ends at 0x84000000).
        .include "bare.inc"
        .globl _start
        .text
_start:
        la      t0, trap
        csrw    mtvec, t0

        # s1: address, s2: resume point; the handler leaves mcause in s3, mtval in s4
        .macro EXPECT_FAULT insn, addr, cause, code
        li      s1, \addr
        la      s2, 7f
        li      s3, 0
        \insn
7:
        CHECK   s3, \cause, \code
        bne     s4, s1, 6f
        j       5f
6:      li      a0, \code + 0x80
        j       fail
5:
        .endm

        EXPECT_FAULT "ld t1, 0(s1)", 0x18000000, 5, 0x01       # unmapped load
        EXPECT_FAULT "sd t1, 0(s1)", 0x18000000, 7, 0x02       # unmapped store
        EXPECT_FAULT "jr s1", 0x18000000, 1, 0x03              # unmapped fetch
        EXPECT_FAULT "ld t1, 0(s1)", 0x84000000, 5, 0x04       # just past RAM
        EXPECT_FAULT "amoadd.w t1, t1, (s1)", 0x18000000, 7, 0x05  # AMO to nowhere
        EXPECT_FAULT "lw t1, 0(s1)", 0x10000000, 5, 0x06       # UART is byte-wide
        EXPECT_FAULT "sd t1, 0(s1)", 0x02000000, 7, 0x07       # CLINT msip is 32-bit
        EXPECT_FAULT "sh t1, 0(s1)", 0x10001070, 7, 0x08       # virtio-mmio is 32-bit
        EXPECT_FAULT "lb t1, 0(s1)", 0x00100000, 5, 0x09       # finisher is 32-bit
        PRINT   "BARE-FAULTS-OK\n"
        j       pass

        .align 2
trap:
        csrr    s3, mcause
        csrr    s4, mtval
        csrw    mepc, s2
        mret
