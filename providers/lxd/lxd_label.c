/* lxd_label.c - run labels (drover_provider.label_set): what a run
 * decided, kept in config "user.drover.<key>" of a policy record,
 * instance or profile, apart from the ownership labels, and read back as
 * "label_<key>" attributes (lxd_labels_to_attributes, lxd_object.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lxd.h"

drover_code lxd_label_set(void *state, const drover_rtype *type, const char *name,
                          const char *key, const char *text, drover_error *err)
{
  lxd_state *st = state;
  char label[64];
  char *path;
  json_t *body;
  drover_code rc;

  if(key && strlen(key) <= 32)
    snprintf(label, sizeof(label), LXD_LABEL_PREFIX "%s", key);
  if(!key || strlen(key) > 32 || !lxd_run_label(label) || !text || strlen(text) > 4096 ||
     !name)
    return lxd_fail(err, DROVER_E_ARG, name, "label_set: bad label %s", key ? key : "");
  if(type == &lxd_volume_type)
    return lxd_fail(err, DROVER_E_UNSUPPORTED, name, "volumes take no run labels");
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
