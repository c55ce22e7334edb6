/* ec2_snapshot.c - aws.snapshot: one EBS snapshot of a volume.
 *
 * CreateSnapshot takes no idempotency token, so the snapshot carries the
 * engine's token as the tag drover:run. Before creating, and before each
 * retry of a create whose answer was lost, a DescribeSnapshots filtered on
 * that tag looks for the snapshot the first try made; if there is one, it
 * is adopted rather than made twice.
 *
 * In place: tags. Replacement: volume, description.
 */
#include <stdlib.h>
#include <string.h>
#include "ec2.h"

static const drover_prop snap_props[] = {
  {"volume", DROVER_T_STRING, DROVER_PROP_REQUIRED | DROVER_PROP_FORCE_NEW, NULL, NULL,
   "volume ID to snapshot (${resources.v.id})"},
  {"description", DROVER_T_STRING, DROVER_PROP_FORCE_NEW, "\"\"", NULL, "free text"},
  {"tags", DROVER_T_STRING_MAP, 0, "{}", NULL, "tags besides drover's own"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

static const char *const snap_exports[] = {"id", "status", "created", NULL};

static const drover_rule snap_rules[] = {
  {"volume", DROVER_RULE_NONEMPTY, 0, 0, NULL, NULL},
  {NULL, 0, 0, 0, NULL, NULL}
};

const drover_rtype ec2_snapshot_type = {
  "aws.snapshot", snap_props, 0, "an EBS snapshot of a volume", snap_exports, snap_rules,
  NULL, DROVER_RTYPE_SERVER_ID
};

static drover_code snap_page(xmlDoc *doc, void *ud, char **next, drover_error *err)
{
  return ec2_parse_snapshots(doc, ud, next, err);
}

/* Every snapshot of this account with tag key = value (key NULL: with
 * SnapshotId.1 = value). */
static drover_code snap_find(ec2_state *st, const char *key, const char *value,
                             const char *address, drover_live_list *out, drover_error *err)
{
  ec2_form f;

  ec2_form_init(&f, "DescribeSnapshots");
  ec2_form_add(&f, "Owner.1", "self");
  if(!key)
    ec2_form_add(&f, "SnapshotId.1", value);
  else {
    char *name = NULL;
    if(asprintf(&name, "tag:%s", key) < 0)
      name = NULL;
    ec2_form_add(&f, "Filter.1.Name", name ? name : "");
    ec2_form_add(&f, "Filter.1.Value.1", value);
    free(name);
  }
  return ec2_describe(st, &f, key != NULL, address, snap_page, out, err);
}

static drover_code snap_list(ec2_state *st, const char *stack, drover_live_list *out,
                             drover_error *err)
{
  ec2_form f;

  ec2_form_init(&f, "DescribeSnapshots");
  ec2_form_add(&f, "Owner.1", "self");
  ec2_form_stack_filter(&f, 1, stack);
  return ec2_describe(st, &f, 1, NULL, snap_page, out, err);
}

static drover_code snap_read_at(ec2_state *st, const char *id, const char *address,
                                drover_live **out, drover_error *err)
{
  drover_live_list list = {NULL, 0, 0};
  drover_code rc = snap_find(st, NULL, id, address, &list, err);

  return ec2_take_first(rc, &list, "snapshot", id, address, out, err);
}

static drover_code snap_read(ec2_state *st, const char *id, drover_live **out,
                             drover_error *err)
{
  return snap_read_at(st, id, NULL, out, err);
}

/* Describes id until it is completed, or deadline. */
static drover_code snap_wait(ec2_state *st, const char *id, double deadline,
                             const char *address, drover_error *err)
{
  char last[32] = "unknown";

  for(;;) {
    drover_live *l = NULL;
    drover_error e;
    drover_code rc;
    drover_error_clear(&e);
    rc = snap_read_at(st, id, address, &l, &e);
    if(rc && rc != DROVER_E_NOT_FOUND) {
      drover_error_set(err, rc, "%s", e.text);
      return rc;
    }
    if(!rc) {
      snprintf(last, sizeof(last), "%s", l->status);
      drover_live_free(l);
      if(!strcmp(last, "completed"))
        return DROVER_OK;
      if(!strcmp(last, "error"))
        return ec2_fail(err, DROVER_E_PROVIDER, address, "snapshot %s is in state error", id);
    }
    if(ec2_pause(st, deadline))
      return ec2_fail(err, DROVER_E_TIMEOUT, address,
                      "snapshot %s still %s at the deadline", id, last);
  }
}

/* The ID (caller frees) of the snapshot tagged drover:run = token, or
 * NULL when there is none. */
static drover_code made_by(ec2_state *st, const char *token, const char *address, char **id,
                           drover_error *err)
{
  drover_live_list list = {NULL, 0, 0};
  drover_code rc = snap_find(st, EC2_TAG_RUN, token, address, &list, err);

  *id = NULL;
  if(!rc && list.count && !(*id = strdup(list.items[0]->name)))
    rc = ec2_fail(err, DROVER_E_NOMEM, address, "out of memory");
  drover_live_list_clear(&list);
  return rc;
}

typedef struct retry_ctx {
  ec2_state *st;
  const drover_res_req *req;
} retry_ctx;

/* Before a retry of CreateSnapshot: did the first try make it? */
static drover_code check_made(void *ud, drover_error *err)
{
  retry_ctx *rc = ud;
  char *id = NULL;
  drover_code c = made_by(rc->st, rc->req->idempotency_token, rc->req->address, &id, err);

  if(!c && id)
    c = ec2_fail(err, DROVER_E_CONFLICT, rc->req->address,
                 "snapshot %s was made by the first try", id);
  free(id);
  return c;
}

static drover_code snap_create(ec2_state *st, const drover_res_req *req, drover_live **out,
                               drover_error *err)
{
  const json_t *p = req->properties;
  const char *token = req->idempotency_token;
  retry_ctx rctx = {st, req};
  xmlDoc *doc = NULL;
  char *id = NULL;
  unsigned n = 0;
  ec2_form f;
  drover_code rc = DROVER_OK;

  memset(&f, 0, sizeof(f));
  if(!token || !*token)
    return ec2_fail(err, DROVER_E_ARG, req->address, "aws.snapshot needs an idempotency token");
  /* A create interrupted after CreateSnapshot (a kill) left it tagged. */
  rc = made_by(st, token, req->address, &id, err);
  if(rc || id)
    goto wait;
  ec2_form_init(&f, "CreateSnapshot");
  ec2_form_add(&f, "VolumeId", json_string_value(json_object_get(p, "volume")));
  ec2_form_add(&f, "Description", json_string_value(json_object_get(p, "description")));
  ec2_form_add(&f, "TagSpecification.1.ResourceType", "snapshot");
  ec2_form_tags(&f, "TagSpecification.1.", &n, req, json_object_get(p, "tags"), 1);
  ec2_form_addf(&f, EC2_TAG_RUN, "TagSpecification.1.Tag.%u.Key", ++n);
  ec2_form_addf(&f, token, "TagSpecification.1.Tag.%u.Value", n);
  f.before_retry = check_made;
  f.retry_ud = &rctx;
  rc = ec2_call(st, &f, req->address, &doc, NULL, err);
  if(rc == DROVER_E_CONFLICT) {
    /* The lost first answer: take the snapshot it made. */
    drover_error_clear(err);
    rc = made_by(st, token, req->address, &id, err);
    if(!rc && !id)
      rc = ec2_fail(err, DROVER_E_INTERNAL, req->address, "snapshot made but not found");
  }
  else if(!rc) {
    id = aws_xml_text(aws_xml_root(doc, NULL), "snapshotId");
    if(!id)
      rc = ec2_fail(err, DROVER_E_PROVIDER, req->address, "CreateSnapshot answered no snapshotId");
  }
wait:
  if(!rc)
    rc = snap_wait(st, id, ec2_deadline(req->deadline, 3600), req->address, err);
  if(!rc)
    rc = snap_read_at(st, id, req->address, out, err);
  aws_xml_free(doc);
  ec2_form_free(&f);
  free(id);
  return rc;
}

static drover_code snap_update(ec2_state *st, const drover_res_req *req, const drover_live *cur,
                               drover_live **out, drover_error *err)
{
  drover_code rc = ec2_retag(st, cur->name, req, json_object_get(cur->properties, "tags"), 1,
                             err);

  return rc ? rc : snap_read_at(st, cur->name, req->address, out, err);
}

static drover_code snap_del(ec2_state *st, const drover_live *cur, double deadline,
                            drover_error *err)
{
  ec2_form f;
  drover_error e;
  drover_code rc;

  (void)deadline;
  drover_error_clear(&e);
  ec2_form_init(&f, "DeleteSnapshot");
  ec2_form_add(&f, "SnapshotId", cur->name);
  rc = ec2_do(st, &f, cur->address, NULL, &e);
  if(rc == DROVER_E_NOT_FOUND)
    return DROVER_OK;
  if(rc)
    drover_error_set(err, rc, "%s", e.text);
  return rc;
}

const ec2_type_ops ec2_snapshot_ops = {snap_list, snap_create, snap_update, snap_del,
                                       snap_read};
