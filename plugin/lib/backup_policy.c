/* backup_policy.c - reading a backup.policy's properties: targets or a
 * selector, schedule, time zone, retention, export, hooks and what removing
 * the policy does to its snapshots. Used at template load (through the
 * provider's check op) and by the backup commands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>
#include "engine.h"
#include "backup.h"

static drover_code bad(drover_error *err, char *where, size_t wsize, const char *ptr,
                       const char *msg, const char *arg)
{
  if(where && wsize)
    snprintf(where, wsize, "%s", ptr);
  return drover_error_set(err, DROVER_E_TEMPLATE, "%s%s%s%s", msg,
                          arg ? " \"" : "", arg ? arg : "", arg ? "\"" : "");
}

long long dv_duration_parse(const char *s)
{
  char *end;
  long long n, mul;

  if(!s || *s < '0' || *s > '9')
    return -1;
  n = strtoll(s, &end, 10);
  if(end[0] && end[1])
    return -1;
  switch(*end) {
  case 's': mul = 1; break;
  case 'm': mul = 60; break;
  case 'h': mul = 3600; break;
  case 'd': mul = 86400; break;
  case 'w': mul = 7 * 86400; break;
  case 'y': mul = 365 * 86400; break;
  default: return -1;
  }
  if(n <= 0 || n > 1000LL * 365)
    return -1;
  return n * mul;
}

/* A hook: an argv array, or a string run by /bin/sh -c. NULL-terminated
 * copy in *out. */
static drover_code hook_argv(char ***out, const json_t *v, const char *ptr, char *where,
                             size_t wsize, drover_error *err)
{
  size_t n, i;
  char **argv;

  *out = NULL;
  if(json_is_string(v)) {
    argv = calloc(4, sizeof(*argv));
    if(!argv || !(argv[0] = strdup("/bin/sh")) || !(argv[1] = strdup("-c")) ||
       !(argv[2] = strdup(json_string_value(v)))) {
      *out = argv;
      return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    }
    *out = argv;
    return DROVER_OK;
  }
  if(!json_is_array(v) || !(n = json_array_size(v)))
    return bad(err, where, wsize, ptr,
               "a hook is a command string or a non-empty array of arguments", NULL);
  argv = calloc(n + 1, sizeof(*argv));
  if(!argv)
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  *out = argv;
  for(i = 0; i < n; i++) {
    const char *a = json_string_value(json_array_get(v, i));
    if(!a)
      return bad(err, where, wsize, ptr, "hook arguments must be strings", NULL);
    if(!(argv[i] = strdup(a)))
      return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  }
  return DROVER_OK;
}

static void free_argv(char **argv)
{
  size_t i;

  for(i = 0; argv && argv[i]; i++)
    free(argv[i]);
  free(argv);
}

static drover_code parse_retention(dv_policy *out, const json_t *r, char *where,
                                   size_t wsize, drover_error *err)
{
  static const char *const keys[] = { "keep_last", "keep_hourly", "keep_daily",
                                      "keep_weekly", "keep_monthly", "keep_yearly" };
  int *slots[6];
  const char *key;
  json_t *v;
  char ptr[96];
  size_t i;

  slots[0] = &out->ret.keep_last;
  slots[1] = &out->ret.keep_hourly;
  slots[2] = &out->ret.keep_daily;
  slots[3] = &out->ret.keep_weekly;
  slots[4] = &out->ret.keep_monthly;
  slots[5] = &out->ret.keep_yearly;
  if(!json_is_object(r))
    return bad(err, where, wsize, "/retention", "retention must be an object", NULL);
  json_object_foreach((json_t *)r, key, v) {
    snprintf(ptr, sizeof(ptr), "/retention/%s", key);
    if(!strcmp(key, "max_age")) {
      out->ret.max_age = dv_duration_parse(json_string_value(v));
      if(out->ret.max_age < 0)
        return bad(err, where, wsize, ptr,
                   "max_age must be a duration such as \"36h\", \"30d\", \"2w\" or \"1y\"",
                   NULL);
      continue;
    }
    for(i = 0; i < 6; i++)
      if(!strcmp(key, keys[i]))
        break;
    if(i == 6)
      return bad(err, where, wsize, ptr,
                 "unknown retention rule (known: keep_last, keep_hourly, keep_daily, "
                 "keep_weekly, keep_monthly, keep_yearly, max_age):",
                 key);
    if(json_is_string(v) && !strcmp(json_string_value(v), "unlimited"))
      *slots[i] = DV_KEEP_UNLIMITED;
    else if(json_is_integer(v) && json_integer_value(v) >= 1 &&
            json_integer_value(v) <= 100000)
      *slots[i] = (int)json_integer_value(v);
    else
      return bad(err, where, wsize, ptr, "a keep_* count is an integer >= 1 or", "unlimited");
  }
  if(dv_retention_empty(&out->ret))
    return bad(err, where, wsize, "/retention",
               "retention needs at least one rule (keep_* or max_age)", NULL);
  return DROVER_OK;
}

