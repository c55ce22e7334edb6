/* ec2_policy.c - backup.policy held by the AWS provider (the engine gives
 * it a policy whose targets are aws.* resources, backup_provider.c).
 *
 * drover keeps no local state, so the policy needs an object in the
 * cloud that carries its labels: an empty placement group (free, named,
 * taggable at creation, never used by an instance) called by the
 * engine's name for the policy, with the ownership tags, drover:kind =
 * backup.policy, and the evaluated properties as compact JSON cut into
 * tags drover:policy.0, .1, ... (a tag value holds 256 characters).
 *
 * Deleting the policy first applies its on_delete: "delete" removes
 * every snapshot it made (ec2_backup.c), "keep" leaves them tagged for
 * `drover backup list`. The plan says which. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ec2.h"

#define TAG_KIND "drover:kind"
#define KIND "backup.policy"
#define TAG_CHUNK "drover:policy."
#define CHUNK 250         /* bytes per tag value, below EC2's 256 characters */
#define MAX_CHUNKS 36     /* EC2 allows 50 tags; the ownership ones come first */

static const char *const policy_exports[] = {NULL};

const drover_rtype ec2_policy_type = {
  "backup.policy", drover_backup_policy_props, 2,
  "a backup policy of aws.volume / aws.instance targets: EBS snapshots on a schedule "
  "with retention (doc/backups.md)",
  policy_exports, NULL, NULL, 0
};

/* Adds the record's tags (ownership, kind, the properties in chunks) with
 * keys <prefix>Tag.N. *nchunks gets how many chunks. */
static drover_code record_tags(ec2_form *f, const char *prefix, const drover_res_req *req,
                               unsigned *nchunks, drover_error *err)
{
  char *text = json_dumps(req->properties, JSON_COMPACT | JSON_SORT_KEYS);
  size_t len, off = 0;
  unsigned n = 0, c = 0;
  drover_code rc = DROVER_OK;

  *nchunks = 0;
  if(!text)
    return ec2_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
  ec2_form_tags(f, prefix, &n, req, NULL, 0);
  ec2_form_addf(f, TAG_KIND, "%sTag.%u.Key", prefix, ++n);
  ec2_form_addf(f, KIND, "%sTag.%u.Value", prefix, n);
  len = strlen(text);
  while(off < len && c < MAX_CHUNKS) {
    size_t k = len - off > CHUNK ? CHUNK : len - off;
    char key[32], part[CHUNK + 1];
    /* Never cut a UTF-8 sequence: back off to the start of a character. */
    while(off + k < len && k > 1 && ((unsigned char)text[off + k] & 0xC0) == 0x80)
      k--;
    memcpy(part, text + off, k);
    part[k] = '\0';
    snprintf(key, sizeof(key), TAG_CHUNK "%u", c++);
    ec2_form_addf(f, key, "%sTag.%u.Key", prefix, ++n);
    ec2_form_addf(f, part, "%sTag.%u.Value", prefix, n);
    off += k;
  }
  if(off < len)
    rc = ec2_fail(err, DROVER_E_ARG, req->address,
                  "the policy's properties (%zu bytes) do not fit the tags of its record "
                  "(%d bytes)",
                  len, CHUNK * MAX_CHUNKS);
  *nchunks = c;
  free(text);
  return rc;
}

/* Turns a listed group into the policy's live object (properties from
 * the chunks); *keep 0 for a group that is not a policy record. */
