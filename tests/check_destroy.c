/* check_destroy.c - the library's bare-stack destroy (what `drover gc`
 * and the SPANK epilog call), job stack names, and the "every provider"
 * default of a bare stack, against the fake provider. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "aws_env.h"
#include "engine.h"
#include "fake_provider.h"
#include "run_suite.h"

static char lockdir[64];

static void setup(void)
{
  fake_reset();
  snprintf(lockdir, sizeof(lockdir), "/tmp/check_destroy.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(lockdir));
}

static void teardown(void)
{
  char cmd[96];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", lockdir);
  if(system(cmd))
    fprintf(stderr, "check_destroy: cannot remove %s\n", lockdir);
}

static void seed_job(const char *stack)
{
  char n[64];

  snprintf(n, sizeof(n), "%s-g0", stack);
  ck_assert_int_eq(fake_seed("fake.group", n, stack, "grp", NULL, "", "{}"), 0);
  snprintf(n, sizeof(n), "%s-t0", stack);
  ck_assert_int_eq(fake_seed("fake.thing", n, stack, "web[0]", NULL, "grp",
                             "{\"image\":\"busybox\"}"), 0);
  snprintf(n, sizeof(n), "%s-t1", stack);
  ck_assert_int_eq(fake_seed("fake.thing", n, stack, "web[1]", NULL, "grp",
                             "{\"image\":\"busybox\"}"), 0);
}

START_TEST(destroy_bare_dry_run_then_real)
{
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_destroy_opts d = DROVER_DESTROY_OPTS_INIT;
  drover_destroy_result res;
  drover_error err;

  seed_job("job-12-web");
  seed_job("job-13-web");
  opts.lock_dir = lockdir;
  d.dry_run = 1;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_destroy_bare("job-12-web", "{\"fake\":{}}", &opts, &d,
                                             &res, &err), DROVER_OK);
  ck_assert_uint_eq(res.planned, 3);
  ck_assert_uint_eq(res.deleted, 0);
  ck_assert_uint_eq(fake_count(NULL, "job-12-web"), 3);

  d.dry_run = 0;
  ck_assert_int_eq(drover_stack_destroy_bare("job-12-web", "{\"fake\":{}}", &opts, &d,
                                             &res, &err), DROVER_OK);
  ck_assert_uint_eq(res.planned, 3);
  ck_assert_uint_eq(res.deleted, 3);
  ck_assert_uint_eq(fake_count(NULL, "job-12-web"), 0);
  /* Another job's stack is untouched. */
  ck_assert_uint_eq(fake_count(NULL, "job-13-web"), 3);
  /* The group went last: it is what the things depend on. */
  ck_assert_int_gt(fake_log_pos(FAKE_OP_DELETE, "grp", 0),
                   fake_log_pos(FAKE_OP_DELETE, "web[0]", 1));

  /* Nothing left: success with nothing planned. */
  ck_assert_int_eq(drover_stack_destroy_bare("job-12-web", "{\"fake\":{}}", &opts, &d,
                                             &res, &err), DROVER_OK);
  ck_assert_uint_eq(res.planned, 0);
}
END_TEST

START_TEST(destroy_bare_lock_held)
{
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_destroy_opts d = DROVER_DESTROY_OPTS_INIT;
  drover_stack *holder = NULL;
  drover_error err;

  seed_job("job-14-web");
  opts.lock_dir = lockdir;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_open_bare(&holder, "job-14-web", "{\"fake\":{}}", &opts,
                                          &err), DROVER_OK);
  ck_assert_int_eq(drover_stack_lock(holder, 0, &err), DROVER_OK);
  ck_assert_int_eq(drover_stack_destroy_bare("job-14-web", "{\"fake\":{}}", &opts, &d,
                                             NULL, &err), DROVER_E_LOCKED);
  ck_assert_uint_eq(fake_count(NULL, "job-14-web"), 3);
  drover_stack_free(holder);
}
END_TEST

