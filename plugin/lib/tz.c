/* tz.c - civil-date arithmetic and conversions in a named time zone.
 *
 * Date arithmetic is pure (days since the epoch, proleptic Gregorian).
 * Zone conversions go through the C library's tzdata reader, which only
 * reads the process-wide TZ variable; see dv_tz_enter in schedule.h for why
 * that is serialised by one mutex.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "schedule.h"
#include "drover_provider.h"

static pthread_mutex_t tz_mu = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------------------
 * Civil dates
 */

/* Eras of 400 years (146097 days) make the count exact for any year. */
long dv_days_from_civil(int year, int mon, int mday)
{
  long y = (long)year - (mon <= 2);
  long era = (y >= 0 ? y : y - 399) / 400;
  long yoe = y - era * 400;
  long mp = (mon + 9) % 12; /* March = 0 */
  long doy = (153 * mp + 2) / 5 + mday - 1;
  long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

  return era * 146097 + doe - 719468;
}

void dv_civil_from_days(long days, int *year, int *mon, int *mday)
{
  long z = days + 719468;
  long era = (z >= 0 ? z : z - 146096) / 146097;
  long doe = z - era * 146097;
  long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long mp = (5 * doy + 2) / 153;
  long d = doy - (153 * mp + 2) / 5 + 1;
  long m = mp < 10 ? mp + 3 : mp - 9;

  *year = (int)(yoe + era * 400 + (m <= 2));
  *mon = (int)m;
  *mday = (int)d;
}

int dv_weekday(long days)
{
  /* 1970-01-01 was a Thursday (4). */
  long w = (days + 4) % 7;
  return (int)(w < 0 ? w + 7 : w);
}

/* The ISO year is the year holding the Thursday of the date's week. */
void dv_iso_week(int year, int mon, int mday, int *iso_year, int *week)
{
  long d = dv_days_from_civil(year, mon, mday);
  int wd = dv_weekday(d);
  long thursday = d - ((wd + 6) % 7) + 3; /* Monday-based */
  int ty, tm, td;

  dv_civil_from_days(thursday, &ty, &tm, &td);
  *iso_year = ty;
  *week = (int)((thursday - dv_days_from_civil(ty, 1, 1)) / 7) + 1;
}

/* ------------------------------------------------------------------------
 * Zones
 */

drover_code dv_tz_check(const char *name, drover_error *err)
{
  const char *dir = getenv("TZDIR"), *p;
  char path[512];
  struct stat sb;

  if(!name || !*name)
    return drover_error_set(err, DROVER_E_ARG, "time zone is empty");
  if(strlen(name) >= 64 || name[0] == '/' || strstr(name, ".."))
    return drover_error_set(err, DROVER_E_ARG, "time zone \"%.64s\" is not an IANA zone name",
                            name);
  for(p = name; *p; p++) {
    if(!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
         (*p >= '0' && *p <= '9') || *p == '/' || *p == '_' || *p == '-' || *p == '+'))
      return drover_error_set(err, DROVER_E_ARG,
                              "time zone \"%s\" is not an IANA zone name", name);
  }
  if(!dir || !*dir)
    dir = "/usr/share/zoneinfo";
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  if(stat(path, &sb) || !S_ISREG(sb.st_mode))
    return drover_error_set(err, DROVER_E_ARG,
                            "unknown time zone \"%s\" (no %s; is tzdata installed?)",
                            name, path);
  return DROVER_OK;
}

drover_code dv_tz_enter(dv_tz *z, const char *name, drover_error *err)
{
  const char *old;
  drover_code rc;

  memset(z, 0, sizeof(*z));
  if(!name)
    name = "UTC";
  rc = dv_tz_check(name, err);
  if(rc)
    return rc;
  pthread_mutex_lock(&tz_mu);
  old = getenv("TZ");
  if(old && strlen(old) < sizeof(z->saved)) {
    strcpy(z->saved, old);
    z->had_saved = 1;
  }
  if(setenv("TZ", name, 1)) {
    pthread_mutex_unlock(&tz_mu);
    return drover_error_set(err, DROVER_E_NOMEM, "cannot set TZ");
  }
  tzset();
  z->active = 1;
  return DROVER_OK;
}

void dv_tz_leave(dv_tz *z)
{
  if(!z->active)
    return;
  if(z->had_saved)
    setenv("TZ", z->saved, 1);
  else
    unsetenv("TZ");
  tzset();
  z->active = 0;
  pthread_mutex_unlock(&tz_mu);
}

void dv_tz_civil(const dv_tz *z, time_t t, dv_civil *out)
{
  struct tm tm;

  (void)z;
  memset(&tm, 0, sizeof(tm));
  localtime_r(&t, &tm);
  out->year = tm.tm_year + 1900;
  out->mon = tm.tm_mon + 1;
  out->mday = tm.tm_mday;
  out->hour = tm.tm_hour;
  out->min = tm.tm_min;
  out->sec = tm.tm_sec;
  out->wday = tm.tm_wday;
  out->yday = tm.tm_yday;
  out->gmtoff = tm.tm_gmtoff;
}

static int wall_is(const dv_tz *z, time_t t, int year, int mon, int mday, int hour, int min)
{
  dv_civil c;

  dv_tz_civil(z, t, &c);
  return c.year == year && c.mon == mon && c.mday == mday && c.hour == hour &&
         c.min == min && c.sec == 0;
}

/* Offsets 36 hours either side cover every candidate: no zone changes
 * its offset twice within three days. */
int dv_tz_from_civil(const dv_tz *z, int year, int mon, int mday, int hour,
                     int min, time_t out[2], time_t *shifted)
{
  time_t w = (time_t)dv_days_from_civil(year, mon, mday) * 86400 + hour * 3600 + min * 60;
  dv_civil before, after;
  long offs[2];
  int n = 0, i;

  dv_tz_civil(z, w - 36 * 3600, &before);
  dv_tz_civil(z, w + 36 * 3600, &after);
  offs[0] = before.gmtoff;
  offs[1] = after.gmtoff;
  for(i = 0; i < 2; i++) {
    time_t t = w - offs[i];
    if(i == 1 && offs[1] == offs[0])
      break;
    if(wall_is(z, t, year, mon, mday, hour, min)) {
      if(n == 1 && out[0] == t)
        continue;
      out[n++] = t;
    }
  }
  if(n == 2 && out[1] < out[0]) {
    time_t tmp = out[0];
    out[0] = out[1];
    out[1] = tmp;
  }
  if(shifted)
    *shifted = n ? out[0] : w - before.gmtoff;
  return n;
}

drover_code dv_tz_local(const char *name, time_t t, dv_civil *out, drover_error *err)
{
  dv_tz z;
  drover_code rc = dv_tz_enter(&z, name, err);

  if(rc)
    return rc;
  dv_tz_civil(&z, t, out);
  dv_tz_leave(&z);
  return DROVER_OK;
}

drover_code dv_tz_format(const char *name, time_t t, char *buf, size_t size,
                         drover_error *err)
{
  dv_civil c;
  drover_code rc = dv_tz_local(name, t, &c, err);
  long off;

  if(rc)
    return rc;
  off = c.gmtoff < 0 ? -c.gmtoff : c.gmtoff;
  snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", c.year, c.mon,
           c.mday, c.hour, c.min, c.sec, c.gmtoff < 0 ? '-' : '+', off / 3600,
           (off % 3600) / 60);
  return DROVER_OK;
}
