/* ec2_volume.c - aws.volume: one EBS volume, optionally attached.
 *
 * CreateVolume carries the ownership tags (TagSpecifications) and the
 * idempotency token as ClientToken. Refresh is DescribeVolumes filtered on
 * the stack tag, following NextToken; aws.instance's root volumes carry
 * the stack tag too and are left out (tag drover:root).
 *
 * In place: size (grow only: EC2 refuses to shrink, and says so), type
 * (ModifyVolume), the attachment (instance, device: detach, then attach),
 * tags. Replacement: zone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ec2.h"

static const drover_prop vol_props[] = {
  {"zone", DROVER_T_STRING, DROVER_PROP_REQUIRED | DROVER_PROP_FORCE_NEW, NULL, NULL,
   "availability zone (us-east-1a)"},
  {"size", DROVER_T_INTEGER, 0, "8", NULL, "GiB; grown in place (EC2 cannot shrink a volume)"},
  {"type", DROVER_T_STRING, 0, "\"gp3\"", NULL, "volume type, changed in place"},
  {"instance", DROVER_T_STRING, 0, "\"\"", NULL,
   "instance ID to attach to (${resources.x.id}); \"\": detached"},
  {"device", DROVER_T_STRING, 0, "\"\"", NULL, "device name on the instance (/dev/sdf)"},
  {"tags", DROVER_T_STRING_MAP, 0, "{}", NULL, "tags besides drover's own"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

static const char *const vol_exports[] = {"id", "status", "attachment", NULL};

static const drover_rule vol_rules[] = {
  {"zone", DROVER_RULE_NONEMPTY, 0, 0, NULL, NULL},
  {"size", DROVER_RULE_MIN | DROVER_RULE_MAX, 1, 65536, NULL, NULL},
  {"type", DROVER_RULE_NONEMPTY, 0, 0, NULL, NULL},
  {NULL, 0, 0, 0, NULL, NULL}
};

/* Orphans: volumes (2) are deleted before instances (1), each detaching
 * itself first, so a data volume never outlives its delete. */
const drover_rtype ec2_volume_type = {
  "aws.volume", vol_props, 2, "an EBS volume, optionally attached to an instance",
  vol_exports, vol_rules, NULL, DROVER_RTYPE_SERVER_ID | DROVER_RTYPE_BACKUP
};

static drover_code vol_page(xmlDoc *doc, void *ud, char **next, drover_error *err)
{
  return ec2_parse_volumes(doc, ud, next, err);
}

static drover_code vol_list(ec2_state *st, const char *stack, drover_live_list *out,
                            drover_error *err)
{
  ec2_form f;

  ec2_form_init(&f, "DescribeVolumes");
  ec2_form_stack_filter(&f, 1, stack);
  return ec2_describe(st, &f, 1, NULL, vol_page, out, err);
}

drover_code ec2_volume_read(ec2_state *st, const char *id, const char *address,
                            drover_live **out, drover_error *err)
{
  drover_live_list list = {NULL, 0, 0};
  ec2_form f;
  drover_code rc;

  *out = NULL;
  ec2_form_init(&f, "DescribeVolumes");
  ec2_form_add(&f, "VolumeId.1", id);
  rc = ec2_describe(st, &f, 0, address, vol_page, &list, err);
  return ec2_take_first(rc, &list, "volume", id, address, out, err);
}

static drover_code vol_read(ec2_state *st, const char *id, drover_live **out,
                            drover_error *err)
{
  return ec2_volume_read(st, id, NULL, out, err);
}

drover_code ec2_volume_find(ec2_state *st, const char *key, const char *value,
                            const char *key2, const char *value2, drover_live_list *out,
                            drover_error *err)
{
  const char *keys[2] = {key, key2}, *values[2] = {value, value2};
  ec2_form f;
  unsigned i;

  ec2_form_init(&f, "DescribeVolumes");
  for(i = 0; i < 2 && keys[i]; i++) {
    char *name = NULL;
    if(asprintf(&name, "tag:%s", keys[i]) < 0) {
      name = NULL;
      f.oom = 1;
    }
    ec2_form_addf(&f, name ? name : "", "Filter.%u.Name", i + 1);
    ec2_form_addf(&f, values[i], "Filter.%u.Value.1", i + 1);
    free(name);
  }
  return ec2_describe(st, &f, 1, NULL, vol_page, out, err);
}

