/*
 * config.c - plugstack.conf arguments and the admin's files.
 *
 * The template directory and the provider config (credentials) are the
 * only files the prolog reads on the user's behalf, as root. Both must be
 * owned by root and not writable by anyone else, all the way up to "/";
 * the credentials file must be 0600 or stricter. A file that fails these
 * checks is refused, never "fixed".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "spank_int.h"
#include "trust.h"

void dvs_config_init(dvs_config *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  snprintf(cfg->outputs_dir, sizeof(cfg->outputs_dir), "/run/drover-jobs");
  cfg->log_level = DROVER_LOG_INFO;
  cfg->lock_wait = 60;
  cfg->epilog_retries = 3;
  cfg->epilog = DVS_EPILOG_DESTROY;
}

/* ------------------------------------------------------------------------
 * plugstack.conf arguments
 */

static int parse_long(long *out, const char *v, long max)
{
  char *end;
  long n;

  if(!v[0] || v[0] == '-' || v[0] == '+')
    return -1;
  errno = 0;
  n = strtol(v, &end, 10);
  if(errno || *end || n < 0 || n > max)
    return -1;
  *out = n;
  return 0;
}

static int parse_seconds(double *out, const char *v)
{
  char *end;
  double d;

  if(!v[0] || v[0] == '-' || v[0] == '+')
    return -1;
  errno = 0;
  d = strtod(v, &end);
  if(errno || *end || !(d >= 0 && d <= 86400))
    return -1;
  *out = d;
  return 0;
}

