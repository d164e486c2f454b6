# Sv48 and Sv57 page walks, superpages at every level, canonical addresses, A/D updates,
# satp MODE WARL and the sfence.vma forms. M-mode first checks which satp MODEs a write
# keeps (Sv39/48/57 and Bare take, reserved ones leave satp unchanged); then, once with
# 4 levels (Sv48) and once with 5 (Sv57), it builds page tables (identity map of the low
# 4 GiB through pointer tables down to 1 GiB leaves), delegates page faults to S-mode and
# runs the S-mode body with paging on:
# - at every level k (the root's 512 GiB / 256 TiB pages down to 4 KiB), a leaf reached
#   through k pointer tables translates a read (the hardware sets A), a store (sets D,
#   the data lands in RAM), and the same leaf with a misaligned PPN is a page fault;
# - a pointer PTE at level 0 is a page fault; code runs through a root-level superpage;
# - the negative half of the address space works; an address whose upper bits do not
#   copy the top VA bit faults (load, store and fetch page faults, stval = the address);
#   1 << 47 is not canonical in Sv48 but is an ordinary address in Sv57;
# - Svpbmt: PBMT bits in a leaf fault with menvcfg.PBMTE = 0 (the Sv48 run); with
#   PBMTE = 1 (the Sv57 run) NC translates normally and the reserved value 3 faults;
# - after a PTE change, `sfence.vma` by address, by ASID, by address + ASID, and by the
#   address of one 4 KiB piece of a cached 2 MiB superpage gives the new translation;
#   switching satp to a new root and ASID never uses the old root's translations.
# The S-mode body ends with an ecall; M prints BARE-SV48-OK, repeats with Sv57, prints
# BARE-SV57-OK and passes.
        .include "bare.inc"
        .globl _start
        .equ ROOT, 0x80100000           # root table (level L-1)
        .equ ROOT_B, 0x80101000         # a second root (the satp switch test)
        .equ IDBASE, 0x80110000         # identity-map pointer tables: level j at + j*4096
        .equ TBASE, 0x80118000          # test chain tables: level j at + j*4096
        .equ TBBASE, 0x80120000         # ROOT_B's chain tables
        .equ TABLES_END, 0x80128000
        .equ DATA_A, 0x80201000         # holds 0x1111 (offset 0x1000 in its 2 MiB page)
        .equ DATA_B, 0x80401000         # holds 0x2222 (same offset in the next 2 MiB page)
        # PTE bits
        .equ V, 1
        .equ R, 2
        .equ W, 4
        .equ X, 8
        .equ A, 64
        .equ D, 128

        # CHECK, with the current level s5 added to the failure code
        .macro CHECKK reg, imm, code
        li      t2, \imm
        beq     \reg, t2, 7f
        addi    a0, s5, \code
        j       fail
7:
        .endm

        # expect trap cause `cause` (page faults are delegated to S) from the access `insn`
        # at address s1, with stval = s1
        .macro FAULTS cause, code, insn:vararg
        la      s2, 6f
        li      s3, 0
        \insn
6:      CHECK   s3, \cause, \code
        bne     s4, s1, bad_tval
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

        # ---- satp MODE is WARL: supported modes take, reserved ones change nothing
        li      t0, (9 << 60) | 0x123
        csrw    satp, t0
        csrr    t1, satp
        CHECK   t1, (9 << 60) | 0x123, 0x10
        li      t0, (10 << 60) | 0x124
        csrw    satp, t0
        csrr    t1, satp
        CHECK   t1, (10 << 60) | 0x124, 0x11
        li      t0, (11 << 60) | 0x456
        csrw    satp, t0
        csrr    t1, satp
        CHECK   t1, (10 << 60) | 0x124, 0x12
        li      t0, (1 << 60) | 0x456
        csrw    satp, t0
        csrr    t1, satp
        CHECK   t1, (10 << 60) | 0x124, 0x13
        li      t0, (15 << 60) | 0x456
        csrw    satp, t0
        csrr    t1, satp
        CHECK   t1, (10 << 60) | 0x124, 0x14
        li      t0, (8 << 60) | (0xffff << 44) | 5
        csrw    satp, t0
        csrr    t1, satp
        CHECK   t1, (8 << 60) | (0xffff << 44) | 5, 0x15
        csrw    satp, zero
        csrr    t1, satp
        CHECK   t1, 0, 0x16

        li      t0, (1 << 12) | (1 << 13) | (1 << 15)
        csrw    medeleg, t0
        la      t0, strap
        csrw    stvec, t0
        li      s8, 4                   # levels: Sv48 first
        call    setup
