/* check_template.c - template loading, validation messages, vars, eval.
 *
 * The golden cases live in tests/invalid/<NN-name>/: input.json, error
 * (the exact expected "input.json:line:col: message") and optionally vars
 * ("k=v" lines applied before drover_stack_open). Every tests/valid/NAME.json
 * must load, open with its defaults and give the graph and plan in
 * NAME.expected.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "engine.h"
#include "fake_provider.h"
#include "run_suite.h"
#include "scripted_server.h"

/* ------------------------------------------------------------------------
 * Helpers
 */

static char *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t n = 0, cap = 0, got;

  if(!f)
    return NULL;
  do {
    if(n + 4096 >= cap) {
      char *g;
      cap = cap ? cap * 2 : 8192;
      g = realloc(buf, cap);
      if(!g) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = g;
    }
    got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
  } while(got > 0);
  fclose(f);
  buf[n] = '\0';
  if(len)
    *len = n;
  return buf;
}

static const char *srcdir(void)
{
  const char *d = getenv("DROVER_TEST_SRCDIR");
  return d ? d : "tests";
}

/* Loads and opens json with vars ("k=v" lines, may be NULL); returns the
 * code and the formatted error in msg. */
static drover_code load_open(const char *json, size_t len, const char *vars_text,
                             char *msg, size_t size, drover_error *err)
{
  drover_template *tpl = NULL;
  drover_stack *st = NULL;
  drover_vars *vars = drover_vars_new();
  drover_code rc;

  drover_error_clear(err);
  msg[0] = '\0';
  ck_assert_ptr_nonnull(vars);
  rc = drover_template_load_buffer(&tpl, json, len, "input.json", err);
  if(!rc && vars_text) {
    char *copy = strdup(vars_text), *save = NULL, *line;
    for(line = strtok_r(copy, "\n", &save); line && !rc;
        line = strtok_r(NULL, "\n", &save))
      if(line[0])
        rc = drover_vars_set_kv(vars, line, err);
    free(copy);
  }
  if(!rc)
    rc = drover_stack_open(&st, tpl, vars, NULL, err);
  if(rc)
    drover_error_format(err, msg, size);
  else
    ck_assert_ptr_nonnull(st);
  drover_stack_free(st);
  drover_template_free(tpl);
  drover_vars_free(vars);
  return rc;
}

