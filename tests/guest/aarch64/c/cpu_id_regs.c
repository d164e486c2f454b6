/* heron-build: march=armv8-a
 * cpu_id_regs: the CPU identification a user program can read on aarch64 Linux: CTR_EL0,
 * DCZID_EL0 and CNTFRQ_EL0 directly, MIDR_EL1/MPIDR_EL1/REVIDR_EL1 and the ID_AA64*
 * registers through the kernel's MRS emulation (HWCAP_CPUID), and AT_HWCAP/AT_HWCAP2.
 * The test compares the lines heron must match with qemu-aarch64 (its default "max" CPU). */
#include <stdint.h>
#include <stdio.h>
#include <sys/auxv.h>

#define R(name)                                                                                   \
  do {                                                                                            \
    uint64_t v;                                                                                   \
    __asm__ volatile("mrs %0, " #name : "=r"(v));                                               \
    printf("%-18s %016llx\n", #name, (unsigned long long)v);                                    \
  } while (0)

int main(void) {
  R(ctr_el0);
  R(dczid_el0);
  R(cntfrq_el0);
  if (!(getauxval(AT_HWCAP) & (1UL << 11))) {
    printf("no cpuid\n");
    return 0;
  }
  R(midr_el1);
  R(mpidr_el1);
  R(revidr_el1);
  R(id_aa64pfr0_el1);
  R(id_aa64pfr1_el1);
  R(s3_0_c0_c4_4); /* ID_AA64ZFR0_EL1 */
  R(id_aa64dfr0_el1);
  R(id_aa64dfr1_el1);
  R(id_aa64afr0_el1);
  R(id_aa64afr1_el1);
  R(id_aa64isar0_el1);
  R(id_aa64isar1_el1);
  R(id_aa64mmfr0_el1);
  R(id_aa64mmfr1_el1);
  R(id_aa64mmfr2_el1);
  R(s3_0_c0_c6_2); /* ID_AA64ISAR2_EL1 */
  printf("%-18s %016lx\n", "hwcap", getauxval(AT_HWCAP));
  printf("%-18s %016lx\n", "hwcap2", getauxval(AT_HWCAP2));
  return 0;
}