enter_s:
        csrw    satp, s9
        sfence.vma
        li      t0, 3 << 11             # MPP = S
        csrc    mstatus, t0
        li      t0, 1 << 11
        csrs    mstatus, t0
        la      t0, s_body
        csrw    mepc, t0
        mret

# M-mode, s8 = number of levels: zeroes the tables, maps the low 4 GiB (1 GiB leaves
# at level 2, pointer tables above), sets s9 = satp (ASID 1, ROOT) and s10 = VA_T =
# the first address of root entry 1.
setup:
        mv      s7, ra
        li      t0, ROOT
        li      t1, TABLES_END
1:      sd      zero, 0(t0)
        addi    t0, t0, 8
        bltu    t0, t1, 1b
        li      a2, 2
        li      a3, V|R|W|A|D           # 0..1 GiB: UART, finisher
        li      a4, ROOT
        li      a7, IDBASE
        call    chain
        li      t0, ((0x80000000 >> 12) << 10) | V|R|W|X|A|D
        sd      t0, 16(a5)              # 2..3 GiB: RAM
        addi    t0, s8, 5               # MODE: Sv48 = 9, Sv57 = 10
        slli    t0, t0, 60
        li      t1, (1 << 44) | (ROOT >> 12)
        or      s9, t0, t1
        li      t0, 9
        mul     t0, s8, t0
        addi    t0, t0, 3               # 12 + 9 * (levels - 1)
        li      s10, 1
        sll     s10, s10, t0
        li      t0, 1 << 62             # menvcfg.PBMTE: off for Sv48, on for Sv57
        csrc    menvcfg, t0
        li      t1, 4
        beq     s8, t1, 2f
        csrs    menvcfg, t0
2:      mv      ra, s7
        ret

# Writes a translation path: a2 = level k of the leaf, a3 = the leaf PTE, a4 = the address
# of the entry in the root table (level s8 - 1), a7 = base of the pointer tables below it
# (level j at a7 + j * 4096, entry 0 used). Returns a5 = the address of the leaf entry.
chain:
        addi    a6, s8, -1              # level of the table holding *a5
        mv      a5, a4
1:      beq     a6, a2, 2f
        addi    a6, a6, -1
        slli    t0, a6, 12
        add     t0, t0, a7              # the level a6 table
        srli    t1, t0, 12
        slli    t1, t1, 10
        ori     t1, t1, V
        sd      t1, 0(a5)
        mv      a5, t0
        j       1b
2:      sd      a3, 0(a5)
        ret

xfunc:
        li      a0, 0x77
        ret

# ---- S-mode; the S trap handler leaves scause in s3, stval in s4 and resumes at s2
s_body:
        # superpages and 4 KiB pages at every level, A/D updates, misaligned superpages
        addi    s5, s8, -1
level_loop:
        li      t0, 9
        mul     t0, s5, t0
        addi    t0, t0, 12              # page shift at level k
        li      s6, DATA_A
        srl     t1, s6, t0
        sll     t1, t1, t0              # DATA_A rounded down to the page size
        sub     s7, s6, t1              # DATA_A's offset in that page
        srli    a3, t1, 12
        slli    a3, a3, 10
        ori     a3, a3, V|R|W           # A and D clear
        mv      a2, s5
        li      a4, ROOT + 8
        li      a7, TBASE
        call    chain
        mv      s0, a5
        sfence.vma
        add     s1, s10, s7
        ld      t1, 0(s1)
        CHECKK  t1, 0x1111, 0x40
        ld      t1, 0(s0)
        andi    t1, t1, A|D
        CHECKK  t1, A, 0x48             # a read sets A only
        li      t1, 0x5555
        sd      t1, 0(s1)
        ld      t1, 0(s0)
        andi    t1, t1, A|D
        CHECKK  t1, A|D, 0x50           # a store sets D
        li      t1, DATA_A
        ld      t1, 0(t1)               # the same RAM through the identity map
        CHECKK  t1, 0x5555, 0x58
        li      t1, 0x1111
        sd      t1, 0(s1)
        beqz    s5, 5f
        ld      t1, 0(s0)               # misaligned superpage: PPN + 1
        addi    t1, t1, 1 << 10
        sd      t1, 0(s0)
        sfence.vma
        la      s2, 4f
        li      s3, 0
        ld      t1, 0(s1)
