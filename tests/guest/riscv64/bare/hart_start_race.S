# Two harts (-smp 2). The start-request handshake of OpenSBI 1.1's sbi_hsm_hart_start,
# which has a race: the starter marks the target START_PENDING *before* it stores the
# start address, then sends an IPI; the target polls the state around `wfi` with an IPI
# already pending but masked (so each wfi returns at once) and starts at whatever
# address it then reads. Here hart 0 waits until hart 1 has polled for a while (heron
# then backs off between its polls), then for one poll of hart 1, writes the state,
# waits 10 ms (as if its host thread were descheduled in the race window), stores the
# address and sends the IPI. heron's polling back-off must not wake hart 1 inside that
# window (it waits up to 100 ms, or until an IPI: fail code 1), and the IPI must wake it
# at once (within 60 ms: fail code 2), although msip was already set.
        .include "bare.inc"
        .equ CLINT, 0x2000000
        .equ MTIME, CLINT + 0xbff8
        .equ BASE, 0x80200000           # +0 state, +8 address, +16 polls, +24 IPI time
        .equ MAGIC, 0x80201066
        .globl _start
        .text
_start:
        csrr    s0, mhartid
        bnez    s0, poller
        PRINT   "BARE-HSTART\n"
        SLEEP_TICKS 10000000            # sleep 1 s on the machine timer
        li      s1, BASE
        ld      s2, 16(s1)              # wait for one poll: hart 1 just went to sleep
2:      ld      t0, 16(s1)
        beq     t0, s2, 2b
        li      t0, 1                   # START_PENDING, before the address
        sd      t0, 0(s1)
        li      t0, MTIME               # 10 ms in the window
        ld      t1, 0(t0)
        li      t2, 100000
        add     t1, t1, t2
3:      ld      t2, 0(t0)
        bltu    t2, t1, 3b
        ld      t1, 0(t0)
        sd      t1, 24(s1)              # when the IPI goes out
        li      t1, MAGIC
        sd      t1, 8(s1)
        fence
        li      t0, CLINT + 4           # msip[1]: set already, written again
        li      t1, 1
        sw      t1, 0(t0)
4:      wfi                             # nothing enabled: sleeps for good
        j       4b

poller:
        li      t0, 8                   # MSIE
        csrs    mie, t0
        li      t0, CLINT + 4           # msip[1]: pending, masked by mstatus.MIE = 0
        li      t1, 1
        sw      t1, 0(t0)
        li      s1, BASE
        li      s2, 0
5:      addi    s2, s2, 1
        sd      s2, 16(s1)
        wfi
        ld      t0, 0(s1)
        beqz    t0, 5b
        fence
        ld      t0, 8(s1)
        CHECK   t0, MAGIC, 1            # woke inside the window: half-written request
        fence
        li      t0, MTIME
        ld      t0, 0(t0)
        ld      t1, 24(s1)
        sub     t0, t0, t1
        li      t1, 600000              # 60 ms
        bltu    t0, t1, 6f
        li      a0, 2                   # the IPI did not wake it
        j       fail
6:      PRINT   "BARE-HSTART-DONE\n"
        li      t0, FINISHER
        li      t1, 0x5555
        sw      t1, 0(t0)
7:      j       7b
