/*
 * schedule.h - time zones, cron schedules and snapshot retention: the pure
 * time logic that backup policies (and later scheduled jobs) are built on.
 * Not installed; cross-file names use the dv_ prefix. Nothing here talks
 * to a cloud.
 */
#ifndef DROVER_SCHEDULE_H
#define DROVER_SCHEDULE_H

#include <stddef.h>
#include <time.h>
#include "drover.h"

/* ------------------------------------------------------------------------
 * Civil dates and time zones (tz.c)
 */

/* A broken-down local time. */
typedef struct dv_civil {
  int year, mon, mday;   /* mon 1-12, mday 1-31 */
  int hour, min, sec;
  int wday;              /* 0 = Sunday */
  int yday;              /* 0-based day of the year */
  long gmtoff;           /* seconds east of UTC in effect */
} dv_civil;

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
long dv_days_from_civil(int year, int mon, int mday);
void dv_civil_from_days(long days, int *year, int *mon, int *mday);
/* 0 = Sunday. */
int dv_weekday(long days);
/* ISO 8601 week (1-53) and its week-numbering year of a date. */
void dv_iso_week(int year, int mon, int mday, int *iso_year, int *week);

/*
 * A time zone in use. The C library converts to local time only through
 * the process-wide TZ variable, so dv_tz_enter takes a process-wide mutex,
 * points TZ at the zone and calls tzset(); dv_tz_leave puts TZ back and
 * releases the mutex. Between the two, only dv_tz_* calls on this thread
 * may run (keep the section short, no I/O). Every time-zone aware part of
 * libdrover goes through this lock; a host program that calls
 * localtime() on another thread at the same moment may see the policy's
 * zone, which is why conversions are batched inside one section.
 */
typedef struct dv_tz {
  char saved[256];   /* TZ before enter */
  int had_saved;     /* TZ was set before enter */
  int active;
} dv_tz;

/* Checks that name is an IANA zone the system knows ("UTC",
 * "Europe/Berlin"): a file under $TZDIR or /usr/share/zoneinfo, without
 * "..". The C library would silently use UTC for an unknown name, so
 * every zone is checked before use. DROVER_E_ARG with a message. */
drover_code dv_tz_check(const char *name, drover_error *err);
drover_code dv_tz_enter(dv_tz *z, const char *name, drover_error *err);
void dv_tz_leave(dv_tz *z);
/* Only between enter and leave. */
void dv_tz_civil(const dv_tz *z, time_t t, dv_civil *out);
/*
 * The instants whose local wall time is year-mon-mday hour:min:00.
 * Returns how many (0, 1 or 2, ascending in out): 2 in a fall-back
 * overlap, 0 in a spring-forward gap, in which case *shifted is the wall
 * time moved forward by the gap's length (02:30 in a one-hour gap is the
 * instant of 03:30), as mktime() does. Only between enter and leave.
 */
int dv_tz_from_civil(const dv_tz *z, int year, int mon, int mday, int hour,
                     int min, time_t out[2], time_t *shifted);

/* One-shot conversions (enter, convert, leave). */
drover_code dv_tz_local(const char *name, time_t t, dv_civil *out, drover_error *err);
/* Formats t in zone name as "2026-03-29T03:00:00+02:00" into buf. */
drover_code dv_tz_format(const char *name, time_t t, char *buf, size_t size,
                         drover_error *err);

/* ------------------------------------------------------------------------
 * Cron schedules (cron.c)
 */

typedef struct dv_cron {
  unsigned long long minutes;  /* bit m: minute m matches (0-59) */
  unsigned hours;              /* bit h (0-23) */
  unsigned mdays;              /* bit d (1-31) */
  unsigned months;             /* bit m (1-12) */
  unsigned wdays;              /* bit w (0-6, 0 = Sunday; 7 folds to 0) */
  int mday_star, wday_star;    /* the field was "*" (Vixie day matching) */
  int hour_wild;               /* the hour field starts with "*": in a
                                  fall-back overlap both instants of a
                                  wall time are slots */
  char tz[64];                 /* IANA zone the fields are read in */
} dv_cron;

