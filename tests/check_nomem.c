/* check_nomem.c - allocation failure injection (jansson's chaos-malloc
 * idea) over the whole engine pipeline against the fake provider:
 *
 *   drover_template_load_buffer, drover_vars_set, drover_stack_open,
 *   drover_stack_refresh, drover_plan_new, drover_plan_render,
 *   drover_plan_to_json, drover_apply, drover_stack_outputs_json
 *
 * A clean run counts the allocations the library makes (N); then for each
 * k the k-th allocation fails. Every step must either succeed or return
 * an error with err set; nothing may crash (each k is its own Check test,
 * so with CK_FORK a crash fails that k) or leak (run under valgrind with
 * CK_FORK=no, or under ASan, whose leak check runs in every forked test).
 * Afterwards the fake cloud must hold only fully labelled objects, a
 * clean re-run must converge, and a run that reported success despite the
 * failure must have produced the same plan and outputs as the clean run.
 *
 * How allocations are intercepted:
 *  - jansson: json_set_alloc_funcs (fine in a test program, never in the
 *    library, which lives in other people's processes).
 *  - libc: the test program is linked with -Wl,--wrap=malloc,... (see
 *    tests/Makefile.include). libdrover_core.la is a libtool convenience
 *    archive, so its objects are linked into this executable and their
 *    calls to malloc, calloc, realloc, strdup, strndup, vasprintf and
 *    asprintf resolve to the __wrap_* functions below; shared libraries
 *    (libc itself, jansson, Check) keep calling the real ones. Unlike
 *    defining malloc in the executable this needs no dlsym bootstrapping
 *    and intercepts only code linked statically into the test. Under ASan
 *    __real_malloc simply is ASan's malloc, so the same wrappers work
 *    there too (no interposition of libc's symbols takes place).
 *    Not covered: allocations libc makes on the library's behalf (fopen,
 *    open_memstream, pthread_create).
 *  - The fake provider stands for a cloud, not for the engine: its calls
 *    run with injection suspended (a thread-local flag set by a wrapping
 *    provider table), so the failures land in the engine only.
 *
 * Only allocations made while the counter is armed (inside run()) count.
 */
#include <check.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "engine.h"
#include "fake_provider.h"

/* ------------------------------------------------------------------------
 * The injector
 */

static atomic_int armed;             /* counting only inside run() */
static atomic_ulong alloc_count;     /* allocations counted so far */
static atomic_ulong fail_at;         /* 0: never fail */
static atomic_int fired;             /* the k-th allocation was failed */
static _Thread_local int suspended;  /* inside a provider op */

/* jansson 2.14's json_dumps ignores a failed write of an object key
 * (dump_object drops dump_string's result), so a failed buffer growth
 * there yields JSON with a key missing instead of NULL. Known, not ours:
 * noted so the "same as the clean run" check can say so. */
static volatile int in_json_dumps;
static atomic_int fired_in_dumps;
char *__real_json_dumps(const json_t *json, size_t flags);
char *__wrap_json_dumps(const json_t *json, size_t flags);

char *__wrap_json_dumps(const json_t *json, size_t flags)
{
  char *s;

  in_json_dumps++;
  s = __real_json_dumps(json, flags);
  in_json_dumps--;
  return s;
}

/* A place for a debugger's breakpoint: the failing allocation. */
__attribute__((noinline)) static void nomem_fire_point(void)
{
  __asm__ volatile("");
}

/* Counts one allocation; non-zero when it must fail. */
static int nomem_tick(void)
{
  unsigned long n, k;

  if(!atomic_load(&armed) || suspended)
    return 0;
  n = atomic_fetch_add(&alloc_count, 1) + 1;
  k = atomic_load(&fail_at);
  if(k && n == k) {
    nomem_fire_point();
    if(in_json_dumps)
      atomic_store(&fired_in_dumps, 1);
    atomic_store(&fired, 1);
    return 1;
  }
  return 0;
}

