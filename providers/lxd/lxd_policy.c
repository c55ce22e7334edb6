/* lxd_policy.c - backup.policy and drift.policy, served by the LXD
 * provider that holds their targets (same connection and project).
 *
 * A policy has no LXD object of its own, yet drover keeps no local state,
 * so each policy is recorded as an LXD profile that no instance uses: the
 * usual ownership labels, "user.drover_kind" = its type name, and the
 * evaluated policy as JSON in "user.drover_policy" (readable by scheduled
 * jobs without the template). lxd.profile skips these profiles.
 *
 * Deleting a policy (removed from the template, or destroy) first applies
 * its on_delete: "delete" removes every snapshot the policy made (named
 * drover-<key>-<slot> on an instance carrying its label), "keep" leaves
 * them labelled for `drover backup list`. The plan says which. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lxd.h"

static const char *const on_delete_values[] = { "keep", "delete", NULL };

static const drover_prop policy_props[] = {
  {"targets", DROVER_T_ARRAY, 0, NULL, NULL,
   "resource names of this stack whose instances are backed up"},
  {"selector", DROVER_T_STRING_MAP, 0, NULL, NULL,
   "instead of targets: label globs across stacks, keys stack and address"},
  {"schedule", DROVER_T_STRING, DROVER_PROP_REQUIRED, NULL, NULL,
   "5-field cron or @hourly/@daily/@weekly/@monthly/@yearly"},
  {"timezone", DROVER_T_STRING, 0, "\"UTC\"", NULL,
   "IANA zone the schedule and retention periods are read in"},
  {"retention", DROVER_T_OBJECT, DROVER_PROP_REQUIRED, NULL, NULL,
   "keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly, max_age"},
  {"export", DROVER_T_STRING, 0, NULL, NULL, "s3://bucket/prefix or file:///directory"},
  {"hooks", DROVER_T_OBJECT, 0, NULL, NULL,
   "pre and post commands run in each instance, check (verify), timeout"},
  {"on_delete", DROVER_T_STRING, 0, "\"keep\"", on_delete_values,
   "what removing the policy does to its snapshots"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

/* A policy exports nothing beyond its name. */
static const char *const policy_exports[] = {NULL};

const drover_rtype lxd_policy_type = {
  "backup.policy", policy_props, 2,
  "a backup policy: snapshots on a schedule with retention (doc/backups.md)",
  policy_exports, NULL, lxd_name_object, 0
};

