/* lxd_object.c - what instances, profiles and volumes share: labels in
 * config keys, and the normalisation of config maps. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lxd.h"

/* Keys an update carries over from the live config: LXD's own, and the
 * backup labels (lxd_snapshot.c) that let a removed policy find the
 * instances holding its snapshots. */
static int is_server_key(const char *key)
{
  return !strncmp(key, "volatile.", 9) || !strncmp(key, "image.", 6) ||
         !strncmp(key, LXD_BACKUP_PREFIX, strlen(LXD_BACKUP_PREFIX));
}

static int is_label_key(const char *key)
{
  return !strncmp(key, LXD_LABEL_PREFIX, strlen(LXD_LABEL_PREFIX));
}

int lxd_run_label(const char *key)
{
  static const char *const own[] = {DROVER_LABEL_STACK, DROVER_LABEL_ADDRESS,
                                    DROVER_LABEL_HASH, DROVER_LABEL_VERSION,
                                    DROVER_LABEL_DEPS, DROVER_LABEL_SENSITIVE, "image"};
  const char *k = key + strlen(LXD_LABEL_PREFIX);
  size_t i;

  if(!is_label_key(key))
    return 0;
  for(i = 0; k[i]; i++)
    if(!((k[i] >= 'a' && k[i] <= 'z') || k[i] == '_'))
      return 0;
  if(i == 0 || i > 32)
    return 0;
  for(i = 0; i < sizeof(own) / sizeof(own[0]); i++)
    if(!strcmp(k, own[i]))
      return 0;
  return 1;
}

int lxd_set(json_t *obj, const char *key, json_t *value)
{
  return value ? json_object_set_new(obj, key, value) : -1;
}

/* New reference. */
json_t *lxd_obj_or_empty(const json_t *src)
{
  return json_is_object(src) ? json_deep_copy(src) : json_object();
}

const char *lxd_prop_str(const json_t *props, const char *key)
{
  return json_string_value(json_object_get(props, key));
}

/* Caller frees. */
char *lxd_name_path(const lxd_state *st, const char *prefix, const char *name,
                    const char *suffix)
{
  char *n = lxd_esc(name), *path = NULL;

  if(n)
    path = lxd_path(st, "%s%s%s", prefix, n, suffix ? suffix : "");
  free(n);
  return path;
}

/* *obj new reference, *etag owned by the caller. */
drover_code lxd_get(lxd_state *st, const char *path, const char *address,
                    json_t **obj, char **etag, drover_error *err)
{
  lxd_result res;
  drover_code rc;

  *obj = NULL;
  if(etag)
    *etag = NULL;
  if(!path)
    return lxd_fail(err, DROVER_E_NOMEM, address, "out of memory");
  rc = lxd_call(st, "GET", path, NULL, NULL, address, LXD_ALLOW_404 | LXD_META_OBJECT,
                &res, err);
  if(!rc && res.status != 404) {
    *obj = res.meta;
    res.meta = NULL;
    if(etag) {
      *etag = res.etag;
      res.etag = NULL;
    }
  }
  lxd_result_free(&res);
  return rc;
}

/* Appends to out (which owns what it holds). */
drover_code lxd_list_owned(lxd_state *st, const char *path, const char *stack,
                           unsigned allow, lxd_live_fn fn, const void *ctx,
                           drover_live_list *out, drover_error *err)
{
  lxd_result res;
  drover_code rc;
  size_t i;
  json_t *obj;

  if(!path)
    return lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  rc = lxd_call(st, "GET", path, NULL, NULL, NULL, allow | LXD_META_ARRAY, &res, err);
  if(rc || res.status == 404)
    goto out;
  json_array_foreach(res.meta, i, obj) {
    drover_live *l;
    if(!json_is_object(obj)) {
      /* Skipping it could hide an owned object: refuse the listing. */
      rc = lxd_fail(err, DROVER_E_PROVIDER, NULL, "GET %s: item %zu of the listing "
                    "is not an object", path, i);
      goto out;
    }
    if(!lxd_owned(obj, stack))
      continue;
    l = NULL;
    rc = fn(&l, obj, ctx, NULL, err);
    if(!rc && !l)
      continue; /* fn says: not of this type */
    if(!rc && (rc = drover_live_list_push(out, l)) != DROVER_OK)
      lxd_fail(err, rc, NULL, "out of memory");
    if(rc)
      goto out;
  }
out:
  lxd_result_free(&res);
  return rc;
}