drover_code ec2_volume_wait(ec2_state *st, const char *id, const char *want,
                            const char *attach, double deadline, const char *address,
                            drover_error *err)
{
  char last[32] = "unknown";

  for(;;) {
    drover_live *l = NULL;
    drover_error e;
    drover_code rc;
    drover_error_clear(&e);
    rc = ec2_volume_read(st, id, address, &l, &e);
    if(rc == DROVER_E_NOT_FOUND && !want)
      return DROVER_OK;
    if(rc && rc != DROVER_E_NOT_FOUND) {
      drover_error_set(err, rc, "%s", e.text);
      return rc;
    }
    if(!rc) {
      const char *as = json_string_value(json_object_get(l->attributes, "attachment"));
      int done = want && !strcmp(l->status, want) && (!attach || (as && !strcmp(as, attach)));
      snprintf(last, sizeof(last), "%s", l->status);
      drover_live_free(l);
      if(done)
        return DROVER_OK;
      if(!strcmp(last, "error"))
        return ec2_fail(err, DROVER_E_PROVIDER, address, "volume %s is in state error", id);
    }
    if(ec2_pause(st, deadline))
      return ec2_fail(err, DROVER_E_TIMEOUT, address,
                      "volume %s still %s at the deadline (waiting for %s)", id, last,
                      want ? want : "deletion");
  }
}

drover_code ec2_volume_attach(ec2_state *st, const char *id, const char *inst,
                              const char *dev, double deadline, const char *address,
                              drover_error *err)
{
  ec2_form f;
  drover_code rc;

  ec2_form_init(&f, "AttachVolume");
  ec2_form_add(&f, "VolumeId", id);
  ec2_form_add(&f, "InstanceId", inst);
  ec2_form_add(&f, "Device", dev);
  rc = ec2_do(st, &f, address, NULL, err);
  return rc ? rc : ec2_volume_wait(st, id, "in-use", "attached", deadline, address, err);
}

drover_code ec2_volume_delete(ec2_state *st, const char *id, double deadline,
                              const char *address, drover_error *err)
{
  ec2_form f;
  drover_error e;
  drover_code rc;

  drover_error_clear(&e);
  ec2_form_init(&f, "DeleteVolume");
  ec2_form_add(&f, "VolumeId", id);
  rc = ec2_do(st, &f, address, NULL, &e);
  if(rc == DROVER_E_NOT_FOUND)
    return DROVER_OK;
  if(rc)
    return drover_error_set(err, rc, "%s", e.text);
  return ec2_volume_wait(st, id, NULL, NULL, deadline, address, err);
}

drover_code ec2_volume_detach(ec2_state *st, const char *id, double deadline,
                              const char *address, drover_error *err)
{
  ec2_form f;
  char code[64];
  drover_code rc;
  drover_error e;

  drover_error_clear(&e);
  ec2_form_init(&f, "DetachVolume");
  ec2_form_add(&f, "VolumeId", id);
  rc = ec2_do(st, &f, address, code, &e);
  /* Already detached is the goal. */
  if(rc && strcmp(code, "IncorrectState")) {
    drover_error_set(err, rc, "%s", e.text);
    return rc;
  }
  return ec2_volume_wait(st, id, "available", NULL, deadline, address, err);
}

static const char *str(const json_t *p, const char *name)
{
  const char *v = json_string_value(json_object_get(p, name));
  return v ? v : "";
}

static drover_code vol_create(ec2_state *st, const drover_res_req *req, drover_live **out,
                              drover_error *err)
{
  const json_t *p = req->properties;
  double deadline = ec2_deadline(req->deadline, 600);
  drover_live_list made = {NULL, 0, 0};
  char size[32], *next = NULL, *id = NULL;
  xmlDoc *doc = NULL;
  unsigned n = 0;
  ec2_form f;
  drover_code rc;

  snprintf(size, sizeof(size), "%lld",
           (long long)json_integer_value(json_object_get(p, "size")));
  ec2_form_init(&f, "CreateVolume");
  ec2_form_add(&f, "AvailabilityZone", str(p, "zone"));
  ec2_form_add(&f, "Size", size);
  ec2_form_add(&f, "VolumeType", str(p, "type"));
  if(req->idempotency_token && *req->idempotency_token)
    ec2_form_add(&f, "ClientToken", req->idempotency_token);
  ec2_form_add(&f, "TagSpecification.1.ResourceType", "volume");
  ec2_form_tags(&f, "TagSpecification.1.", &n, req, json_object_get(p, "tags"), 1);
  rc = ec2_call(st, &f, req->address, &doc, NULL, err);
  ec2_form_free(&f);
  if(!rc)
    rc = ec2_parse_volumes(doc, &made, &next, err);
  if(!rc && made.count != 1)
    rc = ec2_fail(err, DROVER_E_PROVIDER, req->address, "CreateVolume answered no volume");
  if(!rc && !(id = strdup(made.items[0]->name)))
    rc = ec2_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
  if(!rc)
    rc = ec2_volume_wait(st, id, "available", NULL, deadline, req->address, err);
  if(!rc && *str(p, "instance"))
    rc = ec2_volume_attach(st, id, str(p, "instance"), str(p, "device"), deadline,
                           req->address, err);
  if(!rc)
    rc = ec2_volume_read(st, id, req->address, out, err);
  aws_xml_free(doc);
  drover_live_list_clear(&made);
  free(next);
  free(id);
  return rc;
}

