/* stack_providers.c - the providers a stack talks to, instantiated: the
 * merged settings (template and admin file), the provider's state, init
 * and cleanup. Used by refresh, apply and `drover stacks`; released by
 * drover_stack_free().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "engine.h"

/* ------------------------------------------------------------------------
 * Provider configuration
 */

static int secret_key(const char *key)
{
  static const char *const words[] = {"key", "secret", "token", "password", NULL};
  size_t i;

  for(i = 0; words[i]; i++)
    if(strcasestr(key, words[i]))
      return 1;
  return 0;
}

/* Registers string values under credential-looking keys as secrets. */
static void mark_secrets(const json_t *v, int under_secret)
{
  const char *key;
  json_t *item;
  size_t i;

  if(json_is_string(v)) {
    if(under_secret)
      dv_secret_add(json_string_value(v));
  }
  else if(json_is_object(v)) {
    json_object_foreach((json_t *)v, key, item)
      mark_secrets(item, under_secret || secret_key(key));
  }
  else if(json_is_array(v)) {
    json_array_foreach(v, i, item)
      mark_secrets(item, under_secret);
  }
}

/* The merged settings for provider name: tplcfg["name"] overlaid by the
 * admin file's "name" object. *out is a new reference. */
drover_code dv_provider_config(json_t **out, const char *name, const json_t *tplcfg,
                               const char *admin_path, drover_error *err)
{
  drover_code rc = DROVER_OK;
  json_t *cfg = NULL, *admin = NULL, *mine;
  json_error_t jerr;
  struct stat st;

  *out = NULL;
  mine = tplcfg ? json_object_get(tplcfg, name) : NULL;
  cfg = json_is_object(mine) ? json_deep_copy(mine) : json_object();
  if(!cfg) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "provider %s: out of memory", name);
    goto out;
  }
  if(admin_path && admin_path[0]) {
    if(stat(admin_path, &st) != 0 || !S_ISREG(st.st_mode)) {
      rc = drover_error_set(err, DROVER_E_CONFIG,
                            "provider config %s: not a regular file", admin_path);
      goto out;
    }
    admin = json_load_file(admin_path, JSON_REJECT_DUPLICATES, &jerr);
    if(!admin) {
      rc = drover_error_set(err, DROVER_E_CONFIG, "provider config %s:%d:%d: %s",
                            admin_path, jerr.line, jerr.column, jerr.text);
      goto out;
    }
    if(!json_is_object(admin)) {
      rc = drover_error_set(err, DROVER_E_CONFIG,
                            "provider config %s: expected a JSON object", admin_path);
      goto out;
    }
    mine = json_object_get(admin, name);
    if(mine && !json_is_object(mine)) {
      rc = drover_error_set(err, DROVER_E_CONFIG,
                            "provider config %s: \"%s\" must be an object",
                            admin_path, name);
      goto out;
    }
    if(mine) {
      mark_secrets(mine, 0);
      if(json_object_update(cfg, mine)) {
        rc = drover_error_set(err, DROVER_E_NOMEM, "provider %s: out of memory", name);
        goto out;
      }
    }
  }
  *out = cfg;
  cfg = NULL;
out:
  json_decref(cfg);
  json_decref(admin);
  return rc;
}

/* Initialises p for vt. On failure p is left uninitialised and empty. */
drover_code dv_pinst_init(dv_pinst *p, const drover_provider *vt,
                              const json_t *tplcfg, const drover_options *opts,
                              const drover_provider_env *env, drover_error *err)
{
  drover_code rc;
  drover_error local;

  p->vt = vt;
  rc = dv_provider_config(&p->config, vt->name, tplcfg, opts->provider_config, err);
  if(rc)
    return rc;
  p->state = calloc(1, vt->state_size ? vt->state_size : 1);
  if(!p->state) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "provider %s: out of memory", vt->name);
    goto fail;
  }
  drover_error_clear(&local);
  rc = vt->init(p->state, p->config, env, &local);
  if(rc) {
    if(!local.code)
      drover_error_set(&local, rc, "provider %s: init failed", vt->name);
    drover_error_locate(&local, vt->name, NULL);
    if(err && !err->code)
      *err = local;
    if(vt->cleanup)
      vt->cleanup(p->state);
    goto fail;
  }
  p->initialised = 1;
  return DROVER_OK;
