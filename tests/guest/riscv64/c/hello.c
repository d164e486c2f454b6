/* hello: argv, the HT_* environment variables the harness sets (sorted), and the auxiliary
 * vector entries whose values are the same under every correct emulator. */
#include <elf.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>
#include "t.h"

extern char **environ;
extern char _start[];

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(int argc, char **argv) {
  printf("hello, world\n");
  printf("argc=%d\n", argc);
  for (int i = 1; i < argc; i++) printf("argv[%d]=\"%s\"\n", i, argv[i]);
  CHECK(argv[argc] == NULL);
  /* sorted: qemu-user reverses the order of the environment, Linux keeps it */
  const char *ht[64];
  int nht = 0;
  for (char **e = environ; *e && nht < 64; e++)
    if (strncmp(*e, "HT_", 3) == 0) ht[nht++] = *e;
  qsort(ht, nht, sizeof ht[0], cmp_str);
  for (int i = 0; i < nht; i++) printf("env %s\n", ht[i]);
  printf("getenv(HT_A)=%s\n", getenv("HT_A") ? getenv("HT_A") : "(null)");

  printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
  printf("AT_CLKTCK=%lu\n", getauxval(AT_CLKTCK));
  printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
  CHECK(getauxval(AT_UID) == (unsigned long)getuid());
  CHECK(getauxval(AT_EUID) == (unsigned long)geteuid());
  CHECK(getauxval(AT_GID) == (unsigned long)getgid());
  CHECK(getauxval(AT_EGID) == (unsigned long)getegid());
  printf("AT_ENTRY is _start: %d\n", getauxval(AT_ENTRY) == (unsigned long)_start);
  Elf64_Phdr *ph = (Elf64_Phdr *)getauxval(AT_PHDR);
  unsigned long phnum = getauxval(AT_PHNUM);
  printf("AT_PHENT=%lu\n", getauxval(AT_PHENT));
  CHECK(ph != NULL && phnum > 0);
  int loads = 0;
  for (unsigned long i = 0; ph && i < phnum; i++) loads += ph[i].p_type == PT_LOAD;
  printf("PT_LOAD segments=%d\n", loads);
  unsigned char *rnd = (unsigned char *)getauxval(AT_RANDOM);
  CHECK(rnd != NULL);
  if (rnd) {
    unsigned sum = 0;
    for (int i = 0; i < 16; i++) sum |= rnd[i];
    CHECK(sum != 0); /* 16 random bytes are readable (and not all zero) */
  }
  const char *execfn = (const char *)getauxval(AT_EXECFN);
  CHECK(execfn != NULL);
  if (execfn) {
    const char *b = strrchr(execfn, '/');
    printf("AT_EXECFN basename=%s\n", b ? b + 1 : execfn);
  }
  unsigned long hw = getauxval(AT_HWCAP);
  printf("AT_HWCAP IMAFDC:");
  for (const char *p = "IMAFDC"; *p; p++)
    printf(" %c=%lu", *p, (hw >> (*p - 'A')) & 1);
  printf("\n");
  printf("sysconf(_SC_PAGESIZE)=%ld\n", sysconf(_SC_PAGESIZE));
  return test_exit();
}
