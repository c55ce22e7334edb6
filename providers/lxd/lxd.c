/* lxd.c - the LXD provider: its table, settings and connection.
 *
 * The only exported name is dv_provider_lxd (plugin/lib/registry.c); built
 * as a module (--enable-lxd=dl), drover_provider_entry instead.
 * Each resource type lives in its own file behind lxd_type_ops; this file
 * dispatches to them. Settings: doc/templates.md, "providers.lxd".
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "lxd.h"

static const char *const default_sockets[] = {
  "/var/lib/lxd/unix.socket",
  "/var/snap/lxd/common/lxd/unix.socket",
  "/var/lib/incus/unix.socket",
  NULL
};

static const drover_rtype *const lxd_types[] = {
  &lxd_instance_type, &lxd_profile_type, &lxd_volume_type, &lxd_policy_type,
  &lxd_scale_type, &lxd_drift_type, NULL
};

static const lxd_type_ops *ops_for(const drover_rtype *type)
{
  if(type == &lxd_instance_type)
    return &lxd_instance_ops;
  if(type == &lxd_profile_type)
    return &lxd_profile_ops;
  if(type == &lxd_volume_type)
    return &lxd_volume_ops;
  if(type == &lxd_policy_type)
    return &lxd_policy_ops;
  if(type == &lxd_scale_type)
    return &lxd_scale_ops;
  if(type == &lxd_drift_type)
    return &lxd_drift_ops;
  return NULL;
}

/* --------------------------------------------------------------------------
 * Settings
 */

/* The settings schema validate checks templates against (init checks the
 * merged settings again: the admin file and environment are not in the
 * template). */
#define NONEMPTY {NULL, DROVER_RULE_NONEMPTY, 0, 0, NULL, NULL}
static const drover_setting lxd_settings[] = {
  {"project", DROVER_T_STRING, NONEMPTY, "LXD project"},
  {"socket", DROVER_T_STRING, NONEMPTY, "unix socket path"},
  {"url", DROVER_T_STRING, NONEMPTY, "https://host:8443"},
  {"client_cert", DROVER_T_STRING, NONEMPTY, "PEM path"},
  {"client_key", DROVER_T_STRING, NONEMPTY, "PEM path"},
  {"server_cert", DROVER_T_STRING, NONEMPTY, "PEM path of the server or its CA"},
  {"timeout", DROVER_T_NUMBER,
   {NULL, DROVER_RULE_MIN | DROVER_RULE_ABOVE_MIN, 0, 0, NULL, NULL},
   "seconds per async operation"},
  {"request_timeout", DROVER_T_NUMBER,
   {NULL, DROVER_RULE_MIN, 2, 0, NULL, NULL}, "seconds per HTTP request"},
  {NULL, DROVER_T_ANY, {NULL, 0, 0, 0, NULL, NULL}, NULL}
};
#undef NONEMPTY


/* A string setting: the environment variable env (when set and not
 * empty) overrides config[key]. Borrowed. */
static const char *setting(const json_t *config, const char *key, const char *env)
{
  const char *v = env ? getenv(env) : NULL;

  if(v && *v)
    return v;
  v = json_string_value(json_object_get(config, key));
  return v && *v ? v : NULL;
}

static int is_socket(const char *path)
{
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISSOCK(sb.st_mode);
}

/* --------------------------------------------------------------------------
 * Table ops
 */

static void lxd_cleanup(void *state)
{
  lxd_state *st = state;
  size_t i;

  if(!st)
    return;
  drover_http_free(st->http);
  free(st->project);
  free(st->where);
  for(i = 0; i < st->npools; i++)
    free(st->pools[i]);
  free(st->pools);
  if(st->lock_ready)
    pthread_mutex_destroy(&st->lock);
  memset(st, 0, sizeof(*st));
}

