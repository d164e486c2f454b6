/* signals_a64: aarch64 signal delivery: SIGILL from an undefined instruction and SIGSEGV
 * from a wild load, with handlers that read the fault PC/address and the FP/SIMD record
 * from the ucontext and resume past the faulting instruction; a handler that clobbers FP
 * registers (restored by rt_sigreturn); sigaltstack; raise/kill with SA_SIGINFO; signal
 * masks; and LSE/exclusive atomics from several threads. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

extern char ill_insn[], segv_insn[];
static volatile int got;

static void on_fault(int sig, siginfo_t *si, void *ctx) {
  ucontext_t *uc = ctx;
  uint64_t pc = uc->uc_mcontext.pc;
  const char *where = pc == (uint64_t)ill_insn ? "ill_insn" : pc == (uint64_t)segv_insn ? "segv_insn" : "?";
  /* Find the FP/SIMD record in __reserved. */
  struct _aarch64_ctx *h = (struct _aarch64_ctx *)uc->uc_mcontext.__reserved;
  int have_fp = 0;
  while (h->magic) {
    if (h->magic == FPSIMD_MAGIC && h->size == sizeof(struct fpsimd_context)) have_fp = 1;
    h = (struct _aarch64_ctx *)((char *)h + h->size);
  }
  /* si_code of SIGILL: Linux says ILL_ILLOPC, qemu-user ILL_ILLOPN; not printed. */
  printf("signal %d code %d at %s fpsimd %d", sig, sig == SIGILL ? 0 : si->si_code, where, have_fp);
  if (sig == SIGSEGV) printf(" addr %#lx fault_address %#llx", (unsigned long)si->si_addr,
                             (unsigned long long)uc->uc_mcontext.fault_address);
  printf("\n");
  uc->uc_mcontext.pc = pc + 4;
  got++;
}

static void clobber_fp(int sig) {
  (void)sig;
  __asm__ volatile("fmov d8, #1.0\n fmov d0, #2.0\n movi v31.16b, #0x55" ::: "v0", "v8", "v31");
  got++;
}

static void on_info(int sig, siginfo_t *si, void *ctx) {
  (void)ctx;
  char here;
  stack_t ss;
  sigaltstack(NULL, &ss);
  int on_alt = (char *)&here >= (char *)ss.ss_sp && (char *)&here < (char *)ss.ss_sp + ss.ss_size;
  printf("info sig %d code %d pid ok %d on altstack %d\n", sig, si->si_code, si->si_pid == getpid(), on_alt);
  got++;
}

static atomic_long counter;
static long plain_lock_counter;
static atomic_flag lock = ATOMIC_FLAG_INIT;

static void *worker(void *arg) {
  long n = (long)arg;
  for (long i = 0; i < n; i++) {
    atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
    while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire)) {
    }
    plain_lock_counter++;
    atomic_flag_clear_explicit(&lock, memory_order_release);
  }
  return NULL;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGILL, &sa, NULL);
  sigaction(SIGSEGV, &sa, NULL);

  __asm__ volatile(".globl ill_insn\nill_insn: .inst 0x00000000" ::: "memory");
  register uint64_t x0 __asm__("x0") = 0;
  register volatile int *x1 __asm__("x1") = (volatile int *)0x10;
  __asm__ volatile(".globl segv_insn\nsegv_insn: ldr w0, [x1]" : "+r"(x0) : "r"(x1) : "memory");
  printf("after faults got=%d x0=%lu\n", got, (unsigned long)x0);

  /* FP registers survive a handler that clobbers them. */
  signal(SIGUSR1, clobber_fp);
  double d = 3.25;
  __asm__ volatile("fmov d8, %d0" ::"w"(d) : "v8");
  raise(SIGUSR1);
  double back;
  __asm__ volatile("fmov %d0, d8" : "=w"(back));
  printf("d8 after handler %.2f got=%d\n", back, got);

  /* SA_SIGINFO + sigaltstack + SA_ONSTACK. */
  stack_t ss = {.ss_sp = malloc(65536), .ss_size = 65536, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) perror("sigaltstack");
  sa.sa_sigaction = on_info;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigaction(SIGUSR2, &sa, NULL);
  kill(getpid(), SIGUSR2);

  /* Blocked signals stay pending until unblocked. */
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, &old);
  raise(SIGUSR2);
  sigset_t pend;
  sigpending(&pend);
  printf("pending %d got=%d\n", sigismember(&pend, SIGUSR2), got);
  sigprocmask(SIG_SETMASK, &old, NULL);
  printf("unblocked got=%d\n", got);

  pthread_t th[4];
  for (long i = 0; i < 4; i++) pthread_create(&th[i], NULL, worker, (void *)20000);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  printf("atomic %ld locked %ld\n", (long)atomic_load(&counter), plain_lock_counter);
  return 0;
}
