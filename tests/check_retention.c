/* check_retention.c - retention rules over a fake clock: a year of hourly
 * snapshots and shorter runs across DST changes, with golden tables of
 * exactly what each rule and combination keeps and why. Expected rows were
 * worked out by hand from the calendar (local time in the policy's zone),
 * not produced by the code under test. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "schedule.h"
#include "run_suite.h"

static time_t utc(int y, int mo, int d, int h)
{
  return (time_t)dv_days_from_civil(y, mo, d) * 86400 + h * 3600;
}

/* Snapshots every step seconds in [from, to], both UTC instants. Caller
 * frees. */
static time_t *series(time_t from, time_t to, int step, size_t *n)
{
  size_t i, cnt = (size_t)((to - from) / step) + 1;
  time_t *t = malloc(cnt * sizeof(*t));

  ck_assert_ptr_nonnull(t);
  /* Shuffled order in: the engine must sort, not trust input order (7919
   * is prime, so i * 7919 % cnt visits every index). */
  ck_assert_uint_ne(cnt % 7919, 0);
  for(i = 0; i < cnt; i++)
    t[i] = from + (time_t)((i * 7919u) % cnt) * step;
  *n = cnt;
  return t;
}

/* Applies r and renders the kept snapshots newest first, one line each:
 * "<local time> <reasons>". Caller frees. */
static char *kept(const dv_retention *r, const time_t *t, size_t n, time_t now)
{
  unsigned *by = calloc(n ? n : 1, sizeof(*by));
  size_t *idx = malloc((n ? n : 1) * sizeof(*idx));
  size_t i, j, k = 0, cap = 256, len = 0;
  char *out = malloc(cap);
  drover_error err;

  ck_assert_ptr_nonnull(by);
  ck_assert_ptr_nonnull(idx);
  ck_assert_ptr_nonnull(out);
  out[0] = '\0';
  drover_error_clear(&err);
  ck_assert_msg(dv_retention_apply(r, t, n, now, by, &err) == DROVER_OK, "%s", err.text);
  for(i = 0; i < n; i++)
    if(by[i])
      idx[k++] = i;
  /* insertion sort, newest first (tables are small) */
  for(i = 1; i < k; i++)
    for(j = i; j > 0 && t[idx[j]] > t[idx[j - 1]]; j--) {
      size_t tmp = idx[j];
      idx[j] = idx[j - 1];
      idx[j - 1] = tmp;
    }
  for(i = 0; i < k; i++) {
    char when[64], why[128];
    ck_assert_int_eq(dv_tz_format(r->tz, t[idx[i]], when, sizeof(when), &err), 0);
    dv_retention_reasons(by[idx[i]], why, sizeof(why));
    while(len + strlen(when) + strlen(why) + 3 > cap) {
      cap *= 2;
      out = realloc(out, cap);
      ck_assert_ptr_nonnull(out);
    }
    len += (size_t)sprintf(out + len, "%s %s\n", when, why);
  }
  free(by);
  free(idx);
  return out;
}

/* Asserts that r over t[0..n-1] at now keeps golden; what names the case. */
static void expect_kept(const char *what, const dv_retention *r, const time_t *t, size_t n,
                        time_t now, const char *golden)
{
  char *got = kept(r, t, n, now);

  ck_assert_msg(!strcmp(got, golden), "%s kept:\n%s\nexpected:\n%s", what, got, golden);
  free(got);
}

/* A year of hourly snapshots, 2025-01-01T00Z .. 2025-12-31T23Z (8760). */
static time_t *year_ts;
static size_t year_n;
static time_t year_now;

static void year_setup(void)
{
  year_ts = series(utc(2025, 1, 1, 0), utc(2025, 12, 31, 23), 3600, &year_n);
  year_now = utc(2025, 12, 31, 23) + 1800;
}

static void year_teardown(void)
{
  free(year_ts);
}

START_TEST(year_has_8760)
{
  ck_assert_uint_eq(year_n, 8760);
}
END_TEST

