/* s3.c - the S3 provider: its table, settings and connection.
 *
 * The only exported name is dv_provider_s3 (plugin/lib/registry.c); built
 * as a module (--enable-s3=dl), drover_provider_entry instead. Types live
 * in s3_bucket.c and s3_object.c behind s3_type_ops; this file dispatches.
 * Settings: doc/providers-s3.md.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "aws_dispatch.h"
#include "s3.h"

static const drover_rtype *const s3_types[] = {&s3_bucket_type, &s3_object_type, NULL};

static const aws_type_entry s3_ops_table[] = {
  {&s3_bucket_type, &s3_bucket_ops},
  {&s3_object_type, &s3_object_ops},
  {NULL, NULL}
};

static const char *const setting_names[] = {
  "endpoint", "region", "addressing", "profile", "credentials_file", "object_prefix",
  "multipart_threshold", "part_size", "concurrency", "timeout", "ca_file", "list_max_keys",
  "checksum", "download_threshold",
  NULL
};

/* config[key] when a non-empty string, else the first set variable of
 * envs (NULL-terminated), else NULL. Borrowed. */
static const char *setting(const json_t *config, const char *key, const char *env1,
                           const char *env2)
{
  const char *v = json_string_value(json_object_get(config, key));

  if(v && *v)
    return v;
  v = env1 ? getenv(env1) : NULL;
  if(v && *v)
    return v;
  v = env2 ? getenv(env2) : NULL;
  return v && *v ? v : NULL;
}

/* A positive integer setting; def when absent. */
static drover_code int_setting(const json_t *config, const char *key, unsigned long long def,
                               unsigned long long min, unsigned long long max,
                               unsigned long long *out, drover_error *err)
{
  const json_t *v = json_object_get(config, key);

  *out = def;
  if(!v)
    return DROVER_OK;
  if(!json_is_integer(v) || json_integer_value(v) < (json_int_t)min ||
     (unsigned long long)json_integer_value(v) > max)
    return s3_fail(err, DROVER_E_CONFIG, NULL, "%s must be an integer from %llu to %llu", key,
                   min, max);
  *out = (unsigned long long)json_integer_value(v);
  return DROVER_OK;
}

static void s3_cleanup(void *state)
{
  s3_state *st = state;
  size_t i;

  if(!st)
    return;
  drover_http_free(st->http);
  for(i = 0; i < st->nvh; i++) {
    drover_http_free(st->vh[i].http);
    free(st->vh[i].bucket);
  }
  free(st->vh);
  s3_cred_free(&st->cred);
  free(st->scheme);
  free(st->host);
  free(st->region);
  free(st->object_prefix);
  free(st->ca_file);
  if(st->lock_ready)
    pthread_mutex_destroy(&st->lock);
  memset(st, 0, sizeof(*st));
}

/* Splits "scheme://host[:port][/]" into st->scheme and st->host. */
static drover_code parse_endpoint(s3_state *st, const char *url, drover_error *err)
{
  const char *sep = strstr(url, "://"), *host, *slash;

  if(!sep || (strncmp(url, "http", 4) || (sep - url != 4 && sep - url != 5)) ||
     (sep - url == 5 && url[4] != 's'))
    return s3_fail(err, DROVER_E_CONFIG, NULL,
                   "endpoint \"%s\" must be http://HOST[:PORT] or https://HOST[:PORT]", url);
  host = sep + 3;
  slash = strchr(host, '/');
  if(slash && slash[1])
    return s3_fail(err, DROVER_E_CONFIG, NULL, "endpoint \"%s\" must not have a path", url);
  if(host == slash || !*host || strpbrk(host, "@?#"))
    return s3_fail(err, DROVER_E_CONFIG, NULL, "endpoint \"%s\" has no usable host", url);
  st->scheme = strndup(url, (size_t)(sep - url));
  st->host = slash ? strndup(host, (size_t)(slash - host)) : strdup(host);
  if(!st->scheme || !st->host)
    return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  return DROVER_OK;
}

