/* backup.c - the backup commands every shell shares (drover backup, and
 * later scheduled jobs): run, prune, list and restore for a backup.policy
 * of an open stack. Reports are JSON text for the shells to print.
 *
 * A snapshot belongs to a policy when both hold: its name is
 * drover-<key>-<slot> (backup.h) and the label the provider stored with it
 * under <key> names the same stack and policy. Anything else (a manual
 * snapshot, another policy's) is never touched. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "engine.h"
#include "backup.h"

typedef dv_btarget target;
typedef dv_bctx ctx;

void dv_bctx_free(dv_bctx *c)
{
  size_t i;

  dv_export_store_close(c->store);

  for(i = 0; i < c->nt; i++) {
    free(c->t[i].name);
    free(c->t[i].address);
    free(c->t[i].status);
  }
  free(c->t);
  dv_policy_free(&c->p);
}

static drover_code add_target(ctx *c, const drover_provider *vt, void *state,
                              const drover_rtype *type, const drover_live *l,
                              const char *stack_name)
{
  target *t;
  size_t i;

  for(i = 0; i < c->nt; i++)
    if(c->t[i].vt == vt && !strcmp(c->t[i].name, l->name))
      return DROVER_OK; /* named twice */
  t = realloc(c->t, (c->nt + 1) * sizeof(*t));
  if(!t)
    return DROVER_E_NOMEM;
  c->t = t;
  t = &c->t[c->nt];
  memset(t, 0, sizeof(*t));
  t->vt = vt;
  t->state = state;
  t->type = type;
  t->name = dv_strdup(l->name);
  t->address = stack_name ? dv_aprintf("%s/%s", stack_name, l->address ? l->address : "?")
                          : dv_strdup(l->address ? l->address : l->name);
  t->status = dv_strdup(l->status);
  if(!t->name || !t->address || (l->status && !t->status)) {
    free(t->name);
    free(t->address);
    free(t->status);
    return DROVER_E_NOMEM;
  }
  c->nt++;
  return DROVER_OK;
}

static drover_code resolve_targets(ctx *c, drover_error *err)
{
  drover_stack *st = c->stack;
  const dv_block *pb = &st->tpl->blocks[c->pol->block];
  dv_pinst *pi = NULL;
  drover_code rc;
  size_t i, j;

  rc = dv_stack_provider(&pi, st, pb->provider, err);
  if(rc)
    return rc;
  for(i = 0; i < c->p.ntargets; i++) {
    size_t b = dv_block_find(st->tpl, c->p.targets[i]), found = 0;
    for(j = 0; j < st->ninsts; j++) {
      const dv_inst *in = &st->insts[j];
      dv_pinst *ti = NULL;
      /* A resource name, an address, or a cloud name (what a reference
       * such as ${resources.db.name} gives, which also makes the graph
       * edge from the policy to its target), or a cloud-assigned ID
       * (${resources.host.id}: the live object's name). */
      if(b != (size_t)-1 ? in->block != b
                         : strcmp(in->address, c->p.targets[i]) &&
                               (!in->name || strcmp(in->name, c->p.targets[i])) &&
                               (!in->live || !in->live->name ||
                                strcmp(in->live->name, c->p.targets[i])))
        continue;
      found++;
      /* Each target is snapshotted by its own provider. */
      rc = dv_stack_provider(&ti, st, st->tpl->blocks[in->block].provider, err);
      if(rc)
        return rc;
      if(!dv_backup_target_type(ti->vt, st->tpl->blocks[in->block].rtype) ||
         !ti->vt->snapshot_list || !ti->vt->snapshot_create || !ti->vt->snapshot_delete)
        return drover_error_set(err, DROVER_E_ARG,
                                "backup: target \"%s\" of policy \"%s\" is a %s, not an "
                                "instance or volume that can be snapshotted",
                                in->address, c->pol->address,
                                st->tpl->blocks[in->block].type_name);
      if(!in->live && c->skip_missing)
        continue;
      if(!in->live) {
        drover_error_set(err, DROVER_E_NOT_FOUND,
                         "backup: target \"%s\" of policy \"%s\" does not exist (apply "
                         "the stack first)",
                         in->address, c->pol->address);
        return DROVER_E_NOT_FOUND;
      }
      if(add_target(c, ti->vt, ti->state, st->tpl->blocks[in->block].rtype, in->live,
                    NULL))
        return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    }
    if(!found)
      return drover_error_set(err, DROVER_E_ARG,
                              "backup: policy \"%s\" targets \"%s\", which is not a "
                              "resource of stack %s",
                              c->pol->address, c->p.targets[i], st->name);
  }
  if(c->p.has_selector) {
    drover_live_list all;
    const drover_rtype *it = dv_instance_type(pi->vt);
    memset(&all, 0, sizeof(all));
    if(!it || !pi->vt->snapshot_list || !pi->vt->snapshot_create || !pi->vt->snapshot_delete)
      return drover_error_set(err, DROVER_E_UNSUPPORTED,
                              "backup: provider %s has no instances it can snapshot",
                              pi->vt->name);
    rc = pi->vt->list(pi->state, it, NULL, &all, err);
    for(i = 0; !rc && i < all.count; i++) {
      const drover_live *l = all.items[i];
      if(!l->stack || !l->address)
        continue;
      if(c->p.sel_stack && fnmatch(c->p.sel_stack, l->stack, 0))
        continue;
      if(c->p.sel_address && fnmatch(c->p.sel_address, l->address, 0))
        continue;
      if(add_target(c, pi->vt, pi->state, it, l, l->stack))
        rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    }
    drover_live_list_clear(&all);
  }
  return rc;
}

