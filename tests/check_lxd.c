/* check_lxd.c - the LXD provider against a scripted local LXD.
 *
 * A scripted server (scripted_server.h) listens on a unix socket in a temp
 * dir and answers each request (one per connection) from a routing table:
 * the first route whose "METHOD /path" prefix starts the request line
 * gives the status and body.
 * The provider is driven through its table (dv_provider_find("lxd")), as
 * the engine does. What is checked: replies that do not have LXD's shape
 * (error envelopes inside a 200, missing or mistyped metadata, invalid or
 * truncated JSON, a bare 404) are errors on every call path, never an
 * empty list, an absent object or a deletion.
 */
#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "engine.h"
#include "scripted_server.h"
#include "run_suite.h"

/* --------------------------------------------------------------------------
 * The scripted LXD
 */

/* The scripted server (scripted_server.h) on a unix socket, answering
 * from routes; an unrouted request gets LXD's 404. Routes are set before
 * stub_start and never change while the thread runs. */
typedef srv stub;

static void stub_route(stub *s, const char *prefix, int status, const char *body,
                       long claim)
{
  srv_route_add(s, prefix, status, body, claim);
}

static void stub_start(stub *s)
{
  srv_run(s);
}

static void stub_stop(stub *s)
{
  srv_stop(s);
}

/* Listens, with the routes every test needs: init's project probe. */
static void stub_init(stub *s)
{
  srv_listen(s, 1, NULL, 0);
  s->unrouted = "{\"type\":\"error\",\"error\":\"not found\",\"error_code\":404}";
  stub_route(s, "GET /1.0/networks", 200, "{\"type\":\"sync\",\"metadata\":[]}", -1);
}

/* --------------------------------------------------------------------------
 * The provider
 */

typedef struct prov {
  const drover_provider *vt;
  void *state;
} prov;

static const drover_rtype *type_named(const drover_provider *vt, const char *name)
{
  size_t i;

  for(i = 0; vt->types[i]; i++)
    if(!strcmp(vt->types[i]->name, name))
      return vt->types[i];
  ck_abort_msg("no type %s", name);
  return NULL;
}

static void prov_open(prov *p, stub *s)
{
  json_t *cfg = json_pack("{s:s}", "socket", s->sock);
  drover_error err;

  drover_error_clear(&err);
  p->vt = dv_provider_find("lxd");
  ck_assert_ptr_nonnull(p->vt);
  p->state = calloc(1, p->vt->state_size);
  ck_assert_ptr_nonnull(p->state);
  ck_assert_msg(p->vt->init(p->state, cfg, NULL, &err) == DROVER_OK, "init: %s", err.text);
  json_decref(cfg);
}

static void prov_close(prov *p)
{
  p->vt->cleanup(p->state);
  free(p->state);
}

/* A create or update request for name at address of stack, with props
 * (borrowed) and a deadline 30 s ahead. */
static void req_set(drover_res_req *req, const char *stack, const char *address,
                    const char *name, const json_t *props)
{
  memset(req, 0, sizeof(*req));
  req->stack = stack;
  req->address = address;
  req->name = name;
  req->hash = "0123456789abcdef";
  req->deps = "";
  req->properties = props;
  req->deadline = drover_now() + 30;
}

/* list of type against a stub answering the listing with status/body. */
static drover_code list_with(const char *type, const char *prefix, int status,
                             const char *body, long claim, size_t *count,
                             drover_error *err)
{
  stub s;
  prov p;
  drover_live_list out = {NULL, 0, 0};
  drover_code rc;

  stub_init(&s);
  stub_route(&s, "GET /1.0/storage-pools?", 200,
             "{\"type\":\"sync\",\"metadata\":[\"/1.0/storage-pools/default\"]}", -1);
  stub_route(&s, prefix, status, body, claim);
  stub_start(&s);
  prov_open(&p, &s);
  drover_error_clear(err);
  rc = p.vt->list(p.state, type_named(p.vt, type), "st", &out, err);
  *count = out.count;
  drover_live_list_clear(&out);
  prov_close(&p);
  stub_stop(&s);
  return rc;
}

#define INST_LIST "GET /1.0/instances?"
#define OK_ITEM "{\"name\":\"st-web-0\",\"status\":\"Running\",\"config\":" \
                "{\"user.drover.stack\":\"st\",\"user.drover.address\":\"web[0]\"}}"

/* --------------------------------------------------------------------------
 * Listings
 */

START_TEST(list_valid_control)
{
  drover_error err;
  size_t n = 99;

  ck_assert_int_eq(list_with("lxd.instance", INST_LIST, 200,
                             "{\"type\":\"sync\",\"metadata\":[" OK_ITEM "]}", -1, &n, &err),
                   DROVER_OK);
  ck_assert_uint_eq(n, 1);
  ck_assert_int_eq(list_with("lxd.instance", INST_LIST, 200,
                             "{\"type\":\"sync\",\"metadata\":[]}", -1, &n, &err),
                   DROVER_OK);
  ck_assert_uint_eq(n, 0);
}
END_TEST

/* Each body, given with a 200, must make the instance list fail. */
static const char *const bad_lists[] = {
  "{\"type\":\"error\",\"error\":\"Failed to fetch instances\",\"error_code\":403,"
  "\"metadata\":[]}",
  "{\"type\":\"sync\"}",                             /* no metadata */
  "{\"type\":\"sync\",\"metadata\":null}",
  "{\"type\":\"sync\",\"metadata\":{}}",             /* wrong type */
  "{\"type\":\"sync\",\"metadata\":\"none\"}",
  "{\"type\":\"sync\",\"metadata\":[\"/1.0/instances/st-web-0\"]}", /* not recursion=1 */
  "{\"metadata\":[]}",                               /* no type */
  "{\"type\":\"sync\",\"metadata\":[" OK_ITEM,       /* truncated */
  "{\"type\":\"sync\",\"metadata\":[}",              /* invalid */
  "<html>bad gateway</html>",
  "[]",
  "",
  NULL
};

START_TEST(list_bad_shapes_fail)
{
  size_t i;

  for(i = 0; bad_lists[i]; i++) {
    drover_error err;
    size_t n = 99;
    drover_code rc = list_with("lxd.instance", INST_LIST, 200, bad_lists[i], -1, &n, &err);
    ck_assert_msg(rc != DROVER_OK, "list accepted %s", bad_lists[i]);
    ck_assert_uint_eq(n, 0);
    ck_assert_msg(strstr(err.text, "lxd: "), "error text: %s", err.text);
  }
}
END_TEST

START_TEST(list_error_envelope_names_lxd_text)
{
  drover_error err;
  size_t n;

  ck_assert_int_ne(list_with("lxd.instance", INST_LIST, 200, bad_lists[0], -1, &n, &err),
                   DROVER_OK);
  ck_assert_msg(strstr(err.text, "Failed to fetch instances"), "%s", err.text);
}
END_TEST

/* An error reply whose text says the fault passes (a locked database, a
 * dropped connection, a timeout) is transient and retried by the engine;
 * the same words inside a config key or a longer word are not, so a bad
 * setting fails at once instead of being retried until the deadline. */
