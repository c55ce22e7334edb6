/* ec2_parse.c - EC2 answers into live objects. Pure (no I/O), so the unit
 * tests check them against the API Reference's examples. Elements are
 * matched by local name (aws_xml.c), whatever the namespace. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* The nextToken of root (owned), NULL when absent or empty. */
static char *next_token(const xmlNode *root)
{
  char *t = aws_xml_text(root, "nextToken");

  if(t && !*t) {
    free(t);
    t = NULL;
  }
  return t;
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

/* Reads item's tagSet: labels into l, the rest into tags. *dname (caller
 * frees) gets drover:name when there is one; a Name tag equal to it is
 * drover's, not the user's. 0, or -1 on allocation failure. */
static int read_tags(const xmlNode *item, drover_live *l, json_t *tags, char **dname)
{
  xmlNode *set = aws_xml_child(item, "tagSet"), *n;
  char *tagname = NULL;
  int bad = 0;

  *dname = NULL;
  for(n = set ? aws_xml_child(set, "item") : NULL; n && !bad; n = aws_xml_next(n)) {
    char *k = aws_xml_text(n, "key"), *v = aws_xml_text(n, "value");
    if(!k) {
      free(v);
      continue;
    }
    if(!v)
      v = strdup("");
    if(v && !strcmp(k, EC2_TAG_NAME) && !*dname && !(*dname = strdup(v)))
      bad = 1;
    if(v && !strcmp(k, "Name") && !tagname && !(tagname = strdup(v)))
      bad = 1;
    bad |= !v || take_tag(l, tags, k, v);
    free(k);
  }
  if(*dname && tagname && !strcmp(*dname, tagname))
    json_object_del(tags, "Name");
  free(tagname);
  return bad ? -1 : 0;
}

/* One instancesSet/item. *out owned by the caller. */
static drover_code parse_one(const xmlNode *it, drover_live **out, drover_error *err)
{
  drover_live *l = drover_live_new();
  xmlNode *n, *state = aws_xml_child(it, "instanceState"), *groups, *place;
  json_t *tags = json_object(), *sg = json_array(), *p;
  char *status = NULL, *dname = NULL;
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
  if(read_tags(it, l, tags, &dname))
    goto nomem;
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
    *next = next_token(root);
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
  *next = next_token(root);
  return DROVER_OK;
}

/* One volumeSet/item. *out owned by the caller; NULL for a root volume
 * (aws.instance's) or a volume on its way out. */
static drover_code parse_volume(const xmlNode *it, drover_live **out, drover_error *err)
{
  drover_live *l = drover_live_new();
  json_t *tags = json_object(), *p;
  xmlNode *att = aws_xml_child(it, "attachmentSet"), *a;
  char *dname = NULL, *size = NULL, *inst = NULL, *dev = NULL, *root = NULL;
  char *restore = NULL;
  drover_code rc = DROVER_OK;

  *out = NULL;
  if(!l || !tags)
    goto nomem;
  l->name = aws_xml_text(it, "volumeId");
  l->status = aws_xml_text(it, "status");
  if(!l->name || !l->status) {
    rc = ec2_fail(err, DROVER_E_PROVIDER, NULL, "a volume in the answer has no volumeId or status");
    goto out;
  }
  if(read_tags(it, l, tags, &dname))
    goto nomem;
  if(!strcmp(l->status, "deleting") || !strcmp(l->status, "deleted"))
    goto out;
  {
    /* read_tags drops drover's own tags; the root marker and a restore's
     * record (ec2_restore.c) are looked up here. */
    xmlNode *set = aws_xml_child(it, "tagSet"), *n;
    for(n = set ? aws_xml_child(set, "item") : NULL; n && !root; n = aws_xml_next(n)) {
      char *k = aws_xml_text(n, "key");
      if(k && !strcmp(k, EC2_TAG_ROOT))
        root = k;
      else {
        if(k && !strcmp(k, EC2_TAG_RESTORE) && !restore && !(restore = aws_xml_text(n, "value")))
          restore = strdup("");
        free(k);
      }
    }
    if(root)
      goto out;
  }
  a = att ? aws_xml_child(att, "item") : NULL;
  if(a) {
    inst = aws_xml_text(a, "instanceId");
    dev = aws_xml_text(a, "device");
  }
  size = aws_xml_text(it, "size");
  p = l->properties;
  if(set_new(p, "size", json_integer(size ? atoll(size) : 0)) ||
     set_new(p, "type", text_json(it, "volumeType")) ||
     set_new(p, "zone", text_json(it, "availabilityZone")) ||
     set_new(p, "instance", json_string(inst ? inst : "")) ||
     set_new(p, "device", json_string(dev ? dev : "")) ||
     set_new(p, "tags", json_incref(tags)) ||
     set_new(l->attributes, "id", json_string(l->name)) ||
     set_new(l->attributes, "name", json_string(dname ? dname : l->name)) ||
     set_new(l->attributes, "status", json_string(l->status)) ||
     set_new(l->attributes, "attachment", a ? text_json(a, "status") : json_string("")) ||
     (restore && set_new(l->attributes, "restore", json_string(restore))))
    goto nomem;
  *out = l;
  l = NULL;
  goto out;
nomem:
  rc = ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
out:
  drover_live_free(l);
  json_decref(tags);
  free(dname);
  free(size);
  free(inst);
  free(dev);
  free(root);
  free(restore);
  return rc;
}

drover_code ec2_parse_volumes(xmlDoc *doc, drover_live_list *out, char **next,
                              drover_error *err)
{
  xmlNode *root = aws_xml_root(doc, NULL), *set, *v;
  drover_code rc = DROVER_OK;

  *next = NULL;
  set = root ? aws_xml_child(root, "volumeSet") : NULL;
  if(!set && root && aws_xml_child(root, "volumeId"))
    set = NULL;                 /* CreateVolume answers with one volume, no set */
  else if(!set)
    return ec2_fail(err, DROVER_E_PROVIDER, NULL, "answer has no volumeSet");
  for(v = set ? aws_xml_child(set, "item") : root; v && !rc; v = set ? aws_xml_next(v) : NULL) {
    drover_live *l = NULL;
    rc = parse_volume(v, &l, err);
    if(!rc && l && drover_live_list_push(out, l))
      rc = ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  }
  if(!rc)
    *next = next_token(root);
  return rc;
}

/* "2026-11-30T18:00:00.000Z" as Unix seconds; 0 when malformed. */
static long long utc_seconds(const char *s)
{
  struct tm tm;

  memset(&tm, 0, sizeof(tm));
  if(!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
    return 0;
  return (long long)timegm(&tm);
}

/* Fills l from a set item that keeps every tag as it is in all too
 * (snapshots, placement groups): name and status from the elements id
 * and state, labels and user tags from the tagSet (read_tags). 0, or -1
 * on allocation failure or a missing element. */
static int tagged_item(const xmlNode *it, const char *id, const char *state, drover_live *l,
                       json_t *tags, json_t *all, char **dname)
{
  xmlNode *ts = aws_xml_child(it, "tagSet"), *n;
  int bad;

  l->name = aws_xml_text(it, id);
  l->status = aws_xml_text(it, state);
  bad = !l->name || !l->status;
  for(n = ts ? aws_xml_child(ts, "item") : NULL; n && !bad; n = aws_xml_next(n)) {
    char *k = aws_xml_text(n, "key"), *v = aws_xml_text(n, "value");
    if(k)
      bad = json_object_set_new(all, k, json_string(v ? v : ""));
    free(k);
    free(v);
  }
  return bad || read_tags(it, l, tags, dname) ? -1 : 0;
}

/* Appends l to out, or frees it when bad (an allocation failed). */
static drover_code keep_item(drover_live_list *out, drover_live *l, int bad,
                             drover_error *err)
{
  if(bad)
    drover_live_free(l);
  if(bad || drover_live_list_push(out, l))
    return ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  return DROVER_OK;
}

drover_code ec2_parse_snapshots(xmlDoc *doc, drover_live_list *out, char **next,
                                drover_error *err)
{
  xmlNode *root = aws_xml_root(doc, NULL), *set, *it;
  drover_code rc = DROVER_OK;

  *next = NULL;
  set = root ? aws_xml_child(root, "snapshotSet") : NULL;
  if(!set)
    return ec2_fail(err, DROVER_E_PROVIDER, NULL, "answer has no snapshotSet");
  for(it = aws_xml_child(set, "item"); it && !rc; it = aws_xml_next(it)) {
    drover_live *l = drover_live_new();
    json_t *tags = json_object(), *all = json_object();
    char *dname = NULL, *start = aws_xml_text(it, "startTime");
    /* Every tag as it is too, for backups' drover:backup.* labels. */
    int bad = !l || !tags || !all ||
              tagged_item(it, "snapshotId", "status", l, tags, all, &dname) ||
              set_new(l->properties, "volume", text_json(it, "volumeId")) ||
              set_new(l->properties, "description", text_json(it, "description")) ||
              set_new(l->properties, "tags", json_incref(tags)) ||
              set_new(l->attributes, "id", json_string(l->name)) ||
              set_new(l->attributes, "name", json_string(dname ? dname : l->name)) ||
              set_new(l->attributes, "status", json_string(l->status)) ||
              set_new(l->attributes, "created", json_integer(utc_seconds(start))) ||
              set_new(l->attributes, "all_tags", json_incref(all));
    json_decref(tags);
    json_decref(all);
    free(dname);
    free(start);
    rc = keep_item(out, l, bad, err);
  }
  if(!rc)
    *next = next_token(root);
  return rc;
}

drover_code ec2_parse_placement_groups(xmlDoc *doc, drover_live_list *out,
                                       drover_error *err)
{
  xmlNode *root = aws_xml_root(doc, NULL), *set, *it;
  drover_code rc = DROVER_OK;

  set = root ? aws_xml_child(root, "placementGroupSet") : NULL;
  if(!set)
    return ec2_fail(err, DROVER_E_PROVIDER, NULL, "answer has no placementGroupSet");
  for(it = aws_xml_child(set, "item"); it && !rc; it = aws_xml_next(it)) {
    drover_live *l = drover_live_new();
    json_t *tags = json_object(), *all = json_object();
    char *dname = NULL;
    int bad = !l || !tags || !all ||
              tagged_item(it, "groupName", "state", l, tags, all, &dname) ||
              set_new(l->attributes, "group_id", text_json(it, "groupId")) ||
              set_new(l->attributes, "name", json_string(l->name)) ||
              set_new(l->attributes, "all_tags", json_incref(all));
    json_decref(tags);
    json_decref(all);
    free(dname);
    rc = keep_item(out, l, bad, err);
  }
  return rc;
}

/* --------------------------------------------------------------------------
 * Instance states by ID (the batched terminate and the shared waits)
 */

static int by_id(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **ec2_state_index(const drover_live_list *list)
{
  const char **ix = calloc(list->count ? 2 * list->count : 1, sizeof(*ix));
  size_t k;

  if(!ix)
    return NULL;
  for(k = 0; k < list->count; k++) {
    ix[2 * k] = list->items[k]->name;
    ix[2 * k + 1] = list->items[k]->status ? list->items[k]->status : "unknown";
  }
  qsort(ix, list->count, 2 * sizeof(*ix), by_id);
  return ix;
}

const char *ec2_state_find(const char **index, const drover_live_list *list, const char *id)
{
  const char **hit = bsearch(&id, index, list->count, 2 * sizeof(*index), by_id);

  return hit ? hit[1] : NULL;
}
