/* ec2.c - the AWS provider ("aws"): its table, settings and connection.
 *
 * The only exported name is dv_provider_aws (plugin/lib/registry.c); built
 * as a module (--enable-aws=dl), drover_provider_entry instead. Types live
 * in ec2_instance.c, ec2_volume.c, ec2_snapshot.c and ec2_policy.c behind
 * ec2_type_ops (backup.policy's snapshot ops: ec2_backup.c); this file
 * dispatches through ec2_ops_table (aws_dispatch.c, shared with s3).
 * Settings: doc/aws.md.
 */
#include <stdlib.h>
#include <string.h>
#include "aws_dispatch.h"
#include "ec2.h"

static const drover_rtype *const ec2_types[] = {&ec2_instance_type, &ec2_volume_type,
                                                &ec2_snapshot_type, &ec2_policy_type, NULL};

static const aws_type_entry ec2_ops_table[] = {
  {&ec2_instance_type, &ec2_instance_ops},
  {&ec2_volume_type, &ec2_volume_ops},
  {&ec2_snapshot_type, &ec2_snapshot_ops},
  {&ec2_policy_type, &ec2_policy_ops},
  {NULL, NULL}
};

#define NONEMPTY {NULL, DROVER_RULE_NONEMPTY, 0, 0, NULL, NULL}
#define POSITIVE {NULL, DROVER_RULE_MIN | DROVER_RULE_ABOVE_MIN, 0, 0, NULL, NULL}
static const drover_setting ec2_settings[] = {
  {"region", DROVER_T_STRING, NONEMPTY, "region (else AWS_REGION, AWS_DEFAULT_REGION, us-east-1)"},
  {"endpoint", DROVER_T_STRING, NONEMPTY,
   "EC2 endpoint URL (else DROVER_EC2_ENDPOINT, https://ec2.REGION.amazonaws.com)"},
  {"profile", DROVER_T_STRING, NONEMPTY, "profile of the shared files (else AWS_PROFILE)"},
  {"credentials_file", DROVER_T_STRING, NONEMPTY, "the only credentials file to read"},
  {"ca_file", DROVER_T_STRING, NONEMPTY, "PEM CA bundle for the endpoint"},
  {"imds_endpoint", DROVER_T_STRING, NONEMPTY,
   "instance metadata URL (else AWS_EC2_METADATA_SERVICE_ENDPOINT, http://169.254.169.254)"},
  {"imds", DROVER_T_BOOLEAN, {NULL, 0, 0, 0, NULL, NULL},
   "false: never ask the instance metadata service for the instance role"},
  {"poll_interval", DROVER_T_NUMBER, POSITIVE, "seconds between describe calls while waiting"},
  {"page_size", DROVER_T_INTEGER, {NULL, DROVER_RULE_MIN | DROVER_RULE_MAX, 5, 1000, NULL, NULL},
   "MaxResults of describe calls (5..1000)"},
  {"timeout", DROVER_T_NUMBER, POSITIVE, "seconds per HTTP attempt"},
  {"max_retries", DROVER_T_INTEGER, {NULL, DROVER_RULE_MIN | DROVER_RULE_MAX, 1, 20, NULL, NULL},
   "retries of one request on throttling, 5xx and connection errors"},
  {"retry_budget", DROVER_T_INTEGER, {NULL, DROVER_RULE_MIN, 1, 0, NULL, NULL},
   "retries allowed over the whole run"},
  {"retry_base", DROVER_T_NUMBER, POSITIVE, "first backoff ceiling in seconds (doubled per try)"},
  {NULL, DROVER_T_ANY, {NULL, 0, 0, 0, NULL, NULL}, NULL}
};
#undef NONEMPTY
#undef POSITIVE

/* config[key] when a non-empty string, else the first set variable of
 * env1, env2, else NULL. Borrowed. */
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

static double num_setting(const json_t *config, const char *key, double def)
{
  const json_t *v = json_object_get(config, key);
  return json_is_number(v) && json_number_value(v) > 0 ? json_number_value(v) : def;
}

static void ec2_cleanup(void *state)
{
  ec2_state *st = state;

  if(!st)
    return;
  drover_http_free(st->http);
  drover_http_free(st->imds);
  ec2_cred_free(&st->cred);
  if(st->imds_token) {
    memset(st->imds_token, 0, strlen(st->imds_token));
    free(st->imds_token);
  }
  free(st->region);
  free(st->endpoint);
  free(st->ca_file);
  free(st->profile);
  free(st->credentials_file);
  free(st->imds_endpoint);
  if(st->lock_ready)
    pthread_mutex_destroy(&st->lock);
  if(st->watch_ready) {
    pthread_cond_destroy(&st->watch_cv);
    pthread_mutex_destroy(&st->watch_mu);
  }
  memset(st, 0, sizeof(*st));
}

