/* plan_render.c - plans for people (a Terraform-like diff) and for
 * programs (JSON). Every value shown passes through dv_json_display(),
 * so unknowns read "(known after apply)" and secrets never leave. */
#include <stdlib.h>
#include <string.h>
#include "engine.h"

#define UNKNOWN_TEXT "(known after apply)"

json_t *dv_json_display(const json_t *v, int redact)
{
  json_t *out = NULL, *item;
  const char *key;
  size_t i;

  if(!v)
    return json_null();
  if(dv_is_unknown(v))
    return json_string(UNKNOWN_TEXT);
  if(json_is_object(v)) {
    out = json_object();
    if(!out)
      return NULL;
    json_object_foreach((json_t *)v, key, item) {
      json_t *c = dv_json_display(item, redact);
      if(!c || json_object_set_new(out, key, c)) {
        json_decref(out);
        return NULL;
      }
    }
    return out;
  }
  if(json_is_array(v)) {
    out = json_array();
    if(!out)
      return NULL;
    json_array_foreach(v, i, item) {
      json_t *c = dv_json_display(item, redact);
      if(!c || json_array_append_new(out, c)) {
        json_decref(out);
        return NULL;
      }
    }
    return out;
  }
  if(json_is_string(v) && redact) {
    size_t len = json_string_length(v);
    size_t size = len + 64;
    char *buf = malloc(size);
    if(!buf)
      return NULL;
    memcpy(buf, json_string_value(v), len + 1);
    dv_redact(buf, size);
    out = json_string(buf);
    free(buf);
    return out;
  }
  return json_deep_copy(v);
}

/* ------------------------------------------------------------------------
 * Human diff
 */

typedef struct style {
  const char *on, *off;
} style;

static const char *action_symbol(drover_action a)
{
  switch(a) {
  case DROVER_ACTION_CREATE: return "+";
  case DROVER_ACTION_UPDATE: return "~";
  case DROVER_ACTION_REPLACE: return "-/+";
  case DROVER_ACTION_DELETE: return "-";
  case DROVER_ACTION_NOOP: break;
  }
  return " ";
}

static const char *action_phrase(drover_action a)
{
  switch(a) {
  case DROVER_ACTION_CREATE: return "will be created";
  case DROVER_ACTION_UPDATE: return "will be updated in place";
  case DROVER_ACTION_REPLACE: return "must be replaced";
  case DROVER_ACTION_DELETE: return "will be deleted";
  case DROVER_ACTION_NOOP: break;
  }
  return "is up to date";
}

static const char *action_color(drover_action a)
{
  switch(a) {
  case DROVER_ACTION_CREATE: return "\033[32m";
  case DROVER_ACTION_UPDATE: return "\033[33m";
  case DROVER_ACTION_REPLACE: return "\033[35m";
  case DROVER_ACTION_DELETE: return "\033[31m";
  case DROVER_ACTION_NOOP: break;
  }
  return "";
}

