/* registry.c - the providers: compiled in, loaded as modules, or added by
 * a unit test.
 *
 * Built-in tables are a NULL-terminated list, each entry behind its
 * configure switch (curl's available_backends[]). Modules are <name>.so
 * files found in the search directories (drover_provider_dir_add(), then
 * $(pkglibdir)/providers), loaded on first use of the name or all at once
 * for `drover gc` and the epilog. Every table is checked before use, as
 * libfabric checks a provider's ops before accepting it; a module's is
 * also copied into a full-size, zero-filled table (module.c), so the core
 * never reads past the end of an older module's table.
 *
 * Loaded modules are never unloaded: tables, types and strings point into
 * them. The lists only grow, under one mutex, so indices stay stable.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "engine.h"

#ifndef DROVER_PROVIDERDIR
#define DROVER_PROVIDERDIR "/usr/local/lib/drover/providers"
#endif

#ifdef DROVER_WITH_LXD
extern const drover_provider dv_provider_lxd;
#endif
#ifdef DROVER_WITH_S3
extern const drover_provider dv_provider_s3;
#endif
#ifdef DROVER_WITH_AWS
extern const drover_provider dv_provider_aws;
#endif

static const drover_provider *const builtin[] = {
#ifdef DROVER_WITH_LXD
  &dv_provider_lxd,
#endif
#ifdef DROVER_WITH_S3
  &dv_provider_s3,
#endif
#ifdef DROVER_WITH_AWS
  &dv_provider_aws,
#endif
  NULL
};

/* Test providers (MAX_EXTRA), then modules (MAX_LOADED), in one list. */
#define MAX_EXTRA 4
#define MAX_LOADED 32
#define MAX_DIRS 8
#define MAX_REFUSED 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const drover_provider *extra[MAX_EXTRA];
static const drover_provider *loaded[MAX_LOADED];
static char *dirs[MAX_DIRS];
/* Why a module of this name was refused, for the template's error. */
static struct refusal {
  char name[64];
  char text[DROVER_ERROR_TEXT];
} refused[MAX_REFUSED];

drover_code dv_provider_register(const drover_provider *p, drover_error *err)
{
  size_t i;
  drover_code rc = dv_provider_check(p, "test provider", err);

  if(rc)
    return rc;
  pthread_mutex_lock(&lock);
  for(i = 0; i < MAX_EXTRA; i++) {
    if(extra[i] == p)
      break;
    if(!extra[i]) {
      extra[i] = p;
      break;
    }
  }
  pthread_mutex_unlock(&lock);
  if(i == MAX_EXTRA)
    return drover_error_set(err, DROVER_E_INTERNAL, "too many test providers");
  return DROVER_OK;
}

/* Known provider named name (built in, test or loaded); NULL if none.
 * Call with lock held. */
static const drover_provider *find_known(const char *name)
{
  size_t i;

  for(i = 0; builtin[i]; i++)
    if(!strcmp(builtin[i]->name, name))
      return builtin[i];
  for(i = 0; i < MAX_EXTRA && extra[i]; i++)
    if(!strcmp(extra[i]->name, name))
      return extra[i];
  for(i = 0; i < MAX_LOADED && loaded[i]; i++)
    if(!strcmp(loaded[i]->name, name))
      return loaded[i];
  return NULL;
}

/* A provider name that can be a file name: [a-z0-9_], 1..32 bytes. */
static int name_ok(const char *name)
{
  size_t i;

  for(i = 0; name[i]; i++)
    if(!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
         name[i] == '_'))
      return 0;
  return i > 0 && i <= 32;
}

/* The recorded refusal of name, or NULL. Lock held. */
static const char *refusal_of(const char *name)
{
  size_t i;

  for(i = 0; i < MAX_REFUSED && refused[i].name[0]; i++)
    if(!strcmp(refused[i].name, name))
      return refused[i].text;
  return NULL;
}

static void remember_refusal(const char *name, const drover_error *why)
{
  size_t i;

  for(i = 0; i < MAX_REFUSED; i++) {
    if(!refused[i].name[0] || !strcmp(refused[i].name, name)) {
      snprintf(refused[i].name, sizeof(refused[i].name), "%s", name);
      snprintf(refused[i].text, sizeof(refused[i].text), "%s", why->text);
      return;
    }
  }
}

/* --------------------------------------------------------------------------
 * Loading one module (lock held; the file itself: module.c)
 */

/* Loads path, whose provider must be called want (NULL: any), and adds
 * it. *out is the accepted table, owned by the registry. */
