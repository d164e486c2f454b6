# An idle guest: wfi forever with no interrupt enabled (heron must sleep, not spin).
        .include "bare.inc"
        .globl _start
        .text
_start:
        PRINT   "BARE-IDLE\n"
1:      wfi
        j       1b