static drover_code try_json(const char *json, char *msg, size_t size)
{
  drover_error err;
  return load_open(json, strlen(json), NULL, msg, size, &err);
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entries of dir (without . and ..); caller frees. */
static char **list_dir(const char *dir, size_t *n)
{
  DIR *d = opendir(dir);
  struct dirent *de;
  char **v = NULL;

  *n = 0;
  if(!d)
    return NULL;
  while((de = readdir(d)) != NULL) {
    if(de->d_name[0] == '.')
      continue;
    v = realloc(v, (*n + 1) * sizeof(*v));
    v[(*n)++] = strdup(de->d_name);
  }
  closedir(d);
  qsort(v, *n, sizeof(*v), cmp_str);
  return v;
}

static void setup(void)
{
  ck_assert_int_eq(fake_register(), 0);
  fake_reset();
}

/* ------------------------------------------------------------------------
 * Golden files
 */

START_TEST(test_invalid_golden)
{
  char dir[1024], path[1200], msg[2048];
  size_t n, i, failures = 0;
  char **cases;

  snprintf(dir, sizeof(dir), "%s/invalid", srcdir());
  cases = list_dir(dir, &n);
  ck_assert_msg(n >= 100, "expected at least 100 invalid cases in %s, found %zu", dir, n);
  for(i = 0; i < n; i++) {
    char *input, *expected, *vars, *nl;
    size_t len;
    drover_error err;
    drover_code rc;

    snprintf(path, sizeof(path), "%s/%s/input.json", dir, cases[i]);
    input = slurp(path, &len);
    ck_assert_msg(input != NULL, "%s: cannot read", path);
    snprintf(path, sizeof(path), "%s/%s/error", dir, cases[i]);
    expected = slurp(path, NULL);
    ck_assert_msg(expected != NULL, "%s: cannot read", path);
    if((nl = strchr(expected, '\n')) != NULL)
      *nl = '\0';
    snprintf(path, sizeof(path), "%s/%s/vars", dir, cases[i]);
    vars = slurp(path, NULL);

    rc = load_open(input, len, vars, msg, sizeof(msg), &err);
    if(rc == DROVER_OK || strcmp(msg, expected)) {
      fprintf(stderr, "invalid/%s:\n  expected: %s\n  got:      %s\n", cases[i],
              expected, rc ? msg : "(success)");
      failures++;
    }
    /* Every template error carries a position. */
    if(rc && err.line < 1) {
      fprintf(stderr, "invalid/%s: no line in the error\n", cases[i]);
      failures++;
    }
    free(input);
    free(expected);
    free(vars);
    free(cases[i]);
  }
  free(cases);
  ck_assert_msg(failures == 0, "%zu golden case(s) failed (see stderr)", failures);
}
END_TEST

/* What a valid template means, as text: its dependency graph (DOT) and
 * the plan against an empty fake cloud. Caller frees. */
static char *valid_result(const char *json, size_t len, const char *name)
{
  drover_template *tpl = NULL;
  drover_stack *st = NULL;
  drover_plan *plan = NULL;
  drover_error err;
  char *dot = NULL, *text = NULL, *out = NULL;
  size_t tlen = 0;
  FILE *mem;

  drover_error_clear(&err);
  ck_assert_msg(drover_template_load_buffer(&tpl, json, len, name, &err) == DROVER_OK,
                "valid/%s: %s", name, err.text);
  ck_assert_msg(drover_stack_open(&st, tpl, NULL, NULL, &err) == DROVER_OK,
                "valid/%s: %s", name, err.text);
  ck_assert_msg(drover_stack_refresh(st, &err) == DROVER_OK, "valid/%s: %s", name, err.text);
  ck_assert_msg(drover_plan_new(&plan, st, 0, &err) == DROVER_OK, "valid/%s: %s", name, err.text);
  ck_assert_int_eq(drover_graph_dot(&dot, st, NULL, &err), DROVER_OK);
  mem = open_memstream(&text, &tlen);
  ck_assert_ptr_nonnull(mem);
  ck_assert_int_eq(drover_plan_render(plan, mem, 0), DROVER_OK);
  fclose(mem);
  ck_assert_int_ge(asprintf(&out, "%s\n%s", dot, text), 0);
  free(dot);
  free(text);
  drover_plan_free(plan);
  drover_stack_free(st);
  drover_template_free(tpl);
  return out;
}

/* Every tests/valid/NAME.json loads, opens with its defaults, and gives
 * exactly the graph and plan in NAME.expected. DROVER_TEST_BLESS=1
 * writes the .expected files instead (review them before committing). */
START_TEST(test_valid_templates)
{
  char dir[1024], path[1200];
  size_t n, i, seen = 0, failures = 0;
  char **files;
  const char *bless = getenv("DROVER_TEST_BLESS");

  /* lxd.* resources are planned against an empty LXD: a scripted one on
   * a unix socket (LXD_SOCKET), so the golden plans need no daemon and
   * do not depend on what a real one holds. */
  srv lxd;

  srv_listen(&lxd, 1, NULL, 0);
  lxd.unrouted = "{\"type\":\"error\",\"error\":\"not found\",\"error_code\":404}";
  srv_route_add(&lxd, "GET /1.0/networks", 200, "{\"type\":\"sync\",\"metadata\":[]}", -1);
  srv_route_add(&lxd, "GET /1.0/instances", 200, "{\"type\":\"sync\",\"metadata\":[]}", -1);
  srv_route_add(&lxd, "GET /1.0/storage-pools", 200, "{\"type\":\"sync\",\"metadata\":[]}", -1);
  srv_route_add(&lxd, "GET /1.0/profiles", 200, "{\"type\":\"sync\",\"metadata\":"
                "[{\"name\":\"default\",\"config\":{},\"devices\":{}}]}", -1);
  srv_run(&lxd);
  ck_assert_int_eq(setenv("LXD_SOCKET", lxd.sock, 1), 0);
  snprintf(dir, sizeof(dir), "%s/valid", srcdir());
  files = list_dir(dir, &n);
  for(i = 0; i < n; i++) {
    size_t len, flen = strlen(files[i]);
    char *input, *got, *want;

    if(flen > 5 && !strcmp(files[i] + flen - 5, ".json")) {
      fake_reset();
      snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
      input = slurp(path, &len);
      ck_assert_ptr_nonnull(input);
      got = valid_result(input, len, files[i]);
      snprintf(path, sizeof(path), "%s/%.*s.expected", dir, (int)(flen - 5), files[i]);
      if(bless && !strcmp(bless, "1")) {
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(got, f);
        fclose(f);
      }
      want = slurp(path, NULL);
      ck_assert_msg(want != NULL, "%s: missing (every valid case needs its expected result)", path);
      if(strcmp(got, want)) {
        fprintf(stderr, "valid/%s: result differs from %s\n--- want\n%s--- got\n%s", files[i],
                path, want, got);
        failures++;
      }
      free(want);
      free(got);
      free(input);
      seen++;
    }
    free(files[i]);
  }
  free(files);
  unsetenv("LXD_SOCKET");
  srv_stop(&lxd);
  ck_assert_uint_ge(seen, 4);
  ck_assert_msg(failures == 0, "%zu valid case(s) gave another result (see stderr)", failures);
}
END_TEST

/* ------------------------------------------------------------------------
 * Loading
 */

START_TEST(test_error_codes)
{
  char msg[1024];

  ck_assert_int_eq(try_json("{", msg, sizeof(msg)), DROVER_E_SYNTAX);
  ck_assert_int_eq(try_json("{\"stack\":\"s\",\"resources\":{},\"x\":1}", msg,
                            sizeof(msg)),
                   DROVER_E_TEMPLATE);
  ck_assert_int_eq(try_json("{\"stack\":\"s\",\"params\":{\"p\":{\"type\":\"string\"}},"
                            "\"resources\":{}}",
                            msg, sizeof(msg)),
                   DROVER_E_PARAM);
  ck_assert_int_eq(try_json("{\"stack\":\"s\",\"resources\":{\"a\":{\"type\":"
                            "\"fake.group\",\"properties\":{\"members\":[\"${x}\"]}}}}",
                            msg, sizeof(msg)),
                   DROVER_E_REFERENCE);
  ck_assert_int_eq(try_json("{\"stack\":\"s\",\"resources\":{\"a\":{\"type\":"
                            "\"fake.group\",\"depends_on\":[\"b\"]},\"b\":{\"type\":"
                            "\"fake.group\",\"depends_on\":[\"a\"]}}}",
                            msg, sizeof(msg)),
                   DROVER_E_CYCLE);
  ck_assert_str_eq(msg, "input.json:1:27: dependency cycle: a -> b -> a");
}
END_TEST

START_TEST(test_positions)
{
  /* Multi-byte characters count as one column; escaped keys decode. */
  const char *j = "{\"stack\": \"s\",\n"
                  "\t\"description\": \"h\u00e9llo \\\"x\\\"\", \"resources\": {\n"
                  "  \"a\\/b\": 1, \"c\": [true, {\"d\": null}]}}";
  drover_template tpl;
  dv_pos p;

  memset(&tpl, 0, sizeof(tpl));
  ck_assert_int_eq(dv_posmap_build(&tpl.posmap, j, strlen(j)), DROVER_OK);
  p = dv_posmap_value(tpl.posmap, "");
  ck_assert_int_eq(p.line, 1);
  ck_assert_int_eq(p.column, 1);
  p = dv_posmap_value(tpl.posmap, "/stack");
  ck_assert_int_eq(p.line, 1);
  ck_assert_int_eq(p.column, 11);
  p = dv_posmap_key(tpl.posmap, "/stack");
  ck_assert_int_eq(p.column, 2);
  p = dv_posmap_key(tpl.posmap, "/resources");
  ck_assert_int_eq(p.line, 2);
  ck_assert_int_eq(p.column, 32); /* a tab is one column */
  p = dv_posmap_key(tpl.posmap, "/resources/a~1b");
  ck_assert_int_eq(p.line, 3);
  ck_assert_int_eq(p.column, 3);
  p = dv_posmap_value(tpl.posmap, "/resources/c/1/d");
  ck_assert_int_eq(p.line, 3);
  ck_assert_int_eq(p.column, 32);
  /* Unknown pointers fall back to the nearest ancestor. */
  p = dv_posmap_value(tpl.posmap, "/resources/c/7/x");
  ck_assert_int_eq(p.line, 3);
  ck_assert_int_eq(p.column, 19);
  p = dv_posmap_key(tpl.posmap, "/nope");
  ck_assert_int_eq(p.line, 1);
  ck_assert_int_eq(p.column, 1);
  dv_posmap_free(tpl.posmap);
}
END_TEST

START_TEST(test_load_file)
{
  drover_template *tpl = NULL;
  drover_error err;
  char path[1200], msg[1024];

  drover_error_clear(&err);
  ck_assert_int_eq(drover_template_load_file(&tpl, "/nonexistent/x.json", &err),
                   DROVER_E_IO);
  ck_assert_ptr_null(tpl);
  ck_assert_ptr_nonnull(strstr(err.text, "/nonexistent/x.json"));

  snprintf(path, sizeof(path), "%s/valid/params.json", srcdir());
  drover_error_clear(&err);
  ck_assert_int_eq(drover_template_load_file(&tpl, path, &err), DROVER_OK);
  ck_assert_str_eq(drover_template_source(tpl), path);
  ck_assert_str_eq(drover_template_stack(tpl), "params");
  ck_assert_uint_eq(drover_template_param_count(tpl), 5);
  ck_assert_str_eq(drover_template_param_name(tpl, 0), "replicas");
  ck_assert_ptr_null(drover_template_param_name(tpl, 5));
  ck_assert_int_eq(drover_template_param_sensitive(tpl, "token"), 1);
  ck_assert_int_eq(drover_template_param_sensitive(tpl, "replicas"), 0);
  ck_assert_int_eq(drover_template_param_sensitive(tpl, "nope"), 0);
  ck_assert_uint_eq(tpl->nparams, 5);
  ck_assert_int_eq(tpl->params[0].type, DV_PARAM_INTEGER);
  ck_assert_int_eq(tpl->params[0].has_min, 1);
  ck_assert(tpl->params[0].max == 20);
  ck_assert_ptr_nonnull(tpl->params[1].pattern);
  ck_assert_ptr_nonnull(tpl->params[2].enum_values);
  drover_template_free(tpl);

  /* Syntax errors in a file name the path. */
  drover_error_clear(&err);
  snprintf(path, sizeof(path), "%s/invalid/03-trailing-comma/input.json", srcdir());
  ck_assert_int_eq(drover_template_load_file(&tpl, path, &err), DROVER_E_SYNTAX);
  drover_error_format(&err, msg, sizeof(msg));
  ck_assert_ptr_nonnull(strstr(msg, "input.json:4:1: "));
  ck_assert_str_eq(err.source, path);
}
END_TEST

START_TEST(test_template_struct)
{
  const char *j =
    "{\"stack\":\"s\",\"description\":\"d\",\"providers\":{\"fake\":{\"k\":1}},"
    "\"resources\":{\"g\":{\"type\":\"fake.group\"},"
    "\"w\":{\"type\":\"fake.thing\",\"count\":3,\"depends_on\":[\"g\"],"
    "\"properties\":{\"image\":\"i\"},\"lifecycle\":{\"prevent_destroy\":true,"
    "\"create_before_destroy\":true,\"ignore_changes\":[\"tags\",\"note\"]}}},"
    "\"outputs\":{\"o\":{\"value\":[1,\"${resources.w[*].name}\"],\"sensitive\":true,"
    "\"description\":\"od\"}}}";
  drover_template *tpl = NULL;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_template_load_buffer(&tpl, j, strlen(j), "t", &err), DROVER_OK);
  ck_assert_str_eq(tpl->description, "d");
  ck_assert_ptr_nonnull(tpl->providers);
  ck_assert_uint_eq(tpl->nblocks, 2);
  ck_assert_str_eq(tpl->blocks[1].name, "w");
  ck_assert_str_eq(tpl->blocks[1].type_name, "fake.thing");
  ck_assert_ptr_eq(tpl->blocks[1].rtype, &fake_thing_type);
  ck_assert_ptr_eq(tpl->blocks[1].provider, &fake_provider);
  ck_assert_ptr_nonnull(tpl->blocks[1].count);
  ck_assert_ptr_null(tpl->blocks[0].count);
  ck_assert_ptr_null(tpl->blocks[0].properties);
  ck_assert_uint_eq(tpl->blocks[1].n_depends_on, 1);
  ck_assert_str_eq(tpl->blocks[1].depends_on[0], "g");
  ck_assert_uint_eq(tpl->blocks[1].lifecycle,
                    DV_LC_PREVENT_DESTROY | DV_LC_CREATE_BEFORE_DESTROY);
  ck_assert_uint_eq(tpl->blocks[1].n_ignore_changes, 2);
  ck_assert_str_eq(tpl->blocks[1].ignore_changes[1], "note");
  ck_assert_str_eq(tpl->blocks[1].pointer, "/resources/w");
  ck_assert_uint_eq(tpl->noutputs, 1);
  ck_assert_int_eq(tpl->outputs[0].sensitive, 1);
  ck_assert_str_eq(tpl->outputs[0].description, "od");
  ck_assert(json_is_array(tpl->outputs[0].value));
  ck_assert_uint_eq(tpl->len, strlen(j));
  ck_assert_str_eq(tpl->text, j);
  drover_template_free(tpl);
  drover_template_free(NULL);
}
END_TEST