drover_code dv_bctx_open(dv_bctx *c, drover_stack *stack, const char *policy,
                         const drover_backup_opts *o, int targets, drover_error *err)
{
  char where[256];
  drover_code rc;
  size_t i;

  memset(c, 0, sizeof(*c));
  c->stack = stack;
  c->now = o && o->now ? o->now : (long long)time(NULL);
  c->timeout = o && o->timeout > 0 ? o->timeout : 600;
  if(!policy)
    return drover_error_set(err, DROVER_E_ARG, "backup: which policy?");
  /* Refreshed first: a target given as a cloud-assigned ID
   * (${resources.host.id}) is known once the stack's objects are read. */
  if(!stack->refreshed) {
    rc = drover_stack_refresh(stack, err);
    if(rc)
      return rc;
  }
  for(i = 0; i < stack->ninsts; i++) {
    const dv_block *b = &stack->tpl->blocks[stack->insts[i].block];
    if(!strcmp(b->type_name, "backup.policy") &&
       (!strcmp(stack->insts[i].address, policy) || !strcmp(b->name, policy))) {
      c->pol = &stack->insts[i];
      break;
    }
  }
  if(!c->pol)
    return drover_error_set(err, DROVER_E_ARG,
                            "backup: stack %s has no backup.policy \"%s\"", stack->name,
                            policy);
  if(!c->pol->known)
    return drover_error_set(err, DROVER_E_ARG,
                            "backup: policy \"%s\" refers to values known only after "
                            "apply; apply the stack first",
                            policy);
  rc = dv_policy_parse(&c->p, c->pol->desired, where, sizeof(where), err);
  if(rc) {
    drover_error_locate(err, NULL, c->pol->address);
    return rc;
  }
  if(dv_policy_key(c->key, stack->name, c->pol->address))
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  /* The members of version 2 are read only from a struct that has them. */
  c->opts = o && o->version >= 2 ? o : NULL;
  c->skip_missing = targets == 2;
  return targets ? resolve_targets(c, err) : DROVER_OK;
}

/* The label stored with each snapshot under the policy's key. Caller
 * frees. */
static char *label_text(const ctx *c, long long slot)
{
  json_t *o = json_pack("{s:s, s:s, s:I, s:s}", "stack", c->stack->name, "policy",
                        c->pol->address, "slot", (json_int_t)slot, "on_delete",
                        c->p.delete_on_remove ? "delete" : "keep");
  char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

  json_decref(o);
  return s;
}

static int str_is(const json_t *v, const char *s)
{
  const char *t = json_string_value(v);
  return t && !strcmp(t, s);
}

/* The slot of snapshot s when this policy made it (name and label
 * agree), else -1. */
static long long policy_slot(const ctx *c, const drover_snapshot *s)
{
  long long slot = dv_snap_slot(s->name, c->key);
  const char *text = json_string_value(json_object_get(s->labels, c->key));
  json_t *l;
  int ok;

  if(slot < 0 || !text)
    return -1;
  l = json_loads(text, 0, NULL);
  ok = l && str_is(json_object_get(l, "stack"), c->stack->name) &&
       str_is(json_object_get(l, "policy"), c->pol->address);
  json_decref(l);
  return ok ? slot : -1;
}

