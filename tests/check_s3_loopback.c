/*
 * check_s3_loopback.c - which endpoint hosts name this machine
 * (s3_host_is_loopback): with one, download_threshold defaults to none
 * (doc/s3.md). The text alone decides; nothing is looked up. And the
 * setting the provider ends with, for such endpoints and others, set or
 * not.
 */
#include <check.h>
#include <stdio.h>
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
  const char *endpoint;
  const char *set;      /* download_threshold's JSON value; NULL: not set */
  unsigned long long want;
} defaults[] = {
  /* Not set: 256 MiB, but none (0) with a loopback endpoint. */
  {"https://s3.example.com", NULL, S3_RANGED_MIN},
  {"http://10.0.0.1:9000", NULL, S3_RANGED_MIN},
  {"http://127.0.0.1:4568", NULL, 0},
  {"http://localhost:9000", NULL, 0},
  {"http://[::1]:9000", NULL, 0},
  /* No endpoint: AWS's, not loopback. */
  {NULL, NULL, S3_RANGED_MIN},
  /* Set: as given, loopback or not; 0 is none anywhere. */
  {"http://127.0.0.1:4568", "268435456", 256ull << 20},
  {"http://127.0.0.1:4568", "5242880", 5ull << 20},
  {"https://s3.example.com", "0", 0},
  {"https://s3.example.com", "1073741824", 1ull << 30},
};

START_TEST(threshold_default)
{
  const drover_provider *p = NULL;
  char text[256];
  json_t *cfg;
  s3_state *st;
  drover_error err;

  setenv("AWS_ACCESS_KEY_ID", "AKIDLOOPBACK", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "secret-value-loopback", 1);
  unsetenv("DROVER_S3_ENDPOINT");
  drover_error_clear(&err);
  ck_assert_int_eq(drover_provider_get(&p, "s3", &err), DROVER_OK);
  snprintf(text, sizeof(text), "{%s%s%s%s%s%s}",
           defaults[_i].endpoint ? "\"endpoint\": \"" : "",
           defaults[_i].endpoint ? defaults[_i].endpoint : "", defaults[_i].endpoint ? "\"" : "",
           defaults[_i].endpoint && defaults[_i].set ? ", " : "",
           defaults[_i].set ? "\"download_threshold\": " : "",
           defaults[_i].set ? defaults[_i].set : "");
  cfg = json_loads(text, 0, NULL);
  ck_assert_ptr_nonnull(cfg);
  st = calloc(1, p->state_size);
  ck_assert_ptr_nonnull(st);
  ck_assert_msg(p->init(st, cfg, NULL, &err) == DROVER_OK, "%s: %s", text, err.text);
  ck_assert_msg(st->dl_threshold == defaults[_i].want, "%s: %llu, want %llu", text,
                st->dl_threshold, defaults[_i].want);
  p->cleanup(st);
  free(st);
  json_decref(cfg);
}
END_TEST

/* Below S3's 5 MiB part minimum and not 0: refused, saying what is allowed. */
START_TEST(threshold_refused)
{
  const drover_provider *p = NULL;
  json_t *cfg = json_loads("{\"download_threshold\": 1024}", 0, NULL);
  s3_state *st;
  drover_error err;

  setenv("AWS_ACCESS_KEY_ID", "AKIDLOOPBACK", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "secret-value-loopback", 1);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_provider_get(&p, "s3", &err), DROVER_OK);
  st = calloc(1, p->state_size);
  ck_assert_ptr_nonnull(st);
  ck_assert_int_eq(p->init(st, cfg, NULL, &err), DROVER_E_CONFIG);
  ck_assert_msg(strstr(err.text, "download_threshold must be 0 (none) or an integer from "
                                 "5242880") != NULL, "%s", err.text);
  p->cleanup(st);
  free(st);
  json_decref(cfg);
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
