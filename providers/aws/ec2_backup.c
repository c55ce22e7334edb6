/* ec2_backup.c - what backup.policy asks of EC2 (drover_provider.h's
 * snapshot ops), on EBS snapshots. doc/aws.md ("Backups").
 *
 * A target is a volume ID (vol-...: CreateSnapshot) or an instance ID
 * (i-...: CreateSnapshots, one crash-consistent snapshot of each EBS
 * volume attached, taken together). Each snapshot is tagged, in the
 * request that makes it:
 *   Name, drover:name      the engine's snapshot name drover-<key>-<slot>
 *   drover:target          the target ID, which list filters on
 *   drover:run             the same name: the run (policy and slot) it is
 *                          from, looked for before creating and before each
 *                          retry, since CreateSnapshot takes no ClientToken
 *   drover:backup.<key>    the policy's label (stack, policy, slot)
 * and never drover:stack, so an aws.snapshot refresh never sees them. For
 * an instance, the snapshots of one run are one drover snapshot: list
 * groups them by name, delete removes them all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ec2.h"

#define TAG_TARGET "drover:target"
#define TAG_BACKUP "drover:backup."
#define TAG_VALUE_MAX 256 /* EC2's limit on a tag value, in characters */

static drover_code snaps_page(xmlDoc *doc, void *ud, char **next, drover_error *err)
{
  return ec2_parse_snapshots(doc, ud, next, err);
}

/* The snapshots of this account with tag:key = value, and (run not NULL)
 * tag drover:run = run, over every page. */
static drover_code find(ec2_state *st, const char *key, const char *value, const char *run,
                        drover_live_list *out, drover_error *err)
{
  ec2_form f;
  char *name = NULL;
  drover_code rc;

  ec2_form_init(&f, "DescribeSnapshots");
  ec2_form_add(&f, "Owner.1", "self");
  if(asprintf(&name, "tag:%s", key) < 0)
    name = NULL;
  ec2_form_add(&f, "Filter.1.Name", name ? name : "");
  ec2_form_add(&f, "Filter.1.Value.1", value);
  if(run) {
    ec2_form_add(&f, "Filter.2.Name", "tag:" EC2_TAG_RUN);
    ec2_form_add(&f, "Filter.2.Value.1", run);
  }
  if(!name)
    f.oom = 1;
  rc = ec2_describe(st, &f, 1, NULL, snaps_page, out, err);
  free(name);
  return rc;
}

drover_code ec2_backup_find(ec2_state *st, const char *target, const char *run,
                            drover_live_list *out, drover_error *err)
{
  return find(st, TAG_TARGET, target, run, out, err);
}

static const char *attr(const drover_live *l, const char *key)
{
  return json_string_value(json_object_get(l->attributes, key));
}

drover_code ec2_backup_list(void *state, const char *target, drover_snapshot_list *out,
                            drover_error *err)
{
  drover_live_list found = {NULL, 0, 0};
  json_t *seen = json_object(); /* name -> index in out */
  json_t *pending = json_object(); /* names with a snapshot not completed */
  size_t base = out->count, i;
  drover_code rc = seen && pending ? find(state, TAG_TARGET, target, NULL, &found, err)
                                   : ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");

  /* Only completed backups are listed: a run killed while its snapshot
   * was pending then finds none, and its create adopts that snapshot
   * (by the run tag) and waits for it instead of reporting it taken. */
  for(i = 0; !rc && i < found.count; i++) {
    const drover_live *l = found.items[i];
    if(strcmp(l->status, "completed")) {
      const char *name = attr(l, "name");
      if(!json_object_get(pending, name) && json_object_set_new(pending, name, json_true()))
        rc = ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    }
  }
  for(i = 0; !rc && i < found.count; i++) {
    const drover_live *l = found.items[i];
    const char *name = attr(l, "name"), *k;
    json_t *v, *at = json_object_get(seen, name);
    json_int_t created = json_integer_value(json_object_get(l->attributes, "created"));
    json_t *labels;
    if(json_object_get(pending, name))
      continue; /* one of its snapshots is not completed yet */
    if(at) {
      /* Another volume's snapshot of the same run: one backup. */
      drover_snapshot *s = &out->items[base + (size_t)json_integer_value(at)];
      if(created < s->created)
        s->created = created;
      continue;
    }
    /* The policy labels: drover:backup.<key> -> <key>. */
    labels = json_object();
    json_object_foreach(json_object_get(l->attributes, "all_tags"), k, v) {
      if(!labels || strncmp(k, TAG_BACKUP, strlen(TAG_BACKUP)))
        continue;
      if(json_object_set(labels, k + strlen(TAG_BACKUP), v)) {
        json_decref(labels);
        labels = NULL;
      }
    }
    if(!labels ||
       json_object_set_new(seen, name, json_integer((json_int_t)(out->count - base))) ||
       drover_snapshot_list_push(out, target, name, created, labels))
      rc = ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  }
  drover_live_list_clear(&found);
  json_decref(seen);
  json_decref(pending);
  return rc;
}

