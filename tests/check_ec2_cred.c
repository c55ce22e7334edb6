/* check_ec2_cred.c - the AWS provider's credential chain at init
 * (providers/aws/ec2_cred.c) and its instance-role opt-out: the "imds"
 * setting and AWS_EC2_METADATA_DISABLED.
 *
 * The metadata service is a scripted server on 127.0.0.1
 * (scripted_server.h) given as "imds_endpoint"; it counts the requests
 * it reads, so "IMDS off" is checked as zero requests, not as a message.
 * The environment and the shared files hold no credentials in these
 * tests unless one says so.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "drover_provider.h"
#include "run_suite.h"
#include "scripted_server.h"

/* IMDSv2 as the instance role path asks it: token, role name, role. */
static const char role_doc[] =
  "{\"Code\": \"Success\", \"AccessKeyId\": \"ASIACHECKROLE\", "
  "\"SecretAccessKey\": \"role-secret-check-ec2-cred\", \"Token\": \"role-session-token\", "
  "\"Expiration\": \"2099-01-01T00:00:00Z\"}";

static void no_creds_env(void)
{
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  unsetenv("AWS_SESSION_TOKEN");
  unsetenv("AWS_PROFILE");
  unsetenv("AWS_EC2_METADATA_DISABLED");
  unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
  setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
  setenv("DROVER_EC2_ENDPOINT", "http://127.0.0.1:9", 1);
}

/* A metadata service on loopback: routes for the role path when
 * serve_role, else a 403 for everything (as off EC2 here). */
static void imds_start(srv *s, int serve_role)
{
  static const char *const forbidden[] = {
    "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"};

  srv_listen(s, 0, serve_role ? NULL : forbidden, serve_role ? 0 : 1);
  if(serve_role) {
    srv_route_add(s, "PUT /latest/api/token", 200, "imds-token-check", -1);
    srv_route_add(s, "GET /latest/meta-data/iam/security-credentials/check-role", 200,
                  role_doc, -1);
    srv_route_add(s, "GET /latest/meta-data/iam/security-credentials/", 200, "check-role",
                  -1);
  }
  srv_run(s);
}

/* Initialises the aws provider with settings (a JSON text) and
 * "imds_endpoint" at s; *state is freed by done(). */
static drover_code init(void **state, const char *settings, const srv *s, drover_error *err)
{
  const drover_provider *p = NULL;
  char url[64];
  json_t *cfg;
  drover_code rc;

  drover_error_clear(err);
  ck_assert_int_eq(drover_provider_get(&p, "aws", err), DROVER_OK);
  cfg = json_loads(settings, 0, NULL);
  ck_assert_ptr_nonnull(cfg);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", s->port);
  ck_assert_int_eq(json_object_set_new(cfg, "imds_endpoint", json_string(url)), 0);
  *state = calloc(1, p->state_size);
  ck_assert_ptr_nonnull(*state);
  rc = p->init(*state, cfg, NULL, err);
  json_decref(cfg);
  return rc;
}

static void done(void *state)
{
  const drover_provider *p = NULL;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_provider_get(&p, "aws", &err), DROVER_OK);
  p->cleanup(state);
  free(state);
}

START_TEST(setting_off_makes_no_request)
{
  srv s;
  void *st;
  drover_error err;

  no_creds_env();
  imds_start(&s, 1);
  ck_assert_int_eq(init(&st, "{\"imds\": false}", &s, &err),
                   DROVER_E_NOT_SET_UP);
  ck_assert_int_eq(atomic_load(&s.served), 0);
  ck_assert_msg(strstr(err.text, "no credentials") != NULL, "%s", err.text);
  ck_assert_msg(strstr(err.text, "IMDS turned off by the \"imds\": false setting") != NULL,
                "%s", err.text);
  done(st);
  srv_stop(&s);
}
END_TEST