START_TEST(destroy_bare_bad_options)
{
  drover_destroy_opts d = DROVER_DESTROY_OPTS_INIT;
  drover_error err;

  d.version = 99;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_destroy_bare("job-1-x", "{\"fake\":{}}", NULL, &d, NULL,
                                             &err), DROVER_E_ARG);
  ck_assert_uint_eq(fake_calls(FAKE_OP_LIST, NULL), 0);
}
END_TEST

START_TEST(every_provider_by_default)
{
  char *json = NULL;
  drover_error err;
  json_t *o;
  const drover_provider *p;
  size_t i, n = 0;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_providers_json(&json, &err), DROVER_OK);
  o = json_loads(json, 0, NULL);
  ck_assert_ptr_nonnull(o);
  /* One member per known provider, each with empty settings. */
  for(i = 0; (p = dv_provider_at(i)) != NULL; i++, n++)
    ck_assert_msg(json_is_object(json_object_get(o, p->name)), "%s missing", p->name);
  ck_assert_uint_eq(json_object_size(o), n);
  ck_assert_ptr_nonnull(json_object_get(o, "fake"));
  json_decref(o);
  free(json);
}
END_TEST

typedef struct warnings {
  const char *provider;        /* "provider lxd ": the warnings counted */
  int n;
  char last[1200];
} warnings;

static void collect(void *ud, drover_log_level level, const char *msg)
{
  warnings *w = ud;
  /* One provider's only: another built-in one (S3, no credentials here)
   * may be skipped the same way. */
  if(level == DROVER_LOG_WARN && strstr(msg, w->provider)) {
    w->n++;
    snprintf(w->last, sizeof(w->last), "%s", msg);
  }
}

/* Writes json as the admin's provider config in lockdir; its path goes to
 * cfg. */
static void write_admin(char *cfg, size_t size, const char *json)
{
  FILE *f;

  snprintf(cfg, size, "%s/providers.json", lockdir);
  f = fopen(cfg, "w");
  ck_assert_ptr_nonnull(f);
  fputs(json, f);
  fclose(f);
}

START_TEST(implied_provider_not_set_up_is_skipped)
{
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_destroy_opts d = DROVER_DESTROY_OPTS_INIT;
  drover_destroy_result res;
  drover_error err;
  warnings w;
  char **names = NULL, cfg[96];
  int have_lxd = dv_provider_find("lxd") != NULL;

  /* Every provider is asked (providers NULL); LXD, when built in, cannot
   * find its socket here and is skipped with a warning, not an error. */
  setenv("LXD_SOCKET", "/nonexistent/lxd.sock", 1);
  memset(&w, 0, sizeof(w));
  w.provider = "provider lxd ";
  seed_job("job-21-web");
  opts.lock_dir = lockdir;
  opts.log = collect;
  opts.log_userdata = &w;
  opts.log_level = DROVER_LOG_WARN;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stacks_list(&names, NULL, &opts, &err), DROVER_OK);
  ck_assert_ptr_nonnull(names);
  ck_assert_str_eq(names[0], "job-21-web");
  drover_strv_free(names);
  ck_assert_int_eq(drover_stack_destroy_bare("job-21-web", NULL, &opts, &d, &res, &err),
                   DROVER_OK);
  ck_assert_uint_eq(res.deleted, 3);
  ck_assert_uint_eq(fake_count(NULL, "job-21-web"), 0);
  if(have_lxd) {
    ck_assert_int_eq(w.n, 2);
    ck_assert_msg(strstr(w.last, "provider lxd is not set up here, skipped") != NULL,
                  "%s", w.last);
  }

  /* Named in the admin config, the same failure is an error. */
  if(have_lxd) {
    write_admin(cfg, sizeof(cfg), "{\"lxd\": {}}");
    opts.provider_config = cfg;
    seed_job("job-22-web");
    drover_error_clear(&err);
    ck_assert_int_eq(drover_stack_destroy_bare("job-22-web", NULL, &opts, &d, &res, &err),
                     DROVER_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.text, "/nonexistent/lxd.sock"));
    ck_assert_uint_eq(fake_count(NULL, "job-22-web"), 3);
  }
  unsetenv("LXD_SOCKET");
}
END_TEST