typedef struct made_ctx {
  ec2_state *st;
  const char *target, *run;
} made_ctx;

/* Before a retry of the create: did the try whose answer was lost take
 * effect? Then stop (CONFLICT) and adopt what it made. */
static drover_code made_before(void *ud, drover_error *err)
{
  made_ctx *m = ud;
  drover_live_list found = {NULL, 0, 0};
  drover_code rc = find(m->st, TAG_TARGET, m->target, m->run, &found, err);

  if(!rc && found.count)
    rc = ec2_fail(err, DROVER_E_CONFLICT, m->target, "snapshot %s was made by the first try",
                  found.items[0]->name);
  drover_live_list_clear(&found);
  return rc;
}

/* Waits until every snapshot of (target, run) is completed, or deadline. */
static drover_code wait_completed(ec2_state *st, const char *target, const char *run,
                                  double deadline, drover_error *err)
{
  char last[96] = "none listed yet";

  for(;;) {
    drover_live_list found = {NULL, 0, 0};
    size_t i, done = 0;
    drover_code rc = find(st, TAG_TARGET, target, run, &found, err);
    for(i = 0; !rc && i < found.count; i++) {
      const drover_live *l = found.items[i];
      if(!strcmp(l->status, "completed"))
        done++;
      else if(!strcmp(l->status, "error"))
        rc = ec2_fail(err, DROVER_E_PROVIDER, target, "snapshot %s of %s is in state error",
                      l->name, run);
      else
        snprintf(last, sizeof(last), "%s %s", l->name, l->status);
    }
    if(!rc && found.count && done == found.count) {
      drover_live_list_clear(&found);
      return DROVER_OK;
    }
    drover_live_list_clear(&found);
    if(rc)
      return rc;
    /* Listed late (eventual consistency) or still pending: describe again. */
    if(ec2_pause(st, deadline))
      return ec2_fail(err, DROVER_E_TIMEOUT, target, "snapshot %s: %s at the deadline", run,
                      last);
  }
}

drover_code ec2_backup_create(void *state, const char *target, const char *snapshot,
                              const char *label_key, const char *label_text, double deadline,
                              int *existed, drover_error *err)
{
  ec2_state *st = state;
  drover_live_list found = {NULL, 0, 0};
  made_ctx m = {st, target, snapshot};
  int instance = !strncmp(target, "i-", 2);
  char *key = NULL, *desc = NULL;
  unsigned n = 0;
  ec2_form f;
  drover_code rc;

  *existed = 0;
  memset(&f, 0, sizeof(f));
  if(strlen(label_text) > TAG_VALUE_MAX || strlen(snapshot) > TAG_VALUE_MAX)
    return ec2_fail(err, DROVER_E_ARG, target,
                    "the backup label (%zu bytes) does not fit an EC2 tag value (%d): use "
                    "shorter stack and policy names",
                    strlen(label_text), TAG_VALUE_MAX);
  /* An earlier run for this slot, or one killed after the create. */
  rc = find(st, TAG_TARGET, target, snapshot, &found, err);
  if(!rc && found.count)
    *existed = 1;
  drover_live_list_clear(&found);
  if(rc || *existed)
    goto wait;
  if(asprintf(&key, TAG_BACKUP "%s", label_key) < 0)
    key = NULL;
  if(asprintf(&desc, "drover backup %s of %s", snapshot, target) < 0)
    desc = NULL;
  ec2_form_init(&f, instance ? "CreateSnapshots" : "CreateSnapshot");
  ec2_form_add(&f, instance ? "InstanceSpecification.InstanceId" : "VolumeId", target);
  ec2_form_add(&f, "Description", desc ? desc : "");
  ec2_form_add(&f, "TagSpecification.1.ResourceType", "snapshot");
#define TAG(k, v) do { ec2_form_addf(&f, (k), "TagSpecification.1.Tag.%u.Key", ++n); \
                       ec2_form_addf(&f, (v), "TagSpecification.1.Tag.%u.Value", n); } while(0)
  TAG("Name", snapshot);
  TAG(EC2_TAG_NAME, snapshot);
  TAG(TAG_TARGET, target);
  TAG(EC2_TAG_RUN, snapshot);
  TAG(key ? key : "", label_text);