START_TEST(test_buffer_not_terminated)
{
  /* The buffer need not be NUL-terminated: only len bytes are read. */
  const char *j = "{\"stack\":\"s\",\"resources\":{}}GARBAGE";
  drover_template *tpl = NULL;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_template_load_buffer(&tpl, j, 28, "t", &err), DROVER_OK);
  drover_template_free(tpl);
}
END_TEST

START_TEST(test_first_error_wins)
{
  drover_template *tpl = NULL;
  drover_error err;
  const char *j = "{\"stack\":\"BAD\",\"resources\":{}}";

  drover_error_clear(&err);
  drover_error_set(&err, DROVER_E_IO, "earlier");
  ck_assert_int_eq(drover_template_load_buffer(&tpl, j, strlen(j), "t", &err),
                   DROVER_E_TEMPLATE);
  ck_assert_int_eq(err.code, DROVER_E_IO);
  ck_assert_str_eq(err.text, "earlier");
  ck_assert_int_eq(err.line, 0);
}
END_TEST

/* ------------------------------------------------------------------------
 * Vars
 */

START_TEST(test_vars)
{
  drover_vars *v = drover_vars_new();
  drover_error err;
  char path[] = "/tmp/drover-vars-XXXXXX";
  FILE *f;
  int fd;

  ck_assert_ptr_nonnull(v);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_vars_set_kv(v, "a=b=c", &err), DROVER_OK);
  ck_assert_str_eq(json_string_value(json_object_get(v->values, "a")), "b=c");
  ck_assert_int_eq(drover_vars_set_kv(v, "empty=", &err), DROVER_OK);
  ck_assert_str_eq(json_string_value(json_object_get(v->values, "empty")), "");
  ck_assert_int_eq(drover_vars_set_kv(v, "novalue", &err), DROVER_E_ARG);
  ck_assert_str_eq(err.text, "bad var \"novalue\": expected NAME=VALUE");
  drover_error_clear(&err);
  ck_assert_int_eq(drover_vars_set_kv(v, "=x", &err), DROVER_E_ARG);
  drover_error_clear(&err);

  fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  f = fdopen(fd, "w");
  fputs("{\"n\": 3, \"s\": \"x\", \"b\": true}", f);
  fclose(f);
  ck_assert_int_eq(drover_vars_load_file(v, path, &err), DROVER_OK);
  ck_assert(json_integer_value(json_object_get(v->values, "n")) == 3);
  ck_assert(json_is_true(json_object_get(v->values, "b")));
  f = fopen(path, "w");
  fputs("{\"n\": [1]}", f);
  fclose(f);
  ck_assert_int_eq(drover_vars_load_file(v, path, &err), DROVER_E_PARAM);
  ck_assert_str_eq(err.text, "var \"n\" must be a string, number or boolean");
  drover_error_clear(&err);
  f = fopen(path, "w");
  fputs("{\"n\": 1,\n \"n\": 2}", f);
  fclose(f);
  ck_assert_int_eq(drover_vars_load_file(v, path, &err), DROVER_E_SYNTAX);
  ck_assert_int_eq(err.line, 2);
  ck_assert_str_eq(err.source, path);
  unlink(path);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_vars_load_file(v, path, &err), DROVER_E_IO);
  drover_vars_free(v);
  drover_vars_free(NULL);
}
END_TEST