/*
 * Parses a 5-field cron expression ("minute hour day-of-month month
 * day-of-week": numbers, "*", lists "a,b", ranges "a-b", steps "*\/n" and
 * "a-b/n", month and weekday names "jan", "mon") or one of @hourly,
 * @daily (= @midnight), @weekly, @monthly, @yearly (= @annually), read in
 * zone tz (NULL: "UTC"). An expression that can never match (30 February)
 * is refused. On error, err->column is the 1-based column in expr of the
 * bad field and err->text says what is wrong.
 */
drover_code dv_cron_parse(dv_cron *out, const char *expr, const char *tz,
                          drover_error *err);

/*
 * Slots are the instants a schedule fires at. A wall time that matches
 * maps to its instant; one that falls in a spring-forward gap moves
 * forward by the gap (02:30 -> 03:30 the day clocks jump 02:00 -> 03:00);
 * one that occurs twice in a fall-back overlap is a slot once (the first
 * occurrence) unless the hour field is a wildcard, when both are. Two
 * wall times that map to one instant are one slot.
 *
 * dv_cron_next: the first slot strictly after t. dv_cron_slot_of: the last
 * slot at or before t (the slot a snapshot taken at t belongs to).
 * DROVER_E_NOT_FOUND when there is none within 30 years.
 */
/* Whether the local wall time t (read in c->tz) matches every field: the
 * minute-level window test of scale policies. */
int dv_cron_matches(const dv_cron *c, const dv_civil *t);
drover_code dv_cron_next(const dv_cron *c, time_t t, time_t *out, drover_error *err);
drover_code dv_cron_slot_of(const dv_cron *c, time_t t, time_t *out, drover_error *err);

/* ------------------------------------------------------------------------
 * Retention (retention.c)
 */

/* Why a snapshot is kept: one bit per rule. */
#define DV_KEEP_LAST 0x01u
#define DV_KEEP_HOURLY 0x02u
#define DV_KEEP_DAILY 0x04u
#define DV_KEEP_WEEKLY 0x08u
#define DV_KEEP_MONTHLY 0x10u
#define DV_KEEP_YEARLY 0x20u
#define DV_KEEP_MAX_AGE 0x40u   /* max_age alone: younger than max_age */
/* The oldest snapshot, kept by rule bit because the rule still had count
 * left (restic's "oldest daily snapshot"). */
#define DV_KEEP_OLDEST(bit) ((unsigned)(bit) << 8)
#define DV_KEEP_RULES 0x7fu     /* every plain rule bit */
#define DV_KEEP_UNLIMITED (-1)  /* keep_*: every period */

typedef struct dv_retention {
  int keep_last;      /* 0: off; DV_KEEP_UNLIMITED: all */
  int keep_hourly;
  int keep_daily;
  int keep_weekly;
  int keep_monthly;
  int keep_yearly;
  long long max_age;  /* seconds; 0: off */
  const char *tz;     /* zone periods are computed in; NULL: "UTC" */
} dv_retention;

/* Non-zero when no rule is set (such a policy is refused at load). */
int dv_retention_empty(const dv_retention *r);

/*
 * Decides which of n snapshots (taken at times[i]) to keep at time now,
 * with restic `forget` semantics:
 * - snapshots are considered newest first;
 * - each keep_* rule keeps the newest snapshot of each period (hour, day,
 *   ISO week, month, year in r->tz) that has a snapshot, for its count of
 *   periods; keep_last keeps the newest n;
 * - a rule that still has count left when the oldest snapshot is reached
 *   keeps that one too (DV_KEEP_OLDEST(rule)), as current restic does;
 * - a snapshot kept by any rule is kept.
 * One difference: an hour is a local hour *and* its UTC offset, so the
 * hour repeated when clocks go back is two periods (each real hour of
 * backups counts), where restic's local-hour key merges them.
 * max_age: alone, it keeps every snapshot younger than max_age; with keep_*
 * rules, snapshots older than max_age are deleted before the rules choose
 * among the rest.
 * kept_by[i] receives the DV_KEEP_* bits for times[i], 0: delete.
 */
drover_code dv_retention_apply(const dv_retention *r, const time_t *times, size_t n,
                               time_t now, unsigned *kept_by, drover_error *err);

/* Writes the rules in bits as "daily,weekly" ("oldest-daily" for an
 * oldest keep; "" for 0) into buf. */
void dv_retention_reasons(unsigned bits, char *buf, size_t size);

#endif /* DROVER_SCHEDULE_H */
