/* check_lease.c - the stack lease held in the provider (lease.c) against
 * the fake cloud's lock records: acquire, contention, waiting, renewal,
 * takeover only after expiry, force-unlock, a lost lease, and clouds or
 * settings without leases. Each "host" is a stack with its own lock
 * directory, so only the lease keeps them apart. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine.h"
#include "lease.h"
#include "fake_provider.h"

static char dirs[2][64];

static void setup(void)
{
  int i;

  ck_assert_int_eq(fake_register(), 0);
  fake_reset();
  for(i = 0; i < 2; i++) {
    snprintf(dirs[i], sizeof(dirs[i]), "/tmp/check_lease.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dirs[i]));
  }
  unsetenv("DROVER_LOCK_LEASE");
  unsetenv("DROVER_LOCK_RENEW");
  unsetenv("DROVER_LOCK_SKEW");
}

static void teardown(void)
{
  char path[128];
  int i;

  for(i = 0; i < 2; i++) {
    snprintf(path, sizeof(path), "%s/st.lock", dirs[i]);
    unlink(path);
    rmdir(dirs[i]);
  }
}

/* A fake wall clock: *(double *)arg. */
static double fake_wall(void *arg)
{
  return *(double *)arg;
}

/* Stack "st" on "host" h (its own lock directory). */
static drover_stack *host(int h, double lease, double renew, double skew)
{
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_stack *st = NULL;
  drover_error err;

  opts.lock_dir = dirs[h];
  opts.lock_lease = lease;
  opts.lock_renew = renew;
  opts.lock_skew = skew;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_open_bare(&st, "st", "{\"fake\":{}}", &opts, &err),
                   DROVER_OK);
  return st;
}

static const char *rec_str(const json_t *rec, const char *key)
{
  return json_string_value(json_object_get(rec, key));
}

/* Polls cond until it holds or 10 s pass (the event, with a deadline). */
#define WAIT_FOR(cond)                                                   \
  do {                                                                   \
    double until_ = drover_now() + 10;                                   \
    while(!(cond) && drover_now() < until_)                              \
      usleep(2000);                                                      \
    ck_assert_msg((cond), "timed out waiting for %s", #cond);            \
  } while(0)

START_TEST(judge_with_skew)
{
  json_t *r = json_pack("{s:s}", DV_LEASE_EXPIRES, "1000.000");
  double left;

  ck_assert_int_eq(dv_lease_judge(r, 999, 5, &left), DV_LEASE_HELD);
  ck_assert(left > 5.9 && left < 6.1);
  /* Past the expiry but within the skew: still held. */
  ck_assert_int_eq(dv_lease_judge(r, 1004.9, 5, NULL), DV_LEASE_HELD);
  ck_assert_int_eq(dv_lease_judge(r, 1005, 5, NULL), DV_LEASE_EXPIRED);
  json_object_set_new(r, DV_LEASE_EXPIRES, json_string("soon"));
  ck_assert_int_eq(dv_lease_judge(r, 1e12, 5, NULL), DV_LEASE_UNREADABLE);
  json_decref(r);
}
END_TEST

START_TEST(acquire_records_owner_and_releases)
{
  drover_stack *a = host(0, 30, 0, 1);
  drover_error err;
  json_t *rec;
  char pid[24];

  drover_error_clear(&err);
  setenv("SLURM_JOB_ID", "4242", 1);
  ck_assert_int_eq(drover_stack_lock(a, 0, &err), DROVER_OK);
  unsetenv("SLURM_JOB_ID");
  rec = fake_lock_get("st");
  ck_assert_ptr_nonnull(rec);
  ck_assert_uint_eq(strlen(rec_str(rec, DV_LEASE_ID)), DV_LEASE_ID_LEN);
  snprintf(pid, sizeof(pid), "%ld", (long)getpid());
  ck_assert_str_eq(rec_str(rec, DV_LEASE_PID), pid);
  ck_assert_str_eq(rec_str(rec, DV_LEASE_JOB), "4242");
  ck_assert(strlen(rec_str(rec, DV_LEASE_HOST)) > 0);
  ck_assert(atof(rec_str(rec, DV_LEASE_EXPIRES)) >=
            atof(rec_str(rec, DV_LEASE_ACQUIRED)) + 29.9);
  json_decref(rec);
  drover_stack_unlock(a);
  /* Released: the record is gone, the next holder creates its own. */
  ck_assert_ptr_null(fake_lock_get("st"));
  ck_assert_uint_eq(fake_lock_calls(FAKE_OP_LOCK_DELETE), 1);
  drover_stack_free(a);
}
END_TEST

START_TEST(second_host_is_refused_with_the_holder)
{
  drover_stack *a = host(0, 30, 0, 1), *b = host(1, 30, 0, 1);
  drover_error err;
  json_t *rec;
  double t0 = drover_now();

  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_lock(a, 0, &err), DROVER_OK);
  rec = fake_lock_get("st");
  ck_assert_int_eq(drover_stack_lock(b, 0.3, &err), DROVER_E_LOCKED);
  /* It waited (with backoff), then named the holder and the id to force. */
  ck_assert(drover_now() - t0 >= 0.3);
  ck_assert_msg(strstr(err.text, rec_str(rec, DV_LEASE_ID)) != NULL, "%s", err.text);
  ck_assert_msg(strstr(err.text, "drover force-unlock") != NULL, "%s", err.text);
  ck_assert_int_eq(b->lock_fd, -1); /* nothing of it kept */
  json_decref(rec);
  drover_stack_free(a); /* frees = unlocks */
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_lock(b, 0, &err), DROVER_OK);
  drover_stack_free(b);
}
END_TEST