int s3_host_is_loopback(const char *host)
{
  char name[256];
  const char *end;
  struct in_addr a4;
  struct in6_addr a6;
  size_t n, i;

  if(host[0] == '[') {
    end = strchr(host, ']');
    n = end ? (size_t)(end - host - 1) : sizeof(name);
    if(n >= sizeof(name))
      return 0;
    memcpy(name, host + 1, n);
    name[n] = '\0';
    return inet_pton(AF_INET6, name, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
  }
  end = strchr(host, ':');
  n = end ? (size_t)(end - host) : strlen(host);
  if(n && host[n - 1] == '.')
    n--;                        /* the root's dot: "localhost." */
  if(!n || n >= sizeof(name))
    return 0;
  for(i = 0; i < n; i++)
    name[i] = (char)tolower((unsigned char)host[i]);
  name[n] = '\0';
  if(!strcmp(name, "localhost") || (n > 10 && !strcmp(name + n - 10, ".localhost")))
    return 1;
  return inet_pton(AF_INET, name, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

static drover_code s3_init(void *state, const json_t *config, const drover_provider_env *env,
                           drover_error *err)
{
  s3_state *st = state;
  const char *endpoint, *region, *addressing, *prefix, *ca, *sum;
  const json_t *v;
  const char *key;
  unsigned long long n;
  char *def_endpoint = NULL;
  drover_code rc = DROVER_OK;
  size_t i;

  if(env)
    st->env = *env;
  pthread_mutex_init(&st->lock, NULL);
  st->lock_ready = 1;

  if(config && !json_is_object(config))
    return s3_fail(err, DROVER_E_CONFIG, NULL, "settings must be an object");
  json_object_foreach((json_t *)config, key, v) {
    for(i = 0; setting_names[i]; i++)
      if(!strcmp(key, setting_names[i]))
        break;
    if(!setting_names[i])
      return s3_fail(err, DROVER_E_CONFIG, NULL, "unknown setting \"%s\"", key);
    if(strcmp(key, "multipart_threshold") && strcmp(key, "part_size") &&
       strcmp(key, "download_threshold") &&
       strcmp(key, "concurrency") && strcmp(key, "timeout") && strcmp(key, "list_max_keys") &&
       !json_is_string(v))
      return s3_fail(err, DROVER_E_CONFIG, NULL, "%s must be a string", key);
  }
  region = setting(config, "region", "AWS_REGION", "AWS_DEFAULT_REGION");
  st->region = strdup(region ? region : "us-east-1");
  endpoint = setting(config, "endpoint", "DROVER_S3_ENDPOINT", NULL);
  if(!st->region || (!endpoint && asprintf(&def_endpoint, "https://s3.%s.amazonaws.com",
                                           st->region) < 0)) {
    def_endpoint = NULL;
    rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  rc = parse_endpoint(st, endpoint ? endpoint : def_endpoint, err);
  if(rc)
    goto out;
  /* AWS wants virtual-hosted style; other servers (an endpoint given)
   * mostly path style. */
  addressing = setting(config, "addressing", "DROVER_S3_ADDRESSING", NULL);
  if(!addressing)
    st->path_style = endpoint != NULL;
  else if(!strcmp(addressing, "path"))
    st->path_style = 1;
  else if(!strcmp(addressing, "virtual"))
    st->path_style = 0;
  else {
    rc = s3_fail(err, DROVER_E_CONFIG, NULL, "addressing must be \"path\" or \"virtual\", not "
                 "\"%s\"", addressing);
    goto out;
  }
  sum = setting(config, "checksum", NULL, NULL);
  if(!sum || !strcmp(sum, "crc32c"))
    st->checksum = S3_SUM_CRC32C;
  else if(!strcmp(sum, "md5"))
    st->checksum = S3_SUM_MD5;
  else if(!strcmp(sum, "none"))
    st->checksum = S3_SUM_NONE;
  else {
    rc = s3_fail(err, DROVER_E_CONFIG, NULL, "checksum must be \"crc32c\", \"md5\" or "
                 "\"none\", not \"%s\"", sum);
    goto out;
  }
  prefix = setting(config, "object_prefix", NULL, NULL);
  st->object_prefix = strdup(prefix ? prefix : "drover/{stack}/");
  ca = setting(config, "ca_file", NULL, NULL);
  st->ca_file = ca ? strdup(ca) : NULL;
  if(!st->object_prefix || (ca && !st->ca_file)) {
    rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  /* Parts: S3's limits are 5 MiB..5 GiB and 10,000 parts (a larger file
   * gets larger parts, s3_part_size). One PUT takes at most 5 GiB. Without
   * part_size each upload's parts are sized to its file (0 here). The
   * default threshold, 4 parts of 16 MiB, is the smallest file that keeps
   * the default 4 lanes busy (the reasoning: doc/s3.md). */
  rc = int_setting(config, "part_size", 0, 5ull << 20, S3_MAX_PART, &st->part_size, err);
  if(!rc)
    rc = int_setting(config, "multipart_threshold", 64ull << 20, 5ull << 20, S3_MAX_PART,
                     &st->mp_threshold, err);
  /* Downloads larger than this come in parallel ranged GETs: below it
   * they cost more than they give (doc/s3.md, "Downloads"); 256 MiB is
   * also rclone's multi-thread cutoff. Any size an object may have, or 0:
   * none, one GET at any size. That is the default with a server on this
   * machine: lanes work around a per-connection rate, and a loopback
   * connection has none; they only add work on both ends, which share
   * the CPUs (2 GiB from s3rver: 1.18x curl's time, one GET 1.01x;
   * doc/s3.md, "Why none with a loopback endpoint"). */
  v = json_object_get(config, "download_threshold");
  if(!rc && json_is_integer(v) && json_integer_value(v) == 0)
    st->dl_threshold = 0;
  else if(!rc && int_setting(config, "download_threshold",
                             s3_host_is_loopback(st->host) ? 0 : S3_RANGED_MIN, 5ull << 20,
                             5ull << 40, &st->dl_threshold, NULL))
    rc = s3_fail(err, DROVER_E_CONFIG, NULL, "download_threshold must be 0 (none) or an "
                 "integer from %llu to %llu", 5ull << 20, 5ull << 40);
  if(!rc)
    rc = int_setting(config, "concurrency", 4, 1, 64, &n, err);
  if(rc)
    goto out;
  st->concurrency = (unsigned)n;
  rc = int_setting(config, "list_max_keys", 1000, 1, 1000, &n, err);
  if(rc)
    goto out;
  st->list_max_keys = (unsigned)n;
  rc = int_setting(config, "timeout", 600, 1, 86400, &n, err);
  if(rc)
    goto out;
  st->timeout = (double)n;
  rc = s3_cred_load(&st->cred, config, err);
  if(rc)
    goto out;
  rc = drover_http_new(&st->http, &(drover_http_config){
                         .version = DROVER_HTTP_CONFIG_VERSION,
                         .base_url = endpoint ? endpoint : def_endpoint,
                         .ca_file = st->ca_file, .timeout = st->timeout}, err);
  if(rc)
    goto out;
  drover_logf(&st->env, DROVER_LOG_DEBUG, "s3: %s://%s, region %s, %s style, credentials from %s",
              st->scheme, st->host, st->region, st->path_style ? "path" : "virtual-hosted",
              st->cred.source);
out:
  free(def_endpoint);
  return rc;
}

/* Each op: the type's ops from the table, after the checks every op
 * shares (providers/aws/aws_dispatch.c). */
static drover_code s3_list(void *state, const drover_rtype *type, const char *stack,
                           drover_live_list *out, drover_error *err)
{
  const void *ops;
  drover_code rc = aws_dispatch("s3", s3_ops_table, type, AWS_OP_LIST, NULL, NULL, &ops, err);
  return rc ? rc : ((const s3_type_ops *)ops)->list(state, stack, out, err);
}

static drover_code s3_create(void *state, const drover_rtype *type, const drover_res_req *req,
                             drover_live **out, drover_error *err)
{
  const void *ops;
  drover_code rc = aws_dispatch("s3", s3_ops_table, type, AWS_OP_CREATE, req, NULL, &ops, err);
  *out = NULL;
  return rc ? rc : ((const s3_type_ops *)ops)->put(state, req, NULL, out, err);
}

static drover_code s3_update(void *state, const drover_rtype *type, const drover_res_req *req,
                             const drover_live *cur, drover_live **out, drover_error *err)
{
  const void *ops;
  drover_code rc = aws_dispatch("s3", s3_ops_table, type, AWS_OP_UPDATE, req, cur, &ops, err);
  *out = NULL;
  return rc ? rc : ((const s3_type_ops *)ops)->put(state, req, cur, out, err);
}

static drover_code s3_del(void *state, const drover_rtype *type, const drover_live *cur,
                          double deadline, drover_error *err)
{
  const void *ops;
  drover_code rc = aws_dispatch("s3", s3_ops_table, type, AWS_OP_DELETE, NULL, cur, &ops, err);
  (void)deadline;
  return rc ? rc : ((const s3_type_ops *)ops)->del(state, cur, err);
}

static drover_code s3_read(void *state, const drover_rtype *type, const char *name,
                           drover_live **out, drover_error *err)
{
  const void *ops;
  drover_code rc = aws_dispatch("s3", s3_ops_table, type, AWS_OP_READ, NULL, NULL, &ops, err);
  *out = NULL;
  return rc ? rc : ((const s3_type_ops *)ops)->read(state, name, out, err);
}

const drover_provider dv_provider_s3 = {
  .version = DROVER_PROVIDER_VERSION,
  .name = "s3",
  .state_size = sizeof(s3_state),
  .types = s3_types,
  .init = s3_init,
  .cleanup = s3_cleanup,
  .list = s3_list,
  .create = s3_create,
  .update = s3_update,
  .del = s3_del,
  .read = s3_read,
  .table_size = sizeof(drover_provider)
};

#ifdef DROVER_PROVIDER_MODULE
/* The module's one exported symbol (DROVER_PROVIDER_ENTRY). */
const drover_provider *drover_provider_entry(unsigned engine_version);
const drover_provider *drover_provider_entry(unsigned engine_version)
{
  return engine_version >= DROVER_PROVIDER_VERSION_MIN ? &dv_provider_s3 : NULL;
}
#endif