4:      CHECKK  s3, 13, 0x60
        bne     s4, s1, bad_tval
5:      addi    s5, s5, -1
        bgez    s5, level_loop

        # Svpbmt: PBMT = NC in a leaf is a page fault with PBMTE = 0 (Sv48 run); with
        # PBMTE = 1 (Sv57 run) it translates as usual and PBMT = 3 is a page fault
        mv      s1, s10
        li      a2, 0
        li      a3, ((DATA_A >> 12) << 10) | V|R|W|A|D | (1 << 61)
        li      a4, ROOT + 8
        li      a7, TBASE
        call    chain
        mv      s0, a5
        sfence.vma
        li      t2, 4
        bne     s8, t2, 1f
        FAULTS  13, 0x6a, ld t1, 0(s1)
        j       2f
1:      ld      t1, 0(s1)
        CHECK   t1, 0x1111, 0x6b
        ld      t0, 0(s0)
        li      t1, 3 << 61
        or      t0, t0, t1
        sd      t0, 0(s0)
        sfence.vma
        FAULTS  13, 0x6c, ld t1, 0(s1)
2:
        # a pointer PTE at level 0: page fault
        mv      s1, s10
        li      a2, 0
        li      a3, ((TBASE >> 12) << 10) | V
        li      a4, ROOT + 8
        li      a7, TBASE
        call    chain
        sfence.vma
        FAULTS  13, 0x68, ld t1, 0(s1)

        # code runs through a root-level superpage (PPN 0: VA_T + x -> x)
        addi    a2, s8, -1
        li      a3, V|R|X|A
        li      a4, ROOT + 8
        li      a7, TBASE
        call    chain
        sfence.vma
        la      t0, xfunc
        add     t0, t0, s10
        li      a0, 0
        jalr    t0
        CHECK   a0, 0x77, 0x69

        # not canonical: the top VPN's top bit set, the bits above clear; mapped all the
        # same (root entry 256 is a leaf) but every access is a page fault
        li      t0, ROOT + 2048
        li      t1, V|R|W|X|A|D
        sd      t1, 0(t0)
        sfence.vma
        slli    s1, s10, 8
        li      t0, DATA_A
        add     s1, s1, t0
        FAULTS  13, 0x70, ld t1, 0(s1)
        FAULTS  15, 0x71, sd t1, 0(s1)
        FAULTS  12, 0x72, jalr s1
        li      s1, (1 << 63) | DATA_A  # bit 63 alone: not canonical either
        FAULTS  13, 0x73, ld t1, 0(s1)
        # the negative half: root entry 511
        li      t0, ROOT + 511 * 8
        li      t1, V|R|A
        sd      t1, 0(t0)
        sfence.vma
        neg     s1, s10
        li      t0, DATA_A
        add     s1, s1, t0
        ld      t1, 0(s1)
        CHECK   t1, 0x1111, 0x74
        # 1 << 47 + DATA_A, mapped by entry 256 of the level-3 table: not canonical in
        # Sv48, an ordinary address in Sv57
        li      t0, ROOT + 2048
        li      t2, 4
        beq     s8, t2, 1f
        li      t0, IDBASE + 3 * 4096 + 2048
1:      li      t1, V|R|A
        sd      t1, 0(t0)
        sfence.vma
        li      s1, (1 << 47) | DATA_A
        li      t2, 4
        bne     s8, t2, 2f
        FAULTS  13, 0x75, ld t1, 0(s1)
        j       3f
2:      ld      t1, 0(s1)
        CHECK   t1, 0x1111, 0x76

        # ---- sfence.vma forms; satp ASID is 1
3:      mv      s1, s10
        # first ROOT_B (for the satp switch below): ROOT's entries, VA_T -> DATA_A through
        # its own tables; the fence for ASID 2 orders these stores
        li      t0, ROOT
        li      t1, ROOT_B
        li      a1, 512
