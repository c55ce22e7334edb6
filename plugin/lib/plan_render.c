/* plan_render.c - plans for people (a Terraform-like diff) and for
 * programs (JSON). Every value shown passes through dv_props_display()
 * (sensitive.c), so unknowns read "(known after apply)" and secrets
 * never leave, then strings above SHOWN_MAX bytes become their size and
 * SHA-256. */
#include <stdlib.h>
#include <string.h>
#include "drover_sigv4.h"
#include "engine.h"


/* ------------------------------------------------------------------------
 * Display values
 */

/* Strings longer than this are shown by size and SHA-256, in both plans:
 * a large inline content (an s3.object's, a cloud-init file) would bury
 * the plan, and the digest is what a provider reports for content it does
 * not read back (DROVER_PROP_DIGEST), so the two compare by eye. */
#define SHOWN_MAX 1024

/* "(N bytes, sha256 HEX)" for the string s. New reference; NULL on OOM. */
static json_t *summary_of(const json_t *s)
{
  char hex[65], text[128];

  drover_sigv4_sha256_hex(hex, json_string_value(s), json_string_length(s));
  snprintf(text, sizeof(text), "(%zu bytes, sha256 %s)", json_string_length(s), hex);
  return json_string(text);
}

static int too_long(const json_t *v)
{
  return json_is_string(v) && json_string_length(v) > SHOWN_MAX;
}

/* Replaces, inside v, every string longer than SHOWN_MAX by its summary.
 * v is a display copy, already redacted, so a digest is never of a secret
 * (only of its redaction). 0, or -1 on OOM. */
static int summarize(json_t *v)
{
  const char *key;
  json_t *item;
  void *tmp;
  size_t i;

  if(json_is_object(v)) {
    json_object_foreach_safe(v, tmp, key, item) {
      if(too_long(item) ? json_object_set_new(v, key, summary_of(item)) : summarize(item))
        return -1;
    }
  }
  else if(json_is_array(v)) {
    json_array_foreach(v, i, item) {
      if(too_long(item) ? json_array_set_new(v, i, summary_of(item)) : summarize(item))
        return -1;
    }
  }
  return 0;
}

/* dv_props_display, with long strings summarized. New reference; NULL on
 * OOM. */
