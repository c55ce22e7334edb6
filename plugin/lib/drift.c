/* drift.c - drover drift run: plans each stack a drift.policy targets and
 * reports what changed out of band and why; with auto_repair, applies the
 * plan that puts it back.
 *
 * Safety rules: a target whose template cannot be loaded, whose vars do
 * not fit or whose plan fails is reported as an error and left alone
 * (never planned for destruction: no bare stack is ever opened here). A
 * repair never deletes: a plan with a delete is reported, not applied. */
#include <fnmatch.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "engine.h"
#include "drift.h"

typedef struct ctx {
  drover_stack *stack;      /* the policy's */
  const dv_inst *pol;
  dv_drift_policy p;
  char *dir;                /* templates directory (owned) */
  char *base;               /* the policy template's directory (owned) */
  const drover_drift_opts *o;
} ctx;

/* Why a plan entry is drift, in words (static or in buf). */
static const char *why(const json_t *r, char *buf, size_t size)
{
  const char *action = json_string_value(json_object_get(r, "action"));
  const json_t *changed = json_object_get(r, "changed"), *c;
  size_t i, n = 0;

  if(!strcmp(action, "create"))
    return "deleted out of band (not in the cloud)";
  if(!strcmp(action, "delete"))
    return "in the cloud but not in the template (a repair never deletes it)";
  json_array_foreach(changed, i, c) {
    const char *k = json_string_value(c);
    if(k && !strcmp(k, "state")) {
      const char *before = json_string_value(
        json_object_get(json_object_get(r, "before"), "state"));
      if(before && !strcmp(before, "stopped"))
        return "stopped out of band";
    }
  }
  n = (size_t)snprintf(buf, size, "%s out of band:",
                       strcmp(action, "replace") ? "changed" : "changed (needs replacement)");
  json_array_foreach(changed, i, c)
    if(n < size)
      n += (size_t)snprintf(buf + n, size - n, "%s %s", i ? "," : "",
                            json_string_value(c) ? json_string_value(c) : "?");
  if(!json_array_size(changed) && n < size)
    snprintf(buf + n, size - n, " %s", json_string_value(json_object_get(r, "reason")));
  return buf;
}

