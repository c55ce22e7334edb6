/* check_cron.c - cron parsing (with the column of a bad field), next slot
 * and slot-of in UTC and across DST gaps and overlaps in Berlin and New
 * York. Expected instants are worked out from the calendar by hand. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "schedule.h"
#include "run_suite.h"

static time_t utc(int y, int mo, int d, int h, int mi)
{
  return (time_t)dv_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

static dv_cron parse_ok(const char *expr, const char *tz)
{
  dv_cron c;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_msg(dv_cron_parse(&c, expr, tz, &err) == DROVER_OK, "%s: %s", expr, err.text);
  return c;
}

static void parse_bad(const char *expr, int column, const char *needle)
{
  dv_cron c;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_msg(dv_cron_parse(&c, expr, "UTC", &err) == DROVER_E_ARG, "%s parsed", expr);
  ck_assert_msg(strstr(err.text, needle), "%s: \"%s\" lacks \"%s\"", expr, err.text, needle);
  ck_assert_msg(err.column == column, "%s: column %d, expected %d", expr, err.column, column);
}

static time_t next(const dv_cron *c, time_t t)
{
  time_t out = 0;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_msg(dv_cron_next(c, t, &out, &err) == DROVER_OK, "%s", err.text);
  return out;
}

static time_t slot_of(const dv_cron *c, time_t t)
{
  time_t out = 0;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_msg(dv_cron_slot_of(c, t, &out, &err) == DROVER_OK, "%s", err.text);
  return out;
}

/* A cron expression that must not parse: the column of the bad field and
 * a piece of the message. */
static const struct {
  const char *expr;
  int column;
  const char *needle;
} bad_exprs[] = {
  {"61 * * * *", 1, "minute field \"61\": value out of range"},
  {"0 25 * * *", 3, "hour field"},
  {"0  0 * * 8", 10, "day of week"},
  {"0 0 * foo *", 7, "month field \"foo\""},
  {"0 0 * * *,", 9, "empty list item"},
  {"5-1 * * * *", 1, "backwards"},
  {"*/0 * * * *", 1, "step out of range"},
  {"0 0 30 2 *", 5, "never matches"},
  {"0 0 * *", 0, "4 fields"},
  {"0 0 * * * *", 11, "more than 5 fields"},
  {"@fortnightly", 1, "unknown cron macro"},
};

START_TEST(parse_errors)
{
  parse_bad(bad_exprs[_i].expr, bad_exprs[_i].column, bad_exprs[_i].needle);
}
END_TEST

START_TEST(parse_forms)
{
  dv_cron c = parse_ok("*/15 9-17 * jan,Jul mon-fri", "UTC");
  drover_error err;

  ck_assert_uint_eq(c.minutes, (1ull << 0) | (1ull << 15) | (1ull << 30) | (1ull << 45));
  ck_assert_uint_eq(c.hours, 0x3fe00u);
  ck_assert_uint_eq(c.months, (1u << 1) | (1u << 7));
  ck_assert_uint_eq(c.wdays, 0x3eu);
  c = parse_ok("0 0 * * 7", NULL); /* 7 is Sunday too */
  ck_assert_uint_eq(c.wdays, 1u);
  c = parse_ok("5/20 * * * *", "UTC");
  ck_assert_uint_eq(c.minutes, (1ull << 5) | (1ull << 25) | (1ull << 45));
  c = parse_ok("  @Weekly ", "UTC");
  ck_assert_uint_eq(c.wdays, 1u);
  ck_assert_uint_eq(c.minutes, 1u);
  drover_error_clear(&err);
  ck_assert_int_eq(dv_cron_parse(&c, "@daily", "Europe/Nowhere", &err), DROVER_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.text, "unknown time zone"));
}
END_TEST

/* One expectation: the next slot strictly after `at` (NEXT), or the slot
 * `at` falls in (SLOT); times in UTC as {year, month, day, hour, minute}. */