drover_code dv_policy_parse(dv_policy *out, const json_t *props, char *where,
                            size_t wsize, drover_error *err)
{
  const json_t *v, *sel, *hooks;
  const char *s, *key;
  json_t *x;
  drover_code rc;
  size_t i;

  memset(out, 0, sizeof(*out));
  out->hook_timeout = 300;
  snprintf(out->tz, sizeof(out->tz), "UTC");
  out->ret.tz = out->tz;
  if(where && wsize)
    where[0] = '\0';

  v = json_object_get(props, "timezone");
  if(v) {
    s = json_string_value(v);
    rc = dv_tz_check(s, err);
    if(rc) {
      if(where && wsize)
        snprintf(where, wsize, "/timezone");
      err->code = DROVER_E_TEMPLATE;
      return DROVER_E_TEMPLATE;
    }
    snprintf(out->tz, sizeof(out->tz), "%s", s);
  }
  s = json_string_value(json_object_get(props, "schedule"));
  if(!s)
    return bad(err, where, wsize, "/schedule", "schedule is required", NULL);
  rc = dv_cron_parse(&out->cron, s, out->tz, err);
  if(rc) {
    if(where && wsize)
      snprintf(where, wsize, "/schedule");
    err->code = DROVER_E_TEMPLATE;
    return DROVER_E_TEMPLATE;
  }

  v = json_object_get(props, "targets");
  sel = json_object_get(props, "selector");
  if((v && json_array_size(v)) == !!sel)
    return bad(err, where, wsize, v ? "/targets" : "",
               "give exactly one of targets (resources of this stack) and selector "
               "(labels across stacks)",
               NULL);
  if(v) {
    out->targets = calloc(json_array_size(v), sizeof(*out->targets));
    if(!out->targets)
      return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    json_array_foreach(v, i, x) {
      if(!json_is_string(x) || !*json_string_value(x))
        return bad(err, where, wsize, "/targets", "targets are resource names", NULL);
      if(!(out->targets[i] = strdup(json_string_value(x))))
        return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
      out->ntargets++;
    }
  }
  if(sel) {
    out->has_selector = 1;
    json_object_foreach((json_t *)sel, key, x) {
      char **slot = !strcmp(key, "stack") ? &out->sel_stack
                    : !strcmp(key, "address") ? &out->sel_address
                    : !strcmp(key, "provider") ? &out->sel_provider : NULL;
      char ptr[96];
      snprintf(ptr, sizeof(ptr), "/selector/%s", key);
      if(!slot)
        return bad(err, where, wsize, ptr,
                   "a selector matches the labels stack and address (and names a "
                   "provider); unknown key", key);
      /* Not a label: which provider's instances are matched, and so
       * which provider holds the policy (checked in backup_provider.c). */
      if(!(*slot = strdup(json_string_value(x))))
        return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    }
    if(!out->sel_stack && !out->sel_address)
      return bad(err, where, wsize, "/selector", "selector is empty", NULL);
  }

  rc = parse_retention(out, json_object_get(props, "retention"), where, wsize, err);
  if(rc)
    return rc;

  s = json_string_value(json_object_get(props, "export"));
  if(s && *s) {
    /* Only S3 is implemented: anything else (file:// too) is refused
     * here, where the template check reports it with its position. */
    if(!(!strncmp(s, "s3://", 5) && s[5] && s[5] != '/'))
      return bad(err, where, wsize, "/export",
                 "export is \"s3://bucket/prefix\" (the only kind supported), not", s);
    if(!(out->export_url = strdup(s)))
      return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  }

  hooks = json_object_get(props, "hooks");
  if(hooks) {
    json_object_foreach((json_t *)hooks, key, x) {
      char ptr[96];
      snprintf(ptr, sizeof(ptr), "/hooks/%s", key);
      if(!strcmp(key, "pre"))
        rc = hook_argv(&out->pre, x, ptr, where, wsize, err);
      else if(!strcmp(key, "post"))
        rc = hook_argv(&out->post, x, ptr, where, wsize, err);
      else if(!strcmp(key, "check"))
        rc = hook_argv(&out->check, x, ptr, where, wsize, err);
      else if(!strcmp(key, "timeout")) {
        long long t = json_is_string(x) ? dv_duration_parse(json_string_value(x))
                      : json_is_integer(x) ? json_integer_value(x) : -1;
        if(t <= 0 || t > 86400)
          rc = bad(err, where, wsize, ptr,
                   "hooks.timeout is seconds (1..86400) or a duration such as \"5m\"", NULL);
        out->hook_timeout = (double)t;
      }
      else
        rc = bad(err, where, wsize, ptr, "unknown hook (known: pre, post, check, timeout):", key);
      if(rc)
        return rc;
    }
  }
  s = json_string_value(json_object_get(props, "on_delete"));
  out->delete_on_remove = s && !strcmp(s, "delete");
  return DROVER_OK;
}

