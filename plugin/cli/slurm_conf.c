/* slurm_conf.c - the power-save programs' config file and Slurm's resume
 * file. No libslurm here. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "slurm_nodes.h"

#ifndef DROVER_SYSCONFDIR
#define DROVER_SYSCONFDIR "/etc"
#endif

drover_log_level sl_log_level = DROVER_LOG_INFO;

int sl_fail(char *msg, size_t size, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, size, fmt, ap);
  va_end(ap);
  return -1;
}

static char *str_member(const json_t *root, const char *key, const char *def)
{
  const char *v = json_string_value(json_object_get(root, key));

  v = v ? v : def;
  return v ? strdup(v) : NULL;
}

int sl_conf_load(sl_conf *c, const char *path, char *msg, size_t size)
{
  static const char *const keys[] = {
    "template", "provider_config", "vars", "log", "lock_dir", "nodes",
    "address_output", "hostname_output", "parallelism", "rate", "retries",
    "lock_wait", "grace", "retry_after", NULL
  };
  static const char *const numbers[] = {
    "parallelism", "rate", "retries", "lock_wait", "grace", "retry_after", NULL
  };
  json_t *root = NULL, *v;
  json_error_t je;
  const char *key;
  size_t i;
  int rc = -1;

  memset(c, 0, sizeof(*c));
  if(!path)
    path = DROVER_SYSCONFDIR "/drover/slurm.json";
  c->path = strdup(path);
  memset(&je, 0, sizeof(je));
  root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if(!root) {
    sl_fail(msg, size, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    goto out;
  }
  if(!json_is_object(root)) {
    sl_fail(msg, size, "%s: expected a JSON object", path);
    goto out;
  }
  json_object_foreach(root, key, v) {
    for(i = 0; keys[i] && strcmp(keys[i], key); i++)
      ;
    if(!keys[i]) {
      sl_fail(msg, size, "%s: unknown key \"%s\"", path, key);
      goto out;
    }
    for(i = 0; numbers[i] && strcmp(numbers[i], key); i++)
      ;
    if(numbers[i] ? !json_is_number(v) || json_number_value(v) < 0
                  : strcmp(key, "vars") ? !json_is_string(v) : !json_is_object(v)) {
      sl_fail(msg, size, "%s: \"%s\" must be %s", path, key,
           numbers[i] ? "a number >= 0" : strcmp(key, "vars") ? "a string" : "an object");
      goto out;
    }
  }
  if(!json_string_value(json_object_get(root, "template"))) {
    sl_fail(msg, size, "%s: \"template\" (the node template) is required", path);
    goto out;
  }
  c->tpl = str_member(root, "template", NULL);
  c->provider_config = str_member(root, "provider_config", NULL);
  c->log = str_member(root, "log", NULL);
  c->lock_dir = str_member(root, "lock_dir", NULL);
  c->nodes = str_member(root, "nodes", NULL);
  c->address_output = str_member(root, "address_output", "address");
  c->hostname_output = str_member(root, "hostname_output", "hostname");
  v = json_object_get(root, "vars");
  c->vars = v ? json_incref(v) : json_object();
#define NUM(k, d) (json_object_get(root, k) ? json_number_value(json_object_get(root, k)) : (d))
  c->parallelism = (unsigned)NUM("parallelism", 16);
  c->rate = NUM("rate", 0);
  c->retries = (unsigned)NUM("retries", 5);
  c->lock_wait = NUM("lock_wait", 120);
  c->grace = NUM("grace", 300);
  c->retry_after = NUM("retry_after", 300);
#undef NUM
  if(!c->path || !c->tpl || !c->address_output || !c->hostname_output || !c->vars) {
    sl_fail(msg, size, "out of memory");
    goto out;
  }
  rc = 0;
out:
  json_decref(root);
  if(rc)
    sl_conf_clear(c);
  return rc;
}

void sl_conf_clear(sl_conf *c)
{
  free(c->path);
  free(c->tpl);
  free(c->provider_config);
  json_decref(c->vars);
  free(c->log);
  free(c->lock_dir);
  free(c->nodes);
  free(c->address_output);
  free(c->hostname_output);
  memset(c, 0, sizeof(*c));
}

int sl_resume_file_hosts(char **hosts, const char *path, char *msg, size_t size)
{
  json_t *root;
  json_error_t je;
  const char *h;
  int rc = -1;

  *hosts = NULL;
  memset(&je, 0, sizeof(je));
  root = json_load_file(path, 0, &je);
  if(!root)
    return sl_fail(msg, size, "resume file %s:%d:%d: %s", path, je.line, je.column, je.text);
  /* Slurm 23.02 renamed the key; 22.05 writes all_nodes. */
  h = json_string_value(json_object_get(root, "all_nodes_resume"));
  if(!h)
    h = json_string_value(json_object_get(root, "all_nodes"));
  if(!h || !*h)
    sl_fail(msg, size, "resume file %s: neither all_nodes_resume nor all_nodes", path);
  else if(!(*hosts = strdup(h)))
    sl_fail(msg, size, "out of memory");
  else
    rc = 0;
  json_decref(root);
  return rc;
}

/* ------------------------------------------------------------------------
 * Log
 */

void sl_log(void *userdata, drover_log_level level, const char *msg)
{
  static const char *const names[] = {"error", "warning", "info", "debug"};
  char ts[32];
  struct timespec now;
  struct tm tm;

  (void)userdata;
  if(level > sl_log_level)
    return;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
  /* One write per line, so lines of concurrent programs do not mix;
   * milliseconds, for the resume timings. */
  fprintf(stderr, "%s.%03ldZ drover[%ld] %s: %s\n", ts, now.tv_nsec / 1000000L,
          (long)getpid(),
          names[level <= DROVER_LOG_DEBUG ? level : DROVER_LOG_DEBUG], msg);
  fflush(stderr);
}

void sl_logf(drover_log_level level, const char *fmt, ...)
{
  char buf[2048];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  sl_log(NULL, level, buf);
}

drover_vars *sl_node_vars(const drover_template *tpl, const sl_conf *conf,
                          const sl_node *facts, char *msg, size_t size)
{
  drover_vars *vars = drover_vars_new();
  drover_error err;
  const char *key;
  json_t *v;
  size_t i;
  char num[32];

  if(!vars) {
    sl_fail(msg, size, "out of memory");
    return NULL;
  }
  drover_error_clear(&err);
  json_object_foreach(conf->vars, key, v) {
    char *text = json_is_string(v) ? strdup(json_string_value(v))
                                   : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    int bad = !text || drover_vars_set(vars, key, text, &err);
    free(text);
    if(bad) {
      sl_fail(msg, size, "%s: vars.%s: %s", conf->path, key,
              err.code ? err.text : "out of memory");
      drover_vars_free(vars);
      return NULL;
    }
  }
  /* Slurm's own facts about the node, for the params that want them. */
  for(i = 0; facts && i < drover_template_param_count(tpl); i++) {
    const char *p = drover_template_param_name(tpl, i);
    if(!strcmp(p, "slurmd_port") && facts->port)
      snprintf(num, sizeof(num), "%u", facts->port);
    else if(!strcmp(p, "cpus") && facts->cpus)
      snprintf(num, sizeof(num), "%u", facts->cpus);
    else if(!strcmp(p, "real_memory") && facts->memory)
      snprintf(num, sizeof(num), "%llu", facts->memory);
    else
      continue;
    if(drover_vars_set(vars, p, num, &err)) {
      sl_fail(msg, size, "param %s: %s", p, err.text);
      drover_vars_free(vars);
      return NULL;
    }
  }
  return vars;
}
