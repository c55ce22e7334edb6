/* check_cron.c - cron parsing (with the column of a bad field), next slot
 * and slot-of in UTC and across DST gaps and overlaps in Berlin and New
 * York. Expected instants are worked out from the calendar by hand. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "schedule.h"

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

START_TEST(parse_errors)
{
  parse_bad("61 * * * *", 1, "minute field \"61\": value out of range");
  parse_bad("0 25 * * *", 3, "hour field");
  parse_bad("0  0 * * 8", 10, "day of week");
  parse_bad("0 0 * foo *", 7, "month field \"foo\"");
  parse_bad("0 0 * * *,", 9, "empty list item");
  parse_bad("5-1 * * * *", 1, "backwards");
  parse_bad("*/0 * * * *", 1, "step out of range");
  parse_bad("0 0 30 2 *", 5, "never matches");
  parse_bad("0 0 * *", 0, "4 fields");
  parse_bad("0 0 * * * *", 11, "more than 5 fields");
  parse_bad("@fortnightly", 1, "unknown cron macro");
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

START_TEST(next_utc)
{
  dv_cron c = parse_ok("*/15 * * * *", "UTC");

  ck_assert_int_eq(next(&c, utc(2025, 5, 1, 10, 7)), utc(2025, 5, 1, 10, 15));
  /* strictly after: a slot time gives the following slot */
  ck_assert_int_eq(next(&c, utc(2025, 5, 1, 10, 15)), utc(2025, 5, 1, 10, 30));
  c = parse_ok("@daily", "UTC");
  ck_assert_int_eq(next(&c, utc(2025, 12, 31, 23, 59)), utc(2026, 1, 1, 0, 0));
  c = parse_ok("@monthly", NULL);
  ck_assert_int_eq(next(&c, utc(2025, 1, 31, 12, 0)), utc(2025, 2, 1, 0, 0));
  c = parse_ok("0 0 29 2 *", "UTC");
  ck_assert_int_eq(next(&c, utc(2025, 3, 1, 0, 0)), utc(2028, 2, 29, 0, 0));
  /* Vixie: both day fields restricted means either: the 13th or a Friday.
   * 2025-06-06 is a Friday, 2025-06-13 too; after the 6th comes the 13th. */
  c = parse_ok("0 0 10 * fri", "UTC");
  ck_assert_int_eq(next(&c, utc(2025, 6, 1, 0, 0)), utc(2025, 6, 6, 0, 0));
  ck_assert_int_eq(next(&c, utc(2025, 6, 6, 0, 0)), utc(2025, 6, 10, 0, 0));
  /* day-of-month "*" with a weekday: only the weekday decides */
  c = parse_ok("0 12 * * sat", "UTC");
  ck_assert_int_eq(next(&c, utc(2025, 6, 1, 0, 0)), utc(2025, 6, 7, 12, 0));
}
END_TEST

START_TEST(next_in_zone)
{
  /* 03:00 in Berlin summer is 01:00Z; in New York 03:00 EDT is 07:00Z. */
  dv_cron c = parse_ok("0 3 * * *", "Europe/Berlin");

  ck_assert_int_eq(next(&c, utc(2025, 7, 1, 0, 0)), utc(2025, 7, 1, 1, 0));
  ck_assert_int_eq(next(&c, utc(2025, 1, 1, 0, 0)), utc(2025, 1, 1, 2, 0));
  c = parse_ok("0 3 * * *", "America/New_York");
  ck_assert_int_eq(next(&c, utc(2025, 7, 1, 0, 0)), utc(2025, 7, 1, 7, 0));
}
END_TEST

START_TEST(gap_berlin)
{
  /* 30 Mar 2025: 02:00 CET -> 03:00 CEST at 01:00Z. 02:30 does not exist
   * and moves to 03:30 CEST (01:30Z). */
  dv_cron c = parse_ok("30 2 * * *", "Europe/Berlin");

  ck_assert_int_eq(next(&c, utc(2025, 3, 29, 12, 0)), utc(2025, 3, 30, 1, 30));
  ck_assert_int_eq(next(&c, utc(2025, 3, 30, 1, 30)), utc(2025, 3, 31, 0, 30));
  ck_assert_int_eq(slot_of(&c, utc(2025, 3, 30, 1, 29)), utc(2025, 3, 29, 1, 30));
  ck_assert_int_eq(slot_of(&c, utc(2025, 3, 30, 1, 30)), utc(2025, 3, 30, 1, 30));
}
END_TEST