typedef struct release_job {
  drover_stack *holder;
  unsigned reads_before;
} release_job;

/* Releases the holder once the waiter has read the record twice more. */
static void *release_later(void *arg)
{
  release_job *j = arg;
  double until = drover_now() + 10;

  while(fake_lock_calls(FAKE_OP_LOCK_READ) < j->reads_before + 2 && drover_now() < until)
    usleep(2000);
  drover_stack_unlock(j->holder);
  return NULL;
}

START_TEST(waiter_gets_it_when_released)
{
  drover_stack *a = host(0, 30, 0, 1), *b = host(1, 30, 0, 1);
  drover_error err;
  release_job j;
  pthread_t th;
  json_t *rec;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_lock(a, 0, &err), DROVER_OK);
  j.holder = a;
  j.reads_before = fake_lock_calls(FAKE_OP_LOCK_READ);
  ck_assert_int_eq(pthread_create(&th, NULL, release_later, &j), 0);
  ck_assert_int_eq(drover_stack_lock(b, 30, &err), DROVER_OK);
  pthread_join(th, NULL);
  rec = fake_lock_get("st");
  ck_assert_str_eq(rec_str(rec, DV_LEASE_ID), b->leases->id);
  json_decref(rec);
  drover_stack_free(b);
  drover_stack_free(a);
}
END_TEST

START_TEST(renewed_while_held)
{
  drover_stack *a = host(0, 2, 0.05, 0);
  drover_error err;
  json_t *rec;
  double first;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_lock(a, 0, &err), DROVER_OK);
  rec = fake_lock_get("st");
  first = atof(rec_str(rec, DV_LEASE_EXPIRES));
  json_decref(rec);
  WAIT_FOR(atomic_load(&a->leases->renewals) >= 3);
  rec = fake_lock_get("st");
  ck_assert(atof(rec_str(rec, DV_LEASE_EXPIRES)) > first);
  ck_assert_str_eq(rec_str(rec, DV_LEASE_ID), a->leases->id);
  json_decref(rec);
  ck_assert_int_eq(dv_lease_lost(a, NULL), 0);
  drover_stack_free(a);
  ck_assert_ptr_null(fake_lock_get("st"));
}
END_TEST

static const char dead_holder[] =
  "{\"id\":\"0123456789abcdef0123456789abcdef\",\"host\":\"node7\",\"pid\":\"99\","
  "\"job\":\"\",\"acquired\":\"1000.000\",\"expires\":\"1030.000\",\"lease\":\"30.000\"}";

START_TEST(dead_holder_taken_over_only_after_expiry)
{
  drover_stack *b = host(1, 30, 0, 5);
  drover_error err;
  double now = 1000;
  json_t *rec;

  ck_assert_int_eq(fake_lock_put("st", dead_holder), 0);
  b->wall = fake_wall;
  b->wall_arg = &now;
  /* Before the expiry, and after it within the skew: refused. */
  now = 1010;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_lock(b, 0, &err), DROVER_E_LOCKED);
  ck_assert_msg(strstr(err.text, "host node7, pid 99") != NULL, "%s", err.text);
  now = 1034.9;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_lock(b, 0, &err), DROVER_E_LOCKED);
  rec = fake_lock_get("st");
  ck_assert_str_eq(rec_str(rec, DV_LEASE_ID), "0123456789abcdef0123456789abcdef");
  json_decref(rec);
  /* Past expiry + skew: taken over by compare-and-swap. */
  now = 1035.1;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_lock(b, 0, &err), DROVER_OK);
  rec = fake_lock_get("st");
  ck_assert_str_eq(rec_str(rec, DV_LEASE_ID), b->leases->id);
  ck_assert(atof(rec_str(rec, DV_LEASE_EXPIRES)) >= 1065);
  json_decref(rec);
  drover_stack_free(b);
}
END_TEST