static drover_code load_module(const char *path, const char *want,
                               const drover_provider **out, drover_error *err)
{
  drover_provider *copy = NULL;
  drover_code rc;
  void *h = NULL;
  size_t i;

  *out = NULL;
  for(i = 0; i < MAX_LOADED && loaded[i]; i++)
    ;
  if(i == MAX_LOADED)
    return drover_error_set(err, DROVER_E_CONFIG, "provider module %s: more than %d "
                            "modules", path, MAX_LOADED);
  rc = dv_module_open(path, want, &copy, &h, err);
  if(rc)
    return rc;
  if(find_known(copy->name)) {
    rc = drover_error_set(err, DROVER_E_CONFIG, "provider module %s: a provider named "
                          "\"%s\" is already loaded", path, copy->name);
    free(copy);
    dlclose(h);
    return rc;
  }
  /* The module stays loaded for the process's life: the table points
   * into it. */
  loaded[i] = copy;
  *out = copy;
  return DROVER_OK;
}

/* <dir>/<name>.so for each search dir until one exists; loads it. A
 * missing file is not an error (*out stays NULL). */
static drover_code load_by_name(const char *name, const drover_provider **out,
                                drover_error *err)
{
  char path[4096];
  size_t i;

  *out = NULL;
  for(i = 0; i <= MAX_DIRS; i++) {
    const char *d = i < MAX_DIRS ? dirs[i] : DROVER_PROVIDERDIR;
    if(!d)
      continue;
    if((size_t)snprintf(path, sizeof(path), "%s/%s.so", d, name) >= sizeof(path))
      continue;
    if(access(path, F_OK) && errno == ENOENT)
      continue;
    return load_module(path, name, out, err);
  }
  return DROVER_OK;
}

/* --------------------------------------------------------------------------
 * Lookups
 */

const drover_provider *dv_provider_find(const char *name)
{
  const drover_provider *p;

  pthread_mutex_lock(&lock);
  p = find_known(name);
  /* A module refused once stays refused for this process: a template
   * naming it a hundred times checks and dlopens it once. */
  if(!p && name_ok(name) && !refusal_of(name)) {
    drover_error why;
    drover_error_clear(&why);
    if(load_by_name(name, &p, &why))
      remember_refusal(name, &why);
  }
  pthread_mutex_unlock(&lock);
  return p;
}

const char *dv_provider_refusal(const char *name)
{
  const char *text;

  pthread_mutex_lock(&lock);
  text = refusal_of(name);
  pthread_mutex_unlock(&lock);
  return text;
}

drover_code drover_provider_get(const drover_provider **out, const char *name,
                                drover_error *err)
{
  const char *why;

  *out = name ? dv_provider_find(name) : NULL;
  if(*out)
    return DROVER_OK;
  why = name ? dv_provider_refusal(name) : NULL;
  if(why)
    return drover_error_set(err, DROVER_E_CONFIG, "provider \"%s\": %s", name, why);
  return drover_error_set(err, DROVER_E_NOT_FOUND, "no provider \"%s\"",
                          name ? name : "(null)");
}

const drover_provider *dv_provider_at(size_t i)
{
  const drover_provider *p = NULL;
  size_t nb;

  /* Counted, not sizeof-derived: the list may be empty (no warning for an
   * always-false comparison then). */
  for(nb = 0; builtin[nb]; nb++)
    if(nb == i)
      return builtin[nb];
  i -= nb;
  pthread_mutex_lock(&lock);
  if(i < MAX_EXTRA)
    p = extra[i];
  /* Test providers are packed from 0, so the modules follow the last. */
  if(!p) {
    size_t ne = 0;
    while(ne < MAX_EXTRA && extra[ne])
      ne++;
    if(i >= ne && i - ne < MAX_LOADED)
      p = loaded[i - ne];
  }
  pthread_mutex_unlock(&lock);
  return p;
}

unsigned dv_rtype_flags(const drover_provider *p, const drover_rtype *t)
{
  /* An older module's types end before flags: never read it there. */
  return p && t && p->version >= 3 ? t->flags : 0u;
}

const drover_provider *dv_rtype_owner(const drover_rtype *t)
{
  const drover_provider *p;
  size_t k, i;

  for(k = 0; t && (p = dv_provider_at(k)) != NULL; k++)
    for(i = 0; p->types[i]; i++)
      if(p->types[i] == t)
        return p;
  return NULL;
}