START_TEST(error_text_transient_only_as_words)
{
  static const struct {
    const char *text;
    drover_code want;
  } cases[] = {
    {"database is locked", DROVER_E_TRANSIENT},
    {"Get \\\"http://unix.socket/1.0\\\": EOF", DROVER_E_TRANSIENT},
    {"read unix @->/var/lib/lxd/unix.socket: i/o timeout", DROVER_E_TRANSIENT},
    {"net/http: request canceled (Client.Timeout exceeded)", DROVER_E_TRANSIENT},
    {"accept4: too many open files", DROVER_E_TRANSIENT},
    {"Instance is busy running a start operation", DROVER_E_TRANSIENT},
    {"Invalid config: Invalid value for \\\"boot.host_shutdown_timeout\\\"",
     DROVER_E_PROVIDER},
    {"Too many instances in project \\\"default\\\"", DROVER_E_PROVIDER},
    {"Unknown key \\\"user.EOFMARK\\\"", DROVER_E_PROVIDER},
    {"Invalid devices: Unsupported device type", DROVER_E_PROVIDER},
  };
  size_t i;

  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char body[300];
    drover_error err;
    size_t n;
    drover_code rc;

    snprintf(body, sizeof(body),
             "{\"type\":\"error\",\"error\":\"%s\",\"error_code\":400}", cases[i].text);
    rc = list_with("lxd.instance", INST_LIST, 400, body, -1, &n, &err);
    ck_assert_msg(rc == cases[i].want, "%s: code %d, want %d (%s)", cases[i].text, (int)rc,
                  (int)cases[i].want, err.text);
  }
}
END_TEST

/* A body cut short of its Content-Length. */
START_TEST(list_short_body_fails)
{
  drover_error err;
  size_t n = 99;

  ck_assert_int_ne(list_with("lxd.instance", INST_LIST, 200,
                             "{\"type\":\"sync\",\"metadata\":[]}", 400, &n, &err),
                   DROVER_OK);
  ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(profile_and_volume_lists_fail)
{
  drover_error err;
  size_t n = 99;

  ck_assert_int_ne(list_with("lxd.profile", "GET /1.0/profiles?", 200,
                             "{\"type\":\"sync\"}", -1, &n, &err), DROVER_OK);
  ck_assert_int_ne(list_with("lxd.storage_volume", "GET /1.0/storage-pools/default/", 200,
                             "{\"type\":\"error\",\"error\":\"x\",\"error_code\":500}", -1,
                             &n, &err), DROVER_OK);
  ck_assert_int_ne(list_with("lxd.storage_volume", "GET /1.0/storage-pools/default/", 200,
                             "{\"type\":\"sync\",\"metadata\":{}}", -1, &n, &err),
                   DROVER_OK);
  /* A bare 404 (not LXD's envelope) is no proof that the pool is empty. */
  ck_assert_int_ne(list_with("lxd.storage_volume", "GET /1.0/storage-pools/default/", 404,
                             "", -1, &n, &err), DROVER_OK);
  ck_assert_uint_eq(n, 0);
}
END_TEST

/* --------------------------------------------------------------------------
 * Read, delete, create, update, operations
 */

START_TEST(read_without_metadata_is_not_absent)
{
  stub s;
  prov p;
  drover_live *out = NULL;
  drover_error err;
  drover_code rc;

  stub_init(&s);
  stub_route(&s, "GET /1.0/instances/st-web-0", 200, "{\"type\":\"sync\"}", -1);
  stub_start(&s);
  prov_open(&p, &s);
  drover_error_clear(&err);
  rc = p.vt->read(p.state, type_named(p.vt, "lxd.instance"), "st-web-0", &out, &err);
  ck_assert_int_ne(rc, DROVER_OK);
  ck_assert_int_ne(rc, DROVER_E_NOT_FOUND);
  ck_assert_ptr_null(out);
  prov_close(&p);
  stub_stop(&s);
}
END_TEST

/* Delete of st-web-0 whose GET answers status/body: returns the code. */
static drover_code delete_with(const char *type, const char *get_prefix, int status,
                               const char *body, int *deletes, drover_error *err)
{
  stub s;
  prov p;
  drover_live *cur = drover_live_new();
  drover_code rc;

  ck_assert_ptr_nonnull(cur);
  cur->name = strdup("st-web-0");
  cur->address = strdup("web[0]");
  stub_init(&s);
  stub_route(&s, get_prefix, status, body, -1);
  /* Deleting would answer with an error envelope inside a 200. */
  stub_route(&s, "DELETE ", 200, "{\"type\":\"error\",\"error\":\"nope\",\"error_code\":500}",
             -1);
  stub_start(&s);
  prov_open(&p, &s);
  drover_error_clear(err);
  rc = p.vt->del(p.state, type_named(p.vt, type), cur, drover_now() + 30, err);
  *deletes = atomic_load(&s.deletes);
  prov_close(&p);
  stub_stop(&s);
  drover_live_free(cur);
  return rc;
}

START_TEST(delete_never_assumes_gone)
{
  static const char *const bodies[] = {
    "{\"type\":\"sync\"}",
    "{\"type\":\"sync\",\"metadata\":[]}",
    "{\"type\":\"error\",\"error\":\"Instance not found\",\"error_code\":404}",
    "{\"type\":\"sync\",\"metadata\":{\"name\":\"st-web-0\"",
    NULL
  };
  drover_error err;
  int deletes;
  size_t i;

  for(i = 0; bodies[i]; i++) {
    ck_assert_msg(delete_with("lxd.instance", "GET /1.0/instances/", 200, bodies[i],
                              &deletes, &err) != DROVER_OK, "delete accepted %s", bodies[i]);
    ck_assert_int_eq(deletes, 0);
  }
  /* A 404 without LXD's envelope is not "gone" either. */
  ck_assert_int_ne(delete_with("lxd.instance", "GET /1.0/instances/", 404, "not here",
                               &deletes, &err), DROVER_OK);
  /* The DELETE itself answered with an error envelope in a 200. */
  ck_assert_int_ne(delete_with("lxd.instance", "GET /1.0/instances/", 200,
                               "{\"type\":\"sync\",\"metadata\":{\"name\":\"st-web-0\","
                               "\"status\":\"Stopped\"}}", &deletes, &err), DROVER_OK);
  ck_assert_int_eq(deletes, 1);
  ck_assert_int_ne(delete_with("lxd.profile", "GET /1.0/profiles/", 200, "{}", &deletes,
                               &err), DROVER_OK);
  ck_assert_int_eq(deletes, 1);
}
END_TEST

START_TEST(delete_real_404_is_gone)
{
  drover_error err;
  int deletes;

  ck_assert_int_eq(delete_with("lxd.instance", "GET /1.0/instances/", 404,
                               "{\"type\":\"error\",\"error\":\"Instance not found\","
                               "\"error_code\":404,\"metadata\":null}", &deletes, &err),
                   DROVER_OK);
  ck_assert_int_eq(deletes, 0);
}
END_TEST

static drover_code create_with(const char *post_body, const char *wait_body,
                               drover_error *err)
{
  stub s;
  prov p;
  drover_res_req req;
  drover_live *out = NULL;
  json_t *props = json_pack("{s:s, s:s}", "image", "busybox", "state", "stopped");
  drover_code rc;

  stub_init(&s);
  stub_route(&s, "POST /1.0/instances", 200, post_body, -1);
  stub_route(&s, "GET /1.0/operations/", 200, wait_body, -1);
  stub_route(&s, "GET /1.0/instances/st-web-0", 200,
             "{\"type\":\"sync\",\"metadata\":{\"name\":\"st-web-0\",\"status\":\"Stopped\","
             "\"config\":{\"user.drover.stack\":\"st\",\"user.drover.address\":\"web[0]\"}}}",
             -1);
  stub_start(&s);
  prov_open(&p, &s);
  req_set(&req, "st", "web[0]", "st-web-0", props);
  drover_error_clear(err);
  rc = p.vt->create(p.state, type_named(p.vt, "lxd.instance"), &req, &out, err);
  drover_live_free(out);
  prov_close(&p);
  stub_stop(&s);
  json_decref(props);
  return rc;
}

#define OP_OK "{\"type\":\"sync\",\"metadata\":{\"status_code\":200,\"status\":\"Success\"}}"
#define ASYNC "{\"type\":\"async\",\"operation\":\"/1.0/operations/abc\",\"metadata\":{}}"

/* backup_import against a stub: what the probe for the name answers and
 * what the import POST answers. *posts: how often the POST was hit. */
/* The instance the import made, as LXD shows it: the archive of a live
 * instance carries its drover labels and the MAC LXD gave it. */
#define IMPORTED "{\"type\":\"sync\",\"metadata\":{\"name\":\"x9-new\",\"config\":" \
  "{\"user.drover.stack\":\"st\",\"user.drover.address\":\"db\"," \
  "\"volatile.eth0.hwaddr\":\"00:16:3e:00:00:01\",\"volatile.base_image\":\"abc\"," \
  "\"user.note\":\"kept\"},\"devices\":{}}}"

#define NOT_FOUND "{\"type\":\"error\",\"error\":\"Instance not found\",\"error_code\":404}"

/* How many import operations fail, and with what (0: none fail). */
static int import_op_fails;
static const char *import_op_err;

/* The relabelling PUT import_with's stub saw. */
static char import_last[SRV_REQSIZE];
static int import_renamed; /* 1: renamed after the PUT; -1: before it */
static int import_dropped; /* temporaries deleted between two import POSTs */

static drover_code import_with(int probe_status, const char *probe_body, int post_status,
                               const char *post_body, int *posts, int *puts,
                               drover_error *err)
{
  json_t *labels = json_pack("{s:s}", "stack", "st2");
  char path[] = "/tmp/check_lxd-import-XXXXXX";
  int fd = mkstemp(path);
  stub s;
  prov p;
  drover_code rc;
  size_t i;

  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, "tarball", 7), 7);
  close(fd);
  stub_init(&s);
  stub_route(&s, "GET /1.0/instances/x9-new", probe_status, probe_body, -1);
  /* The temporary name it is imported under: no leftover of a killed
   * import at first, then the imported instance. */
  stub_route(&s, "GET /1.0/instances/drover-import-", 404, NOT_FOUND, -1);
  s.routes[s.nroutes - 1].first = 1;
  s.routes[s.nroutes - 1].later = IMPORTED;
  s.routes[s.nroutes - 1].later_status = 200;
  stub_route(&s, "PUT /1.0/instances/drover-import-", 200, OP_OK, -1);
  stub_route(&s, "DELETE /1.0/instances/drover-import-", 200, OP_OK, -1);
  /* Nothing running on it when a leftover is dropped. */
  stub_route(&s, "GET /1.0/operations?", 200,
             "{\"type\":\"sync\",\"metadata\":{\"running\":[]}}", -1);
  stub_route(&s, "POST /1.0/instances/drover-import-", 202, ASYNC, -1);
  stub_route(&s, "POST /1.0/instances?", post_status, post_body, -1);
  /* Counted: the stub counts hits of a route that answers "first" times. */
  s.routes[s.nroutes - 1].first = 1000;
  s.routes[s.nroutes - 1].later = post_body;
  if(import_op_fails) {
    /* The import's operations fail first; the rename's comes after. */
    stub_route(&s, "GET /1.0/operations/", 200, import_op_err, -1);
    s.routes[s.nroutes - 1].first = import_op_fails;
    s.routes[s.nroutes - 1].later = OP_OK;
  }
  else
    stub_route(&s, "GET /1.0/operations/", 200, OP_OK, -1);
  stub_start(&s);
  prov_open(&p, &s);
  drover_error_clear(err);
  rc = p.vt->backup_import(p.state, path, "x9-new", labels, 0, drover_now() + 30, err);
  prov_close(&p);
  stub_stop(&s);
  json_decref(labels);
  /* In the order sent: the relabelling PUT, then the rename to its name. */
  import_last[0] = 0;
  import_renamed = 0;
  import_dropped = 0;
  {
    int seen_post = 0, pending = 0;
    for(i = 0; i < SRV_MAXREQ && s.req[i][0]; i++) {
      if(!strncmp(s.req[i], "POST /1.0/instances?", 20)) {
        import_dropped += seen_post && pending;
        seen_post = 1;
        pending = 0;
      }
      else if(!strncmp(s.req[i], "DELETE /1.0/instances/drover-import-", 36))
        pending = 1;
    }
  }
  for(i = 0; i < SRV_MAXREQ && s.req[i][0]; i++) {
    if(!strncmp(s.req[i], "PUT ", 4))
      snprintf(import_last, sizeof(import_last), "%s", s.req[i]);
    if(!strncmp(s.req[i], "POST /1.0/instances/drover-import-", 34) &&
       strstr(s.req[i], "{\"name\":\"x9-new\"}"))
      import_renamed = import_last[0] ? 1 : -1;
  }
  *posts = 0;
  for(i = 0; i < s.nroutes; i++)
    if(!strcmp(s.routes[i].prefix, "POST /1.0/instances?"))
      *posts = s.routes[i].hits;
  *puts = atomic_load(&s.puts);
  unlink(path);
  return rc;
}