void *__real_malloc(size_t size);
void *__real_calloc(size_t nmemb, size_t size);
void *__real_realloc(void *ptr, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_vasprintf(char **strp, const char *fmt, va_list ap);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_vasprintf(char **strp, const char *fmt, va_list ap);
int __wrap_asprintf(char **strp, const char *fmt, ...);

void *__wrap_malloc(size_t size)
{
  return nomem_tick() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t nmemb, size_t size)
{
  return nomem_tick() ? NULL : __real_calloc(nmemb, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
  return nomem_tick() ? NULL : __real_realloc(ptr, size);
}

char *__wrap_strdup(const char *s)
{
  return nomem_tick() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
  return nomem_tick() ? NULL : __real_strndup(s, n);
}

int __wrap_vasprintf(char **strp, const char *fmt, va_list ap)
{
  if(nomem_tick()) {
    *strp = NULL;
    return -1;
  }
  return __real_vasprintf(strp, fmt, ap);
}

int __wrap_asprintf(char **strp, const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = __wrap_vasprintf(strp, fmt, ap);
  va_end(ap);
  return n;
}

/* jansson 2.14 corrupts its heap or aborts (assert in lex_scan_string)
 * when the growth of its lexer's token buffer fails: lex_save() ignores
 * the failed append. That is jansson's bug, not ours, and no caller can
 * recover from it, so no allocation fails inside its parser: the
 * library's json_loadb and json_loads calls are wrapped to suspend the
 * injection (the file loaders are not reached by this pipeline). */
json_t *__real_json_loadb(const char *buffer, size_t buflen, size_t flags,
                          json_error_t *error);
json_t *__wrap_json_loadb(const char *buffer, size_t buflen, size_t flags,
                          json_error_t *error);

json_t *__wrap_json_loadb(const char *buffer, size_t buflen, size_t flags,
                          json_error_t *error)
{
  json_t *j;

  suspended++;
  j = __real_json_loadb(buffer, buflen, flags, error);
  suspended--;
  return j;
}

json_t *__real_json_loads(const char *input, size_t flags, json_error_t *error);
json_t *__wrap_json_loads(const char *input, size_t flags, json_error_t *error);

json_t *__wrap_json_loads(const char *input, size_t flags, json_error_t *error)
{
  json_t *j;

  suspended++;
  j = __real_json_loads(input, flags, error);
  suspended--;
  return j;
}

static void *json_chaos_malloc(size_t size)
{
  return nomem_tick() ? NULL : __real_malloc(size);
}

static void json_chaos_free(void *ptr)
{
  free(ptr);
}

/* ------------------------------------------------------------------------
 * The fake provider with injection suspended during its ops
 */

static drover_code np_init(void *state, const json_t *config,
                           const drover_provider_env *env, drover_error *err)
{
  drover_code rc;

  suspended++;
  rc = fake_provider.init(state, config, env, err);
  suspended--;
  return rc;
}

static void np_cleanup(void *state)
{
  suspended++;
  fake_provider.cleanup(state);
  suspended--;
}

static drover_code np_list(void *state, const drover_rtype *type,
                           const char *stack, drover_live_list *out,
                           drover_error *err)
{
  drover_code rc;

  suspended++;
  rc = fake_provider.list(state, type, stack, out, err);
  suspended--;
  return rc;
}

static drover_code np_create(void *state, const drover_rtype *type,
                             const drover_res_req *req, drover_live **out,
                             drover_error *err)
{
  drover_code rc;

  suspended++;
  rc = fake_provider.create(state, type, req, out, err);
  suspended--;
  return rc;
}

static drover_code np_update(void *state, const drover_rtype *type,
                             const drover_res_req *req, const drover_live *cur,
                             drover_live **out, drover_error *err)
{
  drover_code rc;

  suspended++;
  rc = fake_provider.update(state, type, req, cur, out, err);
  suspended--;
  return rc;
}

static drover_code np_del(void *state, const drover_rtype *type,
                          const drover_live *cur, double deadline,
                          drover_error *err)
{
  drover_code rc;

  suspended++;
  rc = fake_provider.del(state, type, cur, deadline, err);
  suspended--;
  return rc;
}

static drover_code np_read(void *state, const drover_rtype *type,
                           const char *name, drover_live **out,
                           drover_error *err)
{
  drover_code rc;

  suspended++;
  rc = fake_provider.read(state, type, name, out, err);
  suspended--;
  return rc;
}

static const drover_rtype *const np_types[] = {&fake_thing_type,
                                               &fake_group_type, NULL};

/* Named "fake", so the template's fake.* types resolve to it; the real
 * fake table is never registered here. */
static const drover_provider nomem_provider = {
  DROVER_PROVIDER_VERSION,
  "fake",
  DROVER_CAP_ETAG,
  sizeof(int) * 4,
  np_types,
  np_init,
  np_cleanup,
  np_list,
  np_create,
  np_update,
  np_del,
  np_read,
  NULL, /* version 2: no settings schema, */
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, /* check, snapshots, exec or clone */
  sizeof(drover_provider),
  NULL, /* version 4: no run labels */
  NULL, NULL, /* version 5: no backup export or import */
  NULL, NULL, NULL, NULL, /* version 6: no stack lease */
  NULL, NULL, /* version 7: no live export */
  NULL /* version 8: deletes one at a time */
};

/* ------------------------------------------------------------------------
 * The pipeline
 */

static char tmpdir[] = "/tmp/check_nomem.XXXXXX";
static FILE *devnull;

/* A group and two things that depend on it; count, references, a
 * sensitive param and outputs over a splat. */
static const char *TPL =
  "{\"drover\": 1, \"stack\": \"tn\",\n"
  " \"params\": {\"n\": {\"type\": \"integer\", \"default\": 1},\n"
  "            \"image\": {\"type\": \"string\", \"default\": \"busybox\"},\n"
  "            \"pw\": {\"type\": \"string\", \"default\": \"hunter2-secret\",\n"
  "                     \"sensitive\": true}},\n"
  " \"providers\": {\"fake\": {\"region\": \"x\"}},\n"
  " \"resources\": {\n"
  "  \"grp\": {\"type\": \"fake.group\", \"properties\": {\"config\": {\"a\": \"1\"}}},\n"
  "  \"web\": {\"type\": \"fake.thing\", \"count\": \"${params.n}\",\n"
  "           \"depends_on\": [\"grp\"],\n"
  "           \"properties\": {\"image\": \"${params.image}\", \"size\": 2,\n"
  "                          \"note\": \"${resources.grp.id}\",\n"
  "                          \"tags\": {\"pw\": \"${params.pw}\", \"i\": \"${count.index}\"}}}},\n"
  " \"outputs\": {\"names\": {\"value\": \"${resources.web[*].name}\"},\n"
  "             \"grp\": {\"value\": \"${resources.grp.name}\"},\n"
  "             \"secret\": {\"value\": \"${params.pw}\", \"sensitive\": true}}}\n";

static const char *const OBJECTS[][2] = {
  {"fake.group", "grp"}, {"fake.thing", "web-0"}, {"fake.thing", "web-1"}
};

/* Which step a run reached, for messages. */
enum { S_LOAD, S_VARS, S_OPEN, S_REFRESH, S_PLAN, S_RENDER, S_JSON, S_APPLY,
       S_OUTPUTS, S_DONE };
static const char *const step_names[] = {
  "load", "vars", "open", "refresh", "plan", "render", "to_json", "apply",
  "outputs", "done"
};

typedef struct result {
  int step;             /* the step that failed, S_DONE if none */
  drover_code rc;       /* its return code */
  drover_error err;     /* its error */
  char *plan_json;      /* free() */
  char *outputs;        /* free() */
  unsigned long allocs; /* allocations counted */
  int fired;
  int fired_in_dumps;
} result;

/* Clean-run reference (computed in main, inherited by the tests). */
static unsigned long n_allocs, n_open_allocs, n_load_allocs;
static char *ref_plan_json, *ref_outputs;

static void result_free(result *r)
{
  free(r->plan_json);
  free(r->outputs);
  memset(r, 0, sizeof(*r));
}

/* Runs the pipeline with the k-th allocation failing (0: none). Stops at
 * the first failing step. open_allocs, when not NULL, receives the count
 * after stack_open. */
static int stop_after_load;

static void run(result *r, unsigned long k, unsigned long *open_allocs)
{
  drover_template *tpl = NULL;
  drover_vars *vars = NULL;
  drover_stack *stack = NULL;
  drover_plan *plan = NULL;
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_apply_opts ao = DROVER_APPLY_OPTS_INIT;
  drover_code rc;

  memset(r, 0, sizeof(*r));
  ao.parallelism = 1;
  ao.retry_base = 0.001;
  ao.max_retries = 1;
  atomic_store(&alloc_count, 0);
  atomic_store(&fired, 0);
  atomic_store(&fired_in_dumps, 0);
  atomic_store(&fail_at, k);
  atomic_store(&armed, 1);

  r->step = S_LOAD;
  rc = drover_template_load_buffer(&tpl, TPL, strlen(TPL), "nomem.json", &r->err);
  if(rc || stop_after_load)
    goto out;
  r->step = S_VARS;
  vars = drover_vars_new();
  if(!vars) {
    rc = drover_error_set(&r->err, DROVER_E_NOMEM, "test: drover_vars_new failed");
    goto out;
  }
  rc = drover_vars_set(vars, "n", "2", &r->err);
  if(!rc)
    rc = drover_vars_set(vars, "image", "alpine", &r->err);
  if(rc)
    goto out;
  r->step = S_OPEN;
  rc = drover_stack_open(&stack, tpl, vars, &opts, &r->err);
  if(rc)
    goto out;
  if(open_allocs)
    *open_allocs = atomic_load(&alloc_count);
  r->step = S_REFRESH;
  rc = drover_stack_refresh(stack, &r->err);
  if(rc)
    goto out;
  r->step = S_PLAN;
  rc = drover_plan_new(&plan, stack, 0, &r->err);
  if(rc)
    goto out;
  r->step = S_RENDER;
  rc = drover_plan_render(plan, devnull, 0);
  if(rc) {
    /* render has no drover_error; say so here so the check below holds. */
    drover_error_set(&r->err, rc, "test: drover_plan_render failed");
    goto out;
  }
  r->step = S_JSON;
  rc = drover_plan_to_json(&r->plan_json, plan, &r->err);
  if(rc)
    goto out;
  r->step = S_APPLY;
  rc = drover_apply(plan, &ao, NULL, &r->err);
  if(rc)
    goto out;
  r->step = S_OUTPUTS;
  rc = drover_stack_outputs_json(&r->outputs, stack, 1, &r->err);
  if(rc)
    goto out;
  r->step = S_DONE;
out:
  drover_plan_free(plan);
  drover_stack_free(stack);
  drover_vars_free(vars);
  drover_template_free(tpl);
  atomic_store(&armed, 0);
  r->rc = rc;
  r->allocs = atomic_load(&alloc_count);
  r->fired = atomic_load(&fired);
  r->fired_in_dumps = atomic_load(&fired_in_dumps);
  atomic_store(&fail_at, 0);
}

/* Every object in the fake cloud carries all of this stack's labels. */
static void check_cloud(unsigned long k)
{
  size_t i, total = fake_count(NULL, NULL);

  ck_assert_msg(total == fake_count(NULL, "tn"),
                "k=%lu: %zu objects, only %zu labelled with the stack", k,
                total, fake_count(NULL, "tn"));
  for(i = 0; i < sizeof(OBJECTS) / sizeof(OBJECTS[0]); i++) {
    json_t *o = fake_get(OBJECTS[i][0], OBJECTS[i][1]);
    json_t *labels;
    if(!o)
      continue;
    labels = json_object_get(o, "labels");
    ck_assert_msg(json_is_string(json_object_get(labels, "stack")) &&
                  json_is_string(json_object_get(labels, "address")) &&
                  json_is_string(json_object_get(labels, "hash")),
                  "k=%lu: %s half-labelled", k, OBJECTS[i][1]);
    json_decref(o);
  }
}

static void setup(void)
{
  fake_reset();
}

/* ------------------------------------------------------------------------ */

START_TEST(clean_run)
{
  result r;
  char buf[1200];

  run(&r, 0, NULL);
  ck_assert_msg(r.step == S_DONE, "clean run failed at %s: %s",
                step_names[r.step], drover_error_format(&r.err, buf, sizeof(buf)));
  ck_assert_uint_eq(fake_count(NULL, "tn"), 3);
  check_cloud(0);
  ck_assert_ptr_nonnull(strstr(r.outputs, "web-1"));
  ck_assert_ptr_nonnull(strstr(r.outputs, "hunter2-secret"));
  ck_assert_uint_gt(r.allocs, 100);
  result_free(&r);
}
END_TEST

START_TEST(fail_kth)
{
  unsigned long k = (unsigned long)_i;
  result r, again;
  char buf[1200];

  run(&r, k, NULL);
  ck_assert_msg(r.fired, "k=%lu: only %lu allocations (clean run: %lu)", k,
                r.allocs, n_allocs);
  if(r.step != S_DONE) {
    ck_assert_msg(r.err.code != DROVER_OK && r.err.text[0],
                  "k=%lu: %s returned %s without an error", k,
                  step_names[r.step], drover_strerror(r.rc));
    ck_assert_msg(r.rc == DROVER_E_NOMEM || r.rc == DROVER_E_PARTIAL,
                  "k=%lu: %s returned %s: %s", k, step_names[r.step],
                  drover_strerror(r.rc),
                  drover_error_format(&r.err, buf, sizeof(buf)));
    ck_assert_msg(r.err.code == DROVER_E_NOMEM || r.err.code == r.rc,
                  "k=%lu: %s: err says %s: %s", k, step_names[r.step],
                  drover_strerror(r.err.code),
                  drover_error_format(&r.err, buf, sizeof(buf)));
  }
  else if(r.fired_in_dumps && (strcmp(r.plan_json, ref_plan_json) ||
                                strcmp(r.outputs, ref_outputs))) {
    fprintf(stderr, "check_nomem: k=%lu: jansson's json_dumps dropped a key "
            "(jansson bug; known)\n", k);
  }
  else {
    /* The failure was absorbed (a log line dropped, say): the results
     * must still be exactly those of the clean run. */
    ck_assert_msg(r.plan_json && !strcmp(r.plan_json, ref_plan_json),
                  "k=%lu: plan JSON differs from the clean run:\n%s", k,
                  r.plan_json ? r.plan_json : "(null)");
    ck_assert_msg(r.outputs && !strcmp(r.outputs, ref_outputs),
                  "k=%lu: outputs differ from the clean run:\n%s", k,
                  r.outputs ? r.outputs : "(null)");
  }
  check_cloud(k);
  result_free(&r);

  /* A clean run afterwards converges to the same cloud. */
  run(&again, 0, NULL);
  ck_assert_msg(again.step == S_DONE, "k=%lu: clean re-run failed at %s: %s", k,
                step_names[again.step],
                drover_error_format(&again.err, buf, sizeof(buf)));
  ck_assert_uint_eq(fake_count(NULL, "tn"), 3);
  check_cloud(k);
  ck_assert_msg(!strcmp(again.outputs, ref_outputs),
                "k=%lu: outputs after the re-run differ:\n%s", k, again.outputs);
  result_free(&again);
}
END_TEST

/* Every k up to the end of stack_open, then a stride through the rest so
 * the suite stays well under 20 s; DROVER_NOMEM_ALL=1 tests every k. */
static Suite *nomem_suite(void)
{
  Suite *s = suite_create("nomem");
  TCase *tc = tcase_create("clean");
  unsigned long k, stride = 1, budget = 1500;

  tcase_add_checked_fixture(tc, setup, NULL);
  tcase_add_test(tc, clean_run);
  suite_add_tcase(s, tc);

  tc = tcase_create("inject");
  tcase_add_checked_fixture(tc, setup, NULL);
  tcase_set_timeout(tc, 60);
  if(!getenv("DROVER_NOMEM_ALL") && n_allocs > n_open_allocs &&
     n_allocs - n_open_allocs > budget)
    stride = (n_allocs - n_open_allocs + budget - 1) / budget;
  if(getenv("DROVER_NOMEM_K")) {
    k = strtoul(getenv("DROVER_NOMEM_K"), NULL, 10);
    tcase_add_loop_test(tc, fail_kth, (int)k, (int)k + 1);
    suite_add_tcase(s, tc);
    return s;
  }
  tcase_add_loop_test(tc, fail_kth, 1, (int)n_open_allocs + 1);
  for(k = n_open_allocs + 1; k <= n_allocs; k += stride)
    tcase_add_loop_test(tc, fail_kth, (int)k, (int)k + 1);
  if(stride > 1 && (n_allocs - n_open_allocs - 1) % stride)
    tcase_add_loop_test(tc, fail_kth, (int)n_allocs, (int)n_allocs + 1);
  suite_add_tcase(s, tc);
  fprintf(stderr, "check_nomem: %lu allocations (%lu in load, %lu up to "
          "stack_open), stride %lu after that\n",
          n_allocs, n_load_allocs, n_open_allocs, stride);
  return s;
}

int main(void)
{
  SRunner *sr;
  int failed = 1;
  result r;
  char buf[1200];

  if(!mkdtemp(tmpdir))
    return 99;
  setenv("DROVER_LOCK_DIR", tmpdir, 1);
  /* Before any jansson allocation. */
  json_set_alloc_funcs(json_chaos_malloc, json_chaos_free);
  devnull = fopen("/dev/null", "w");
  if(!devnull)
    return 99;
  drover_global_init();
  {
    drover_error err;
    drover_error_clear(&err);
    if(dv_provider_register(&nomem_provider, &err))
      return 99;
  }

  /* The clean run: count, and keep the results to compare against. */
  fake_reset();
  run(&r, 0, &n_open_allocs);
  if(r.step != S_DONE) {
    fprintf(stderr, "check_nomem: clean run failed at %s: %s\n",
            step_names[r.step], drover_error_format(&r.err, buf, sizeof(buf)));
    result_free(&r);
    goto out;
  }
  n_allocs = r.allocs;
  result_free(&r);
  /* Again: the first run also made one-time allocations. */
  fake_reset();
  run(&r, 0, &n_open_allocs);
  if(r.step != S_DONE)
    goto out;
  n_allocs = r.allocs;
  stop_after_load = 1;
  {
    result lr;
    run(&lr, 0, NULL);
    n_load_allocs = lr.allocs;
    result_free(&lr);
  }
  stop_after_load = 0;
  ref_plan_json = r.plan_json;
  ref_outputs = r.outputs;
  r.plan_json = r.outputs = NULL;
  fake_reset();

  sr = srunner_create(nomem_suite());
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
out:
  free(ref_plan_json);
  free(ref_outputs);
  fake_reset();
  drover_global_cleanup();
  fclose(devnull);
  {
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if(system(cmd) != 0)
      failed++;
  }
  return failed ? 1 : 0;
}
