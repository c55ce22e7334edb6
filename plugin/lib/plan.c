/* plan.c - diff desired state against the last refresh: one entry per
 * instance (create, update, replace or no-op) and one delete per orphan.
 *
 * Entry order is deterministic (instances in dependency order, then the
 * orphans sorted by address), which saved plans rely on to compare a
 * fresh plan with the one that was reviewed.
 */
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "drover_sigv4.h"

const char *drover_action_name(drover_action action)
{
  switch(action) {
  case DROVER_ACTION_NOOP: return "no-op";
  case DROVER_ACTION_CREATE: return "create";
  case DROVER_ACTION_UPDATE: return "update";
  case DROVER_ACTION_REPLACE: return "replace";
  case DROVER_ACTION_DELETE: return "delete";
  }
  return "unknown";
}

static void entry_clear(dv_plan_entry *e)
{
  size_t i;

  if(!(e->borrowed & DV_PE_ADDRESS))
    free(e->address);
  if(!(e->borrowed & DV_PE_TYPE))
    free(e->type);
  if(!(e->borrowed & DV_PE_REASON))
    free(e->reason);
  for(i = 0; i < e->nchanged; i++)
    free(e->changed[i]);
  free(e->changed);
  if(!(e->borrowed & DV_PE_LIVE)) {
    free(e->etag);
    free(e->live_hash);
  }
  free(e->observed);
  drover_live_free(e->orphan);
  memset(e, 0, sizeof(*e));
}

void drover_plan_free(drover_plan *plan)
{
  size_t i;

  if(!plan)
    return;
  for(i = 0; i < plan->n; i++)
    entry_clear(&plan->entries[i]);
  free(plan->entries);
  if(plan->owns_stack && plan->stack) {
    /* The template must outlive the stack: free it last. */
    drover_template *tpl = plan->stack->owned_tpl;
    plan->stack->owned_tpl = NULL;
    drover_stack_free(plan->stack);
    drover_template_free(tpl);
  }
  free(plan);
}

size_t drover_plan_count(const drover_plan *plan)
{
  return plan ? plan->n : 0;
}

drover_action drover_plan_action(const drover_plan *plan, size_t i)
{
  return plan && i < plan->n ? plan->entries[i].action : DROVER_ACTION_NOOP;
}

const char *drover_plan_address(const drover_plan *plan, size_t i)
{
  return plan && i < plan->n ? plan->entries[i].address : NULL;
}

const char *drover_plan_type(const drover_plan *plan, size_t i)
{
  return plan && i < plan->n ? plan->entries[i].type : NULL;
}

const char *drover_plan_reason(const drover_plan *plan, size_t i)
{
  return plan && i < plan->n ? plan->entries[i].reason : NULL;
}

size_t drover_plan_changes(const drover_plan *plan)
{
  size_t i, n = 0;

  for(i = 0; plan && i < plan->n; i++)
    if(plan->entries[i].action != DROVER_ACTION_NOOP)
      n++;
  return n;
}

/* ------------------------------------------------------------------------
 * Diff
 */

static int ignored(const dv_block *b, const char *prop)
{
  size_t i;

  for(i = 0; i < b->n_ignore_changes; i++)
    if(!strcmp(b->ignore_changes[i], prop))
      return 1;
  return 0;
}

/* The desired value equals the live one. A DROVER_PROP_DIGEST property's
 * live value may be {"sha256": hex}: then the desired string's SHA-256 is
 * compared with it (the live bytes were not read). */
static int prop_equal(const drover_prop *p, const json_t *want, const json_t *have)
{
  const char *digest;
  char hex[65];

  if(!have)
    return 0;
  if((p->flags & DROVER_PROP_DIGEST) && json_is_string(want) && json_is_object(have) &&
     (digest = json_string_value(json_object_get(have, "sha256")))) {
    drover_sigv4_sha256_hex(hex, json_string_value(want), json_string_length(want));
    return !strcmp(hex, digest);
  }
  return json_equal((json_t *)want, (json_t *)have);
}

int dv_desired_holds(const dv_block *b, const json_t *desired, const drover_live *live)
{
  const drover_prop *p;

  if(!b || !b->rtype || !live || !json_is_object(desired))
    return 0;
  for(p = b->rtype->props; p->name; p++) {
    const json_t *want, *have;
    /* The name is the caller's to compare (it may be a replacement's). */
    if((p->flags & DROVER_PROP_NO_DIFF) || ignored(b, p->name) || !strcmp(p->name, "name"))
      continue;
    want = json_object_get(desired, p->name);
    if(!want)
      continue;
    if(!dv_is_known(want))
      return 0;
    have = json_object_get(live->properties, p->name);
    if(!prop_equal(p, want, have))
      return 0;
  }
  return 1;
}

