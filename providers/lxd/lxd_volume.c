/* lxd_volume.c - lxd.storage_volume: custom volumes in a storage pool.
 *
 * LXD 5.0 lists volumes per pool only, so a list is one call per pool
 * (one call with the usual single pool). The pool names are read once
 * per provider instance and cached.
 */
#include <stdlib.h>
#include <string.h>
#include "lxd.h"

static const char *const content_types[] = {"filesystem", "block", NULL};

static const drover_prop vol_props[] = {
  {"name", DROVER_T_STRING, DROVER_PROP_FORCE_NEW, NULL, NULL,
   "volume name; default derived from stack and address"},
  {"pool", DROVER_T_STRING, DROVER_PROP_FORCE_NEW, "\"default\"", NULL, "storage pool"},
  {"content_type", DROVER_T_STRING, DROVER_PROP_FORCE_NEW, "\"filesystem\"",
   content_types, "filesystem or block"},
  {"config", DROVER_T_STRING_MAP, 0, "{}", NULL, "volume config keys"},
  {"description", DROVER_T_STRING, 0, "\"\"", NULL, "free text"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

static const char *const vol_exports[] = {"location", NULL};

static const drover_rule vol_rules[] = {
  {"pool", DROVER_RULE_NONEMPTY, 0, 0, NULL, NULL},
  {NULL, 0, 0, 0, NULL, NULL}
};

const drover_rtype lxd_volume_type = {
  "lxd.storage_volume", vol_props, 0, "a custom LXD storage volume",
  vol_exports, vol_rules, lxd_name_object, 0
};

/* *out owned by the caller. ctx is the pool name (lxd_live_fn). */
static drover_code vol_live(drover_live **out, const json_t *obj, const void *ctx,
                            const char *etag, drover_error *err)
{
  const char *pool = ctx;
  drover_live *l = NULL;
  const char *desc = json_string_value(json_object_get(obj, "description"));
  const char *ct = json_string_value(json_object_get(obj, "content_type"));
  const char *loc = json_string_value(json_object_get(obj, "location"));
  drover_code rc = lxd_live_base(&l, obj, etag, err);
  json_t *p;

  if(rc)
    return rc;
  p = l->properties;
  if(lxd_set(p, "name", json_string(l->name)) ||
     lxd_set(p, "pool", json_string(pool)) ||
     lxd_set(p, "content_type", json_string(ct ? ct : "filesystem")) ||
     lxd_set(p, "config", lxd_config_clean(json_object_get(obj, "config"))) ||
     lxd_set(p, "description", json_string(desc ? desc : "")) ||
     json_object_update(l->attributes, p) ||
     lxd_set(l->attributes, "location", json_string(loc ? loc : ""))) {
    drover_live_free(l);
    return lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  }
  *out = l;
  return DROVER_OK;
}

/* Reads the pool names once. */
static drover_code vol_pools(lxd_state *st, drover_error *err)
{
  char *path = NULL;
  lxd_result res;
  drover_code rc = DROVER_OK;
  size_t i, n;
  json_t *v;

  memset(&res, 0, sizeof(res));
  pthread_mutex_lock(&st->lock);
  if(st->pools_known)
    goto out;
  path = lxd_path(st, "/1.0/storage-pools");
  if(!path) {
    rc = lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  rc = lxd_call(st, "GET", path, NULL, NULL, NULL, LXD_META_ARRAY, &res, err);
  if(rc)
    goto out;
  n = json_array_size(res.meta);
  st->pools = calloc(n + 1, sizeof(*st->pools));
  if(!st->pools) {
    rc = lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  json_array_foreach(res.meta, i, v) {
    const char *url = json_string_value(v), *slash;
    if(!url) {
      /* A pool left out would hide its volumes: refuse the listing. */
      rc = lxd_fail(err, DROVER_E_PROVIDER, NULL, "storage pool list: item %zu is not "
                    "a string", i);
      goto out;
    }
    slash = strrchr(url, '/');
    st->pools[st->npools] = strdup(slash ? slash + 1 : url);
    if(!st->pools[st->npools]) {
      rc = lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
      goto out;
    }
    st->npools++;
  }
  st->pools_known = 1;
out:
  if(rc && st->pools) {
    /* Not cached: the next call reads them again without leaking these. */
    for(i = 0; i < st->npools; i++)
      free(st->pools[i]);
    free(st->pools);
    st->pools = NULL;
    st->npools = 0;
  }
  pthread_mutex_unlock(&st->lock);
  lxd_result_free(&res);
  free(path);
  return rc;
}

/* "/1.0/storage-pools/<pool>/volumes/custom[/<name>]?project=..". Caller frees. */
static char *vol_path(lxd_state *st, const char *pool, const char *name)
{
  char *p = lxd_esc(pool), *n = name ? lxd_esc(name) : NULL, *path = NULL;

  if(p && (!name || n))
    path = lxd_path(st, "/1.0/storage-pools/%s/volumes/custom%s%s", p, n ? "/" : "",
                    n ? n : "");
  free(p);
  free(n);
  return path;
}

/* GET one volume; *obj (new reference) NULL when absent. */
static drover_code vol_get(lxd_state *st, const char *pool, const char *name,
                           const char *address, json_t **obj, char **etag,
                           drover_error *err)
{
  char *path = vol_path(st, pool, name);
  drover_code rc = lxd_get(st, path, address, obj, etag, err);

  free(path);
  return rc;
}

static drover_code vol_read_in(lxd_state *st, const char *pool, const char *name,
                               const char *address, drover_live **out, drover_error *err)
{
  json_t *obj = NULL;
  char *etag = NULL;
  drover_code rc = vol_get(st, pool, name, address, &obj, &etag, err);

  *out = NULL;
  if(!rc && !obj)
    rc = lxd_fail(err, DROVER_E_NOT_FOUND, address,
                  "storage volume \"%s\" not found in pool \"%s\"", name, pool);
  if(!rc)
    rc = vol_live(out, obj, pool, etag, err);
  json_decref(obj);
  free(etag);
  return rc;
}

static drover_code vol_list(lxd_state *st, const char *stack, drover_live_list *out,
                            drover_error *err)
{
  drover_code rc = vol_pools(st, err);
  size_t p;

  for(p = 0; !rc && p < st->npools; p++) {
    char *path = vol_path(st, st->pools[p], NULL);
    char *rec = path ? malloc(strlen(path) + 16) : NULL;

    if(rec) {
      /* path ends in "?project=..": recursion goes in front of it. */
      char *q = strchr(path, '?');
      sprintf(rec, "%.*s?recursion=1&%s", (int)(q - path), path, q + 1);
    }
    rc = lxd_list_owned(st, rec, stack, LXD_ALLOW_404, vol_live, st->pools[p], out, err);
    free(rec);
    free(path);
  }
  return rc;
}

static drover_code vol_read(lxd_state *st, const char *name, drover_live **out,
                            drover_error *err)
{
  drover_code rc = vol_pools(st, err);
  size_t p;

  *out = NULL;
  for(p = 0; !rc && p < st->npools; p++) {
    json_t *obj = NULL;
    char *etag = NULL;
    rc = vol_get(st, st->pools[p], name, NULL, &obj, &etag, err);
    if(!rc && obj)
      rc = vol_live(out, obj, st->pools[p], etag, err);
    json_decref(obj);
    free(etag);
    if(*out)
      return rc;
  }
  if(!rc)
    rc = lxd_fail(err, DROVER_E_NOT_FOUND, NULL, "storage volume \"%s\" not found", name);
  return rc;
}

static const char *req_pool(const drover_res_req *req)
{
  const char *pool = lxd_prop_str(req->properties, "pool");
  return pool && *pool ? pool : "default";
}

static drover_code vol_put(lxd_state *st, const drover_res_req *req, const json_t *obj,
                           const char *etag, drover_live **out, drover_error *err)
{
  const char *pool = req_pool(req);
  const char *desc = lxd_prop_str(req->properties, "description");
  char *path = vol_path(st, pool, req->name);
  json_t *config = NULL, *body = NULL;
  lxd_result res;
  drover_code rc;

  memset(&res, 0, sizeof(res));
  if(!path) {
    rc = lxd_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
    goto out;
  }
  rc = lxd_config_build(&config, req, json_object_get(req->properties, "config"),
                        json_object_get(obj, "config"), NULL, err);
  if(rc)
    goto out;
  body = json_pack("{s:O, s:s}", "config", config, "description", desc ? desc : "");
  if(!body) {
    rc = lxd_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
    goto out;
  }
  rc = lxd_call(st, "PUT", path, req->if_match ? req->if_match : etag, body,
                req->address, 0, &res, err);
  rc = lxd_etag_race(rc, req, err);
  if(!rc && res.op)
    rc = lxd_wait(st, res.op, lxd_deadline(st, req->deadline), req->address, 0, NULL, err);
  if(!rc)
    rc = vol_read_in(st, pool, req->name, req->address, out, err);
out:
  lxd_result_free(&res);
  json_decref(config);
  json_decref(body);
  free(path);
  return rc;
}

static drover_code vol_get_req(lxd_state *st, const drover_res_req *req, json_t **obj,
                               char **etag, drover_error *err)
{
  return vol_get(st, req_pool(req), req->name, req->address, obj, etag, err);
}

static const lxd_adopt_type vol_adopt = {"storage volume", vol_get_req, vol_put, req_pool,
                                         0};

/* *out owned by the caller. */
static drover_code vol_create(lxd_state *st, const drover_res_req *req,
                              drover_live **out, drover_error *err)
{
  const char *pool = req_pool(req);
  const char *desc = lxd_prop_str(req->properties, "description");
  const char *ct = lxd_prop_str(req->properties, "content_type");
  char *path = vol_path(st, pool, NULL);
  json_t *config = NULL, *body = NULL;
  drover_code rc;
  int created = 0;

  *out = NULL;
  if(!path) {
    rc = lxd_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
    goto out;
  }
  rc = lxd_config_build(&config, req, json_object_get(req->properties, "config"), NULL,
                        NULL, err);
  if(rc)
    goto out;
  body = json_pack("{s:s, s:s, s:O, s:s, s:s}", "name", req->name, "type", "custom",
                   "config", config, "description", desc ? desc : "",
                   "content_type", ct ? ct : "filesystem");
  if(!body) {
    rc = lxd_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
    goto out;
  }
  rc = lxd_create_adopt(st, &vol_adopt, req, path, body, req->deadline, &created, out,
                        err);
  if(!rc && created)
    rc = vol_read_in(st, pool, req->name, req->address, out, err);
out:
  json_decref(config);
  json_decref(body);
  free(path);
  return rc;
}

static drover_code vol_update(lxd_state *st, const drover_res_req *req,
                              const drover_live *cur, drover_live **out,
                              drover_error *err)
{
  json_t *obj = NULL;
  char *etag = NULL;
  drover_res_req r = *req;
  drover_code rc;

  *out = NULL;
  if(!r.name)
    r.name = cur->name;
  rc = vol_get(st, req_pool(&r), r.name, r.address, &obj, &etag, err);
  if(!rc && !obj)
    rc = lxd_fail(err, DROVER_E_NOT_FOUND, r.address,
                  "storage volume \"%s\" not found in pool \"%s\"", r.name, req_pool(&r));
  if(!rc)
    rc = vol_put(st, &r, obj, etag, out, err);
  json_decref(obj);
  free(etag);
  return rc;
}

static drover_code vol_del(lxd_state *st, const drover_live *cur, double deadline,
                           drover_error *err)
{
  const char *pool = lxd_prop_str(cur->properties, "pool");
  const char *addr = cur->address ? cur->address : cur->name;
  char *path = vol_path(st, pool ? pool : "default", cur->name);
  lxd_result res;
  drover_code rc;

  if(!path)
    return lxd_fail(err, DROVER_E_NOMEM, addr, "out of memory");
  rc = lxd_call(st, "DELETE", path, NULL, NULL, addr, LXD_ALLOW_404, &res, err);
  if(!rc && res.op)
    rc = lxd_wait(st, res.op, lxd_deadline(st, deadline), addr, 0, NULL, err);
  lxd_result_free(&res);
  free(path);
  return rc;
}

const lxd_type_ops lxd_volume_ops = {
  vol_list, vol_create, vol_update, vol_del, vol_read, vol_live, NULL
};