enum { NEXT, SLOT };
typedef struct cron_case {
  const char *expr, *tz;
  int op;
  int at[5], want[5];
} cron_case;

static const cron_case cron_cases[] = {
  /* UTC: a slot time gives the following slot; year and month ends; the
   * next 29 February. */
  {"*/15 * * * *", "UTC", NEXT, {2025, 5, 1, 10, 7}, {2025, 5, 1, 10, 15}},
  {"*/15 * * * *", "UTC", NEXT, {2025, 5, 1, 10, 15}, {2025, 5, 1, 10, 30}},
  {"@daily", "UTC", NEXT, {2025, 12, 31, 23, 59}, {2026, 1, 1, 0, 0}},
  {"@monthly", NULL, NEXT, {2025, 1, 31, 12, 0}, {2025, 2, 1, 0, 0}},
  {"0 0 29 2 *", "UTC", NEXT, {2025, 3, 1, 0, 0}, {2028, 2, 29, 0, 0}},
  /* Vixie: both day fields restricted means either: the 10th or a Friday.
   * 2025-06-06 is a Friday; after it comes the 10th. */
  {"0 0 10 * fri", "UTC", NEXT, {2025, 6, 1, 0, 0}, {2025, 6, 6, 0, 0}},
  {"0 0 10 * fri", "UTC", NEXT, {2025, 6, 6, 0, 0}, {2025, 6, 10, 0, 0}},
  /* day-of-month "*" with a weekday: only the weekday decides */
  {"0 12 * * sat", "UTC", NEXT, {2025, 6, 1, 0, 0}, {2025, 6, 7, 12, 0}},
  /* 03:00 in Berlin summer is 01:00Z, in winter 02:00Z; in New York
   * 03:00 EDT is 07:00Z. */
  {"0 3 * * *", "Europe/Berlin", NEXT, {2025, 7, 1, 0, 0}, {2025, 7, 1, 1, 0}},
  {"0 3 * * *", "Europe/Berlin", NEXT, {2025, 1, 1, 0, 0}, {2025, 1, 1, 2, 0}},
  {"0 3 * * *", "America/New_York", NEXT, {2025, 7, 1, 0, 0}, {2025, 7, 1, 7, 0}},
  /* Berlin gap, 30 Mar 2025: 02:00 CET -> 03:00 CEST at 01:00Z. 02:30
   * does not exist and moves to 03:30 CEST (01:30Z). */
  {"30 2 * * *", "Europe/Berlin", NEXT, {2025, 3, 29, 12, 0}, {2025, 3, 30, 1, 30}},
  {"30 2 * * *", "Europe/Berlin", NEXT, {2025, 3, 30, 1, 30}, {2025, 3, 31, 0, 30}},
  {"30 2 * * *", "Europe/Berlin", SLOT, {2025, 3, 30, 1, 29}, {2025, 3, 29, 1, 30}},
  {"30 2 * * *", "Europe/Berlin", SLOT, {2025, 3, 30, 1, 30}, {2025, 3, 30, 1, 30}},
  /* Berlin overlap, 26 Oct 2025: 03:00 CEST -> 02:00 CET at 01:00Z;
   * 02:30 happens at 00:30Z and at 01:30Z. A fixed-hour job runs once, at
   * the first... */
  {"30 2 * * *", "Europe/Berlin", NEXT, {2025, 10, 25, 12, 0}, {2025, 10, 26, 0, 30}},
  {"30 2 * * *", "Europe/Berlin", NEXT, {2025, 10, 26, 0, 30}, {2025, 10, 27, 1, 30}},
  {"30 2 * * *", "Europe/Berlin", SLOT, {2025, 10, 26, 1, 45}, {2025, 10, 26, 0, 30}},
  /* ...an hour-wildcard job in both 02:xx hours. */
  {"30 * * * *", "Europe/Berlin", NEXT, {2025, 10, 25, 23, 0}, {2025, 10, 25, 23, 30}},
  {"30 * * * *", "Europe/Berlin", NEXT, {2025, 10, 25, 23, 30}, {2025, 10, 26, 0, 30}},
  {"30 * * * *", "Europe/Berlin", NEXT, {2025, 10, 26, 0, 30}, {2025, 10, 26, 1, 30}},
  {"30 * * * *", "Europe/Berlin", NEXT, {2025, 10, 26, 1, 30}, {2025, 10, 26, 2, 30}},
  {"@hourly", "Europe/Berlin", SLOT, {2025, 10, 26, 1, 20}, {2025, 10, 26, 1, 0}},
  /* New York gap, 9 Mar 2025: 02:00 EST -> 03:00 EDT at 07:00Z. 02:30
   * moves to 03:30 EDT, which is also a slot of its own: one slot, not
   * two. */
  {"30 * * * *", "America/New_York", NEXT, {2025, 3, 9, 6, 0}, {2025, 3, 9, 6, 30}},
  {"30 * * * *", "America/New_York", NEXT, {2025, 3, 9, 6, 30}, {2025, 3, 9, 7, 30}},
  {"30 * * * *", "America/New_York", NEXT, {2025, 3, 9, 7, 30}, {2025, 3, 9, 8, 30}},
  /* slot_of away from transitions */
  {"@daily", "Europe/Berlin", SLOT, {2025, 6, 15, 10, 0}, {2025, 6, 14, 22, 0}},
  {"@daily", "Europe/Berlin", SLOT, {2025, 6, 14, 22, 0}, {2025, 6, 14, 22, 0}},
  {"0 */6 * * *", "UTC", SLOT, {2025, 6, 15, 11, 59}, {2025, 6, 15, 6, 0}},
};