/* Appends a copy of name to the entry's NULL-terminated changed list. */
static drover_code add_changed(dv_plan_entry *e, const char *name)
{
  char **g = realloc(e->changed, (e->nchanged + 2) * sizeof(*g));

  if(!g)
    return DROVER_E_NOMEM;
  e->changed = g;
  g[e->nchanged] = dv_strdup(name);
  if(!g[e->nchanged])
    return DROVER_E_NOMEM;
  g[++e->nchanged] = NULL;
  return DROVER_OK;
}

/* Fills e->changed with the schema properties that differ; *force is
 * set when one of them forces replacement. */
static drover_code diff_inst(dv_plan_entry *e, int *force, const drover_stack *stack,
                             const dv_inst *inst)
{
  const dv_block *b = &stack->tpl->blocks[inst->block];
  const drover_prop *p;
  drover_code rc;

  *force = 0;
  for(p = b->rtype->props; p->name; p++) {
    const json_t *want, *have;
    int differs;
    if(p->flags & DROVER_PROP_NO_DIFF)
      continue;
    if(ignored(b, p->name))
      continue;
    want = json_object_get(inst->desired, p->name);
    have = json_object_get(inst->live->properties, p->name);
    if(!strcmp(p->name, "name") && (!want || (json_is_string(want) &&
                                              !strcmp(json_string_value(want),
                                                      inst->name)))) {
      /* The derived name, or drover's own create_before_destroy name. */
      const char *ln = inst->live->name;
      if(!ln && json_is_string(have))
        ln = json_string_value(have);
      differs = ln && strcmp(ln, inst->name) && !dv_owns_name(ln, inst->name);
    }
    else if(!want)
      continue; /* not managed: no desired value */
    else if(!dv_is_known(want))
      differs = 1; /* known after apply */
    else
      differs = !prop_equal(p, want, have);
    if(!differs)
      continue;
    rc = add_changed(e, p->name);
    if(rc)
      return rc;
    if(p->flags & DROVER_PROP_FORCE_NEW)
      *force = 1;
  }
  return DROVER_OK;
}

/* "\"a\", \"b\"" from names (only those with FORCE_NEW when force_only). */
static char *quoted_list(const dv_plan_entry *e, const drover_rtype *rt, int force_only)
{
  size_t i, len = 1;
  char *s;

  for(i = 0; i < e->nchanged; i++)
    len += strlen(e->changed[i]) + 4;
  s = malloc(len);
  if(!s)
    return NULL;
  s[0] = '\0';
  for(i = 0; i < e->nchanged; i++) {
    if(force_only) {
      const drover_prop *p;
      for(p = rt->props; p->name; p++)
        if(!strcmp(p->name, e->changed[i]))
          break;
      if(!p->name || !(p->flags & DROVER_PROP_FORCE_NEW))
        continue;
    }
    if(s[0])
      strcat(s, ", ");
    strcat(s, "\"");
    strcat(s, e->changed[i]);
    strcat(s, "\"");
  }
  return s;
}

static int multiple(const char *list)
{
  return strchr(list, ',') != NULL;
}

/* What a saved plan must find again at apply: the live object's ETag and
 * its hash label. The fingerprint of its observed properties is taken
 * only when a plan is saved or checked (dv_plan_observe): most plans are
 * neither, and hashing every live object was a fifth of a plan's cost. */
static drover_code note_live(dv_plan_entry *e, const drover_live *live)
{
  /* Borrowed: an orphan's copy is the entry's own, an instance's live
   * object lives until the next refresh, and a plan is not used past it
   * (apply and save refuse a stale plan; a review copies what it keeps). */
  e->etag = live->etag;
  e->live_hash = live->hash;
  e->borrowed |= DV_PE_LIVE;
  return DROVER_OK;
}

drover_code dv_plan_observe(drover_plan *plan)
{
  size_t i;

  if(plan->stack && plan->refresh_gen != plan->stack->refresh_gen)
    return DROVER_E_STALE_PLAN;
  for(i = 0; i < plan->n; i++) {
    dv_plan_entry *e = &plan->entries[i];
    const drover_live *live = e->orphan ? e->orphan : e->inst ? e->inst->live : NULL;
    char fp[17];
    if(e->observed || !live || !live->properties || dv_hash_json(fp, live->properties))
      continue;
    if(!(e->observed = dv_strdup(fp)))
      return DROVER_E_NOMEM;
  }
  return DROVER_OK;
}

