// Runtime for heron's aarch64 integer assembly guest tests: _start sets x28 to a scratch
// buffer, calls test_main, then exits with status 0 through the raw exit syscall.
// dump prints one result line; load_state loads the fixed inputs (see macros.inc).
        .text
        .globl  _start
_start:
        adrp    x28, membuf
        add     x28, x28, :lo12:membuf
        bl      test_main
        mov     x0, #0
        mov     x8, #93                 // exit
        svc     #0
1:      b       1b

// load_state: x0..x15 from `inputs`, NZCV from cur_nzcv. Clobbers x16, x17.
        .globl  load_state
load_state:
        adr     x16, inputs
        ldp     x0, x1, [x16, #0]
        ldp     x2, x3, [x16, #16]
        ldp     x4, x5, [x16, #32]
        ldp     x6, x7, [x16, #48]
        ldp     x9, x10, [x16, #64]
        ldp     x11, x12, [x16, #80]
        ldp     x13, x14, [x16, #96]
        ldr     x15, [x16, #112]
        adr     x17, cur_nzcv
        ldr     x17, [x17]
        msr     nzcv, x17
        ret

// dump(x17 = label): writes "label: x0 x1 x2 x3 nzcv\n" (16 hex digits each, NZCV as one
// hex digit). Preserves x0..x15 and NZCV.
        .globl  dump
dump:
        sub     sp, sp, #256
        stp     x0, x1, [sp, #0]
        stp     x2, x3, [sp, #16]
        stp     x4, x5, [sp, #32]
        stp     x6, x7, [sp, #48]
        stp     x8, x9, [sp, #64]
        stp     x10, x11, [sp, #80]
        stp     x29, x30, [sp, #96]
        mrs     x9, nzcv
        str     x9, [sp, #112]
        add     x10, sp, #128           // line buffer (128 bytes)
        mov     x11, x10
        add     x12, x10, #60           // label cut at 60 bytes
1:      ldrb    w13, [x17], #1
        cbz     w13, 2f
        cmp     x11, x12
        b.hs    2f
        strb    w13, [x11], #1
        b       1b
2:      mov     w13, #':'
        strb    w13, [x11], #1
        mov     x4, #0                  // register index 0..3
3:      ldr     x5, [sp, x4, lsl #3]
        mov     w13, #' '
        strb    w13, [x11], #1
        mov     x6, #60
4:      lsr     x7, x5, x6
        and     x7, x7, #0xf
        cmp     x7, #10
        add     x8, x7, #'0'
        add     x7, x7, #('a' - 10)
        csel    x7, x8, x7, lo
        strb    w7, [x11], #1
        subs    x6, x6, #4
        b.ge    4b
        add     x4, x4, #1
        cmp     x4, #4
        b.lo    3b
        mov     w13, #' '
        strb    w13, [x11], #1
        lsr     x7, x9, #28
        cmp     x7, #10
        add     x8, x7, #'0'
        add     x7, x7, #('a' - 10)
        csel    x7, x8, x7, lo
        strb    w7, [x11], #1
        mov     w13, #'\n'
        strb    w13, [x11], #1
        mov     x0, #1
        mov     x1, x10
        sub     x2, x11, x10
        mov     x8, #64                 // write
        svc     #0
        ldr     x9, [sp, #112]
        msr     nzcv, x9
        ldp     x0, x1, [sp, #0]
        ldp     x2, x3, [sp, #16]
        ldp     x4, x5, [sp, #32]
        ldp     x6, x7, [sp, #48]
        ldp     x8, x9, [sp, #64]
        ldp     x10, x11, [sp, #80]
        ldp     x29, x30, [sp, #96]
        add     sp, sp, #256
        ret

        .data
        .balign 8
        .globl  inputs, cur_nzcv
inputs:
        .quad   0x0123456789abcdef, 0xfedcba9876543210  // x0, x1
        .quad   0x8000000000000000, 0x7fffffffffffffff  // x2, x3
        .quad   0xffffffffffffffff, 0                   // x4, x5
        .quad   0x0000000080000000, 0x000000000000003f  // x6, x7
        .quad   5, 0xfffffffffffffffe                   // x9, x10
        .quad   0x000000007fffffff, 0x00000000ffffffff  // x11, x12
        .quad   0x00000000000000ff, 0xffffffff80000000  // x13, x14
        .quad   0x1000                                  // x15
cur_nzcv:
        .quad   0
        .bss
        .balign 4096
        .globl  membuf
membuf:
        .skip   8192
