# Sv39 page walker, TLB and trap delegation: M-mode builds page tables, opens PMP,
# delegates page faults to S-mode and enters S-mode with paging on. S-mode checks reads
# through a 4 KiB mapping, a store to a read-only page (store page fault delegated to S,
# stval = the address), hardware A/D updates, SUM for user pages, sfence.vma after a PTE
# change, an unmapped address (load page fault); then an ecall goes to M (not delegated).
        .include "bare.inc"
        .globl _start
        .equ ROOT, 0x80010000
        .equ L1, 0x80011000
        .equ L0, 0x80012000
        .equ DATA_A, 0x80020000
        .equ DATA_B, 0x80021000
        .equ VA, 0x40000000
        # PTE bits
        .equ V, 1
        .equ R, 2
        .equ W, 4
        .equ X, 8
        .equ U, 16
        .equ A, 64
        .equ D, 128
        .macro PTE reg, pa, flags
        li      \reg, ((\pa >> 12) << 10) | (\flags)
        .endm
        .text
_start:
        la      t0, mtrap
        csrw    mtvec, t0
        li      t0, -1                  # PMP: everything RWX for S and U (TOR, top = max)
        csrw    pmpaddr0, t0
        li      t0, 0x0f
        csrw    pmpcfg0, t0
        li      t0, 0x1111
        li      t1, DATA_A
        sd      t0, 0(t1)
        li      t0, 0x2222
        li      t1, DATA_B
        sd      t0, 0(t1)
        # root[0]: 0..1 GiB identity (UART, finisher), root[2]: 2..3 GiB identity (RAM)
        li      s0, ROOT
        PTE     t0, 0, V|R|W|A|D
        sd      t0, 0(s0)
        PTE     t0, 0x80000000, V|R|W|X|A|D
        sd      t0, 16(s0)
        PTE     t0, L1, V               # root[1] -> L1 -> L0 for VA 0x40000000..
        sd      t0, 8(s0)
        li      s0, L1
        PTE     t0, L0, V
        sd      t0, 0(s0)
        li      s0, L0
        PTE     t0, DATA_A, V|R|A       # VA+0x0000: read-only
        sd      t0, 0(s0)
        PTE     t0, DATA_A, V|R|W       # VA+0x1000: writable, A and D clear
        sd      t0, 8(s0)
        PTE     t0, DATA_A, V|R|W|U|A|D # VA+0x2000: a user page
        sd      t0, 16(s0)
        sd      zero, 24(s0)            # VA+0x3000: not mapped
        li      t0, (1 << 12) | (1 << 13) | (1 << 15)
        csrw    medeleg, t0
        la      t0, strap
        csrw    stvec, t0
        li      t0, (8 << 60) | (ROOT >> 12)
        csrw    satp, t0
        sfence.vma
        li      t0, 3 << 11             # MPP = S
        csrc    mstatus, t0
        li      t0, 1 << 11
        csrs    mstatus, t0
        la      t0, s_entry
        csrw    mepc, t0
        mret

# S-mode; the S trap handler leaves scause in s3, stval in s4 and resumes at s2
s_entry:
        li      s1, VA
        li      s6, VA + 0x1000
        li      s7, VA + 0x2000
        ld      t1, 0(s1)
        CHECK   t1, 0x1111, 0x20
        # store to the read-only page
        la      s2, 1f
        li      s3, 0
        sd      t1, 0(s1)
1:      CHECK   s3, 15, 0x21
        bne     s4, s1, bad_tval
        # store through the A/D-clear page: succeeds, sets A and D
        li      t1, 0x3333
        sd      t1, 0(s6)
        ld      t1, 0(s1)
        CHECK   t1, 0x3333, 0x22
        li      t0, L0
        ld      t1, 8(t0)
        andi    t1, t1, A|D
        CHECK   t1, A|D, 0x23
        # a user page from S without SUM: load page fault; with SUM: works
        la      s2, 2f
        li      s3, 0
        ld      t1, 0(s7)
2:      CHECK   s3, 13, 0x24
        li      t0, 1 << 18
        csrs    sstatus, t0
        ld      t1, 0(s7)
        CHECK   t1, 0x3333, 0x25
        li      t0, 1 << 18
        csrc    sstatus, t0
        # remap VA+0 to DATA_B; after sfence.vma the new mapping is used
        li      t0, L0
        PTE     t1, DATA_B, V|R|A
        sd      t1, 0(t0)
        sfence.vma s1, zero
        ld      t1, 0(s1)
        CHECK   t1, 0x2222, 0x26
        # unmapped
        li      s5, VA + 0x3000
        la      s2, 3f
        li      s3, 0
        ld      t1, 0(s5)
3:      CHECK   s3, 13, 0x27
        bne     s4, s5, bad_tval
        # fetch from a non-executable page: instruction page fault
        la      s2, 4f
        li      s3, 0
        jr      s1
4:      CHECK   s3, 12, 0x28
        ecall                           # to M: cause 9
        li      a0, 0x29
        j       fail
bad_tval:
        li      a0, 0x2a
        j       fail

        .align 2
strap:
        csrr    s3, scause
        csrr    s4, stval
        csrw    sepc, s2
        sret

        .align 2
mtrap:
        csrr    t0, mcause
        li      t1, 9
        bne     t0, t1, 1f
        csrw    satp, zero
        PRINT   "BARE-PAGING-OK\n"
        j       pass
1:      li      a0, 0x30
        j       fail
