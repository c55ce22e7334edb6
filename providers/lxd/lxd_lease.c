/* lxd_lease.c - the stack lease (drover_provider lock ops, doc/locks.md)
 * as a profile drover owns: "drover-lock-<stack>" in the provider's
 * project, the record in its config keys "user.drover_lock.<key>".
 *
 * A profile needs no storage, no network and no image, and LXD keeps
 * ETags for it: a GET returns one, a PUT with If-Match is refused with 412
 * once the profile changed. Creating it is itself a compare-and-swap (two
 * creators of one name: one wins, the other hears "already exists"). It
 * carries no user.drover.stack label, so lxd.profile never lists it as an
 * object of the stack. LXD's API does not promise to check If-Match on
 * DELETE, so delete compares the ETag first: the engine deletes only while
 * it holds the lease, when nobody else may write the record.
 */
#include <stdlib.h>
#include <string.h>
#include "lxd.h"

#define LOCK_PREFIX "drover-lock-"
#define LOCK_KEY "user.drover_lock."
#define LOCK_KIND "stack.lock"

static char *lock_name(const char *stack)
{
  size_t n = strlen(LOCK_PREFIX) + strlen(stack) + 1;
  char *s = malloc(n);

  if(s) {
    memcpy(s, LOCK_PREFIX, strlen(LOCK_PREFIX));
    memcpy(s + strlen(LOCK_PREFIX), stack, strlen(stack) + 1);
  }
  return s;
}

/* The profile's body for record (with its name when with_name). New
 * reference; NULL on OOM or a non-string value. */
static json_t *lock_body(const char *name, const json_t *record, int with_name)
{
  json_t *config = json_pack("{s:s}", LXD_KIND_KEY, LOCK_KIND), *body = NULL;
  const char *k;
  json_t *v;
  char key[128];

  if(!config)
    return NULL;
  json_object_foreach((json_t *)record, k, v) {
    if(!json_is_string(v) || strlen(LOCK_KEY) + strlen(k) >= sizeof(key))
      goto fail;
    memcpy(key, LOCK_KEY, strlen(LOCK_KEY));
    memcpy(key + strlen(LOCK_KEY), k, strlen(k) + 1);
    if(json_object_set(config, key, v))
      goto fail;
  }
  body = json_pack("{s:o, s:s, s:{}}", "config", config, "description",
                   "drover stack lock: do not edit (drover force-unlock ID)", "devices");
  config = NULL;
  if(body && with_name && json_object_set_new(body, "name", json_string(name))) {
    json_decref(body);
    body = NULL;
  }
  return body;
fail:
  json_decref(config);
  return NULL;
}

/* The record held in profile obj. New reference in *out; an error when
 * the profile of that name is not a drover lock. */
static drover_code lock_record(json_t **out, const json_t *obj, const char *name,
                               drover_error *err)
{
  const json_t *config = json_object_get(obj, "config");
  const char *kind = json_string_value(json_object_get(config, LXD_KIND_KEY));
  const char *k;
  json_t *v;

  *out = NULL;
  if(!kind || strcmp(kind, LOCK_KIND))
    return lxd_fail(err, DROVER_E_CONFIG, NULL, "profile \"%s\" exists but is not a "
                    "drover stack lock; rename or delete it", name);
  *out = json_object();
  if(!*out)
    return lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  json_object_foreach((json_t *)config, k, v) {
    if(strncmp(k, LOCK_KEY, strlen(LOCK_KEY)) || !json_is_string(v))
      continue;
    if(json_object_set(*out, k + strlen(LOCK_KEY), v)) {
      json_decref(*out);
      *out = NULL;
      return lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    }
  }
  return DROVER_OK;
}

/* GET the lock profile: *record and *etag (owned), or DROVER_E_NOT_FOUND. */
static drover_code lock_get(lxd_state *st, const char *name, json_t **record,
                            char **etag, drover_error *err)
{
  char *path = lxd_name_path(st, "/1.0/profiles/", name, NULL);
  json_t *obj = NULL;
  drover_code rc;

  *record = NULL;
  *etag = NULL;
  rc = lxd_get(st, path, NULL, &obj, etag, err);
  if(!rc && !obj)
    rc = DROVER_E_NOT_FOUND; /* the normal case: free; no error text */
  else if(!rc && !*etag)
    rc = lxd_fail(err, DROVER_E_PROVIDER, NULL, "profile \"%s\": LXD sent no ETag, "
                  "which the stack lock needs", name);
  if(!rc)
    rc = lock_record(record, obj, name, err);
  if(rc) {
    free(*etag);
    *etag = NULL;
  }
  json_decref(obj);
  free(path);
  return rc;
}

