/* lxd_instance.c - lxd.instance: containers (and VMs where LXD has KVM).
 *
 * Create sends every label in the POST itself, so an instance whose create
 * was interrupted is listed by the next refresh. LXD does not keep the
 * image alias, so drover records it as the label user.drover.image.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "lxd.h"

static const char *const inst_kinds[] = {"container", "virtual-machine", NULL};
static const char *const inst_states[] = {"running", "stopped", NULL};

static const drover_prop inst_props[] = {
  {"name", DROVER_T_STRING, DROVER_PROP_FORCE_NEW, NULL, NULL,
   "instance name; default derived from stack and address"},
  {"image", DROVER_T_STRING, DROVER_PROP_REQUIRED | DROVER_PROP_FORCE_NEW, NULL, NULL,
   "image alias or fingerprint"},
  {"type", DROVER_T_STRING, DROVER_PROP_FORCE_NEW, "\"container\"", inst_kinds,
   "container or virtual-machine"},
  {"profiles", DROVER_T_ARRAY, 0, "[\"default\"]", NULL, "profiles, in order"},
  {"config", DROVER_T_STRING_MAP, 0, "{}", NULL, "instance config keys"},
  {"devices", DROVER_T_OBJECT_MAP, 0, "{}", NULL, "instance-local devices"},
  {"state", DROVER_T_STRING, 0, "\"running\"", inst_states, "running or stopped"},
  {"description", DROVER_T_STRING, 0, "\"\"", NULL, "free text"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

static const char *const inst_exports[] = {"status", "location", NULL};

static const drover_rule inst_rules[] = {
  {"image", DROVER_RULE_NONEMPTY, 0, 0, NULL, NULL},
  {NULL, 0, 0, 0, NULL, NULL}
};

const drover_rtype lxd_instance_type = {
  "lxd.instance", inst_props, 1, "an LXD container or virtual machine",
  inst_exports, inst_rules, lxd_name_instance, 0
};

/* --------------------------------------------------------------------------
 * Normalisation
 */

/* "Running" -> "running": the template's state values. */
static json_t *state_of(const char *status)
{
  char buf[32];
  size_t i;

  if(!status)
    return json_string("stopped");
  for(i = 0; status[i] && i + 1 < sizeof(buf); i++)
    buf[i] = (char)tolower((unsigned char)status[i]);
  buf[i] = '\0';
  return json_string(buf);
}

/* *out owned by the caller. ctx unused (lxd_live_fn). */
static drover_code inst_live(drover_live **out, const json_t *obj, const void *ctx,
                             const char *etag, drover_error *err)
{
  drover_live *l = NULL;
  drover_code rc;
  const json_t *config = json_object_get(obj, "config");
  const char *image = json_string_value(json_object_get(config, LXD_LABEL_IMAGE));
  const char *desc = json_string_value(json_object_get(obj, "description"));
  const char *kind = json_string_value(json_object_get(obj, "type"));
  const char *status = json_string_value(json_object_get(obj, "status"));
  const char *loc = json_string_value(json_object_get(obj, "location"));
  const char *created = json_string_value(json_object_get(obj, "created_at"));
  json_t *p, *profiles = json_object_get(obj, "profiles");

  (void)ctx;
  rc = lxd_live_base(&l, obj, etag, err);
  if(rc)
    return rc;
  p = l->properties;
  if(!image) /* not made by drover: the fingerprint is all LXD knows */
    image = json_string_value(json_object_get(config, "volatile.base_image"));
  if(lxd_set(p, "name", json_string(l->name)) ||
     (image && lxd_set(p, "image", json_string(image))) ||
     lxd_set(p, "type", json_string(kind ? kind : "container")) ||
     lxd_set(p, "profiles", json_is_array(profiles) ? json_deep_copy(profiles)
                                                    : json_array()) ||
     lxd_set(p, "config", lxd_config_clean(config)) ||
     lxd_set(p, "devices", lxd_obj_or_empty(json_object_get(obj, "devices"))) ||
     lxd_set(p, "state", state_of(status)) ||
     lxd_set(p, "description", json_string(desc ? desc : "")) ||
     json_object_update(l->attributes, p) ||
     lxd_set(l->attributes, "status", json_string(status ? status : "")) ||
     lxd_set(l->attributes, "location", json_string(loc ? loc : "")) ||
     /* RFC 3339; the Slurm repair loop's grace period starts here. */
     lxd_set(l->attributes, "created_at", json_string(created ? created : "")) ||
     /* Run labels (label_set), as the table promises. */
     lxd_labels_to_attributes(l->attributes, obj)) {
    drover_live_free(l);
    return lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  }
  *out = l;
  return DROVER_OK;
}