static drover_code to_policy(drover_live *l, int *keep, drover_error *err)
{
  json_t *all = json_object_get(l->attributes, "all_tags"), *props = NULL;
  const char *kind = json_string_value(json_object_get(all, TAG_KIND));
  char *text = NULL, key[32];
  size_t len = 0;
  unsigned c;
  int oom = 0;

  *keep = kind && !strcmp(kind, KIND);
  if(!*keep)
    return DROVER_OK;
  for(c = 0; !oom; c++) {
    const char *part;
    char *grown;
    snprintf(key, sizeof(key), TAG_CHUNK "%u", c);
    part = json_string_value(json_object_get(all, key));
    if(!part)
      break;
    grown = realloc(text, len + strlen(part) + 1);
    if(!grown)
      oom = 1;
    else {
      text = grown;
      memcpy(text + len, part, strlen(part) + 1);
      len += strlen(part);
    }
  }
  props = text && !oom ? json_loads(text, 0, NULL) : NULL;
  if(json_is_object(props)) {
    json_decref(l->properties);
    l->properties = json_incref(props);
  }
  json_decref(props);
  free(text);
  {
    const char *od = json_string_value(json_object_get(l->properties, "on_delete"));
    int del = od && !strcmp(od, "delete");
    oom |= json_object_set_new(l->attributes, "chunks", json_integer(c)) ||
           json_object_update_missing(l->attributes, l->properties) ||
           !(l->delete_note = strdup(del ? "its snapshots are deleted (on_delete: delete)"
                                         : "its snapshots are kept (on_delete: keep)"));
  }
  json_object_del(l->attributes, "all_tags");
  return oom ? ec2_fail(err, DROVER_E_NOMEM, l->address, "out of memory") : DROVER_OK;
}

/* DescribePlacementGroups with f's filters, the records kept in out. An
 * unknown group name is NOT_FOUND. */
static drover_code describe(ec2_state *st, ec2_form *f, const char *address,
                            drover_live_list *out, drover_error *err)
{
  drover_live_list all = {NULL, 0, 0};
  xmlDoc *doc = NULL;
  char code[64];
  size_t i;
  drover_code rc = ec2_call(st, f, address, &doc, code, err);

  if(rc && !strcmp(code, "InvalidPlacementGroup.Unknown"))
    err->code = rc = DROVER_E_NOT_FOUND;
  if(!rc)
    rc = ec2_parse_placement_groups(doc, &all, err);
  for(i = 0; !rc && i < all.count; i++) {
    int keep = 0;
    rc = to_policy(all.items[i], &keep, err);
    if(!rc && keep) {
      rc = drover_live_list_push(out, all.items[i]) ? DROVER_E_NOMEM : DROVER_OK;
      all.items[i] = NULL;
      if(rc)
        ec2_fail(err, rc, address, "out of memory");
    }
  }
  drover_live_list_clear(&all);
  aws_xml_free(doc);
  ec2_form_free(f);
  return rc;
}

static drover_code pol_list(ec2_state *st, const char *stack, drover_live_list *out,
                            drover_error *err)
{
  ec2_form f;

  ec2_form_init(&f, "DescribePlacementGroups");
  ec2_form_stack_filter(&f, 1, stack);
  ec2_form_add(&f, "Filter.2.Name", "tag:" TAG_KIND);
  ec2_form_add(&f, "Filter.2.Value.1", KIND);
  return describe(st, &f, NULL, out, err);
}

static drover_code pol_read_at(ec2_state *st, const char *name, const char *address,
                               drover_live **out, drover_error *err)
{
  drover_live_list list = {NULL, 0, 0};
  ec2_form f;
  drover_code rc;

  ec2_form_init(&f, "DescribePlacementGroups");
  ec2_form_add(&f, "GroupName.1", name);
  rc = describe(st, &f, address, &list, err);
  return ec2_take_first(rc, &list, "backup.policy record", name, address, out, err);
}

static drover_code pol_read(ec2_state *st, const char *name, drover_live **out,
                            drover_error *err)
{
  return pol_read_at(st, name, NULL, out, err);
}

/* Rewrites the record's tags on the group (its ID: CreateTags wants one)
 * and drops chunks the new properties no longer fill. */
