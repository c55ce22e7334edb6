/* graph_dot.c - the stack's instance graph as Graphviz DOT. Edges point
 * from a dependent to what it depends on. With a plan, each node shows
 * its action and is coloured by it; orphans the plan deletes appear as
 * dashed nodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"

/* DOT string body: escape quotes and backslashes. */
static void put_id(FILE *f, const char *s)
{
  fputc('"', f);
  for(; s && *s; s++) {
    if(*s == '"' || *s == '\\')
      fputc('\\', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static const char *color_of(drover_action a)
{
  switch(a) {
  case DROVER_ACTION_CREATE: return "darkgreen";
  case DROVER_ACTION_UPDATE: return "orange";
  case DROVER_ACTION_REPLACE: return "purple";
  case DROVER_ACTION_DELETE: return "red";
  case DROVER_ACTION_NOOP: break;
  }
  return "black";
}

/* Per instance (by index), its plan entry or NULL: one pass over the plan
 * instead of a search per instance. *out: caller frees; NULL on OOM. */
static const dv_plan_entry **entries_by_inst(const drover_stack *stack,
                                             const drover_plan *plan)
{
  const dv_plan_entry **v = calloc(stack->ninsts + 1, sizeof(*v));
  size_t i;

  for(i = 0; v && plan && i < plan->n; i++) {
    const dv_inst *in = plan->entries[i].inst;
    if(in && in >= stack->insts && in < stack->insts + stack->ninsts)
      v[in - stack->insts] = &plan->entries[i];
  }
  return v;
}

/* *out: DOT text, caller frees with free(). */
drover_code drover_graph_dot(char **out, const drover_stack *stack,
                             const drover_plan *plan, drover_error *err)
{
  char *buf = NULL;
  size_t len = 0, i, d, k;
  const dv_plan_entry **by_inst;
  FILE *f;

  *out = NULL;
  if(!stack)
    return drover_error_set(err, DROVER_E_ARG, "graph: no stack");
  by_inst = entries_by_inst(stack, plan);
  if(!by_inst)
    return drover_error_set(err, DROVER_E_NOMEM, "graph: out of memory");
  f = open_memstream(&buf, &len);
  if(!f) {
    free(by_inst);
    return drover_error_set(err, DROVER_E_NOMEM, "graph: out of memory");
  }
  fputs("digraph ", f);
  put_id(f, stack->name);
  fputs(" {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n", f);
  for(i = 0; i < stack->ninsts; i++) {
    const dv_inst *inst = &stack->insts[i];
    const dv_plan_entry *e = by_inst[i];
    char label[512];
    snprintf(label, sizeof(label), "%s\\n%s%s%s", inst->address,
             stack->tpl->blocks[inst->block].type_name, e ? "\\n" : "",
             e ? drover_action_name(e->action) : "");
    fputs("  ", f);
    put_id(f, inst->address);
    /* label holds DOT "\n" escapes on purpose: print it raw but quoted. */
    fprintf(f, " [label=\"%s\"", label);
    if(e)
      fprintf(f, ", color=%s", color_of(e->action));
    fputs("];\n", f);
  }
  for(i = 0; plan && i < plan->n; i++) {
    const dv_plan_entry *e = &plan->entries[i];
    if(e->inst || e->copy) /* copies are left alone: nothing to draw */
      continue;
    fputs("  ", f);
    put_id(f, e->address);
    fprintf(f, " [label=\"%s\\n%s\\ndelete\", style=dashed, color=red];\n",
            e->address, e->type);
  }
  for(i = 0; i < stack->ninsts; i++) {
    const dv_inst *inst = &stack->insts[i];
    size_t b = inst->block;
    for(d = 0; stack->block_ndeps && d < stack->block_ndeps[b]; d++) {
      size_t dep = stack->block_deps[b][d];
      for(k = 0; k < stack->block_ninst[dep]; k++) {
        fputs("  ", f);
        put_id(f, inst->address);
        fputs(" -> ", f);
        put_id(f, stack->insts[stack->block_first[dep] + k].address);
        fputs(";\n", f);
      }
    }
  }
  fputs("}\n", f);
  free(by_inst);
  if(fclose(f) != 0 || !buf) {
    free(buf);
    return drover_error_set(err, DROVER_E_NOMEM, "graph: out of memory");
  }
  *out = buf;
  return DROVER_OK;
}