/* GET one instance. *obj (new reference) is NULL when it does not exist. */
static drover_code inst_get(lxd_state *st, const char *name, const char *address,
                            json_t **obj, char **etag, drover_error *err)
{
  char *path = lxd_name_path(st, "/1.0/instances/", name, NULL);
  drover_code rc = lxd_get(st, path, address, obj, etag, err);

  free(path);
  return rc;
}

/* Reads the instance back after a change. *out owned by the caller. */
static drover_code inst_reread(lxd_state *st, const char *name, const char *address,
                               drover_live **out, drover_error *err)
{
  json_t *obj = NULL;
  char *etag = NULL;
  drover_code rc = inst_get(st, name, address, &obj, &etag, err);

  if(!rc && !obj)
    rc = lxd_fail(err, DROVER_E_NOT_FOUND, address, "instance \"%s\" vanished", name);
  if(!rc)
    rc = inst_live(out, obj, NULL, etag, err);
  json_decref(obj);
  free(etag);
  return rc;
}

/* Whether name is now in the state action leads to (read back). */
static int state_reached(lxd_state *st, const char *name, const char *address,
                         const char *action)
{
  json_t *obj = NULL;
  drover_error local;
  const char *status;
  int reached = 0;

  drover_error_clear(&local);
  if(inst_get(st, name, address, &obj, NULL, &local) == DROVER_OK && obj) {
    status = json_string_value(json_object_get(obj, "status"));
    reached = status && !strcmp(status, !strcmp(action, "start") ? "Running" : "Stopped");
  }
  json_decref(obj);
  return reached;
}

/* PUT /state: "start", or "stop" (graceful first unless force). */
static drover_code inst_state(lxd_state *st, const char *name, const char *address,
                              const char *action, int force, double deadline,
                              drover_error *err)
{
  char *path = lxd_name_path(st, "/1.0/instances/", name, "/state");
  json_t *body = NULL;
  drover_code rc;
  double left = deadline - drover_now();
  drover_error local;

  if(!path) {
    rc = lxd_fail(err, DROVER_E_NOMEM, address, "out of memory");
    goto out;
  }
  if(!strcmp(action, "stop") && !force) {
    /* Graceful stop for up to 10 s (LXD sends SIGPWR), then force. */
    int grace = left > 20 ? 10 : (int)(left / 2);
    drover_error_clear(&local);
    body = json_pack("{s:s, s:b, s:i}", "action", "stop", "force", 0, "timeout",
                     grace > 0 ? grace : 1);
    if(!body) {
      rc = lxd_fail(err, DROVER_E_NOMEM, address, "out of memory");
      goto out;
    }
    if(lxd_call_wait(st, "PUT", path, NULL, body, address, deadline, &local) == DROVER_OK) {
      rc = DROVER_OK;
      goto out;
    }
    drover_logf(&st->env, DROVER_LOG_INFO, "lxd: %s: graceful stop failed (%s); forcing",
                address ? address : name, local.text);
    json_decref(body);
    force = 1;
  }
  body = json_pack("{s:s, s:b, s:i}", "action", action, "force", force, "timeout", -1);
  if(!body) {
    rc = lxd_fail(err, DROVER_E_NOMEM, address, "out of memory");
    goto out;
  }
  drover_error_clear(&local);
  rc = lxd_call_wait(st, "PUT", path, NULL, body, address, deadline, &local);
  if(rc && rc != DROVER_E_NOMEM && state_reached(st, name, address, action)) {
    /* The change was made but its reply lost, and the retry met it done
     * ("The instance is already stopped"): the state decides, not the
     * message. */
    drover_logf(&st->env, DROVER_LOG_INFO, "lxd: %s: %s reported \"%s\", but the "
                "instance is %s", address ? address : name, action, local.text,
                !strcmp(action, "start") ? "running" : "stopped");
    rc = DROVER_OK;
  }
  else if(rc && err && !err->code)
    *err = local;
out:
  json_decref(body);
  free(path);
  return rc;
}

