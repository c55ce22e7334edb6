/* destroy.c - destroying a stack known only by its name: what the SPANK
 * epilog and `drover gc` both do (open bare, lock, refresh, destroy plan,
 * apply), in one place. */
#include <string.h>
#include "engine.h"

drover_code drover_stack_destroy_bare(const char *name, const char *providers_json,
                                      const drover_options *opts,
                                      const drover_destroy_opts *dopts,
                                      drover_destroy_result *result, drover_error *err)
{
  static const drover_destroy_opts defaults = DROVER_DESTROY_OPTS_INIT;
  drover_apply_opts ao = DROVER_APPLY_OPTS_INIT;
  drover_apply_result res;
  drover_stack *stack = NULL;
  drover_plan *plan = NULL;
  drover_code rc;

  if(result)
    memset(result, 0, sizeof(*result));
  if(!dopts)
    dopts = &defaults;
  if(dopts->version != DROVER_DESTROY_OPTS_VERSION)
    return drover_error_set(err, DROVER_E_ARG, "destroy: options version %u, expected %u",
                            dopts->version, DROVER_DESTROY_OPTS_VERSION);
  if(dopts->apply)
    ao = *dopts->apply;
  rc = drover_stack_open_bare(&stack, name, providers_json, opts, err);
  if(rc)
    goto out;
  rc = drover_stack_lock(stack, dopts->lock_wait, err);
  if(rc)
    goto out;
  rc = drover_stack_refresh(stack, err);
  if(rc)
    goto out;
  rc = drover_plan_new(&plan, stack, DROVER_PLAN_DESTROY, err);
  if(rc)
    goto out;
  if(result)
    result->planned = drover_plan_changes(plan);
  if(dopts->dry_run || !drover_plan_changes(plan))
    goto out;
  memset(&res, 0, sizeof(res));
  rc = drover_apply(plan, &ao, &res, err);
  if(result)
    result->deleted = res.deleted;
out:
  drover_plan_free(plan);
  drover_stack_free(stack);
  return rc;
}
