/* sysinfo: time (clock_gettime on several clocks, gettimeofday, time, nanosleep,
 * clock_getres), getrandom, uname, /proc/self/exe, identity calls, getcwd, rlimits,
 * sched_getaffinity and sysconf. Only values that are the same on every correct
 * emulator are printed; the rest are checked against each other. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "t.h"

static double ts(clockid_t c) {
  struct timespec t;
  CHECK(clock_gettime(c, &t) == 0);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  (void)argc;
  /* time */
  double m0 = ts(CLOCK_MONOTONIC);
  double r0 = ts(CLOCK_REALTIME);
  struct timeval tv;
  CHECK(gettimeofday(&tv, NULL) == 0);
  time_t t0 = time(NULL);
  CHECK(tv.tv_sec - r0 < 2 && tv.tv_sec - r0 > -2);
  CHECK(t0 - r0 < 2 && t0 - r0 > -2);
  CHECK(r0 > 1600000000.0); /* after 2020 */
  struct timespec req = {0, 20 * 1000 * 1000}, rem;
  CHECK(nanosleep(&req, &rem) == 0);
  double m1 = ts(CLOCK_MONOTONIC);
  printf("nanosleep 20ms: elapsed>=20ms %d, <5s %d\n", m1 - m0 >= 0.020, m1 - m0 < 5);
  CHECK(ts(CLOCK_BOOTTIME) > 0);
  CHECK(ts(CLOCK_MONOTONIC_RAW) > 0);
  CHECK(ts(CLOCK_REALTIME_COARSE) > 1600000000.0);
  double c0 = ts(CLOCK_PROCESS_CPUTIME_ID);
  volatile unsigned long spin = 0;
  for (unsigned long i = 0; i < 3000000; i++) spin += i;
  double c1 = ts(CLOCK_PROCESS_CPUTIME_ID);
  printf("process cpu time advances: %d\n", c1 > c0);
  CHECK(ts(CLOCK_THREAD_CPUTIME_ID) >= 0);
  struct timespec res;
  CHECK(clock_getres(CLOCK_MONOTONIC, &res) == 0);
  printf("monotonic resolution <= 1ms: %d\n", res.tv_sec == 0 && res.tv_nsec <= 1000000);
  struct timespec abs;
  clock_gettime(CLOCK_MONOTONIC, &abs);
  abs.tv_nsec += 5 * 1000 * 1000;
  if (abs.tv_nsec >= 1000000000) {
    abs.tv_sec++;
    abs.tv_nsec -= 1000000000;
  }
  CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL) == 0);
  printf("clock_nanosleep absolute ok: %d\n", ts(CLOCK_MONOTONIC) >= abs.tv_sec + abs.tv_nsec * 1e-9);
  int monotonic = 1;
  double prev = ts(CLOCK_MONOTONIC);
  for (int i = 0; i < 10000; i++) {
    double now = ts(CLOCK_MONOTONIC);
    if (now < prev) monotonic = 0;
    prev = now;
  }
  printf("monotonic never goes back: %d\n", monotonic);

  /* getrandom */
  unsigned char a[32], b[32];
  printf("getrandom=%zd\n", getrandom(a, sizeof a, 0));
  CHECK(getrandom(b, sizeof b, GRND_NONBLOCK) == (ssize_t)sizeof b);
  printf("two draws differ: %d\n", memcmp(a, b, sizeof a) != 0);
  int nz = 0;
  for (int i = 0; i < 32; i++) nz |= a[i];
  CHECK(nz != 0);

  /* uname */
  struct utsname u;
  CHECK(uname(&u) == 0);
  printf("uname sysname=%s machine=%s\n", u.sysname, u.machine);
  CHECK(strlen(u.release) > 0);

  /* /proc/self/exe */
  char link[PATH_MAX] = {0}, real[PATH_MAX] = {0};
  ssize_t n = readlink("/proc/self/exe", link, sizeof link - 1);
  CHECK(n > 0);
  CHECK(realpath(argv[0], real) != NULL);
  printf("readlink /proc/self/exe is the guest program: %d\n", strcmp(link, real) == 0);
  if (strcmp(link, real) != 0) printf("  got %s want %s\n", link, real);
  int fd = open("/proc/self/exe", O_RDONLY);
  unsigned char hdr[20] = {0};
  CHECK(fd >= 0 && read(fd, hdr, sizeof hdr) == (ssize_t)sizeof hdr);
  close(fd);
  printf("/proc/self/exe e_machine=%d (RISC-V=243)\n", hdr[18] | hdr[19] << 8);

  /* identity, cwd, limits */
  CHECK(getpid() > 0 && getppid() > 0 && gettid() == getpid());
  CHECK(getuid() == geteuid());
  char cwd[PATH_MAX];
  CHECK(getcwd(cwd, sizeof cwd) != NULL && cwd[0] == '/');
  struct rlimit rl;
  CHECK(getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur > 0);
  CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= 64);
  cpu_set_t cs;
  CHECK(sched_getaffinity(0, sizeof cs, &cs) == 0 && CPU_COUNT(&cs) >= 1);
  CHECK(sysconf(_SC_NPROCESSORS_ONLN) >= 1);
  printf("sysconf(_SC_PAGESIZE)=%ld\n", sysconf(_SC_PAGESIZE));
  struct rusage ru;
  CHECK(getrusage(RUSAGE_SELF, &ru) == 0);
  return test_exit();
}