static drover_code ec2_init(void *state, const json_t *config, const drover_provider_env *env,
                            drover_error *err)
{
  ec2_state *st = state;
  const char *endpoint, *region, *imds, *off;
  const json_t *v;
  const char *key;
  drover_code rc = DROVER_OK;
  int oom = 0;
  size_t i;

  if(env)
    st->env = *env;
  pthread_mutex_init(&st->lock, NULL);
  st->lock_ready = 1;
  pthread_mutex_init(&st->watch_mu, NULL);
  pthread_cond_init(&st->watch_cv, NULL);
  st->watch_ready = 1;
  if(config && !json_is_object(config))
    return ec2_fail(err, DROVER_E_CONFIG, NULL, "settings must be an object");
  json_object_foreach((json_t *)config, key, v) {
    for(i = 0; ec2_settings[i].name; i++)
      if(!strcmp(key, ec2_settings[i].name))
        break;
    if(!ec2_settings[i].name)
      return ec2_fail(err, DROVER_E_CONFIG, NULL, "unknown setting \"%s\"", key);
  }
  region = setting(config, "region", "AWS_REGION", "AWS_DEFAULT_REGION");
  st->region = strdup(region ? region : "us-east-1");
  endpoint = setting(config, "endpoint", "DROVER_EC2_ENDPOINT", NULL);
  if(!st->region)
    oom = 1;
  else if(endpoint)
    st->endpoint = ec2_dup(endpoint, &oom);
  else if(asprintf(&st->endpoint, "https://ec2.%s.amazonaws.com", st->region) < 0) {
    st->endpoint = NULL;
    oom = 1;
  }
  imds = setting(config, "imds_endpoint", "AWS_EC2_METADATA_SERVICE_ENDPOINT", NULL);
  st->imds_endpoint = ec2_dup(imds ? imds : "http://169.254.169.254", &oom);
  /* The setting is the admin's switch where the environment does not
   * reach (slurmd builds the job epilog's from the job's; the SPANK
   * plugin clears it): doc/aws.md, "Tests and IMDS". */
  v = json_object_get(config, "imds");
  off = getenv("AWS_EC2_METADATA_DISABLED");
  if(v && !json_is_boolean(v)) {
    rc = ec2_fail(err, DROVER_E_CONFIG, NULL, "setting \"imds\" must be true or false");
    goto out;
  }
  if(json_is_false(v))
    st->imds_off = "the \"imds\": false setting";
  else if(off && !strcasecmp(off, "true"))
    st->imds_off = "AWS_EC2_METADATA_DISABLED";
  st->ca_file = ec2_dup(setting(config, "ca_file", NULL, NULL), &oom);
  st->profile = ec2_dup(setting(config, "profile", NULL, NULL), &oom);
  st->credentials_file = ec2_dup(setting(config, "credentials_file", NULL, NULL), &oom);
  if(oom) {
    rc = ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  if(strncmp(st->endpoint, "https://", 8) && strncmp(st->endpoint, "http://", 7)) {
    rc = ec2_fail(err, DROVER_E_CONFIG, NULL, "endpoint \"%s\" must be http(s)://HOST[:PORT]",
                  st->endpoint);
    goto out;
  }
  st->poll_interval = num_setting(config, "poll_interval", 2.0);
  st->page_size = (unsigned)num_setting(config, "page_size", 1000);
  st->timeout = num_setting(config, "timeout", 60);
  st->max_retries = (unsigned)num_setting(config, "max_retries", 4);
  st->retry_budget = (unsigned)num_setting(config, "retry_budget", 100);
  st->retry_base = num_setting(config, "retry_base", 0.25);
  atomic_init(&st->retries_used, 0u);
  rc = ec2_cred_load(st, err);
  if(rc)
    goto out;
  rc = drover_http_new(&st->http, &(drover_http_config){
                         .version = DROVER_HTTP_CONFIG_VERSION,
                         .base_url = st->endpoint, .ca_file = st->ca_file,
                         .timeout = st->timeout,
                         .max_retries = st->max_retries, .retry_budget = st->retry_budget,
                         .retry_base = st->retry_base}, err);
  if(rc)
    goto out;
  drover_logf(&st->env, DROVER_LOG_DEBUG, "aws: %s, region %s, credentials from %s",
              st->endpoint, st->region, st->cred.source);
out:
  return rc;
}

/* Each op: the type's ops from the table, after the checks every op
 * shares (aws_dispatch.c). */
static drover_code ec2_list(void *state, const drover_rtype *type, const char *stack,
                            drover_live_list *out, drover_error *err)
{
  const void *ops;
  drover_code rc = aws_dispatch("aws", ec2_ops_table, type, AWS_OP_LIST, NULL, NULL, &ops, err);
  return rc ? rc : ((const ec2_type_ops *)ops)->list(state, stack, out, err);
}

static drover_code ec2_create(void *state, const drover_rtype *type, const drover_res_req *req,
                              drover_live **out, drover_error *err)
{
  const void *ops;
  drover_code rc = aws_dispatch("aws", ec2_ops_table, type, AWS_OP_CREATE, req, NULL, &ops, err);
  *out = NULL;
  return rc ? rc : ((const ec2_type_ops *)ops)->create(state, req, out, err);
}

static drover_code ec2_update(void *state, const drover_rtype *type, const drover_res_req *req,
                              const drover_live *cur, drover_live **out, drover_error *err)
{
  const void *ops;
  drover_code rc = aws_dispatch("aws", ec2_ops_table, type, AWS_OP_UPDATE, req, cur, &ops, err);
  *out = NULL;
  return rc ? rc : ((const ec2_type_ops *)ops)->update(state, req, cur, out, err);
}

static drover_code ec2_del(void *state, const drover_rtype *type, const drover_live *cur,
                           double deadline, drover_error *err)
{
  const void *ops;
  drover_code rc = aws_dispatch("aws", ec2_ops_table, type, AWS_OP_DELETE, NULL, cur, &ops, err);
  return rc ? rc : ((const ec2_type_ops *)ops)->del(state, cur, deadline, err);
}

static drover_code ec2_read(void *state, const drover_rtype *type, const char *name,
                            drover_live **out, drover_error *err)
{
  const void *ops;
  drover_code rc = aws_dispatch("aws", ec2_ops_table, type, AWS_OP_READ, NULL, NULL, &ops, err);
  *out = NULL;
  return rc ? rc : ((const ec2_type_ops *)ops)->read(state, name, out, err);
}

/* What a type's schema cannot say: a backup.policy's schedule, zone and
 * retention (hooks and export are refused by the engine, which sees that
 * this provider has no exec or backup_export op). */
static drover_code ec2_check(const drover_rtype *type, const json_t *props, char *where,
                             size_t where_size, drover_error *err)
{
  if(type == &ec2_policy_type)
    return drover_backup_policy_check(props, where, where_size, err);
  return DROVER_OK;
}

/* Only aws.instance is DROVER_RTYPE_DELETE_MANY (ec2_terminate.c). */
static drover_code ec2_del_many(void *state, const drover_rtype *type,
                                const drover_live *const *curs, size_t n, double deadline,
                                drover_code *rcs, drover_error *errs)
{
  size_t i;

  if(type == &ec2_instance_type)
    return ec2_terminate_many(state, curs, n, deadline, rcs, errs);
  for(i = 0; i < n; i++)
    rcs[i] = ec2_fail(&errs[i], DROVER_E_UNSUPPORTED, curs[i] ? curs[i]->address : NULL,
                      "%s has no delete of many", type ? type->name : "?");
  return n ? rcs[0] : DROVER_OK;
}

const drover_provider dv_provider_aws = {
  .version = DROVER_PROVIDER_VERSION,
  .name = "aws",
  .caps = DROVER_CAP_WAIT,
  .state_size = sizeof(ec2_state),
  .types = ec2_types,
  .init = ec2_init,
  .cleanup = ec2_cleanup,
  .list = ec2_list,
  .create = ec2_create,
  .update = ec2_update,
  .del = ec2_del,
  .read = ec2_read,
  .settings = ec2_settings,
  .check = ec2_check,
  /* Backups (ec2_backup.c): EBS snapshots of volumes and instances. */
  .snapshot_list = ec2_backup_list,
  .snapshot_create = ec2_backup_create,
  .snapshot_delete = ec2_backup_delete,
  /* Restores (ec2_restore.c): aws.volume targets only. */
  .snapshot_restore = ec2_backup_restore,
  .snapshot_clone = ec2_backup_clone,
  .table_size = sizeof(drover_provider),
  .del_many = ec2_del_many
};

#ifdef DROVER_PROVIDER_MODULE
/* The module's one exported symbol (DROVER_PROVIDER_ENTRY). */
const drover_provider *drover_provider_entry(unsigned engine_version);
const drover_provider *drover_provider_entry(unsigned engine_version)
{
  return engine_version >= DROVER_PROVIDER_VERSION_MIN ? &dv_provider_aws : NULL;
}
#endif
