/* Helpers shared by heron's C guest tests: CHECK prints a FAIL line (and counts it)
 * instead of aborting, so one run shows every mismatch; test_exit() turns the count into
 * the exit status. Output goes through stdio with explicit flushes where fork is involved. */
#ifndef HERON_GUEST_T_H
#define HERON_GUEST_T_H
#include <stdio.h>
#include <stdlib.h>

static int t_failures;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      printf("FAIL %s:%d: %s\n", __FILE_NAME__, __LINE__, #cond);                   \
      t_failures++;                                                            \
    }                                                                          \
  } while (0)

static inline int test_exit(void) {
  printf("%s\n", t_failures ? "FAILED" : "done");
  fflush(stdout);
  return t_failures ? 1 : 0;
}
#endif