fail:
  free(p->state);
  p->state = NULL;
  json_decref(p->config);
  p->config = NULL;
  return rc;
}

void dv_pinst_release(dv_pinst *p)
{
  if(p->initialised && p->vt->cleanup)
    p->vt->cleanup(p->state);
  p->initialised = 0;
  free(p->state);
  p->state = NULL;
  json_decref(p->config);
  p->config = NULL;
}

const json_t *dv_template_providers(const drover_stack *stack)
{
  if(stack->tpl)
    return stack->tpl->providers;
  if(stack->owned_tpl)
    return stack->owned_tpl->providers;
  return NULL;
}

/* Not thread safe: apply resolves every provider before its workers
 * start. The returned pointer is valid until the next call (the array may
 * grow). */
drover_code dv_stack_provider(dv_pinst **out, drover_stack *stack,
                              const drover_provider *vt, drover_error *err)
{
  dv_pinst *p = NULL, *grown;
  size_t i;
  drover_code rc;

  *out = NULL;
  if(stack->provider_host) /* a node stack borrows its set's providers */
    return dv_stack_provider(out, stack->provider_host, vt, err);
  if(!stack->env.user_agent)
    stack->env.user_agent = "drover/" DROVER_VERSION;
  if(!stack->env.log && stack->opts.log) {
    stack->env.log = stack->opts.log;
    stack->env.log_userdata = stack->opts.log_userdata;
  }
  for(i = 0; i < stack->nproviders; i++)
    if(stack->providers[i].vt == vt)
      p = &stack->providers[i];
  if(!p) {
    grown = realloc(stack->providers, (stack->nproviders + 1) * sizeof(*grown));
    if(!grown)
      return drover_error_set(err, DROVER_E_NOMEM, "provider %s: out of memory",
                              vt->name);
    stack->providers = grown;
    p = &stack->providers[stack->nproviders++];
    memset(p, 0, sizeof(*p));
    p->vt = vt;
  }
  if(!p->initialised) {
    rc = dv_pinst_init(p, vt, dv_template_providers(stack), &stack->opts, &stack->env, err);
    if(rc)
      return rc;
    dv_log(stack, DROVER_LOG_DEBUG, "provider %s: initialised", vt->name);
  }
  *out = p;
  return DROVER_OK;
}

/* ------------------------------------------------------------------------
 * Every provider of a stack, up (refresh, the stack lease)
 */

/* When no provider was named (a bare stack, `drover gc`, the epilog),
 * every provider is asked. One that is not set up on this machine (init
 * fails with DROVER_E_CONFIG, and the admin file does not name it) cannot
 * hold objects we could reach: it is skipped with a warning instead of
 * failing the whole cleanup. A provider the admin file names must work,
 * unless its init says DROVER_E_NOT_SET_UP: its settings themselves (the
 * admin's `{"aws": {"imds": false}}` on a site without AWS credentials)
 * leave it nothing to reach. */
static int not_set_up(const drover_provider *vt, const drover_options *opts,
                      const drover_error *why)
{
  json_t *admin;
  int named;

  if(why->code == DROVER_E_NOT_SET_UP)
    return 1;
  if(why->code != DROVER_E_CONFIG)
    return 0;
  if(!opts->provider_config || !opts->provider_config[0])
    return 1;
  admin = json_load_file(opts->provider_config, 0, NULL);
  /* An unreadable file is not "unnamed": let its own error show. */
  named = !admin || json_object_get(admin, vt->name) != NULL;
  json_decref(admin);
  return !named;
}

/* The warning for a skipped provider, redacted, through opts's sink. */
static void warn_skipped(const drover_options *opts, const drover_provider *vt,
                         const drover_error *why)
{
  char msg[DROVER_ERROR_TEXT + 128];

  if(!opts->log || opts->log_level < DROVER_LOG_WARN)
    return;
  snprintf(msg, sizeof(msg), "provider %s is not set up here, skipped: %s", vt->name,
           why->text);
  dv_redact(msg, sizeof(msg));
  opts->log(opts->log_userdata, DROVER_LOG_WARN, msg);
}

