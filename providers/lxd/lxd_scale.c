/* lxd_scale.c - scale.policy, served by the LXD provider that holds its
 * target, recorded like backup.policy (lxd_policy.c) as an unused profile
 * of kind "scale.policy"; and label_set, which keeps what a run decided
 * in config "user.drover.<key>" of a record, instance or profile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lxd.h"

static const drover_prop scale_props[] = {
  {"target", DROVER_T_STRING, DROVER_PROP_REQUIRED, NULL, NULL,
   "the resource of this stack (with a count) whose count the policy sets"},
  {"timezone", DROVER_T_STRING, 0, "\"UTC\"", NULL,
   "IANA zone the windows are read in"},
  {"schedule", DROVER_T_OBJECT_ARRAY, 0, NULL, NULL,
   "windows {name, when (5-field cron of the minutes covered), count}; first match wins"},
  {"default", DROVER_T_INTEGER, DROVER_PROP_REQUIRED, NULL, NULL,
   "the count when no window matches"},
  {"queue", DROVER_T_OBJECT, 0, NULL, NULL,
   "{partition, jobs_per_instance}: pending Slurm jobs per instance"},
  {"min", DROVER_T_INTEGER, 0, "0", NULL, "lowest count"},
  {"max", DROVER_T_INTEGER, DROVER_PROP_REQUIRED, NULL, NULL, "highest count"},
  {"cooldown", DROVER_T_ANY, 0, NULL, NULL,
   "seconds or a duration (\"10m\") after a change before the next"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

static const drover_rule scale_rules[] = {
  {"min", DROVER_RULE_MIN | DROVER_RULE_MAX, 0, 100000, NULL, NULL},
  {"max", DROVER_RULE_MIN | DROVER_RULE_MAX, 0, 100000, NULL, NULL},
  {"default", DROVER_RULE_MIN | DROVER_RULE_MAX, 0, 100000, NULL, NULL},
  {"target", DROVER_RULE_NONEMPTY, 0, 0, NULL, NULL},
  {NULL, 0, 0, 0, NULL, NULL}
};

static const char *const scale_exports[] = {NULL};

const drover_rtype lxd_scale_type = {
  "scale.policy", scale_props, 2,
  "a scale policy: the count of a resource by schedule and queue (doc/scale.md)",
  scale_exports, scale_rules, lxd_name_object, 0
};

static drover_code scale_list(lxd_state *st, const char *stack, drover_live_list *out,
                              drover_error *err)
{
  return lxd_record_list(st, LXD_KIND_SCALE, stack, out, err);
}

static drover_code scale_create(lxd_state *st, const drover_res_req *req,
                                drover_live **out, drover_error *err)
{
  return lxd_record_create(st, LXD_KIND_SCALE, req, out, err);
}

static drover_code scale_update(lxd_state *st, const drover_res_req *req,
                                const drover_live *cur, drover_live **out,
                                drover_error *err)
{
  return lxd_record_update(st, LXD_KIND_SCALE, req, cur, out, err);
}

static drover_code scale_read(lxd_state *st, const char *name, drover_live **out,
                              drover_error *err)
{
  return lxd_record_read(st, LXD_KIND_SCALE, name, out, err);
}

static drover_code scale_del(lxd_state *st, const drover_live *cur, double deadline,
                             drover_error *err)
{
  return lxd_profile_ops.del(st, cur, deadline, err);
}

const lxd_type_ops lxd_scale_ops = {
  scale_list, scale_create, scale_update, scale_del, scale_read, NULL
};

/* --------------------------------------------------------------------------
 * Run labels
 */

/* The ownership labels, which label_set never touches. */
static int ownership_key(const char *k)
{
  static const char *const own[] = {DROVER_LABEL_STACK, DROVER_LABEL_ADDRESS,
                                    DROVER_LABEL_HASH, DROVER_LABEL_VERSION,
                                    DROVER_LABEL_DEPS, DROVER_LABEL_SENSITIVE, "image"};
  size_t i;

  for(i = 0; i < sizeof(own) / sizeof(own[0]); i++)
    if(!strcmp(k, own[i]))
      return 1;
  return 0;
}

/* [a-z_], 1..32 bytes. */
static int key_ok(const char *k)
{
  size_t i;

  for(i = 0; k && k[i]; i++)
    if(!((k[i] >= 'a' && k[i] <= 'z') || k[i] == '_'))
      return 0;
  return k && i > 0 && i <= 32;
}

int lxd_labels_to_attributes(json_t *attributes, const json_t *obj)
{
  const json_t *cfg = json_object_get(obj, "config");
  size_t pl = strlen(LXD_LABEL_PREFIX);
  const char *key;
  json_t *v;
  char name[64];

  json_object_foreach((json_t *)cfg, key, v) {
    const char *k = key + pl;
    if(strncmp(key, LXD_LABEL_PREFIX, pl) || !key_ok(k) || ownership_key(k) ||
       !json_is_string(v))
      continue;
    snprintf(name, sizeof(name), "label_%s", k);
    if(json_object_set(attributes, name, v))
      return -1;
  }
  return 0;
}

int lxd_attributes_to_labels(json_t *config, const json_t *attributes)
{
  const char *key;
  json_t *v;
  char name[64];

  json_object_foreach((json_t *)attributes, key, v) {
    if(strncmp(key, "label_", 6) || !key_ok(key + 6) || ownership_key(key + 6) ||
       !json_is_string(v))
      continue;
    snprintf(name, sizeof(name), LXD_LABEL_PREFIX "%s", key + 6);
    if(json_object_set(config, name, v))
      return -1;
  }
  return 0;
}

drover_code lxd_label_set(void *state, const drover_rtype *type, const char *name,
                          const char *key, const char *text, drover_error *err)
{
  lxd_state *st = state;
  char label[64];
  char *path;
  json_t *body;
  drover_code rc;

  if(!key_ok(key) || ownership_key(key) || !text || strlen(text) > 4096 || !name)
    return lxd_fail(err, DROVER_E_ARG, name, "label_set: bad label %s", key ? key : "");
  if(type == &lxd_volume_type)
    return lxd_fail(err, DROVER_E_UNSUPPORTED, name, "volumes take no run labels");
  snprintf(label, sizeof(label), LXD_LABEL_PREFIX "%s", key);
  path = lxd_name_path(st, type == &lxd_instance_type ? "/1.0/instances/" : "/1.0/profiles/",
                       name, NULL);
  /* PATCH merges config keys: the properties and other labels stay. */
  body = json_pack("{s:{s:s}}", "config", label, text);
  rc = path && body ? lxd_call_wait(st, "PATCH", path, NULL, body, name,
                                    lxd_deadline(st, 0), err)
                    : lxd_fail(err, DROVER_E_NOMEM, name, "out of memory");
  json_decref(body);
  free(path);
  return rc;
}
