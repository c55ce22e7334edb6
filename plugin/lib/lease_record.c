/* lease_record.c - the lease record: its settings, its lock id, building
 * it, and judging someone else's (pure functions, unit tested). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "lease.h"

#define DEFAULT_LEASE 30.0
#define DEFAULT_SKEW 10.0
/* The shortest lease and renewal interval accepted: below this a
 * renewal's own round trip would eat the margin. */
#define MIN_SECONDS 0.05

double dv_wall_now(void *arg)
{
  struct timespec ts;

  (void)arg;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The value of opts (when set), else of the environment variable, else
 * def. A bad variable is an error naming it. */
static drover_code setting(double *out, double opt, const char *env, double def,
                           drover_error *err)
{
  const char *s = getenv(env);
  char *end;
  double v;

  *out = def;
  if(opt != 0) {
    *out = opt;
    return DROVER_OK;
  }
  if(!s || !*s)
    return DROVER_OK;
  if(!strcmp(s, "off")) {
    *out = -1;
    return DROVER_OK;
  }
  errno = 0;
  v = strtod(s, &end);
  if(errno || end == s || *end || !isfinite(v) || v > 86400.0)
    return drover_error_set(err, DROVER_E_ARG, "lock: %s=\"%s\" is not a number "
                            "of seconds (or \"off\")", env, s);
  *out = v;
  return DROVER_OK;
}

drover_code dv_lease_conf_get(dv_lease_conf *conf, int *enabled,
                              const drover_options *opts, drover_error *err)
{
  drover_code rc;

  *enabled = 1;
  rc = setting(&conf->lease, opts->lock_lease, "DROVER_LOCK_LEASE", DEFAULT_LEASE, err);
  if(!rc)
    rc = setting(&conf->renew, opts->lock_renew, "DROVER_LOCK_RENEW", 0, err);
  if(!rc)
    rc = setting(&conf->skew, opts->lock_skew, "DROVER_LOCK_SKEW", DEFAULT_SKEW, err);
  if(rc)
    return rc;
  if(conf->lease < 0) {
    *enabled = 0;
    return DROVER_OK;
  }
  if(conf->renew <= 0)
    conf->renew = conf->lease / 3;
  if(conf->skew < 0)
    conf->skew = 0;
  /* Renewing no more often than the lease lasts would let it run out
   * between two renewals while the holder works. */
  if(conf->lease < MIN_SECONDS || conf->renew < MIN_SECONDS / 2 ||
     conf->renew > conf->lease / 2)
    return drover_error_set(err, DROVER_E_ARG, "lock: lease %.3gs renewed every "
                            "%.3gs: the lease must be at least %.2gs and renewed "
                            "at least twice in its length", conf->lease, conf->renew,
                            MIN_SECONDS);
  return DROVER_OK;
}

drover_code dv_lease_new_id(char out[DV_LEASE_ID_LEN + 1], drover_error *err)
{
  unsigned char raw[DV_LEASE_ID_LEN / 2];
  size_t got = 0, i;

  while(got < sizeof(raw)) {
    ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
    if(n < 0 && errno == EINTR)
      continue;
    if(n <= 0)
      return drover_error_set(err, DROVER_E_IO, "lock: no random bytes for a lock id: %s",
                              strerror(errno));
    got += (size_t)n;
  }
  for(i = 0; i < sizeof(raw); i++)
    snprintf(out + 2 * i, 3, "%02x", raw[i]);
  return DROVER_OK;
}

static json_t *seconds(double t)
{
  char buf[32];

  snprintf(buf, sizeof(buf), "%.3f", t);
  return json_string(buf);
}

/* Ownership: new reference, caller decrefs. */
json_t *dv_lease_record_new(const char *id, double acquired, double now,
                            const dv_lease_conf *conf)
{
  char host[256], pid[24];
  const char *job = getenv("SLURM_JOB_ID");
  json_t *r;

  if(gethostname(host, sizeof(host)) != 0)
    snprintf(host, sizeof(host), "unknown");
  host[sizeof(host) - 1] = '\0';
  snprintf(pid, sizeof(pid), "%ld", (long)getpid());
  r = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", DV_LEASE_ID, id,
                DV_LEASE_HOST, host, DV_LEASE_PID, pid, DV_LEASE_JOB, job ? job : "",
                DV_LEASE_ACQUIRED, seconds(acquired),
                DV_LEASE_EXPIRES, seconds(now + conf->lease),
                DV_LEASE_SECONDS, seconds(conf->lease));
  return r;
}

int dv_lease_record_extend(json_t *record, double now, const dv_lease_conf *conf)
{
  return json_object_set_new(record, DV_LEASE_EXPIRES, seconds(now + conf->lease));
}

int dv_lease_record_stamp(json_t *record, double now)
{
  return json_object_set_new(record, DV_LEASE_ACQUIRED, seconds(now));
}

const char *dv_lease_get(const json_t *record, const char *key)
{
  const char *s = json_string_value(json_object_get(record, key));

  return s ? s : "";
}

/* A time member as seconds; 0 when missing or not a number. */
static int time_of(const json_t *record, const char *key, double *out)
{
  const char *s = dv_lease_get(record, key);
  char *end;

  *out = 0;
  if(!*s)
    return 0;
  errno = 0;
  *out = strtod(s, &end);
  return !errno && end != s && !*end && isfinite(*out) && *out > 0;
}

dv_lease_state dv_lease_judge(const json_t *record, double now, double skew,
                              double *left)
{
  double expires;

  if(left)
    *left = 0;
  if(!time_of(record, DV_LEASE_EXPIRES, &expires))
    return DV_LEASE_UNREADABLE;
  /* The expiry is on the holder's clock, ours may run behind it by up to
   * skew: only past expires + skew on our clock has it surely run out. */
  if(left)
    *left = expires + skew - now;
  return now >= expires + skew ? DV_LEASE_EXPIRED : DV_LEASE_HELD;
}

static void utc(char *buf, size_t size, double t)
{
  time_t s = (time_t)t;
  struct tm tm;

  if(t <= 0 || !gmtime_r(&s, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(buf, size, "an unknown time");
}

void dv_lease_describe(const json_t *record, char *buf, size_t size)
{
  char since[40], until[40];
  const char *job = dv_lease_get(record, DV_LEASE_JOB);
  double t;

  utc(since, sizeof(since), time_of(record, DV_LEASE_ACQUIRED, &t) ? t : 0);
  utc(until, sizeof(until), time_of(record, DV_LEASE_EXPIRES, &t) ? t : 0);
  snprintf(buf, size, "lock %s of host %s, pid %s%s%s, since %s, lease until %s",
           *dv_lease_get(record, DV_LEASE_ID) ? dv_lease_get(record, DV_LEASE_ID)
                                               : "(no id)",
           *dv_lease_get(record, DV_LEASE_HOST) ? dv_lease_get(record, DV_LEASE_HOST)
                                                 : "?",
           *dv_lease_get(record, DV_LEASE_PID) ? dv_lease_get(record, DV_LEASE_PID) : "?",
           *job ? ", Slurm job " : "", job, since, until);
}
