// heron-build: link=dynamic cflags=-lm
/* dynhello: a dynamically linked program (ld-linux-riscv64-lp64d.so.1 + libc.so.6,
 * found through heron's -L sysroot): stdio, a libm call, dlsym-free symbol resolution. */
#include <math.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  printf("hello from a dynamic binary, argc=%d\n", argc);
  for (int i = 1; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  char buf[64];
  snprintf(buf, sizeof buf, "%s-%d", "strlen", (int)strlen("dynamic"));
  printf("%s\n", buf);
  volatile double x = 2.0;
  printf("sqrt(2)=%.15f\n", sqrt(x));
  return 0;
}
