/* lxd_provider.c - live test: the LXD provider's table against the real
 * LXD. The table comes through the registry, so the same test runs
 * against a build with LXD compiled in and one with LXD as a module
 * (--enable-lxd=dl: providers/.libs/lxd.so of the build tree); the test
 * links libdrover.so, as the module does, so both share one libdrover.
 *
 * Needs a running LXD with the "busybox" image (scripts/lxd-setup.sh).
 * Built by `make check` as tests/live_lxd but not run by it; run it with
 * `make live-lxd` or `./tests/live_lxd`, after scripts/lxd-setup.sh.
 * Every run uses its own stack name and deletes what it made, also when a
 * test fails (the cleanup at the end lists by the stack label).
 */
#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "config.h"
#include "drover_provider.h"

static const drover_provider *P;
static char stack[48];

/* Counts the provider's REST calls through its debug log. */
static atomic_int calls;

static void count_log(void *ud, drover_log_level level, const char *msg)
{
  (void)ud;
  if(level == DROVER_LOG_DEBUG && !strncmp(msg, "lxd: ", 5) && strstr(msg, " -> "))
    atomic_fetch_add(&calls, 1);
  if(getenv("LIVE_LXD_VERBOSE"))
    fprintf(stderr, "  log: %s\n", msg);
}

static const drover_provider_env env = {count_log, NULL, "drover/test"};

static const drover_rtype *type_named(const char *name)
{
  size_t i;
  for(i = 0; P->types[i]; i++)
    if(!strcmp(P->types[i]->name, name))
      return P->types[i];
  ck_abort_msg("no type %s", name);
  return NULL;
}

/* A connected provider state; free with done(). */
static void *connect_with(const char *config_json, drover_code *rc, drover_error *err)
{
  void *st = calloc(1, P->state_size);
  json_t *cfg = json_loads(config_json, 0, NULL);

  ck_assert_ptr_nonnull(st);
  ck_assert_ptr_nonnull(cfg);
  drover_error_clear(err);
  *rc = P->init(st, cfg, &env, err);
  json_decref(cfg);
  return st;
}

static void *connect_ok(void)
{
  drover_error err;
  drover_code rc;
  void *st = connect_with("{}", &rc, &err);
  ck_assert_msg(rc == DROVER_OK, "init: %s", err.text);
  return st;
}

static void done(void *st)
{
  P->cleanup(st);
  free(st);
}

static void req_init(drover_res_req *r, const char *address, const char *name,
                     const char *hash, json_t *props)
{
  memset(r, 0, sizeof(*r));
  r->stack = stack;
  r->address = address;
  r->name = name;
  r->hash = hash;
  r->deps = "";
  r->properties = props;
  r->deadline = drover_now() + 120;
}

static size_t count_named(const drover_live_list *l, const char *name)
{
  size_t i, n = 0;
  for(i = 0; i < l->count; i++)
    if(!strcmp(l->items[i]->name, name))
      n++;
  return n;
}

/* --------------------------------------------------------------------------
 * Instances
 */

