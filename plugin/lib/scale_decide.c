/* scale_decide.c - the count a scale.policy asks for at a given instant,
 * and why. Windows are read on the policy zone's wall clock, minute by
 * minute, so "* 8-19 * * mon-fri" means 08:00-20:00 local time on both
 * sides of a DST change; a wall time skipped by a spring-forward gap
 * never matches, and one repeated by a fall-back overlap matches twice. */
#include <stdio.h>
#include <string.h>
#include "engine.h"
#include "scale.h"

static void fmt_local(char *buf, size_t size, const dv_civil *c)
{
  long off = c->gmtoff < 0 ? -c->gmtoff : c->gmtoff;

  snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", c->year, c->mon,
           c->mday, c->hour, c->min, c->sec, c->gmtoff < 0 ? '-' : '+', off / 3600,
           off % 3600 / 60);
}

drover_code dv_scale_decide(dv_scale_decision *out, const dv_scale_policy *p,
                            const dv_scale_input *in, drover_error *err)
{
  dv_civil now;
  drover_code rc;
  const char *win = NULL;
  char why[200];
  size_t i;

  memset(out, 0, sizeof(*out));
  rc = dv_tz_local(p->tz, in->now, &now, err);
  if(rc)
    return rc;
  fmt_local(out->local, sizeof(out->local), &now);
  out->schedule_count = p->dflt;
  for(i = 0; i < p->nrules; i++)
    if(dv_cron_matches(&p->rules[i].when, &now)) {
      win = p->rules[i].name;
      out->schedule_count = p->rules[i].count;
      break;
    }
  snprintf(out->rule, sizeof(out->rule), "%s", win ? win : "default");
  out->asked = out->schedule_count;
  out->queue_count = -1;
  if(win)
    snprintf(why, sizeof(why), "window %s matches %s %s: count %ld", win, out->local,
             p->tz, out->schedule_count);
  else
    snprintf(why, sizeof(why), "no window matches %s %s: default count %ld", out->local,
             p->tz, out->schedule_count);
  if(p->has_queue && in->pending >= 0) {
    out->queue_count = (in->pending + p->jobs_per_instance - 1) / p->jobs_per_instance;
    if(out->queue_count > out->asked) {
      out->asked = out->queue_count;
      snprintf(out->rule, sizeof(out->rule), "queue");
      snprintf(why, sizeof(why), "%ld pending jobs in partition %s at %ld per instance: "
               "count %ld (schedule: %ld)", in->pending, p->partition,
               p->jobs_per_instance, out->queue_count, out->schedule_count);
    }
  }
  out->desired = out->asked;
  if(out->desired < p->min) {
    out->desired = p->min;
    out->clamped = "min";
  }
  else if(out->desired > p->max) {
    out->desired = p->max;
    out->clamped = "max";
  }
  if(p->cooldown > 0 && in->last_change > 0 && in->now < in->last_change + p->cooldown)
    out->cooldown_until = in->last_change + (time_t)p->cooldown;
  out->held = out->cooldown_until && out->desired != in->current;
  {
    char clamp[64] = "";
    if(out->clamped)
      snprintf(clamp, sizeof(clamp), "; %s to %s %ld",
               out->desired > out->asked ? "raised" : "lowered", out->clamped,
               out->desired);
    snprintf(out->reason, sizeof(out->reason), "%s%s%s", why, clamp,
             out->held ? "; held by the cooldown" : "");
  }
  return DROVER_OK;
}
