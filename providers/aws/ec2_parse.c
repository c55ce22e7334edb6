/* ec2_parse.c - EC2 answers into live objects. Pure (no I/O), so the unit
 * tests check them against the API Reference's examples. Elements are
 * matched by local name (aws_xml.c), whatever the namespace. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ec2.h"

static int set_new(json_t *obj, const char *key, json_t *v)
{
  return !v || json_object_set_new(obj, key, v);
}

/* The text of parent/name as a JSON string, "" when absent. */
static json_t *text_json(const xmlNode *parent, const char *name)
{
  char *t = aws_xml_text(parent, name);
  json_t *j = json_string(t ? t : "");

  free(t);
  return j;
}

/* Moves tag value v (owned) to the live label it names, or to tags. */
static int take_tag(drover_live *l, json_t *tags, const char *key, char *v)
{
  static const struct { const char *label; size_t off; } labels[] = {
    {DROVER_LABEL_STACK, offsetof(drover_live, stack)},
    {DROVER_LABEL_ADDRESS, offsetof(drover_live, address)},
    {DROVER_LABEL_HASH, offsetof(drover_live, hash)},
    {DROVER_LABEL_DEPS, offsetof(drover_live, deps)},
    {DROVER_LABEL_SENSITIVE, offsetof(drover_live, sensitive)},
  };
  size_t i, plen = strlen(EC2_TAG_PREFIX);

  if(!strncmp(key, EC2_TAG_PREFIX, plen)) {
    for(i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
      if(!strcmp(key + plen, labels[i].label)) {
        char **dst = (char **)((char *)l + labels[i].off);
        free(*dst);
        *dst = v;
        return 0;
      }
    /* drover:name, drover:version, drover:root: drover's own, not the user's. */
    free(v);
    return 0;
  }
  i = set_new(tags, key, json_string(v));
  free(v);
  return (int)i;
}

/* One instancesSet/item. *out owned by the caller. */
static drover_code parse_one(const xmlNode *it, drover_live **out, drover_error *err)
{
  drover_live *l = drover_live_new();
  xmlNode *n, *state = aws_xml_child(it, "instanceState"), *tagset, *groups, *place;
  json_t *tags = json_object(), *sg = json_array(), *p;
  char *status = NULL, *dname = NULL, *tagname = NULL;
  const char *st;
  drover_code rc = DROVER_OK;

  if(!l || !tags || !sg)
    goto nomem;
  l->name = aws_xml_text(it, "instanceId");
  if(!l->name) {
    rc = ec2_fail(err, DROVER_E_PROVIDER, NULL, "an instance in the answer has no instanceId");
    goto out;
  }
  status = state ? aws_xml_text(state, "name") : NULL;
  l->status = strdup(status ? status : "unknown");
  if(!l->status)
    goto nomem;
  tagset = aws_xml_child(it, "tagSet");
  for(n = tagset ? aws_xml_child(tagset, "item") : NULL; n; n = aws_xml_next(n)) {
    char *k = aws_xml_text(n, "key"), *v = aws_xml_text(n, "value");
    int bad;
    if(!k) {
      free(v);
      continue;
    }
    if(!v)
      v = strdup("");
    if(!strcmp(k, EC2_TAG_NAME) && v) {
      free(dname);
      dname = strdup(v);
    }
    if(!strcmp(k, "Name") && v) {
      free(tagname);
      tagname = strdup(v);
    }
    bad = !v || take_tag(l, tags, k, v);
    free(k);
    if(bad)
      goto nomem;
  }
  /* The Name tag drover set itself is not the user's. */
  if(dname && tagname && !strcmp(dname, tagname))
    json_object_del(tags, "Name");
  groups = aws_xml_child(it, "groupSet");
  for(n = groups ? aws_xml_child(groups, "item") : NULL; n; n = aws_xml_next(n)) {
    char *g = aws_xml_text(n, "groupId");
    int bad = g && json_array_append_new(sg, json_string(g));
    free(g);
    if(bad)
      goto nomem;
  }
  /* pending and stopping are on their way to the template's two states. */
  st = !status ? "stopped"
       : (!strcmp(status, "pending") || !strcmp(status, "running")) ? "running"
       : "stopped";
  p = l->properties;
  place = aws_xml_child(it, "placement");
  if(set_new(p, "image", text_json(it, "imageId")) ||
     set_new(p, "instance_type", text_json(it, "instanceType")) ||
     set_new(p, "subnet", text_json(it, "subnetId")) ||
     set_new(p, "security_groups", json_incref(sg)) ||
     set_new(p, "key_name", text_json(it, "keyName")) ||
     set_new(p, "tags", json_incref(tags)) ||
     set_new(p, "state", json_string(st)) ||
     set_new(l->attributes, "id", json_string(l->name)) ||
     set_new(l->attributes, "name", json_string(dname ? dname : l->name)) ||
     set_new(l->attributes, "status", json_string(l->status)) ||
     set_new(l->attributes, "private_ip", text_json(it, "privateIpAddress")) ||
     set_new(l->attributes, "public_ip", text_json(it, "ipAddress")) ||
     set_new(l->attributes, "root_device", text_json(it, "rootDeviceName")) ||
     set_new(l->attributes, "availability_zone",
             place ? text_json(place, "availabilityZone") : json_string("")))
    goto nomem;
  *out = l;
  l = NULL;
  goto out;
nomem:
  rc = ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
out:
  drover_live_free(l);
  json_decref(tags);
  json_decref(sg);
  free(status);
  free(dname);
  free(tagname);
  return rc;
}

static drover_code parse_set(const xmlNode *set, int keep_gone, drover_live_list *out,
                             drover_error *err)
{
  xmlNode *it;
  drover_code rc = DROVER_OK;

  for(it = set ? aws_xml_child(set, "item") : NULL; it && !rc; it = aws_xml_next(it)) {
    drover_live *l = NULL;
    rc = parse_one(it, &l, err);
    if(rc)
      break;
    /* Terminated instances stay listed for about an hour; they are gone
     * for drover, and so are those on their way there. */
    if(!keep_gone &&
       (!strcmp(l->status, "terminated") || !strcmp(l->status, "shutting-down"))) {
      drover_live_free(l);
      continue;
    }
    rc = drover_live_list_push(out, l);
    if(rc)
      rc = ec2_fail(err, rc, NULL, "out of memory");
  }
  return rc;
}

drover_code ec2_parse_instances(xmlDoc *doc, int keep_gone, drover_live_list *out,
                                char **next, drover_error *err)
{
  xmlNode *root = aws_xml_root(doc, NULL), *set, *r;
  drover_code rc = DROVER_OK;

  *next = NULL;
  if(!root)
    return ec2_fail(err, DROVER_E_PROVIDER, NULL, "empty answer");
  /* RunInstancesResponse holds one reservation's instancesSet directly. */
  set = aws_xml_child(root, "instancesSet");
  if(set)
    return parse_set(set, keep_gone, out, err);
  set = aws_xml_child(root, "reservationSet");
  if(!set)
    return ec2_fail(err, DROVER_E_PROVIDER, NULL,
                    "answer has neither reservationSet nor instancesSet");
  for(r = aws_xml_child(set, "item"); r && !rc; r = aws_xml_next(r))
    rc = parse_set(aws_xml_child(r, "instancesSet"), keep_gone, out, err);
  if(!rc) {
    *next = aws_xml_text(root, "nextToken");
    if(*next && !**next) {
      free(*next);
      *next = NULL;
    }
  }
  return rc;
}

drover_code ec2_parse_volume_sizes(xmlDoc *doc, json_t *sizes, char **next,
                                   drover_error *err)
{
  xmlNode *root = aws_xml_root(doc, NULL), *set, *v;

  *next = NULL;
  set = root ? aws_xml_child(root, "volumeSet") : NULL;
  if(!set)
    return ec2_fail(err, DROVER_E_PROVIDER, NULL, "answer has no volumeSet");
  for(v = aws_xml_child(set, "item"); v; v = aws_xml_next(v)) {
    xmlNode *att = aws_xml_child(v, "attachmentSet"), *a;
    char *size = aws_xml_text(v, "size");
    for(a = att ? aws_xml_child(att, "item") : NULL; a && size; a = aws_xml_next(a)) {
      char *id = aws_xml_text(a, "instanceId"), *dev = aws_xml_text(a, "device"), *key = NULL;
      int bad = 0;
      if(id && dev) {
        if(asprintf(&key, "%s\n%s", id, dev) < 0)
          key = NULL;
        bad = !key || json_object_set_new(sizes, key, json_integer(atoll(size)));
      }
      free(id);
      free(dev);
      free(key);
      if(bad) {
        free(size);
        return ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
      }
    }
    free(size);
  }
  *next = aws_xml_text(root, "nextToken");
  if(*next && !**next) {
    free(*next);
    *next = NULL;
  }
  return DROVER_OK;
}
