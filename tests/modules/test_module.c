/* test_module.c - tiny provider modules for check_module.c, one source
 * built several ways (tests/Makefile.include):
 *   MOD_NAME      the provider's name, a C string
 *   MOD_VERSION   the table's version
 *   MOD_SIZE      its table_size (version 3), or leave unset for sizeof
 *   MOD_NO_ENTRY  export a differently named function instead of the entry
 *   MOD_LOCK_OPS  fill in the version 5 lock ops
 * Its ops do nothing; the registry never calls them in the tests.
 */
#include <string.h>
#include "drover_provider.h"

#ifndef MOD_SIZE
#define MOD_SIZE sizeof(drover_provider)
#endif

static const drover_prop tm_props[] = {{NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}};
static const drover_rtype tm_thing = {MOD_NAME ".thing", tm_props, 0, "a test thing",
                                      NULL, NULL, NULL, 0};
static const drover_rtype *const tm_types[] = {&tm_thing, NULL};

static drover_code tm_init(void *state, const json_t *config,
                           const drover_provider_env *env, drover_error *err)
{
  return DROVER_OK;
}

static drover_code tm_list(void *state, const drover_rtype *type, const char *stack,
                           drover_live_list *out, drover_error *err)
{
  return DROVER_OK;
}

static drover_code tm_create(void *state, const drover_rtype *type,
                             const drover_res_req *req, drover_live **out,
                             drover_error *err)
{
  *out = NULL;
  return DROVER_E_UNSUPPORTED;
}

static drover_code tm_del(void *state, const drover_rtype *type, const drover_live *cur,
                          double deadline, drover_error *err)
{
  return DROVER_OK;
}

#ifdef MOD_LOCK_OPS
/* Lock ops (version 5) in the table; a module claiming an older version
 * must not have them read. */
static drover_code tm_lock_read(void *state, const char *stack, json_t **record,
                                char **etag, drover_error *err)
{
  return DROVER_E_UNSUPPORTED;
}

static drover_code tm_lock_create(void *state, const char *stack, const json_t *record,
                                  char **etag, drover_error *err)
{
  return DROVER_E_UNSUPPORTED;
}

static drover_code tm_lock_write(void *state, const char *stack, const json_t *record,
                                 const char *if_match, char **etag, drover_error *err)
{
  return DROVER_E_UNSUPPORTED;
}

static drover_code tm_lock_delete(void *state, const char *stack, const char *if_match,
                                  drover_error *err)
{
  return DROVER_E_UNSUPPORTED;
}
#define TM_LOCK_OPS , .lock_read = tm_lock_read, .lock_create = tm_lock_create, \
                      .lock_write = tm_lock_write, .lock_delete = tm_lock_delete
#else
#define TM_LOCK_OPS
#endif

static const drover_provider tm_provider = {
  .version = MOD_VERSION, .name = MOD_NAME, .types = tm_types, .init = tm_init,
  .list = tm_list, .create = tm_create, .del = tm_del, .table_size = MOD_SIZE
  TM_LOCK_OPS
};

#ifdef MOD_NO_ENTRY
const drover_provider *drover_provider_entry_misspelt(unsigned engine_version);
const drover_provider *drover_provider_entry_misspelt(unsigned engine_version)
#else
const drover_provider *drover_provider_entry(unsigned engine_version);
const drover_provider *drover_provider_entry(unsigned engine_version)
#endif
{
  return &tm_provider;
}
