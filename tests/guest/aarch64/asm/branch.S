// Branches: B, BL, BR, BLR, RET, CBZ/CBNZ, TBZ/TBNZ, B.cond (taken and not taken).
#include "macros.inc"
        .text
        .globl  test_main
test_main:
        stp     x29, x30, [sp, #-16]!
        TB
        mov x0, #0
        cbz x5, 1f
        mov x0, #1
        1: nop
        TE "mov x0, #0; cbz x5, 1f; mov x0, #1; 1: nop"
        TB
        mov x0, #0
        cbz x1, 1f
        mov x0, #1
        1: nop
        TE "mov x0, #0; cbz x1, 1f; mov x0, #1; 1: nop"
        TB
        mov x0, #0
        cbnz w12, 1f
        mov x0, #1
        1: nop
        TE "mov x0, #0; cbnz w12, 1f; mov x0, #1; 1: nop"
        TB
        mov x0, #0
        cbz w2, 1f
        mov x0, #1
        1: nop
        TE "mov x0, #0; cbz w2, 1f; mov x0, #1; 1: nop"
        TB
        mov x0, #0
        cbnz w5, 1f
        mov x0, #1
        1: nop
        TE "mov x0, #0; cbnz w5, 1f; mov x0, #1; 1: nop"
        TB
        mov x0, #0
        tbz x1, #0, 1f
        mov x0, #1
        1: nop
        TE "mov x0, #0; tbz x1, #0, 1f; mov x0, #1; 1: nop"
        TB
        mov x0, #0
        tbnz x1, #63, 1f
        mov x0, #1
        1: nop
        TE "mov x0, #0; tbnz x1, #63, 1f; mov x0, #1; 1: nop"
        TB
        mov x0, #0
        tbz x2, #63, 1f
        mov x0, #1
        1: nop
        TE "mov x0, #0; tbz x2, #63, 1f; mov x0, #1; 1: nop"
        TB
        mov x0, #0
        tbnz w6, #31, 1f
        mov x0, #1
        1: nop
        TE "mov x0, #0; tbnz w6, #31, 1f; mov x0, #1; 1: nop"
        TB
        mov x0, #0
        tbz w9, #2, 1f
        mov x0, #1
        1: nop
        TE "mov x0, #0; tbz w9, #2, 1f; mov x0, #1; 1: nop"
        .irp    cond, eq, ne, cs, cc, mi, pl, vs, vc, hi, ls, ge, lt, gt, le, al
        .irp nzf, 0x00000000, 0x10000000, 0x20000000, 0x30000000, 0x40000000, 0x50000000, 0x60000000, 0x70000000, 0x80000000, 0x90000000, 0xa0000000, 0xb0000000, 0xc0000000, 0xd0000000, 0xe0000000, 0xf0000000
        NZCV \nzf
        TB
        mov x0, #0
        b.\cond 1f
        mov x0, #1
        1: nop
        TE "mov x0, #0; b.\cond 1f; mov x0, #1; 1: nop"
        .endr
        NZCV 0
        .endr
        TB
        mov x0, #0
        b 1f
        mov x0, #1
        1: nop
        TE "mov x0, #0; b 1f; mov x0, #1; 1: nop"
        TB
        adr x9, 1f
        mov x0, #7
        br x9
        mov x0, #1
        1: nop
        TE "adr x9, 1f; mov x0, #7; br x9; mov x0, #1; 1: nop"
        TB
        bl 2f
        b 3f
        2: mov x0, #9
        ret
        3: nop
        TE "bl 2f; b 3f; 2: mov x0, #9; ret; 3: nop"
        TB
        adr x9, 2f
        blr x9
        b 3f
        2: mov x0, #10
        ret
        3: nop
        TE "adr x9, 2f; blr x9; b 3f; 2: mov x0, #10; ret; 3: nop"
        TB
        adr x9, 2f
        blr x9
        b 3f
        2: adr x1, 2b
        sub x1, x30, x1
        ret
        3: nop
        TE "adr x9, 2f; blr x9; b 3f; 2: adr x1, 2b; sub x1, x30, x1; ret; 3: nop"
        TB
        mov x0, #3
        1: sub x0, x0, #1
        cbnz x0, 1b
        TE "mov x0, #3; 1: sub x0, x0, #1; cbnz x0, 1b"
        // A loop long enough to be compiled by the auto tier.
        TB
        mov x0, #0
        mov x1, #20000
        1: add x0, x0, x1
        subs x1, x1, #1
        b.ne 1b
        TE "mov x0, #0; mov x1, #20000; 1: add x0, x0, x1; subs x1, x1, #1; b.ne 1b"
        ldp     x29, x30, [sp], #16
        ret