static char *iso_utc(long long t, char *buf, size_t size)
{
  time_t tt = (time_t)t;
  struct tm tm;

  gmtime_r(&tt, &tm);
  strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

static drover_code dump(char **out, json_t *report, drover_error *err)
{
  *out = json_dumps(report, JSON_COMPACT);
  json_decref(report);
  return *out ? DROVER_OK : drover_error_set(err, DROVER_E_NOMEM, "out of memory");
}

/* ------------------------------------------------------------------------
 * run
 */

drover_code drover_backup_run(char **out, drover_stack *stack, const char *policy,
                              const drover_backup_opts *o, drover_error *err)
{
  ctx c;
  drover_code rc;
  json_t *report = NULL, *arr;
  time_t slot_t;
  char name[96], when[32];
  size_t i, failed = 0;

  *out = NULL;
  rc = dv_bctx_open(&c, stack, policy, o, 1, err);
  if(rc)
    goto out;
  rc = dv_cron_slot_of(&c.p.cron, (time_t)c.now, &slot_t, err);
  if(rc)
    goto out;
  dv_snap_name(name, sizeof(name), c.key, (long long)slot_t);
  report = json_pack("{s:s, s:s, s:s, s:[]}", "policy", c.pol->address, "slot",
                     iso_utc((long long)slot_t, when, sizeof(when)), "snapshot", name,
                     "targets");
  if(!report) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    goto out;
  }
  arr = json_object_get(report, "targets");
  for(i = 0; i < c.nt; i++) {
    target *t = &c.t[i];
    drover_snapshot_list snaps;
    json_t *entry = json_pack("{s:s, s:s}", "instance", t->name, "address", t->address);
    const char *result = NULL;
    dv_export_job *job = NULL;
    drover_error e;
    int exists = 0, pre_failed = 0, hooks = t->status && !strcmp(t->status, "Running");
    size_t k;
    char *label = label_text(&c, (long long)slot_t);

    drover_error_clear(&e);
    memset(&snaps, 0, sizeof(snaps));
    if(!entry || !label || json_array_append_new(arr, entry)) {
      free(label);
      rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
      goto out;
    }
    /* One snapshot per slot: an earlier (or killed) run's is kept. */
    if(t->vt->snapshot_list(t->state, t->name, &snaps, &e) == DROVER_OK) {
      for(k = 0; k < snaps.count; k++)
        if(!strcmp(snaps.items[k].name, name) && policy_slot(&c, &snaps.items[k]) >= 0)
          exists = 1;
    }
    drover_snapshot_list_clear(&snaps);
    if(e.code)
      result = "failed";
    else if(exists)
      result = "exists";
    else {
      /* Whether the slot's export exists is known before the hooks, so
       * that the export can be captured while they hold. */
      if(c.p.export_url && !(job = dv_export_begin(&c, i, name))) {
        free(label);
        rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
        goto out;
      }
      if(hooks && c.p.pre)
        pre_failed = dv_backup_hook(&c, t, c.p.pre, "pre", entry);
      if(pre_failed) {
        drover_error_set(&e, DROVER_E_PROVIDER,
                         "pre hook failed in %s: snapshot not taken", t->name);
        result = "failed";
      }
      else {
        int existed = 0;
        /* The export is made of the instance while its snapshot is taken,
         * both between pre and post (no copy of the snapshot needed). */
        if(job)
          dv_export_capture_begin(job);
        if(t->vt->snapshot_create(t->state, t->name, name, c.key, label,
                                  drover_now() + c.timeout, &existed, &e) == DROVER_OK)
          result = existed ? "exists" : "created";
        else
          result = "failed";
        if(job)
          dv_export_capture_end(job, !e.code);
      }
      /* post always runs once pre was tried. */
      if(hooks && c.p.post && dv_backup_hook(&c, t, c.p.post, "post", entry) && !e.code)
        drover_error_set(&e, DROVER_E_PROVIDER, "post hook failed in %s", t->name);
      if(hooks && c.p.post && e.code && strcmp(result, "failed"))
        result = "failed";
    }
    free(label);
    /* The upload follows the snapshot; with no capture (the snapshot is
     * an earlier run's) the snapshot itself is exported. */
    if(!e.code && c.p.export_url &&
       (job ? dv_export_finish(job, (long long)slot_t, entry, &e)
            : dv_export_run(&c, i, name, (long long)slot_t, entry, &e)))
      result = "failed";
    dv_export_job_free(job);
    json_object_set_new(entry, "result", json_string(result));
    if(e.code) {
      json_object_set_new(entry, "error", json_string(e.text));
      dv_log(stack, DROVER_LOG_ERROR, "backup: %s: %s", t->name, e.text);
      failed++;
    }
  }
  if(failed)
    rc = drover_error_set(err, c.nt == failed ? DROVER_E_PROVIDER : DROVER_E_PARTIAL,
                          "backup run: %zu of %zu targets failed", failed, c.nt);
out:
  if(report) {
    drover_code r2 = dump(out, report, err);
    if(!rc)
      rc = r2;
  }
  dv_bctx_free(&c);
  return rc;
}