static drover_code plan_inst(dv_plan_entry *e, drover_stack *stack, dv_inst *inst)
{
  const dv_block *b = &stack->tpl->blocks[inst->block];
  drover_code rc;
  char *list = NULL;
  int force = 0, drift;

  e->inst = inst;
  /* The instance and its type outlive the plan (it holds the stack). */
  e->address = inst->address;
  e->type = (char *)b->type_name;
  e->borrowed = DV_PE_ADDRESS | DV_PE_TYPE;
  if(!inst->live) {
    e->action = DROVER_ACTION_CREATE;
    e->reason = (char *)"not in the cloud";
    e->borrowed |= DV_PE_REASON;
    return DROVER_OK;
  }
  rc = note_live(e, inst->live);
  if(rc)
    return rc;
  rc = diff_inst(e, &force, stack, inst);
  if(rc)
    return rc;
  if(!e->nchanged) {
    e->action = DROVER_ACTION_NOOP;
    e->reason = (char *)"up to date";
    e->borrowed |= DV_PE_REASON;
    return DROVER_OK;
  }
  /* Same template input as when it was written: someone else changed it. */
  drift = inst->known && inst->hash[0] && inst->live->hash &&
          !strcmp(inst->hash, inst->live->hash);
  list = quoted_list(e, b->rtype, force);
  if(!list)
    return DROVER_E_NOMEM;
  if(force) {
    e->action = DROVER_ACTION_REPLACE;
    e->reason = dv_aprintf("%s%s force%s replacement",
                           drift ? "changed outside drover: " : "", list,
                           multiple(list) ? "" : "s");
  }
  else {
    e->action = DROVER_ACTION_UPDATE;
    if(drift)
      e->reason = dv_aprintf("changed outside drover: %s", list);
    else
      e->reason = dv_aprintf("%s changed", list);
  }
  free(list);
  return e->reason ? DROVER_OK : DROVER_E_NOMEM;
}

static drover_code plan_delete(dv_plan_entry *e, const drover_live *live,
                               const char *type, const char *fallback_address,
                               const char *reason)
{
  e->action = DROVER_ACTION_DELETE;
  if(live->address)
    e->address = dv_strdup(live->address);
  else
    e->address = dv_aprintf("(%s)", live->name ? live->name : fallback_address);
  e->type = dv_strdup(type);
  if(live->delete_note)
    e->reason = dv_aprintf("%s; %s", reason, live->delete_note);
  else
    e->reason = dv_strdup(reason);
  if(!e->address || !e->type || !e->reason)
    return DROVER_E_NOMEM;
  return note_live(e, live);
}

/* The block an address like "web[2]" belongs to, or NULL. */
static const dv_block *block_of_address(const drover_stack *stack, const char *addr)
{
  size_t b;

  if(!stack->tpl || !addr)
    return NULL;
  b = dv_index_getn(&stack->tpl->block_ix, addr, strcspn(addr, "["));
  return b == (size_t)-1 ? NULL : &stack->tpl->blocks[b];
}

/* Server-assigned IDs: when this plan replaces an object whose ID the
 * cloud assigns, its dependents must see that ID as known after apply,
 * not the old one. Marks inst when e replaces it; re-evaluates inst when a
 * block it depends on holds such a replacement (repl, per block). */
static void mark_replaced(drover_stack *stack, dv_inst *inst, const dv_plan_entry *e,
                          unsigned char *repl)
{
  const dv_block *b = &stack->tpl->blocks[inst->block];

  if(e->action == DROVER_ACTION_REPLACE &&
     (dv_rtype_flags(b->provider, b->rtype) & DROVER_RTYPE_SERVER_ID)) {
    inst->replacing = 1;
    repl[inst->block] = 1;
    /* What an earlier apply made is the object being replaced. */
    drover_live_free(inst->applied);
    inst->applied = NULL;
  }
}

static drover_code reeval_if_dep_replaced(drover_stack *stack, dv_inst *inst,
                                          const unsigned char *repl, drover_error *err)
{
  size_t i, b = inst->block;

  for(i = 0; stack->block_deps && i < stack->block_ndeps[b]; i++)
    if(repl[stack->block_deps[b][i]])
      return dv_stack_eval_inst(stack, inst, err);
  return DROVER_OK;
}

