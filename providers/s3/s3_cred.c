/* s3_cred.c - where the S3 provider's credentials come from.
 *
 * Messages name the file, the profile or the variable, never a value:
 * credentials reach no log, plan or error text (and are registered for
 * redaction in case a server echoes one back).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "s3.h"
#include "aws_ini.h"

void s3_cred_free(s3_cred *c)
{
  aws_wipe_free(c->akid);
  aws_wipe_free(c->secret);
  aws_wipe_free(c->token);
  memset(c, 0, sizeof(*c));
}

/* Reads profile's keys from an INI file (aws_ini.c). Returns 1 when the
 * file exists, 0 when it does not; sets *found when the profile section
 * exists, *rc on allocation failure. */
static int read_ini(s3_cred *c, const char *path, const char *profile, int config_style,
                    int *found, drover_code *rc, drover_error *err)
{
  int r = aws_ini_read(path, profile, config_style, &c->akid, &c->secret, &c->token, found);

  if(r < 0) {
    *rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    return 1;
  }
  return r;
}

static const char *env(const char *name)
{
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

drover_code s3_cred_load(s3_cred *c, const json_t *config, drover_error *err)
{
  const char *file = json_string_value(json_object_get(config, "credentials_file"));
  const char *profile = json_string_value(json_object_get(config, "profile"));
  char *shared = NULL, *cfg = NULL;
  drover_code rc = DROVER_OK;
  int found = 0;

  memset(c, 0, sizeof(*c));
  if(!profile || !*profile)
    profile = env("AWS_PROFILE");
  if(!profile)
    profile = "default";

  if(file && *file) {
    /* Named in the settings: that file and nothing else. */
    if(!read_ini(c, file, profile, 0, &found, &rc, err)) {
      rc = s3_fail(err, DROVER_E_CONFIG, NULL, "credentials_file %s cannot be read", file);
      goto out;
    }
    if(rc)
      goto out;
    if(!found || !c->akid || !c->secret) {
      rc = s3_fail(err, DROVER_E_CONFIG, NULL,
                   "credentials_file %s has no profile \"%s\" with aws_access_key_id and "
                   "aws_secret_access_key", file, profile);
      goto out;
    }
    snprintf(c->source, sizeof(c->source), "file %.100s, profile %.40s", file, profile);
    goto done;
  }
  if(env("AWS_ACCESS_KEY_ID") || env("AWS_SECRET_ACCESS_KEY")) {
    if(!env("AWS_ACCESS_KEY_ID") || !env("AWS_SECRET_ACCESS_KEY")) {
      rc = s3_fail(err, DROVER_E_CONFIG, NULL,
                   "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
      goto out;
    }
    c->akid = strdup(env("AWS_ACCESS_KEY_ID"));
    c->secret = strdup(env("AWS_SECRET_ACCESS_KEY"));
    if(env("AWS_SESSION_TOKEN"))
      c->token = strdup(env("AWS_SESSION_TOKEN"));
    if(!c->akid || !c->secret || (env("AWS_SESSION_TOKEN") && !c->token)) {
      rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
      goto out;
    }
    snprintf(c->source, sizeof(c->source), "environment");
    goto done;
  }
  shared = aws_ini_path(1);
  cfg = aws_ini_path(0);
  if(shared && read_ini(c, shared, profile, 0, &found, &rc, err) && !rc && c->akid &&
     c->secret) {
    snprintf(c->source, sizeof(c->source), "%.100s, profile %.40s", shared, profile);
    goto done;
  }
  if(rc)
    goto out;
  if(cfg && read_ini(c, cfg, profile, 1, &found, &rc, err) && !rc && c->akid && c->secret) {
    snprintf(c->source, sizeof(c->source), "%.100s, profile %.40s", cfg, profile);
    goto done;
  }
  if(!rc)
    rc = s3_fail(err, DROVER_E_CONFIG, NULL,
                 "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                 "providers.s3.credentials_file, or profile \"%s\" in %s or %s",
                 profile, shared ? shared : "~/.aws/credentials", cfg ? cfg : "~/.aws/config");
  goto out;

done:
  drover_secret_add(c->secret);
  if(c->token)
    drover_secret_add(c->token);
out:
  if(rc)
    s3_cred_free(c);
  free(shared);
  free(cfg);
  return rc;
}