static const char *params_tpl =
  "{\"stack\":\"s\",\"params\":{"
  "\"n\":{\"type\":\"integer\",\"default\":1,\"min\":0,\"max\":5},"
  "\"r\":{\"type\":\"number\",\"default\":0.5},"
  "\"b\":{\"type\":\"boolean\",\"default\":false},"
  "\"name\":{\"type\":\"string\",\"default\":\"abc\",\"min\":2,\"max\":4},"
  "\"tok\":{\"type\":\"string\",\"default\":\"\",\"sensitive\":true,\"pattern\":\"^[a-z]*$\"}},"
  "\"resources\":{\"t\":{\"type\":\"fake.thing\",\"properties\":{\"image\":"
  "\"${params.name}-${params.n}-${params.r}-${params.b}\",\"size\":\"${params.n}\"}}}}";

/* Opens params_tpl with the given "k=v" lines; returns code, msg, and the
 * evaluated image of "t" in image (when it opened). */
static drover_code open_params(const char *vars, char *msg, size_t size, char *image,
                               size_t isize)
{
  drover_template *tpl = NULL;
  drover_stack *st = NULL;
  drover_vars *v = drover_vars_new();
  drover_error err;
  drover_code rc;
  char *copy = strdup(vars), *save = NULL, *line;

  drover_error_clear(&err);
  msg[0] = image[0] = '\0';
  rc = drover_template_load_buffer(&tpl, params_tpl, strlen(params_tpl), "p.json", &err);
  for(line = strtok_r(copy, " ", &save); line && !rc; line = strtok_r(NULL, " ", &save))
    rc = drover_vars_set_kv(v, line, &err);
  free(copy);
  if(!rc)
    rc = drover_stack_open(&st, tpl, v, NULL, &err);
  if(rc)
    drover_error_format(&err, msg, size);
  else
    snprintf(image, isize, "%s",
             json_string_value(json_object_get(st->insts[0].desired, "image")));
  drover_stack_free(st);
  drover_template_free(tpl);
  drover_vars_free(v);
  return rc;
}

