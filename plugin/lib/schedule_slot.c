/* schedule_slot.c - what a scheduled policy run is for: the slot it runs,
 * the next one, and the slots missed while nothing ran (coalesced into
 * one run). Also describes a stack's scheduled policy to the shells. Pure
 * time logic on top of cron.c; no cloud. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "engine.h"
#include "drift.h"

#define MISSED_CAP 1000

char *dv_iso_utc(long long t, char *buf, size_t size)
{
  time_t tt = (time_t)t;
  struct tm tm;

  gmtime_r(&tt, &tm);
  strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

drover_code drover_schedule_plan(drover_slot_plan *out, const char *cron, const char *tz,
                                 long long last_slot, long long now, drover_error *err)
{
  dv_cron c;
  time_t slot, next, t;
  drover_code rc;

  memset(out, 0, sizeof(*out));
  rc = dv_cron_parse(&c, cron ? cron : "", tz, err);
  if(!rc)
    rc = dv_cron_next(&c, (time_t)now, &next, err);
  if(rc)
    return rc;
  out->next = (long long)next;
  /* No slot at or before now (a schedule that starts later): nothing to
   * run yet. */
  if(dv_cron_slot_of(&c, (time_t)now, &slot, NULL)) {
    out->slot = 0;
    return DROVER_OK;
  }
  out->slot = (long long)slot;
  out->run = last_slot < out->slot;
  if(!out->run || last_slot <= 0)
    return DROVER_OK;
  /* Count the slots strictly between last_slot and slot, each step one
   * cron lookup; the cap bounds a years-long outage of a per-minute job. */
  for(t = (time_t)last_slot; out->missed < MISSED_CAP; out->missed++) {
    if(dv_cron_next(&c, t, &t, NULL) || t >= slot)
      break;
  }
  return DROVER_OK;
}

drover_code drover_policy_describe(char **out, const drover_stack *stack, const char *policy,
                                   drover_error *err)
{
  const dv_inst *in = NULL;
  const char *type = NULL;
  json_t *o;
  size_t i;

  *out = NULL;
  for(i = 0; policy && i < stack->ninsts; i++) {
    const dv_block *b = &stack->tpl->blocks[stack->insts[i].block];
    size_t n = strlen(b->type_name);
    if(n > 7 && !strcmp(b->type_name + n - 7, ".policy") &&
       (!strcmp(stack->insts[i].address, policy) || !strcmp(b->name, policy))) {
      in = &stack->insts[i];
      type = b->type_name;
      break;
    }
  }
  if(!in)
    return drover_error_set(err, DROVER_E_ARG, "schedule: stack %s has no policy \"%s\"",
                            stack->name, policy ? policy : "");
  o = json_pack("{s:s, s:s, s:O?, s:O?}", "address", in->address, "type", type, "schedule",
                json_is_string(json_object_get(in->desired, "schedule"))
                  ? json_object_get(in->desired, "schedule") : NULL,
                "timezone",
                json_is_string(json_object_get(in->desired, "timezone"))
                  ? json_object_get(in->desired, "timezone") : NULL);
  *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return *out ? DROVER_OK : drover_error_set(err, DROVER_E_NOMEM, "out of memory");
}
