/* cron.c - 5-field cron expressions read in a time zone: parsing, the
 * next slot after a time, and the slot a time belongs to. Day matching
 * follows Vixie cron (day-of-month and day-of-week are ORed when both are
 * restricted); DST rules are in schedule.h at dv_cron_next. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "schedule.h"
#include "drover_provider.h"

#define SEARCH_DAYS (30L * 366L) /* Feb 29 on a Monday recurs within 28 years */
#define MAX_DAY_SLOTS (24 * 60 * 2)

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                           "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const wday_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

typedef struct field_spec {
  const char *what;
  int lo, hi;
  const char *const *names; /* names[i] is value lo + i */
  int nnames;
} field_spec;

static const field_spec specs[5] = {
  { "minute", 0, 59, NULL, 0 },
  { "hour", 0, 23, NULL, 0 },
  { "day of month", 1, 31, NULL, 0 },
  { "month", 1, 12, month_names, 12 },
  { "day of week", 0, 7, wday_names, 7 },
};

static drover_code field_error(drover_error *err, int column, const field_spec *fs,
                               const char *text, const char *what_is_wrong)
{
  drover_code rc = drover_error_set(err, DROVER_E_ARG, "cron %s field \"%s\": %s", fs->what,
                                    text, what_is_wrong);
  if(err && err->column == 0)
    err->column = column;
  return rc;
}

/* A number or a name at *p; advances *p. -1 when neither. */
static int read_value(const field_spec *fs, const char **p)
{
  const char *s = *p;
  int i;

  if(isdigit((unsigned char)*s)) {
    long v = 0;
    while(isdigit((unsigned char)*s) && v < 1000)
      v = v * 10 + (*s++ - '0');
    *p = s;
    return (int)v;
  }
  for(i = 0; i < fs->nnames; i++) {
    if(!strncasecmp(s, fs->names[i], 3) && !isalpha((unsigned char)s[3])) {
      *p = s + 3;
      return fs->lo + i;
    }
  }
  return -1;
}

/* Parses one field [s, e) into bits (bit v set for each value v). */
static drover_code parse_field(const field_spec *fs, const char *s, const char *e,
                               int column, unsigned long long *bits, drover_error *err)
{
  char text[64];
  size_t len = (size_t)(e - s);

  *bits = 0;
  snprintf(text, sizeof(text), "%.*s", (int)(len < 60 ? len : 60), s);
  while(s < e) {
    int a, b, step = 1, v;
    const char *item = s;
    if(*s == '*') {
      a = fs->lo;
      b = fs->hi == 7 ? 6 : fs->hi;
      s++;
    } else {
      a = read_value(fs, &s);
      if(a < 0)
        return field_error(err, column, fs, text, "expected a number, name or *");
      b = a;
      if(s < e && *s == '-') {
        s++;
        b = read_value(fs, &s);
        if(b < 0)
          return field_error(err, column, fs, text, "a range needs an end");
      }
    }
    if(s < e && *s == '/') {
      s++;
      if(!isdigit((unsigned char)*s))
        return field_error(err, column, fs, text, "a step needs a number");
      step = read_value(fs, &s);
      if(step < 1 || step > fs->hi)
        return field_error(err, column, fs, text, "step out of range");
      if(*item != '*' && b == a)
        b = fs->hi == 7 ? 6 : fs->hi; /* "5/15": from 5 to the end */
    }
    if(a < fs->lo || a > fs->hi || b < fs->lo || b > fs->hi)
      return field_error(err, column, fs, text, "value out of range");
    if(a > b)
      return field_error(err, column, fs, text, "range runs backwards");
    for(v = a; v <= b; v += step)
      *bits |= 1ull << (fs->hi == 7 && v == 7 ? 0 : v);
    if(s < e && *s != ',')
      return field_error(err, column, fs, text, "unexpected character");
    if(s < e)
      s++;
    if(s == e && e[-1] == ',')
      return field_error(err, column, fs, text, "empty list item");
  }
  return DROVER_OK;
}