START_TEST(instance_lifecycle)
{
  const drover_rtype *t = type_named("lxd.instance");
  void *st = connect_ok();
  drover_error err;
  drover_res_req req;
  drover_live *made = NULL, *upd = NULL, *again = NULL, *tmp = NULL;
  drover_live_list list = {0};
  char name[80];
  json_t *props;
  double t0;
  int n;

  snprintf(name, sizeof(name), "%s-web-0", stack);
  props = json_pack("{s:s, s:s, s:[s], s:{s:s}, s:{}, s:s, s:s}", "image", "busybox",
                    "type", "container", "profiles", "default", "config", "user.index",
                    "0", "devices", "state", "running", "description", "live test");
  req_init(&req, "web[0]", name, "h1", props);
  req.deps = "data,base";
  drover_error_clear(&err);
  t0 = drover_now();
  ck_assert_msg(P->create(st, t, &req, &made, &err) == DROVER_OK, "create: %s", err.text);
  fprintf(stderr, "live_lxd: create+start %.3f s\n", drover_now() - t0);
  ck_assert_str_eq(made->name, name);
  ck_assert_str_eq(made->address, "web[0]");
  ck_assert_str_eq(made->hash, "h1");
  ck_assert_str_eq(made->deps, "data,base");
  ck_assert_str_eq(made->stack, stack);
  ck_assert_ptr_nonnull(made->etag);
  ck_assert_str_eq(json_string_value(json_object_get(made->properties, "state")), "running");
  ck_assert_str_eq(json_string_value(json_object_get(made->properties, "image")), "busybox");
  ck_assert_str_eq(json_string_value(json_object_get(made->attributes, "status")), "Running");
  ck_assert_str_eq(json_string_value(json_object_get(made->attributes, "name")), name);
  ck_assert_ptr_nonnull(json_object_get(made->attributes, "location"));
  /* Labels and LXD's own keys are not properties. */
  {
    json_t *want = json_pack("{s:s}", "user.index", "0");
    ck_assert(json_equal(json_object_get(made->properties, "config"), want));
    json_decref(want);
  }

  /* list by stack: one call, finds exactly it. */
  atomic_store(&calls, 0);
  t0 = drover_now();
  ck_assert_msg(P->list(st, t, stack, &list, &err) == DROVER_OK, "list: %s", err.text);
  fprintf(stderr, "live_lxd: list by stack %.3f s\n", drover_now() - t0);
  ck_assert_int_eq(atomic_load(&calls), 1);
  ck_assert_uint_eq(list.count, 1);
  ck_assert_str_eq(list.items[0]->name, name);
  ck_assert_str_eq(list.items[0]->address, "web[0]");
  ck_assert_str_eq(list.items[0]->hash, "h1");
  ck_assert_str_eq(list.items[0]->stack, stack);
  ck_assert(json_equal(list.items[0]->properties, made->properties));
  drover_live_list_clear(&list);

  /* stack NULL: every drover-labelled instance, ours among them. */
  ck_assert(P->list(st, t, NULL, &list, &err) == DROVER_OK);
  ck_assert_uint_eq(count_named(&list, name), 1);
  drover_live_list_clear(&list);

  /* Update config with If-Match. */
  json_object_set_new(json_object_get(props, "config"), "user.index", json_string("1"));
  req.hash = "h2";
  req.if_match = made->etag;
  ck_assert_msg(P->update(st, t, &req, made, &upd, &err) == DROVER_OK, "update: %s",
                err.text);
  ck_assert_str_eq(json_string_value(json_object_get(
                     json_object_get(upd->properties, "config"), "user.index")), "1");
  ck_assert_str_eq(upd->hash, "h2");
  ck_assert_str_ne(upd->etag, made->etag);

  /* The first ETag is stale now: a conflict, and nothing changes. */
  json_object_set_new(json_object_get(props, "config"), "user.index", json_string("2"));
  req.hash = "h3";
  drover_error_clear(&err);
  ck_assert_int_eq(P->update(st, t, &req, made, &tmp, &err), DROVER_E_CONFLICT);
  ck_assert_ptr_null(tmp);
  ck_assert_msg(strstr(err.text, "lxd: web[0]: ") == err.text, "text: %s", err.text);
  ck_assert_str_eq(err.address, "web[0]");
  ck_assert_ptr_nonnull(strstr(err.text, "ETag"));
  ck_assert(P->read(st, t, name, &tmp, &err) == DROVER_OK);
  ck_assert_str_eq(tmp->hash, "h2");
  drover_live_free(tmp);
  tmp = NULL;

  /* Stop, then start again (no If-Match: the provider reads the ETag). */
  json_object_set_new(props, "state", json_string("stopped"));
  req.if_match = NULL;
  drover_error_clear(&err);
  t0 = drover_now();
  ck_assert_msg(P->update(st, t, &req, upd, &tmp, &err) == DROVER_OK, "stop: %s", err.text);
  fprintf(stderr, "live_lxd: update+stop %.3f s\n", drover_now() - t0);
  ck_assert_str_eq(json_string_value(json_object_get(tmp->attributes, "status")), "Stopped");
  ck_assert_str_eq(json_string_value(json_object_get(tmp->properties, "state")), "stopped");
  drover_live_free(tmp);
  tmp = NULL;
  json_object_set_new(props, "state", json_string("running"));
  ck_assert_msg(P->update(st, t, &req, upd, &tmp, &err) == DROVER_OK, "start: %s",
                err.text);
  ck_assert_str_eq(json_string_value(json_object_get(tmp->attributes, "status")), "Running");
  drover_live_free(tmp);
  tmp = NULL;

  /* A create repeated after a lost response adopts the instance. */
  ck_assert_msg(P->create(st, t, &req, &again, &err) == DROVER_OK, "adopt: %s", err.text);
  ck_assert_str_eq(again->name, name);
  ck_assert_str_eq(again->hash, "h3");

  /* A different address under the same name is not ours to adopt. */
  req.address = "other[0]";
  ck_assert_int_eq(P->create(st, t, &req, &tmp, &err), DROVER_E_PROVIDER);
  ck_assert_ptr_nonnull(strstr(err.text, "not owned"));
  drover_error_clear(&err);
  req.address = "web[0]";

  /* Delete (running: stopped first), then again: still success. */
  t0 = drover_now();
  ck_assert_msg(P->del(st, t, again, drover_now() + 120, &err) == DROVER_OK, "del: %s",
                err.text);
  fprintf(stderr, "live_lxd: stop+delete %.3f s\n", drover_now() - t0);
  ck_assert_int_eq(P->del(st, t, again, drover_now() + 120, &err), DROVER_OK);
  ck_assert(P->list(st, t, stack, &list, &err) == DROVER_OK);
  n = (int)count_named(&list, name);
  ck_assert_int_eq(n, 0);
  drover_live_list_clear(&list);
  ck_assert_int_eq(P->read(st, t, name, &tmp, &err), DROVER_E_NOT_FOUND);

  drover_live_free(made);
  drover_live_free(upd);
  drover_live_free(again);
  json_decref(props);
  done(st);
}
END_TEST