static drover_code retag(ec2_state *st, const drover_res_req *req, const drover_live *cur,
                         drover_error *err)
{
  const char *id = json_string_value(json_object_get(cur->attributes, "group_id"));
  json_int_t had = json_integer_value(json_object_get(cur->attributes, "chunks"));
  unsigned now = 0, n = 0;
  ec2_form f;
  drover_code rc;

  if(!id || !*id)
    return ec2_fail(err, DROVER_E_PROVIDER, req->address, "placement group %s has no ID",
                    cur->name);
  ec2_form_init(&f, "CreateTags");
  ec2_form_add(&f, "ResourceId.1", id);
  rc = record_tags(&f, "", req, &now, err);
  if(rc) {
    ec2_form_free(&f);
    return rc;
  }
  rc = ec2_do(st, &f, req->address, NULL, err);
  if(rc || had <= (json_int_t)now)
    return rc;
  ec2_form_init(&f, "DeleteTags");
  ec2_form_add(&f, "ResourceId.1", id);
  for(; (json_int_t)now < had; now++) {
    char key[32];
    snprintf(key, sizeof(key), TAG_CHUNK "%u", now);
    ec2_form_addf(&f, key, "Tag.%u.Key", ++n);
  }
  return ec2_do(st, &f, req->address, NULL, err);
}

static drover_code pol_create(ec2_state *st, const drover_res_req *req, drover_live **out,
                              drover_error *err)
{
  drover_live *cur = NULL;
  unsigned chunks = 0;
  char code[64];
  ec2_form f;
  drover_code rc;

  ec2_form_init(&f, "CreatePlacementGroup");
  ec2_form_add(&f, "GroupName", req->name);
  ec2_form_add(&f, "Strategy", "spread");
  ec2_form_add(&f, "TagSpecification.1.ResourceType", "placement-group");
  rc = record_tags(&f, "TagSpecification.1.", req, &chunks, err);
  if(rc) {
    ec2_form_free(&f);
    return rc;
  }
  rc = ec2_do(st, &f, req->address, code, err);
  if(rc && !strcmp(code, "InvalidPlacementGroup.Duplicate")) {
    /* A retry after a lost answer or a kill: adopt our own record. */
    drover_error e;
    drover_error_clear(&e);
    if(pol_read_at(st, req->name, req->address, &cur, &e) == DROVER_OK && cur->stack &&
       cur->address && !strcmp(cur->stack, req->stack) &&
       !strcmp(cur->address, req->address)) {
      drover_error_clear(err);
      rc = retag(st, req, cur, err);
    }
    drover_live_free(cur);
  }
  return rc ? rc : pol_read_at(st, req->name, req->address, out, err);
}

static drover_code pol_update(ec2_state *st, const drover_res_req *req, const drover_live *cur,
                              drover_live **out, drover_error *err)
{
  drover_code rc = retag(st, req, cur, err);

  return rc ? rc : pol_read_at(st, cur->name, req->address, out, err);
}

static drover_code pol_del(ec2_state *st, const drover_live *cur, double deadline,
                           drover_error *err)
{
  const char *od = json_string_value(json_object_get(cur->properties, "on_delete"));
  drover_code rc = DROVER_OK;
  drover_error e;
  ec2_form f;
  char code[64];

  (void)deadline;
  /* Snapshots first: a kill in between leaves the record, so the next
   * apply deletes the rest. */
  if(od && !strcmp(od, "delete") && cur->stack && cur->address)
    rc = ec2_backup_delete_policy(st, cur->stack, cur->address, err);
  if(rc)
    return rc;
  ec2_form_init(&f, "DeletePlacementGroup");
  ec2_form_add(&f, "GroupName", cur->name);
  drover_error_clear(&e);
  rc = ec2_do(st, &f, cur->address, code, &e);
  if(rc == DROVER_E_NOT_FOUND || (rc && !strcmp(code, "InvalidPlacementGroup.Unknown")))
    return DROVER_OK; /* already gone */
  if(rc)
    drover_error_set(err, rc, "%s", e.text);
  return rc;
}

const ec2_type_ops ec2_policy_ops = {pol_list, pol_create, pol_update, pol_del, pol_read};