START_TEST(backup_import_checks)
{
  drover_error err;
  int posts, puts;

  /* An existing name is refused before any byte of the archive is sent. */
  ck_assert_int_eq(import_with(200, "{\"type\":\"sync\",\"metadata\":{\"name\":\"x9-new\"}}",
                               202, ASYNC, &posts, &puts, &err),
                   DROVER_E_CONFLICT);
  ck_assert_ptr_nonnull(strstr(err.text, "already exists"));
  ck_assert_int_eq(posts, 0);
  /* LXD refusing the archive: its own words, and nothing started. */
  ck_assert_int_eq(import_with(404, NOT_FOUND, 400,
                               "{\"type\":\"error\",\"error\":\"Invalid backup file\","
                               "\"error_code\":400}", &posts, &puts, &err),
                   DROVER_E_PROVIDER);
  ck_assert_ptr_nonnull(strstr(err.text, "Invalid backup file"));
  ck_assert_int_eq(posts, 1);
  ck_assert_int_eq(puts, 0);
  /* A 2xx that is not an operation is not an import. */
  ck_assert_int_ne(import_with(404, NOT_FOUND, 200, "{\"type\":\"sync\",\"metadata\":{}}",
                               &posts, &puts, &err), DROVER_OK);
  /* Control: accepted and waited for. */
  ck_assert_msg(import_with(404, NOT_FOUND, 202, ASYNC, &posts, &puts, &err) == DROVER_OK,
                "%s", err.text);
  ck_assert_int_eq(posts, 1);
  /* The archive's drover labels give way to the ones given, and the MAC
   * LXD generated goes (a copy beside the original must not share it);
   * the rest of the config stays. */
  ck_assert_int_eq(puts, 1);
  ck_assert_msg(strstr(import_last, "PUT /1.0/instances/drover-import-"), "%s", import_last);
  ck_assert_int_eq(import_renamed, 1);
  ck_assert_msg(strstr(import_last, "\"user.drover.stack\":\"st2\""), "%s", import_last);
  ck_assert_msg(!strstr(import_last, "user.drover.address"), "%s", import_last);
  ck_assert_msg(!strstr(import_last, "hwaddr"), "%s", import_last);
  ck_assert_msg(strstr(import_last, "\"volatile.base_image\":\"abc\""), "%s", import_last);
  ck_assert_msg(strstr(import_last, "\"user.note\":\"kept\""), "%s", import_last);
}
END_TEST