/* Each rule or combination over the year: what it keeps and why. */
static const struct {
  const char *name;
  dv_retention r;
  const char *golden;
} year_cases[] = {
  {"keep_last_only", { .keep_last = 3, .tz = "Europe/Berlin" },
   "2026-01-01T00:00:00+01:00 last\n"
   "2025-12-31T23:00:00+01:00 last\n"
   "2025-12-31T22:00:00+01:00 last\n"},
  /* The newest snapshot, 23:00Z, is already 1 January in Berlin. */
  {"daily_berlin", { .keep_daily = 4, .tz = "Europe/Berlin" },
   "2026-01-01T00:00:00+01:00 daily\n"
   "2025-12-31T23:00:00+01:00 daily\n"
   "2025-12-30T23:00:00+01:00 daily\n"
   "2025-12-29T23:00:00+01:00 daily\n"},
  {"daily_utc_differs", { .keep_daily = 2, .tz = "UTC" },
   "2025-12-31T23:00:00+00:00 daily\n"
   "2025-12-30T23:00:00+00:00 daily\n"},
  /* 2026-01-01 (Thursday) is in ISO week 2026-W01, which began Monday
   * 29 December; earlier weeks end on Sundays. */
  {"weekly_iso_weeks", { .keep_weekly = 4, .tz = "Europe/Berlin" },
   "2026-01-01T00:00:00+01:00 weekly\n"
   "2025-12-28T23:00:00+01:00 weekly\n"
   "2025-12-21T23:00:00+01:00 weekly\n"
   "2025-12-14T23:00:00+01:00 weekly\n"},
  /* 13 months have snapshots (Jan 2025 .. Jan 2026 in Berlin); the 14th
   * count keeps the very first snapshot as the oldest monthly. Summer
   * months end in CEST (+02:00). */
  {"monthly_with_oldest", { .keep_monthly = 14, .tz = "Europe/Berlin" },
   "2026-01-01T00:00:00+01:00 monthly\n"
   "2025-12-31T23:00:00+01:00 monthly\n"
   "2025-11-30T23:00:00+01:00 monthly\n"
   "2025-10-31T23:00:00+01:00 monthly\n"
   "2025-09-30T23:00:00+02:00 monthly\n"
   "2025-08-31T23:00:00+02:00 monthly\n"
   "2025-07-31T23:00:00+02:00 monthly\n"
   "2025-06-30T23:00:00+02:00 monthly\n"
   "2025-05-31T23:00:00+02:00 monthly\n"
   "2025-04-30T23:00:00+02:00 monthly\n"
   "2025-03-31T23:00:00+02:00 monthly\n"
   "2025-02-28T23:00:00+01:00 monthly\n"
   "2025-01-31T23:00:00+01:00 monthly\n"
   "2025-01-01T01:00:00+01:00 oldest-monthly\n"},
  /* In New York the first snapshots (00:00Z..04:00Z 1 Jan) are still
   * 2024: the year 2024 has a newest snapshot, and the third count keeps
   * the oldest. */
  {"yearly_new_york", { .keep_yearly = 3, .tz = "America/New_York" },
   "2025-12-31T18:00:00-05:00 yearly\n"
   "2024-12-31T23:00:00-05:00 yearly\n"
   "2024-12-31T19:00:00-05:00 oldest-yearly\n"},
  /* A snapshot kept by several rules names each; counts run per rule. */
  {"gfs_combination", { .keep_last = 2, .keep_daily = 3, .keep_weekly = 2, .keep_monthly = 2, .tz = "Europe/Berlin" },
   "2026-01-01T00:00:00+01:00 last,daily,weekly,monthly\n"
   "2025-12-31T23:00:00+01:00 last,daily,monthly\n"
   "2025-12-30T23:00:00+01:00 daily\n"
   "2025-12-28T23:00:00+01:00 weekly\n"},
  {"gfs_full_year", { .keep_hourly = 24, .keep_daily = 7, .keep_weekly = 4, .keep_monthly = 12, .keep_yearly = 2, .tz = "Europe/Berlin" },
   "2026-01-01T00:00:00+01:00 hourly,daily,weekly,monthly,yearly\n"
   "2025-12-31T23:00:00+01:00 hourly,daily,monthly,yearly\n"
   "2025-12-31T22:00:00+01:00 hourly\n"
   "2025-12-31T21:00:00+01:00 hourly\n"
   "2025-12-31T20:00:00+01:00 hourly\n"
   "2025-12-31T19:00:00+01:00 hourly\n"
   "2025-12-31T18:00:00+01:00 hourly\n"
   "2025-12-31T17:00:00+01:00 hourly\n"
   "2025-12-31T16:00:00+01:00 hourly\n"
   "2025-12-31T15:00:00+01:00 hourly\n"
   "2025-12-31T14:00:00+01:00 hourly\n"
   "2025-12-31T13:00:00+01:00 hourly\n"
   "2025-12-31T12:00:00+01:00 hourly\n"
   "2025-12-31T11:00:00+01:00 hourly\n"
   "2025-12-31T10:00:00+01:00 hourly\n"
   "2025-12-31T09:00:00+01:00 hourly\n"
   "2025-12-31T08:00:00+01:00 hourly\n"
   "2025-12-31T07:00:00+01:00 hourly\n"
   "2025-12-31T06:00:00+01:00 hourly\n"
   "2025-12-31T05:00:00+01:00 hourly\n"
   "2025-12-31T04:00:00+01:00 hourly\n"
   "2025-12-31T03:00:00+01:00 hourly\n"
   "2025-12-31T02:00:00+01:00 hourly\n"
   "2025-12-31T01:00:00+01:00 hourly\n"
   "2025-12-30T23:00:00+01:00 daily\n"
   "2025-12-29T23:00:00+01:00 daily\n"
   "2025-12-28T23:00:00+01:00 daily,weekly\n"
   "2025-12-27T23:00:00+01:00 daily\n"
   "2025-12-26T23:00:00+01:00 daily\n"
   "2025-12-21T23:00:00+01:00 weekly\n"
   "2025-12-14T23:00:00+01:00 weekly\n"
   "2025-11-30T23:00:00+01:00 monthly\n"
   "2025-10-31T23:00:00+01:00 monthly\n"
   "2025-09-30T23:00:00+02:00 monthly\n"
   "2025-08-31T23:00:00+02:00 monthly\n"
   "2025-07-31T23:00:00+02:00 monthly\n"
   "2025-06-30T23:00:00+02:00 monthly\n"
   "2025-05-31T23:00:00+02:00 monthly\n"
   "2025-04-30T23:00:00+02:00 monthly\n"
   "2025-03-31T23:00:00+02:00 monthly\n"
   "2025-02-28T23:00:00+01:00 monthly\n"},
  {"max_age_alone", { .max_age = 3 * 3600, .tz = "UTC" },
   "2025-12-31T23:00:00+00:00 max_age\n"
   "2025-12-31T22:00:00+00:00 max_age\n"
   "2025-12-31T21:00:00+00:00 max_age\n"},
  /* now = 2026-01-01T00:30+01:00; two days back is 29 Dec 23:30Z, so the
   * oldest eligible is 30 Dec 01:00 Berlin: the daily rule keeps three
   * days, then that oldest one with its count left. keep_monthly would
   * reach back months without the limit. */
  {"max_age_limits_rules", { .keep_daily = 7, .keep_monthly = 6, .max_age = 2 * 86400, .tz = "Europe/Berlin" },
   "2026-01-01T00:00:00+01:00 daily,monthly\n"
   "2025-12-31T23:00:00+01:00 daily,monthly\n"
   "2025-12-30T23:00:00+01:00 daily\n"
   "2025-12-30T01:00:00+01:00 oldest-daily,oldest-monthly\n"},
};

