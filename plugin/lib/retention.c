/* retention.c - which snapshots a retention policy keeps (restic `forget`
 * semantics, periods in the policy's time zone). Pure: times in, verdicts
 * out; the caller deletes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "schedule.h"
#include "drover_provider.h"

int dv_retention_empty(const dv_retention *r)
{
  return !r->keep_last && !r->keep_hourly && !r->keep_daily && !r->keep_weekly &&
         !r->keep_monthly && !r->keep_yearly && r->max_age <= 0;
}

/* qsort has no context argument; times travel in the array itself. */
typedef struct order {
  time_t t;
  size_t i;
} order;

static int newest_first(const void *a, const void *b)
{
  const order *x = a, *y = b;

  if(x->t != y->t)
    return x->t > y->t ? -1 : 1;
  return x->i < y->i ? -1 : (x->i > y->i);
}

enum { B_LAST, B_HOURLY, B_DAILY, B_WEEKLY, B_MONTHLY, B_YEARLY, B_N };

static long long period_key(int bucket, const dv_civil *c, size_t nr)
{
  long long ymd = ((long long)c->year * 100 + c->mon) * 100 + c->mday;
  int iy, iw;

  switch(bucket) {
  case B_LAST:
    return (long long)nr;
  case B_HOURLY:
    /* The UTC offset is part of the hour: the repeated hour of a
     * fall-back night is two periods. */
    return (ymd * 100 + c->hour) * 2000 + c->gmtoff / 60 + 1000;
  case B_DAILY:
    return ymd;
  case B_WEEKLY:
    dv_iso_week(c->year, c->mon, c->mday, &iy, &iw);
    return (long long)iy * 100 + iw;
  case B_MONTHLY:
    return (long long)c->year * 100 + c->mon;
  default:
    return c->year;
  }
}

drover_code dv_retention_apply(const dv_retention *r, const time_t *times, size_t n,
                               time_t now, unsigned *kept_by, drover_error *err)
{
  static const unsigned bits[B_N] = { DV_KEEP_LAST, DV_KEEP_HOURLY, DV_KEEP_DAILY,
                                      DV_KEEP_WEEKLY, DV_KEEP_MONTHLY, DV_KEEP_YEARLY };
  int count[B_N];
  long long last[B_N];
  int has_last[B_N] = { 0 };
  int rules = 0, b;
  order *ord = NULL;
  dv_civil *civ = NULL;
  size_t i, m = 0, nr;
  dv_tz z;
  drover_code rc = DROVER_OK;

  if(n)
    memset(kept_by, 0, n * sizeof(*kept_by));
  if(dv_retention_empty(r))
    return drover_error_set(err, DROVER_E_ARG, "retention has no rule: it would keep everything");
  count[B_LAST] = r->keep_last;
  count[B_HOURLY] = r->keep_hourly;
  count[B_DAILY] = r->keep_daily;
  count[B_WEEKLY] = r->keep_weekly;
  count[B_MONTHLY] = r->keep_monthly;
  count[B_YEARLY] = r->keep_yearly;
  for(b = 0; b < B_N; b++) {
    if(count[b] < 0 && count[b] != DV_KEEP_UNLIMITED)
      return drover_error_set(err, DROVER_E_ARG, "retention count %d is negative", count[b]);
    rules |= count[b] != 0;
  }
  if(!n)
    return DROVER_OK;
  if(!rules) {
    for(i = 0; i < n; i++)
      if((long long)(now - times[i]) <= r->max_age)
        kept_by[i] = DV_KEEP_MAX_AGE;
    return DROVER_OK;
  }

  ord = malloc(n * sizeof(*ord));
  civ = malloc(n * sizeof(*civ));
  if(!ord || !civ) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    goto out;
  }
  /* max_age with rules: only what is young enough is eligible. */
  for(i = 0; i < n; i++) {
    if(r->max_age > 0 && (long long)(now - times[i]) > r->max_age)
      continue;
    ord[m].t = times[i];
    ord[m].i = i;
    m++;
  }
  if(!m)
    goto out;
  qsort(ord, m, sizeof(*ord), newest_first);

  rc = dv_tz_enter(&z, r->tz, err);
  if(rc)
    goto out;
  for(nr = 0; nr < m; nr++)
    dv_tz_civil(&z, ord[nr].t, &civ[nr]);
  dv_tz_leave(&z);

  for(nr = 0; nr < m; nr++) {
    unsigned keep = 0;
    for(b = 0; b < B_N; b++) {
      long long key;
      if(count[b] == 0)
        continue;
      key = period_key(b, &civ[nr], nr);
      if(!has_last[b] || key != last[b] || nr == m - 1) {
        keep |= bits[b];
        if(has_last[b] && key == last[b])
          keep |= DV_KEEP_OLDEST(bits[b]);
        last[b] = key;
        has_last[b] = 1;
        if(count[b] > 0)
          count[b]--;
      }
    }
    kept_by[ord[nr].i] = keep;
  }

out:
  free(ord);
  free(civ);
  return rc;
}

void dv_retention_reasons(unsigned bits, char *buf, size_t size)
{
  static const struct {
    unsigned bit;
    const char *name;
  } names[] = { { DV_KEEP_LAST, "last" },       { DV_KEEP_HOURLY, "hourly" },
                { DV_KEEP_DAILY, "daily" },     { DV_KEEP_WEEKLY, "weekly" },
                { DV_KEEP_MONTHLY, "monthly" }, { DV_KEEP_YEARLY, "yearly" },
                { DV_KEEP_MAX_AGE, "max_age" } };
  size_t i, len = 0;

  if(!size)
    return;
  buf[0] = '\0';
  for(i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    int w;
    if(!(bits & names[i].bit))
      continue;
    w = snprintf(buf + len, size - len, "%s%s%s", len ? "," : "",
                 (bits & DV_KEEP_OLDEST(names[i].bit)) ? "oldest-" : "", names[i].name);
    if(w < 0 || (size_t)w >= size - len)
      return;
    len += (size_t)w;
  }
}
