/*
 * check_s3_loopback.c - which endpoint hosts name this machine
 * (s3_host_is_loopback): with one, download_threshold defaults to none
 * (doc/s3.md). The text alone decides; nothing is looked up. And the
 * setting the provider ends with, for such endpoints and others, set or
 * not.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "drover_provider.h"
#include "s3.h"
#include "run_suite.h"

static const struct {
  const char *host;
  int loopback;
} cases[] = {
  {"127.0.0.1", 1},
  {"127.0.0.1:4568", 1},
  {"127.255.3.9:80", 1},
  {"localhost", 1},
  {"LocalHost:9000", 1},
  {"localhost.", 1},
  {"127.0.0.1.:4568", 1},
  {"s3.localhost:4568", 1},
  {"bucket.s3.localhost", 1},
  {"[::1]:9000", 1},
  {"[::1]", 1},
  {"[0:0:0:0:0:0:0:1]", 1},
  /* Other machines, or names that only look local. */
  {"s3.us-east-1.amazonaws.com", 0},
  {"10.0.0.1:9000", 0},
  {"128.0.0.1", 0},
  {"126.255.255.255", 0},
  {"0.0.0.0", 0},
  {"127.0.0.1.example.com", 0},
  {"localhost.example.com", 0},
  {"mylocalhost", 0},
  {"xlocalhost:80", 0},
  {".localhost", 0},
  /* A short form getaddrinfo would take for 127.0.0.1: not dotted-quad,
   * so taken as another machine, whose default is the safe one. */
  {"127.1", 0},
  {"[::2]:9000", 0},
  {"[::1", 0},
  {"[fe80::1]", 0},
  {"", 0},
};

START_TEST(loopback_hosts)
{
  ck_assert_msg(s3_host_is_loopback(cases[_i].host) == cases[_i].loopback, "%s: want %d",
                cases[_i].host, cases[_i].loopback);
}
END_TEST

static const struct {
  const char *config;   /* the provider's settings, JSON */
  unsigned long long want;
} defaults[] = {
  /* Not set: 256 MiB, but none (0) with a loopback endpoint. */
  {"{\"endpoint\": \"https://s3.example.com\"}", S3_RANGED_MIN},
  {"{\"endpoint\": \"http://10.0.0.1:9000\"}", S3_RANGED_MIN},
  {"{\"endpoint\": \"http://127.0.0.1:4568\"}", 0},
  {"{\"endpoint\": \"http://localhost:9000\"}", 0},
  {"{\"endpoint\": \"http://[::1]:9000\"}", 0},
  /* No endpoint: AWS's, not loopback. */
  {"{}", S3_RANGED_MIN},
  /* Set: as given, loopback or not; 0 is none anywhere. */
  {"{\"endpoint\": \"http://127.0.0.1:4568\", \"download_threshold\": 268435456}", 256ull << 20},
  {"{\"endpoint\": \"http://127.0.0.1:4568\", \"download_threshold\": 5242880}", 5ull << 20},
  {"{\"endpoint\": \"https://s3.example.com\", \"download_threshold\": 0}", 0},
  {"{\"endpoint\": \"https://s3.example.com\", \"download_threshold\": 1073741824}",
   1ull << 30},
};

/* The S3 provider's init with config (JSON text) into *st (allocated
 * here, freed by stop()); its result. */
static drover_code start(const drover_provider **p, const char *config, s3_state **st,
                         drover_error *err)
{
  json_t *cfg = json_loads(config, 0, NULL);
  drover_code rc;

  ck_assert_ptr_nonnull(cfg);
  setenv("AWS_ACCESS_KEY_ID", "AKIDLOOPBACK", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "secret-value-loopback", 1);
  unsetenv("DROVER_S3_ENDPOINT");
  drover_error_clear(err);
  ck_assert_int_eq(drover_provider_get(p, "s3", err), DROVER_OK);
  *st = calloc(1, (*p)->state_size);
  ck_assert_ptr_nonnull(*st);
  rc = (*p)->init(*st, cfg, NULL, err);
  json_decref(cfg);
  return rc;
}

static void stop(const drover_provider *p, s3_state *st)
{
  p->cleanup(st);
  free(st);
}

START_TEST(threshold_default)
{
  const drover_provider *p = NULL;
  s3_state *st;
  drover_error err;

  ck_assert_msg(start(&p, defaults[_i].config, &st, &err) == DROVER_OK, "%s: %s",
                defaults[_i].config, err.text);
  ck_assert_msg(st->dl_threshold == defaults[_i].want, "%s: %llu, want %llu",
                defaults[_i].config, st->dl_threshold, defaults[_i].want);
  stop(p, st);
}
END_TEST

/* Below S3's 5 MiB part minimum and not 0: refused, saying what is allowed. */
START_TEST(threshold_refused)
{
  const drover_provider *p = NULL;
  s3_state *st;
  drover_error err;

  ck_assert_int_eq(start(&p, "{\"download_threshold\": 1024}", &st, &err), DROVER_E_CONFIG);
  ck_assert_msg(strstr(err.text, "download_threshold must be 0 (none) or an integer from "
                                 "5242880") != NULL, "%s", err.text);
  stop(p, st);
}
END_TEST

static Suite *suite(void)
{
  Suite *s = suite_create("s3_loopback");
  TCase *tc = tcase_create("hosts");

  tcase_add_loop_test(tc, loopback_hosts, 0, (int)(sizeof(cases) / sizeof(cases[0])));
  suite_add_tcase(s, tc);
  tc = tcase_create("threshold");
  tcase_add_loop_test(tc, threshold_default, 0, (int)(sizeof(defaults) / sizeof(defaults[0])));
  tcase_add_test(tc, threshold_refused);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(suite());
}