START_TEST(bad_image)
{
  const drover_rtype *t = type_named("lxd.instance");
  void *st = connect_ok();
  drover_error err;
  drover_res_req req;
  drover_live *out = NULL;
  char name[80];
  json_t *props = json_pack("{s:s, s:s}", "image", "no-such-image", "state", "stopped");

  snprintf(name, sizeof(name), "%s-bad-0", stack);
  req_init(&req, "bad[0]", name, "h", props);
  drover_error_clear(&err);
  ck_assert_int_eq(P->create(st, t, &req, &out, &err), DROVER_E_PROVIDER);
  ck_assert_ptr_null(out);
  /* LXD's own words, behind the provider and address prefix. */
  ck_assert_msg(strstr(err.text, "lxd: bad[0]: ") == err.text, "text: %s", err.text);
  ck_assert_msg(strstr(err.text, "Image alias not found") != NULL, "text: %s", err.text);
  ck_assert_str_eq(err.source, "lxd");
  json_decref(props);
  done(st);
}
END_TEST

START_TEST(missing_project)
{
  drover_error err;
  drover_code rc;
  char cfg[128], want[128];
  void *st;

  snprintf(cfg, sizeof(cfg), "{\"project\": \"nope-%d\"}", (int)getpid());
  snprintf(want, sizeof(want), "lxd: project \"nope-%d\" not found", (int)getpid());
  st = connect_with(cfg, &rc, &err);
  ck_assert_int_eq(rc, DROVER_E_NOT_FOUND);
  ck_assert_str_eq(err.text, want);
  done(st);
}
END_TEST

START_TEST(bad_settings)
{
  drover_error err;
  drover_code rc;
  void *st;

  st = connect_with("{\"projcet\": \"x\"}", &rc, &err);
  ck_assert_int_eq(rc, DROVER_E_CONFIG);
  ck_assert_ptr_nonnull(strstr(err.text, "projcet"));
  done(st);
  st = connect_with("{\"socket\": \"/nonexistent/lxd.sock\"}", &rc, &err);
  ck_assert_int_eq(rc, DROVER_E_CONFIG);
  ck_assert_ptr_nonnull(strstr(err.text, "/nonexistent/lxd.sock"));
  done(st);
}
END_TEST