START_TEST(overlap_berlin_fixed_hour)
{
  /* 26 Oct 2025: 03:00 CEST -> 02:00 CET at 01:00Z; 02:30 happens at
   * 00:30Z and at 01:30Z. A fixed-hour job runs once, at the first. */
  dv_cron c = parse_ok("30 2 * * *", "Europe/Berlin");

  ck_assert_int_eq(next(&c, utc(2025, 10, 25, 12, 0)), utc(2025, 10, 26, 0, 30));
  ck_assert_int_eq(next(&c, utc(2025, 10, 26, 0, 30)), utc(2025, 10, 27, 1, 30));
  ck_assert_int_eq(slot_of(&c, utc(2025, 10, 26, 1, 45)), utc(2025, 10, 26, 0, 30));
}
END_TEST

START_TEST(overlap_berlin_wild_hour)
{
  /* An hour-wildcard job runs in both 02:xx hours. */
  dv_cron c = parse_ok("30 * * * *", "Europe/Berlin");
  time_t t = utc(2025, 10, 25, 23, 0);

  t = next(&c, t);
  ck_assert_int_eq(t, utc(2025, 10, 25, 23, 30)); /* 01:30 CEST */
  t = next(&c, t);
  ck_assert_int_eq(t, utc(2025, 10, 26, 0, 30)); /* 02:30 CEST */
  t = next(&c, t);
  ck_assert_int_eq(t, utc(2025, 10, 26, 1, 30)); /* 02:30 CET */
  t = next(&c, t);
  ck_assert_int_eq(t, utc(2025, 10, 26, 2, 30)); /* 03:30 CET */
  c = parse_ok("@hourly", "Europe/Berlin");
  ck_assert_int_eq(slot_of(&c, utc(2025, 10, 26, 1, 20)), utc(2025, 10, 26, 1, 0));
}
END_TEST

START_TEST(gap_new_york_dedup)
{
  /* 9 Mar 2025: 02:00 EST -> 03:00 EDT at 07:00Z. 02:30 moves to 03:30
   * EDT, which is also a slot of its own: one slot, not two. */
  dv_cron c = parse_ok("30 * * * *", "America/New_York");
  time_t t = utc(2025, 3, 9, 6, 0);

  t = next(&c, t);
  ck_assert_int_eq(t, utc(2025, 3, 9, 6, 30)); /* 01:30 EST */
  t = next(&c, t);
  ck_assert_int_eq(t, utc(2025, 3, 9, 7, 30)); /* 03:30 EDT */
  t = next(&c, t);
  ck_assert_int_eq(t, utc(2025, 3, 9, 8, 30)); /* 04:30 EDT */
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

START_TEST(slot_of_basic)
{
  dv_cron c = parse_ok("@daily", "Europe/Berlin");

  ck_assert_int_eq(slot_of(&c, utc(2025, 6, 15, 10, 0)), utc(2025, 6, 14, 22, 0));
  ck_assert_int_eq(slot_of(&c, utc(2025, 6, 14, 22, 0)), utc(2025, 6, 14, 22, 0));
  c = parse_ok("0 */6 * * *", "UTC");
  ck_assert_int_eq(slot_of(&c, utc(2025, 6, 15, 11, 59)), utc(2025, 6, 15, 6, 0));
}
END_TEST

static Suite *suite(void)
{
  Suite *s = suite_create("cron");
  TCase *tc = tcase_create("cron");

  tcase_add_test(tc, parse_errors);
  tcase_add_test(tc, parse_forms);
  tcase_add_test(tc, next_utc);
  tcase_add_test(tc, next_in_zone);
  tcase_add_test(tc, gap_berlin);
  tcase_add_test(tc, overlap_berlin_fixed_hour);
  tcase_add_test(tc, overlap_berlin_wild_hour);
  tcase_add_test(tc, gap_new_york_dedup);
  tcase_add_test(tc, year_of_slots);
  tcase_add_test(tc, slot_of_basic);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
