/* threads: 4 threads increment an atomic counter and a mutex-protected counter; a
 * producer/consumer queue on a condition variable; thread-local storage; join values;
 * a barrier; pthread_once; thread exit through pthread_exit. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "t.h"

#define NT 4
#define ITERS 20000

static atomic_long acount;
static long mcount;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static __thread long tls_value = 7;
static __thread char tls_buf[64];
static pthread_barrier_t barrier;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int once_runs;

static void once_fn(void) { atomic_fetch_add(&once_runs, 1); }

static void *worker(void *arg) {
  long id = (long)(intptr_t)arg;
  CHECK(tls_value == 7);
  tls_value = id * 100;
  tls_buf[0] = (char)('a' + id);
  pthread_once(&once, once_fn);
  pthread_barrier_wait(&barrier);
  for (int i = 0; i < ITERS; i++) {
    atomic_fetch_add_explicit(&acount, 1, memory_order_relaxed);
    pthread_mutex_lock(&mu);
    mcount++;
    pthread_mutex_unlock(&mu);
  }
  pthread_barrier_wait(&barrier);
  CHECK(tls_value == id * 100 && tls_buf[0] == (char)('a' + id));
  return (void *)(intptr_t)(tls_value + 1);
}

/* bounded queue */
#define QN 8
static int q[QN], qhead, qtail, qcount, done_producing;
static pthread_mutex_t qmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;

static void *producer(void *arg) {
  (void)arg;
  for (int i = 1; i <= 1000; i++) {
    pthread_mutex_lock(&qmu);
    while (qcount == QN) pthread_cond_wait(&not_full, &qmu);
    q[qtail] = i;
    qtail = (qtail + 1) % QN;
    qcount++;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&qmu);
  }
  pthread_mutex_lock(&qmu);
  done_producing = 1;
  pthread_cond_broadcast(&not_empty);
  pthread_mutex_unlock(&qmu);
  return NULL;
}

static void *consumer(void *arg) {
  long *sum = arg;
  for (;;) {
    pthread_mutex_lock(&qmu);
    while (qcount == 0 && !done_producing) pthread_cond_wait(&not_empty, &qmu);
    if (qcount == 0 && done_producing) {
      pthread_mutex_unlock(&qmu);
      return NULL;
    }
    int v = q[qhead];
    qhead = (qhead + 1) % QN;
    qcount--;
    pthread_cond_signal(&not_full);
    pthread_mutex_unlock(&qmu);
    *sum += v;
  }
}

static void *exiter(void *arg) {
  (void)arg;
  pthread_exit((void *)(intptr_t)1234);
}

int main(void) {
  pthread_t t[NT];
  pthread_barrier_init(&barrier, NULL, NT);
  for (long i = 0; i < NT; i++)
    CHECK(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0);
  for (int i = 0; i < NT; i++) {
    void *ret;
    CHECK(pthread_join(t[i], &ret) == 0);
    printf("thread %d returned %ld\n", i, (long)(intptr_t)ret);
  }
  printf("atomic=%ld mutex=%ld once_runs=%d main tls=%ld\n", (long)acount, mcount,
         (int)once_runs, tls_value);

  pthread_t p, c[2];
  long sums[2] = {0, 0};
  pthread_create(&c[0], NULL, consumer, &sums[0]);
  pthread_create(&c[1], NULL, consumer, &sums[1]);
  pthread_create(&p, NULL, producer, NULL);
  pthread_join(p, NULL);
  pthread_join(c[0], NULL);
  pthread_join(c[1], NULL);
  printf("queue total=%ld\n", sums[0] + sums[1]);

  pthread_t e;
  void *ret;
  pthread_create(&e, NULL, exiter, NULL);
  pthread_join(e, &ret);
  printf("pthread_exit value=%ld\n", (long)(intptr_t)ret);

  /* detached threads and many short-lived threads */
  for (int round = 0; round < 50; round++) {
    pthread_t s;
    CHECK(pthread_create(&s, NULL, exiter, NULL) == 0);
    CHECK(pthread_join(s, NULL) == 0);
  }
  printf("50 short threads joined\n");
  return test_exit();
}