/* HTTPS with a client certificate and the server's certificate pinned as
 * the only CA. scripts/lxd-setup.sh sets up the listener and the certs,
 * honouring LXD_HTTPS_ADDR and LXD_TLS_DIR; so does this test. A missing
 * cert dir is a failure: a silent return would pass with TLS untested. */
static void https_config(char *buf, size_t n, const char *cert, const char *key,
                         const char *server_cert)
{
  const char *dir = getenv("LXD_TLS_DIR");
  const char *addr = getenv("LXD_HTTPS_ADDR");
  int len;

  if(!dir || !*dir)
    dir = "/var/lib/lxd-drover-tls";
  if(!addr || !*addr)
    addr = "127.0.0.1:8443";
  if(cert)
    len = snprintf(buf, n, "{\"url\": \"https://%s\", \"client_cert\": \"%s/%s\","
                   " \"client_key\": \"%s/%s\", \"server_cert\": \"%s/%s\"}",
                   addr, dir, cert, dir, key, dir, server_cert);
  else
    len = snprintf(buf, n, "{\"url\": \"https://%s\", \"server_cert\": \"%s/%s\"}",
                   addr, dir, server_cert);
  ck_assert_int_lt(len, (int)n);
}

START_TEST(https_client_cert)
{
  const drover_rtype *t = type_named("lxd.instance");
  const char *dir = getenv("LXD_TLS_DIR");
  const char *addr = getenv("LXD_HTTPS_ADDR");
  char cfg[2048], path[1024];
  drover_error err;
  drover_code rc;
  drover_live_list list = {0};
  void *st;

  if(!dir || !*dir)
    dir = "/var/lib/lxd-drover-tls";
  if(!addr || !*addr)
    addr = "127.0.0.1:8443";
  snprintf(path, sizeof(path), "%s/client.crt", dir);
  ck_assert_msg(access(path, R_OK) == 0,
                "no client certificate %s: run scripts/lxd-setup.sh (LXD_TLS_DIR=%s)", path, dir);

  https_config(cfg, sizeof(cfg), "client.crt", "client.key", "server.crt");
  st = connect_with(cfg, &rc, &err);
  ck_assert_msg(rc == DROVER_OK, "init: %s", err.text);
  ck_assert_msg(P->list(st, t, stack, &list, &err) == DROVER_OK, "list: %s", err.text);
  drover_live_list_clear(&list);
  done(st);

  /* The wrong certificate pinned: verification fails, as DROVER_E_TLS. */
  https_config(cfg, sizeof(cfg), "client.crt", "client.key", "client.crt");
  st = connect_with(cfg, &rc, &err);
  ck_assert_int_eq(rc, DROVER_E_TLS);
  ck_assert_msg(strstr(err.text, addr) != NULL, "text: %s", err.text);
  done(st);

  /* No client certificate: LXD refuses the untrusted client. */
  https_config(cfg, sizeof(cfg), NULL, NULL, "server.crt");
  st = connect_with(cfg, &rc, &err);
  ck_assert_int_eq(rc, DROVER_E_PROVIDER);
  fprintf(stderr, "live_lxd: untrusted client: %s\n", err.text);
  done(st);
}
END_TEST

/* --------------------------------------------------------------------------
 * Profiles and volumes
 */

/* The end of a lifecycle, once upd came from updating made with req (its
 * If-Match made's ETag): the same update again is a conflict (stale
 * ETag), a repeated create adopts the object, a delete succeeds twice and
 * the object is gone. Frees made and upd. */