int dv_provider_skip_unset(const drover_provider *vt, const drover_options *opts,
                           const drover_error *why)
{
  if(!not_set_up(vt, opts, why))
    return 0;
  warn_skipped(opts, vt, why);
  return 1;
}

/* Every provider the stack talks to: those of its blocks, those its
 * template names, and any already instantiated (bare stacks). */
static drover_code collect_providers(const drover_provider ***out, size_t *n,
                                     const drover_stack *stack, drover_error *err)
{
  const drover_provider **v;
  const json_t *tplp = dv_template_providers(stack);
  size_t cap, i, j, k = 0;
  const char *key;
  json_t *val;

  cap = stack->nproviders + (stack->tpl ? stack->tpl->nblocks : 0) +
        (tplp ? json_object_size(tplp) : 0) + 1;
  v = calloc(cap, sizeof(*v));
  if(!v)
    return drover_error_set(err, DROVER_E_NOMEM, "refresh: out of memory");
#define ADD(p) do { for(j = 0; j < k; j++) if(v[j] == (p)) break; \
                    if(j == k) v[k++] = (p); } while(0)
  for(i = 0; i < stack->nproviders; i++)
    ADD(stack->providers[i].vt);
  for(i = 0; stack->tpl && i < stack->tpl->nblocks; i++)
    if(stack->tpl->blocks[i].provider)
      ADD(stack->tpl->blocks[i].provider);
  if(json_is_object(tplp)) {
    json_object_foreach((json_t *)tplp, key, val) {
      const drover_provider *p = dv_provider_find(key);
      (void)val;
      if(!p) {
        free(v);
        return drover_error_set(err, DROVER_E_CONFIG, "refresh: unknown provider \"%s\"",
                                key);
      }
      ADD(p);
    }
  }
#undef ADD
  *out = v;
  *n = k;
  return DROVER_OK;
}

/* The stack's uninitialised entry for vt (skipped or just failed), or
 * NULL. */
static dv_pinst *uninitialised(drover_stack *stack, const drover_provider *vt)
{
  size_t i;

  if(stack->provider_host)
    stack = stack->provider_host;
  for(i = 0; i < stack->nproviders; i++)
    if(stack->providers[i].vt == vt && !stack->providers[i].initialised)
      return &stack->providers[i];
  return NULL;
}

/* The stack's entry for vt when an earlier call skipped it, or NULL. */
static dv_pinst *skipped(drover_stack *stack, const drover_provider *vt)
{
  dv_pinst *p = uninitialised(stack, vt);

  return p && p->skipped ? p : NULL;
}

drover_code dv_stack_providers_up(const drover_provider ***out, size_t *n,
                                  drover_stack *stack, drover_error *err)
{
  const drover_provider **provs = NULL;
  size_t nprovs = 0, i;
  drover_code rc;

  *out = NULL;
  *n = 0;
  rc = collect_providers(&provs, &nprovs, stack, err);
  if(rc)
    return rc;
  /* One after the other: init is not thread safe, and stack->providers
   * may move. */
  for(i = 0; i < nprovs; i++) {
    dv_pinst *p = skipped(stack, provs[i]);
    drover_error why;
    drover_error_clear(&why);
    rc = p ? DROVER_E_CONFIG : dv_stack_provider(&p, stack, provs[i], &why);
    if(rc && stack->providers_implied &&
       (p || dv_provider_skip_unset(provs[i], &stack->opts, &why))) {
      if(!p && (p = uninitialised(stack, provs[i])) != NULL)
        p->skipped = 1;
      /* Dropped from the list; the rest keep their order. */
      memmove(&provs[i], &provs[i + 1], (nprovs - i - 1) * sizeof(*provs));
      nprovs--;
      i--;
      rc = DROVER_OK;
      continue;
    }
    if(rc) {
      if(err && !err->code)
        *err = why;
      free(provs);
      return rc;
    }
  }
  *out = provs;
  *n = nprovs;
  return DROVER_OK;
}

void dv_stack_providers_release(drover_stack *stack)
{
  size_t i;

  for(i = 0; i < stack->nproviders; i++)
    dv_pinst_release(&stack->providers[i]);
  free(stack->providers);
  stack->providers = NULL;
  stack->nproviders = 0;
}
