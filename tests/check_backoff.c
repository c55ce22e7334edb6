/* check_backoff.c - the one retry backoff (plugin/lib/backoff.c) that the
 * HTTP transport and apply's engine retries share. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include "backoff.h"
#include "engine.h"
#include "run_suite.h"

START_TEST(full_jitter_within_the_capped_ceiling)
{
  dv_backoff b = {0.25, 8.0};
  unsigned seed = 12345, n, i;

  for(n = 0; n < 8; n++) {
    double ceiling = 0.25 * (double)(1u << n), lo = 1e9, hi = -1;
    if(ceiling > 8.0)
      ceiling = 8.0;
    for(i = 0; i < 2000; i++) {
      double d = dv_backoff_delay(&b, n, -1, &seed);
      ck_assert(d >= 0 && d < ceiling);
      if(d < lo)
        lo = d;
      if(d > hi)
        hi = d;
    }
    /* Full jitter spreads over the whole range, not just near the top. */
    ck_assert_double_lt(lo, 0.05 * ceiling);
    ck_assert_double_gt(hi, 0.95 * ceiling);
  }
  /* Doubling stops at the cap: no overflow for a huge attempt number. */
  for(i = 0; i < 100; i++)
    ck_assert_double_lt(dv_backoff_delay(&b, 4000000000u, -1, &seed), 8.0);
}
END_TEST

START_TEST(retry_after_wins_but_is_capped)
{
  dv_backoff b = {0.25, 8.0};
  unsigned seed = 1;

  ck_assert_double_eq(dv_backoff_delay(&b, 0, 3.0, &seed), 3.0);
  ck_assert_double_eq(dv_backoff_delay(&b, 5, 0.0, &seed), 0.0);
  ck_assert_double_eq(dv_backoff_delay(&b, 0, 120.0, &seed), 8.0);
}
END_TEST

static atomic_uint used;
static atomic_uint granted;

static void *taker(void *arg)
{
  unsigned i;

  (void)arg;
  for(i = 0; i < 1000; i++)
    if(dv_backoff_budget_take(&used, 1500))
      atomic_fetch_add(&granted, 1);
  return NULL;
}

START_TEST(budget_shared_by_threads)
{
  pthread_t th[4];
  int i;

  atomic_init(&used, 0u);
  atomic_init(&granted, 0u);
  for(i = 0; i < 4; i++)
    ck_assert_int_eq(pthread_create(&th[i], NULL, taker, NULL), 0);
  for(i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  /* Exactly the budget, never more, however the threads interleave. */
  ck_assert_uint_eq(atomic_load(&granted), 1500);
  ck_assert_uint_eq(atomic_load(&used), 1500);
  ck_assert_int_eq(dv_backoff_budget_take(&used, 1500), 0);
}
END_TEST

START_TEST(sleep_stops_on_cancel)
{
  volatile int cancel = 1;

  /* A cancelled wait returns at once, whatever is left of it. */
  ck_assert_int_eq(dv_backoff_sleep_until(drover_now() + 3600, &cancel), 1);
  ck_assert_int_eq(dv_backoff_sleep_until(drover_now() - 1, NULL), 0);
}
END_TEST

static Suite *backoff_suite(void)
{
  Suite *s = suite_create("backoff");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, full_jitter_within_the_capped_ceiling);
  tcase_add_test(tc, retry_after_wins_but_is_capped);
  tcase_add_test(tc, budget_shared_by_threads);
  tcase_add_test(tc, sleep_stops_on_cancel);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(backoff_suite());
}
