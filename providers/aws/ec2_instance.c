/* ec2_instance.c - aws.instance: one EC2 instance.
 *
 * Ownership is tags, set through TagSpecifications in RunInstances itself,
 * so nothing exists untagged; RunInstances carries the engine's
 * idempotency token as ClientToken, so a retried or re-run create returns
 * the first instance. Refresh is DescribeInstances filtered on the stack
 * tag, following NextToken, plus one DescribeVolumes (also filtered on
 * the stack tag) for the root volume sizes. Waits are describe calls every
 * poll_interval until the deadline, shared by every thread waiting at the
 * same time (ec2_watch.c): one call per poll for a resume of many nodes.
 *
 * In place: instance_type (the instance is stopped for the change, then
 * started again if it should run), security_groups, tags, state.
 * Replacement: image, subnet, key_name, root_volume_size. user_data is
 * sent at create only: EC2 does not return it, so a change is not seen
 * (doc/aws.md).
 */
#include <stdlib.h>
#include <string.h>
#include "ec2.h"

static const char *const inst_states[] = {"running", "stopped", NULL};

static const drover_prop inst_props[] = {
  {"image", DROVER_T_STRING, DROVER_PROP_REQUIRED | DROVER_PROP_FORCE_NEW, NULL, NULL,
   "AMI ID (ami-...)"},
  {"instance_type", DROVER_T_STRING, 0, "\"t3.micro\"", NULL,
   "instance type; changed in place (stopped for the change, started again if running)"},
  {"subnet", DROVER_T_STRING, DROVER_PROP_FORCE_NEW, NULL, NULL,
   "subnet ID; unset: the default VPC's choice, not managed"},
  {"security_groups", DROVER_T_ARRAY, 0, NULL, NULL,
   "security group IDs, changed in place; unset: not managed"},
  {"key_name", DROVER_T_STRING, DROVER_PROP_FORCE_NEW, NULL, NULL, "EC2 key pair name"},
  {"user_data", DROVER_T_STRING, DROVER_PROP_NO_DIFF, NULL, NULL,
   "cloud-init user data, sent at create only (EC2 does not return it)"},
  {"tags", DROVER_T_STRING_MAP, 0, "{}", NULL, "tags besides drover's own"},
  {"root_volume_size", DROVER_T_INTEGER, DROVER_PROP_FORCE_NEW, NULL, NULL,
   "root volume size in GiB; unset: the image's"},
  {"state", DROVER_T_STRING, 0, "\"running\"", inst_states, "running or stopped"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

static const char *const inst_exports[] = {
  "id", "status", "private_ip", "public_ip", "availability_zone", "root_device", NULL
};

static const drover_rule inst_rules[] = {
  {"image", DROVER_RULE_NONEMPTY, 0, 0, NULL, NULL},
  {"instance_type", DROVER_RULE_NONEMPTY, 0, 0, NULL, NULL},
  {"root_volume_size", DROVER_RULE_MIN | DROVER_RULE_MAX, 1, 16384, NULL, NULL},
  {NULL, 0, 0, 0, NULL, NULL}
};

const drover_rtype ec2_instance_type = {
  "aws.instance", inst_props, 1, "an EC2 instance", inst_exports, inst_rules, NULL,
  DROVER_RTYPE_SERVER_ID | DROVER_RTYPE_DELETE_MANY
};

/* --------------------------------------------------------------------------
 * Describe calls
 */

static drover_code size_page(xmlDoc *doc, void *ud, char **next, drover_error *err)
{
  return ec2_parse_volume_sizes(doc, ud, next, err);
}

/* Sets properties.root_volume_size of the instances in list[from..] from
 * the answers to the DescribeVolumes f (consumed; every page). */
static drover_code add_root_sizes(ec2_state *st, ec2_form *f, int paged, drover_live_list *list,
                                  size_t from, drover_error *err)
{
  json_t *sizes = json_object();
  drover_code rc;
  size_t i;

  if(!sizes) {
    ec2_form_free(f);
    return ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  }
  rc = ec2_describe(st, f, paged, NULL, size_page, sizes, err);
  for(i = from; !rc && i < list->count; i++) {
    drover_live *l = list->items[i];
    const char *dev = json_string_value(json_object_get(l->attributes, "root_device"));
    char *key = NULL;
    json_t *size;
    if(!dev || asprintf(&key, "%s\n%s", l->name, dev) < 0)
      continue;
    size = json_object_get(sizes, key);
    free(key);
    if(size && json_object_set(l->properties, "root_volume_size", size))
      rc = ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  }
  json_decref(sizes);
  return rc;
}

static const char *const live_states[] = {"pending", "running", "stopping", "stopped", NULL};

static drover_code inst_list(ec2_state *st, const char *stack, drover_live_list *out,
                             drover_error *err)
{
  ec2_form f;
  size_t from = out->count;
  unsigned i;
  drover_code rc;

  ec2_form_init(&f, "DescribeInstances");
  ec2_form_stack_filter(&f, 1, stack);
  ec2_form_add(&f, "Filter.2.Name", "instance-state-name");
  for(i = 0; live_states[i]; i++)
    ec2_form_addf(&f, live_states[i], "Filter.2.Value.%u", i + 1);
  rc = ec2_describe_instances(st, &f, 1, NULL, 0, out, err);
  if(rc || out->count == from || !stack)
    return rc;
  /* Root volume sizes: one more filtered call, whatever the count. */
  ec2_form_init(&f, "DescribeVolumes");
  ec2_form_stack_filter(&f, 1, stack);
  ec2_form_add(&f, "Filter.2.Name", "tag-key");
  ec2_form_add(&f, "Filter.2.Value.1", EC2_TAG_ROOT);
  return add_root_sizes(st, &f, 1, out, from, err);
}

#define RO_SIZES 0x1 /* also the root volume size */

/* One instance by ID; terminated ones are NOT_FOUND.
 * *out owned by the caller. */
static drover_code read_one(ec2_state *st, const char *id, const char *address, unsigned flags,
                            drover_live **out, drover_error *err)
{
  drover_live_list list = {NULL, 0, 0};
  ec2_form f;
  drover_code rc;

  *out = NULL;
  ec2_form_init(&f, "DescribeInstances");
  ec2_form_add(&f, "InstanceId.1", id);
  rc = ec2_describe_instances(st, &f, 0, address, 0, &list, err);
  if(!rc && list.count && (flags & RO_SIZES)) {
    ec2_form_init(&f, "DescribeVolumes");
    ec2_form_add(&f, "Filter.1.Name", "attachment.instance-id");
    ec2_form_add(&f, "Filter.1.Value.1", id);
    rc = add_root_sizes(st, &f, 0, &list, 0, err);
  }
  return ec2_take_first(rc, &list, "instance", id, address, out, err);
}

static drover_code inst_read(ec2_state *st, const char *id, drover_live **out,
                             drover_error *err)
{
  return read_one(st, id, NULL, RO_SIZES, out, err);
}

/* --------------------------------------------------------------------------
 * State changes
 */

/* StartInstances/StopInstances/TerminateInstances on one ID. */
static drover_code act(ec2_state *st, const char *action, const char *id, const char *address,
                       drover_error *err)
{
  ec2_form f;

  ec2_form_init(&f, action);
  ec2_form_add(&f, "InstanceId.1", id);
  return ec2_do(st, &f, address, NULL, err);
}

/* Brings id from status to want ("running"/"stopped"). */
static drover_code set_state(ec2_state *st, const char *id, const char *status,
                             const char *want, double deadline, const char *address,
                             drover_error *err)
{
  drover_code rc = DROVER_OK;
  int run = !strcmp(want, "running");

  if(!strcmp(status, want))
    return DROVER_OK;
  /* From a state in between, wait for where it is going first. */
  if(!strcmp(status, "pending") || !strcmp(status, "stopping")) {
    rc = ec2_watch_state(st, id, status[0] == 'p' ? "running" : "stopped", deadline, address,
                         err);
    if(rc)
      return rc;
    if(!strcmp(status[0] == 'p' ? "running" : "stopped", want))
      return DROVER_OK;
  }
  rc = act(st, run ? "StartInstances" : "StopInstances", id, address, err);
  if(!rc)
    rc = ec2_watch_state(st, id, want, deadline, address, err);
  return rc;
}

/* --------------------------------------------------------------------------
 * Create, update, delete
 */

/* The root device name of image, for a root volume size. Caller frees. */
static drover_code root_device_of(ec2_state *st, const char *image, const char *address,
                                  char **out, drover_error *err)
{
  ec2_form f;
  xmlDoc *doc = NULL;
  xmlNode *set, *it;
  drover_code rc;

  *out = NULL;
  ec2_form_init(&f, "DescribeImages");
  ec2_form_add(&f, "ImageId.1", image);
  rc = ec2_call(st, &f, address, &doc, NULL, err);
  ec2_form_free(&f);
  if(rc)
    return rc;
  set = aws_xml_child(aws_xml_root(doc, NULL), "imagesSet");
  it = set ? aws_xml_child(set, "item") : NULL;
  *out = it ? aws_xml_text(it, "rootDeviceName") : NULL;
  aws_xml_free(doc);
  if(!*out)
    return ec2_fail(err, DROVER_E_NOT_FOUND, address, "image %s not found or has no root "
                    "device name", image);
  return DROVER_OK;
}

static drover_code inst_create(ec2_state *st, const drover_res_req *req, drover_live **out,
                               drover_error *err)
{
  const json_t *p = req->properties;
  const char *want = json_string_value(json_object_get(p, "state"));
  double deadline = ec2_deadline(req->deadline, 600);
  drover_live_list made = {NULL, 0, 0};
  char *root = NULL, *next = NULL, *id = NULL;
  xmlDoc *doc = NULL;
  ec2_form f;
  drover_code rc = DROVER_OK;

  memset(&f, 0, sizeof(f));
  if(json_is_integer(json_object_get(p, "root_volume_size"))) {
    rc = root_device_of(st, json_string_value(json_object_get(p, "image")), req->address,
                        &root, err);
    if(rc)
      goto out;
  }
  ec2_form_run(&f, req, root);
  rc = ec2_call(st, &f, req->address, &doc, NULL, err);
  if(rc)
    goto out;
  rc = ec2_parse_instances(doc, 1, &made, &next, err);
  if(!rc && made.count != 1)
    rc = ec2_fail(err, DROVER_E_PROVIDER, req->address,
                  "RunInstances answered with %zu instances, not 1", made.count);
  if(rc)
    goto out;
  id = strdup(made.items[0]->name);
  if(!id) {
    rc = ec2_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
    goto out;
  }
  drover_logf(&st->env, DROVER_LOG_INFO, "aws: %s: launched %s, waiting for it to run",
              req->address, id);
  rc = ec2_watch_state(st, id, "running", deadline, req->address, err);
  if(!rc && want && !strcmp(want, "stopped"))
    rc = set_state(st, id, "running", "stopped", deadline, req->address, err);
  if(!rc)
    rc = read_one(st, id, req->address, RO_SIZES, out, err);
out:
  aws_xml_free(doc);
  ec2_form_free(&f);
  drover_live_list_clear(&made);
  free(root);
  free(next);
  free(id);
  return rc;
}

static drover_code modify(ec2_state *st, const char *id, const char *address,
                          const char *type, const json_t *groups, drover_error *err)
{
  ec2_form f;
  size_t i;

  ec2_form_init(&f, "ModifyInstanceAttribute");
  ec2_form_add(&f, "InstanceId", id);
  if(type)
    ec2_form_add(&f, "InstanceType.Value", type);
  for(i = 0; i < json_array_size(groups); i++)
    ec2_form_addf(&f, json_string_value(json_array_get(groups, i)), "GroupId.%zu", i + 1);
  return ec2_do(st, &f, address, NULL, err);
}

static drover_code inst_update(ec2_state *st, const drover_res_req *req, const drover_live *cur,
                               drover_live **out, drover_error *err)
{
  const json_t *p = req->properties;
  const char *want = json_string_value(json_object_get(p, "state"));
  const char *id = cur->name;
  double deadline = ec2_deadline(req->deadline, 600);
  char status[32];
  drover_code rc = DROVER_OK;

  snprintf(status, sizeof(status), "%s", cur->status ? cur->status : "unknown");
  if(!want)
    want = "running";
  /* EC2 changes the type of a stopped instance only. */
  if(ec2_changed(req, "instance_type")) {
    rc = set_state(st, id, status, "stopped", deadline, req->address, err);
    if(!rc)
      rc = modify(st, id, req->address, json_string_value(json_object_get(p, "instance_type")),
                  NULL, err);
    if(rc)
      return rc;
    snprintf(status, sizeof(status), "stopped");
  }
  if(ec2_changed(req, "security_groups") && json_array_size(json_object_get(p, "security_groups")))
    rc = modify(st, id, req->address, NULL, json_object_get(p, "security_groups"), err);
  if(!rc)
    rc = ec2_retag(st, id, req, json_object_get(cur->properties, "tags"), 1, err);
  if(!rc)
    rc = set_state(st, id, status, want, deadline, req->address, err);
  if(!rc)
    rc = read_one(st, id, req->address, RO_SIZES, out, err);
  return rc;
}

static drover_code inst_del(ec2_state *st, const drover_live *cur, double deadline,
                            drover_error *err)
{
  drover_error e;
  drover_code rc;

  drover_error_clear(&e);
  rc = act(st, "TerminateInstances", cur->name, cur->address, &e);
  if(rc == DROVER_E_NOT_FOUND)
    return DROVER_OK;
  if(rc) {
    drover_error_set(err, rc, "%s", e.text);
    drover_error_locate(err, "aws", cur->address);
    return rc;
  }
  return ec2_watch_state(st, cur->name, "terminated", ec2_deadline(deadline, 600), cur->address,
                    err);
}

const ec2_type_ops ec2_instance_ops = {inst_list, inst_create, inst_update, inst_del,
                                       inst_read};