/* One line, redacted at the end as the log sink does. */
static void put_line(FILE *out, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void put_line(FILE *out, const char *fmt, ...)
{
  char line[4096];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  dv_redact(line, sizeof(line));
  fputs(line, out);
  fputc('\n', out);
}

/* Compact display text of v; caller frees. */
static char *value_text(const json_t *v)
{
  json_t *d = dv_json_display(v, 1);
  char *s;

  if(!d)
    return NULL;
  if(json_is_string(d) && !strcmp(json_string_value(d), UNKNOWN_TEXT) &&
     dv_is_unknown(v))
    s = dv_strdup(UNKNOWN_TEXT);
  else
    s = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
  json_decref(d);
  return s;
}

static const drover_prop *find_prop(const drover_stack *stack, const dv_plan_entry *e,
                                    const char *name)
{
  const drover_rtype *rt = dv_rtype_find(e->type, NULL);
  const drover_prop *p;

  (void)stack;
  for(p = rt ? rt->props : NULL; p && p->name; p++)
    if(!strcmp(p->name, name))
      return p;
  return NULL;
}

static void render_entry(FILE *out, const drover_plan *plan, const dv_plan_entry *e,
                         style st)
{
  const char *col = st.on[0] ? action_color(e->action) : "";
  size_t i;

  put_line(out, "  %s%s %s%s (%s) %s: %s", col, action_symbol(e->action), e->address,
           st.off, e->type, action_phrase(e->action), e->reason ? e->reason : "");
  if(e->action == DROVER_ACTION_CREATE && e->inst) {
    const char *key;
    json_t *v;
    json_object_foreach(e->inst->desired, key, v) {
      char *t = value_text(v);
      put_line(out, "      %s+%s %s = %s", col, st.off, key, t ? t : "?");
      free(t);
    }
    if(!json_object_get(e->inst->desired, "name"))
      put_line(out, "      %s+%s name = \"%s\"", col, st.off, e->inst->name);
  }
  else if((e->action == DROVER_ACTION_UPDATE || e->action == DROVER_ACTION_REPLACE) &&
          e->inst && e->inst->live) {
    for(i = 0; i < e->nchanged; i++) {
      const char *k = e->changed[i];
      const json_t *want = json_object_get(e->inst->desired, k);
      const json_t *have = json_object_get(e->inst->live->properties, k);
      const drover_prop *p = find_prop(plan->stack, e, k);
      json_t *wname = NULL;
      char *a, *b;
      if(!want && !strcmp(k, "name"))
        want = wname = json_string(e->inst->name);
      a = value_text(have);
      b = value_text(want);
      put_line(out, "      %s~%s %s: %s -> %s%s", col, st.off, k, a ? a : "null",
               b ? b : "null",
               p && (p->flags & DROVER_PROP_FORCE_NEW) ? " (forces replacement)" : "");
      free(a);
      free(b);
      json_decref(wname);
    }
  }
}

static size_t n_copies(const drover_plan *plan)
{
  size_t i, n = 0;

  for(i = 0; i < plan->n; i++)
    n += plan->entries[i].copy != 0;
  return n;
}

/* Copies are no changes, but never silent: one "!" line each, with what
 * to do about them (doc/templates.md, "Copies"). */
static void render_copies(FILE *out, const drover_plan *plan, style st)
{
  size_t i;

  if(!n_copies(plan))
    return;
  put_line(out, "%s", "");
  put_line(out, "%sLeft alone (copies):%s", st.on, st.off);
  for(i = 0; i < plan->n; i++) {
    const dv_plan_entry *e = &plan->entries[i];
    if(e->copy)
      put_line(out, "  ! %s (%s) copy: %s", e->address, e->type, e->reason);
  }
  put_line(out, "%s", "To keep a copy, remove its user.drover.* labels; to drop it, "
           "delete it with the cloud's own tool.");
}

drover_code drover_plan_render(const drover_plan *plan, FILE *out, int color)
{
  style st = {"", ""};
  size_t i, n[5] = {0, 0, 0, 0, 0};

  if(!plan || !out)
    return DROVER_E_ARG;
  if(color) {
    st.on = "\033[1m";
    st.off = "\033[0m";
  }
  for(i = 0; i < plan->n; i++)
    n[plan->entries[i].action]++;
  if(!drover_plan_changes(plan)) {
    put_line(out, "%sNo changes.%s Stack \"%s\" matches the template (%zu resource%s).",
             st.on, st.off, plan->stack->name, plan->n - n_copies(plan),
             plan->n - n_copies(plan) == 1 ? "" : "s");
    render_copies(out, plan, st);
    return ferror(out) ? DROVER_E_IO : DROVER_OK;
  }
  put_line(out, "drover will perform these actions on stack \"%s\":", plan->stack->name);
  put_line(out, "%s", "");
  for(i = 0; i < plan->n; i++) {
    if(plan->entries[i].action == DROVER_ACTION_NOOP)
      continue;
    render_entry(out, plan, &plan->entries[i], st);
  }
  put_line(out, "%s", "");
  put_line(out, "%sPlan: %zu to create, %zu to update, %zu to replace, %zu to delete.%s",
           st.on, n[DROVER_ACTION_CREATE], n[DROVER_ACTION_UPDATE],
           n[DROVER_ACTION_REPLACE], n[DROVER_ACTION_DELETE], st.off);
  render_copies(out, plan, st);
  return ferror(out) ? DROVER_E_IO : DROVER_OK;
}

/* ------------------------------------------------------------------------
 * JSON
 */

/* A new object describing e, or NULL on OOM (never a partial one). */
static json_t *entry_json(const dv_plan_entry *e)
{
  json_t *o = NULL, *changed, *before = NULL, *after = NULL;
  const drover_live *live = e->inst ? e->inst->live : e->orphan;
  size_t i;

  changed = json_array();
  if(!changed)
    goto out;
  for(i = 0; i < e->nchanged; i++)
    if(json_array_append_new(changed, json_string(e->changed[i])))
      goto out;
  if(live && live->properties) {
    before = dv_json_display(live->properties, 1);
    if(!before)
      goto out;
  }
  if(e->inst && e->action != DROVER_ACTION_DELETE) {
    after = dv_json_display(e->inst->desired, 1);
    if(!after)
      goto out;
    if(json_is_object(after) && !json_object_get(after, "name") &&
       json_object_set_new(after, "name", json_string(e->inst->name)))
      goto out;
  }
  /* "o" steals even on failure. */
  o = json_pack("{s:s, s:s, s:s, s:s?, s:o, s:o, s:o}",
                "address", e->address, "type", e->type,
                "action", drover_action_name(e->action), "reason", e->reason,
                "changed", changed,
                "before", before ? before : json_null(),
                "after", after ? after : json_null());
  /* A copy: marked, with its cloud name (the address is the original's). */
  if(o && e->copy && e->orphan &&
     (json_object_set_new(o, "copy", json_true()) ||
      json_object_set_new(o, "name", json_string(e->orphan->name ? e->orphan->name : "")))) {
    json_decref(o);
    o = NULL;
  }
  return o;
out:
  json_decref(changed);
  json_decref(before);
  json_decref(after);
  return NULL;
}

drover_code drover_plan_to_json(char **out, const drover_plan *plan, drover_error *err)
{
  drover_code rc = DROVER_OK;
  json_t *root = NULL, *arr;
  size_t i;

  *out = NULL;
  if(!plan)
    return drover_error_set(err, DROVER_E_ARG, "plan: no plan");
  arr = json_array();
  root = json_pack("{s:s, s:I, s:b, s:o}", "stack", plan->stack->name,
                   "changes", (json_int_t)drover_plan_changes(plan), "destroy",
                   (plan->flags & DROVER_PLAN_DESTROY) != 0, "resources",
                   arr ? arr : json_array());
  if(!root || !arr)
    goto nomem;
  for(i = 0; i < plan->n; i++)
    if(json_array_append_new(arr, entry_json(&plan->entries[i])))
      goto nomem;
  *out = json_dumps(root, JSON_INDENT(2));
  if(!*out)
    goto nomem;
  goto out;
nomem:
  rc = drover_error_set(err, DROVER_E_NOMEM, "plan: out of memory");
out:
  json_decref(root);
  return rc;
}