/* The admin file names aws only to turn its instance role off (a site
 * without AWS): with no credentials its init says DROVER_E_NOT_SET_UP,
 * and a bare stack skips it as if unnamed. A profile named but missing
 * still fails. */
START_TEST(named_provider_turned_off_is_skipped)
{
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_destroy_opts d = DROVER_DESTROY_OPTS_INIT;
  drover_destroy_result res;
  drover_error err;
  warnings w;
  char cfg[96];

  if(!dv_provider_find("aws"))
    return; /* built without the AWS provider: nothing to name */
  setenv("LXD_SOCKET", "/nonexistent/lxd.sock", 1);
  /* Were the setting ignored, the attempt stays on loopback (refused). */
  aws_env_none();
  memset(&w, 0, sizeof(w));
  w.provider = "provider aws ";
  write_admin(cfg, sizeof(cfg), "{\"aws\": {\"imds\": false}}");
  opts.provider_config = cfg;
  opts.lock_dir = lockdir;
  opts.log = collect;
  opts.log_userdata = &w;
  opts.log_level = DROVER_LOG_WARN;
  seed_job("job-23-web");
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_destroy_bare("job-23-web", NULL, &opts, &d, &res, &err),
                   DROVER_OK);
  ck_assert_uint_eq(res.deleted, 3);
  ck_assert_int_eq(w.n, 1);
  ck_assert_msg(strstr(w.last, "provider aws is not set up here, skipped") != NULL &&
                strstr(w.last, "IMDS turned off by the \"imds\": false setting") != NULL,
                "%s", w.last);

  write_admin(cfg, sizeof(cfg), "{\"aws\": {\"imds\": false, \"profile\": \"ops\"}}");
  seed_job("job-24-web");
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_destroy_bare("job-24-web", NULL, &opts, &d, &res, &err),
                   DROVER_E_CONFIG);
  ck_assert_msg(strstr(err.text, "profile \"ops\"") != NULL, "%s", err.text);
  ck_assert_uint_eq(fake_count(NULL, "job-24-web"), 3);
  unsetenv("LXD_SOCKET");
}
END_TEST

START_TEST(job_stack_names)
{
  char a[DROVER_JOB_STACK_MAX + 1], b[DROVER_JOB_STACK_MAX + 1];
  uint32_t id = 0;

  ck_assert_int_eq(drover_job_stack_name(a, sizeof(a), 123, "web_tier"), 0);
  ck_assert_str_eq(a, "job-123-web-tier");
  ck_assert_int_eq(drover_job_stack_jobid(a, &id), 0);
  ck_assert_uint_eq(id, 123);
  /* Cut long names stay unique and within the limit. */
  ck_assert_int_eq(drover_job_stack_name(a, sizeof(a), 4294967295u,
                                         "abcdefghijklmnopqrstuvwxyz012345"), 0);
  ck_assert_int_eq(drover_job_stack_name(b, sizeof(b), 4294967295u,
                                         "abcdefghijklmnopqrstuvwxyz012346"), 0);
  ck_assert_uint_eq(strlen(a), DROVER_JOB_STACK_MAX);
  ck_assert_str_ne(a, b);
  ck_assert_int_eq(drover_job_stack_name(a, sizeof(a), 1, "../x"), -1);
  ck_assert_int_eq(drover_job_stack_jobid("web", &id), -1);
  ck_assert_int_eq(drover_job_stack_jobid("job-4294967296-a", &id), -1);
  ck_assert_int_eq(drover_job_stack_jobid("job-12-", &id), -1);
}
END_TEST

static Suite *destroy_suite(void)
{
  Suite *s = suite_create("destroy");
  TCase *tc = tcase_create("core");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, destroy_bare_dry_run_then_real);
  tcase_add_test(tc, destroy_bare_lock_held);
  tcase_add_test(tc, destroy_bare_bad_options);
  tcase_add_test(tc, every_provider_by_default);
  tcase_add_test(tc, implied_provider_not_set_up_is_skipped);
  tcase_add_test(tc, named_provider_turned_off_is_skipped);
  tcase_add_test(tc, job_stack_names);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  if(fake_register())
    return 99;
  return run_suite(destroy_suite());
}
