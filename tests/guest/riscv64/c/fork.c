/* fork: fork + wait4 with exit statuses and terminating signals, a pipe between parent
 * and child in both directions, SIGCHLD delivery, waitpid(WNOHANG), getppid in the
 * child, copy-on-write separation of memory, vfork + _exit. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "t.h"

static volatile sig_atomic_t got_chld;
static void on_chld(int s) {
  (void)s;
  got_chld++;
}

static int global = 1;

int main(void) {
  signal(SIGCHLD, on_chld);
  fflush(stdout);
  pid_t me = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    global = 2;
    printf("child: ppid ok=%d global=%d\n", getppid() == me, global);
    fflush(stdout);
    _exit(3);
  }
  CHECK(pid > 0);
  int st = 0;
  struct rusage ru;
  pid_t w = wait4(pid, &st, 0, &ru);
  printf("parent: wait4 ok=%d exited=%d status=%d global=%d\n", w == pid, WIFEXITED(st),
         WEXITSTATUS(st), global);
  /* the child's SIGCHLD may arrive just after wait4 returns; it has arrived by now
     in any case since the child is reaped: wait for it with a bounded loop */
  for (int i = 0; i < 1000 && !got_chld; i++) usleep(1000);
  printf("SIGCHLD received=%d\n", got_chld > 0);

  /* child killed by a signal */
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    raise(SIGKILL);
    _exit(0);
  }
  waitpid(pid, &st, 0);
  printf("killed child: signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    signal(SIGSEGV, SIG_DFL);
    *(volatile int *)(uintptr_t)getpid() = 0; /* unmapped low address */
    _exit(0);
  }
  waitpid(pid, &st, 0);
  printf("segv child: signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));

  /* pipes both ways: the child upper-cases what it reads */
  int to_child[2], from_child[2];
  CHECK(pipe(to_child) == 0 && pipe(from_child) == 0);
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    close(to_child[1]);
    close(from_child[0]);
    char buf[256];
    ssize_t n;
    while ((n = read(to_child[0], buf, sizeof buf)) > 0) {
      for (ssize_t i = 0; i < n; i++)
        if (buf[i] >= 'a' && buf[i] <= 'z') buf[i] -= 32;
      if (write(from_child[1], buf, n) != n) _exit(9);
    }
    _exit(0);
  }
  close(to_child[0]);
  close(from_child[1]);
  const char *text = "the quick brown fox jumps over the lazy dog\n";
  for (int i = 0; i < 100; i++)
    CHECK(write(to_child[1], text, strlen(text)) == (ssize_t)strlen(text));
  close(to_child[1]);
  char out[8192];
  size_t total = 0;
  ssize_t n;
  while ((n = read(from_child[0], out + total, sizeof out - total)) > 0) total += n;
  close(from_child[0]);
  waitpid(pid, &st, 0);
  printf("pipe: %zu bytes back, first line: %.44s", total, out);
  printf("pipe child status=%d\n", WEXITSTATUS(st));

  /* WNOHANG on a running child, then reap it */
  int gate[2];
  CHECK(pipe(gate) == 0);
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    char c;
    close(gate[1]);
    while (read(gate[0], &c, 1) > 0) {
    }
    _exit(5);
  }
  close(gate[0]);
  printf("WNOHANG while running=%d\n", waitpid(pid, &st, WNOHANG));
  close(gate[1]);
  waitpid(pid, &st, 0);
  printf("then exited %d\n", WEXITSTATUS(st));

  /* vfork */
  fflush(stdout);
  pid = vfork();
  if (pid == 0) _exit(6);
  waitpid(pid, &st, 0);
  printf("vfork child status=%d\n", WEXITSTATUS(st));

  /* many forks */
  int sum = 0;
  for (int i = 0; i < 20; i++) {
    fflush(stdout);
    pid = fork();
    if (pid == 0) _exit(i);
    waitpid(pid, &st, 0);
    sum += WEXITSTATUS(st);
  }
  printf("20 forks, status sum=%d\n", sum);

  return test_exit();
}
