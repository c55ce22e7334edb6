/* test_module.c - tiny provider modules for check_module.c, one source
 * built several ways (tests/Makefile.include):
 *   MOD_NAME      the provider's name, a C string
 *   MOD_VERSION   the table's version
 *   MOD_SIZE      its table_size (version 2), or leave unset for sizeof
 *   MOD_NO_ENTRY  export a differently named function instead of the entry
 * Its ops do nothing; the registry never calls them in the tests.
 */
#include <string.h>
#include "drover_provider.h"

#ifndef MOD_SIZE
#define MOD_SIZE sizeof(drover_provider)
#endif

static const drover_prop tm_props[] = {{NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}};
static const drover_rtype tm_thing = {MOD_NAME ".thing", tm_props, 0, "a test thing"};
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

static const drover_provider tm_provider = {
  MOD_VERSION, MOD_NAME, 0, 0, tm_types, tm_init, NULL, tm_list, tm_create,
  NULL, tm_del, NULL, MOD_SIZE
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