/* Brings the running state of obj to want ("running"/"stopped"). */
static drover_code inst_converge_state(lxd_state *st, const json_t *obj,
                                       const char *want, const char *address,
                                       double deadline, drover_error *err)
{
  const char *name = json_string_value(json_object_get(obj, "name"));
  const char *status = json_string_value(json_object_get(obj, "status"));
  int running = status && !strcmp(status, "Running");

  if(!want || !name)
    return DROVER_OK;
  if(!strcmp(want, "running") && !running)
    return inst_state(st, name, address, "start", 0, deadline, err);
  if(!strcmp(want, "stopped") && running)
    return inst_state(st, name, address, "stop", 0, deadline, err);
  return DROVER_OK;
}

/* PUT the desired writable state over obj (as read with etag), then
 * converge the running state. Used by update and by create's adoption. */
static drover_code inst_put(lxd_state *st, const drover_res_req *req, const json_t *obj,
                            const char *etag, drover_live **out, drover_error *err)
{
  const json_t *props = req->properties;
  const json_t *profiles = json_object_get(props, "profiles");
  const char *desc = lxd_prop_str(props, "description");
  const char *image = lxd_prop_str(props, "image");
  const json_t *arch = json_object_get(obj, "architecture");
  json_t *config = NULL, *body = NULL;
  char *path = NULL;
  double deadline = lxd_deadline(st, req->deadline);
  drover_code rc;

  if(!image) /* keep the recorded one */
    image = json_string_value(json_object_get(json_object_get(obj, "config"),
                                              LXD_LABEL_IMAGE));
  rc = lxd_config_build(&config, req, json_object_get(props, "config"),
                        json_object_get(obj, "config"), image, err);
  if(rc)
    goto out;
  body = json_object();
  path = lxd_name_path(st, "/1.0/instances/", req->name, NULL);
  if(!body || !path ||
     (arch && json_object_set(body, "architecture", (json_t *)arch)) ||
     lxd_set(body, "ephemeral", json_boolean(json_is_true(json_object_get(obj, "ephemeral")))) ||
     lxd_set(body, "stateful", json_boolean(json_is_true(json_object_get(obj, "stateful")))) ||
     json_object_set(body, "config", config) ||
     lxd_set(body, "devices", lxd_obj_or_empty(json_object_get(props, "devices"))) ||
     lxd_set(body, "profiles", json_is_array(profiles) ? json_deep_copy(profiles)
                                                       : json_pack("[s]", "default")) ||
     lxd_set(body, "description", json_string(desc ? desc : ""))) {
    rc = lxd_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
    goto out;
  }
  /* The plan's ETag when it has one, so a change since the plan read the
   * instance is a conflict; else the one just read. */
  rc = lxd_call_wait(st, "PUT", path, req->if_match ? req->if_match : etag, body,
                     req->address, deadline, err);
  rc = lxd_etag_race(rc, req, err);
  if(rc)
    goto out;
  rc = inst_converge_state(st, obj, lxd_prop_str(props, "state"), req->address,
                           deadline, err);
  if(rc)
    goto out;
  rc = inst_reread(st, req->name, req->address, out, err);
out:
  json_decref(config);
  json_decref(body);
  free(path);
  return rc;
}

