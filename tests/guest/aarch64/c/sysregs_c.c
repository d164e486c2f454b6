/* sysregs_c: what a C program learns about the CPU on aarch64: HWCAP bits consistent with
 * the ID registers read through MRS (the kernel's emulation), AT_PLATFORM, uname, the TLS
 * register, and an atomic compare-and-swap loop (LSE when advertised, else exclusives). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/utsname.h>

#define HWCAP_ATOMICS_BIT (1UL << 8)
#define HWCAP_CPUID_BIT (1UL << 11)

int main(void) {
  unsigned long hw = getauxval(AT_HWCAP);
  const char *plat = (const char *)getauxval(AT_PLATFORM);
  struct utsname u;
  uname(&u);
  printf("machine %s platform %s\n", u.machine, plat ? plat : "(none)");
  printf("cpuid %d\n", (hw & HWCAP_CPUID_BIT) != 0);
  if (hw & HWCAP_CPUID_BIT) {
    uint64_t isar0, pfr0;
    __asm__ volatile("mrs %0, ID_AA64ISAR0_EL1" : "=r"(isar0));
    __asm__ volatile("mrs %0, ID_AA64PFR0_EL1" : "=r"(pfr0));
    printf("atomics hwcap %d isar0 %d\n", (hw & HWCAP_ATOMICS_BIT) != 0, ((isar0 >> 20) & 0xf) == 2);
    printf("el0 aarch64 %d\n", (int)(pfr0 & 0xf) == 1);
  }
  uint64_t tp;
  __asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp));
  static __thread int tv = 42;
  printf("tls nonzero %d tv %d\n", tp != 0, tv);
  long v = 0;
  for (int i = 0; i < 1000; i++) {
    long old = v;
    while (!__atomic_compare_exchange_n(&v, &old, old + i, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
  }
  printf("cas sum %ld\n", v);
  return 0;
}
