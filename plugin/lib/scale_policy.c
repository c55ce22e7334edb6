/* scale_policy.c - reading a scale.policy's properties (target, windows,
 * default, queue rule, min, max, cooldown) at template load, through the
 * provider's check op, and when a policy runs; and the load-time check
 * that its target is a counted resource of the same template. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "backup.h"
#include "scale.h"

static drover_code bad(drover_error *err, char *where, size_t wsize, const char *ptr,
                       const char *msg)
{
  if(where && wsize)
    snprintf(where, wsize, "%s", ptr);
  return drover_error_set(err, DROVER_E_TEMPLATE, "%s", msg);
}

/* A count: an integer in [0, 100000]; -1 when not one. */
static long count_of(const json_t *v)
{
  if(!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100000)
    return -1;
  return (long)json_integer_value(v);
}

/* A rule or partition name: [A-Za-z0-9_.-], 1..max-1 bytes. */
static int name_ok(const char *s, size_t max)
{
  size_t i;

  for(i = 0; s && s[i]; i++)
    if(!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
         (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
      return 0;
  return s && i > 0 && i < max;
}

static drover_code parse_rule(dv_scale_rule *r, const json_t *o, size_t i, const char *tz,
                              char *where, size_t wsize, drover_error *err)
{
  static const char *const known[] = {"name", "when", "count"};
  char ptr[96];
  const char *key, *s;
  json_t *v;
  size_t k;

  snprintf(ptr, sizeof(ptr), "/schedule/%zu", i);
  if(!json_is_object(o))
    return bad(err, where, wsize, ptr,
               "a schedule window is an object {\"name\", \"when\", \"count\"}");
  json_object_foreach((json_t *)o, key, v) {
    for(k = 0; k < 3 && strcmp(key, known[k]); k++)
      ;
    if(k == 3) {
      snprintf(ptr, sizeof(ptr), "/schedule/%zu/%s", i, key);
      return bad(err, where, wsize, ptr,
                 "unknown member of a schedule window (known: name, when, count)");
    }
  }
  s = json_string_value(json_object_get(o, "name"));
  snprintf(ptr, sizeof(ptr), "/schedule/%zu/name", i);
  if(!name_ok(s, sizeof(r->name)))
    return bad(err, where, wsize, ptr,
               "a window's name is 1-63 characters of letters, digits, '_', '-', '.'");
  snprintf(r->name, sizeof(r->name), "%s", s);
  if(!strcmp(s, "default") || !strcmp(s, "queue"))
    return bad(err, where, wsize, ptr,
               "\"default\" and \"queue\" name the other rules; pick another window name");
  snprintf(ptr, sizeof(ptr), "/schedule/%zu/when", i);
  s = json_string_value(json_object_get(o, "when"));
  if(!s)
    return bad(err, where, wsize, ptr,
               "a window's \"when\" is a 5-field cron expression of the minutes it "
               "covers, e.g. \"* 8-19 * * mon-fri\"");
  if(dv_cron_parse(&r->when, s, tz, err)) {
    if(where && wsize)
      snprintf(where, wsize, "%s", ptr);
    err->code = DROVER_E_TEMPLATE;
    return DROVER_E_TEMPLATE;
  }
  snprintf(ptr, sizeof(ptr), "/schedule/%zu/count", i);
  r->count = count_of(json_object_get(o, "count"));
  if(r->count < 0)
    return bad(err, where, wsize, ptr, "a window's count is an integer 0..100000");
  return DROVER_OK;
}

static drover_code parse_queue(dv_scale_policy *out, const json_t *q, char *where,
                               size_t wsize, drover_error *err)
{
  const char *key, *s;
  json_t *v;

  if(!json_is_object(q))
    return bad(err, where, wsize, "/queue",
               "queue is an object {\"partition\", \"jobs_per_instance\"}");
  json_object_foreach((json_t *)q, key, v)
    if(strcmp(key, "partition") && strcmp(key, "jobs_per_instance")) {
      char ptr[96];
      snprintf(ptr, sizeof(ptr), "/queue/%s", key);
      return bad(err, where, wsize, ptr,
                 "unknown member of queue (known: partition, jobs_per_instance)");
    }
  s = json_string_value(json_object_get(q, "partition"));
  if(!name_ok(s, sizeof(out->partition)))
    return bad(err, where, wsize, "/queue/partition",
               "queue.partition is a Slurm partition name");
  snprintf(out->partition, sizeof(out->partition), "%s", s);
  v = json_object_get(q, "jobs_per_instance");
  if(!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000)
    return bad(err, where, wsize, "/queue/jobs_per_instance",
               "queue.jobs_per_instance is an integer >= 1: pending jobs one instance "
               "takes on");
  out->jobs_per_instance = (long)json_integer_value(v);
  out->has_queue = 1;
  return DROVER_OK;
}

drover_code dv_scale_parse(dv_scale_policy *out, const json_t *props, char *where,
                           size_t wsize, drover_error *err)
{
  const json_t *v, *x;
  const char *s;
  drover_code rc;
  size_t i;

  memset(out, 0, sizeof(*out));
  snprintf(out->tz, sizeof(out->tz), "UTC");
  if(where && wsize)
    where[0] = '\0';
  s = json_string_value(json_object_get(props, "target"));
  if(!s || !*s || strlen(s) >= sizeof(out->target))
    return bad(err, where, wsize, "/target",
               "target is the name of a resource of this stack that has a count");
  snprintf(out->target, sizeof(out->target), "%s", s);
  v = json_object_get(props, "timezone");
  if(v) {
    if(dv_tz_check(json_string_value(v), err)) {
      if(where && wsize)
        snprintf(where, wsize, "/timezone");
      err->code = DROVER_E_TEMPLATE;
      return DROVER_E_TEMPLATE;
    }
    snprintf(out->tz, sizeof(out->tz), "%s", json_string_value(v));
  }
  v = json_object_get(props, "schedule");
  if(v && !json_is_array(v))
    return bad(err, where, wsize, "/schedule",
               "schedule is an array of windows {\"name\", \"when\", \"count\"}");
  if(json_array_size(v) > DV_SCALE_MAX_RULES)
    return bad(err, where, wsize, "/schedule", "schedule has more than 32 windows");
  json_array_foreach(v, i, x) {
    rc = parse_rule(&out->rules[i], x, i, out->tz, where, wsize, err);
    if(rc)
      return rc;
    out->nrules++;
  }
  out->dflt = count_of(json_object_get(props, "default"));
  if(out->dflt < 0)
    return bad(err, where, wsize, "/default",
               "default (the count when no window matches) is an integer 0..100000");
  v = json_object_get(props, "queue");
  if(v && (rc = parse_queue(out, v, where, wsize, err)) != DROVER_OK)
    return rc;
  v = json_object_get(props, "min");
  out->min = v ? count_of(v) : 0;
  if(out->min < 0)
    return bad(err, where, wsize, "/min", "min is an integer 0..100000");
  out->max = count_of(json_object_get(props, "max"));
  if(out->max < 0)
    return bad(err, where, wsize, "/max", "max is an integer 0..100000");
  if(out->max < out->min)
    return bad(err, where, wsize, "/max", "max is below min");
  v = json_object_get(props, "cooldown");
  if(v) {
    out->cooldown = json_is_string(v) ? dv_duration_parse(json_string_value(v))
                    : json_is_integer(v) && json_integer_value(v) >= 0
                      ? (long long)json_integer_value(v) : -1;
    if(out->cooldown < 0 || out->cooldown > 366LL * 86400)
      return bad(err, where, wsize, "/cooldown",
                 "cooldown is seconds or a duration such as \"10m\" or \"1h\" (at most "
                 "a year)");
  }
  return DROVER_OK;
}

drover_code drover_scale_policy_check(const json_t *props, char *where, size_t where_size,
                                      drover_error *err)
{
  dv_scale_policy p;

  return dv_scale_parse(&p, props, where, where_size, err);
}

drover_code dv_scale_targets_check(const drover_template *tpl, drover_error *err)
{
  size_t i, t;

  for(i = 0; i < tpl->nblocks; i++) {
    const dv_block *b = &tpl->blocks[i];
    const json_t *v;
    char *ptr;
    drover_code rc;
    if(strcmp(b->type_name, DV_SCALE_TYPE))
      continue;
    v = json_object_get(b->properties, "target");
    if(!json_is_string(v) || dv_has_ref(json_string_value(v)))
      continue; /* the provider's check reports a missing target */
    t = dv_block_find(tpl, json_string_value(v));
    if(t != (size_t)-1 && tpl->blocks[t].count && t != i)
      continue;
    ptr = dv_aprintf("%s/properties/target", b->pointer);
    if(!ptr)
      return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    rc = dv_tpl_error(err, tpl, ptr, 0, DROVER_E_TEMPLATE,
                      "resource \"%s\" (scale.policy): target \"%s\" %s", b->name,
                      json_string_value(v),
                      t == (size_t)-1 ? "is not a resource of this template"
                                      : "has no count to scale");
    free(ptr);
    return rc;
  }
  return DROVER_OK;
}