drover_code drover_plan_new(drover_plan **out, drover_stack *stack, unsigned flags,
                            drover_error *err)
{
  drover_code rc = DROVER_OK;
  drover_plan *plan = NULL;
  size_t cap, i, j, k;
  int destroy = (flags & DROVER_PLAN_DESTROY) != 0;
  unsigned char *repl = NULL;

  *out = NULL;
  if(!stack)
    return drover_error_set(err, DROVER_E_ARG, "plan: no stack");
  if(!stack->refreshed) {
    rc = drover_stack_refresh(stack, err);
    if(rc)
      return rc;
  }
  plan = calloc(1, sizeof(*plan));
  cap = stack->ninsts + stack->orphans.count + stack->copies.count;
  if(!plan || !(plan->entries = calloc(cap ? cap : 1, sizeof(*plan->entries)))) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "plan: out of memory");
    goto out;
  }
  plan->stack = stack;
  plan->flags = flags;
  plan->refresh_gen = stack->refresh_gen;
  repl = calloc(stack->tpl && stack->tpl->nblocks ? stack->tpl->nblocks : 1, 1);
  if(!repl) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "plan: out of memory");
    goto out;
  }
  for(i = 0; i < stack->ninsts; i++)
    stack->insts[i].replacing = 0;
  /* Instances, blocks in dependency order (reversed when destroying). */
  for(k = 0; stack->tpl && k < stack->tpl->nblocks; k++) {
    size_t blk = stack->topo ? stack->topo[destroy ? stack->tpl->nblocks - 1 - k : k] : k;
    size_t first = stack->block_first ? stack->block_first[blk] : 0;
    size_t n = stack->block_ninst ? stack->block_ninst[blk] : 0;
    if(!stack->block_first) {
      /* No per-block index: walk the instances once, in order. */
      if(k)
        break;
      first = 0;
      n = stack->ninsts;
    }
    for(j = 0; j < n; j++) {
      dv_inst *inst = &stack->insts[first + j];
      dv_plan_entry *e = &plan->entries[plan->n];
      if(destroy) {
        if(!inst->live)
          continue;
        e->inst = inst;
        rc = plan_delete(e, inst->live, stack->tpl->blocks[inst->block].type_name,
                         inst->address, "destroy");
        if(!(e->borrowed & DV_PE_ADDRESS))
          free(e->address);
        e->address = inst->address;
        e->borrowed |= DV_PE_ADDRESS;
      }
      else {
        rc = reeval_if_dep_replaced(stack, inst, repl, err);
        if(rc)
          goto out;
        rc = plan_inst(e, stack, inst);
        if(!rc)
          mark_replaced(stack, inst, e, repl);
      }
      plan->n++;
      if(rc) {
        rc = drover_error_set(err, rc, "plan: out of memory");
        goto out;
      }
    }
  }
  for(i = 0; i < stack->orphans.count; i++) {
    dv_plan_entry *e = &plan->entries[plan->n++];
    /* A copy: the plan must stay valid when the stack is refreshed. */
    e->orphan = dv_live_dup(stack->orphans.items[i]);
    e->rtype = stack->orphan_types[i];
    rc = e->orphan ? plan_delete(e, e->orphan, stack->orphan_types[i]->name, "?",
                                 destroy ? "destroy" : "no longer in the template")
                   : DROVER_E_NOMEM;
    if(rc) {
      rc = drover_error_set(err, rc, "plan: out of memory");
      goto out;
    }
  }
  /* Copies: shown, never acted on (no-op entries, after the orphans). */
  for(i = 0; i < stack->copies.count; i++) {
    dv_plan_entry *e = &plan->entries[plan->n++];
    const drover_live *c = stack->copies.items[i];
    e->copy = 1;
    e->orphan = dv_live_dup(c);
    rc = e->orphan ? plan_delete(e, e->orphan, stack->copy_types[i]->name, "?",
                                 "copy") : DROVER_E_NOMEM;
    if(!rc) {
      e->action = DROVER_ACTION_NOOP;
      free(e->reason);
      e->reason = dv_aprintf("\"%s\" carries the labels of %s but is not the object "
                             "drover made (a copy); left alone", c->name ? c->name : "?",
                             e->address);
      if(!e->reason)
        rc = DROVER_E_NOMEM;
    }
    if(rc) {
      rc = drover_error_set(err, rc, "plan: out of memory");
      goto out;
    }
  }
  /* prevent_destroy: refuse the whole plan. */
  for(i = 0; i < plan->n; i++) {
    const dv_plan_entry *e = &plan->entries[i];
    const dv_block *b;
    if(e->action != DROVER_ACTION_DELETE && e->action != DROVER_ACTION_REPLACE)
      continue;
    b = e->inst ? &stack->tpl->blocks[e->inst->block]
                : block_of_address(stack, e->orphan->address);
    if(b && (b->lifecycle & DV_LC_PREVENT_DESTROY)) {
      rc = drover_error_set(err, DROVER_E_PREVENT_DESTROY,
                            "plan: resource \"%s\" has lifecycle.prevent_destroy "
                            "but the plan would %s it (%s)", e->address,
                            e->action == DROVER_ACTION_DELETE ? "delete" : "replace",
                            e->reason);
      drover_error_locate(err, NULL, e->address);
      goto out;
    }
  }
  dv_log(stack, DROVER_LOG_DEBUG, "plan: stack \"%s\": %zu change(s)", stack->name,
         drover_plan_changes(plan));
  *out = plan;
  plan = NULL;
out:
  free(repl);
  drover_plan_free(plan);
  return rc;
}