static const drover_prop drift_props[] = {
  {"targets", DROVER_T_ARRAY, 0, NULL, NULL, "names of the stacks checked"},
  {"selector", DROVER_T_STRING_MAP, 0, NULL, NULL,
   "instead of targets: a glob on the stack label, key stack"},
  {"templates", DROVER_T_STRING, 0, NULL, NULL,
   "directory of each target's template STACK.json (and STACK.vars.json); default: "
   "the policy template's"},
  {"template", DROVER_T_STRING, 0, NULL, NULL,
   "instead of templates: one template file for every target"},
  {"vars", DROVER_T_OBJECT, 0, NULL, NULL, "params given to every target's template"},
  {"schedule", DROVER_T_STRING, DROVER_PROP_REQUIRED, NULL, NULL,
   "5-field cron or @hourly/@daily/@weekly/@monthly/@yearly"},
  {"timezone", DROVER_T_STRING, 0, "\"UTC\"", NULL, "IANA zone the schedule is read in"},
  {"auto_repair", DROVER_T_BOOLEAN, 0, "false", NULL,
   "apply the plan that repairs the drift (never one that deletes)"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

const drover_rtype lxd_drift_type = {
  "drift.policy", drift_props, 2,
  "a drift check: plans target stacks on a schedule, optionally repairs (doc/schedule.md)",
  policy_exports, NULL, lxd_name_object, 0
};

#define KIND_KEY LXD_KIND_KEY
#define POLICY_KEY "user.drover_policy"

/* *out owned by the caller; NULL for a profile that is not a policy of
 * kind ctx (a type name). */
static drover_code policy_live(drover_live **out, const json_t *obj, const void *ctx,
                               const char *etag, drover_error *err)
{
  drover_live *l = NULL;
  const char *text, *kind = ctx;
  json_t *props;
  drover_code rc;

  *out = NULL;
  text = json_string_value(json_object_get(json_object_get(obj, "config"), KIND_KEY));
  if(!lxd_is_policy(obj) || !text || strcmp(text, kind))
    return DROVER_OK;
  rc = lxd_live_base(&l, obj, etag, err);
  if(rc)
    return rc;
  text = json_string_value(json_object_get(json_object_get(obj, "config"), POLICY_KEY));
  props = text ? json_loads(text, 0, NULL) : NULL;
  if(props && json_is_object(props)) {
    json_decref(l->properties);
    l->properties = props;
    props = NULL;
  }
  json_decref(props);
  if(json_object_update(l->attributes, l->properties) ||
     lxd_set(l->attributes, "name", json_string(l->name))) {
    drover_live_free(l);
    return lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  }
  if(!strcmp(kind, LXD_KIND_POLICY)) {
    const char *od = json_string_value(json_object_get(l->properties, "on_delete"));
    int del = od && !strcmp(od, "delete");
    l->delete_note = strdup(del ? "its snapshots are deleted (on_delete: delete)"
                                : "its snapshots are kept (on_delete: keep)");
    if(!l->delete_note) {
      drover_live_free(l);
      return lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    }
  }
  *out = l;
  return DROVER_OK;
}

static drover_code kind_read(lxd_state *st, const char *kind, const char *name,
                             drover_live **out, drover_error *err)
{
  json_t *obj = NULL;
  char *etag = NULL;
  char *path = lxd_name_path(st, "/1.0/profiles/", name, NULL);
  drover_code rc = lxd_get(st, path, NULL, &obj, &etag, err);

  *out = NULL;
  if(!rc && obj)
    rc = policy_live(out, obj, kind, etag, err);
  if(!rc && !*out)
    rc = lxd_fail(err, DROVER_E_NOT_FOUND, NULL, "%s \"%s\" not found", kind, name);
  json_decref(obj);
  free(etag);
  free(path);
  return rc;
}

static drover_code kind_list(lxd_state *st, const char *kind, const char *stack,
                             drover_live_list *out, drover_error *err)
{
  char *path = lxd_path(st, "/1.0/profiles?recursion=1");
  drover_code rc = lxd_list_owned(st, path, stack, 0, policy_live, kind, out, err);

  free(path);
  return rc;
}

/* The profile that records req: a request for lxd.profile. */
static drover_code as_profile(json_t **out, const char *kind, const drover_res_req *req,
                              drover_error *err)
{
  char *text = json_dumps(req->properties, JSON_COMPACT | JSON_SORT_KEYS);
  char desc[200];

  snprintf(desc, sizeof(desc), "drover %s %.80s of stack %.80s", kind,
           req->address ? req->address : "", req->stack ? req->stack : "");
  *out = text ? json_pack("{s:s, s:{s:s, s:s}, s:{}, s:s}", "name", req->name, "config",
                          KIND_KEY, kind, POLICY_KEY, text, "devices", "description", desc)
              : NULL;
  free(text);
  return *out ? DROVER_OK : lxd_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
}

static drover_code kind_create(lxd_state *st, const char *kind, const drover_res_req *req,
                               drover_live **out, drover_error *err)
{
  json_t *props = NULL;
  drover_res_req r = *req;
  drover_live *prof = NULL;
  drover_code rc = as_profile(&props, kind, req, err);

  *out = NULL;
  if(!rc) {
    r.properties = props;
    rc = lxd_profile_ops.create(st, &r, &prof, err);
  }
  if(!rc)
    rc = kind_read(st, kind, req->name, out, err);
  drover_live_free(prof);
  json_decref(props);
  return rc;
}

static drover_code kind_update(lxd_state *st, const char *kind, const drover_res_req *req,
                               const drover_live *cur, drover_live **out, drover_error *err)
{
  json_t *props = NULL;
  drover_res_req r = *req;
  drover_live *prof = NULL;
  drover_code rc;

  *out = NULL;
  if(!r.name)
    r.name = cur->name;
  rc = as_profile(&props, kind, &r, err);
  if(!rc) {
    r.properties = props;
    rc = lxd_profile_ops.update(st, &r, cur, &prof, err);
  }
  if(!rc)
    rc = kind_read(st, kind, r.name, out, err);
  drover_live_free(prof);
  json_decref(props);
  return rc;
}

/* on_delete "delete": every snapshot of the policy, on every instance of
 * the project that carries the policy's label key. */
static drover_code delete_snapshots(lxd_state *st, const drover_live *cur, double deadline,
                                    drover_error *err)
{
  char key[9], label[64];
  char *path = lxd_path(st, "/1.0/instances?recursion=1");
  lxd_result res;
  drover_code rc;
  size_t i, j;
  json_t *inst;

  memset(&res, 0, sizeof(res));
  if(!path || !cur->stack || !cur->address ||
     drover_backup_key(key, cur->stack, cur->address)) {
    free(path);
    return lxd_fail(err, DROVER_E_NOMEM, cur->address, "out of memory or missing labels");
  }
  snprintf(label, sizeof(label), LXD_BACKUP_PREFIX "%s", key);
  rc = lxd_call(st, "GET", path, NULL, NULL, cur->address, LXD_DROP_EXPANDED, &res, err);
  json_array_foreach(res.meta, i, inst) {
    const char *name = json_string_value(json_object_get(inst, "name"));
    drover_snapshot_list snaps;
    if(rc)
      break;
    if(!name || !json_object_get(json_object_get(inst, "config"), label))
      continue;
    memset(&snaps, 0, sizeof(snaps));
    rc = lxd_snapshot_list(st, name, &snaps, err);
    for(j = 0; !rc && j < snaps.count; j++)
      if(drover_backup_is_snapshot_of(snaps.items[j].name, key) &&
         json_object_get(snaps.items[j].labels, key))
        rc = lxd_snapshot_delete(st, name, snaps.items[j].name, deadline, err);
    drover_snapshot_list_clear(&snaps);
  }
  lxd_result_free(&res);
  free(path);
  return rc;
}

static drover_code policy_del(lxd_state *st, const drover_live *cur, double deadline,
                              drover_error *err)
{
  const char *od = json_string_value(json_object_get(cur->properties, "on_delete"));
  drover_code rc = DROVER_OK;

  if(od && !strcmp(od, "delete"))
    rc = delete_snapshots(st, cur, deadline, err);
  if(!rc)
    rc = lxd_profile_ops.del(st, cur, deadline, err);
  return rc;
}

/* One set of ops per kind: lxd_type_ops carries no type. */
#define KIND_OPS(pfx, kind)                                                          \
  static drover_code pfx##_list(lxd_state *st, const char *stack, drover_live_list *out, \
                                drover_error *err)                                   \
  {                                                                                  \
    return kind_list(st, kind, stack, out, err);                                     \
  }                                                                                  \
  static drover_code pfx##_create(lxd_state *st, const drover_res_req *req,          \
                                  drover_live **out, drover_error *err)              \
  {                                                                                  \
    return kind_create(st, kind, req, out, err);                                     \
  }                                                                                  \
  static drover_code pfx##_update(lxd_state *st, const drover_res_req *req,          \
                                  const drover_live *cur, drover_live **out,         \
                                  drover_error *err)                                 \
  {                                                                                  \
    return kind_update(st, kind, req, cur, out, err);                                \
  }                                                                                  \
  static drover_code pfx##_read(lxd_state *st, const char *name, drover_live **out,  \
                                drover_error *err)                                   \
  {                                                                                  \
    return kind_read(st, kind, name, out, err);                                      \
  }

KIND_OPS(policy, LXD_KIND_POLICY)
KIND_OPS(drift, LXD_KIND_DRIFT)

/* A drift policy owns nothing but its record. */
static drover_code drift_del(lxd_state *st, const drover_live *cur, double deadline,
                             drover_error *err)
{
  return lxd_profile_ops.del(st, cur, deadline, err);
}

const lxd_type_ops lxd_policy_ops = {
  policy_list, policy_create, policy_update, policy_del, policy_read,
  NULL /* no list-reply parser: policies are listed through profiles */
};

const lxd_type_ops lxd_drift_ops = {
  drift_list, drift_create, drift_update, drift_del, drift_read, NULL
};