/* A failed import operation, as LXD 5.0 reports its unpack of an upload
 * read from the wrong offset (lxd_import.c, unpack_raced), or (corrupt)
 * of a truncated archive. */
#define OP_FAIL(why) "{\"type\":\"sync\",\"metadata\":{\"status_code\":400," \
  "\"status\":\"Failure\",\"err\":\"Create instance from backup: Error starting " \
  "unpack: Failed to run: tar -zxf - --strip-components=2 backup/container: " \
  "Process exited with non-zero value 2 (" why ")\"}}"

START_TEST(backup_import_unpack_race)
{
  drover_error err;
  int posts, puts;

  /* LXD's read race: the archive is sent again, and the third try lands. */
  import_op_err = OP_FAIL("gzip: stdin: not in gzip format tar: Child died with signal 13");
  import_op_fails = 2;
  ck_assert_msg(import_with(404, NOT_FOUND, 202, ASYNC, &posts, &puts, &err) == DROVER_OK,
                "%s", err.text);
  ck_assert_int_eq(posts, 3);
  /* What LXD may have left of a try goes before the next. */
  ck_assert_int_eq(import_dropped, 2);
  /* xz's words for the same race. */
  import_op_err = OP_FAIL("xz: (stdin): File format not recognized");
  import_op_fails = 1;
  ck_assert_msg(import_with(404, NOT_FOUND, 202, ASYNC, &posts, &puts, &err) == DROVER_OK,
                "%s", err.text);
  ck_assert_int_eq(posts, 2);
  import_op_err = OP_FAIL("gzip: stdin: not in gzip format tar: Child died with signal 13");
  /* Three races in a row: given up, with LXD's words. */
  import_op_fails = 3;
  ck_assert_int_eq(import_with(404, NOT_FOUND, 202, ASYNC, &posts, &puts, &err),
                   DROVER_E_PROVIDER);
  ck_assert_int_eq(posts, 3);
  ck_assert_msg(strstr(err.text, "not in gzip format"), "%s", err.text);
  /* A truncated archive is not a race: one try. */
  import_op_err = OP_FAIL("gzip: stdin: unexpected end of file");
  import_op_fails = 1;
  ck_assert_int_eq(import_with(404, NOT_FOUND, 202, ASYNC, &posts, &puts, &err),
                   DROVER_E_PROVIDER);
  ck_assert_int_eq(posts, 1);
  ck_assert_msg(strstr(err.text, "unexpected end of file"), "%s", err.text);
  import_op_fails = 0;
}
END_TEST

START_TEST(create_checks_replies)
{
  drover_error err;

  ck_assert_int_eq(create_with(ASYNC, OP_OK, &err), DROVER_OK); /* control */
  ck_assert_int_ne(create_with("{\"type\":\"error\",\"error\":\"Failed creating "
                               "instance record\",\"error_code\":400}", OP_OK, &err),
                   DROVER_OK);
  ck_assert_msg(strstr(err.text, "Failed creating instance record"), "%s", err.text);
  ck_assert_int_ne(create_with("{\"type\":\"async\",\"metadata\":{}}", OP_OK, &err),
                   DROVER_OK);
  ck_assert_int_ne(create_with("{\"type\":\"asy", OP_OK, &err), DROVER_OK);
  /* The operation's own reply. */
  ck_assert_int_ne(create_with(ASYNC, "{\"type\":\"sync\",\"metadata\":{}}", &err),
                   DROVER_OK);
  ck_assert_int_ne(create_with(ASYNC, "{\"type\":\"sync\"}", &err), DROVER_OK);
  ck_assert_int_ne(create_with(ASYNC, "{\"type\":\"error\",\"error\":\"x\","
                               "\"error_code\":400}", &err), DROVER_OK);
  ck_assert_int_ne(create_with(ASYNC, "{\"type\":\"sync\",\"metadata\":{\"status_code\":20",
                               &err), DROVER_OK);
}
END_TEST

START_TEST(update_error_envelope_fails)
{
  stub s;
  prov p;
  drover_res_req req;
  drover_live *cur = drover_live_new(), *out = NULL;
  json_t *props = json_pack("{s:{}, s:{}, s:s}", "config", "devices", "description", "x");
  drover_error err;
  drover_code rc;

  stub_init(&s);
  stub_route(&s, "GET /1.0/profiles/st-p", 200,
             "{\"type\":\"sync\",\"metadata\":{\"name\":\"st-p\",\"config\":{}}}", -1);
  stub_route(&s, "PUT /1.0/profiles/st-p", 200,
             "{\"type\":\"error\",\"error\":\"Profile is busy\",\"error_code\":400}", -1);
  stub_start(&s);
  prov_open(&p, &s);
  cur->name = strdup("st-p");
  req_set(&req, "st", "p", "st-p", props);
  drover_error_clear(&err);
  rc = p.vt->update(p.state, type_named(p.vt, "lxd.profile"), &req, cur, &out, &err);
  ck_assert_int_ne(rc, DROVER_OK);
  ck_assert_int_eq(atomic_load(&s.puts), 1);
  ck_assert_msg(strstr(err.text, "Profile is busy"), "%s", err.text);
  drover_live_free(out);
  drover_live_free(cur);
  prov_close(&p);
  stub_stop(&s);
  json_decref(props);
}
END_TEST

/* Policy records share the profile listing: each type takes only its own
 * kind, and a scale.policy's run label comes back as an attribute. */
START_TEST(records_by_kind_with_run_labels)
{
  static const char listing[] =
    "{\"type\":\"sync\",\"metadata\":["
    "{\"name\":\"st-p\",\"config\":{\"user.drover.stack\":\"st\","
    "\"user.drover.address\":\"p\"}},"
    "{\"name\":\"st-nightly\",\"config\":{\"user.drover.stack\":\"st\","
    "\"user.drover.address\":\"nightly\",\"user.drover_kind\":\"backup.policy\","
    "\"user.drover_policy\":\"{}\"}},"
    "{\"name\":\"st-hours\",\"config\":{\"user.drover.stack\":\"st\","
    "\"user.drover.address\":\"hours\",\"user.drover_kind\":\"scale.policy\","
    "\"user.drover_policy\":\"{\\\"target\\\":\\\"web\\\"}\","
    "\"user.drover.scale_decision\":\"{\\\"count\\\":3}\"}}]}";
  static const char *const types[] = {"lxd.profile", "backup.policy", "scale.policy"};
  static const char *const names[] = {"st-p", "st-nightly", "st-hours"};
  stub s;
  prov p;
  drover_error err;
  size_t i;

  stub_init(&s);
  stub_route(&s, "GET /1.0/profiles?", 200, listing, -1);
  stub_route(&s, "PATCH /1.0/profiles/st-hours", 200,
             "{\"type\":\"sync\",\"metadata\":{}}", -1);
  stub_start(&s);
  prov_open(&p, &s);
  for(i = 0; i < 3; i++) {
    drover_live_list out = {NULL, 0, 0};
    drover_error_clear(&err);
    ck_assert_int_eq(p.vt->list(p.state, type_named(p.vt, types[i]), "st", &out, &err),
                     DROVER_OK);
    ck_assert_uint_eq(out.count, 1);
    ck_assert_str_eq(out.items[0]->name, names[i]);
    if(i == 2) {
      json_t *a = out.items[0]->attributes;
      ck_assert_str_eq(json_string_value(json_object_get(a, "label_scale_decision")),
                       "{\"count\":3}");
      ck_assert_ptr_null(json_object_get(a, "label_stack"));
      ck_assert_str_eq(json_string_value(json_object_get(out.items[0]->properties,
                                                         "target")), "web");
    }
    drover_live_list_clear(&out);
  }
  /* label_set: a PATCH of the record; never an ownership label, never on
   * a volume. */
  drover_error_clear(&err);
  ck_assert_int_eq(p.vt->label_set(p.state, type_named(p.vt, "scale.policy"), "st-hours",
                                   "scale_decision", "{}", &err), DROVER_OK);
  drover_error_clear(&err);
  ck_assert_int_eq(p.vt->label_set(p.state, type_named(p.vt, "scale.policy"), "st-hours",
                                   "stack", "other", &err), DROVER_E_ARG);
  drover_error_clear(&err);
  ck_assert_int_eq(p.vt->label_set(p.state, type_named(p.vt, "scale.policy"), "st-hours",
                                   "Bad-Key", "x", &err), DROVER_E_ARG);
  drover_error_clear(&err);
  ck_assert_int_eq(p.vt->label_set(p.state, type_named(p.vt, "lxd.storage_volume"), "v",
                                   "scale_decision", "x", &err), DROVER_E_UNSUPPORTED);
  prov_close(&p);
  stub_stop(&s);
}
END_TEST