static int days_in_month(int year, int mon)
{
  static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return mon == 2 ? 28 + leap : d[mon - 1];
}

drover_code dv_cron_parse(dv_cron *out, const char *expr, const char *tz,
                          drover_error *err)
{
  static const struct {
    const char *name, *fields;
  } macros[] = { { "@hourly", "0 * * * *" },   { "@daily", "0 0 * * *" },
                 { "@midnight", "0 0 * * *" }, { "@weekly", "0 0 * * 0" },
                 { "@monthly", "0 0 1 * *" },  { "@yearly", "0 0 1 1 *" },
                 { "@annually", "0 0 1 1 *" } };
  const char *p, *start[5], *end[5];
  unsigned long long bits[5];
  int nf = 0, col_base = 0, m;
  size_t i;
  drover_code rc;

  memset(out, 0, sizeof(*out));
  if(!expr)
    return drover_error_set(err, DROVER_E_ARG, "cron expression is missing");
  if(!tz)
    tz = "UTC";
  rc = dv_tz_check(tz, err);
  if(rc)
    return rc;
  snprintf(out->tz, sizeof(out->tz), "%s", tz);
  p = expr;
  while(*p == ' ' || *p == '\t')
    p++;
  if(*p == '@') {
    size_t n = strcspn(p, " \t");
    for(i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
      if(strlen(macros[i].name) == n && !strncasecmp(p, macros[i].name, n))
        break;
    if(i == sizeof(macros) / sizeof(macros[0]) || p[n + strspn(p + n, " \t")]) {
      rc = drover_error_set(err, DROVER_E_ARG,
                            "unknown cron macro \"%.*s\" (known: @hourly, @daily, @weekly, "
                            "@monthly, @yearly)",
                            (int)(n < 40 ? n : 40), p);
      err->column = (int)(p - expr) + 1;
      return rc;
    }
    col_base = -1; /* columns of a macro point at the macro */
    expr = macros[i].fields;
    p = expr;
  }
  while(*p) {
    while(*p == ' ' || *p == '\t')
      p++;
    if(!*p)
      break;
    if(nf == 5) {
      rc = drover_error_set(err, DROVER_E_ARG,
                            "cron expression has more than 5 fields (minute hour "
                            "day-of-month month day-of-week)");
      err->column = (int)(p - expr) + 1;
      return rc;
    }
    start[nf] = p;
    while(*p && *p != ' ' && *p != '\t')
      p++;
    end[nf++] = p;
  }
  if(nf != 5)
    return drover_error_set(err, DROVER_E_ARG,
                            "cron expression has %d fields, expected 5 (minute hour "
                            "day-of-month month day-of-week) or a macro such as @daily",
                            nf);
  for(m = 0; m < 5; m++) {
    int col = col_base < 0 ? 1 : (int)(start[m] - expr) + 1;
    rc = parse_field(&specs[m], start[m], end[m], col, &bits[m], err);
    if(rc)
      return rc;
  }
  out->minutes = bits[0];
  out->hours = (unsigned)bits[1];
  out->mdays = (unsigned)bits[2];
  out->months = (unsigned)bits[3];
  out->wdays = (unsigned)bits[4];
  out->hour_wild = *start[1] == '*';
  out->mday_star = *start[2] == '*';
  out->wday_star = *start[4] == '*';
  /* Only day-of-month decides the day: it must exist in some month. */
  if(out->wday_star) {
    int ok = 0;
    for(m = 1; m <= 12 && !ok; m++) {
      int d;
      if(!(out->months & (1u << m)))
        continue;
      for(d = 1; d <= days_in_month(2024, m) && !ok; d++)
        ok = (out->mdays >> d) & 1u;
    }
    if(!ok) {
      rc = drover_error_set(err, DROVER_E_ARG,
                            "cron expression \"%s\" never matches: no month has that day",
                            expr);
      if(err)
        err->column = (int)(start[2] - expr) + 1;
      return rc;
    }
  }
  return DROVER_OK;
}

static int day_matches(const dv_cron *c, long days)
{
  int y, m, d, md, wd;

  dv_civil_from_days(days, &y, &m, &d);
  if(!(c->months & (1u << m)))
    return 0;
  md = (c->mdays >> d) & 1u;
  wd = (c->wdays >> dv_weekday(days)) & 1u;
  if(c->mday_star || c->wday_star)
    return md && wd;
  return md || wd;
}

int dv_cron_matches(const dv_cron *c, const dv_civil *t)
{
  return ((c->minutes >> t->min) & 1ull) && ((c->hours >> t->hour) & 1u) &&
         day_matches(c, dv_days_from_civil(t->year, t->mon, t->mday));
}

static int cmp_time(const void *a, const void *b)
{
  time_t x = *(const time_t *)a, y = *(const time_t *)b;
  return x < y ? -1 : x > y;
}

/* The slots of local date `days`, ascending and distinct, into out
 * (MAX_DAY_SLOTS long). Inside a tz section. */
static size_t day_slots(const dv_cron *c, const dv_tz *z, long days, time_t *out)
{
  int y, mo, d, h, mi;
  size_t n = 0, i, k;

  dv_civil_from_days(days, &y, &mo, &d);
  for(h = 0; h < 24; h++) {
    if(!(c->hours & (1u << h)))
      continue;
    for(mi = 0; mi < 60; mi++) {
      time_t two[2], shifted;
      int cnt;
      if(!(c->minutes & (1ull << mi)))
        continue;
      cnt = dv_tz_from_civil(z, y, mo, d, h, mi, two, &shifted);
      if(cnt == 0)
        out[n++] = shifted;
      else {
        out[n++] = two[0];
        if(cnt == 2 && c->hour_wild)
          out[n++] = two[1];
      }
    }
  }
  qsort(out, n, sizeof(*out), cmp_time);
  for(i = k = 0; i < n; i++)
    if(!k || out[i] != out[k - 1])
      out[k++] = out[i];
  return k;
}

/* dir +1: first slot > t; dir -1: last slot <= t. */
static drover_code find_slot(const dv_cron *c, time_t t, int dir, time_t *res,
                             drover_error *err)
{
  time_t *slots = malloc(MAX_DAY_SLOTS * sizeof(*slots));
  dv_tz z;
  dv_civil now;
  long d0, k;
  drover_code rc;

  if(!slots)
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  rc = dv_tz_enter(&z, c->tz, err);
  if(rc)
    goto out;
  dv_tz_civil(&z, t, &now);
  d0 = dv_days_from_civil(now.year, now.mon, now.mday);
  rc = DROVER_E_NOT_FOUND;
  /* Start one day on the other side: a shifted or repeated wall time can
   * put a day's slot past midnight. */
  for(k = -1; k <= SEARCH_DAYS && rc; k++) {
    long day = d0 + (dir > 0 ? k : -k);
    size_t n, i;
    if(!day_matches(c, day))
      continue;
    n = day_slots(c, &z, day, slots);
    if(dir > 0) {
      for(i = 0; i < n; i++)
        if(slots[i] > t) {
          *res = slots[i];
          rc = DROVER_OK;
          break;
        }
    } else {
      for(i = n; i-- > 0;)
        if(slots[i] <= t) {
          *res = slots[i];
          rc = DROVER_OK;
          break;
        }
    }
  }
  dv_tz_leave(&z);
  if(rc)
    drover_error_set(err, rc, "cron schedule has no slot within 30 years");
out:
  free(slots);
  return rc;
}

drover_code dv_cron_next(const dv_cron *c, time_t t, time_t *out, drover_error *err)
{
  return find_slot(c, t, 1, out, err);
}

drover_code dv_cron_slot_of(const dv_cron *c, time_t t, time_t *out, drover_error *err)
{
  return find_slot(c, t, -1, out, err);
}