/* ------------------------------------------------------------------------
 * prune and list
 */

static drover_code prune_or_list(char **out, drover_stack *stack, const char *policy,
                                 const drover_backup_opts *o, int prune, drover_error *err)
{
  ctx c;
  drover_code rc;
  json_t *report = NULL, *arr;
  size_t i, failed = 0;
  int dry = o && o->dry_run;

  *out = NULL;
  /* A target that is gone has no snapshots left (they go with it) but
   * may have exports (they are what restores it): list and prune both
   * go on without it, and its exports keep being listed and pruned. */
  rc = dv_bctx_open(&c, stack, policy, o, 2, err);
  if(rc)
    goto out;
  report = json_pack("{s:s, s:b, s:[]}", "policy", c.pol->address, "dry_run", dry || !prune,
                     "snapshots");
  if(!report) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    goto out;
  }
  arr = json_object_get(report, "snapshots");
  for(i = 0; i < c.nt && !rc; i++) {
    target *t = &c.t[i];
    drover_snapshot_list snaps;
    time_t *times = NULL;
    unsigned *kept = NULL;
    size_t *idx = NULL, n = 0, k;
    drover_error e;

    drover_error_clear(&e);
    memset(&snaps, 0, sizeof(snaps));
    rc = t->vt->snapshot_list(t->state, t->name, &snaps, err);
    if(rc)
      break;
    times = calloc(snaps.count + 1, sizeof(*times));
    kept = calloc(snaps.count + 1, sizeof(*kept));
    idx = calloc(snaps.count + 1, sizeof(*idx));
    if(!times || !kept || !idx)
      rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    for(k = 0; !rc && k < snaps.count; k++) {
      long long slot = policy_slot(&c, &snaps.items[k]);
      if(slot < 0)
        continue; /* not this policy's: never touched */
      times[n] = (time_t)slot;
      idx[n++] = k;
    }
    if(!rc && n && prune)
      rc = dv_retention_apply(&c.p.ret, times, n, (time_t)c.now, kept, err);
    for(k = 0; !rc && k < n; k++) {
      const drover_snapshot *s = &snaps.items[idx[k]];
      char why[128], when[32], created[32];
      const char *action = !prune ? "listed" : kept[k] ? "keep" : dry ? "would delete"
                                                                     : "delete";
      json_t *entry;
      if(prune && !kept[k] && !dry) {
        drover_error_clear(&e);
        if(t->vt->snapshot_delete(t->state, t->name, s->name, drover_now() + c.timeout, &e)) {
          action = "failed";
          failed++;
          dv_log(stack, DROVER_LOG_ERROR, "backup prune: %s/%s: %s", t->name, s->name, e.text);
        }
        else
          action = "deleted";
      }
      dv_retention_reasons(kept[k], why, sizeof(why));
      entry = json_pack("{s:s, s:s, s:s, s:s, s:s}", "instance", t->name, "snapshot",
                        s->name, "slot", iso_utc((long long)times[k], when, sizeof(when)),
                        "created", iso_utc(s->created, created, sizeof(created)), "action",
                        action);
      if(entry && prune && kept[k])
        json_object_set_new(entry, "kept_by", json_string(why));
      if(!entry || json_array_append_new(arr, entry))
        rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    }
    free(times);
    free(kept);
    free(idx);
    drover_snapshot_list_clear(&snaps);
  }
  if(!rc && c.p.export_url) {
    json_t *ex = json_array();
    if(!ex || json_object_set_new(report, "exports", ex))
      rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    else
      rc = dv_export_prune(&c, prune, dry, ex, &failed, err);
  }
  if(!rc && failed)
    rc = drover_error_set(err, DROVER_E_PARTIAL, "backup prune: %zu deletions failed",
                          failed);