START_TEST(unreadable_record_is_never_taken)
{
  drover_stack *b = host(1, 30, 0, 0);
  drover_error err;
  double now = 1e10;

  ck_assert_int_eq(fake_lock_put("st", "{\"id\":\"x\",\"expires\":\"later\"}"), 0);
  b->wall = fake_wall;
  b->wall_arg = &now;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_lock(b, 0, &err), DROVER_E_LOCKED);
  drover_stack_free(b);
}
END_TEST

START_TEST(force_unlock_needs_the_id)
{
  drover_stack *b = host(1, 30, 0, 5);
  drover_error err;
  json_t *rec;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_force_unlock(b, "0123", &err), DROVER_E_NOT_FOUND);
  ck_assert_int_eq(fake_lock_put("st", dead_holder), 0);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_force_unlock(b, "ffffffffffffffffffffffffffffffff", &err),
                   DROVER_E_ARG);
  ck_assert_msg(strstr(err.text, "0123456789abcdef0123456789abcdef") != NULL, "%s",
                err.text);
  rec = fake_lock_get("st");
  ck_assert_ptr_nonnull(rec); /* refused: untouched */
  json_decref(rec);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_force_unlock(b, "0123456789abcdef0123456789abcdef", &err),
                   DROVER_OK);
  ck_assert_ptr_null(fake_lock_get("st"));
  /* Now free: no waiting for the expiry. */
  ck_assert_int_eq(drover_stack_lock(b, 0, &err), DROVER_OK);
  drover_stack_free(b);
}
END_TEST

START_TEST(lost_lease_is_noticed)
{
  drover_stack *a = host(0, 2, 0.05, 0);
  drover_error err, why;
  json_t *rec;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_lock(a, 0, &err), DROVER_OK);
  /* Someone else's record replaces ours (a takeover after a long stall). */
  ck_assert_int_eq(fake_lock_put("st", dead_holder), 0);
  WAIT_FOR(dv_lease_lost(a, NULL));
  drover_error_clear(&why);
  ck_assert_int_eq(dv_lease_lost(a, &why), 1);
  ck_assert_int_eq(why.code, DROVER_E_LOCKED);
  ck_assert_msg(strstr(why.text, "taken over") != NULL, "%s", why.text);
  drover_stack_free(a);
  /* Theirs is left alone on release. */
  rec = fake_lock_get("st");
  ck_assert_ptr_nonnull(rec);
  ck_assert_str_eq(rec_str(rec, DV_LEASE_ID), "0123456789abcdef0123456789abcdef");
  json_decref(rec);
}
END_TEST

START_TEST(renewal_survives_a_lost_answer)
{
  drover_stack *a = host(0, 2, 0.05, 0);
  drover_error err;
  unsigned r;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_lock(a, 0, &err), DROVER_OK);
  /* Two renewals fail outright; the lease still holds (2 s) and the next
   * renewal goes through. */
  fake_lock_fail(FAKE_OP_LOCK_WRITE, 2, DROVER_E_TRANSIENT);
  r = atomic_load(&a->leases->renewals);
  WAIT_FOR(atomic_load(&a->leases->renewals) > r);
  ck_assert_int_eq(dv_lease_lost(a, NULL), 0);
  drover_stack_free(a);
}
END_TEST

START_TEST(without_leases_the_file_lock_remains)
{
  drover_stack *a = host(0, -1, 0, 0), *b;
  drover_error err;

  /* Turned off by the options: no lock op at all. */
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_lock(a, 0, &err), DROVER_OK);
  ck_assert_uint_eq(fake_lock_calls(FAKE_OP_LOCK_READ), 0);
  ck_assert_ptr_null(a->leases);
  drover_stack_free(a);
  /* A cloud that answers "unsupported": the file lock alone. */
  fake_lock_set_enabled(0);
  a = host(0, 30, 0, 0);
  b = host(0, 30, 0, 0); /* same host: the file lock still excludes */
  ck_assert_int_eq(drover_stack_lock(a, 0, &err), DROVER_OK);
  ck_assert_uint_eq(fake_lock_calls(FAKE_OP_LOCK_CREATE), 0);
  ck_assert_int_eq(drover_stack_lock(b, 0, &err), DROVER_E_LOCKED);
  drover_stack_free(b);
  drover_stack_free(a);
}
END_TEST

