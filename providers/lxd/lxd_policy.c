/* lxd_policy.c - backup.policy, served by the LXD provider that holds its
 * targets (same connection and project).
 *
 * A policy has no LXD object of its own, yet drover keeps no local state,
 * so each policy is recorded as an LXD profile that no instance uses: the
 * usual ownership labels, "user.drover_kind" = "backup.policy", and the
 * evaluated policy as JSON in "user.drover_policy" (readable by scheduled
 * jobs without the template). lxd.profile skips these profiles.
 *
 * Deleting a policy (removed from the template, or destroy) first applies
 * its on_delete: "delete" removes every snapshot the policy made (named
 * drover-<key>-<slot> on an instance carrying its label), "keep" leaves
 * them labelled for `drover backup list`. The plan says which.
 *
 * scale.policy (lxd_scale.c) is recorded the same way with its own kind;
 * the record_* functions here serve both. Labels a run sets on the record
 * (lxd_label.c) survive a template update of the policy. */
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

#define KIND_KEY LXD_KIND_KEY
#define KIND LXD_KIND_POLICY
#define POLICY_KEY "user.drover_policy"

/* *out owned by the caller; NULL for a profile that is not a record of
 * kind ctx (a string; NULL: backup.policy). */
static drover_code policy_live(drover_live **out, const json_t *obj, const void *ctx,
                               const char *etag, drover_error *err)
{
  const char *kind = ctx ? (const char *)ctx : KIND;
  const char *text, *have;
  drover_live *l = NULL;
  json_t *props;
  drover_code rc;

  *out = NULL;
  have = json_string_value(json_object_get(json_object_get(obj, "config"), KIND_KEY));
  if(!have || strcmp(have, kind))
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
     lxd_set(l->attributes, "name", json_string(l->name)) ||
     lxd_labels_to_attributes(l->attributes, obj)) {
    drover_live_free(l);
    return lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  }
  if(!strcmp(kind, KIND)) {
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

drover_code lxd_record_read(lxd_state *st, const char *kind, const char *name,
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

drover_code lxd_record_list(lxd_state *st, const char *kind, const char *stack,
                            drover_live_list *out, drover_error *err)
{
  char *path = lxd_path(st, "/1.0/profiles?recursion=1");
  drover_code rc = lxd_list_owned(st, path, stack, 0, policy_live, kind, out, err);

  free(path);
  return rc;
}

/* The profile that records req: a request for lxd.profile (whose update
 * keeps the run labels). */
static drover_code as_profile(json_t **out, const drover_res_req *req, const char *kind,
                              drover_error *err)
{
  char *text = json_dumps(req->properties, JSON_COMPACT | JSON_SORT_KEYS);
  char desc[200];

  snprintf(desc, sizeof(desc), "drover %.20s %.80s of stack %.80s", kind,
           req->address ? req->address : "", req->stack ? req->stack : "");
  *out = text ? json_pack("{s:s, s:{s:s, s:s}, s:{}, s:s}", "name", req->name, "config",
                          KIND_KEY, kind, POLICY_KEY, text, "devices", "description", desc)
              : NULL;
  free(text);
  return *out ? DROVER_OK : lxd_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
}

drover_code lxd_record_create(lxd_state *st, const char *kind, const drover_res_req *req,
                              drover_live **out, drover_error *err)
{
  json_t *props = NULL;
  drover_res_req r = *req;
  drover_live *prof = NULL;
  drover_code rc = as_profile(&props, req, kind, err);

  *out = NULL;
  if(!rc) {
    r.properties = props;
    rc = lxd_profile_ops.create(st, &r, &prof, err);
  }
  if(!rc)
    rc = lxd_record_read(st, kind, req->name, out, err);
  drover_live_free(prof);
  json_decref(props);
  return rc;
}

drover_code lxd_record_update(lxd_state *st, const char *kind, const drover_res_req *req,
                              const drover_live *cur, drover_live **out,
                              drover_error *err)
{
  json_t *props = NULL;
  drover_res_req r = *req;
  drover_live *prof = NULL;
  drover_code rc;

  *out = NULL;
  if(!r.name)
    r.name = cur->name;
  rc = as_profile(&props, &r, kind, err);
  if(!rc) {
    r.properties = props;
    rc = lxd_profile_ops.update(st, &r, cur, &prof, err);
  }
  if(!rc)
    rc = lxd_record_read(st, kind, r.name, out, err);
  drover_live_free(prof);
  json_decref(props);
  return rc;
}

drover_code lxd_record_del(lxd_state *st, const drover_live *cur, double deadline,
                           drover_error *err)
{
  return lxd_profile_ops.del(st, cur, deadline, err);
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
    rc = lxd_record_del(st, cur, deadline, err);
  return rc;
}

/* No list-reply parser: policies are listed through profiles. */
const lxd_type_ops lxd_policy_ops = {.del = policy_del, .kind = KIND};