START_TEST(test_var_conversion)
{
  char msg[1024], image[256];

  ck_assert_int_eq(open_params("", msg, sizeof(msg), image, sizeof(image)), DROVER_OK);
  ck_assert_str_eq(image, "abc-1-0.5-false");
  ck_assert_int_eq(open_params("n=+3 r=-2 b=true name=xyz", msg, sizeof(msg), image,
                               sizeof(image)),
                   DROVER_OK);
  ck_assert_str_eq(image, "xyz-3--2-true");
  ck_assert_int_eq(open_params("r=1e3", msg, sizeof(msg), image, sizeof(image)),
                   DROVER_OK);
  ck_assert_str_eq(image, "abc-1-1000.0-false");
  ck_assert_int_eq(open_params("n=3.0", msg, sizeof(msg), image, sizeof(image)),
                   DROVER_E_PARAM);
  ck_assert_str_eq(msg, "p.json:1:24: var \"n\": \"3.0\" is not an integer");
  ck_assert_int_eq(open_params("n=", msg, sizeof(msg), image, sizeof(image)),
                   DROVER_E_PARAM);
  ck_assert_int_eq(open_params("n=99999999999999999999", msg, sizeof(msg), image,
                               sizeof(image)),
                   DROVER_E_PARAM);
  ck_assert_int_eq(open_params("n=-1", msg, sizeof(msg), image, sizeof(image)),
                   DROVER_E_PARAM);
  ck_assert_str_eq(msg, "p.json:1:24: var \"n\": -1 is below the minimum 0");
  ck_assert_int_eq(open_params("r=abc", msg, sizeof(msg), image, sizeof(image)),
                   DROVER_E_PARAM);
  ck_assert_str_eq(msg, "p.json:1:75: var \"r\": \"abc\" is not a number");
  ck_assert_int_eq(open_params("n=_3", msg, sizeof(msg), image, sizeof(image)),
                   DROVER_E_PARAM);
  ck_assert_int_eq(open_params("r=0x10", msg, sizeof(msg), image, sizeof(image)),
                   DROVER_E_PARAM);
  ck_assert_int_eq(open_params("r=inf", msg, sizeof(msg), image, sizeof(image)),
                   DROVER_E_PARAM);
  ck_assert_int_eq(open_params("r=.25", msg, sizeof(msg), image, sizeof(image)),
                   DROVER_OK);
  ck_assert_int_eq(open_params("b=1", msg, sizeof(msg), image, sizeof(image)),
                   DROVER_E_PARAM);
  ck_assert_int_eq(open_params("name=a", msg, sizeof(msg), image, sizeof(image)),
                   DROVER_E_PARAM);
  ck_assert_str_eq(msg, "p.json:1:150: var \"name\": length 1 is below the minimum 2");
  ck_assert_int_eq(open_params("name=abcde", msg, sizeof(msg), image, sizeof(image)),
                   DROVER_E_PARAM);
  ck_assert_str_eq(msg, "p.json:1:150: var \"name\": length 5 is above the maximum 4");
  /* A sensitive value never appears in the message. */
  ck_assert_int_eq(open_params("tok=Secret99", msg, sizeof(msg), image, sizeof(image)),
                   DROVER_E_PARAM);
  ck_assert_ptr_null(strstr(msg, "Secret99"));
  ck_assert_str_eq(msg, "p.json:1:207: var \"tok\": the value does not match pattern "
                        "\"^[a-z]*$\"");
}
END_TEST

START_TEST(test_var_file_types)
{
  drover_template *tpl = NULL;
  drover_stack *st = NULL;
  drover_vars *v = drover_vars_new();
  drover_error err;
  char msg[1024];

  drover_error_clear(&err);
  ck_assert_int_eq(drover_template_load_buffer(&tpl, params_tpl, strlen(params_tpl),
                                               "p.json", &err),
                   DROVER_OK);
  /* Typed values are kept; a wrong JSON type is an error. */
  json_object_set_new(v->values, "n", json_integer(4));
  json_object_set_new(v->values, "r", json_integer(7));
  ck_assert_int_eq(drover_stack_open(&st, tpl, v, NULL, &err), DROVER_OK);
  ck_assert(json_integer_value(json_object_get(st->params, "n")) == 4);
  drover_stack_free(st);
  st = NULL;
  json_object_set_new(v->values, "name", json_integer(4));
  ck_assert_int_eq(drover_stack_open(&st, tpl, v, NULL, &err), DROVER_E_PARAM);
  ck_assert_ptr_null(st);
  drover_error_format(&err, msg, sizeof(msg));
  ck_assert_str_eq(msg, "p.json:1:150: var \"name\": expected a string, got an integer");
  drover_vars_free(v);
  drover_template_free(tpl);
}
END_TEST