static void stale_adopt_delete(void *st, const drover_rtype *t, drover_res_req *req,
                               drover_live *made, drover_live *upd, const char *name)
{
  drover_live *tmp = NULL;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_eq(P->update(st, t, req, made, &tmp, &err), DROVER_E_CONFLICT);
  drover_error_clear(&err);
  req->if_match = NULL;
  ck_assert_msg(P->create(st, t, req, &tmp, &err) == DROVER_OK, "adopt: %s", err.text);
  drover_live_free(tmp);
  tmp = NULL;

  ck_assert_msg(P->del(st, t, upd, 0, &err) == DROVER_OK, "del: %s", err.text);
  ck_assert_int_eq(P->del(st, t, upd, 0, &err), DROVER_OK);
  ck_assert_int_eq(P->read(st, t, name, &tmp, &err), DROVER_E_NOT_FOUND);
  drover_live_free(made);
  drover_live_free(upd);
}

START_TEST(profile_lifecycle)
{
  const drover_rtype *t = type_named("lxd.profile");
  void *st = connect_ok();
  drover_error err;
  drover_res_req req;
  drover_live *made = NULL, *upd = NULL;
  drover_live_list list = {0};
  char name[80];
  json_t *props = json_pack("{s:{s:s}, s:{}, s:s}", "config", "limits.memory", "128MB",
                            "devices", "description", "p1");

  snprintf(name, sizeof(name), "%s-base", stack);
  req_init(&req, "base", name, "ph1", props);
  drover_error_clear(&err);
  ck_assert_msg(P->create(st, t, &req, &made, &err) == DROVER_OK, "create: %s", err.text);
  ck_assert_str_eq(made->address, "base");
  ck_assert_ptr_nonnull(made->etag);
  ck_assert_str_eq(json_string_value(json_object_get(
                     json_object_get(made->properties, "config"), "limits.memory")), "128MB");
  ck_assert_uint_eq(json_object_size(json_object_get(made->properties, "config")), 1);

  atomic_store(&calls, 0);
  ck_assert(P->list(st, t, stack, &list, &err) == DROVER_OK);
  ck_assert_int_eq(atomic_load(&calls), 1);
  ck_assert_uint_eq(list.count, 1);
  ck_assert_str_eq(list.items[0]->name, name);
  drover_live_list_clear(&list);

  json_object_set_new(props, "description", json_string("p2"));
  json_object_set_new(props, "devices",
                      json_pack("{s:{s:s, s:s, s:s}}", "tmp", "type", "disk", "source",
                                "/tmp", "path", "/mnt/tmp"));
  req.hash = "ph2";
  req.if_match = made->etag;
  ck_assert_msg(P->update(st, t, &req, made, &upd, &err) == DROVER_OK, "update: %s",
                err.text);
  ck_assert_str_eq(json_string_value(json_object_get(upd->properties, "description")), "p2");
  ck_assert_ptr_nonnull(json_object_get(json_object_get(upd->properties, "devices"), "tmp"));
  ck_assert_str_eq(upd->hash, "ph2");
  stale_adopt_delete(st, t, &req, made, upd, name);
  json_decref(props);
  done(st);
}
END_TEST

/* Deleting a profile an instance still uses: a permanent error that says
 * why (a replace of a profile hits it), not LXD's bare words. */
START_TEST(profile_in_use)
{
  const drover_rtype *tp = type_named("lxd.profile");
  const drover_rtype *ti = type_named("lxd.instance");
  void *st = connect_ok();
  drover_error err;
  drover_res_req req;
  drover_live *prof = NULL, *inst = NULL;
  char pname[80], iname[80];
  json_t *pprops = json_pack("{s:{}, s:{}, s:s}", "config", "devices", "description", "");
  json_t *iprops;
  drover_code rc;
  double t0;

  snprintf(pname, sizeof(pname), "%s-used", stack);
  snprintf(iname, sizeof(iname), "%s-user-0", stack);
  iprops = json_pack("{s:s, s:[s,s], s:s}", "image", "busybox", "profiles", "default",
                     pname, "state", "stopped");
  req_init(&req, "used", pname, "u1", pprops);
  drover_error_clear(&err);
  ck_assert_msg(P->create(st, tp, &req, &prof, &err) == DROVER_OK, "create: %s", err.text);
  req_init(&req, "user[0]", iname, "u2", iprops);
  ck_assert_msg(P->create(st, ti, &req, &inst, &err) == DROVER_OK, "create: %s", err.text);
  t0 = drover_now();
  rc = P->del(st, tp, prof, 0, &err);
  fprintf(stderr, "live_lxd: delete of a used profile failed in %.3f s\n",
          drover_now() - t0);
  ck_assert_int_eq(rc, DROVER_E_PROVIDER);
  ck_assert_msg(strstr(err.text, "still used by an instance") != NULL, "%s", err.text);
  ck_assert_msg(strstr(err.text, pname) != NULL, "%s", err.text);
  drover_error_clear(&err);
  ck_assert_msg(P->del(st, ti, inst, 0, &err) == DROVER_OK, "del: %s", err.text);
  ck_assert_msg(P->del(st, tp, prof, 0, &err) == DROVER_OK, "del: %s", err.text);
  drover_live_free(prof);
  drover_live_free(inst);
  json_decref(pprops);
  json_decref(iprops);
  done(st);
}
END_TEST

