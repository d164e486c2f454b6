# Target of the system-mode gdb tests (tests/gdb_system.rs): M-mode builds Sv39 page
# tables (RAM and devices identity mapped; VA 0x40000000 -> DATA, a page whose PTE has A
# and D clear; VA 0x40001000 unmapped) and enters S-mode, which calls `target` with
# a0 = 42, a1 = VA; `target` reads the value at VA (0x1111), stores the sum in `watched`
# and returns; S-mode then spins in `spin` for a while and ends with an ecall, which M-mode
# turns into a pass. Any other trap fails. `s_irq` is an S-mode interrupt handler for a
# supervisor software interrupt a test raises from gdb (it sets `irq_seen`).
        .include "bare.inc"
        .globl _start, target, watched, spin, s_entry, s_irq, irq_seen
        .equ ROOT, 0x80010000
        .equ L1, 0x80011000
        .equ L0, 0x80012000
        .equ DATA, 0x80020000
        .equ VA, 0x40000000
        .macro PTE reg, pa, flags
        li      \reg, ((\pa >> 12) << 10) | (\flags)
        .endm
        .text
_start:
        la      t0, mtrap
        csrw    mtvec, t0
        li      t0, -1                  # PMP: everything RWX for S and U
        csrw    pmpaddr0, t0
        li      t0, 0x0f
        csrw    pmpcfg0, t0
        li      t0, 0x1111
        li      t1, DATA
        sd      t0, 0(t1)
        li      s0, ROOT
        PTE     t0, 0, 0xcf             # root[0]: 0..1 GiB identity (UART, finisher)
        sd      t0, 0(s0)
        PTE     t0, 0x80000000, 0xcf    # root[2]: 2..3 GiB identity (RAM), V|R|W|X|A|D
        sd      t0, 16(s0)
        PTE     t0, L1, 1               # root[1] -> L1 -> L0 for VA..
        sd      t0, 8(s0)
        li      s0, L1
        PTE     t0, L0, 1
        sd      t0, 0(s0)
        li      s0, L0
        PTE     t0, DATA, 7             # VA: V|R|W, A and D clear
        sd      t0, 0(s0)
        sd      zero, 8(s0)             # VA + 0x1000: not mapped
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

s_entry:
        li      a0, 42
        li      a1, VA
        call    target
        li      t0, 0x1111 + 42
        CHECK   a0, 0x1111 + 42, 0x10
        li      s1, 200000
        # spin and target sit at fixed addresses (0x80000400, 0x80000408) that the tests
        # name, whatever the size of the code above (CHECK, bare.inc) becomes.
        .balign 0x400
spin:
        addi    s1, s1, -1
        bnez    s1, spin
        ecall

target:
        ld      t0, 0(a1)
        add     a0, a0, t0
        la      t1, watched
        sd      a0, 0(t1)
        ret

        .balign 4
s_irq:
        csrci   sip, 2
        la      t3, irq_seen
        li      t4, 1
        sd      t4, 0(t3)
        sret

        .balign 4                       # mtvec needs 4-byte alignment
mtrap:
        csrr    t0, mcause
        li      t1, 9                   # ecall from S: done
        beq     t0, t1, pass
        li      a0, 0x20
        j       fail

        .data
        .balign 8
watched:
        .dword  0
irq_seen:
        .dword  0
