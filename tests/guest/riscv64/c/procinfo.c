/* procinfo: what a RISC-V guest learns about its machine and itself.
 * "hw": /proc/cpuinfo (one block per usable CPU, heron's ISA string) and riscv_hwprobe
 *       (keys, unknown keys, WHICH_CPUS, error cases); cbo.zero and pause when hwprobe
 *       reports Zicboz and Zihintpause. qemu-user 7.2 emulates neither, so
 *       the test compares with a fixed expected output.
 * "self": /proc/self/maps and /proc/<pid>/maps list the text segment (r-x, holding main)
 *       and [stack] (holding a local); membarrier query/register/barrier; rseq and clone3
 *       fail with ENOSYS and glibc still creates a thread (falling back to clone). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "t.h"

struct pair {
  int64_t key;
  uint64_t value;
};

static long hwprobe(struct pair *p, long n, long setsize, void *cpus, long flags) {
  long r = syscall(258, p, n, setsize, cpus, flags);
  return r < 0 ? -errno : r;
}

static char *slurp(const char *path) {
  static char buf[1 << 16];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t n = 0;
  ssize_t r;
  while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += r;
  close(fd);
  buf[n] = 0;
  return buf;
}

static int hw(void) {
  cpu_set_t set;
  CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
  int ncpu = CPU_COUNT(&set);
  char *c = slurp("/proc/cpuinfo");
  CHECK(c != NULL);
  if (!c) return test_exit();
  int blocks = 0, ok_order = 1;
  for (char *p = c; (p = strstr(p, "processor\t: ")); p++) {
    int cpu = atoi(p + 12);
    ok_order &= CPU_ISSET(cpu, &set);
    blocks++;
  }
  printf("cpuinfo blocks == usable cpus: %d, all usable: %d\n", blocks == ncpu, ok_order);
  const char *first = strstr(c, "\n\n");
  printf("first block:\n%.*s", first ? (int)(first - c + 1) : 0, c);
  /* hwprobe: every key at once, including unknown ones. */
  struct pair p[9] = {{4, 9}, {0, 9}, {1, 9}, {2, 9}, {3, 9}, {5, 9}, {6, 9}, {9, 9}, {1000, 9}};
  CHECK(hwprobe(p, 9, 0, NULL, 0) == 0);
  for (int i = 0; i < 9; i++) printf("hwprobe key %lld value %#llx\n", (long long)p[i].key, (unsigned long long)p[i].value);
  /* the same through an explicit set of all usable CPUs */
  struct pair q = {4, 0};
  CHECK(hwprobe(&q, 1, sizeof set, &set, 0) == 0);
  CHECK(q.value == p[0].value);
  printf("errors: flags %ld, set without pointer %ld, bad pairs %ld, which without set %ld\n",
         hwprobe(p, 1, 0, NULL, 2), hwprobe(p, 1, sizeof set, NULL, 0),
         hwprobe((void *)8, 1, 0, NULL, 0), hwprobe(p, 1, 0, NULL, 1));
  cpu_set_t w = set;
  struct pair want = {4, 1 | 2 | 1 << 3}; /* FD, C, ZBA */
  CHECK(hwprobe(&want, 1, sizeof w, &w, 1) == 0);
  printf("which cpus FD|C|ZBA: all %d\n", CPU_EQUAL(&w, &set));
  want.value = 1 << 2; /* V */
  CHECK(hwprobe(&want, 1, sizeof w, &w, 1) == 0);
  printf("which cpus V: none %d\n", CPU_COUNT(&w) == 0);
  /* Zicboz, as hwprobe reports it: cbo.zero clears the whole block holding the address. */
  if ((p[0].value & (1 << 6)) && p[6].value == 64) {
    static unsigned char buf[256] __attribute__((aligned(64)));
    memset(buf, 0xff, sizeof buf);
    unsigned char *at = buf + 64 + 17;
    __asm__ volatile(".insn i 0x0f, 2, x0, %0, 4" : : "r"(at) : "memory"); /* cbo.zero (at) */
    int zeroed = 1, kept = 1;
    for (int i = 0; i < 256; i++) {
      if (i >= 64 && i < 128) zeroed &= buf[i] == 0;
      else kept &= buf[i] == 0xff;
    }
    printf("cbo.zero: block zeroed %d, neighbours kept %d\n", zeroed, kept);
  }
  /* Zihintpause: pause is a hint, nothing else changes. */
  if (p[0].value & (1ull << 36)) {
    for (int i = 0; i < 3; i++) __asm__ volatile(".insn i 0x0f, 0, x0, x0, 0x010"); /* pause */
    printf("pause: ok\n");
  }
  return test_exit();
}