static time_t utc_of(const int t[5])
{
  return utc(t[0], t[1], t[2], t[3], t[4]);
}

START_TEST(slots)
{
  const cron_case *k = &cron_cases[_i];
  dv_cron c = parse_ok(k->expr, k->tz);
  time_t at = utc_of(k->at), got = k->op == NEXT ? next(&c, at) : slot_of(&c, at);

  ck_assert_msg(got == utc_of(k->want), "case %d: %s of \"%s\" (%s) at %lld: %lld, expected %lld",
                _i, k->op == NEXT ? "next" : "slot", k->expr, k->tz ? k->tz : "UTC",
                (long long)at, (long long)got, (long long)utc_of(k->want));
}
END_TEST

START_TEST(year_of_slots)
{
  /* @hourly over 2025 in Berlin: every real hour once (8760), the gap
   * hour folded into 03:00, both overlap hours present; @daily in New
   * York: 365. slot_of just before each slot gives the previous one. */
  dv_cron c = parse_ok("@hourly", "Europe/Berlin");
  time_t t = utc(2024, 12, 31, 22, 59), prev = 0, end = utc(2025, 12, 31, 23, 0);
  int n = 0;

  for(;;) {
    t = next(&c, t);
    if(t >= end)
      break;
    if(prev)
      ck_assert_int_eq(slot_of(&c, t - 1), prev);
    ck_assert_int_eq(slot_of(&c, t), t);
    prev = t;
    n++;
  }
  ck_assert_int_eq(n, 8760);
  c = parse_ok("@daily", "America/New_York");
  t = utc(2025, 1, 1, 4, 59);
  end = utc(2026, 1, 1, 5, 0);
  for(n = 0;; n++) {
    t = next(&c, t);
    if(t >= end)
      break;
  }
  ck_assert_int_eq(n, 365);
}
END_TEST

static Suite *suite(void)
{
  Suite *s = suite_create("cron");
  TCase *tc = tcase_create("cron");

  tcase_add_loop_test(tc, parse_errors, 0, sizeof(bad_exprs) / sizeof(bad_exprs[0]));
  tcase_add_test(tc, parse_forms);
  tcase_add_loop_test(tc, slots, 0, sizeof(cron_cases) / sizeof(cron_cases[0]));
  tcase_add_test(tc, year_of_slots);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(suite());
}
