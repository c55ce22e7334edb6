/* drift_policy.c - reading a drift.policy's properties: target stacks by
 * name or by a glob on their stack label, where their templates are, the
 * schedule and auto_repair. Used at template load (through the provider's
 * check op) and by drover drift run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "drift.h"

static drover_code bad(drover_error *err, char *where, size_t wsize, const char *ptr,
                       const char *msg)
{
  if(where && wsize)
    snprintf(where, wsize, "%s", ptr);
  return drover_error_set(err, DROVER_E_TEMPLATE, "%s", msg);
}

drover_code dv_sched_props_parse(dv_cron *cron, char *tz, size_t tz_size, const json_t *props,
                                 char *where, size_t wsize, drover_error *err)
{
  const json_t *v = json_object_get(props, "timezone");
  const char *s = v ? json_string_value(v) : "UTC";
  const char *ptr = "/timezone";
  drover_code rc = dv_tz_check(s, err);

  if(!rc) {
    snprintf(tz, tz_size, "%s", s);
    ptr = "/schedule";
    s = json_string_value(json_object_get(props, "schedule"));
    if(!s)
      return bad(err, where, wsize, ptr, "schedule is required");
    rc = dv_cron_parse(cron, s, tz, err);
  }
  if(rc) {
    /* The cron or zone error's text stays; the pointer says where. */
    if(where && wsize)
      snprintf(where, wsize, "%s", ptr);
    err->code = DROVER_E_TEMPLATE;
    rc = DROVER_E_TEMPLATE;
  }
  return rc;
}

drover_code dv_drift_policy_parse(dv_drift_policy *out, const json_t *props, char *where,
                                  size_t wsize, drover_error *err)
{
  const json_t *v, *sel, *x;
  const char *key;
  drover_code rc;
  size_t i;

  memset(out, 0, sizeof(*out));
  if(where && wsize)
    where[0] = '\0';
  rc = dv_sched_props_parse(&out->cron, out->tz, sizeof(out->tz), props, where, wsize, err);
  if(rc)
    return rc;
  v = json_object_get(props, "targets");
  sel = json_object_get(props, "selector");
  if((v && json_array_size(v)) == !!sel)
    return bad(err, where, wsize, v ? "/targets" : "",
               "give exactly one of targets (stack names) and selector (a glob on the "
               "stack label)");
  json_array_foreach(v, i, x) {
    char **t = realloc(out->targets, (i + 1) * sizeof(*t));
    if(!t)
      return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    out->targets = t;
    if(!json_is_string(x) || !*json_string_value(x) || strchr(json_string_value(x), '/'))
      return bad(err, where, wsize, "/targets", "targets are stack names (no '/')");
    if(!(t[i] = strdup(json_string_value(x))))
      return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    out->ntargets++;
  }
  json_object_foreach((json_t *)sel, key, x) {
    if(strcmp(key, "stack"))
      return bad(err, where, wsize, "/selector",
                 "a drift selector matches the stack label only (key \"stack\")");
    if(!(out->sel_stack = strdup(json_string_value(x))))
      return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  }
  if(sel && !out->sel_stack)
    return bad(err, where, wsize, "/selector", "selector is empty");
  v = json_object_get(props, "templates");
  if(v && (!json_string_value(v) || !*json_string_value(v)))
    return bad(err, where, wsize, "/templates", "templates is a directory path");
  if(v && !(out->templates = strdup(json_string_value(v))))
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  v = json_object_get(props, "template");
  if(v && (!json_string_value(v) || !*json_string_value(v)))
    return bad(err, where, wsize, "/template", "template is a file path");
  if(v && !(out->tpl = strdup(json_string_value(v))))
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  v = json_object_get(props, "vars");
  json_object_foreach((json_t *)v, key, x)
    if(!json_is_string(x) && !json_is_number(x) && !json_is_boolean(x))
      return bad(err, where, wsize, "/vars", "vars values are strings, numbers or booleans");
  out->vars = json_incref((json_t *)v);
  out->auto_repair = json_is_true(json_object_get(props, "auto_repair"));
  return DROVER_OK;
}

void dv_drift_policy_free(dv_drift_policy *p)
{
  size_t i;

  for(i = 0; i < p->ntargets; i++)
    free(p->targets[i]);
  free(p->targets);
  free(p->sel_stack);
  free(p->templates);
  free(p->tpl);
  json_decref(p->vars);
  memset(p, 0, sizeof(*p));
}

drover_code drover_drift_policy_check(const json_t *props, char *where, size_t where_size,
                                      drover_error *err)
{
  dv_drift_policy p;
  drover_code rc = dv_drift_policy_parse(&p, props, where, where_size, err);

  dv_drift_policy_free(&p);
  return rc;
}