/* Whether a and b hold the same record. LXD drops config keys set to "",
 * so a missing member equals an empty one. */
static int same_record(const json_t *a, const json_t *b)
{
  const char *k;
  json_t *v;

  json_object_foreach((json_t *)a, k, v)
    if(strcmp(json_string_value(v) ? json_string_value(v) : "",
              json_string_value(json_object_get(b, k)) ?
              json_string_value(json_object_get(b, k)) : ""))
      return 0;
  json_object_foreach((json_t *)b, k, v)
    if(!json_object_get(a, k) && json_string_value(v) && *json_string_value(v))
      return 0;
  return 1;
}

/* After a create or write: the ETag of the record now stored, which must
 * be the one just written (anything else: someone else's, a conflict). */
static drover_code lock_etag_after(lxd_state *st, const char *name, const json_t *record,
                                   char **etag, drover_error *err)
{
  json_t *now = NULL;
  drover_code rc = lock_get(st, name, &now, etag, err);

  if(rc == DROVER_E_NOT_FOUND)
    rc = lxd_fail(err, DROVER_E_NOT_FOUND, NULL, "profile \"%s\" vanished", name);
  else if(!rc && !same_record(now, record)) {
    free(*etag);
    *etag = NULL;
    rc = lxd_fail(err, DROVER_E_CONFLICT, NULL, "profile \"%s\" changed under us", name);
  }
  json_decref(now);
  return rc;
}

drover_code lxd_lock_read(void *state, const char *stack, json_t **record, char **etag,
                          drover_error *err)
{
  char *name = lock_name(stack);
  drover_code rc;

  *record = NULL;
  *etag = NULL;
  if(!name)
    return lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  rc = lock_get(state, name, record, etag, err);
  free(name);
  return rc;
}

/* Creates the record (create: POST, refused when the profile exists) or
 * replaces it (PUT with If-Match if_match), then reads back its ETag. */
static drover_code lock_put(lxd_state *st, const char *stack, const json_t *record,
                            int create, const char *if_match, char **etag,
                            drover_error *err)
{
  char *name = lock_name(stack), *path = NULL;
  json_t *body = name ? lock_body(name, record, create) : NULL;
  lxd_result res;
  drover_code rc;

  memset(&res, 0, sizeof(res));
  *etag = NULL;
  if(name)
    path = create ? lxd_path(st, "/1.0/profiles")
                  : lxd_name_path(st, "/1.0/profiles/", name, NULL);
  if(!name || !path || !body) {
    rc = lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  /* A 412 is DROVER_E_CONFLICT already (lxd_call); "exists" and a 404 on
   * PUT are ours to map, without error text: the caller reads again. */
  rc = lxd_call(st, create ? "POST" : "PUT", path, if_match, body, NULL,
                create ? LXD_ALLOW_EXISTS : LXD_ALLOW_404, &res, err);
  if(!rc && res.status == 409)
    rc = DROVER_E_CONFLICT;
  else if(!rc && res.status == 404)
    rc = DROVER_E_NOT_FOUND;
  if(!rc)
    rc = lock_etag_after(st, name, record, etag, err);
out:
  lxd_result_free(&res);
  json_decref(body);
  free(path);
  free(name);
  return rc;
}

drover_code lxd_lock_create(void *state, const char *stack, const json_t *record,
                            char **etag, drover_error *err)
{
  return lock_put(state, stack, record, 1, NULL, etag, err);
}

drover_code lxd_lock_write(void *state, const char *stack, const json_t *record,
                           const char *if_match, char **etag, drover_error *err)
{
  return lock_put(state, stack, record, 0, if_match, etag, err);
}

drover_code lxd_lock_delete(void *state, const char *stack, const char *if_match,
                            drover_error *err)
{
  lxd_state *st = state;
  char *name = lock_name(stack);
  char *path = name ? lxd_name_path(st, "/1.0/profiles/", name, NULL) : NULL;
  json_t *record = NULL;
  char *etag = NULL;
  lxd_result res;
  drover_code rc;

  memset(&res, 0, sizeof(res));
  if(!name || !path) {
    rc = lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  rc = lock_get(st, name, &record, &etag, err);
  if(rc)
    goto out;
  if(!if_match || strcmp(etag, if_match)) {
    rc = DROVER_E_CONFLICT;
    goto out;
  }
  rc = lxd_call(st, "DELETE", path, if_match, NULL, NULL, LXD_ALLOW_404, &res, err);
  if(!rc && res.status == 404)
    rc = DROVER_E_NOT_FOUND;
out:
  lxd_result_free(&res);
  json_decref(record);
  free(etag);
  free(path);
  free(name);
  return rc;
}