out:
  if(report) {
    drover_code r2 = dump(out, report, err);
    if(!rc)
      rc = r2;
  }
  dv_bctx_free(&c);
  return rc;
}

drover_code drover_backup_prune(char **out, drover_stack *stack, const char *policy,
                                const drover_backup_opts *o, drover_error *err)
{
  return prune_or_list(out, stack, policy, o, 1, err);
}

/* Every policy's list, merged: each entry gains "policy". */
static drover_code list_all(char **out, drover_stack *stack, drover_error *err)
{
  json_t *all = json_pack("{s:[]}", "snapshots"), *one, *e;
  drover_code rc = all ? DROVER_OK : DROVER_E_NOMEM;
  size_t i, k;

  *out = NULL;
  for(i = 0; !rc && i < stack->ninsts; i++) {
    const dv_inst *in = &stack->insts[i];
    char *text = NULL;
    if(strcmp(stack->tpl->blocks[in->block].type_name, "backup.policy"))
      continue;
    rc = prune_or_list(&text, stack, in->address, NULL, 0, err);
    one = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    json_array_foreach(json_object_get(one, "snapshots"), k, e) {
      if(json_object_set_new(e, "policy", json_string(in->address)) ||
         json_array_append(json_object_get(all, "snapshots"), e))
        rc = DROVER_E_NOMEM;
    }
    json_array_foreach(json_object_get(one, "exports"), k, e) {
      if(!json_object_get(all, "exports") &&
         json_object_set_new(all, "exports", json_array()))
        rc = DROVER_E_NOMEM;
      if(json_object_set_new(e, "policy", json_string(in->address)) ||
         json_array_append(json_object_get(all, "exports"), e))
        rc = DROVER_E_NOMEM;
    }
    json_decref(one);
  }
  if(rc == DROVER_E_NOMEM)
    drover_error_set(err, rc, "out of memory");
  if(all) {
    drover_code r2 = dump(out, all, err);
    if(!rc)
      rc = r2;
  }
  return rc;
}

drover_code drover_backup_list(char **out, drover_stack *stack, const char *policy,
                               drover_error *err)
{
  if(!policy)
    return list_all(out, stack, err);
  return prune_or_list(out, stack, policy, NULL, 0, err);
}

/* ------------------------------------------------------------------------
 * restore
 */

static int running(const drover_live *l)
{
  /* LXD says "Running", EC2 "running". */
  return l && l->status && !strcasecmp(l->status, "running");
}

/* The running instance of the stack that in (a volume, say) is attached
 * to: one of the provider's instance type whose cloud name is a string
 * value of in's live or desired properties ("instance": "i-..."). NULL
 * when there is none. An instance outside the stack is not seen. */
static const drover_live *attached_running(const drover_stack *stack, const dv_inst *in,
                                           const drover_rtype *itype)
{
  const json_t *props[2] = {in->live->properties, in->desired};
  size_t i, k;

  for(i = 0; i < stack->ninsts; i++) {
    const dv_inst *o = &stack->insts[i];
    if(o == in || !running(o->live) || !o->live->name ||
       stack->tpl->blocks[o->block].rtype != itype)
      continue;
    for(k = 0; k < 2; k++) {
      const char *key;
      json_t *v;
      json_object_foreach((json_t *)props[k], key, v)
        if(json_is_string(v) && !strcmp(json_string_value(v), o->live->name))
          return o->live;
    }
  }
  return NULL;
}