void dv_policy_free(dv_policy *p)
{
  size_t i;

  for(i = 0; i < p->ntargets; i++)
    free(p->targets[i]);
  free(p->targets);
  free(p->sel_stack);
  free(p->sel_address);
  free(p->sel_provider);
  free(p->export_url);
  free_argv(p->pre);
  free_argv(p->post);
  free_argv(p->check);
  memset(p, 0, sizeof(*p));
}

/* Shared by every provider that serves backup.policy (drover_provider.h). */
static const char *const on_delete_values[] = { "keep", "delete", NULL };

const drover_prop drover_backup_policy_props[] = {
  {"targets", DROVER_T_ARRAY, 0, NULL, NULL,
   "resource names of this stack whose instances are backed up"},
  {"selector", DROVER_T_STRING_MAP, 0, NULL, NULL,
   "instead of targets: label globs across stacks (keys stack, address); provider: whose"},
  {"schedule", DROVER_T_STRING, DROVER_PROP_REQUIRED, NULL, NULL,
   "5-field cron or @hourly/@daily/@weekly/@monthly/@yearly"},
  {"timezone", DROVER_T_STRING, 0, "\"UTC\"", NULL,
   "IANA zone the schedule and retention periods are read in"},
  {"retention", DROVER_T_OBJECT, DROVER_PROP_REQUIRED, NULL, NULL,
   "keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly, max_age"},
  {"export", DROVER_T_STRING, 0, NULL, NULL, "s3://bucket/prefix or file:///directory"},
  {"hooks", DROVER_T_OBJECT, 0, NULL, NULL,
   "pre and post commands run in each instance, check (verify), timeout"},
  {"on_delete", DROVER_T_STRING, 0, "\"keep\"", on_delete_values,
   "what removing the policy does to its snapshots"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

drover_code drover_backup_policy_check(const json_t *props, char *where, size_t where_size,
                                       drover_error *err)
{
  dv_policy p;
  drover_code rc = dv_policy_parse(&p, props, where, where_size, err);

  dv_policy_free(&p);
  return rc;
}

drover_code dv_policy_key(char out[9], const char *stack, const char *address)
{
  unsigned char md[SHA256_DIGEST_LENGTH];
  char *text = dv_aprintf("%s\n%s", stack, address);
  int i;

  if(!text)
    return DROVER_E_NOMEM;
  SHA256((const unsigned char *)text, strlen(text), md);
  free(text);
  for(i = 0; i < 4; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  return DROVER_OK;
}

void dv_snap_name(char *buf, size_t size, const char *key, long long slot)
{
  int y, mo, d;
  long long days = slot >= 0 ? slot / 86400 : (slot - 86399) / 86400;
  long long rem = slot - days * 86400;

  dv_civil_from_days((long)days, &y, &mo, &d);
  snprintf(buf, size, DV_SNAP_PREFIX "%s-%04d%02d%02dT%02d%02dZ", key, y, mo, d,
           (int)(rem / 3600), (int)(rem % 3600 / 60));
}

long long dv_snap_slot(const char *name, const char *key)
{
  size_t pl = strlen(DV_SNAP_PREFIX), kl = strlen(key);
  int y, mo, d, h, mi, n = 0;
  const char *p;

  if(strncmp(name, DV_SNAP_PREFIX, pl) || strncmp(name + pl, key, kl) ||
     name[pl + kl] != '-')
    return -1;
  p = name + pl + kl + 1;
  if(strlen(p) != 14 || sscanf(p, "%4d%2d%2dT%2d%2dZ%n", &y, &mo, &d, &h, &mi, &n) != 5 ||
     n != 14 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59)
    return -1;
  return (long long)dv_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

drover_code drover_backup_key(char out[9], const char *stack, const char *address)
{
  return dv_policy_key(out, stack, address);
}

int drover_backup_is_snapshot_of(const char *snapshot, const char *key)
{
  return dv_snap_slot(snapshot, key) >= 0;
}