START_TEST(volume_lifecycle)
{
  const drover_rtype *t = type_named("lxd.storage_volume");
  void *st = connect_ok();
  drover_error err;
  drover_res_req req;
  drover_live *made = NULL, *upd = NULL;
  drover_live_list list = {0};
  char name[80];
  json_t *props = json_pack("{s:s, s:s, s:{}, s:s}", "pool", "default", "content_type",
                            "filesystem", "config", "description", "v1");

  snprintf(name, sizeof(name), "%s-data", stack);
  req_init(&req, "data", name, "vh1", props);
  drover_error_clear(&err);
  ck_assert_msg(P->create(st, t, &req, &made, &err) == DROVER_OK, "create: %s", err.text);
  ck_assert_str_eq(made->address, "data");
  ck_assert_str_eq(json_string_value(json_object_get(made->properties, "pool")), "default");
  ck_assert_str_eq(json_string_value(json_object_get(made->properties, "content_type")),
                   "filesystem");
  ck_assert_uint_eq(json_object_size(json_object_get(made->properties, "config")), 0);

  ck_assert(P->list(st, t, stack, &list, &err) == DROVER_OK);
  ck_assert_uint_eq(list.count, 1);
  ck_assert_str_eq(list.items[0]->name, name);
  ck_assert(json_equal(list.items[0]->properties, made->properties));
  drover_live_list_clear(&list);

  json_object_set_new(json_object_get(props, "config"), "user.purpose", json_string("x"));
  req.hash = "vh2";
  req.if_match = made->etag;
  ck_assert_msg(P->update(st, t, &req, made, &upd, &err) == DROVER_OK, "update: %s",
                err.text);
  ck_assert_str_eq(json_string_value(json_object_get(
                     json_object_get(upd->properties, "config"), "user.purpose")), "x");
  ck_assert_str_eq(upd->hash, "vh2");
  stale_adopt_delete(st, t, &req, made, upd, name);
  json_decref(props);
  done(st);
}
END_TEST

/* --------------------------------------------------------------------------
 * The stack lease (lock ops): compare-and-swap on LXD's ETags
 */

