/* ec2_form_volume.c - the CreateVolume requests of a restore and of a
 * verify drill (ec2_restore.c), built without I/O so the unit tests
 * (tests/check_ec2_restore.c) check them against the API Reference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ec2.h"

static const char *pstr(const drover_live *l, const char *key)
{
  const char *v = json_string_value(json_object_get(l->properties, key));
  return v ? v : "";
}

static void tag(ec2_form *f, unsigned *n, const char *key, const char *value)
{
  ++*n;
  ec2_form_addf(f, key, "TagSpecification.1.Tag.%u.Key", *n);
  ec2_form_addf(f, value, "TagSpecification.1.Tag.%u.Value", *n);
}

void ec2_form_restore(ec2_form *f, const drover_live *old, const char *snap_id,
                      const char *snapshot)
{
  const char *name = json_string_value(json_object_get(old->attributes, "name"));
  drover_res_req req;
  char size[32], *rec = NULL;
  unsigned n = 0;

  memset(&req, 0, sizeof(req));
  req.stack = old->stack;
  req.address = old->address;
  req.hash = old->hash;
  req.deps = old->deps;
  req.sensitive = old->sensitive;
  /* The display name, when it has one besides its ID. */
  req.name = name && strcmp(name, old->name) ? name : NULL;
  if(asprintf(&rec, "%s %s %s %s", old->name, snapshot,
              *pstr(old, "instance") ? pstr(old, "instance") : "-",
              *pstr(old, "device") ? pstr(old, "device") : "-") < 0)
    rec = NULL;
  /* The old size: at least the snapshot's (EBS volumes only grow), and
   * what the template says, so the next plan shows no change. */
  snprintf(size, sizeof(size), "%lld",
           (long long)json_integer_value(json_object_get(old->properties, "size")));
  ec2_form_init(f, "CreateVolume");
  ec2_form_add(f, "AvailabilityZone", pstr(old, "zone"));
  ec2_form_add(f, "SnapshotId", snap_id);
  ec2_form_add(f, "Size", size);
  ec2_form_add(f, "VolumeType", pstr(old, "type"));
  ec2_form_add(f, "TagSpecification.1.ResourceType", "volume");
  ec2_form_tags(f, "TagSpecification.1.", &n, &req, json_object_get(old->properties, "tags"),
                req.name != NULL);
  tag(f, &n, EC2_TAG_RESTORE_FROM, old->name);
  tag(f, &n, EC2_TAG_RESTORE, rec ? rec : "");
  if(!rec)
    f->oom = 1;
  free(rec);
}

void ec2_form_clone(ec2_form *f, const drover_live *src, const char *snap_id,
                    const char *token, const json_t *labels, const char *name)
{
  unsigned n = 0;
  const char *k;
  json_t *v;

  ec2_form_init(f, "CreateVolume");
  ec2_form_add(f, "AvailabilityZone", pstr(src, "zone"));
  ec2_form_add(f, "SnapshotId", snap_id);
  ec2_form_add(f, "VolumeType", pstr(src, "type"));
  ec2_form_add(f, "ClientToken", token);
  ec2_form_add(f, "TagSpecification.1.ResourceType", "volume");
  json_object_foreach((json_t *)labels, k, v) {
    const char *text = json_string_value(v);
    char *key = NULL;
    if(!text || !*text)
      continue; /* an empty label is no label, as ec2_form_tags does */
    if(asprintf(&key, EC2_TAG_PREFIX "%s", k) < 0) {
      key = NULL;
      f->oom = 1;
    }
    tag(f, &n, key ? key : "", text);
    free(key);
  }
  /* The engine deletes it by this name (del on aws.volume). */
  tag(f, &n, EC2_TAG_NAME, name);
  tag(f, &n, "Name", name);
}
