/* lxd_profile.c - lxd.profile. Profile calls are synchronous in LXD. */
#include <stdlib.h>
#include <string.h>
#include "lxd.h"

static const drover_prop prof_props[] = {
  {"name", DROVER_T_STRING, DROVER_PROP_FORCE_NEW, NULL, NULL,
   "profile name; default derived from stack and address"},
  {"config", DROVER_T_STRING_MAP, 0, "{}", NULL, "profile config keys"},
  {"devices", DROVER_T_OBJECT_MAP, 0, "{}", NULL, "profile devices"},
  {"description", DROVER_T_STRING, 0, "\"\"", NULL, "free text"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

static const char *const prof_exports[] = {NULL};

const drover_rtype lxd_profile_type = {
  "lxd.profile", prof_props, 0, "an LXD profile", prof_exports, NULL, lxd_name_object, 0
};

int lxd_is_policy(const json_t *obj)
{
  const char *k = json_string_value(json_object_get(json_object_get(obj, "config"),
                                                    LXD_KIND_KEY));
  return k && (!strcmp(k, LXD_KIND_POLICY) || !strcmp(k, LXD_KIND_SCALE) ||
               !strcmp(k, LXD_KIND_DRIFT));
}

/* *out owned by the caller. ctx unused (lxd_live_fn). */
static drover_code prof_live(drover_live **out, const json_t *obj, const void *ctx,
                             const char *etag, drover_error *err)
{
  drover_live *l = NULL;
  const char *desc = json_string_value(json_object_get(obj, "description"));
  drover_code rc;
  json_t *p;

  (void)ctx;
  *out = NULL;
  if(lxd_is_policy(obj))
    return DROVER_OK; /* a backup.policy record (lxd_policy.c), not a profile */
  rc = lxd_live_base(&l, obj, etag, err);
  if(rc)
    return rc;
  p = l->properties;
  if(lxd_set(p, "name", json_string(l->name)) ||
     lxd_set(p, "config", lxd_config_clean(json_object_get(obj, "config"))) ||
     lxd_set(p, "devices", lxd_obj_or_empty(json_object_get(obj, "devices"))) ||
     lxd_set(p, "description", json_string(desc ? desc : "")) ||
     json_object_update(l->attributes, p)) {
    drover_live_free(l);
    return lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  }
  *out = l;
  return DROVER_OK;
}

/* GET one profile; *obj (new reference) NULL when absent. */
static drover_code prof_get(lxd_state *st, const char *name, const char *address,
                            json_t **obj, char **etag, drover_error *err)
{
  char *path = lxd_name_path(st, "/1.0/profiles/", name, NULL);
  drover_code rc = lxd_get(st, path, address, obj, etag, err);

  free(path);
  return rc;
}

static drover_code prof_read(lxd_state *st, const char *name, drover_live **out,
                             drover_error *err)
{
  json_t *obj = NULL;
  char *etag = NULL;
  drover_code rc = prof_get(st, name, NULL, &obj, &etag, err);

  *out = NULL;
  if(!rc && !obj)
    rc = lxd_fail(err, DROVER_E_NOT_FOUND, NULL, "profile \"%s\" not found", name);
  if(!rc)
    rc = prof_live(out, obj, NULL, etag, err);
  json_decref(obj);
  free(etag);
  return rc;
}

/* The writable part of a profile from req, over cur_config's server keys.
 * New reference in *out. */
static drover_code prof_body(json_t **out, const drover_res_req *req,
                             const json_t *cur_config, int with_name, drover_error *err)
{
  const json_t *props = req->properties;
  const char *desc = lxd_prop_str(props, "description");
  json_t *config = NULL;
  drover_code rc;

  *out = NULL;
  rc = lxd_config_build(&config, req, json_object_get(props, "config"), cur_config,
                        NULL, err);
  if(rc)
    return rc;
  *out = json_pack("{s:o, s:o, s:s}", "config", config,
                   "devices", lxd_obj_or_empty(json_object_get(props, "devices")),
                   "description", desc ? desc : "");
  if(*out && with_name && lxd_set(*out, "name", json_string(req->name))) {
    json_decref(*out);
    *out = NULL;
  }
  if(!*out)
    return lxd_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
  return DROVER_OK;
}

static drover_code prof_put(lxd_state *st, const drover_res_req *req,
                            const json_t *obj, const char *etag, drover_live **out,
                            drover_error *err)
{
  json_t *body = NULL;
  char *path = lxd_name_path(st, "/1.0/profiles/", req->name, NULL);
  lxd_result res;
  drover_code rc;

  memset(&res, 0, sizeof(res));
  if(!path) {
    rc = lxd_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
    goto out;
  }
  rc = prof_body(&body, req, json_object_get(obj, "config"), 0, err);
  if(rc)
    goto out;
  rc = lxd_call(st, "PUT", path, req->if_match ? req->if_match : etag, body,
                req->address, 0, &res, err);
  rc = lxd_etag_race(rc, req, err);
  if(!rc)
    rc = prof_read(st, req->name, out, err);
out:
  lxd_result_free(&res);
  json_decref(body);
  free(path);
  return rc;
}

static drover_code prof_list(lxd_state *st, const char *stack, drover_live_list *out,
                             drover_error *err)
{
  /* One call; LXD 5.0 has no filter for profiles: lxd_list_owned selects. */
  char *path = lxd_path(st, "/1.0/profiles?recursion=1");
  drover_code rc = lxd_list_owned(st, path, stack, 0, prof_live, NULL, out, err);

  free(path);
  return rc;
}

static drover_code prof_get_req(lxd_state *st, const drover_res_req *req, json_t **obj,
                                char **etag, drover_error *err)
{
  return prof_get(st, req->name, req->address, obj, etag, err);
}

static const lxd_adopt_type prof_adopt = {"profile", prof_get_req, prof_put, NULL, 1};

/* *out owned by the caller. */
static drover_code prof_create(lxd_state *st, const drover_res_req *req,
                               drover_live **out, drover_error *err)
{
  json_t *body = NULL;
  char *path = lxd_path(st, "/1.0/profiles");
  drover_code rc;
  int created = 0;

  *out = NULL;
  if(!path) {
    rc = lxd_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
    goto out;
  }
  rc = prof_body(&body, req, NULL, 1, err);
  if(rc)
    goto out;
  rc = lxd_create_adopt(st, &prof_adopt, req, path, body, req->deadline, &created, out,
                        err);
  if(!rc && created)
    rc = prof_read(st, req->name, out, err);
out:
  json_decref(body);
  free(path);
  return rc;
}

static drover_code prof_update(lxd_state *st, const drover_res_req *req,
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
  rc = prof_get(st, r.name, req->address, &obj, &etag, err);
  if(!rc && !obj)
    rc = lxd_fail(err, DROVER_E_NOT_FOUND, req->address, "profile \"%s\" not found",
                  r.name);
  if(!rc)
    rc = prof_put(st, &r, obj, etag, out, err);
  json_decref(obj);
  free(etag);
  return rc;
}

static drover_code prof_del(lxd_state *st, const drover_live *cur, double deadline,
                            drover_error *err)
{
  const char *addr = cur->address ? cur->address : cur->name;
  char *path = lxd_name_path(st, "/1.0/profiles/", cur->name, NULL);
  lxd_result res;
  drover_code rc;
  drover_error local;

  (void)deadline;
  if(!path)
    return lxd_fail(err, DROVER_E_NOMEM, addr, "out of memory");
  drover_error_clear(&local);
  rc = lxd_call(st, "DELETE", path, NULL, NULL, addr, LXD_ALLOW_404, &res, &local);
  if(rc && strcasestr(local.text, "in use")) {
    /* LXD answers 500 "Profile is currently in use": permanent, and the
     * usual cause (a replace, which deletes before it creates) is not
     * obvious from LXD's words. */
    rc = lxd_fail(err, DROVER_E_PROVIDER, addr,
                  "profile \"%s\" is still used by an instance, so LXD refuses "
                  "to delete it. A replace deletes the old profile before the "
                  "instances using it are updated: rename a profile in two "
                  "applies (add the new one and move the instances to it, then "
                  "remove the old one)", cur->name);
  }
  else if(rc && err && !err->code)
    *err = local;
  lxd_result_free(&res);
  free(path);
  return rc;
}

const lxd_type_ops lxd_profile_ops = {
  prof_list, prof_create, prof_update, prof_del, prof_read, prof_live, NULL
};