START_TEST(default_asks_the_role)
{
  srv s;
  void *st;
  drover_error err;

  no_creds_env();
  imds_start(&s, 1);
  ck_assert_int_eq(init(&st, "{}", &s, &err), DROVER_OK);
  /* The token PUT, the role name and the role's credentials. */
  ck_assert_int_eq(atomic_load(&s.served), 3);
  ck_assert_ptr_nonnull(strstr(s.req[0], "PUT /latest/api/token"));
  done(st);
  srv_stop(&s);
}
END_TEST

START_TEST(setting_true_asks)
{
  srv s;
  void *st;
  drover_error err;

  no_creds_env();
  imds_start(&s, 0);
  ck_assert_int_eq(init(&st, "{\"imds\": true}", &s, &err), DROVER_E_CONFIG);
  ck_assert_int_eq(atomic_load(&s.served), 1);
  ck_assert_msg(strstr(err.text, "instance metadata PUT /latest/api/token: HTTP 403") != NULL,
                "%s", err.text);
  done(st);
  srv_stop(&s);
}
END_TEST

START_TEST(variable_off_is_named)
{
  srv s;
  void *st;
  drover_error err;

  no_creds_env();
  setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
  imds_start(&s, 1);
  ck_assert_int_eq(init(&st, "{}", &s, &err), DROVER_E_NOT_SET_UP);
  ck_assert_int_eq(atomic_load(&s.served), 0);
  ck_assert_msg(strstr(err.text, "IMDS turned off by AWS_EC2_METADATA_DISABLED") != NULL,
                "%s", err.text);
  done(st);
  srv_stop(&s);
}
END_TEST

/* A profile asked for but missing is a broken setup, not an absent one. */
START_TEST(off_with_profile_is_config)
{
  srv s;
  void *st;
  drover_error err;

  no_creds_env();
  imds_start(&s, 1);
  ck_assert_int_eq(init(&st, "{\"imds\": false, \"profile\": \"ops\"}", &s, &err),
                   DROVER_E_CONFIG);
  ck_assert_int_eq(atomic_load(&s.served), 0);
  ck_assert_msg(strstr(err.text, "profile \"ops\"") != NULL, "%s", err.text);
  done(st);
  srv_stop(&s);
}
END_TEST

/* The setting turns off the role only: the environment still counts. */
START_TEST(off_with_env_credentials)
{
  srv s;
  void *st;
  drover_error err;

  no_creds_env();
  setenv("AWS_ACCESS_KEY_ID", "AKIDCHECKEC2CRED", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "secret-check-ec2-cred", 1);
  imds_start(&s, 1);
  ck_assert_int_eq(init(&st, "{\"imds\": false}", &s, &err), DROVER_OK);
  ck_assert_int_eq(atomic_load(&s.served), 0);
  done(st);
  srv_stop(&s);
}
END_TEST

START_TEST(bad_type_refused)
{
  static const char *const bad[] = {"\"no\"", "0", "null", "[]"};
  char settings[128];
  srv s;
  void *st;
  drover_error err;
  size_t i;

  no_creds_env();
  imds_start(&s, 1);
  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    snprintf(settings, sizeof(settings), "{\"imds\": %s}", bad[i]);
    ck_assert_int_eq(init(&st, settings, &s, &err), DROVER_E_CONFIG);
    ck_assert_msg(strstr(err.text, "setting \"imds\" must be true or false") != NULL, "%s: %s",
                  bad[i], err.text);
    done(st);
  }
  ck_assert_int_eq(atomic_load(&s.served), 0);
  srv_stop(&s);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("ec2_cred");
  TCase *t = tcase_create("imds");

  tcase_add_test(t, setting_off_makes_no_request);
  tcase_add_test(t, default_asks_the_role);
  tcase_add_test(t, setting_true_asks);
  tcase_add_test(t, variable_off_is_named);
  tcase_add_test(t, off_with_profile_is_config);
  tcase_add_test(t, off_with_env_credentials);
  tcase_add_test(t, bad_type_refused);
  suite_add_tcase(s, t);
  return run_suite(s);
}