/* The stop was made but its reply lost; the retry says "already stopped".
 * The instance's state decides: the delete goes on. */
START_TEST(stop_already_done_counts)
{
  stub s;
  prov p;
  drover_live *cur = drover_live_new();
  drover_error err;
  drover_code rc;

  stub_init(&s);
  stub_route(&s, "GET /1.0/instances/st-web-0", 200,
             "{\"type\":\"sync\",\"metadata\":{\"name\":\"st-web-0\",\"status\":\"Running\"}}",
             -1);
  s.routes[s.nroutes - 1].first = 1;
  s.routes[s.nroutes - 1].later =
    "{\"type\":\"sync\",\"metadata\":{\"name\":\"st-web-0\",\"status\":\"Stopped\"}}";
  stub_route(&s, "PUT /1.0/instances/st-web-0/state", 400,
             "{\"type\":\"error\",\"error\":\"The instance is already stopped\","
             "\"error_code\":400}", -1);
  stub_route(&s, "DELETE /1.0/instances/st-web-0", 200, ASYNC, -1);
  stub_route(&s, "GET /1.0/operations/", 200, OP_OK, -1);
  stub_start(&s);
  prov_open(&p, &s);
  cur->name = strdup("st-web-0");
  drover_error_clear(&err);
  rc = p.vt->del(p.state, type_named(p.vt, "lxd.instance"), cur, drover_now() + 30, &err);
  ck_assert_msg(rc == DROVER_OK, "%s", err.text);
  ck_assert_int_eq(atomic_load(&s.deletes), 1);
  prov_close(&p);
  stub_stop(&s);
  drover_live_free(cur);
}
END_TEST

/* Control: "already stopped" while the instance is still running is an
 * error, and nothing is deleted. */
START_TEST(stop_failed_is_error)
{
  stub s;
  prov p;
  drover_live *cur = drover_live_new();
  drover_error err;

  stub_init(&s);
  stub_route(&s, "GET /1.0/instances/st-web-0", 200,
             "{\"type\":\"sync\",\"metadata\":{\"name\":\"st-web-0\",\"status\":\"Running\"}}",
             -1);
  stub_route(&s, "PUT /1.0/instances/st-web-0/state", 400,
             "{\"type\":\"error\",\"error\":\"The instance is already stopped\","
             "\"error_code\":400}", -1);
  stub_start(&s);
  prov_open(&p, &s);
  cur->name = strdup("st-web-0");
  drover_error_clear(&err);
  ck_assert_int_ne(p.vt->del(p.state, type_named(p.vt, "lxd.instance"), cur,
                             drover_now() + 30, &err), DROVER_OK);
  ck_assert_msg(strstr(err.text, "already stopped"), "%s", err.text);
  ck_assert_int_eq(atomic_load(&s.deletes), 0);
  prov_close(&p);
  stub_stop(&s);
  drover_live_free(cur);
}
END_TEST

#define NOT_FOUND_BODY "{\"type\":\"error\",\"error\":\"not found\",\"error_code\":404}"
#define STOPPED_BODY "{\"type\":\"sync\",\"metadata\":{\"name\":\"st-web-0\"," \
                     "\"status\":\"Stopped\"}}"

/* The DELETE's operation is forgotten (404 on its wait) before drover
 * reads its result. The instance read back decides: still there is a
 * failure (never "deleted"), gone is success. */
static drover_code delete_forgotten(int gone_after, int *deletes, drover_error *err)
{
  stub s;
  prov p;
  drover_live *cur = drover_live_new();
  drover_code rc;

  stub_init(&s);
  stub_route(&s, "GET /1.0/instances/st-web-0", 200, STOPPED_BODY, -1);
  if(gone_after) {
    s.routes[s.nroutes - 1].first = 1;
    s.routes[s.nroutes - 1].later = NOT_FOUND_BODY;
    s.routes[s.nroutes - 1].later_status = 404;
  }
  stub_route(&s, "DELETE /1.0/instances/st-web-0", 200, ASYNC, -1);
  stub_route(&s, "GET /1.0/operations/", 404, NOT_FOUND_BODY, -1);
  stub_start(&s);
  prov_open(&p, &s);
  cur->name = strdup("st-web-0");
  drover_error_clear(err);
  rc = p.vt->del(p.state, type_named(p.vt, "lxd.instance"), cur, drover_now() + 30, err);
  *deletes = atomic_load(&s.deletes);
  prov_close(&p);
  stub_stop(&s);
  drover_live_free(cur);
  return rc;
}

START_TEST(forgotten_operation_is_read_back)
{
  drover_error err;
  int deletes;

  ck_assert_int_eq(delete_forgotten(0, &deletes, &err), DROVER_E_TRANSIENT);
  ck_assert_int_eq(deletes, 1);
  ck_assert_msg(strstr(err.text, "ended unseen"), "%s", err.text);
  ck_assert_int_eq(delete_forgotten(1, &deletes, &err), DROVER_OK);
  ck_assert_int_eq(deletes, 1);
}
END_TEST

/* --------------------------------------------------------------------------
 * Create-then-adopt: a create LXD answers with "already exists" (a retry
 * after a lost reply) adopts the object only when it carries this stack's
 * labels for this address
 */

#define ADOPT_TAKEN "{\"type\":\"error\",\"error\":\"Object already exists\"," \
                    "\"error_code\":409}"
#define ADOPT_OP_TAKEN "{\"type\":\"sync\",\"metadata\":{\"status_code\":400," \
                       "\"status\":\"Failure\",\"err\":\"Object already exists\"}}"
/* An operation refused because another object of that name exists (a
 * volume left by a failed create, say). */
#define ADOPT_OP_OTHER "{\"type\":\"sync\",\"metadata\":{\"status_code\":400," \
                       "\"status\":\"Failure\",\"err\":\"Storage volume already exists\"}}"