/* An image given as 12 to 64 hex digits is a fingerprint, else an alias. */
static int is_fingerprint(const char *s)
{
  size_t n = strspn(s, "0123456789abcdef");
  return n == strlen(s) && n >= 12 && n <= 64;
}

/* --------------------------------------------------------------------------
 * Ops
 */

/* Characters LXD's filter parser takes in an unquoted value. */
static int filter_safe(const char *s)
{
  return *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789-_.") == strlen(s);
}

static drover_code inst_list(lxd_state *st, const char *stack, drover_live_list *out,
                             drover_error *err)
{
  char *path;
  drover_code rc;

  /* One call. LXD 5.0 filters on user.* config keys server side;
   * lxd_list_owned keeps the result exact whatever the filter does.
   * inst_live reads neither expanded_config nor expanded_devices. */
  if(stack && filter_safe(stack))
    path = lxd_path(st, "/1.0/instances?recursion=1&filter=config.%s%%20eq%%20%s",
                    LXD_LABEL(DROVER_LABEL_STACK), stack);
  else
    path = lxd_path(st, "/1.0/instances?recursion=1");
  rc = lxd_list_owned(st, path, stack, LXD_DROP_EXPANDED, inst_live, NULL, out, err);
  free(path);
  return rc;
}

static drover_code inst_read(lxd_state *st, const char *name, drover_live **out,
                             drover_error *err)
{
  json_t *obj = NULL;
  char *etag = NULL;
  drover_code rc = inst_get(st, name, NULL, &obj, &etag, err);

  *out = NULL;
  if(!rc && !obj)
    rc = lxd_fail(err, DROVER_E_NOT_FOUND, NULL, "instance \"%s\" not found", name);
  if(!rc)
    rc = inst_live(out, obj, NULL, etag, err);
  json_decref(obj);
  free(etag);
  return rc;
}

static drover_code inst_adopt_get(lxd_state *st, const drover_res_req *req, json_t **obj,
                                  char **etag, drover_error *err)
{
  return inst_get(st, req->name, req->address, obj, etag, err);
}

/* inst_put for create's adoption, which is worth a line in the log. */
static drover_code inst_adopt_put(lxd_state *st, const drover_res_req *req,
                                  const json_t *obj, const char *etag, drover_live **out,
                                  drover_error *err)
{
  drover_logf(&st->env, DROVER_LOG_INFO, "lxd: %s: adopting existing instance \"%s\"",
              req->address, req->name);
  return inst_put(st, req, obj, etag, out, err);
}

static const lxd_adopt_type inst_adopt = {"instance", inst_adopt_get, inst_adopt_put, NULL,
                                          0};