START_TEST(lock_compare_and_swap)
{
  void *st = connect_ok();
  drover_error err;
  json_t *mine = json_pack("{s:s, s:s, s:s}", "id", "aaaa", "expires", "1.000",
                           "job", ""); /* LXD drops keys set to "" */
  json_t *theirs = json_pack("{s:s, s:s}", "id", "bbbb", "expires", "2.000");
  json_t *got = NULL;
  char *e1 = NULL, *e2 = NULL, *e3 = NULL, *er = NULL;

  ck_assert_ptr_nonnull(P->lock_read);
  drover_error_clear(&err);
  ck_assert_int_eq(P->lock_read(st, stack, &got, &er, &err), DROVER_E_NOT_FOUND);
  ck_assert_msg(P->lock_create(st, stack, mine, &e1, &err) == DROVER_OK, "%s", err.text);
  ck_assert_ptr_nonnull(e1);
  /* A second create of the record is refused, not merged. */
  ck_assert_int_eq(P->lock_create(st, stack, theirs, &e2, &err), DROVER_E_CONFLICT);
  ck_assert_int_eq(P->lock_read(st, stack, &got, &er, &err), DROVER_OK);
  ck_assert_str_eq(json_string_value(json_object_get(got, "id")), "aaaa");
  ck_assert_str_eq(json_string_value(json_object_get(got, "expires")), "1.000");
  ck_assert_str_eq(er, e1);
  json_decref(got);
  free(er);
  /* Write with the current ETag: a new one; with the old one: refused. */
  ck_assert_msg(P->lock_write(st, stack, theirs, e1, &e2, &err) == DROVER_OK, "%s",
                err.text);
  ck_assert_str_ne(e2, e1);
  ck_assert_int_eq(P->lock_write(st, stack, mine, e1, &e3, &err), DROVER_E_CONFLICT);
  ck_assert_int_eq(P->lock_delete(st, stack, e1, &err), DROVER_E_CONFLICT);
  ck_assert_int_eq(P->lock_read(st, stack, &got, &er, &err), DROVER_OK);
  ck_assert(json_equal(got, theirs));
  json_decref(got);
  free(er);
  /* The record is no object of the stack: lists never show it. */
  {
    drover_live_list l = {0};
    ck_assert_int_eq(P->list(st, type_named("lxd.profile"), stack, &l, &err), DROVER_OK);
    ck_assert_uint_eq(l.count, 0);
    drover_live_list_clear(&l);
  }
  ck_assert_int_eq(P->lock_delete(st, stack, e2, &err), DROVER_OK);
  ck_assert_int_eq(P->lock_read(st, stack, &got, &er, &err), DROVER_E_NOT_FOUND);
  ck_assert_int_eq(P->lock_write(st, stack, mine, e2, &e3, &err), DROVER_E_NOT_FOUND);
  free(e1);
  free(e2);
  free(e3);
  json_decref(mine);
  json_decref(theirs);
  done(st);
}
END_TEST

/* Removes whatever this run's stack left behind; returns how many. */
static int sweep(void)
{
  drover_error err;
  drover_code rc;
  void *st = calloc(1, P->state_size);
  json_t *cfg = json_object();
  size_t i, j;
  int n = 0;

  drover_error_clear(&err);
  rc = P->init(st, cfg, &env, &err);
  for(i = 0; !rc && P->types[i]; i++) {
    drover_live_list list = {0};
    if(P->list(st, P->types[i], stack, &list, &err) == DROVER_OK)
      for(j = 0; j < list.count; j++, n++)
        P->del(st, P->types[i], list.items[j], drover_now() + 60, &err);
    drover_live_list_clear(&list);
  }
  P->cleanup(st);
  free(st);
  json_decref(cfg);
  return n;
}

int main(void)
{
  Suite *s = suite_create("live_lxd");
  TCase *tc = tcase_create("lxd");
  SRunner *sr;
  int failed, left;

  snprintf(stack, sizeof(stack), "lv-%d-%ld", (int)getpid(), (long)time(NULL) % 100000);
  if(drover_global_init())
    return 99;
  {
    drover_error err;
    drover_error_clear(&err);
#ifndef DROVER_WITH_LXD
    if(drover_provider_dir_add(TEST_BUILDDIR "/providers/.libs", &err) == DROVER_OK)
#endif
      drover_provider_get(&P, "lxd", &err);
    if(!P) {
      fprintf(stderr, "live_lxd: no LXD provider: %s\n", err.text);
      return 99;
    }
  }
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, missing_project);
  tcase_add_test(tc, bad_settings);
  tcase_add_test(tc, bad_image);
  tcase_add_test(tc, https_client_cert);
  tcase_add_test(tc, instance_lifecycle);
  tcase_add_test(tc, profile_lifecycle);
  tcase_add_test(tc, profile_in_use);
  tcase_add_test(tc, volume_lifecycle);
  tcase_add_test(tc, lock_compare_and_swap);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  left = sweep();
  if(left)
    fprintf(stderr, "live_lxd: removed %d leftover object(s) of stack %s\n", left, stack);
  drover_global_cleanup();
  return failed ? 1 : 0;
}