#define ADOPT_OBJ(stack) "{\"type\":\"sync\",\"metadata\":{\"name\":\"st-x\"," \
  "\"status\":\"Stopped\",\"config\":{\"user.drover.stack\":\"" stack "\"," \
  "\"user.drover.address\":\"x\"}}}"
#define ADOPT_OURS ADOPT_OBJ("st")
#define ADOPT_THEIRS ADOPT_OBJ("other")

/* Creates st-x (address x) of type "instance", "profile" or "volume"
 * against a stub whose POST answers post_status/post_body (an operation
 * then answers op_body) and whose GET of the object answers get_body
 * (NULL: 404), after absent_first 404s. *posts, *puts: requests sent. */
static drover_code adopt_with(const char *type, int post_status, const char *post_body,
                              const char *op_body, int absent_first,
                              const char *get_body, int *posts, int *puts,
                              drover_error *err)
{
  static const char vols[] = "/1.0/storage-pools/default/volumes/custom";
  char post[128], get[160], tname[32];
  json_t *props = json_pack("{s:s, s:s}", "image", "busybox", "state", "stopped");
  drover_res_req req;
  drover_live *out = NULL;
  stub s;
  prov p;
  drover_code rc;
  size_t i;

  if(!strcmp(type, "volume"))
    snprintf(post, sizeof(post), "POST %s", vols);
  else
    snprintf(post, sizeof(post), "POST /1.0/%ss", type);
  snprintf(get, sizeof(get), "GET %s/st-x", post + 5);
  snprintf(tname, sizeof(tname), "lxd.%s",
           strcmp(type, "volume") ? type : "storage_volume");
  stub_init(&s);
  stub_route(&s, post, post_status, post_body, -1);
  stub_route(&s, "GET /1.0/operations/", 200, op_body ? op_body : OP_OK, -1);
  stub_route(&s, get, get_body ? 200 : 404, get_body ? get_body : NOT_FOUND, -1);
  if(absent_first && get_body) {
    s.routes[s.nroutes - 1].status = 404;
    s.routes[s.nroutes - 1].body = NOT_FOUND;
    s.routes[s.nroutes - 1].first = absent_first;
    s.routes[s.nroutes - 1].later = get_body;
    s.routes[s.nroutes - 1].later_status = 200;
  }
  stub_route(&s, "PUT /1.0/", 200, "{\"type\":\"sync\",\"metadata\":{}}", -1);
  stub_start(&s);
  prov_open(&p, &s);
  req_set(&req, "st", "x", "st-x", props);
  drover_error_clear(err);
  rc = p.vt->create(p.state, type_named(p.vt, tname), &req, &out, err);
  ck_assert(rc != DROVER_OK || out);
  drover_live_free(out);
  prov_close(&p);
  stub_stop(&s);
  *posts = 0;
  for(i = 0; i < SRV_MAXREQ && s.req[i][0]; i++)
    *posts += !strncmp(s.req[i], "POST ", 5);
  *puts = atomic_load(&s.puts);
  json_decref(props);
  return rc;
}

/* err's text holds want. */
#define ck_text(err, want) ck_assert_msg(strstr((err).text, want), "%s", (err).text)

START_TEST(create_adopts_only_its_own)
{
  static const char *const types[] = {"instance", "profile", "volume"};
  static const char *const taken[] = {
    "instance \"st-x\" already exists and is not owned by this stack",
    "profile \"st-x\" already exists and is not owned by this stack",
    ("storage volume \"st-x\" already exists in pool \"default\" and is not owned by "
     "this stack")};
  drover_error err;
  int posts, puts;
  size_t t;

  for(t = 0; t < 3; t++) {
    /* Ours (the profile is read once before its POST): adopted, and the
     * desired state written over it. */
    int first = t == 1;
    ck_assert_msg(adopt_with(types[t], 409, ADOPT_TAKEN, NULL, first, ADOPT_OURS, &posts,
                             &puts, &err) == DROVER_OK, "%s: %s", types[t], err.text);
    ck_assert_int_eq(posts, 1);
    ck_assert_int_eq(puts, 1);
    /* Another stack's: a conflict naming it, nothing written. */
    ck_assert_int_eq(adopt_with(types[t], 409, ADOPT_TAKEN, NULL, first, ADOPT_THEIRS,
                                &posts, &puts, &err), DROVER_E_PROVIDER);
    ck_text(err, taken[t]);
    ck_assert_int_eq(puts, 0);
    /* Control: a create that went through writes nothing more. */
    ck_assert_msg(adopt_with(types[t], first ? 200 : 202, first ? OP_OK : ASYNC, NULL,
                             first, ADOPT_OURS, &posts, &puts, &err) == DROVER_OK,
                  "%s: %s", types[t], err.text);
    ck_assert_int_eq(posts, 1);
    ck_assert_int_eq(puts, 0);
  }
  /* "Already exists" from the operation, not the POST: the same. */
  ck_assert_int_eq(adopt_with("instance", 202, ASYNC, ADOPT_OP_TAKEN, 0, ADOPT_OURS,
                              &posts, &puts, &err), DROVER_OK);
  ck_assert_int_eq(puts, 1);
  ck_assert_int_eq(adopt_with("volume", 202, ASYNC, ADOPT_OP_TAKEN, 0, ADOPT_THEIRS,
                              &posts, &puts, &err), DROVER_E_PROVIDER);
  ck_text(err, taken[2]);
  /* A profile found by the read before the POST is adopted without one. */
  ck_assert_int_eq(adopt_with("profile", 409, ADOPT_TAKEN, NULL, 0, ADOPT_OURS, &posts,
                              &puts, &err), DROVER_OK);
  ck_assert_int_eq(posts, 0);
  ck_assert_int_eq(puts, 1);
  ck_assert_int_eq(adopt_with("profile", 409, ADOPT_TAKEN, NULL, 0, ADOPT_THEIRS,
                              &posts, &puts, &err), DROVER_E_PROVIDER);
  ck_assert_int_eq(posts, 0);
  ck_text(err, taken[1]);
}
END_TEST

/* Said to exist, but gone when read back (deleted between the POST and
 * the GET): transient for every type, naming what vanished and quoting
 * LXD (whose "already exists" may be of another object, which a retry
 * cannot fix), so that the engine's retry creates it again; nothing
 * written. An object there but another stack's stays "not owned" (the
 * control). */
START_TEST(create_gone_after_exists_is_transient)
{
  static const char *const types[] = {"instance", "profile", "volume"};
  static const char *const gone[] = {
    "instance \"st-x\" vanished after LXD reported it as existing",
    "profile \"st-x\" vanished after LXD reported it as existing",
    ("storage volume \"st-x\" in pool \"default\" vanished after LXD reported it as "
     "existing")};
  drover_error err;
  int posts, puts;
  size_t t;

  for(t = 0; t < 3; t++) {
    /* The profile's read before its POST finds it absent too. */
    int first = t == 1;
    ck_assert_int_eq(adopt_with(types[t], 409, ADOPT_TAKEN, NULL, 0, NULL, &posts, &puts,
                                &err), DROVER_E_TRANSIENT);
    ck_text(err, gone[t]);
    ck_text(err, "(LXD: \"Object already exists\")");
    ck_assert_msg(!strstr(err.text, "not owned"), "%s", err.text);
    ck_assert_int_eq(posts, 1);
    ck_assert_int_eq(puts, 0);
    /* "Already exists" from the operation, not the POST (profiles have
     * none): the same, with the operation's own words. */
    if(!first) {
      ck_assert_int_eq(adopt_with(types[t], 202, ASYNC, ADOPT_OP_OTHER, 0, NULL, &posts,
                                  &puts, &err), DROVER_E_TRANSIENT);
      ck_text(err, gone[t]);
      ck_text(err, "(LXD: \"Storage volume already exists\"); if this repeats");
    }
    /* Control: read back as another stack's, after the same POST. */
    ck_assert_int_eq(adopt_with(types[t], 409, ADOPT_TAKEN, NULL, first, ADOPT_THEIRS,
                                &posts, &puts, &err), DROVER_E_PROVIDER);
    ck_text(err, "already exists");
    ck_text(err, "is not owned by this stack");
    ck_assert_int_eq(posts, 1);
    ck_assert_int_eq(puts, 0);
  }
}
END_TEST

