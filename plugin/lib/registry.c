/* registry.c - the providers compiled in, plus any a unit test adds.
 *
 * A NULL-terminated table, each entry behind its configure switch (curl's
 * available_backends[]). Tables are checked before use, as libfabric
 * checks a provider's ops before accepting it.
 */
#include <string.h>
#include "config.h"
#include "engine.h"

#ifdef DROVER_WITH_LXD
extern const drover_provider dv_provider_lxd;
#endif

static const drover_provider *const builtin[] = {
#ifdef DROVER_WITH_LXD
  &dv_provider_lxd,
#endif
  NULL
};

/* Test providers; registered before threads start, so no lock. */
#define MAX_EXTRA 4
static const drover_provider *extra[MAX_EXTRA];

static drover_code check_table(const drover_provider *p, drover_error *err)
{
  /* An older table is accepted: the engine reads the members a later
   * version appended only when p->version says they exist. */
  if(!p || p->version < DROVER_PROVIDER_VERSION_MIN ||
     p->version > DROVER_PROVIDER_VERSION)
    return drover_error_set(err, DROVER_E_INTERNAL,
                            "provider table has version %u, expected %u to %u",
                            p ? p->version : 0u, DROVER_PROVIDER_VERSION_MIN,
                            DROVER_PROVIDER_VERSION);
  if(!p->name || !p->types || !p->init || !p->list || !p->create || !p->del)
    return drover_error_set(err, DROVER_E_INTERNAL,
                            "provider %s lacks a required member",
                            p->name ? p->name : "(unnamed)");
  return DROVER_OK;
}

drover_code dv_provider_register(const drover_provider *p, drover_error *err)
{
  size_t i;
  drover_code rc = check_table(p, err);

  if(rc)
    return rc;
  for(i = 0; i < MAX_EXTRA; i++) {
    if(extra[i] == p)
      return DROVER_OK;
    if(!extra[i]) {
      extra[i] = p;
      return DROVER_OK;
    }
  }
  return drover_error_set(err, DROVER_E_INTERNAL, "too many test providers");
}

const drover_provider *dv_provider_find(const char *name)
{
  size_t i;

  for(i = 0; builtin[i]; i++)
    if(!strcmp(builtin[i]->name, name))
      return builtin[i];
  for(i = 0; i < MAX_EXTRA && extra[i]; i++)
    if(!strcmp(extra[i]->name, name))
      return extra[i];
  return NULL;
}

const drover_provider *dv_provider_at(size_t i)
{
  size_t nb = sizeof(builtin) / sizeof(builtin[0]) - 1;

  if(i < nb)
    return builtin[i];
  i -= nb;
  return i < MAX_EXTRA ? extra[i] : NULL;
}

const drover_rtype *dv_rtype_find(const char *name, const drover_provider **provider)
{
  const char *dot = strchr(name, '.');
  char pname[64];
  const drover_provider *p;
  size_t i, len;

  if(!dot || (len = (size_t)(dot - name)) == 0 || len >= sizeof(pname))
    return NULL;
  memcpy(pname, name, len);
  pname[len] = '\0';
  p = dv_provider_find(pname);
  if(!p)
    return NULL;
  for(i = 0; p->types[i]; i++) {
    if(!strcmp(p->types[i]->name, name)) {
      if(provider)
        *provider = p;
      return p->types[i];
    }
  }
  return NULL;
}
