/* module.c - opening one provider module: the trust checks the SPANK shim
 * applies to its engine (trust.c), dlopen, the one entry symbol, and the
 * table's version and size. The accepted table is copied into a
 * full-size, zero-filled struct (SQLite reads members a later version
 * appended only when iVersion says they exist), so the core never reads
 * past the end of an older module's shorter table. */
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine.h"
#include "trust.h"

size_t dv_provider_table_size(unsigned vers)
{
  /* 1: up to read; 2: settings, check, the snapshot ops, exec and
   * snapshot_clone added; 3: table_size added; 4: label_set added; 5:
   * backup_export and backup_import added; 6: the lock ops; 7:
   * backup_live_begin and backup_live_end; 8: del_many. */
  if(vers >= 8)
    return offsetof(drover_provider, del_many) + sizeof(void (*)(void));
  if(vers == 7)
    return offsetof(drover_provider, backup_live_end) + sizeof(void (*)(void));
  if(vers == 6)
    return offsetof(drover_provider, lock_delete) + sizeof(void (*)(void));
  if(vers == 5)
    return offsetof(drover_provider, backup_import) + sizeof(void (*)(void));
  if(vers == 4)
    return offsetof(drover_provider, label_set) + sizeof(void (*)(void));
  if(vers == 3)
    return offsetof(drover_provider, table_size) + sizeof(size_t);
  return vers == 2 ? offsetof(drover_provider, table_size)
                   : offsetof(drover_provider, settings);
}

drover_code dv_provider_check(const drover_provider *p, const char *what,
                              drover_error *err)
{
  if(!p || p->version < DROVER_PROVIDER_VERSION_MIN || p->version > DROVER_PROVIDER_VERSION)
    return drover_error_set(err, p ? DROVER_E_CONFIG : DROVER_E_INTERNAL,
                            "%s: provider table version %u not supported (this "
                            "drover accepts %u..%u)", what, p ? p->version : 0u,
                            DROVER_PROVIDER_VERSION_MIN, DROVER_PROVIDER_VERSION);
  if(p->version >= 3 && p->table_size < dv_provider_table_size(p->version))
    return drover_error_set(err, DROVER_E_CONFIG,
                            "%s: provider table of %zu bytes is too small for "
                            "version %u (%zu)", what, p->table_size, p->version,
                            dv_provider_table_size(p->version));
  if(!p->name || !*p->name || !p->types || !p->init || !p->list || !p->create ||
     !p->del)
    return drover_error_set(err, DROVER_E_CONFIG,
                            "%s: provider %s lacks a required member", what,
                            p->name ? p->name : "(unnamed)");
  return DROVER_OK;
}

drover_code dv_module_open(const char *path, const char *want, drover_provider **out,
                           void **handle, drover_error *err)
{
  char msg[1024];
  union { void *p; drover_provider_entry_fn fn; } sym;
  const drover_provider *t;
  drover_provider *copy = NULL;
  drover_code rc = DROVER_OK;
  void *h = NULL;
  size_t n;
  int fd;

  *out = NULL;
  *handle = NULL;
  /* It runs with the caller's rights, root's in the SPANK epilog. */
  fd = dv_trust_open_file(path, 0, msg, sizeof(msg));
  if(fd < 0) {
    rc = drover_error_set(err, DROVER_E_CONFIG, "provider module refused: %s",
                          strncmp(msg, "drover: ", 8) ? msg : msg + 8);
    goto out;
  }
  close(fd);
  h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if(!h) {
    const char *de = dlerror();
    rc = drover_error_set(err, DROVER_E_CONFIG, "cannot load provider module %s: %s",
                          path, de ? de : "dlopen failed");
    goto out;
  }
  sym.p = dlsym(h, DROVER_PROVIDER_ENTRY);
  if(!sym.p) {
    rc = drover_error_set(err, DROVER_E_CONFIG, "provider module %s has no %s symbol "
                          "(not a drover provider module)", path, DROVER_PROVIDER_ENTRY);
    goto out;
  }
  t = sym.fn(DROVER_PROVIDER_VERSION);
  if(!t) {
    rc = drover_error_set(err, DROVER_E_CONFIG, "provider module %s cannot serve a "
                          "version %u engine", path, DROVER_PROVIDER_VERSION);
    goto out;
  }
  rc = dv_provider_check(t, path, err);
  if(rc)
    goto out;
  if(want && strcmp(t->name, want)) {
    rc = drover_error_set(err, DROVER_E_CONFIG, "provider module %s holds provider "
                          "\"%s\", not \"%s\"", path, t->name, want);
    goto out;
  }
  copy = calloc(1, sizeof(*copy));
  if(!copy) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    goto out;
  }
  n = t->version >= 3 ? t->table_size : dv_provider_table_size(t->version);
  memcpy(copy, t, n < sizeof(*copy) ? n : sizeof(*copy));
  *out = copy;
  *handle = h;
  h = NULL;
out:
  if(h)
    dlclose(h);
  return rc;
}