/* Updates st-x (address x; named by cur when the request names nothing)
 * of type "instance", "profile" or "volume" with the plan's ETag "e9",
 * against a stub whose GET of the object answers get_body (NULL: 404).
 * The PUT it sent, if any, in put (SRV_REQSIZE bytes). */
static drover_code update_with(const char *type, int by_cur, const char *get_body,
                               char *put, drover_error *err)
{
  char get[160], tname[32];
  json_t *props = json_pack("{s:s, s:s}", "image", "busybox", "state", "stopped");
  drover_res_req req;
  drover_live *cur = drover_live_new(), *out = NULL;
  stub s;
  prov p;
  drover_code rc;
  size_t i;

  if(!strcmp(type, "volume"))
    snprintf(get, sizeof(get), "GET /1.0/storage-pools/default/volumes/custom/st-x");
  else
    snprintf(get, sizeof(get), "GET /1.0/%ss/st-x", type);
  snprintf(tname, sizeof(tname), "lxd.%s",
           strcmp(type, "volume") ? type : "storage_volume");
  stub_init(&s);
  stub_route(&s, get, get_body ? 200 : 404, get_body ? get_body : NOT_FOUND, -1);
  stub_route(&s, "PUT /1.0/", 200, "{\"type\":\"sync\",\"metadata\":{}}", -1);
  stub_start(&s);
  prov_open(&p, &s);
  req_set(&req, "st", "x", by_cur ? NULL : "st-x", props);
  req.if_match = "\"e9\"";
  cur->name = strdup("st-x");
  drover_error_clear(err);
  rc = p.vt->update(p.state, type_named(p.vt, tname), &req, cur, &out, err);
  ck_assert(rc != DROVER_OK || out);
  drover_live_free(out);
  drover_live_free(cur);
  prov_close(&p);
  stub_stop(&s);
  put[0] = 0;
  for(i = 0; i < SRV_MAXREQ && s.req[i][0]; i++)
    if(!strncmp(s.req[i], "PUT ", 4))
      snprintf(put, SRV_REQSIZE, "%s", s.req[i]);
  json_decref(props);
  return rc;
}

/* An update writes over the object with the plan's ETag; one gone is
 * "not found", naming it (and its pool). */
START_TEST(update_reads_then_writes)
{
  static const char *const types[] = {"instance", "profile", "volume"};
  static const char *const gone[] = {
    "instance \"st-x\" not found", "profile \"st-x\" not found",
    "storage volume \"st-x\" not found in pool \"default\""};
  static char put[SRV_REQSIZE];
  drover_error err;
  size_t t;

  for(t = 0; t < 3; t++) {
    ck_assert_msg(update_with(types[t], t == 1, ADOPT_OURS, put, &err) == DROVER_OK,
                  "%s: %s", types[t], err.text);
    ck_assert_msg(strstr(put, "/st-x?"), "%s: %s", types[t], put);
    ck_assert_msg(strstr(put, "If-Match: \"e9\""), "%s: %s", types[t], put);
    ck_assert_int_eq(update_with(types[t], t != 1, NULL, put, &err), DROVER_E_NOT_FOUND);
    ck_text(err, gone[t]);
    ck_assert_str_eq(put, "");
  }
}
END_TEST

/* A snapshot whose POST answers post_status/post_body (its operation:
 * op_body). *existed as the op reports it. */
static drover_code snapshot_with(int post_status, const char *post_body,
                                 const char *op_body, int *existed, drover_error *err)
{
  stub s;
  prov p;
  drover_code rc;

  stub_init(&s);
  stub_route(&s, "PATCH /1.0/instances/st-web-0", 200,
             "{\"type\":\"sync\",\"metadata\":{}}", -1);
  stub_route(&s, "POST /1.0/instances/st-web-0/snapshots", post_status, post_body, -1);
  stub_route(&s, "GET /1.0/operations/", 200, op_body, -1);
  stub_start(&s);
  prov_open(&p, &s);
  drover_error_clear(err);
  *existed = -1;
  rc = p.vt->snapshot_create(p.state, "st-web-0", "snap1", "nightly", "x",
                             drover_now() + 30, existed, err);
  prov_close(&p);
  stub_stop(&s);
  return rc;
}

/* A snapshot that exists already (a retry) is reported, not an error. */
START_TEST(snapshot_existing_is_reported)
{
  drover_error err;
  int existed;

  ck_assert_int_eq(snapshot_with(202, ASYNC, OP_OK, &existed, &err), DROVER_OK);
  ck_assert_int_eq(existed, 0); /* control */
  ck_assert_int_eq(snapshot_with(409, ADOPT_TAKEN, OP_OK, &existed, &err), DROVER_OK);
  ck_assert_int_eq(existed, 1);
  ck_assert_int_eq(snapshot_with(202, ASYNC, ADOPT_OP_TAKEN, &existed, &err), DROVER_OK);
  ck_assert_int_eq(existed, 1);
  ck_assert_int_eq(snapshot_with(202, ASYNC, "{\"type\":\"sync\",\"metadata\":{"
                                 "\"status_code\":400,\"err\":\"Disk full\"}}", &existed,
                                 &err), DROVER_E_PROVIDER);
  ck_text(err, "Disk full");
}
END_TEST

/* LXD's message carries "lxd: <address>:" once, also when the resource
 * is called "instance" (the node template's) and when the engine locates
 * an error the provider wrote without an address. */
START_TEST(error_prefix_once)
{
  stub s;
  prov p;
  drover_res_req req;
  drover_live *out = NULL;
  json_t *props = json_pack("{s:s}", "image", "nosuch");
  drover_error err;
  char line[DROVER_ERROR_TEXT + 300];

  stub_init(&s);
  stub_route(&s, "POST /1.0/instances", 400,
             "{\"type\":\"error\",\"error\":\"Image not found\",\"error_code\":400}", -1);
  stub_start(&s);
  prov_open(&p, &s);
  req_set(&req, "node-cloud1", "instance", "cloud1", props);
  drover_error_clear(&err);
  ck_assert_int_ne(p.vt->create(p.state, type_named(p.vt, "lxd.instance"), &req, &out,
                                &err), DROVER_OK);
  drover_error_locate(&err, "lxd", "instance"); /* as apply does */
  ck_assert_str_eq(drover_error_format(&err, line, sizeof(line)),
                   "lxd: instance: Image not found");
  prov_close(&p);
  stub_stop(&s);
  json_decref(props);
  /* Written without an address, located by the engine afterwards. */
  drover_error_clear(&err);
  drover_error_set(&err, DROVER_E_NOT_FOUND, "lxd: instance \"st-web-0\" not found");
  drover_error_locate(&err, "lxd", NULL); /* lxd_fail without an address */
  drover_error_locate(&err, "lxd", "web[0]");
  ck_assert_str_eq(drover_error_format(&err, line, sizeof(line)),
                   "lxd: web[0]: instance \"st-web-0\" not found");
}
END_TEST

