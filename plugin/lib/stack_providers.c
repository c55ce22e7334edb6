/* stack_providers.c - the providers a stack talks to, instantiated: the
 * merged settings (template and admin file), the provider's state, init
 * and cleanup. Used by refresh, apply and `drover stacks`; released by
 * drover_stack_free().
 */
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

void dv_stack_providers_release(drover_stack *stack)
{
  size_t i;

  for(i = 0; i < stack->nproviders; i++)
    dv_pinst_release(&stack->providers[i]);
  free(stack->providers);
  stack->providers = NULL;
  stack->nproviders = 0;
}
