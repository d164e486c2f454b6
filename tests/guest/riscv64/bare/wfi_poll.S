# Two harts (-smp 2). Hart 1 polls memory around `wfi` with an interrupt pending in mie
# but masked by mstatus.MIE = 0 (its own msip set), as OpenSBI 1.1's secondary harts do
# until Linux starts them: each wfi returns at once. Hart 0 sleeps 2 s on its machine
# timer, then sets the flag; hart 1 then prints the second line and powers off. heron must
# not burn a host core on hart 1's loop (tests/system_boot.rs measures its CPU time).
        .include "bare.inc"
        .equ CLINT, 0x2000000
        .equ FLAG, 0x80200000
        .globl _start
        .text
_start:
        csrr    s0, mhartid
        bnez    s0, poller
        PRINT   "BARE-WFIPOLL\n"
        SLEEP_TICKS 20000000            # 2 s
        li      t0, FLAG
        li      t1, 1
        fence
        sd      t1, 0(t0)
2:      wfi                             # nothing enabled: sleeps for good
        j       2b

poller:
        li      t0, 8                   # MSIE
        csrs    mie, t0
        li      t0, CLINT + 4           # msip[1]
        li      t1, 1
        sw      t1, 0(t0)
        li      s1, FLAG
3:      wfi
        ld      t0, 0(s1)
        beqz    t0, 3b
        csrr    t0, mip
        andi    t0, t0, 8
        CHECK   t0, 8, 1                # the masked IPI is still pending
        PRINT   "BARE-WFIPOLL-DONE\n"
        li      t0, FINISHER
        li      t1, 0x5555
        sw      t1, 0(t0)
4:      j       4b
