/* heron guest workload "vm": a branchy bytecode interpreter (switch dispatch, a small
 * operand stack and local variables). The bytecode program sums the Collatz stopping
 * times of 1..N and also counts how many of them are odd.
 * Usage: vm [N]   (N = upper bound, default 300000). Prints both totals. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum op {
    PUSH, LOAD, STORE, ADD, MUL, SHR, AND, LT, EQ, JMP, JZ, JNZ, ADDI, INCL, HALT,
};

struct insn { uint8_t op; int32_t arg; };

/* Locals: 0 = i, 1 = n, 2 = steps, 3 = total, 4 = limit, 5 = odd count. */
enum { OUTER = 2, INNER = 10, EVEN = 24, STEP = 27, DONE = 29, END = 41 };
static const struct insn program[] = {
    /* 0 */ {PUSH, 1}, {STORE, 0},
    /* OUTER: if (limit < i) goto END */
    /* 2 */ {LOAD, 4}, {LOAD, 0}, {LT, 0}, {JNZ, END},
    /* 6 */ {LOAD, 0}, {STORE, 1}, {PUSH, 0}, {STORE, 2},
    /* INNER: if (n == 1) goto DONE */
    /* 10 */ {LOAD, 1}, {PUSH, 1}, {EQ, 0}, {JNZ, DONE},
    /* 14 */ {LOAD, 1}, {PUSH, 1}, {AND, 0}, {JZ, EVEN},
    /* odd: n = 3n + 1 */
    /* 18 */ {LOAD, 1}, {PUSH, 3}, {MUL, 0}, {ADDI, 1}, {STORE, 1}, {JMP, STEP},
    /* EVEN: n >>= 1 */
    /* 24 */ {LOAD, 1}, {SHR, 1}, {STORE, 1},
    /* STEP: steps++ */
    /* 27 */ {INCL, 2}, {JMP, INNER},
    /* DONE: total += steps; odd += steps & 1; i++ */
    /* 29 */ {LOAD, 3}, {LOAD, 2}, {ADD, 0}, {STORE, 3},
    /* 33 */ {LOAD, 2}, {PUSH, 1}, {AND, 0}, {LOAD, 5}, {ADD, 0}, {STORE, 5},
    /* 39 */ {INCL, 0}, {JMP, OUTER},
    /* END */
    /* 41 */ {HALT, 0},
};

/* Runs `code` on `locals`; returns the number of bytecodes executed. */
static uint64_t run(const struct insn *code, int64_t *locals) {
    int64_t stack[64];
    int sp = 0;
    size_t pc = 0;
    uint64_t executed = 0;
    for (;;) {
        const struct insn *in = &code[pc++];
        executed++;
        switch (in->op) {
        case PUSH: stack[sp++] = in->arg; break;
        case LOAD: stack[sp++] = locals[in->arg]; break;
        case STORE: locals[in->arg] = stack[--sp]; break;
        case ADD: sp--; stack[sp - 1] += stack[sp]; break;
        case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
        case SHR: stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] >> in->arg); break;
        case AND: sp--; stack[sp - 1] &= stack[sp]; break;
        case LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case EQ: sp--; stack[sp - 1] = stack[sp - 1] == stack[sp]; break;
        case JMP: pc = (size_t)in->arg; break;
        case JZ: if (stack[--sp] == 0) pc = (size_t)in->arg; break;
        case JNZ: if (stack[--sp] != 0) pc = (size_t)in->arg; break;
        case ADDI: stack[sp - 1] += in->arg; break;
        case INCL: locals[in->arg] += 1; break;
        case HALT: return executed;
        default: fprintf(stderr, "vm: bad opcode %d\n", in->op); exit(2);
        }
    }
}

int main(int argc, char **argv) {
    long limit = argc > 1 ? strtol(argv[1], NULL, 10) : 300000;
    int64_t locals[8] = {0};
    locals[4] = limit;
    uint64_t executed = run(program, locals);
    printf("vm limit=%ld total_steps=%lld odd=%lld executed=%llu\n", limit,
           (long long)locals[3], (long long)locals[5], (unsigned long long)executed);
    return 0;
}