START_TEST(test_sensitive_redacted)
{
  const char *j = "{\"stack\":\"s\",\"params\":{\"pw\":{\"type\":\"string\",\"default\":"
                  "\"x\",\"sensitive\":true}},\"resources\":{\"t\":{\"type\":"
                  "\"fake.thing\",\"properties\":{\"image\":\"i\",\"size\":\"${params.pw}\"}}}}";
  char msg[1024];
  drover_template *tpl = NULL;
  drover_stack *st = NULL;
  drover_vars *v = drover_vars_new();
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_template_load_buffer(&tpl, j, strlen(j), "s.json", &err),
                   DROVER_OK);
  ck_assert_int_eq(drover_vars_set(v, "pw", "hunter2hunter2", &err), DROVER_OK);
  ck_assert_int_eq(drover_stack_open(&st, tpl, v, NULL, &err), DROVER_E_TEMPLATE);
  drover_error_format(&err, msg, sizeof(msg));
  ck_assert_str_eq(msg, "s.json:1:150: property \"size\" of resource \"t\" must be an "
                        "integer, not a string");
  /* And it is registered: later messages holding it are redacted. */
  drover_error_clear(&err);
  drover_error_set(&err, DROVER_E_PROVIDER, "got hunter2hunter2 back");
  ck_assert_str_eq(err.text, "got (sensitive) back");
  drover_vars_free(v);
  drover_template_free(tpl);
}
END_TEST

/* ------------------------------------------------------------------------
 * Values and evaluation
 */

START_TEST(test_unknown_and_hash)
{
  json_t *u = dv_unknown(), *a, *b, *e;
  char h1[17], h2[17];

  ck_assert(dv_is_unknown(u));
  ck_assert(!dv_is_known(u));
  a = json_pack("{s:i, s:[s, O]}", "x", 1, "y", "z", u);
  ck_assert(!dv_is_unknown(a));
  ck_assert(!dv_is_known(a));
  b = json_pack("{s:[s, s], s:i}", "y", "z", "w", "x", 1);
  ck_assert(dv_is_known(b));
  e = json_object();
  ck_assert(!dv_is_unknown(e)); /* an empty object is not the marker */
  json_decref(e);
  /* Key order does not change the hash; values do. */
  ck_assert_int_eq(dv_hash_json(h1, b), DROVER_OK);
  json_decref(b);
  b = json_pack("{s:i, s:[s, s]}", "x", 1, "y", "z", "w");
  ck_assert_int_eq(dv_hash_json(h2, b), DROVER_OK);
  ck_assert_str_eq(h1, h2);
  ck_assert_uint_eq(strlen(h1), 16);
  json_object_set_new(b, "x", json_integer(2));
  ck_assert_int_eq(dv_hash_json(h2, b), DROVER_OK);
  ck_assert_str_ne(h1, h2);
  /* Known value: sha256('{"a":1}') = 015abd7f5cc57a2d... */
  json_decref(b);
  b = json_pack("{s:i}", "a", 1);
  ck_assert_int_eq(dv_hash_json(h1, b), DROVER_OK);
  ck_assert_str_eq(h1, "015abd7f5cc57a2d");
  json_decref(a);
  json_decref(b);
  json_decref(u);
}
END_TEST

START_TEST(test_interpolation)
{
  const char *j =
    "{\"stack\":\"st\",\"params\":{\"n\":{\"type\":\"integer\",\"default\":2},"
    "\"f\":{\"type\":\"number\",\"default\":1.5},\"s\":{\"type\":\"string\",\"default\":\"v\"}},"
    "\"resources\":{\"g\":{\"type\":\"fake.group\",\"count\":\"${params.n}\","
    "\"properties\":{\"config\":{\"lit\":\"$${params.n} costs $5 and $$\","
    "\"mix\":\"${ params.s }/${stack.name}/${count.index}/${params.f}\","
    "\"whole\":\"${params.s}\"},"
    "\"members\":[\"${resources.t.name}\",\"${resources.t.id}x\"]}},"
    "\"t\":{\"type\":\"fake.thing\",\"properties\":{\"image\":\"i\",\"size\":\"${params.n}\"}}},"
    "\"outputs\":{\"all\":{\"value\":\"${resources.g[*].config}\"},"
    "\"n\":{\"value\":{\"k\":[\"${params.n}\"]}}}}";
  drover_template *tpl = NULL;
  drover_stack *st = NULL;
  drover_error err;
  json_t *cfg, *out = NULL;
  const dv_inst *g1;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_template_load_buffer(&tpl, j, strlen(j), "i.json", &err),
                   DROVER_OK);
  ck_assert_int_eq(drover_stack_open(&st, tpl, NULL, NULL, &err), DROVER_OK);
  ck_assert_uint_eq(st->ninsts, 3);
  g1 = &st->insts[1];
  ck_assert_str_eq(g1->address, "g[1]");
  cfg = json_object_get(g1->desired, "config");
  ck_assert_str_eq(json_string_value(json_object_get(cfg, "lit")),
                   "${params.n} costs $5 and $$");
  ck_assert_str_eq(json_string_value(json_object_get(cfg, "mix")), "v/st/1/1.5");
  ck_assert_str_eq(json_string_value(json_object_get(cfg, "whole")), "v");
  /* Whole-string references keep the type. */
  ck_assert(json_is_integer(json_object_get(st->insts[2].desired, "size")));
  /* The cloud name is known at plan time; "id" is not, and an unknown
   * spliced into a string makes the string unknown. */
  ck_assert_str_eq(json_string_value(json_array_get(
                     json_object_get(g1->desired, "members"), 0)),
                   "st-t");
  ck_assert(dv_is_unknown(json_array_get(json_object_get(g1->desired, "members"), 1)));
  ck_assert_int_eq(g1->known, 0);
  ck_assert_str_eq(g1->hash, "");
  ck_assert_int_eq(st->insts[2].known, 1);
  ck_assert_uint_eq(strlen(st->insts[2].hash), 16);

  ck_assert_int_eq(dv_stack_eval_value(&out, st, tpl->outputs[0].value, -1,
                                       "/outputs/all/value", &err),
                   DROVER_OK);
  ck_assert(json_is_array(out));
  ck_assert_uint_eq(json_array_size(out), 2);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(out, 0), "mix")),
                   "v/st/0/1.5");
  json_decref(out);
  ck_assert_int_eq(dv_stack_eval_value(&out, st, tpl->outputs[1].value, -1,
                                       "/outputs/n/value", &err),
                   DROVER_OK);
  ck_assert(json_integer_value(json_array_get(json_object_get(out, "k"), 0)) == 2);
  json_decref(out);
  drover_stack_free(st);
  drover_template_free(tpl);
}
END_TEST

