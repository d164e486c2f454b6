// Raw system calls from assembly: error returns as negative errno in a0 (unknown number
// -> ENOSYS, bad fd -> EBADF, bad user pointers -> EFAULT without harming the emulator),
// argument registers preserved across ecall, and exit_group with a status (the harness
// expects 0 from rt.S's exit, so this test reports through its output only).
#include "macros.inc"
        .macro SYSCALL label, nr, a0v=0, a1v=0, a2v=0
        li      a0, \a0v
        li      a1, \a1v
        li      a2, \a2v
        li      a7, \nr
        ecall
        SHOW    "\label", a0
        .endm

        .data
msg:    .ascii  "direct write\n"
        .balign 8
buf:    .space  16
        .text
        .globl test_main
test_main:
        addi    sp, sp, -16
        sd      ra, 0(sp)

        SYSCALL "unknown syscall 4000 (-ENOSYS)", 4000
        SYSCALL "unknown syscall 244 (-ENOSYS)", 244
        li      a0, 1000
        lla     a1, msg
        li      a2, 1
        li      a7, 64
        ecall
        SHOW    "write bad fd (-EBADF)", a0
        SYSCALL "close bad fd (-EBADF)", 57, 1000
        SYSCALL "write from NULL (-EFAULT)", 64, 1, 0, 10
        SYSCALL "write from wild pointer (-EFAULT)", 64, 1, 0x10000000000, 10
        SYSCALL "getcwd into NULL (-EFAULT)", 17, 0, 4096
        SYSCALL "uname(NULL) (-EFAULT)", 160, 0
        SYSCALL "clock_gettime(NULL) (-EFAULT)", 113, 1, 0
        SYSCALL "openat NULL path (-EFAULT)", 56, -100, 0, 0
        SYSCALL "write len 0", 64, 1, 0, 0
        // a real write; its return value is the byte count
        li      a0, 1
        lla     a1, msg
        li      a2, 13
        li      a7, 64
        ecall
        SHOW    "write returns", a0
        // registers other than a0 survive an ecall
        li      s2, 0x1111
        li      t3, 0x2222
        li      a1, 0x3333
        li      a2, 0x4444
        li      a3, 0x5555
        li      a7, 172                 // getpid
        ecall
        sgtz    a0, a0
        SHOW    "getpid > 0", a0
        SHOW    "s2 after ecall", s2
        SHOW    "t3 after ecall", t3
        SHOW    "a1 after ecall", a1
        SHOW    "a2 after ecall", a2
        SHOW    "a3 after ecall", a3
        // brk(0) returns the current break; brk(huge) fails by returning the old break
        li      a0, 0
        li      a7, 214
        ecall
        mv      s3, a0
        li      a0, -4096
        li      a7, 214
        ecall
        sub     a0, a0, s3
        SHOW    "brk(huge) - brk(0)", a0
        addi    a0, s3, 64
        addi    a0, a0, 2047
        addi    a0, a0, 2047            // grow by ~4 KiB
        li      a7, 214
        ecall
        sub     a0, a0, s3
        SHOW    "brk grow - brk(0)", a0
        sb      a0, 0(s3)               // the new memory is writable
        lbu     a0, 0(s3)
        SHOW    "byte stored at old break", a0

        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret
