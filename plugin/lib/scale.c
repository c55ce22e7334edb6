/* scale.c - drover scale run and the counts drover plan shows: a
 * scale.policy of an open stack decided against the live count, applied
 * through the normal pipeline with the target's count overridden, and
 * its decision recorded as a label on the policy's own object. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "engine.h"
#include "scale.h"

/* One policy being run. */
typedef struct scale_ctx {
  dv_inst *inst;               /* the policy */
  const dv_block *pblock;
  dv_scale_policy pol;
  size_t tblock;               /* target block */
  dv_scale_input in;
  dv_scale_decision d;
  long long last_decided;      /* from the label; 0: none */
  char queue_error[320];       /* the queue could not be read ("" if fine) */
} scale_ctx;

static void iso_utc(char *buf, size_t size, long long t)
{
  time_t tt = (time_t)t;
  struct tm tm;

  memset(&tm, 0, sizeof(tm));
  gmtime_r(&tt, &tm);
  strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A JSON string of an instant, or null for 0. New reference. */
static json_t *time_json(long long t)
{
  char buf[32];

  if(t <= 0)
    return json_null();
  iso_utc(buf, sizeof(buf), t);
  return json_string(buf);
}

static int is_policy(const drover_stack *st, const dv_inst *in)
{
  return !strcmp(st->tpl->blocks[in->block].type_name, DV_SCALE_TYPE);
}

static dv_inst *find_policy(drover_stack *st, const char *name)
{
  size_t i;

  for(i = 0; i < st->ninsts; i++)
    if(is_policy(st, &st->insts[i]) &&
       (!strcmp(st->insts[i].address, name) ||
        !strcmp(st->tpl->blocks[st->insts[i].block].name, name)))
      return &st->insts[i];
  return NULL;
}

/* Whether address is "<block>[<digits>]". */
static int address_of_block(const char *address, const char *block)
{
  size_t n = strlen(block);
  const char *p;

  if(!address || strncmp(address, block, n) || address[n] != '[')
    return 0;
  for(p = address + n + 1; *p >= '0' && *p <= '9'; p++)
    ;
  return p > address + n + 1 && p[0] == ']' && !p[1];
}

/* Live objects of block b after refresh: its instances found in the cloud
 * plus the orphans of its type and name (instances above the template's
 * count, made by an earlier scale-up). */
static long live_count(const drover_stack *st, size_t b)
{
  const dv_block *blk = &st->tpl->blocks[b];
  long n = 0;
  size_t i;

  for(i = 0; i < st->block_ninst[b]; i++)
    n += st->insts[st->block_first[b] + i].live != NULL;
  for(i = 0; i < st->orphans.count; i++)
    if(st->orphan_types[i] == blk->rtype &&
       address_of_block(st->orphans.items[i]->address, blk->name))
      n++;
  return n;
}

/* Reads the policy, the live count, the last decision and the queue,
 * then decides. A queue that cannot be read is an error for run (strict)
 * and a note for plan. */
static drover_code evaluate(scale_ctx *c, drover_stack *st, dv_inst *inst,
                            const drover_scale_opts *o, int strict, drover_error *err)
{
  char where[128];
  const char *text;
  json_t *last;
  drover_code rc;

  memset(c, 0, sizeof(*c));
  c->inst = inst;
  c->pblock = &st->tpl->blocks[inst->block];
  if(!inst->known)
    return drover_error_set(err, DROVER_E_REFERENCE, "scale.policy \"%s\": its properties "
                            "are known only after apply", inst->address);
  rc = dv_scale_parse(&c->pol, inst->desired, where, sizeof(where), err);
  if(rc) {
    drover_error_locate(err, NULL, inst->address);
    return rc;
  }
  c->tblock = dv_block_find(st->tpl, c->pol.target);
  if(c->tblock == (size_t)-1 || !st->tpl->blocks[c->tblock].count)
    return drover_error_set(err, DROVER_E_TEMPLATE, "scale.policy \"%s\": target \"%s\" is "
                            "not a resource with a count", inst->address, c->pol.target);
  c->in.now = o && o->now > 0 ? (time_t)o->now : time(NULL);
  c->in.current = live_count(st, c->tblock);
  c->in.pending = -1;
  text = inst->live ? json_string_value(json_object_get(inst->live->attributes,
                                                        "label_" DV_SCALE_LABEL))
                    : NULL;
  last = text ? json_loads(text, 0, NULL) : NULL;
  if(last) {
    c->in.last_change = (time_t)json_integer_value(json_object_get(last, "changed_at"));
    c->last_decided = json_integer_value(json_object_get(last, "decided_at"));
  }
  json_decref(last);
  if(c->pol.has_queue) {
    drover_error qe;
    drover_error_clear(&qe);
    rc = o && o->pending ? o->pending(o->pending_userdata, c->pol.partition, &c->in.pending,
                                      &qe)
                         : drover_error_set(&qe, DROVER_E_UNSUPPORTED, "this drover cannot "
                                            "read Slurm's queue (built without libslurm)");
    if(rc) {
      c->in.pending = -1;
      snprintf(c->queue_error, sizeof(c->queue_error), "queue of partition %.100s: %.180s",
               c->pol.partition, qe.text);
      if(strict)
        return drover_error_set(err, rc, "scale.policy \"%s\": %s", inst->address,
                                c->queue_error);
    }
  }
  return dv_scale_decide(&c->d, &c->pol, &c->in, err);
}

/* The decision as the report's object (doc/scale.md). New reference. */
static json_t *report_of(const scale_ctx *c, const drover_stack *st)
{
  json_t *r, *q = json_null();

  if(c->pol.has_queue)
    q = json_pack("{s:s, s:I, s:o, s:o}", "partition", c->pol.partition,
                  "jobs_per_instance", (json_int_t)c->pol.jobs_per_instance,
                  "pending", c->in.pending >= 0 ? json_integer(c->in.pending) : json_null(),
                  "count", c->d.queue_count >= 0 ? json_integer(c->d.queue_count)
                                                 : json_null());
  r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:s, s:s, s:o, s:b, "
                "s:b, s:b, s:o, s:o, s:o, s:o, s:b, s:n, s:I, s:I}",
                "policy", c->inst->address, "stack", st->name, "target", c->pol.target,
                "timezone", c->pol.tz, "local_time", c->d.local,
                "decided_at", time_json(c->in.now),
                "current", (json_int_t)c->in.current, "desired", (json_int_t)c->d.desired,
                "asked", (json_int_t)c->d.asked,
                "schedule_count", (json_int_t)c->d.schedule_count,
                "rule", c->d.rule, "reason", c->d.reason,
                "clamped", c->d.clamped ? json_string(c->d.clamped) : json_null(),
                "held", c->d.held, "applied", 0, "dry_run", 0,
                "cooldown_until", time_json(c->d.cooldown_until),
                "last_change", time_json(c->in.last_change),
                "last_decided_at", time_json(c->last_decided),
                "queue", q ? q : json_null(),
                "ok", 1, "error", "min", (json_int_t)c->pol.min,
                "max", (json_int_t)c->pol.max);
  if(r && c->queue_error[0])
    json_object_set_new(r, "queue_error", json_string(c->queue_error));
  return r;
}

/* Writes the decision label on the policy's object through the stack's
 * provider instance (already initialised by refresh). tried: an apply of
 * the new count ran (applied: and succeeded). */
static drover_code record(drover_stack *st, const scale_ctx *c, int tried, int applied,
                          drover_error *err)
{
  const dv_block *b = c->pblock;
  dv_pinst *pi = NULL;
  char *text = NULL;
  json_t *label;
  drover_code rc;

  if(!c->inst->live)
    return drover_error_set(err, DROVER_E_NOT_FOUND, "scale.policy \"%s\" is not in the "
                            "cloud: apply the stack first", c->inst->address);
  rc = dv_stack_provider(&pi, st, b->provider, err);
  if(rc)
    return rc;
  if(pi->vt->version < 4 || !pi->vt->label_set)
    return drover_error_set(err, DROVER_E_UNSUPPORTED, "provider %s cannot label objects: "
                            "scale decisions cannot be kept", pi->vt->name);
  /* count: what plain plans keep (recorded_counts) until the policy
   * decides again: the new count once an apply of it ran, so a partly
   * failed scale-up is finished by the next apply, not undone. */
  label = json_pack("{s:I, s:I, s:I, s:b, s:s, s:I, s:I}", "desired",
                    (json_int_t)c->d.desired, "current", (json_int_t)c->in.current,
                    "count", (json_int_t)(tried ? c->d.desired : c->in.current),
                    "applied", applied, "rule", c->d.rule, "decided_at",
                    (json_int_t)c->in.now, "changed_at",
                    (json_int_t)(applied ? c->in.now : c->in.last_change));
  text = label ? json_dumps(label, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(label);
  if(!text)
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  rc = pi->vt->label_set(pi->state, b->rtype, c->inst->live->name, DV_SCALE_LABEL, text,
                         err);
  free(text);
  return rc;
}

/* The count policy inst last left its target at, from the label on its
 * live object; -1 when it has none. */
static long recorded_count(const dv_inst *inst)
{
  const char *text = inst->live ? json_string_value(json_object_get(
                                    inst->live->attributes, "label_" DV_SCALE_LABEL))
                                : NULL;
  json_t *label = text ? json_loads(text, 0, NULL) : NULL;
  json_t *v = json_object_get(label, "count");
  long n = json_is_integer(v) && json_integer_value(v) >= 0 ? (long)json_integer_value(v)
                                                             : -1;

  json_decref(label);
  return n;
}

/* Adds to vars, for every policy of the refreshed stack whose target is
 * not skip, the count it last left its target at, where that differs
 * from the stack's count. *changed is set when one was added. */
static drover_code recorded_counts(drover_vars *vars, const drover_stack *st,
                                   const char *skip, int *changed, drover_error *err)
{
  drover_code rc = DROVER_OK;
  size_t i, t;

  for(i = 0; !rc && i < st->ninsts; i++) {
    const dv_inst *in = &st->insts[i];
    const char *target;
    long n;
    if(!is_policy(st, in) || !in->known || (n = recorded_count(in)) < 0)
      continue;
    target = json_string_value(json_object_get(in->desired, "target"));
    t = target ? dv_block_find(st->tpl, target) : (size_t)-1;
    if(t == (size_t)-1 || !st->tpl->blocks[t].count || (skip && !strcmp(target, skip)) ||
       (size_t)n == st->block_ninst[t])
      continue;
    rc = drover_vars_count_set(vars, target, n, err);
    *changed = 1;
  }
  return rc;
}

drover_code drover_scale_counts(drover_vars *vars, const drover_stack *stack, int *changed,
                                drover_error *err)
{
  *changed = 0;
  if(!vars || !stack || !stack->tpl)
    return drover_error_set(err, DROVER_E_ARG, "scale counts: no vars or stack");
  return recorded_counts(vars, stack, NULL, changed, err);
}

/* The stack again, with the target's count overridden (and the counts
 * the stack's other policies left their targets at): same template,
 * params, name and options. *out: drover_stack_free(). */
static drover_code reopen(drover_stack **out, const drover_stack *st, const scale_ctx *c,
                          drover_error *err)
{
  drover_vars *vars = drover_vars_new();
  drover_options o = st->opts;
  drover_code rc;

  *out = NULL;
  if(!vars || (st->params && json_object_update(vars->values, st->params)) ||
     (st->counts && !(vars->counts = json_deep_copy(st->counts)))) {
    drover_vars_free(vars);
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  }
  o.stack_name = st->name;
  {
    int other = 0;
    rc = recorded_counts(vars, st, c->pol.target, &other, err);
  }
  if(!rc)
    rc = drover_vars_count_set(vars, c->pol.target, c->d.desired, err);
  if(!rc)
    rc = drover_stack_open(out, st->tpl, vars, &o, err);
  drover_vars_free(vars);
  return rc;
}

/* Plans and applies the scaled stack under its lock; counts what changed
 * into r. *tried: the apply started. */
static drover_code apply_scaled(drover_stack *st2, const drover_scale_opts *o, json_t *r,
                                int *tried, drover_error *err)
{
  static const drover_apply_opts defaults = DROVER_APPLY_OPTS_INIT;
  drover_apply_result res;
  drover_plan *plan = NULL;
  drover_code rc;

  memset(&res, 0, sizeof(res));
  rc = drover_stack_lock(st2, o ? o->lock_wait : 0, err);
  if(!rc)
    rc = drover_stack_refresh(st2, err);
  if(!rc)
    rc = drover_plan_new(&plan, st2, 0, err);
  *tried = !rc;
  if(!rc)
    rc = drover_apply(plan, o && o->apply ? o->apply : &defaults, &res, err);
  json_object_set_new(r, "changes",
                      json_pack("{s:I, s:I, s:I, s:I, s:I}", "created",
                                (json_int_t)res.created, "updated", (json_int_t)res.updated,
                                "replaced", (json_int_t)res.replaced, "deleted",
                                (json_int_t)res.deleted, "failed", (json_int_t)res.failed));
  drover_plan_free(plan);
  return rc;
}

static void fail_report(json_t *r, const drover_error *err)
{
  char buf[DROVER_ERROR_TEXT + 300];

  if(!r)
    return;
  json_object_set_new(r, "ok", json_false());
  json_object_set_new(r, "error", json_string(drover_error_format(err, buf, sizeof(buf))));
}

drover_code drover_scale_run(char **out, drover_stack *stack, const char *policy,
                             const drover_scale_opts *opts, drover_error *err)
{
  drover_stack *st2 = NULL;
  dv_inst *inst;
  scale_ctx c;
  json_t *r = NULL;
  drover_code rc;
  int applied = 0, tried = 0;

  if(out)
    *out = NULL;
  if(!out || !stack || !policy || !stack->tpl)
    return drover_error_set(err, DROVER_E_ARG, "scale run: needs a stack with a template "
                            "and a policy");
  inst = find_policy(stack, policy);
  if(!inst)
    return drover_error_set(err, DROVER_E_NOT_FOUND, "no scale.policy \"%s\" in stack "
                            "\"%s\"", policy, stack->name);
  rc = drover_stack_lock(stack, opts ? opts->lock_wait : 0, err);
  if(!rc)
    rc = drover_stack_refresh(stack, err);
  if(!rc)
    rc = evaluate(&c, stack, inst, opts, 1, err);
  if(rc)
    goto out;
  r = report_of(&c, stack);
  if(!r) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    goto out;
  }
  if(opts && opts->dry_run) {
    json_object_set_new(r, "dry_run", json_true());
    goto out;
  }
  if(!c.d.held && c.d.desired != c.in.current) {
    /* The override goes through the normal pipeline on a second stack,
     * which takes the lock (two stacks of one name exclude each other)
     * and refreshes again under it. */
    drover_stack_unlock(stack);
    rc = reopen(&st2, stack, &c, err);
    if(!rc)
      rc = apply_scaled(st2, opts, r, &tried, err);
    applied = !rc;
    json_object_set_new(r, "applied", json_boolean(applied));
    /* An applied change starts the cooldown. */
    if(applied && c.pol.cooldown > 0)
      json_object_set_new(r, "cooldown_until", time_json(c.in.now + c.pol.cooldown));
    /* Record even a failed change: the decision happened; the cooldown
     * starts only from an applied one. */
    {
      drover_error rerr;
      drover_code rrc;
      drover_error_clear(&rerr);
      rrc = record(stack, &c, tried, applied, rc ? &rerr : err);
      if(!rc)
        rc = rrc;
    }
  }
  else
    rc = record(stack, &c, 0, 0, err);
out:
  if(rc)
    fail_report(r, err);
  if(r)
    *out = json_dumps(r, JSON_SORT_KEYS | JSON_INDENT(2));
  if(r && !*out && !rc)
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  json_decref(r);
  drover_stack_free(st2);
  return rc;
}

drover_code drover_scale_asks(char **out, drover_stack *stack,
                              const drover_scale_opts *opts, drover_error *err)
{
  json_t *arr = json_array();
  drover_code rc = DROVER_OK;
  scale_ctx c;
  size_t i;

  if(out)
    *out = NULL;
  if(!out || !stack || !arr) {
    json_decref(arr);
    return drover_error_set(err, out && stack ? DROVER_E_NOMEM : DROVER_E_ARG,
                            "scale asks: %s", out && stack ? "out of memory" : "no stack");
  }
  for(i = 0; !rc && stack->tpl && i < stack->ninsts; i++) {
    /* A policy known only after apply asks for nothing yet. */
    if(!is_policy(stack, &stack->insts[i]) || !stack->insts[i].known)
      continue;
    rc = evaluate(&c, stack, &stack->insts[i], opts, 0, err);
    if(!rc && json_array_append_new(arr, report_of(&c, stack)))
      rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  }
  if(!rc && !(*out = json_dumps(arr, JSON_COMPACT | JSON_SORT_KEYS)))
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  json_decref(arr);
  return rc;
}
