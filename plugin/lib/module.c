/* module.c - opening one provider module: the trust checks the SPANK shim
 * applies to its engine (trust.c), dlopen, the one entry symbol, and the
 * table's version and size. The accepted table is copied into a
 * full-size, zero-filled struct (SQLite reads members a later version
 * appended only when iVersion says they exist), so the core never reads
 * past the end of an older module's shorter table. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine.h"
#include "trust.h"

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
  n = t->version >= 2 ? t->table_size : dv_provider_table_size(t->version);
  memcpy(copy, t, n < sizeof(*copy) ? n : sizeof(*copy));
  *out = copy;
  *handle = h;
  h = NULL;
out:
  if(h)
    dlclose(h);
  return rc;
}
