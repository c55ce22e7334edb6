/* outputs.c - a stack's outputs, evaluated against what is known now
 * (applied, then desired, then live attributes; see dv_inst_attr). */
#include <stdlib.h>
#include "engine.h"

/* *out: {"name": {"value": .., "sensitive": bool, "description": ..}}.
 * A sensitive output's value is left out unless reveal_sensitive; other
 * values still have registered secrets redacted (an output may splice a
 * sensitive param into a larger string). Unknown parts read
 * "(known after apply)". Caller frees *out with free(). */
drover_code drover_stack_outputs_json(char **out, drover_stack *stack,
                                      int reveal_sensitive, drover_error *err)
{
  drover_code rc = DROVER_OK;
  json_t *root = NULL, *v = NULL, *shown, *o;
  size_t i;

  *out = NULL;
  if(!stack || !stack->tpl)
    return drover_error_set(err, DROVER_E_ARG, "outputs: no stack");
  root = json_object();
  if(!root)
    goto nomem;
  for(i = 0; i < stack->tpl->noutputs; i++) {
    const dv_output *op = &stack->tpl->outputs[i];
    rc = dv_stack_eval_value(&v, stack, op->value, -1, op->pointer, err);
    if(rc)
      goto out;
    o = json_pack("{s:b, s:s?}", "sensitive", op->sensitive, "description",
                  op->description);
    if(!o || json_object_set_new(root, op->name, o))
      goto nomem;
    if(!op->sensitive || reveal_sensitive) {
      shown = dv_json_display(v, !reveal_sensitive);
      if(!shown || json_object_set_new(o, "value", shown))
        goto nomem;
    }
    json_decref(v);
    v = NULL;
  }
  *out = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
  if(!*out)
    goto nomem;
  goto out;
nomem:
  rc = drover_error_set(err, DROVER_E_NOMEM, "outputs: out of memory");
out:
  json_decref(v);
  json_decref(root);
  return rc;
}