/* --------------------------------------------------------------------------
 * The stack lease (lxd_lease.c): LXD's answers mapped to the lock ops'
 * compare-and-swap outcomes
 */

#define LOCK_GET "GET /1.0/profiles/drover-lock-st"
#define LOCK_BODY(extra) "{\"type\":\"sync\",\"metadata\":{\"name\":\"drover-lock-st\"," \
  "\"config\":{\"user.drover_kind\":\"stack.lock\",\"user.drover_lock.id\":\"x\"" extra "}}}"

/* One lock op against a stub with the given routes (prefix, status, body,
 * etag; prefix NULL ends them). op: 'r'ead, 'c'reate, 'w'rite, 'd'elete. */
typedef struct lroute { const char *prefix; int status; const char *body, *etag; } lroute;

static drover_code lock_op(char op, const lroute *routes, json_t **record, char **etag,
                           int *deletes, drover_error *err)
{
  stub s;
  prov p;
  /* LXD drops a config key set to "": read back without "job", it is
   * still the record written. */
  json_t *mine = json_pack("{s:s, s:s}", "id", "x", "job", "");
  drover_code rc = DROVER_E_INTERNAL;
  size_t i;

  stub_init(&s);
  for(i = 0; routes[i].prefix; i++) {
    stub_route(&s, routes[i].prefix, routes[i].status, routes[i].body, -1);
    s.routes[s.nroutes - 1].etag = routes[i].etag;
  }
  stub_start(&s);
  prov_open(&p, &s);
  drover_error_clear(err);
  *record = NULL;
  *etag = NULL;
  if(op == 'r')
    rc = p.vt->lock_read(p.state, "st", record, etag, err);
  else if(op == 'c')
    rc = p.vt->lock_create(p.state, "st", mine, etag, err);
  else if(op == 'w')
    rc = p.vt->lock_write(p.state, "st", mine, "\"e1\"", etag, err);
  else if(op == 'd')
    rc = p.vt->lock_delete(p.state, "st", "\"e1\"", err);
  *deletes = atomic_load(&s.deletes);
  prov_close(&p);
  stub_stop(&s);
  json_decref(mine);
  return rc;
}

START_TEST(lock_ops_map_lxd_answers)
{
  static const lroute held[] = {{LOCK_GET, 200, LOCK_BODY(",\"user.x\":\"y\""), "\"e1\""},
                                {NULL, 0, NULL, NULL}};
  static const lroute foreign[] = {{LOCK_GET, 200, "{\"type\":\"sync\",\"metadata\":"
                                    "{\"name\":\"drover-lock-st\",\"config\":{}}}", "\"e1\""},
                                   {NULL, 0, NULL, NULL}};
  static const lroute absent[] = {{LOCK_GET, 404, NOT_FOUND_BODY, NULL}, {NULL, 0, NULL, NULL}};
  static const lroute taken[] = {{"POST /1.0/profiles", 409, "{\"type\":\"error\",\"error\":"
                                  "\"Profile already exists\",\"error_code\":409}", NULL},
                                 {NULL, 0, NULL, NULL}};
  static const lroute stale[] = {{"PUT /1.0/profiles/drover-lock-st", 412,
                                  "{\"type\":\"error\",\"error\":\"ETag doesn't match\","
                                  "\"error_code\":412}", NULL}, {NULL, 0, NULL, NULL}};
  static const lroute written[] = {{"PUT /1.0/profiles/drover-lock-st", 200,
                                    "{\"type\":\"sync\",\"metadata\":{}}", NULL},
                                   {LOCK_GET, 200, LOCK_BODY(""), "\"e2\""},
                                   {NULL, 0, NULL, NULL}};
  static const lroute moved[] = {{LOCK_GET, 200, LOCK_BODY(""), "\"e3\""},
                                 {NULL, 0, NULL, NULL}};
  json_t *rec;
  char *etag;
  int deletes;
  drover_error err;

  /* Read: the record without its prefix or other keys, and the ETag. */
  ck_assert_int_eq(lock_op('r', held, &rec, &etag, &deletes, &err), DROVER_OK);
  ck_assert_str_eq(json_string_value(json_object_get(rec, "id")), "x");
  ck_assert_uint_eq(json_object_size(rec), 1);
  ck_assert_str_eq(etag, "\"e1\"");
  json_decref(rec);
  free(etag);
  ck_assert_int_eq(lock_op('r', foreign, &rec, &etag, &deletes, &err), DROVER_E_CONFIG);
  ck_assert_msg(strstr(err.text, "not a drover stack lock"), "%s", err.text);
  ck_assert_int_eq(lock_op('r', absent, &rec, &etag, &deletes, &err), DROVER_E_NOT_FOUND);
  /* Create of a taken name, write with a stale ETag: conflicts. */
  ck_assert_int_eq(lock_op('c', taken, &rec, &etag, &deletes, &err), DROVER_E_CONFLICT);
  ck_assert_int_eq(lock_op('w', stale, &rec, &etag, &deletes, &err), DROVER_E_CONFLICT);
  /* A write that went through hands back the new ETag, read after it. */
  ck_assert_int_eq(lock_op('w', written, &rec, &etag, &deletes, &err), DROVER_OK);
  ck_assert_str_eq(etag, "\"e2\"");
  free(etag);
  /* Delete compares the ETag itself (If-Match on DELETE is not relied on). */
  ck_assert_int_eq(lock_op('d', moved, &rec, &etag, &deletes, &err), DROVER_E_CONFLICT);
  ck_assert_int_eq(deletes, 0);
}
END_TEST

static Suite *lxd_suite(void)
{
  Suite *s = suite_create("lxd");
  TCase *tc = tcase_create("replies");

  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, list_valid_control);
  tcase_add_test(tc, list_bad_shapes_fail);
  tcase_add_test(tc, list_error_envelope_names_lxd_text);
  tcase_add_test(tc, list_short_body_fails);
  tcase_add_test(tc, error_text_transient_only_as_words);
  tcase_add_test(tc, profile_and_volume_lists_fail);
  tcase_add_test(tc, read_without_metadata_is_not_absent);
  tcase_add_test(tc, delete_never_assumes_gone);
  tcase_add_test(tc, delete_real_404_is_gone);
  tcase_add_test(tc, create_checks_replies);
  tcase_add_test(tc, update_error_envelope_fails);
  tcase_add_test(tc, records_by_kind_with_run_labels);
  tcase_add_test(tc, stop_already_done_counts);
  tcase_add_test(tc, stop_failed_is_error);
  tcase_add_test(tc, backup_import_checks);
  tcase_add_test(tc, backup_import_unpack_race);
  tcase_add_test(tc, forgotten_operation_is_read_back);
  tcase_add_test(tc, create_adopts_only_its_own);
  tcase_add_test(tc, create_gone_after_exists_is_transient);
  tcase_add_test(tc, snapshot_existing_is_reported);
  tcase_add_test(tc, update_reads_then_writes);
  tcase_add_test(tc, error_prefix_once);
  tcase_add_test(tc, lock_ops_map_lxd_answers);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
#ifdef DROVER_WITH_LXD
  return run_suite(lxd_suite());
#else
  /* --enable-lxd=dl: the provider is the build tree's module. */
  return run_suite_with_providers(lxd_suite(), TEST_BUILDDIR "/providers/.libs");
#endif
}