START_TEST(test_reserved_key)
{
  char msg[1024];

  ck_assert_int_eq(try_json("{\"stack\":\"s\",\"resources\":{},\"outputs\":{\"o\":{"
                            "\"value\":{\"$drover:unknown\":true}}}}",
                            msg, sizeof(msg)),
                   DROVER_E_TEMPLATE);
  ck_assert_str_eq(msg, "input.json:1:54: key \"$drover:unknown\" is reserved");
}
END_TEST

/* ------------------------------------------------------------------------
 * An older provider table (version 1): the engine must not read the
 * members appended in version 2 (exports, rules, name_check, settings).
 * The structs below have the version-1 layout, so reading past them is
 * a global-buffer-overflow under ASan.
 */

typedef struct v1_rtype {
  const char *name;
  const drover_prop *props;
  int delete_order;
  const char *doc;
} v1_rtype;

typedef struct v1_provider {
  unsigned version;
  const char *name;
  unsigned caps;
  size_t state_size;
  const drover_rtype *const *types;
  drover_code (*init)(void *, const json_t *, const drover_provider_env *,
                      drover_error *);
  void (*cleanup)(void *);
  drover_code (*list)(void *, const drover_rtype *, const char *, drover_live_list *,
                      drover_error *);
  drover_code (*create)(void *, const drover_rtype *, const drover_res_req *,
                        drover_live **, drover_error *);
  drover_code (*update)(void *, const drover_rtype *, const drover_res_req *,
                        const drover_live *, drover_live **, drover_error *);
  drover_code (*del)(void *, const drover_rtype *, const drover_live *, double,
                     drover_error *);
  drover_code (*read)(void *, const drover_rtype *, const char *, drover_live **,
                      drover_error *);
} v1_provider;

static drover_code v1_init(void *st, const json_t *c, const drover_provider_env *e,
                           drover_error *err)
{
  (void)st; (void)c; (void)e; (void)err;
  return DROVER_OK;
}
static void v1_cleanup(void *st) { (void)st; }
static drover_code v1_list(void *st, const drover_rtype *t, const char *s,
                           drover_live_list *o, drover_error *err)
{
  (void)st; (void)t; (void)s; (void)o; (void)err;
  return DROVER_OK;
}
static drover_code v1_create(void *st, const drover_rtype *t, const drover_res_req *r,
                             drover_live **o, drover_error *err)
{
  (void)st; (void)t; (void)r; (void)o;
  return drover_error_set(err, DROVER_E_PROVIDER, "not used");
}
static drover_code v1_del(void *st, const drover_rtype *t, const drover_live *c,
                          double d, drover_error *err)
{
  (void)st; (void)t; (void)c; (void)d; (void)err;
  return DROVER_OK;
}