static json_t *props_shown(const json_t *props, const dv_block *b, const char *label)
{
  json_t *d = dv_props_display(props, b, label);

  if(d && summarize(d)) {
    json_decref(d);
    d = NULL;
  }
  return d;
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

/* One line, with long secrets redacted at the end as a second defence
 * (values were redacted by structure already; see dv_redact_display). */
typedef struct sink {
  FILE *f;
  int nomem;  /* a line or value could not be made: render fails */
} sink;

static void put_line(sink *out, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void put_line(sink *out, const char *fmt, ...)
{
  char *line = NULL, *r = NULL;
  va_list ap;

  va_start(ap, fmt);
  if(vasprintf(&line, fmt, ap) < 0)
    line = NULL;
  va_end(ap);
  if(line)
    r = dv_redact_display(line);
  if(r) {
    fputs(r, out->f);
    fputc('\n', out->f);
  }
  else
    out->nomem = 1;
  free(line);
  free(r);
}

/* Compact text of d, a value already made for display (dv_props_display);
 * caller frees. */
static char *value_text(const json_t *d)
{
  if(!d)
    return dv_strdup("null");
  return json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
}

/* The block of e's inst, or NULL for an orphan. */
static const dv_block *entry_block(const drover_plan *plan, const dv_plan_entry *e)
{
  return e->inst ? &plan->stack->tpl->blocks[e->inst->block] : NULL;
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

/* Whether e's type takes its ID from the cloud (DROVER_RTYPE_SERVER_ID). */
static int server_id(const dv_plan_entry *e)
{
  const drover_provider *p = NULL;
  const drover_rtype *rt = dv_rtype_find(e->type, &p);

  return (dv_rtype_flags(p, rt) & DROVER_RTYPE_SERVER_ID) != 0;
}

/* The cloud-assigned ID of e's object when known, else NULL. */
static const char *known_id(const dv_plan_entry *e)
{
  if(!server_id(e))
    return NULL;
  if(e->inst && e->inst->live)
    return e->inst->live->name;
  return e->orphan ? e->orphan->name : NULL;
}

/* Properties whose changes are shown path by path. */
static int nested(const drover_prop *p)
{
  return p->type == DROVER_T_OBJECT_ARRAY || p->type == DROVER_T_MAP_OF_OBJECTS;
}

/* One "~ path: before -> after" line per difference inside key. */
static void render_nested(sink *out, const char *col, style st, const char *key,
                          const json_t *have, const json_t *want, const char *note)
{
  json_t *d = json_array();
  size_t i;

  if(!d || dv_diff_paths(d, key, have, want)) {
    put_line(out, "      %s~%s %s: (out of memory)", col, st.off, key);
    json_decref(d);
    return;
  }
  for(i = 0; i < json_array_size(d); i++) {
    json_t *x = json_array_get(d, i);
    json_t *bv = json_object_get(x, "before"), *av = json_object_get(x, "after");
    char *a = json_is_null(bv) ? NULL : value_text(bv);
    char *b = json_is_null(av) ? NULL : value_text(av);
    if(!a)
      put_line(out, "      %s+%s %s = %s%s", col, st.off,
               json_string_value(json_object_get(x, "path")), b ? b : "?", note);
    else if(!b)
      put_line(out, "      %s-%s %s = %s%s", col, st.off,
               json_string_value(json_object_get(x, "path")), a, note);
    else
      put_line(out, "      %s~%s %s: %s -> %s%s", col, st.off,
               json_string_value(json_object_get(x, "path")), a, b, note);
    free(a);
    free(b);
  }
  json_decref(d);
}

static void render_entry(sink *out, const drover_plan *plan, const dv_plan_entry *e,
                         style st)
{
  const char *col = st.on[0] ? action_color(e->action) : "";
  const char *id = known_id(e);
  size_t i;

  put_line(out, "  %s%s %s%s (%s%s%s) %s: %s", col, action_symbol(e->action), e->address,
           st.off, e->type, id ? " " : "", id ? id : "", action_phrase(e->action),
           e->reason ? e->reason : "");
  if(e->action == DROVER_ACTION_CREATE && e->inst) {
    const char *key;
    json_t *v, *shown = props_shown(e->inst->desired, entry_block(plan, e), NULL);
    if(!shown)
      out->nomem = 1;
    json_object_foreach(shown, key, v) {
      char *t = value_text(v);
      put_line(out, "      %s+%s %s = %s", col, st.off, key, t ? t : "?");
      free(t);
    }
    json_decref(shown);
    if(server_id(e))
      put_line(out, "      %s+%s id = (known after apply)", col, st.off);
    else if(!json_object_get(e->inst->desired, "name"))
      put_line(out, "      %s+%s name = \"%s\"", col, st.off, e->inst->name);
  }
  else if((e->action == DROVER_ACTION_UPDATE || e->action == DROVER_ACTION_REPLACE) &&
          e->inst && e->inst->live) {
    /* Both sides redacted at the template's and the object's own sensitive
     * pointers: a rotated secret's old value is as secret as the new. */
    const dv_block *blk = entry_block(plan, e);
    const char *label = e->inst->live->sensitive;
    json_t *want_all = props_shown(e->inst->desired, blk, label);
    json_t *have_all = props_shown(e->inst->live->properties, blk, label);
    if(!want_all || !have_all)
      out->nomem = 1;
    for(i = 0; i < e->nchanged; i++) {
      const char *k = e->changed[i];
      const json_t *want = json_object_get(want_all, k);
      const json_t *have = json_object_get(have_all, k);
      const drover_prop *p = find_prop(plan->stack, e, k);
      json_t *wname = NULL;
      char *a, *b;
      if(p && nested(p)) {
        render_nested(out, col, st, k, have, want,
                      (p->flags & DROVER_PROP_FORCE_NEW) ? " (forces replacement)" : "");
        continue;
      }
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
    json_decref(want_all);
    json_decref(have_all);
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
static void render_copies(sink *out, const drover_plan *plan, style st)
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

drover_code drover_plan_render(const drover_plan *plan, FILE *f, int color)
{
  style st = {"", ""};
  sink sk = {f, 0}, *out = &sk;
  size_t i, n[5] = {0, 0, 0, 0, 0};

  if(!plan || !f)
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
    goto out;
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
out:
  if(sk.nomem)
    return DROVER_E_NOMEM;
  return ferror(f) ? DROVER_E_IO : DROVER_OK;
}

/* ------------------------------------------------------------------------
 * JSON
 */

/* A new object describing e, or NULL on OOM (never a partial one). */
static json_t *entry_json(const drover_plan *plan, const dv_plan_entry *e)
{
  json_t *o = NULL, *changed, *before = NULL, *after = NULL;
  const drover_live *live = e->inst ? e->inst->live : e->orphan;
  const dv_block *blk = entry_block(plan, e);
  const char *label = live ? live->sensitive : NULL;
  size_t i;

  changed = json_array();
  if(!changed)
    goto out;
  for(i = 0; i < e->nchanged; i++)
    if(json_array_append_new(changed, json_string(e->changed[i])))
      goto out;
  if(live && live->properties) {
    before = props_shown(live->properties, blk, label);
    if(!before)
      goto out;
  }
  if(e->inst && e->action != DROVER_ACTION_DELETE) {
    after = props_shown(e->inst->desired, blk, label);
    if(!after)
      goto out;
    if(json_is_object(after) && !server_id(e) && !json_object_get(after, "name") &&
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
  /* Arrays and maps of objects: where inside them, path by path, between
   * the display values above (so redacted by the same structure). */
  if(o && e->inst && live && (e->action == DROVER_ACTION_UPDATE ||
                              e->action == DROVER_ACTION_REPLACE)) {
    json_t *diff = json_array();
    const json_t *b = json_object_get(o, "before"), *a = json_object_get(o, "after");
    int bad = !diff;
    for(i = 0; !bad && i < e->nchanged; i++) {
      const drover_prop *p = find_prop(NULL, e, e->changed[i]);
      if(p && nested(p))
        bad = dv_diff_paths(diff, e->changed[i], json_object_get(b, e->changed[i]),
                            json_object_get(a, e->changed[i])) != DROVER_OK;
    }
    if(!bad && json_array_size(diff)) {
      bad = json_object_set_new(o, "diff", diff) != 0; /* steals diff */
      diff = NULL;
    }
    json_decref(diff);
    if(bad) {
      json_decref(o);
      return NULL;
    }
  }
  /* Cloud-assigned IDs: "id" is the object's ID, null until created. */
  if(o && server_id(e) &&
     json_object_set_new(o, "id", known_id(e) ? json_string(known_id(e)) : json_null())) {
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
    if(json_array_append_new(arr, entry_json(plan, &plan->entries[i])))
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
