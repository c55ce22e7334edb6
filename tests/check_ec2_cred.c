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
#include "aws_env.h"
#include "drover_provider.h"
#include "run_suite.h"
#include "scripted_server.h"

/* IMDSv2 as the instance role path asks it: token, role name, role. */
static const char role_doc[] =
  "{\"Code\": \"Success\", \"AccessKeyId\": \"ASIACHECKROLE\", "
  "\"SecretAccessKey\": \"role-secret-check-ec2-cred\", \"Token\": \"role-session-token\", "
  "\"Expiration\": \"2099-01-01T00:00:00Z\"}";

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

/* One init: settings, the environment on top of no credentials, what
 * the metadata service does, and what must come of it. */
typedef struct cred_case {
  const char *settings;
  const char *env_off;         /* AWS_EC2_METADATA_DISABLED, or NULL */
  int env_keys;                /* AWS_ACCESS_KEY_ID and the secret set */
  int serve_role;              /* the role path answered, else 403 */
  drover_code want;
  int served;                  /* IMDS requests the server must have read */
  const char *text;            /* in err.text, or NULL */
} cred_case;

static const cred_case cases[] = {
  /* Off by the setting: no request, and the error names the setting. */
  {"{\"imds\": false}", NULL, 0, 1, DROVER_E_NOT_SET_UP, 0,
   "no instance role (IMDS turned off by the \"imds\": false setting)"},
  /* The default asks: the token PUT, the role name, its credentials. */
  {"{}", NULL, 0, 1, DROVER_OK, 3, NULL},
  /* true asks too (answered 403 here, as off EC2). */
  {"{\"imds\": true}", NULL, 0, 0, DROVER_E_CONFIG, 1,
   "instance metadata PUT /latest/api/token: HTTP 403"},
  /* Off by the variable: named as such. */
  {"{}", "true", 0, 1, DROVER_E_NOT_SET_UP, 0,
   "no instance role (IMDS turned off by AWS_EC2_METADATA_DISABLED)"},
  /* A profile asked for but missing is a broken setup, not an absent one. */
  {"{\"imds\": false, \"profile\": \"ops\"}", NULL, 0, 1, DROVER_E_CONFIG, 0,
   "profile \"ops\""},
  /* The setting turns off the role only: the environment still counts. */
  {"{\"imds\": false}", NULL, 1, 1, DROVER_OK, 0, NULL},
  /* Not a boolean: refused before anything is asked. */
  {"{\"imds\": \"no\"}", NULL, 0, 1, DROVER_E_CONFIG, 0,
   "setting \"imds\" must be true or false"},
  {"{\"imds\": 0}", NULL, 0, 1, DROVER_E_CONFIG, 0, "setting \"imds\" must be true or false"},
  {"{\"imds\": null}", NULL, 0, 1, DROVER_E_CONFIG, 0,
   "setting \"imds\" must be true or false"},
};

START_TEST(imds_requests)
{
  const cred_case *c = &cases[_i];
  srv s;
  void *st;
  drover_error err;

  aws_env_none();
  if(c->env_off)
    setenv("AWS_EC2_METADATA_DISABLED", c->env_off, 1);
  if(c->env_keys) {
    setenv("AWS_ACCESS_KEY_ID", "AKIDCHECKEC2CRED", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret-check-ec2-cred", 1);
  }
  imds_start(&s, c->serve_role);
  ck_assert_int_eq(init(&st, c->settings, &s, &err), c->want);
  ck_assert_int_eq(atomic_load(&s.served), c->served);
  if(c->served)
    ck_assert_ptr_nonnull(strstr(s.req[0], "PUT /latest/api/token"));
  if(c->want == DROVER_E_NOT_SET_UP)
    ck_assert_msg(strstr(err.text, "no credentials") != NULL, "%s", err.text);
  if(c->text)
    ck_assert_msg(strstr(err.text, c->text) != NULL, "%s: %s", c->settings, err.text);
  done(st);
  srv_stop(&s);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("ec2_cred");
  TCase *t = tcase_create("imds");

  tcase_add_loop_test(t, imds_requests, 0, (int)(sizeof(cases) / sizeof(cases[0])));
  suite_add_tcase(s, t);
  return run_suite(s);
}
