/* backoff.c - the one retry backoff; see backoff.h. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include "backoff.h"
#include "drover_provider.h"

/* Longest single nanosleep, so a cancel flag is noticed promptly. */
#define STEP 0.05

double dv_backoff_delay(const dv_backoff *b, unsigned attempt, double retry_after,
                        unsigned *seed)
{
  double ceiling = b->base;
  unsigned i;

  if(retry_after >= 0)
    return retry_after < b->cap ? retry_after : b->cap;
  /* Doubling stops at the cap, so a large attempt number cannot overflow. */
  for(i = 0; i < attempt && ceiling < b->cap; i++)
    ceiling *= 2;
  if(ceiling > b->cap)
    ceiling = b->cap;
  return ceiling * ((double)rand_r(seed) / ((double)RAND_MAX + 1.0));
}

int dv_backoff_budget_take(atomic_uint *used, unsigned budget)
{
  unsigned n = atomic_load(used);

  while(n < budget) {
    if(atomic_compare_exchange_weak(used, &n, n + 1))
      return 1;
  }
  return 0;
}

static int is_cancelled(volatile int *cancel)
{
  /* Set by a signal handler and read by worker threads: an atomic load. */
  return cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED);
}

int dv_backoff_sleep_until(double until, volatile int *cancel)
{
  for(;;) {
    double left = until - drover_now();
    struct timespec ts;

    if(is_cancelled(cancel))
      return 1;
    if(left <= 0)
      return 0;
    if(left > STEP)
      left = STEP;
    ts.tv_sec = (time_t)left;
    ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
    if(nanosleep(&ts, NULL) == -1 && errno != EINTR)
      return 0;
  }
}