static int file_exists(const char *path)
{
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Records err in entry as a failed check. */
static void entry_fail(json_t *entry, const char *what, const drover_error *e)
{
  char buf[DROVER_ERROR_TEXT + 64], line[DROVER_ERROR_TEXT + 300];

  drover_error_format(e, buf, sizeof(buf));
  snprintf(line, sizeof(line), "%s: %s", what, buf);
  json_object_set_new(entry, "result", json_string("error"));
  json_object_set_new(entry, "error", json_string(line));
}

/* Plans (and maybe repairs) one target stack, filling entry. Returns
 * DROVER_E_NOMEM only; the stack's own failures go into entry. */
static drover_code check_stack(ctx *c, const char *name, json_t *entry, size_t *drifted)
{
  drover_template *tpl = NULL;
  drover_vars *vars = NULL;
  drover_stack *ts = NULL;
  drover_plan *plan = NULL;
  drover_options opts = c->stack->opts;
  drover_error e;
  char *path = c->p.tpl ? dv_aprintf("%s%s%s", c->p.tpl[0] == '/' ? "" : c->base,
                                     c->p.tpl[0] == '/' ? "" : "/", c->p.tpl)
                        : dv_aprintf("%s/%s.json", c->dir, name);
  char *vpath = dv_aprintf("%s/%s.vars.json", c->dir, name);
  char *pj = NULL;
  json_t *pr = NULL, *list, *r;
  drover_code rc = DROVER_OK;
  size_t i, n = 0, deletes = 0;

  drover_error_clear(&e);
  *drifted = 0;
  if(!path || !vpath || !(list = json_array()) ||
     json_object_set_new(entry, "template", json_string(path)) ||
     json_object_set_new(entry, "resources", list)) {
    rc = DROVER_E_NOMEM;
    goto out;
  }
  if(drover_template_load_file(&tpl, path, &e)) {
    entry_fail(entry, "template cannot be loaded (stack left alone)", &e);
    goto out;
  }
  if(!(vars = drover_vars_new())) {
    rc = DROVER_E_NOMEM;
    goto out;
  }
  if(file_exists(vpath) && drover_vars_load_file(vars, vpath, &e)) {
    entry_fail(entry, "vars cannot be loaded (stack left alone)", &e);
    goto out;
  }
  {
    const char *k;
    json_t *v;
    json_object_foreach(c->p.vars, k, v) {
      char num[64];
      const char *s = json_is_string(v) ? json_string_value(v) : json_is_true(v) ? "true"
                      : json_is_false(v) ? "false" : num;
      if(json_is_integer(v))
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
      else if(json_is_real(v))
        snprintf(num, sizeof(num), "%.17g", json_real_value(v));
      if(drover_vars_set(vars, k, s, &e)) {
        entry_fail(entry, "the policy's vars do not fit (stack left alone)", &e);
        goto out;
      }
    }
  }
  opts.stack_name = name;
  if(drover_stack_open(&ts, tpl, vars, &opts, &e) ||
     drover_stack_lock(ts, c->o ? c->o->lock_timeout : 0, &e) ||
     drover_stack_refresh(ts, &e) || drover_plan_new(&plan, ts, 0, &e) ||
     drover_plan_to_json(&pj, plan, &e)) {
    entry_fail(entry, "plan failed (stack left alone)", &e);
    goto out;
  }
  pr = json_loads(pj, 0, NULL);
  json_array_foreach(json_object_get(pr, "resources"), i, r) {
    const char *action = json_string_value(json_object_get(r, "action"));
    char buf[512];
    json_t *d;
    if(!action || !strcmp(action, "no-op"))
      continue;
    deletes += !strcmp(action, "delete");
    d = json_pack("{s:O?, s:O?, s:s, s:O?, s:O?, s:s}", "address",
                  json_object_get(r, "address"), "type", json_object_get(r, "type"), "action",
                  action, "changed", json_object_get(r, "changed"), "reason",
                  json_object_get(r, "reason"), "why", why(r, buf, sizeof(buf)));
    if(!d || json_array_append_new(list, d)) {
      rc = DROVER_E_NOMEM;
      goto out;
    }
    n++;
    dv_log(c->stack, DROVER_LOG_INFO, "drift: %s: %s %s", name,
           json_string_value(json_object_get(r, "address")), buf[0] ? buf : action);
  }
  *drifted = n;
  json_object_set_new(entry, "drifted", json_integer((json_int_t)n));
  json_object_set_new(entry, "result", json_string(n ? "drifted" : "clean"));
  if(!n || !c->p.auto_repair || (c->o && c->o->no_repair))
    goto out;
  if(deletes) {
    json_object_set_new(entry, "result", json_string("repair-refused"));
    json_object_set_new(entry, "error",
                        json_string("the repair plan deletes resources; a drift repair "
                                    "never deletes (run drover apply by hand)"));
    goto out;
  }
  {
    drover_apply_opts ao = DROVER_APPLY_OPTS_INIT;
    drover_apply_result res;
    memset(&res, 0, sizeof(res));
    if(c->o)
      ao.op_timeout = c->o->op_timeout;
    if(drover_apply(plan, &ao, &res, &e)) {
      entry_fail(entry, "repair failed", &e);
    }
    else
      json_object_set_new(entry, "result", json_string("repaired"));
    json_object_set_new(entry, "repair",
                        json_pack("{s:I, s:I, s:I, s:I}", "created", (json_int_t)res.created,
                                  "updated", (json_int_t)res.updated, "replaced",
                                  (json_int_t)res.replaced, "failed", (json_int_t)res.failed));
  }
out:
  json_decref(pr);
  free(pj);
  drover_plan_free(plan);
  drover_stack_free(ts);
  drover_vars_free(vars);
  drover_template_free(tpl);
  free(path);
  free(vpath);
  return rc;
}

/* The target stack names: the policy's list, or every stack in the
 * policy's providers whose name matches the selector (but the policy's
 * own). *out: drover_strv_free(). */
static drover_code targets(char ***out, ctx *c, drover_error *err)
{
  char **all = NULL, **v;
  char *prov = NULL;
  drover_code rc = DROVER_OK;
  size_t i, n = 0;

  *out = NULL;
  if(!c->p.sel_stack) {
    v = calloc(c->p.ntargets + 1, sizeof(*v));
    for(i = 0; v && i < c->p.ntargets; i++)
      if(!(v[i] = strdup(c->p.targets[i])))
        break;
    if(!v || i < c->p.ntargets) {
      drover_strv_free(v);
      return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    }
    *out = v;
    return DROVER_OK;
  }
  if(c->stack->tpl->providers &&
     !(prov = json_dumps(c->stack->tpl->providers, JSON_COMPACT)))
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  rc = drover_stacks_list(&all, prov, &c->stack->opts, err);
  free(prov);
  if(rc)
    return rc;
  for(i = 0; all[i]; i++)
    if(strcmp(all[i], c->stack->name) && !fnmatch(c->p.sel_stack, all[i], 0))
      all[n++] = all[i];
    else
      free(all[i]);
  all[n] = NULL;
  *out = all;
  return DROVER_OK;
}

drover_code drover_drift_run(char **out, drover_stack *stack, const char *policy,
                             const drover_drift_opts *o, drover_error *err)
{
  ctx c;
  char where[256], when[32], **names = NULL;
  json_t *report = NULL, *arr;
  drover_code rc = DROVER_OK;
  size_t i, total = 0, errors = 0, repaired = 0;

  *out = NULL;
  memset(&c, 0, sizeof(c));
  c.stack = stack;
  c.o = o;
  for(i = 0; policy && i < stack->ninsts; i++) {
    const dv_block *b = &stack->tpl->blocks[stack->insts[i].block];
    if(!strcmp(b->type_name, "drift.policy") &&
       (!strcmp(stack->insts[i].address, policy) || !strcmp(b->name, policy))) {
      c.pol = &stack->insts[i];
      break;
    }
  }
  if(!c.pol) {
    rc = drover_error_set(err, DROVER_E_ARG, "drift: stack %s has no drift.policy \"%s\"",
                          stack->name, policy ? policy : "");
    goto out;
  }
  if(!c.pol->known) {
    rc = drover_error_set(err, DROVER_E_ARG,
                          "drift: policy \"%s\" refers to values known only after apply",
                          policy);
    goto out;
  }
  rc = dv_drift_policy_parse(&c.p, c.pol->desired, where, sizeof(where), err);
  if(rc) {
    drover_error_locate(err, NULL, c.pol->address);
    goto out;
  }
  {
    /* Relative paths are read from the policy template's directory. */
    char *src = strdup(drover_template_source(stack->tpl));
    c.base = src ? strdup(dirname(src)) : NULL;
    free(src);
  }
  if(c.p.templates && c.p.templates[0] == '/')
    c.dir = strdup(c.p.templates);
  else if(c.base)
    c.dir = dv_aprintf("%s%s%s", c.base, c.p.templates ? "/" : "",
                       c.p.templates ? c.p.templates : "");
  if(!c.dir || !c.base) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    goto out;
  }
  rc = targets(&names, &c, err);
  if(rc)
    goto out;
  report = json_pack("{s:s, s:b, s:s, s:[]}", "policy", c.pol->address, "auto_repair",
                     c.p.auto_repair && !(o && o->no_repair), "checked_at",
                     dv_iso_utc((long long)time(NULL), when, sizeof(when)), "stacks");
  if(!report) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    goto out;
  }
  arr = json_object_get(report, "stacks");
  for(i = 0; names[i]; i++) {
    json_t *entry = json_pack("{s:s}", "stack", names[i]);
    const char *res;
    size_t d = 0;
    if(!entry || json_array_append_new(arr, entry) || check_stack(&c, names[i], entry, &d)) {
      rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
      goto out;
    }
    res = json_string_value(json_object_get(entry, "result"));
    total += d;
    errors += !res || !strcmp(res, "error") || !strcmp(res, "repair-refused");
    repaired += res && !strcmp(res, "repaired");
  }
  json_object_set_new(report, "drifted", json_integer((json_int_t)total));
  json_object_set_new(report, "repaired", json_integer((json_int_t)repaired));
  json_object_set_new(report, "errors", json_integer((json_int_t)errors));
  if(errors)
    rc = drover_error_set(err, errors == i ? DROVER_E_PROVIDER : DROVER_E_PARTIAL,
                          "drift run: %zu of %zu stacks could not be checked or repaired",
                          errors, i);
out:
  if(report) {
    *out = json_dumps(report, JSON_COMPACT);
    json_decref(report);
    if(!*out && !rc)
      rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  }
  drover_strv_free(names);
  free(c.dir);
  free(c.base);
  dv_drift_policy_free(&c.p);
  return rc;
}