static drover_code lxd_init(void *state, const json_t *config,
                            const drover_provider_env *env, drover_error *err)
{
  lxd_state *st = state;
  drover_http_config hc;
  const char *project, *url, *sock = NULL, *key;
  const json_t *v, *timeout;
  char *path = NULL, *pq = NULL;
  lxd_result res;
  drover_code rc = DROVER_OK;
  size_t i;

  memset(&res, 0, sizeof(res));
  memset(&hc, 0, sizeof(hc));
  hc.version = DROVER_HTTP_CONFIG_VERSION;
  if(env)
    st->env = *env;
  pthread_mutex_init(&st->lock, NULL);
  st->lock_ready = 1;

  if(config && !json_is_object(config)) {
    rc = lxd_fail(err, DROVER_E_CONFIG, NULL, "settings must be an object");
    goto out;
  }
  json_object_foreach((json_t *)config, key, v) {
    for(i = 0; lxd_settings[i].name; i++)
      if(!strcmp(key, lxd_settings[i].name))
        break;
    if(!lxd_settings[i].name) {
      rc = lxd_fail(err, DROVER_E_CONFIG, NULL, "unknown setting \"%s\"", key);
      goto out;
    }
  }
  project = setting(config, "project", "DROVER_LXD_PROJECT");
  st->project = strdup(project ? project : "default");
  st->op_timeout = 300;
  timeout = json_object_get(config, "timeout");
  if(timeout) {
    if(!json_is_number(timeout) || json_number_value(timeout) <= 0) {
      rc = lxd_fail(err, DROVER_E_CONFIG, NULL, "timeout must be a positive number");
      goto out;
    }
    st->op_timeout = json_number_value(timeout);
  }
  /* Each HTTP request is bounded; a /wait call stays below that bound
   * and is repeated until the operation's deadline. */
  hc.timeout = 60;
  timeout = json_object_get(config, "request_timeout");
  if(timeout) {
    if(!json_is_number(timeout) || json_number_value(timeout) < 2) {
      rc = lxd_fail(err, DROVER_E_CONFIG, NULL,
                    "request_timeout must be a number of seconds, at least 2");
      goto out;
    }
    hc.timeout = json_number_value(timeout);
  }
  /* Whole seconds (LXD's timeout= is an integer), safely below the bound. */
  st->wait_chunk = (double)(long)(hc.timeout * 5 / 6);
  if(st->wait_chunk < 1)
    st->wait_chunk = 1;

  url = setting(config, "url", "DROVER_LXD_URL");
  if(url) {
    hc.base_url = url;
    hc.client_cert = setting(config, "client_cert", "DROVER_LXD_CLIENT_CERT");
    hc.client_key = setting(config, "client_key", "DROVER_LXD_CLIENT_KEY");
    hc.ca_file = setting(config, "server_cert", "DROVER_LXD_SERVER_CERT");
    st->where = strdup(url);
  }
  else {
    sock = json_string_value(json_object_get(config, "socket"));
    if(!sock || !*sock)
      sock = getenv("LXD_SOCKET");
    if(!sock || !*sock) {
      sock = NULL;
      for(i = 0; default_sockets[i] && !sock; i++)
        if(is_socket(default_sockets[i]))
          sock = default_sockets[i];
    }
    if(!sock) {
      rc = lxd_fail(err, DROVER_E_CONFIG, NULL,
                    "no LXD socket found (tried %s, %s, %s); set providers.lxd.socket, "
                    "LXD_SOCKET or providers.lxd.url",
                    default_sockets[0], default_sockets[1], default_sockets[2]);
      goto out;
    }
    if(!is_socket(sock)) {
      rc = lxd_fail(err, DROVER_E_CONFIG, NULL, "%s is not a socket (is LXD running?)",
                    sock);
      goto out;
    }
    hc.base_url = "http://lxd";
    hc.unix_socket = sock;
    st->where = strdup(sock);
  }
  if(!st->project || !st->where) {
    rc = lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  rc = drover_http_new(&st->http, &hc, err);
  if(rc)
    goto out;

  /* The project must exist: LXD lists an unknown project as empty, which
   * would make a plan create everything in the wrong place. This one
   * round trip also proves the connection, TLS and trust. The network
   * list is scoped by project and answers 404 for a missing one, but
   * unlike GET /1.0/projects/<name> it does not list every instance of
   * the project (used_by), which grows with the project. Any other 404
   * (a server without that API) falls back to the project itself. */
  path = lxd_path(st, "/1.0/networks");
  if(!path) {
    rc = lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  rc = lxd_call(st, "GET", path, NULL, NULL, NULL, LXD_ALLOW_404, &res, err);
  if(rc)
    goto out;
  if(res.status == 404 && !(res.message && strcasestr(res.message, "project"))) {
    free(path);
    path = NULL;
    lxd_result_free(&res);
    pq = lxd_esc(st->project);
    if(!pq || asprintf(&path, "/1.0/projects/%s", pq) < 0) {
      path = NULL;
      rc = lxd_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
      goto out;
    }
    rc = lxd_call(st, "GET", path, NULL, NULL, NULL, LXD_ALLOW_404, &res, err);
    if(rc)
      goto out;
  }
  if(res.status == 404) {
    rc = lxd_fail(err, DROVER_E_NOT_FOUND, NULL, "project \"%s\" not found", st->project);
    goto out;
  }
  drover_logf(&st->env, DROVER_LOG_DEBUG, "lxd: connected to %s, project \"%s\"",
              st->where, st->project);
out:
  lxd_result_free(&res);
  free(path);
  free(pq);
  return rc;
}

static drover_code lxd_list(void *state, const drover_rtype *type, const char *stack,
                            drover_live_list *out, drover_error *err)
{
  const lxd_type_ops *ops = ops_for(type);

  if(!ops)
    return lxd_fail(err, DROVER_E_INTERNAL, NULL, "unknown type %s",
                    type ? type->name : "(null)");
  return ops->kind ? lxd_record_list(state, ops->kind, stack, out, err)
                   : ops->list(state, stack, out, err);
}

static drover_code lxd_create(void *state, const drover_rtype *type,
                              const drover_res_req *req, drover_live **out,
                              drover_error *err)
{
  const lxd_type_ops *ops = ops_for(type);

  *out = NULL;
  if(!ops)
    return lxd_fail(err, DROVER_E_INTERNAL, req->address, "unknown type");
  if(!req->name || !req->stack || !req->address)
    return lxd_fail(err, DROVER_E_ARG, req->address, "create needs name, stack and address");
  return ops->kind ? lxd_record_create(state, ops->kind, req, out, err)
                   : ops->create(state, req, out, err);
}

static drover_code lxd_update(void *state, const drover_rtype *type,
                              const drover_res_req *req, const drover_live *cur,
                              drover_live **out, drover_error *err)
{
  const lxd_type_ops *ops = ops_for(type);

  *out = NULL;
  if(!ops)
    return lxd_fail(err, DROVER_E_INTERNAL, req->address, "unknown type");
  if(!cur || (!req->name && !cur->name))
    return lxd_fail(err, DROVER_E_ARG, req->address, "update needs the current object");
  return ops->kind ? lxd_record_update(state, ops->kind, req, cur, out, err)
                   : ops->update(state, req, cur, out, err);
}

static drover_code lxd_del(void *state, const drover_rtype *type, const drover_live *cur,
                           double deadline, drover_error *err)
{
  const lxd_type_ops *ops = ops_for(type);

  if(!ops)
    return lxd_fail(err, DROVER_E_INTERNAL, NULL, "unknown type");
  if(!cur || !cur->name)
    return lxd_fail(err, DROVER_E_ARG, NULL, "delete needs the object's name");
  return ops->del(state, cur, deadline, err);
}

static drover_code lxd_read(void *state, const drover_rtype *type, const char *name,
                            drover_live **out, drover_error *err)
{
  const lxd_type_ops *ops = ops_for(type);

  *out = NULL;
  if(!ops)
    return lxd_fail(err, DROVER_E_INTERNAL, NULL, "unknown type");
  return ops->kind ? lxd_record_read(state, ops->kind, name, out, err)
                   : ops->read(state, name, out, err);
}

/* --------------------------------------------------------------------------
 * Parsing a list reply without HTTP (for the fuzzer)
 */

drover_code lxd_parse_list_reply(const char *type, char *buf, size_t len,
                                 const char *stack, drover_live_list *out,
                                 drover_error *err)
{
  static const char *const expanded[] = {"expanded_config", "expanded_devices", NULL};
  const lxd_type_ops *ops = !strcmp(type, "instance") ? &lxd_instance_ops
                            : !strcmp(type, "profile") ? &lxd_profile_ops
                                                       : &lxd_volume_ops;
  json_t *root = NULL, *meta, *obj;
  drover_code rc = DROVER_OK;
  size_t i;

  if(ops == &lxd_instance_ops)
    len = lxd_drop_members(buf, len, expanded);
  root = json_loadb(buf, len, 0, NULL);
  if(!root) {
    rc = lxd_fail(err, DROVER_E_PROVIDER, NULL, "response is not JSON");
    goto out;
  }
  if(!json_is_string(json_object_get(root, "type")) ||
     strcmp(json_string_value(json_object_get(root, "type")), "sync")) {
    rc = lxd_fail(err, DROVER_E_PROVIDER, NULL, "list response is not a sync reply");
    goto out;
  }
  meta = json_object_get(root, "metadata");
  if(!json_is_array(meta)) {
    rc = lxd_fail(err, DROVER_E_PROVIDER, NULL, "list response without a metadata array");
    goto out;
  }
  json_array_foreach(meta, i, obj) {
    drover_live *l = NULL;
    if(!lxd_owned(obj, stack))
      continue;
    rc = ops->live(&l, obj, ops == &lxd_volume_ops ? "default" : NULL, NULL, err);
    if(!rc && (rc = drover_live_list_push(out, l)) != DROVER_OK)
      lxd_fail(err, rc, NULL, "out of memory");
    if(rc)
      goto out;
  }
out:
  json_decref(root);
  return rc;
}

static drover_code lxd_check(const drover_rtype *type, const json_t *props, char *where,
                             size_t where_size, drover_error *err)
{
  if(type == &lxd_policy_type)
    return drover_backup_policy_check(props, where, where_size, err);
  if(type == &lxd_scale_type)
    return drover_scale_policy_check(props, where, where_size, err);
  if(type == &lxd_drift_type)
    return drover_drift_policy_check(props, where, where_size, err);
  return DROVER_OK;
}

const drover_provider dv_provider_lxd = {
  .version = DROVER_PROVIDER_VERSION,
  .name = "lxd",
  .caps = DROVER_CAP_ETAG | DROVER_CAP_WAIT,
  .state_size = sizeof(lxd_state),
  .types = lxd_types,
  .init = lxd_init,
  .cleanup = lxd_cleanup,
  .list = lxd_list,
  .create = lxd_create,
  .update = lxd_update,
  .del = lxd_del,
  .read = lxd_read,
  .settings = lxd_settings,
  .check = lxd_check,
  .snapshot_list = lxd_snapshot_list,
  .snapshot_create = lxd_snapshot_create,
  .snapshot_delete = lxd_snapshot_delete,
  .snapshot_restore = lxd_snapshot_restore,
  .exec = lxd_exec,
  .snapshot_clone = lxd_snapshot_clone,
  .table_size = sizeof(drover_provider),
  .label_set = lxd_label_set,
  .backup_export = lxd_backup_export,
  .backup_import = lxd_backup_import,
  .lock_read = lxd_lock_read,
  .lock_create = lxd_lock_create,
  .lock_write = lxd_lock_write,
  .lock_delete = lxd_lock_delete,
};

#ifdef DROVER_PROVIDER_MODULE
/* The module's one exported symbol (DROVER_PROVIDER_ENTRY). This table
 * is version DROVER_PROVIDER_VERSION as built; the engine checks it fits. */
const drover_provider *drover_provider_entry(unsigned engine_version);
const drover_provider *drover_provider_entry(unsigned engine_version)
{
  return engine_version >= DROVER_PROVIDER_VERSION_MIN ? &dv_provider_lxd : NULL;
}
#endif
