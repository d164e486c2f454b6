/* exec PROGRAM: execve of another guest program (PROGRAM, an absolute path) with chosen
 * argv and environment; first from a forked child (the parent reports its status),
 * then through posix_spawn (clone with CLONE_VM|CLONE_VFORK), then replacing this
 * process itself. Also execve of a missing file (ENOENT) and of a
 * non-executable file (EACCES). */
#include <errno.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "t.h"

extern char **environ;

int main(int argc, char **argv) {
  if (argc < 2) {
    printf("usage: exec PROGRAM\n");
    return 2;
  }
  char *none[] = {"nothing", NULL};
  char *env0[] = {NULL};
  errno = 0;
  execve("/nonexistent/program", none, env0);
  printf("execve missing: errno ENOENT=%d\n", errno == ENOENT);
  errno = 0;
  execve("/proc/self/status", none, env0);
  printf("execve non-executable: errno EACCES=%d\n", errno == EACCES);

  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    char *args[] = {argv[1], "from-child", "x y", NULL};
    char *env[] = {"HT_A=child", NULL};
    execve(argv[1], args, env);
    printf("execve failed: %s\n", strerror(errno));
    fflush(stdout);
    _exit(127);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("child exec status=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  char *sargs[] = {argv[1], "spawned", NULL};
  fflush(stdout);
  int rc = posix_spawn(&pid, argv[1], NULL, NULL, sargs, environ);
  printf("posix_spawn rc=%d\n", rc);
  fflush(stdout);
  if (rc == 0) {
    waitpid(pid, &st, 0);
    printf("spawned status=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  }
  fflush(stdout);
  char *args[] = {argv[1], "replaced", NULL};
  char *env[] = {"HT_A=replaced", "HT_B=2", NULL};
  execve(argv[1], args, env);
  printf("execve failed: %s\n", strerror(errno));
  return 1;
}