/* New reference in *out. */
drover_code lxd_config_build(json_t **out, const drover_res_req *req,
                             const json_t *desired, const json_t *cur_config,
                             const char *image, drover_error *err)
{
  json_t *cfg = json_object();
  const char *key;
  json_t *v;
  drover_code rc = DROVER_OK;

  *out = NULL;
  if(!cfg)
    goto nomem;
  json_object_foreach((json_t *)desired, key, v) {
    if(is_label_key(key))
      continue; /* drover's own keys are written below, never by a template */
    if(json_is_string(v)) {
      if(lxd_set(cfg, key, json_incref(v)))
        goto nomem;
    }
    else if(json_is_integer(v) || json_is_real(v) || json_is_boolean(v)) {
      char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
      if(!text || lxd_set(cfg, key, json_string(text))) {
        free(text);
        goto nomem;
      }
      free(text);
    }
    else {
      rc = lxd_fail(err, DROVER_E_PROVIDER, req->address,
                    "config key \"%s\" must be a string", key);
      goto out;
    }
  }
  /* Server keys and run labels (lxd_label.c) are not the template's: an
   * update keeps them. */
  json_object_foreach((json_t *)cur_config, key, v) {
    if((is_server_key(key) || lxd_run_label(key)) && lxd_set(cfg, key, json_incref(v)))
      goto nomem;
  }
  if((req->stack && lxd_set(cfg, LXD_LABEL(DROVER_LABEL_STACK), json_string(req->stack))) ||
     (req->address &&
      lxd_set(cfg, LXD_LABEL(DROVER_LABEL_ADDRESS), json_string(req->address))) ||
     (req->hash && *req->hash &&
      lxd_set(cfg, LXD_LABEL(DROVER_LABEL_HASH), json_string(req->hash))) ||
     lxd_set(cfg, LXD_LABEL(DROVER_LABEL_VERSION), json_string(DROVER_VERSION)) ||
     /* An empty value would unset the key in LXD: leave "no deps" absent. */
     (req->deps && *req->deps &&
      lxd_set(cfg, LXD_LABEL(DROVER_LABEL_DEPS), json_string(req->deps))) ||
     (req->sensitive && *req->sensitive &&
      lxd_set(cfg, LXD_LABEL(DROVER_LABEL_SENSITIVE), json_string(req->sensitive))) ||
     (image && lxd_set(cfg, LXD_LABEL_IMAGE, json_string(image))))
    goto nomem;
  *out = cfg;
  cfg = NULL;
  goto out;
nomem:
  rc = lxd_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
out:
  json_decref(cfg);
  return rc;
}

/* New reference. */
json_t *lxd_config_clean(const json_t *config)
{
  json_t *out = json_object();
  const char *key;
  json_t *v;

  if(!out)
    return NULL;
  json_object_foreach((json_t *)config, key, v) {
    if(is_label_key(key) || is_server_key(key))
      continue;
    if(json_object_set(out, key, v)) {
      json_decref(out);
      return NULL;
    }
  }
  return out;
}

int lxd_owned(const json_t *obj, const char *stack)
{
  const char *s = json_string_value(
    json_object_get(json_object_get(obj, "config"), LXD_LABEL(DROVER_LABEL_STACK)));

  if(!s || !*s)
    return 0;
  return !stack || !strcmp(s, stack);
}

int lxd_owned_at(const json_t *obj, const char *stack, const char *address)
{
  const char *a = json_string_value(
    json_object_get(json_object_get(obj, "config"), LXD_LABEL(DROVER_LABEL_ADDRESS)));

  return stack && address && a && lxd_owned(obj, stack) && !strcmp(a, address);
}

static int dup_label(char **dst, const json_t *config, const char *key)
{
  const char *v = json_string_value(json_object_get(config, key));

  if(!v)
    return 0;
  *dst = strdup(v);
  return *dst ? 0 : -1;
}

/* *out owned by the caller: drover_live_free(). */
drover_code lxd_live_base(drover_live **out, const json_t *obj, const char *etag,
                          drover_error *err)
{
  drover_live *l = drover_live_new();
  const json_t *config = json_object_get(obj, "config");
  const char *name = json_string_value(json_object_get(obj, "name"));
  const char *status = json_string_value(json_object_get(obj, "status"));

  *out = NULL;
  if(!name) {
    drover_live_free(l);
    return lxd_fail(err, DROVER_E_PROVIDER, NULL, "object without a name in a listing");
  }
  if(!l || !(l->name = strdup(name)) ||
     dup_label(&l->address, config, LXD_LABEL(DROVER_LABEL_ADDRESS)) ||
     dup_label(&l->hash, config, LXD_LABEL(DROVER_LABEL_HASH)) ||
     dup_label(&l->deps, config, LXD_LABEL(DROVER_LABEL_DEPS)) ||
     dup_label(&l->stack, config, LXD_LABEL(DROVER_LABEL_STACK)) ||
     dup_label(&l->sensitive, config, LXD_LABEL(DROVER_LABEL_SENSITIVE)) ||
     (etag && !(l->etag = strdup(etag))) ||
     (status && !(l->status = strdup(status)))) {
    drover_live_free(l);
    return lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  }
  *out = l;
  return DROVER_OK;
}

/* --------------------------------------------------------------------------
 * Name rules (LXD's own, so validate finds what create would refuse)
 */

int lxd_name_instance(const char *name, char *why, size_t size)
{
  size_t n = strlen(name), i;

  if(n == 0 || n > 63) {
    snprintf(why, size, "must be 1 to 63 characters long, not %zu", n);
    return 1;
  }
  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    if(!(isalnum(c) && c < 0x80) && c != '-') {
      snprintf(why, size, "only ASCII letters, digits and '-' are allowed");
      return 1;
    }
  }
  if(!isalpha((unsigned char)name[0])) {
    snprintf(why, size, "must start with a letter");
    return 1;
  }
  if(name[n - 1] == '-') {
    snprintf(why, size, "must not end with '-'");
    return 1;
  }
  return 0;
}

int lxd_name_object(const char *name, char *why, size_t size)
{
  if(!*name) {
    snprintf(why, size, "must not be empty");
    return 1;
  }
  if(strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
    snprintf(why, size, "must not contain '/' or be \".\" or \"..\"");
    return 1;
  }
  return 0;
}

int lxd_labels_to_attributes(json_t *attributes, const json_t *obj)
{
  const json_t *cfg = json_object_get(obj, "config");
  size_t pl = strlen(LXD_LABEL_PREFIX);
  const char *key;
  json_t *v;
  char name[64];

  json_object_foreach((json_t *)cfg, key, v) {
    if(!lxd_run_label(key) || !json_is_string(v))
      continue;
    snprintf(name, sizeof(name), "label_%s", key + pl);
    if(json_object_set(attributes, name, v))
      return -1;
  }
  return 0;
}
