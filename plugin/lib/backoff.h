/*
 * backoff.h - the one retry backoff (capped exponential, full jitter,
 * Retry-After, shared budget), used by the HTTP transport (http.c) and by
 * apply's engine-level retries (apply.c). Internal; not installed.
 */
#ifndef DROVER_BACKOFF_H
#define DROVER_BACKOFF_H

#include <stdatomic.h>

typedef struct dv_backoff {
  double base;            /* seconds; the cap of the first sleep */
  double cap;             /* no sleep is longer than this */
} dv_backoff;

/* Seconds to wait before retry number attempt (0-based): a uniform draw
 * from [0, min(cap, base * 2^attempt)] (full jitter), or retry_after
 * (capped by cap) when the server sent one (retry_after >= 0). seed is the
 * caller's rand_r state, so threads never share one. */
double dv_backoff_delay(const dv_backoff *b, unsigned attempt, double retry_after,
                        unsigned *seed);

/* Takes one retry from a budget shared by threads: 1 when taken, 0 when
 * used has already reached budget. */
int dv_backoff_budget_take(atomic_uint *used, unsigned budget);

/* Sleeps until the monotonic time until, in short steps, returning early
 * (with 1) once *cancel becomes non-zero; cancel may be NULL. */
int dv_backoff_sleep_until(double until, volatile int *cancel);

#endif /* DROVER_BACKOFF_H */