START_TEST(year_rules)
{
  expect_kept(year_cases[_i].name, &year_cases[_i].r, year_ts, year_n, year_now,
              year_cases[_i].golden);
}
END_TEST

/* ------------------------------------------------------------------------
 * DST
 */

/* The half-hourly series over Berlin's fall-back day, and its two newest
 * days. */
#define HALF_HOURLY_FALL_BACK \
  {2025, 10, 25, 21, 0}, {2025, 10, 26, 22, 30}, 1800, {2025, 10, 27, 0, 0}
#define FALL_BACK_TWO_DAYS \
  "2025-10-26T23:30:00+01:00 daily\n" "2025-10-25T23:30:00+02:00 daily\n"

/* Rules over a regular series of snapshots, from..to (UTC, {year, month,
 * day, hour, minute}) every step seconds, applied at now. */
static const struct {
  const char *name;
  dv_retention r;
  int from[5], to[5], step, now[5];
  const char *golden;
} dst_cases[] = {
  /* 26 Oct 2025: 03:00 CEST -> 02:00 CET at 01:00Z. The 02:00 hour occurs
   * twice; each real hour is its own period. */
  {"hourly_fall_back_berlin", { .keep_hourly = 5, .tz = "Europe/Berlin" },
   {2025, 10, 25, 20, 0}, {2025, 10, 26, 3, 0}, 3600, {2025, 10, 26, 4, 0},
   "2025-10-26T04:00:00+01:00 hourly\n"
   "2025-10-26T03:00:00+01:00 hourly\n"
   "2025-10-26T02:00:00+01:00 hourly\n"
   "2025-10-26T02:00:00+02:00 hourly\n"
   "2025-10-26T01:00:00+02:00 hourly\n"},
  /* Half-hourly snapshots; 26 Oct in Berlin spans 22:00Z..23:00Z next
   * day. keep_daily 3 reaches the oldest: 25 Oct 23:00 CEST is the same
   * day. */
  {"daily_fall_back_day_has_25_hours", { .keep_daily = 2, .tz = "Europe/Berlin" },
   HALF_HOURLY_FALL_BACK, FALL_BACK_TWO_DAYS},
  {"daily_fall_back_reaches_oldest", { .keep_daily = 3, .tz = "Europe/Berlin" },
   HALF_HOURLY_FALL_BACK, FALL_BACK_TWO_DAYS "2025-10-25T23:00:00+02:00 oldest-daily\n"},
  /* 9 Mar 2025: 02:00 EST -> 03:00 EDT at 07:00Z; no 02:00 hour. */
  {"spring_forward_new_york", { .keep_hourly = 4, .tz = "America/New_York" },
   {2025, 3, 9, 4, 0}, {2025, 3, 9, 8, 0}, 3600, {2025, 3, 9, 9, 0},
   "2025-03-09T04:00:00-04:00 hourly\n"
   "2025-03-09T03:00:00-04:00 hourly\n"
   "2025-03-09T01:00:00-05:00 hourly\n"
   "2025-03-09T00:00:00-05:00 hourly\n"},
  /* The 23-hour day: its newest is 23:00 EDT = 03:00Z on the 10th. */
  {"spring_forward_day_has_23_hours", { .keep_daily = 3, .tz = "America/New_York" },
   {2025, 3, 8, 0, 0}, {2025, 3, 10, 4, 0}, 3600, {2025, 3, 10, 5, 0},
   "2025-03-10T00:00:00-04:00 daily\n"
   "2025-03-09T23:00:00-04:00 daily\n"
   "2025-03-08T23:00:00-05:00 daily\n"},
};

