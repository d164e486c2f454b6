/* exitcode MODE: ends the process in the way MODE names, so the harness can check that
 * heron reproduces the guest's exit status or terminating signal.
 *   exit42   exit(42) after flushing stdio
 *   ret7     return 7 from main
 *   _exit255 _exit(255) (unflushed stdio output is lost)
 *   abort    abort(): killed by SIGABRT
 *   sigterm  raise(SIGTERM) with the default action
 *   sigkill  kill(getpid(), SIGKILL)
 *   segv     write to address 16 without a handler: killed by SIGSEGV
 *   thread   exit_group from a second thread while main blocks: status 3 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int *volatile wild = (volatile int *)16;

static void *thread_exit(void *arg) {
  (void)arg;
  printf("thread exiting the process\n");
  fflush(stdout);
  exit(3);
}

int main(int argc, char **argv) {
  const char *m = argc > 1 ? argv[1] : "exit42";
  printf("mode %s\n", m);
  if (!strcmp(m, "exit42")) exit(42);
  if (!strcmp(m, "ret7")) return 7;
  if (!strcmp(m, "_exit255")) {
    printf("this line is lost");
    _exit(255);
  }
  fflush(stdout);
  if (!strcmp(m, "abort")) abort();
  if (!strcmp(m, "sigterm")) raise(SIGTERM);
  if (!strcmp(m, "sigkill")) kill(getpid(), SIGKILL);
  if (!strcmp(m, "segv")) *wild = 1;
  if (!strcmp(m, "thread")) {
    pthread_t t;
    pthread_create(&t, NULL, thread_exit, NULL);
    for (;;) pause();
  }
  printf("unknown mode or survived\n");
  return 99;
}