/* *out owned by the caller. */
static drover_code inst_create(lxd_state *st, const drover_res_req *req,
                               drover_live **out, drover_error *err)
{
  const json_t *props = req->properties;
  const char *image = lxd_prop_str(props, "image");
  const char *kind = lxd_prop_str(props, "type");
  const char *desc = lxd_prop_str(props, "description");
  const json_t *profiles = json_object_get(props, "profiles");
  double deadline = lxd_deadline(st, req->deadline);
  json_t *config = NULL, *body = NULL;
  char *path = NULL;
  drover_code rc;
  int created = 0;

  *out = NULL;
  if(!image || !*image) {
    rc = lxd_fail(err, DROVER_E_PROVIDER, req->address, "no image given");
    goto out;
  }
  rc = lxd_config_build(&config, req, json_object_get(props, "config"), NULL, image, err);
  if(rc)
    goto out;
  body = json_pack("{s:s, s:s, s:O, s:o, s:o, s:s, s:{s:s, s:s}}",
                   "name", req->name,
                   "type", kind ? kind : "container",
                   "config", config,
                   "devices", lxd_obj_or_empty(json_object_get(props, "devices")),
                   "profiles", json_is_array(profiles) ? json_deep_copy(profiles)
                                                       : json_pack("[s]", "default"),
                   "description", desc ? desc : "",
                   "source", "type", "image",
                   is_fingerprint(image) ? "fingerprint" : "alias", image);
  path = lxd_path(st, "/1.0/instances");
  if(!body || !path) {
    rc = lxd_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
    goto out;
  }
  rc = lxd_create_adopt(st, &inst_adopt, req, path, body, deadline, &created, out, err);
  if(rc || !created)
    goto out;
  {
    /* Created stopped; start it unless the template wants it stopped. */
    const char *want = lxd_prop_str(props, "state");
    if(!want || !strcmp(want, "running"))
      rc = inst_state(st, req->name, req->address, "start", 0, deadline, err);
  }
  if(!rc)
    rc = inst_reread(st, req->name, req->address, out, err);
out:
  json_decref(config);
  json_decref(body);
  free(path);
  return rc;
}

static drover_code inst_update(lxd_state *st, const drover_res_req *req,
                               const drover_live *cur, drover_live **out,
                               drover_error *err)
{
  json_t *obj = NULL;
  char *etag = NULL;
  const char *name = req->name ? req->name : cur->name;
  drover_res_req r = *req;
  drover_code rc;

  *out = NULL;
  r.name = name;
  rc = inst_get(st, name, req->address, &obj, &etag, err);
  if(!rc && !obj)
    rc = lxd_fail(err, DROVER_E_NOT_FOUND, req->address, "instance \"%s\" not found", name);
  if(!rc)
    rc = inst_put(st, &r, obj, etag, out, err);
  json_decref(obj);
  free(etag);
  return rc;
}

static drover_code inst_del(lxd_state *st, const drover_live *cur, double deadline,
                            drover_error *err)
{
  const char *addr = cur->address ? cur->address : cur->name;
  json_t *obj = NULL;
  char *path = NULL;
  lxd_result res;
  drover_code rc;
  const char *status;
  drover_error local;

  memset(&res, 0, sizeof(res));
  deadline = lxd_deadline(st, deadline);
  rc = inst_get(st, cur->name, addr, &obj, NULL, err);
  if(rc || !obj)
    goto out; /* gone already: success */
  status = json_string_value(json_object_get(obj, "status"));
  if(status && strcmp(status, "Stopped")) {
    rc = inst_state(st, cur->name, addr, "stop", 1, deadline, err);
    if(rc)
      goto out;
  }
  path = lxd_name_path(st, "/1.0/instances/", cur->name, NULL);
  if(!path) {
    rc = lxd_fail(err, DROVER_E_NOMEM, addr, "out of memory");
    goto out;
  }
  drover_error_clear(&local);
  rc = lxd_call(st, "DELETE", path, NULL, NULL, addr, LXD_ALLOW_404, &res, &local);
  if(!rc && res.op)
    rc = lxd_wait(st, res.op, deadline, addr, 0, NULL, &local);
  if(rc == DROVER_E_TRANSIENT) {
    /* Its outcome unknown (a lost reply, a forgotten operation): the
     * instance itself says whether it is gone. */
    json_t *again = NULL;
    if(inst_get(st, cur->name, addr, &again, NULL, &local) == DROVER_OK && !again)
      rc = DROVER_OK;
    json_decref(again);
  }
  if(rc && err && !err->code)
    *err = local;
out:
  lxd_result_free(&res);
  json_decref(obj);
  free(path);
  return rc;
}

const lxd_type_ops lxd_instance_ops = {
  inst_list, inst_create, inst_update, inst_del, inst_read, inst_live, NULL
};