typedef struct taker {
  unsigned after;   /* creates before the takeover */
} taker;

/* Another host takes the lease over (as after a long stall of ours) once
 * the apply has made some objects. */
static void *take_over_later(void *arg)
{
  taker *t = arg;
  double until = drover_now() + 10;

  while(fake_calls(FAKE_OP_CREATE, NULL) < t->after && drover_now() < until)
    usleep(1000);
  ck_assert_int_eq(fake_lock_put("st", dead_holder), 0);
  return NULL;
}

/* A lost lease stops the apply: nothing more is started, and it fails
 * with the lock code, saying why. 100 slow actions one at a time leave
 * the renewal (every 0.05 s) ample time to notice. */
START_TEST(apply_stops_when_the_lease_is_lost)
{
  static const char tpl_text[] =
    "{\"drover\": 1, \"stack\": \"st\", \"resources\": {\"t\": {\"type\": "
    "\"fake.thing\", \"count\": 100, \"properties\": {\"image\": \"i\"}}}}";
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_apply_opts ao = DROVER_APPLY_OPTS_INIT;
  drover_apply_result res;
  drover_template *tpl = NULL;
  drover_stack *st = NULL;
  drover_plan *plan = NULL;
  drover_error err;
  taker t = {3};
  pthread_t th;

  opts.lock_dir = dirs[0];
  opts.lock_lease = 2;
  opts.lock_renew = 0.05;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_template_load_buffer(&tpl, tpl_text, strlen(tpl_text), "t.json",
                                               &err), DROVER_OK);
  ck_assert_int_eq(drover_stack_open(&st, tpl, NULL, &opts, &err), DROVER_OK);
  ck_assert_int_eq(drover_stack_lock(st, 0, &err), DROVER_OK);
  ck_assert_int_eq(drover_stack_refresh(st, &err), DROVER_OK);
  ck_assert_int_eq(drover_plan_new(&plan, st, 0, &err), DROVER_OK);
  fake_set_delay(0.05);
  ao.parallelism = 1;
  ck_assert_int_eq(pthread_create(&th, NULL, take_over_later, &t), 0);
  ck_assert_int_eq(drover_apply(plan, &ao, &res, &err), DROVER_E_LOCKED);
  pthread_join(th, NULL);
  ck_assert_msg(strstr(err.text, "taken over") != NULL, "%s", err.text);
  ck_assert_uint_gt(res.skipped, 0);
  ck_assert_uint_lt(res.created, 100);
  ck_assert_uint_eq(res.created + res.skipped, 100);
  drover_plan_free(plan);
  drover_stack_free(st);
  drover_template_free(tpl);
}
END_TEST

START_TEST(bad_settings_are_errors)
{
  drover_stack *a = host(0, 1, 0.9, 0);
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_lock(a, 0, &err), DROVER_E_ARG);
  ck_assert_int_eq(a->lock_fd, -1);
  drover_stack_free(a);
  setenv("DROVER_LOCK_LEASE", "soon", 1);
  a = host(0, 0, 0, 0);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_lock(a, 0, &err), DROVER_E_ARG);
  ck_assert_msg(strstr(err.text, "DROVER_LOCK_LEASE") != NULL, "%s", err.text);
  drover_stack_free(a);
  unsetenv("DROVER_LOCK_LEASE");
}
END_TEST

static Suite *suite(void)
{
  Suite *s = suite_create("lease");
  TCase *tc = tcase_create("core");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, judge_with_skew);
  tcase_add_test(tc, acquire_records_owner_and_releases);
  tcase_add_test(tc, second_host_is_refused_with_the_holder);
  tcase_add_test(tc, waiter_gets_it_when_released);
  tcase_add_test(tc, renewed_while_held);
  tcase_add_test(tc, dead_holder_taken_over_only_after_expiry);
  tcase_add_test(tc, unreadable_record_is_never_taken);
  tcase_add_test(tc, force_unlock_needs_the_id);
  tcase_add_test(tc, lost_lease_is_noticed);
  tcase_add_test(tc, renewal_survives_a_lost_answer);
  tcase_add_test(tc, without_leases_the_file_lock_remains);
  tcase_add_test(tc, apply_stops_when_the_lease_is_lost);
  tcase_add_test(tc, bad_settings_are_errors);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(suite());
  int failed;

  drover_global_init();
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  drover_global_cleanup();
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
