// Runtime for heron's assembly guest tests: _start calls test_main, then exit(0)
// through the raw exit syscall. Print helpers write straight to fd 1 with the write
// syscall and preserve every register except the ones the macros in macros.inc save.
        .option norvc
        .text
        .globl _start
_start:
        .option push
        .option norelax
        lla     gp, __global_pointer$   // the linker relaxes data accesses to gp-relative
        .option pop
        call    test_main
        li      a0, 0
        li      a7, 93                  // exit
        ecall
1:      j       1b

// puts_z(a0 = NUL-terminated string): writes it to stdout. Preserves all but a0/a1.
        .globl  puts_z
puts_z:
        addi    sp, sp, -32
        sd      a2, 0(sp)
        sd      a7, 8(sp)
        sd      t0, 16(sp)
        mv      t0, a0
1:      lbu     a2, 0(t0)
        beqz    a2, 2f
        addi    t0, t0, 1
        j       1b
2:      sub     a2, t0, a0
        mv      a1, a0
        li      a0, 1
        li      a7, 64                  // write
        ecall
        ld      a2, 0(sp)
        ld      a7, 8(sp)
        ld      t0, 16(sp)
        addi    sp, sp, 32
        ret

// show_hex(a0 = value, a1 = label): writes "label: %016x\n". Preserves all but a0/a1.
        .globl  show_hex
show_hex:
        addi    sp, sp, -160
        sd      a2, 0(sp)
        sd      a3, 8(sp)
        sd      a7, 16(sp)
        sd      t0, 24(sp)
        sd      t1, 32(sp)
        sd      t2, 40(sp)
        addi    t0, sp, 48              // line buffer (max 112 bytes)
        addi    t2, sp, 48+80           // label is cut at 80 bytes
1:      lbu     t1, 0(a1)
        beqz    t1, 2f
        bgeu    t0, t2, 2f
        sb      t1, 0(t0)
        addi    a1, a1, 1
        addi    t0, t0, 1
        j       1b
2:      li      t1, ':'
        sb      t1, 0(t0)
        li      t1, ' '
        sb      t1, 1(t0)
        addi    t0, t0, 2
        li      t2, 60                  // shift for the top nibble
3:      srl     t1, a0, t2
        andi    t1, t1, 15
        addi    t1, t1, '0'
        li      a3, '9'
        ble     t1, a3, 4f
        addi    t1, t1, 'a' - '0' - 10
4:      sb      t1, 0(t0)
        addi    t0, t0, 1
        addi    t2, t2, -4
        bgez    t2, 3b
        li      t1, '\n'
        sb      t1, 0(t0)
        addi    t0, t0, 1
        addi    a1, sp, 48
        sub     a2, t0, a1
        li      a0, 1
        li      a7, 64                  // write
        ecall
        ld      a2, 0(sp)
        ld      a3, 8(sp)
        ld      a7, 16(sp)
        ld      t0, 24(sp)
        ld      t1, 32(sp)
        ld      t2, 40(sp)
        addi    sp, sp, 160
        ret
