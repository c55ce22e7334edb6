/* lxd_adopt.c - create-then-adopt: the create that instances, profiles
 * and volumes share, which adopts an object LXD says already exists when
 * it is this stack's (a retry after a lost reply, or a killed run's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lxd.h"

drover_code lxd_post_create(lxd_state *st, const char *path, const json_t *body,
                            const char *address, double deadline, lxd_exists *exists,
                            drover_error *err)
{
  lxd_result res;
  drover_code rc;

  memset(exists, 0, sizeof(*exists));
  rc = lxd_call(st, "POST", path, NULL, body, address, LXD_ALLOW_EXISTS, &res, err);
  if(rc)
    goto out;
  if(res.status == 409) {
    exists->yes = 1;
    snprintf(exists->said, sizeof(exists->said), "%s",
             res.message ? res.message : "409 Conflict");
  }
  else if(res.op)
    rc = lxd_wait(st, res.op, lxd_deadline(st, deadline), address, LXD_ALLOW_EXISTS,
                  exists, err);
out:
  lxd_result_free(&res);
  return rc;
}

/* *out owned by the caller. */
drover_code lxd_create_adopt(lxd_state *st, const lxd_adopt_type *type,
                             const drover_res_req *req, const char *path,
                             const json_t *body, double deadline, int *created,
                             drover_live **out, drover_error *err)
{
  /* " in pool \"P\"" for the messages, when the type has a pool. */
  const char *pool = type->pool ? type->pool(req) : NULL;
  const char *in = pool ? " in pool \"" : "", *pname = pool ? pool : "";
  const char *q = pool ? "\"" : "";
  json_t *obj = NULL;
  char *etag = NULL;
  drover_code rc = DROVER_OK;
  lxd_exists exists;

  *created = 0;
  *out = NULL;
  memset(&exists, 0, sizeof(exists));
  if(type->read_first) {
    rc = type->get(st, req, &obj, &etag, err);
    if(rc)
      goto out;
    exists.yes = obj != NULL;
  }
  if(!exists.yes) {
    rc = lxd_post_create(st, path, body, req->address, deadline, &exists, err);
    if(rc || !exists.yes) {
      *created = !rc;
      goto out;
    }
    free(etag);
    rc = type->get(st, req, &obj, &etag, err);
    if(rc)
      goto out;
    if(!obj) {
      /* Deleted between our POST and this read: not a conflict, and the
       * engine's retry of a transient error creates it anew. LXD's words
       * go with it: "already exists" of another object (a volume a failed
       * create left) reads the same, and repeats until the retries end. */
      rc = lxd_fail(err, DROVER_E_TRANSIENT, req->address,
                    "%s \"%s\"%s%s%s vanished after LXD reported it as existing "
                    "(LXD: \"%s\"); if this repeats, what exists is another object",
                    type->noun, req->name, in, pname, q, exists.said);
      goto out;
    }
  }
  if(!lxd_owned_at(obj, req->stack, req->address)) {
    rc = lxd_fail(err, DROVER_E_PROVIDER, req->address,
                  "%s \"%s\" already exists%s%s%s and is not owned by this stack",
                  type->noun, req->name, in, pname, q);
    goto out;
  }
  {
    /* Our own object: its ETag is the one to match, not the plan's. */
    drover_res_req r = *req;
    r.if_match = NULL;
    rc = type->put(st, &r, obj, etag, out, err);
  }
out:
  json_decref(obj);
  free(etag);
  return rc;
}