static time_t utc_of(const int t[5])
{
  return utc(t[0], t[1], t[2], t[3]) + t[4] * 60;
}

START_TEST(dst_rules)
{
  size_t n;
  time_t *t = series(utc_of(dst_cases[_i].from), utc_of(dst_cases[_i].to),
                     dst_cases[_i].step, &n);

  expect_kept(dst_cases[_i].name, &dst_cases[_i].r, t, n, utc_of(dst_cases[_i].now),
              dst_cases[_i].golden);
  free(t);
}
END_TEST

START_TEST(periods_without_snapshots_do_not_count)
{
  /* Snapshots on 1, 2, 5 and 9 June only: the three newest days that
   * have one, not the last three calendar days. */
  time_t t[4] = { utc(2025, 6, 1, 12), utc(2025, 6, 2, 12), utc(2025, 6, 5, 12),
                  utc(2025, 6, 9, 12) };
  dv_retention r = { .keep_daily = 3, .tz = "UTC" };

  expect_kept("sparse days", &r, t, 4, utc(2025, 6, 10, 0),
              "2025-06-09T12:00:00+00:00 daily\n"
              "2025-06-05T12:00:00+00:00 daily\n"
              "2025-06-02T12:00:00+00:00 daily\n");
}
END_TEST

START_TEST(unlimited_and_errors)
{
  time_t t[3] = { utc(2025, 6, 1, 1), utc(2025, 6, 1, 2), utc(2025, 6, 2, 1) };
  unsigned by[3];
  drover_error err;
  dv_retention r = { .keep_daily = DV_KEEP_UNLIMITED, .tz = "UTC" };

  /* Unlimited never runs out, so (as in restic) the oldest is kept too. */
  expect_kept("unlimited", &r, t, 3, utc(2025, 6, 3, 0),
              "2025-06-02T01:00:00+00:00 daily\n"
              "2025-06-01T02:00:00+00:00 daily\n"
              "2025-06-01T01:00:00+00:00 oldest-daily\n");
  memset(&r, 0, sizeof(r));
  drover_error_clear(&err);
  ck_assert_int_eq(dv_retention_apply(&r, t, 3, 0, by, &err), DROVER_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.text, "no rule"));
  r.keep_daily = 1;
  r.tz = "Mars/Olympus_Mons";
  drover_error_clear(&err);
  ck_assert_int_eq(dv_retention_apply(&r, t, 3, 0, by, &err), DROVER_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.text, "unknown time zone"));
  r.tz = "../etc/passwd";
  drover_error_clear(&err);
  ck_assert_int_eq(dv_retention_apply(&r, t, 3, 0, by, &err), DROVER_E_ARG);
}
END_TEST

