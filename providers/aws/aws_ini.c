/* aws_ini.c - profiles of the AWS shared credentials and config files. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "aws_ini.h"

void aws_wipe_free(char *s)
{
  if(s) {
    OPENSSL_cleanse(s, strlen(s));
    free(s);
  }
}

char *aws_ini_path(int credentials)
{
  const char *v = getenv(credentials ? "AWS_SHARED_CREDENTIALS_FILE" : "AWS_CONFIG_FILE");
  const char *home = getenv("HOME");
  char *p = NULL;

  if(v && *v)
    return strdup(v);
  if(home && *home && asprintf(&p, "%s/.aws/%s", home, credentials ? "credentials" : "config") < 0)
    p = NULL;
  return p;
}

static char *trim(char *s)
{
  char *e;

  while(isspace((unsigned char)*s))
    s++;
  e = s + strlen(s);
  while(e > s && isspace((unsigned char)e[-1]))
    *--e = '\0';
  return s;
}

int aws_ini_read(const char *path, const char *profile, int config_style, char **akid,
                 char **secret, char **token, int *found)
{
  FILE *f = fopen(path, "r");
  char line[4096], want[300];
  int in = 0, rc = 1;

  if(found)
    *found = 0;
  if(!f)
    return 0;
  if(config_style && strcmp(profile, "default"))
    snprintf(want, sizeof(want), "profile %s", profile);
  else
    snprintf(want, sizeof(want), "%s", profile);
  while(fgets(line, sizeof(line), f)) {
    char *l = trim(line), *eq, **dst = NULL;
    if(!*l || *l == '#' || *l == ';')
      continue;
    if(*l == '[') {
      char *end = strchr(l, ']');
      if(end)
        *end = '\0';
      in = !strcmp(trim(l + 1), want);
      if(found)
        *found |= in;
      continue;
    }
    if(!in || !(eq = strchr(l, '=')))
      continue;
    *eq = '\0';
    l = trim(l);
    if(!strcmp(l, "aws_access_key_id"))
      dst = akid;
    else if(!strcmp(l, "aws_secret_access_key"))
      dst = secret;
    else if(!strcmp(l, "aws_session_token"))
      dst = token;
    if(dst) {
      aws_wipe_free(*dst);
      *dst = strdup(trim(eq + 1));
      if(!*dst)
        rc = -1;
    }
  }
  OPENSSL_cleanse(line, sizeof(line));
  fclose(f);
  return rc;
}