static int parse_bool(int *out, const char *v)
{
  if(!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
    *out = 1;
  else if(!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
    *out = 0;
  else
    return -1;
  return 0;
}

static int set_path(char *dst, size_t size, const char *v)
{
  if(v[0] != '/' || strlen(v) >= size)
    return -1;
  memcpy(dst, v, strlen(v) + 1);
  /* Drop trailing slashes (but keep "/"). */
  while(strlen(dst) > 1 && dst[strlen(dst) - 1] == '/')
    dst[strlen(dst) - 1] = '\0';
  return 0;
}

int dvs_config_parse(dvs_config *cfg, int argc, char *const argv[], char *errbuf,
                     size_t errlen)
{
  int i;

  for(i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *eq = strchr(a, '=');
    const char *v;
    size_t klen;
    int bad = 0;

    if(!eq)
      return dv_trust_fail(errbuf, errlen, "drover: plugstack argument \"%s\" is not key=value", a);
    klen = (size_t)(eq - a);
    v = eq + 1;
#define KEY(s) (klen == sizeof(s) - 1 && !strncmp(a, s, klen))
    if(KEY("template_dir"))
      bad = set_path(cfg->template_dir, sizeof(cfg->template_dir), v);
    else if(KEY("config"))
      bad = set_path(cfg->provider_config, sizeof(cfg->provider_config), v);
    else if(KEY("outputs_dir"))
      bad = set_path(cfg->outputs_dir, sizeof(cfg->outputs_dir), v);
    else if(KEY("engine"))
      bad = set_path(cfg->engine, sizeof(cfg->engine), v);
    else if(KEY("provider_dir"))
      bad = set_path(cfg->provider_dir, sizeof(cfg->provider_dir), v);
    else if(KEY("lock_dir"))
      bad = set_path(cfg->lock_dir, sizeof(cfg->lock_dir), v);
    else if(KEY("max_instances_per_job"))
      bad = parse_long(&cfg->max_instances_per_job, v, 1000000);
    else if(KEY("max_instances_per_user"))
      bad = parse_long(&cfg->max_instances_per_user, v, 1000000);
    else if(KEY("allow_keep"))
      bad = parse_bool(&cfg->allow_keep, v);
    else if(KEY("apply_timeout"))
      bad = parse_seconds(&cfg->apply_timeout, v);
    else if(KEY("lock_wait"))
      bad = parse_seconds(&cfg->lock_wait, v);
    else if(KEY("epilog_retries")) {
      long n = 0;
      bad = parse_long(&n, v, 100);
      if(!bad && n < 1)
        bad = 1;
      cfg->epilog_retries = (unsigned)n;
    }
    else if(KEY("epilog")) {
      if(!strcmp(v, "destroy"))
        cfg->epilog = DVS_EPILOG_DESTROY;
      else if(!strcmp(v, "skip"))
        cfg->epilog = DVS_EPILOG_SKIP;
      else
        bad = 1;
    }
    else if(KEY("log_level")) {
      if(!strcmp(v, "error"))
        cfg->log_level = DROVER_LOG_ERROR;
      else if(!strcmp(v, "warn"))
        cfg->log_level = DROVER_LOG_WARN;
      else if(!strcmp(v, "info"))
        cfg->log_level = DROVER_LOG_INFO;
      else if(!strcmp(v, "debug"))
        cfg->log_level = DROVER_LOG_DEBUG;
      else
        bad = 1;
    }
    else
      return dv_trust_fail(errbuf, errlen, "drover: unknown plugstack argument \"%.*s\"",
                  (int)(klen > 64 ? 64 : klen), a);
#undef KEY
    if(bad)
      return dv_trust_fail(errbuf, errlen, "drover: bad value in plugstack argument \"%s\"", a);
  }
  return 0;
}

/* ------------------------------------------------------------------------
 * Trusted files: the checks themselves are plugin/lib/trust.c, shared
 * with the library's provider module loader.
 */

int dvs_open_trusted_dir(const char *path, uid_t want_uid, char *errbuf, size_t errlen)
{
  if(!path || !path[0])
    return dv_trust_fail(errbuf, errlen, "drover: no template_dir in plugstack.conf");
  return dv_trust_open_dir(path, want_uid, errbuf, errlen);
}

int dvs_open_trusted_file(const char *path, uid_t want_uid, char *errbuf, size_t errlen)
{
  return dv_trust_open_file(path, want_uid, errbuf, errlen);
}

int dvs_open_template(int dirfd, const char *name, uid_t want_uid, char *errbuf,
                      size_t errlen)
{
  char file[DVS_NAME_MAX + 8];
  struct stat st;
  int fd;

  /* The name is checked again here: this is the function that turns it
   * into a path, so it must not trust its caller. */
  if(!dvs_name_valid(name))
    return dv_trust_fail(errbuf, errlen, "drover: bad template name");
  snprintf(file, sizeof(file), "%s.json", name);
  fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if(fd < 0) {
    if(errno == ENOENT)
      return dv_trust_fail(errbuf, errlen, "drover: no template named \"%s\"", name);
    if(errno == ELOOP)
      return dv_trust_fail(errbuf, errlen, "drover: template \"%s\" is a symlink; refused", name);
    return dv_trust_fail(errbuf, errlen, "drover: template \"%s\": %s", name, strerror(errno));
  }
  if(fstat(fd, &st)) {
    close(fd);
    return dv_trust_fail(errbuf, errlen, "drover: template \"%s\": %s", name, strerror(errno));
  }
  if(!S_ISREG(st.st_mode)) {
    close(fd);
    return dv_trust_fail(errbuf, errlen, "drover: template \"%s\" is not a regular file", name);
  }
  if(dv_trust_owner_mode(&st, want_uid, file, errbuf, errlen)) {
    close(fd);
    return -1;
  }
  return fd;
}

int dvs_open_secret_file(const char *path, uid_t want_uid, char *errbuf, size_t errlen)
{
  struct stat st;
  int fd = dv_trust_open_regular(path, "config ", want_uid, &st, errbuf, errlen);

  if(fd < 0)
    return -1;
  if(st.st_uid != want_uid || (st.st_mode & 077)) {
    close(fd);
    return dv_trust_fail(errbuf, errlen,
                "drover: config %s must be owned by uid %u with mode 0600 or stricter"
                " (it is uid %u, mode %04o); refusing to load credentials from it",
                path, (unsigned)want_uid, (unsigned)st.st_uid,
                (unsigned)(st.st_mode & 07777));
  }
  return fd;
}

int dvs_read_fd(char **out, size_t *len, int fd, size_t max, char *errbuf, size_t errlen)
{
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap), *grown;
  ssize_t r;

  *out = NULL;
  if(!buf)
    return dv_trust_fail(errbuf, errlen, "drover: out of memory");
  for(;;) {
    if(n + 1 >= cap) {
      if(cap > max) {
        free(buf);
        return dv_trust_fail(errbuf, errlen, "drover: file is larger than %zu bytes", max);
      }
      grown = realloc(buf, cap * 2);
      if(!grown) {
        free(buf);
        return dv_trust_fail(errbuf, errlen, "drover: out of memory");
      }
      buf = grown;
      cap *= 2;
    }
    r = read(fd, buf + n, cap - n - 1);
    if(r < 0 && errno == EINTR)
      continue;
    if(r < 0) {
      int e = errno;
      free(buf);
      return dv_trust_fail(errbuf, errlen, "drover: read: %s", strerror(e));
    }
    if(r == 0)
      break;
    n += (size_t)r;
    if(n > max) {
      free(buf);
      return dv_trust_fail(errbuf, errlen, "drover: file is larger than %zu bytes", max);
    }
  }
  buf[n] = '\0';
  *out = buf;
  if(len)
    *len = n;
  return 0;
}