static drover_code vol_update(ec2_state *st, const drover_res_req *req, const drover_live *cur,
                              drover_live **out, drover_error *err)
{
  const json_t *p = req->properties;
  double deadline = ec2_deadline(req->deadline, 600);
  const char *id = cur->name;
  drover_code rc = DROVER_OK;

  if(ec2_changed(req, "size") || ec2_changed(req, "type")) {
    ec2_form f;
    char size[32];
    snprintf(size, sizeof(size), "%lld",
             (long long)json_integer_value(json_object_get(p, "size")));
    ec2_form_init(&f, "ModifyVolume");
    ec2_form_add(&f, "VolumeId", id);
    if(ec2_changed(req, "size"))
      ec2_form_add(&f, "Size", size);
    if(ec2_changed(req, "type"))
      ec2_form_add(&f, "VolumeType", str(p, "type"));
    rc = ec2_do(st, &f, req->address, NULL, err);
  }
  if(!rc && (ec2_changed(req, "instance") || ec2_changed(req, "device"))) {
    if(*str(cur->properties, "instance"))
      rc = ec2_volume_detach(st, id, deadline, req->address, err);
    if(!rc && *str(p, "instance"))
      rc = ec2_volume_attach(st, id, str(p, "instance"), str(p, "device"), deadline,
                             req->address, err);
  }
  if(!rc)
    rc = ec2_retag(st, id, req, json_object_get(cur->properties, "tags"), 1, err);
  if(!rc)
    rc = ec2_volume_read(st, id, req->address, out, err);
  return rc;
}

static drover_code vol_del(ec2_state *st, const drover_live *cur, double deadline,
                           drover_error *err);

/* Waits until id is no longer "creating" (available or error), or
 * deadline. */
static drover_code wait_made(ec2_state *st, const char *id, double deadline,
                             const char *address, drover_error *err)
{
  for(;;) {
    drover_live *l = NULL;
    drover_code rc = ec2_volume_read(st, id, address, &l, err);
    int made = !rc && strcmp(l->status, "creating");
    drover_live_free(l);
    if(rc || made)
      return rc;
    if(ec2_pause(st, deadline))
      return ec2_fail(err, DROVER_E_TIMEOUT, address,
                      "volume %s still creating at the deadline (waiting to delete it)", id);
  }
}

/* Deletes the volumes whose display name (drover:name) is name and, when
 * address is set, whose address label is address: a backup verify
 * drill's scratch copy, which the engine knows only by the name it gave
 * (the cloud chose the ID). None is success. */
static drover_code del_named(ec2_state *st, const char *name, const char *address,
                             double deadline, drover_error *err)
{
  drover_live_list found = {NULL, 0, 0};
  size_t i;
  drover_code rc = ec2_volume_find(st, EC2_TAG_NAME, name,
                                   address ? EC2_TAG_PREFIX DROVER_LABEL_ADDRESS : NULL,
                                   address, &found, err);

  for(i = 0; !rc && i < found.count; i++)
    rc = vol_del(st, found.items[i], deadline, err);
  drover_live_list_clear(&found);
  return rc;
}

static drover_code vol_del(ec2_state *st, const drover_live *cur, double deadline,
                           drover_error *err)
{
  drover_error e;
  drover_code rc = DROVER_OK;

  deadline = ec2_deadline(deadline, 600);
  if(strncmp(cur->name, "vol-", 4))
    return del_named(st, cur->name, cur->address, deadline, err);
  /* EC2 deletes only an available (or failed) volume: one still being
   * made (a killed create, a drill's copy) is waited for first. */
  if(cur->status && !strcmp(cur->status, "creating")) {
    drover_error_clear(&e);
    rc = wait_made(st, cur->name, deadline, cur->address, &e);
    if(rc == DROVER_E_NOT_FOUND)
      return DROVER_OK;
    if(rc)
      return drover_error_set(err, rc, "%s", e.text);
  }
  if(*str(cur->properties, "instance"))
    rc = ec2_volume_detach(st, cur->name, deadline, cur->address, err);
  if(rc == DROVER_E_NOT_FOUND)
    return DROVER_OK;
  if(rc)
    return rc;
  return ec2_volume_delete(st, cur->name, deadline, cur->address, err);
}

const ec2_type_ops ec2_volume_ops = {vol_list, vol_create, vol_update, vol_del, vol_read};