START_TEST(tz_restored)
{
  /* The zone switch must leave the process's TZ as it found it. */
  dv_civil c;
  drover_error err;

  setenv("TZ", "Asia/Tokyo", 1);
  tzset();
  ck_assert_int_eq(dv_tz_local("Europe/Berlin", utc(2025, 7, 1, 0), &c, &err), 0);
  ck_assert_int_eq(c.gmtoff, 7200);
  ck_assert_str_eq(getenv("TZ"), "Asia/Tokyo");
  unsetenv("TZ");
  ck_assert_int_eq(dv_tz_local("UTC", 0, &c, &err), 0);
  ck_assert_ptr_null(getenv("TZ"));
}
END_TEST

START_TEST(civil_calendar)
{
  int y, m, d, iy, iw;

  ck_assert_int_eq(dv_days_from_civil(1970, 1, 1), 0);
  ck_assert_int_eq(dv_days_from_civil(2000, 3, 1), 11017);
  dv_civil_from_days(dv_days_from_civil(2024, 2, 29), &y, &m, &d);
  ck_assert(y == 2024 && m == 2 && d == 29);
  ck_assert_int_eq(dv_weekday(dv_days_from_civil(2025, 11, 30)), 0); /* Sunday */
  dv_iso_week(2021, 1, 3, &iy, &iw); /* Sunday: still 2020-W53 */
  ck_assert(iy == 2020 && iw == 53);
  dv_iso_week(2024, 12, 30, &iy, &iw); /* Monday: already 2025-W01 */
  ck_assert(iy == 2025 && iw == 1);
}
END_TEST

static Suite *suite(void)
{
  Suite *s = suite_create("retention");
  TCase *tc = tcase_create("year");

  tcase_add_unchecked_fixture(tc, year_setup, year_teardown);
  tcase_add_test(tc, year_has_8760);
  tcase_add_loop_test(tc, year_rules, 0, sizeof(year_cases) / sizeof(year_cases[0]));
  suite_add_tcase(s, tc);
  tc = tcase_create("dst");
  tcase_add_loop_test(tc, dst_rules, 0, sizeof(dst_cases) / sizeof(dst_cases[0]));
  tcase_add_test(tc, periods_without_snapshots_do_not_count);
  tcase_add_test(tc, unlimited_and_errors);
  tcase_add_test(tc, tz_restored);
  tcase_add_test(tc, civil_calendar);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(suite());
}
