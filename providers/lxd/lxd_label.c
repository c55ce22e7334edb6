/* lxd_label.c - run labels (drover_provider.label_set): what a run
 * decided, kept in config "user.drover.<key>" of a policy record,
 * instance or profile, apart from the ownership labels; and their
 * mapping to and from "label_<key>" attributes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lxd.h"

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