drover_code drover_backup_restore(char **out, drover_stack *stack, const char *address,
                                  const char *snapshot, const drover_backup_opts *o,
                                  drover_error *err)
{
  dv_inst *in = NULL;
  dv_pinst *pi = NULL;
  const drover_rtype *itype;
  const drover_live *host;
  drover_code rc;
  size_t i;
  double timeout = o && o->timeout > 0 ? o->timeout : 600;

  *out = NULL;
  if(o && o->version >= 2 && o->from_export) {
    ctx c;
    rc = dv_bctx_open(&c, stack, o->from_export, o, 0, err);
    if(!rc && !c.p.export_url)
      rc = drover_error_set(err, DROVER_E_ARG, "restore: policy \"%s\" has no export",
                            o->from_export);
    if(!rc)
      rc = address ? dv_export_restore(out, &c, address, snapshot, err)
                   : drover_error_set(err, DROVER_E_ARG, "restore: which instance?");
    dv_bctx_free(&c);
    return rc;
  }
  if(!address || !snapshot)
    return drover_error_set(err, DROVER_E_ARG, "restore: needs an instance and a snapshot");
  if(!stack->refreshed) {
    rc = drover_stack_refresh(stack, err);
    if(rc)
      return rc;
  }
  for(i = 0; i < stack->ninsts; i++)
    if(!strcmp(stack->insts[i].address, address))
      in = &stack->insts[i];
  if(!in)
    return drover_error_set(err, DROVER_E_ARG, "restore: stack %s has no resource \"%s\"",
                            stack->name, address);
  if(!in->live)
    return drover_error_set(err, DROVER_E_NOT_FOUND,
                            "restore: \"%s\" does not exist in the cloud", address);
  rc = dv_stack_provider(&pi, stack, stack->tpl->blocks[in->block].provider, err);
  if(rc)
    return rc;
  itype = dv_instance_type(pi->vt);
  if(!pi->vt->snapshot_restore ||
     !dv_backup_target_type(pi->vt, stack->tpl->blocks[in->block].rtype))
    return drover_error_set(err, DROVER_E_UNSUPPORTED,
                            "restore: \"%s\" is not an instance or volume that can be "
                            "restored",
                            address);
  if(running(in->live) && !(o && o->force))
    return drover_error_set(err, DROVER_E_ARG,
                            "restore: instance %s (%s) is running; restoring would "
                            "overwrite it in place. Stop it first, or pass --force",
                            in->live->name, address);
  /* A volume is swapped under a running instance that may have it mounted. */
  if(stack->tpl->blocks[in->block].rtype != itype &&
     (host = attached_running(stack, in, itype)) && !(o && o->force))
    return drover_error_set(err, DROVER_E_ARG,
                            "restore: %s (%s) is attached to instance %s, which is "
                            "running; restoring would replace it under the running "
                            "system. Stop the instance first, or pass --force",
                            in->live->name, address, host->name);
  rc = pi->vt->snapshot_restore(pi->state, in->live->name, snapshot, drover_now() + timeout,
                                err);
  if(rc)
    return rc;
  /* Where the cloud assigns IDs, a restore may swap in a new object (an
   * EBS volume made from the snapshot): report the one now in place. */
  if(dv_rtype_flags(pi->vt, stack->tpl->blocks[in->block].rtype) & DROVER_RTYPE_SERVER_ID) {
    rc = drover_stack_refresh(stack, err);
    if(rc)
      return rc;
    for(i = 0, in = NULL; i < stack->ninsts; i++)
      if(!strcmp(stack->insts[i].address, address))
        in = &stack->insts[i];
    if(!in || !in->live)
      return drover_error_set(err, DROVER_E_NOT_FOUND,
                              "restore: \"%s\" is gone after the restore", address);
  }
  *out = dv_aprintf("{\"instance\":\"%s\",\"address\":\"%s\",\"snapshot\":\"%s\","
                    "\"result\":\"restored\"}",
                    in->live->name, address, snapshot);
  return *out ? DROVER_OK : drover_error_set(err, DROVER_E_NOMEM, "out of memory");
}

/* ------------------------------------------------------------------------
 * verify: a DR drill from snapshots
 */

/* The newest snapshot this policy made of t into name (size bytes);
 * 0 when there is none. */
static int newest_snapshot(const ctx *c, const target *t, char *name, size_t size,
                           drover_error *err)
{
  drover_snapshot_list snaps;
  long long best = -1;
  size_t k;

  memset(&snaps, 0, sizeof(snaps));
  if(t->vt->snapshot_list(t->state, t->name, &snaps, err))
    return 0;
  for(k = 0; k < snaps.count; k++) {
    long long slot = policy_slot(c, &snaps.items[k]);
    if(slot > best) {
      best = slot;
      snprintf(name, size, "%s", snaps.items[k].name);
    }
  }
  drover_snapshot_list_clear(&snaps);
  return best >= 0;
}

/* Deletes the scratch copy (also one a killed drill left), through del()
 * on the target's own type: a volume's copy is a volume. For types whose
 * cloud assigns IDs, name is the copy's display name: the provider's del
 * finds it by that name and the address label. */