static void *thread_fn(void *arg) { return (char *)arg + 1; }

/* The maps line whose range holds addr, or NULL. */
static char *line_for(char *maps, uintptr_t addr, char *out, size_t n) {
  for (char *l = maps; *l;) {
    char *e = strchr(l, '\n');
    size_t len = e ? (size_t)(e - l) : strlen(l);
    unsigned long lo, hi;
    if (sscanf(l, "%lx-%lx", &lo, &hi) == 2 && addr >= lo && addr < hi) {
      snprintf(out, n, "%.*s", (int)len, l);
      return out;
    }
    l += len + (e != NULL);
  }
  return NULL;
}

static int self(void) {
  int local = 1;
  char path[64], line[512];
  for (int i = 0; i < 2; i++) {
    if (i == 0) snprintf(path, sizeof path, "/proc/self/maps");
    else snprintf(path, sizeof path, "/proc/%d/maps", getpid());
    char *m = slurp(path);
    CHECK(m != NULL);
    if (!m) continue;
    char *t = line_for(m, (uintptr_t)&self, line, sizeof line);
    printf("%s: text r-x: %d\n", i ? "pid maps" : "self maps", t && strstr(t, " r-xp ") != NULL);
    /* the text line ends with the program's path (qemu and heron both show it) */
    char exe[256];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    size_t tl = t ? strlen(t) : 0, el = strlen(exe);
    printf("%s: text names the program: %d\n", i ? "pid maps" : "self maps",
           t && el && tl > el && !strcmp(t + tl - el, exe));
    char *s = line_for(m, (uintptr_t)&local, line, sizeof line);
    printf("%s: stack rw- [stack]: %d\n", i ? "pid maps" : "self maps",
           s && strstr(s, " rw-p ") && strstr(s, "[stack]"));
  }
  long q = syscall(SYS_membarrier, 0, 0, 0);
  printf("membarrier query has private expedited: %d\n", q > 0 && (q & 8) && (q & 16));
  printf("membarrier private expedited before register: %d\n",
         syscall(SYS_membarrier, 8, 0, 0) == -1 && errno == EPERM);
  printf("membarrier register: %ld, barrier: %ld\n", syscall(SYS_membarrier, 16, 0, 0),
         syscall(SYS_membarrier, 8, 0, 0));
  errno = 0;
  long r = syscall(293, NULL, 0, 0, 0);
  printf("rseq: %ld errno ENOSYS %d\n", r, errno == ENOSYS);
  errno = 0;
  r = syscall(435, NULL, 0);
  printf("clone3: %ld errno ENOSYS %d\n", r, errno == ENOSYS);
  pthread_t th;
  void *res = NULL;
  CHECK(pthread_create(&th, NULL, thread_fn, (char *)&local) == 0);
  CHECK(pthread_join(th, &res) == 0);
  printf("thread ran: %d\n", res == (char *)&local + 1);
  return test_exit();
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "hw")) return hw();
  if (argc > 1 && !strcmp(argv[1], "self")) return self();
  printf("usage: procinfo hw|self\n");
  return 2;
}