1:      ld      a0, 0(t0)
        sd      a0, 0(t1)
        addi    t0, t0, 8
        addi    t1, t1, 8
        addi    a1, a1, -1
        bnez    a1, 1b
        li      a2, 0
        li      a3, ((DATA_A >> 12) << 10) | V|R|W|A|D
        li      a4, ROOT_B + 8
        li      a7, TBBASE
        call    chain
        li      t0, 2
        sfence.vma zero, t0
        # VA_T + 64 KiB -> DATA_A (4 KiB), used. (Entry 16 of the level-0 table: a TLB
        # slot that the code's pages do not evict.)
        li      a2, 0
        li      a3, 0
        li      a4, ROOT + 8
        li      a7, TBASE
        call    chain
        li      t1, ((DATA_A >> 12) << 10) | V|R|W|A|D
        sd      t1, 16 * 8(a5)
        addi    s0, a5, 16 * 8
        li      t0, 0x10000
        add     s1, s10, t0
        sfence.vma
        ld      t1, 0(s1)
        CHECK   t1, 0x1111, 0x78
        # by address
        li      t1, ((DATA_B >> 12) << 10) | V|R|W|A|D
        sd      t1, 0(s0)
        sfence.vma s1, zero
        ld      t1, 0(s1)
        CHECK   t1, 0x2222, 0x79
        # by ASID
        li      t1, ((DATA_A >> 12) << 10) | V|R|W|A|D
        sd      t1, 0(s0)
        li      t0, 1
        sfence.vma zero, t0
        ld      t1, 0(s1)
        CHECK   t1, 0x1111, 0x7a
        # by address and ASID
        li      t1, ((DATA_B >> 12) << 10) | V|R|W|A|D
        sd      t1, 0(s0)
        li      t0, 1
        sfence.vma s1, t0
        ld      t1, 0(s1)
        CHECK   t1, 0x2222, 0x7b
        # a 2 MiB superpage used through two 4 KiB pieces; a fence on the address of one
        # piece drops the other too
        mv      s1, s10
        li      a2, 1
        li      a3, ((0x80200000 >> 12) << 10) | V|R|A
        li      a4, ROOT + 8
        li      a7, TBASE
        call    chain
        mv      s0, a5
        sfence.vma
        ld      t1, 0(s1)
        li      t0, 0x1000
        add     t0, t0, s1
        ld      t1, 0(t0)               # VA_T + 4 KiB
        CHECK   t1, 0x1111, 0x7c
        li      t1, ((0x80400000 >> 12) << 10) | V|R|A
        sd      t1, 0(s0)
        sfence.vma s1, zero
        li      t0, 0x1000
        add     t0, t0, s1
        ld      t1, 0(t0)               # VA_T + 4 KiB
        CHECK   t1, 0x2222, 0x7d
        # a new root and ASID in satp (no fence): the old root's translations are not used.
        # Under ROOT both pieces are in use; ROOT_B maps VA_T to DATA_A and not VA_T + 4 KiB.
        ld      t1, 0(s1)
        li      t0, (ROOT_B >> 12) ^ (ROOT >> 12)
        xor     t0, s9, t0              # ROOT -> ROOT_B
        li      t1, 3 << 44
        xor     t0, t0, t1              # ASID 1 -> 2
        csrw    satp, t0
        ld      t1, 0(s1)
        CHECK   t1, 0x1111, 0x7e
        li      t0, 0x1000
        add     s1, s10, t0             # VA_T + 4 KiB
        FAULTS  13, 0x77, ld t1, 0(s1)
        mv      s1, s10
        csrw    satp, s9                # back to ROOT, ASID 1
        li      t0, 0x1000
        add     t0, t0, s1
        ld      t1, 0(t0)               # VA_T + 4 KiB
        CHECK   t1, 0x2222, 0x7f
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
        bne     t0, t1, 3f
        csrw    satp, zero
        li      t0, 4
        bne     s8, t0, 2f
        PRINT   "BARE-SV48-OK\n"
        li      s8, 5
        call    setup
        j       enter_s
2:      PRINT   "BARE-SV57-OK\n"
        j       pass
3:      li      a0, 0x30
        j       fail