drover_code dv_live_fill_id(const drover_provider *p, const drover_rtype *t,
                            drover_live *l)
{
  if(!l || !l->name || !l->attributes || json_object_get(l->attributes, "id") ||
     !(dv_rtype_flags(p, t) & DROVER_RTYPE_SERVER_ID))
    return DROVER_OK;
  return json_object_set_new(l->attributes, "id", json_string(l->name))
           ? DROVER_E_NOMEM : DROVER_OK;
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
  if(!p) {
    /* A cloud-neutral type (backup.policy) is served by the first
     * provider that declares it: the one that holds its targets. */
    size_t k;
    for(k = 0; (p = dv_provider_at(k)) != NULL; k++)
      for(i = 0; p->types[i]; i++)
        if(!strcmp(p->types[i]->name, name)) {
          if(provider)
            *provider = p;
          return p->types[i];
        }
    return NULL;
  }
  for(i = 0; p->types[i]; i++) {
    if(!strcmp(p->types[i]->name, name)) {
      if(provider)
        *provider = p;
      return p->types[i];
    }
  }
  return NULL;
}

/* --------------------------------------------------------------------------
 * Public: search directories and loading
 */

drover_code drover_provider_dir_add(const char *dir, drover_error *err)
{
  drover_code rc = DROVER_OK;
  size_t i;

  if(!dir || dir[0] != '/')
    return drover_error_set(err, DROVER_E_ARG, "provider directory must be an "
                            "absolute path");
  pthread_mutex_lock(&lock);
  for(i = 0; i < MAX_DIRS && dirs[i] && strcmp(dirs[i], dir); i++)
    ;
  if(i == MAX_DIRS)
    rc = drover_error_set(err, DROVER_E_ARG, "more than %d provider directories",
                          MAX_DIRS);
  else if(!dirs[i] && !(dirs[i] = strdup(dir)))
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  pthread_mutex_unlock(&lock);
  return rc;
}

drover_code drover_provider_load(const char *path, const char **name, drover_error *err)
{
  const drover_provider *p = NULL;
  drover_code rc;

  if(name)
    *name = NULL;
  if(!path || path[0] != '/')
    return drover_error_set(err, DROVER_E_ARG, "provider module path must be absolute");
  pthread_mutex_lock(&lock);
  rc = load_module(path, NULL, &p, err);
  pthread_mutex_unlock(&lock);
  if(!rc && name)
    *name = p->name;
  return rc;
}

/* Loads every <name>.so in dir whose name is not known yet. */
static drover_code load_dir(const char *dir, drover_error *err)
{
  drover_code rc = DROVER_OK;
  struct dirent *de;
  DIR *d = opendir(dir);

  if(!d)
    return errno == ENOENT ? DROVER_OK
                           : drover_error_set(err, DROVER_E_IO, "%s: %s", dir,
                                              strerror(errno));
  while(!rc && (de = readdir(d)) != NULL) {
    size_t n = strlen(de->d_name);
    char name[64], path[4096];
    const drover_provider *p;
    if(n <= 3 || n - 3 >= sizeof(name) || strcmp(de->d_name + n - 3, ".so"))
      continue;
    memcpy(name, de->d_name, n - 3);
    name[n - 3] = '\0';
    if(!name_ok(name) || find_known(name))
      continue;
    if((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
      continue;
    rc = load_module(path, name, &p, err);
  }
  closedir(d);
  return rc;
}

drover_code drover_providers_load_all(drover_error *err)
{
  drover_code rc = DROVER_OK;
  size_t i;

  pthread_mutex_lock(&lock);
  for(i = 0; !rc && i < MAX_DIRS && dirs[i]; i++)
    rc = load_dir(dirs[i], err);
  if(!rc)
    rc = load_dir(DROVER_PROVIDERDIR, err);
  pthread_mutex_unlock(&lock);
  return rc;
}

drover_code dv_providers_all_json(char **out, drover_error *err)
{
  drover_code rc = drover_providers_load_all(err);

  *out = NULL;
  return rc ? rc : drover_providers_json(out, err);
}

drover_code drover_providers_json(char **out, drover_error *err)
{
  json_t *obj = json_object();
  const drover_provider *p;
  drover_code rc = DROVER_OK;
  size_t i;

  *out = NULL;
  for(i = 0; obj && (p = dv_provider_at(i)) != NULL; i++)
    if(!json_object_get(obj, p->name) && json_object_set_new(obj, p->name, json_object()))
      break;
  if(!obj || p || !(*out = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS)))
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  json_decref(obj);
  return rc;
}
