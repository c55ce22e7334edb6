/* ec2_cred.c - where the AWS provider's credentials come from, in the
 * order users expect: the environment, the shared files with a profile,
 * the instance role through IMDSv2 (a token PUT, then GETs with it; role
 * credentials cached until five minutes before they expire).
 *
 * Messages name the file, the profile, the variable or the endpoint, never
 * a value: credentials reach no log, plan or error text (and are
 * registered for redaction in case a server echoes one back).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include "aws_ini.h"
#include "ec2.h"

/* Role credentials are refreshed this long before they expire. */
#define EC2_CRED_MARGIN 300.0
/* IMDSv2 token lifetime asked for (seconds). */
#define EC2_IMDS_TTL 21600

void ec2_cred_free(ec2_cred *c)
{
  aws_wipe_free(c->akid);
  aws_wipe_free(c->secret);
  aws_wipe_free(c->token);
  memset(c, 0, sizeof(*c));
}

static const char *env(const char *name)
{
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

/* --------------------------------------------------------------------------
 * Shared credentials and config files
 */

/* 1 with c filled from a file, 0 when no file had the profile's keys. */
static int from_files(ec2_state *st, ec2_cred *c, const char *profile, drover_code *rc,
                      drover_error *err)
{
  char *paths[2] = {NULL, NULL};
  int i, found = 0;

  if(st->credentials_file)
    paths[0] = strdup(st->credentials_file);
  else {
    paths[0] = aws_ini_path(1);
    paths[1] = aws_ini_path(0);
  }
  for(i = 0; i < 2 && !found && !*rc; i++) {
    int r;
    if(!paths[i])
      continue;
    r = aws_ini_read(paths[i], profile, i == 1, &c->akid, &c->secret, &c->token, NULL);
    if(r < 0)
      *rc = ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    else if(r > 0 && c->akid && c->secret) {
      snprintf(c->source, sizeof(c->source), "%.100s, profile %.40s", paths[i], profile);
      found = 1;
    }
    else {
      ec2_cred_free(c);
      if(st->credentials_file && !*rc)
        *rc = ec2_fail(err, DROVER_E_CONFIG, NULL, "credentials_file %s %s", paths[i],
                       r ? "has no profile with aws_access_key_id and aws_secret_access_key"
                         : "cannot be read");
    }
  }
  free(paths[0]);
  free(paths[1]);
  return found;
}

/* --------------------------------------------------------------------------
 * IMDSv2
 */

/* Stops the transport's retries: off EC2, commands that ask every
 * provider (drover gc, the SPANK epilog) should wait for the metadata
 * service once, briefly (1 s to connect), not four times. */
static drover_code imds_once(void *ud, const drover_http_req *req,
                             const drover_http_attempt *attempt, drover_http_headers *add,
                             drover_error *err)
{
  (void)ud;
  (void)req;
  (void)add;
  if(attempt->number > 0)
    return ec2_fail(err, DROVER_E_TRANSIENT, NULL, "instance metadata service did not answer");
  return DROVER_OK;
}

/* One IMDS request; the body (caller frees) on 200. Called with st->lock. */
static drover_code imds_req(ec2_state *st, const char *method, const char *path,
                            const char *header, char **body, drover_error *err)
{
  drover_http_response resp;
  const char *hdrs[2] = {header, NULL};
  drover_http_req hr;
  drover_code rc;

  *body = NULL;
  if(!st->imds) {
    /* Short timeouts: off EC2 nothing answers, and the chain should say
     * so quickly. */
    rc = drover_http_new(&st->imds, &(drover_http_config){
                           .version = DROVER_HTTP_CONFIG_VERSION,
                           .base_url = st->imds_endpoint, .connect_timeout = 1,
                           .timeout = 3}, err);
    if(rc)
      return rc;
  }
  memset(&hr, 0, sizeof(hr));
  hr.version = DROVER_HTTP_REQ_VERSION;
  hr.method = method;
  hr.path = path;
  hr.headers = hdrs;
  hr.on_attempt = imds_once;
  rc = drover_http_perform(st->imds, &hr, &resp, err);
  if(!rc && resp.status != 200)
    rc = ec2_fail(err, resp.status == 404 ? DROVER_E_NOT_FOUND : DROVER_E_PROVIDER, NULL,
                  "instance metadata %s %s: HTTP %ld", method, path, resp.status);
  if(!rc) {
    *body = resp.body;
    resp.body = NULL;
  }
  drover_http_response_free(&resp);
  return rc;
}

/* "2026-11-30T18:00:00Z" as Unix seconds; -1 when malformed. */
static long long parse_utc(const char *s)
{
  struct tm tm;
  char *end;

  memset(&tm, 0, sizeof(tm));
  end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
  if(!end)
    return -1;
  return (long long)timegm(&tm);
}

/* Fills c from the instance role. Called with st->lock held. */
static drover_code from_imds(ec2_state *st, ec2_cred *c, drover_error *err)
{
  char *role = NULL, *doc = NULL, *path = NULL, hdr[1200];
  json_t *j = NULL;
  json_error_t je;
  const char *code, *akid, *secret, *token, *exp;
  long long expires;
  drover_code rc;

  if(!st->imds_token || drover_now() > st->imds_token_expires - 60) {
    char *tok = NULL;
    snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token-ttl-seconds: %d", EC2_IMDS_TTL);
    rc = imds_req(st, "PUT", "/latest/api/token", hdr, &tok, err);
    if(rc)
      goto out;
    aws_wipe_free(st->imds_token);
    st->imds_token = tok;
    st->imds_token_expires = drover_now() + EC2_IMDS_TTL;
    drover_secret_add(tok);
  }
  if(strlen(st->imds_token) > 1000) {
    rc = ec2_fail(err, DROVER_E_PROVIDER, NULL, "instance metadata token too long");
    goto out;
  }
  snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", st->imds_token);
  rc = imds_req(st, "GET", "/latest/meta-data/iam/security-credentials/", hdr, &role, err);
  if(rc)
    goto out;
  role[strcspn(role, "\r\n")] = '\0';
  if(!*role || strpbrk(role, "/?#% ")) {
    rc = ec2_fail(err, DROVER_E_PROVIDER, NULL, "instance metadata names no usable role");
    goto out;
  }
  if(asprintf(&path, "/latest/meta-data/iam/security-credentials/%s", role) < 0) {
    path = NULL;
    rc = ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  rc = imds_req(st, "GET", path, hdr, &doc, err);
  if(rc)
    goto out;
  j = json_loads(doc, 0, &je);
  code = json_string_value(json_object_get(j, "Code"));
  akid = json_string_value(json_object_get(j, "AccessKeyId"));
  secret = json_string_value(json_object_get(j, "SecretAccessKey"));
  token = json_string_value(json_object_get(j, "Token"));
  exp = json_string_value(json_object_get(j, "Expiration"));
  if(!j || (code && strcmp(code, "Success")) || !akid || !secret || !token ||
     (expires = parse_utc(exp)) < 0) {
    rc = ec2_fail(err, DROVER_E_PROVIDER, NULL,
                  "instance metadata credentials of role %.64s are not usable%s%.40s", role,
                  code ? ": " : "", code ? code : "");
    goto out;
  }
  ec2_cred_free(c);
  c->akid = strdup(akid);
  c->secret = strdup(secret);
  c->token = strdup(token);
  if(!c->akid || !c->secret || !c->token) {
    ec2_cred_free(c);
    rc = ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  c->expires = drover_now() + (double)(expires - (long long)time(NULL));
  snprintf(c->source, sizeof(c->source), "the instance role %.64s (IMDSv2 at %.60s)", role,
           st->imds_endpoint);
  drover_secret_add(c->secret);
  drover_secret_add(c->token);
out:
  if(doc)
    OPENSSL_cleanse(doc, strlen(doc));
  OPENSSL_cleanse(hdr, sizeof(hdr));
  json_decref(j);
  free(doc);
  free(role);
  free(path);
  return rc;
}

/* --------------------------------------------------------------------------
 * The chain
 */

drover_code ec2_cred_load(ec2_state *st, drover_error *err)
{
  ec2_cred *c = &st->cred;
  const char *profile = st->profile ? st->profile : env("AWS_PROFILE");
  drover_code rc = DROVER_OK;
  drover_error ierr;

  ec2_cred_free(c);
  if(!profile)
    profile = "default";
  /* 1. The environment (not when the settings name a file: that file). */
  if(!st->credentials_file && (env("AWS_ACCESS_KEY_ID") || env("AWS_SECRET_ACCESS_KEY"))) {
    if(!env("AWS_ACCESS_KEY_ID") || !env("AWS_SECRET_ACCESS_KEY"))
      return ec2_fail(err, DROVER_E_CONFIG, NULL,
                      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    c->akid = strdup(env("AWS_ACCESS_KEY_ID"));
    c->secret = strdup(env("AWS_SECRET_ACCESS_KEY"));
    if(env("AWS_SESSION_TOKEN"))
      c->token = strdup(env("AWS_SESSION_TOKEN"));
    if(!c->akid || !c->secret || (env("AWS_SESSION_TOKEN") && !c->token)) {
      ec2_cred_free(c);
      return ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    }
    snprintf(c->source, sizeof(c->source), "the environment");
    goto done;
  }
  /* 2. The shared files. */
  if(from_files(st, c, profile, &rc, err))
    goto done;
  if(rc || st->credentials_file)
    return rc ? rc : ec2_fail(err, DROVER_E_CONFIG, NULL, "no credentials");
  /* 3. The instance role. */
  drover_error_clear(&ierr);
  if(!st->imds_off) {
    pthread_mutex_lock(&st->lock);
    rc = from_imds(st, c, &ierr);
    pthread_mutex_unlock(&st->lock);
    if(!rc) {
      st->cred_imds = 1;
      return DROVER_OK;
    }
  }
  /* With IMDS off and no profile asked for, nothing here points at AWS:
   * the provider is not set up on this machine, and a bare stack skips it
   * even when the admin file names it (for the "imds" setting). */
  return ec2_fail(err, st->imds_off && !st->profile && !env("AWS_PROFILE")
                         ? DROVER_E_NOT_SET_UP : DROVER_E_CONFIG, NULL,
                  "no credentials: not in the environment (AWS_ACCESS_KEY_ID, "
                  "AWS_SECRET_ACCESS_KEY), not in profile \"%s\" of the shared credentials or "
                  "config file, and no instance role (%s%s)", profile,
                  st->imds_off ? "IMDS turned off by " : "",
                  st->imds_off ? st->imds_off : ierr.text);
done:
  drover_secret_add(c->secret);
  if(c->token)
    drover_secret_add(c->token);
  return DROVER_OK;
}

drover_code ec2_cred_get(ec2_state *st, ec2_cred *out, drover_error *err)
{
  drover_code rc = DROVER_OK;
  int oom = 0;

  memset(out, 0, sizeof(*out));
  pthread_mutex_lock(&st->lock);
  if(st->cred_imds && drover_now() > st->cred.expires - EC2_CRED_MARGIN)
    rc = from_imds(st, &st->cred, err);
  if(!rc) {
    out->akid = ec2_dup(st->cred.akid, &oom);
    out->secret = ec2_dup(st->cred.secret, &oom);
    out->token = ec2_dup(st->cred.token, &oom);
    out->expires = st->cred.expires;
    memcpy(out->source, st->cred.source, sizeof(out->source));
  }
  pthread_mutex_unlock(&st->lock);
  if(!rc && oom) {
    ec2_cred_free(out);
    rc = ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  }
  return rc;
}