static const drover_prop v1_props[] = {
  {"name", DROVER_T_STRING, DROVER_PROP_FORCE_NEW, NULL, NULL, "name"},
  {"image", DROVER_T_STRING, 0, NULL, NULL, "image"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};
static const v1_rtype v1_thing = {"old.thing", v1_props, 0, "an old type"};
static const drover_rtype *const v1_types[] = {(const drover_rtype *)&v1_thing, NULL};
static const v1_provider v1_table = {1, "old", 0, 0, v1_types, v1_init, v1_cleanup,
                                     v1_list, v1_create, NULL, v1_del, NULL};

/* Blocks declared on their own keep their properties as text after load
 * (span.c) and their references as a list. Parsed again, the properties
 * equal the trees the whole-text load keeps, which is what a template
 * spelling a resource name with an escape gets; both open to the same
 * desired properties. */
START_TEST(test_properties_kept_as_text)
{
  static const char plain[] =
    "{\"stack\":\"s\",\"resources\":{"
    "\"a\":{\"type\":\"fake.thing\",\"properties\":{\"image\":"
    "\"q\\\"b\\\\s \\u00e9 ${resources.c.name} $${lit}\","
    "\"tags\":{\"k\":\"v\",\"n\":\"[{}]\"},\"size\":3}},"
    "\"b\":{\"type\":\"fake.thing\",\"count\":2,\"properties\":{\"image\":\"i\"}},"
    "\"c\" : {\"type\":\"fake.thing\"  ,  \"properties\" : { \"image\" : \"} ] \\\" {\" } }"
    "}}";
  char escaped[sizeof(plain) + 8];
  const char *a = strstr(plain, "\"a\":");
  drover_template *t1 = NULL, *t2 = NULL;
  drover_stack *s1 = NULL, *s2 = NULL;
  drover_error err;
  size_t i;

  /* The same template with "a" written as "\u0061". */
  snprintf(escaped, sizeof(escaped), "%.*s\"\\u0061\"%s", (int)(a - plain), plain, a + 3);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_template_load_buffer(&t1, plain, strlen(plain), "p", &err),
                   DROVER_OK);
  ck_assert_int_eq(drover_template_load_buffer(&t2, escaped, strlen(escaped), "e", &err),
                   DROVER_OK);
  ck_assert_uint_eq(t1->nblocks, 3);
  ck_assert_uint_eq(t2->nblocks, 3);
  ck_assert_str_eq(t2->blocks[0].name, "a");
  /* Plain: a and c as text, b (counted) as a tree; escaped: every tree. */
  ck_assert_ptr_null(t1->blocks[0].properties);
  ck_assert_uint_gt(t1->blocks[0].props_len, 0);
  ck_assert_ptr_nonnull(t1->blocks[1].properties);
  ck_assert_ptr_null(t1->blocks[2].properties);
  for(i = 0; i < 3; i++)
    ck_assert_ptr_nonnull(t2->blocks[i].properties);
  for(i = 0; i < 3; i++) {
    json_t *p1 = NULL, *p2 = NULL;
    ck_assert_int_eq(dv_block_properties(t1, &t1->blocks[i], &p1), DROVER_OK);
    ck_assert_int_eq(dv_block_properties(t2, &t2->blocks[i], &p2), DROVER_OK);
    ck_assert_ptr_nonnull(p1);
    ck_assert_msg(json_equal(p1, p2), "block %zu differs", i);
    json_decref(p1);
    json_decref(p2);
  }
  ck_assert_uint_eq(t1->blocks[0].nrefs, 1);
  ck_assert_uint_eq(t1->blocks[0].refs[0].block, 2);
  ck_assert_int_eq(t1->blocks[0].refs[0].index, DV_REF_NO_INDEX);
  ck_assert_uint_eq(t1->blocks[2].nrefs, 0);
  ck_assert_int_eq(drover_stack_open(&s1, t1, NULL, NULL, &err), DROVER_OK);
  ck_assert_int_eq(drover_stack_open(&s2, t2, NULL, NULL, &err), DROVER_OK);
  ck_assert_uint_eq(s1->ninsts, 4);
  for(i = 0; i < s1->ninsts; i++)
    ck_assert_msg(json_equal(s1->insts[i].desired, s2->insts[i].desired),
                  "%s differs", s1->insts[i].address);
  ck_assert_str_eq(json_string_value(json_object_get(s1->insts[0].desired, "image")),
                   "q\"b\\s \xc3\xa9 s-c ${lit}");
  ck_assert_str_eq(json_string_value(json_object_get(s1->insts[3].desired, "image")),
                   "} ] \" {");
  drover_stack_free(s1);
  drover_stack_free(s2);
  drover_template_free(t1);
  drover_template_free(t2);
}
END_TEST

START_TEST(test_version1_provider)
{
  drover_error err;
  char msg[1024];

  drover_error_clear(&err);
  ck_assert_int_eq(dv_provider_register((const drover_provider *)&v1_table, &err),
                   DROVER_OK);
  /* No exports declared: any attribute may be referenced; no settings
   * schema: any key reaches init; no rules: "" is accepted. */
  ck_assert_int_eq(try_json("{\"stack\": \"s\", \"providers\": {\"old\": {\"any\": 1}},"
                            " \"resources\": {"
                            "  \"a\": {\"type\": \"old.thing\", \"properties\": {\"image\": \"\"}},"
                            "  \"b\": {\"type\": \"old.thing\","
                            "         \"properties\": {\"image\": \"${resources.a.whatever}\"}}}}",
                            msg, sizeof(msg)),
                   DROVER_OK);
}
END_TEST

static Suite *template_suite(void)
{
  Suite *s = suite_create("template");
  TCase *tc = tcase_create("core");

  tcase_add_checked_fixture(tc, setup, NULL);
  tcase_add_test(tc, test_invalid_golden);
  tcase_add_test(tc, test_valid_templates);
  tcase_add_test(tc, test_error_codes);
  tcase_add_test(tc, test_positions);
  tcase_add_test(tc, test_load_file);
  tcase_add_test(tc, test_template_struct);
  tcase_add_test(tc, test_buffer_not_terminated);
  tcase_add_test(tc, test_first_error_wins);
  tcase_add_test(tc, test_vars);
  tcase_add_test(tc, test_var_conversion);
  tcase_add_test(tc, test_var_file_types);
  tcase_add_test(tc, test_sensitive_redacted);
  tcase_add_test(tc, test_unknown_and_hash);
  tcase_add_test(tc, test_interpolation);
  tcase_add_test(tc, test_reserved_key);
  tcase_add_test(tc, test_version1_provider);
  tcase_add_test(tc, test_properties_kept_as_text);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
#ifdef DROVER_WITH_LXD
  return run_suite(template_suite());
#else
  /* --enable-lxd=dl: the golden cases' lxd types come from the build
   * tree's module. */
  return run_suite_with_providers(template_suite(), TEST_BUILDDIR "/providers/.libs");
#endif
}