#undef TAG
  if(!key || !desc)
    f.oom = 1;
  f.before_retry = made_before;
  f.retry_ud = &m;
  rc = ec2_do(st, &f, target, NULL, err);
  if(rc == DROVER_E_CONFLICT) {
    /* The lost first answer made it: wait for that one. */
    drover_error_clear(err);
    rc = DROVER_OK;
  }
wait:
  if(!rc)
    rc = wait_completed(st, target, snapshot, ec2_deadline(deadline, 3600), err);
  free(key);
  free(desc);
  return rc;
}

/* DeleteSnapshot of each item; one already gone is success. */
static drover_code delete_all(ec2_state *st, const drover_live_list *list, const char *where,
                              drover_error *err)
{
  drover_code rc = DROVER_OK;
  size_t i;

  for(i = 0; !rc && i < list->count; i++) {
    drover_error e;
    ec2_form f;
    drover_error_clear(&e);
    ec2_form_init(&f, "DeleteSnapshot");
    ec2_form_add(&f, "SnapshotId", list->items[i]->name);
    rc = ec2_do(st, &f, where, NULL, &e);
    if(rc == DROVER_E_NOT_FOUND)
      rc = DROVER_OK;
    else if(rc)
      drover_error_set(err, rc, "%s", e.text);
  }
  return rc;
}

drover_code ec2_backup_delete(void *state, const char *target, const char *snapshot,
                              double deadline, drover_error *err)
{
  drover_live_list found = {NULL, 0, 0};
  drover_code rc = find(state, TAG_TARGET, target, snapshot, &found, err);

  (void)deadline; /* DeleteSnapshot is done when it answers */
  if(!rc)
    rc = delete_all(state, &found, target, err);
  drover_live_list_clear(&found);
  return rc;
}

drover_code ec2_backup_delete_policy(ec2_state *st, const char *stack, const char *address,
                                     drover_error *err)
{
  drover_live_list found = {NULL, 0, 0}, mine = {NULL, 0, 0};
  char key[9], *tag = NULL;
  drover_code rc = DROVER_OK;
  size_t i;

  if(drover_backup_key(key, stack, address) || asprintf(&tag, TAG_BACKUP "%s", key) < 0)
    return ec2_fail(err, DROVER_E_NOMEM, address, "out of memory");
  {
    /* Every snapshot carrying the policy's label key, any target. */
    ec2_form f;
    ec2_form_init(&f, "DescribeSnapshots");
    ec2_form_add(&f, "Owner.1", "self");
    ec2_form_add(&f, "Filter.1.Name", "tag-key");
    ec2_form_add(&f, "Filter.1.Value.1", tag);
    rc = ec2_describe(st, &f, 1, address, snaps_page, &found, err);
  }
  for(i = 0; !rc && i < found.count; i++) {
    /* The label must name this stack and policy too (the key is short). */
    const char *text = json_string_value(
      json_object_get(json_object_get(found.items[i]->attributes, "all_tags"), tag));
    json_t *l = text ? json_loads(text, 0, NULL) : NULL;
    const char *ls = json_string_value(json_object_get(l, "stack"));
    const char *lp = json_string_value(json_object_get(l, "policy"));
    if(ls && lp && !strcmp(ls, stack) && !strcmp(lp, address) &&
       drover_backup_is_snapshot_of(attr(found.items[i], "name"), key)) {
      if(drover_live_list_push(&mine, found.items[i]))
        rc = ec2_fail(err, DROVER_E_NOMEM, address, "out of memory");
      found.items[i] = NULL;
    }
    json_decref(l);
  }
  if(!rc)
    rc = delete_all(st, &mine, address, err);
  drover_live_list_clear(&found);
  drover_live_list_clear(&mine);
  free(tag);
  return rc;
}
