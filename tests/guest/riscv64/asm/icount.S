// Known instruction and memory-access counts for the instrumentation test
// (tests/instrument.rs): the loop runs 1000 * argc times; each iteration is exactly five
// instructions (load, add, store, decrement, branch) and two memory accesses.
        .option norvc
        .text
        .globl  test_main
test_main:
        ld      t0, 0(sp)               // argc (sp is still the initial stack pointer)
        li      t1, 1000
        mul     t0, t0, t1
        la      t2, cell
1:      ld      t3, 0(t2)
        addi    t3, t3, 1
        sd      t3, 0(t2)
        addi    t0, t0, -1
        bnez    t0, 1b
        ret

        .data
        .balign 8
cell:   .dword  0
