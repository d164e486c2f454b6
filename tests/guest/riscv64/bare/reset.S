# Asks the test finisher for a reset (0x7777): heron restarts the machine, or exits 0
# under -no-reboot.
        .include "bare.inc"
        .globl _start
        .text
_start:
        PRINT   "BARE-RESET\n"
        li      t0, FINISHER
        li      t1, 0x7777
        sw      t1, 0(t0)
1:      j       1b