static drover_code drop_scratch(const ctx *c, const target *t, const char *name,
                                const char *address, drover_error *err)
{
  drover_live l;
  const drover_rtype *it = t->type ? t->type : dv_instance_type(t->vt);

  memset(&l, 0, sizeof(l));
  l.name = (char *)name;
  l.address = (char *)address;
  if(!it)
    return drover_error_set(err, DROVER_E_UNSUPPORTED, "no instance type");
  return t->vt->del(t->state, it, &l, drover_now() + c->timeout, err);
}

drover_code drover_backup_verify(char **out, drover_stack *stack, const char *policy,
                                 const drover_backup_opts *o, drover_error *err)
{
  ctx c;
  drover_code rc;
  json_t *report = NULL, *arr;
  size_t i, failed = 0;

  *out = NULL;
  rc = dv_bctx_open(&c, stack, policy, o, 1, err);
  if(rc)
    goto out;
  report = json_pack("{s:s, s:s, s:[]}", "policy", c.pol->address, "source",
                     c.p.export_url ? "export" : "snapshot", "targets");
  if(!report) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    goto out;
  }
  arr = json_object_get(report, "targets");
  /* With an export, the drill proves what a disaster would need: the
   * copy off the machine, checksum, import and all. */
  if(c.p.export_url)
    rc = dv_export_verify(&c, arr, &failed, err);
  for(i = 0; !c.p.export_url && i < c.nt; i++) {
    target *t = &c.t[i];
    char snap[128], scratch[64], address[160];
    const char *result = "passed";
    json_t *entry = json_pack("{s:s, s:s}", "instance", t->name, "address", t->address);
    json_t *labels = NULL;
    drover_error e;

    drover_error_clear(&e);
    /* Named and labelled as the policy's own resource: a drill killed
     * midway leaves an orphan the next plan shows and apply deletes. */
    snprintf(scratch, sizeof(scratch), "drover-verify-%s-%zu", c.key, i);
    snprintf(address, sizeof(address), "%s.verify[%zu]", c.pol->address, i);
    labels = json_pack("{s:s, s:s, s:s, s:s}", DROVER_LABEL_STACK, stack->name,
                       DROVER_LABEL_ADDRESS, address, DROVER_LABEL_HASH, "",
                       DROVER_LABEL_DEPS, "");
    if(!entry || !labels || json_array_append_new(arr, entry)) {
      json_decref(labels);
      rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
      goto out;
    }
    if(!t->vt->snapshot_clone) {
      drover_error_set(&e, DROVER_E_UNSUPPORTED, "provider %s cannot clone snapshots",
                       t->vt->name);
      result = "failed";
    }
    else if(!newest_snapshot(&c, t, snap, sizeof(snap), &e)) {
      if(!e.code)
        drover_error_set(&e, DROVER_E_NOT_FOUND, "no snapshot of %s to verify (run "
                         "drover backup run first)", t->name);
      result = "failed";
    }
    else {
      json_object_set_new(entry, "snapshot", json_string(snap));
      json_object_set_new(entry, "scratch", json_string(scratch));
      if(drop_scratch(&c, t, scratch, address, &e) ||
         t->vt->snapshot_clone(t->state, t->name, snap, scratch, labels,
                               drover_now() + c.timeout, &e))
        result = "failed";
      else {
        target s = *t;
        s.name = scratch;
        if(c.p.check && dv_backup_hook(&c, &s, c.p.check, "check", entry)) {
          drover_error_set(&e, DROVER_E_PROVIDER, "check failed in the copy of %s", t->name);
          result = "failed";
        }
      }
      /* Always remove the scratch instance, whatever happened. */
      {
        drover_error e2;
        drover_error_clear(&e2);
        if(drop_scratch(&c, t, scratch, address, &e2)) {
          drover_error_set(&e, e2.code, "%s", e2.text);
          result = "failed";
        }
      }
    }
    json_decref(labels);
    json_object_set_new(entry, "result", json_string(result));
    if(e.code) {
      json_object_set_new(entry, "error", json_string(e.text));
      failed++;
    }
  }
  if(!rc && failed)
    rc = drover_error_set(err, DROVER_E_PROVIDER, "backup verify: %zu of %zu targets failed",
                          failed, c.nt);
out:
  if(report) {
    drover_code r2 = dump(out, report, err);
    if(!rc)
      rc = r2;
  }
  dv_bctx_free(&c);
  return rc;
}
