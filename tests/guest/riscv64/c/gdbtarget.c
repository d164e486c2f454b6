// A small program for the gdb stub test (tests/gdb.rs): a function with known arguments,
// a global that is written (for watchpoints) and a loop. With an argument it spins forever
// instead (for the interrupt test). Built without optimisation and
// with debug info so gdb can name functions, arguments and lines.
// heron-build: cflags=-O0,-g
#include <stdio.h>

volatile long counter;

__attribute__((noinline)) long scale_add(long a, long b) {
    long r = a * 3;
    r = r + b;
    counter = r;
    return r;
}

int main(int argc, char **argv) {
    (void)argv;
    if (argc > 1) {
        for (;;) {
            counter++;
        }
    }
    long total = 0;
    for (long i = 0; i < 4; i++) {
        total += scale_add(i + 10, 7);
    }
    printf("total=%ld\n", total);
    return (int)(total & 0x7f);
}
