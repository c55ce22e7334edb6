/* plan_file.c - saved plans.
 *
 * A saved plan is what was reviewed, not what to do: it holds the
 * template text, the typed vars and the stack name, so loading rebuilds
 * the very same stack and plans again; plus, per entry, the address,
 * action, ETag and live hash the review saw. Anything that differs on
 * load (or again at apply) is DROVER_E_STALE_PLAN. The file may hold
 * sensitive values, so it is written 0600 through a temporary file and a
 * rename.
 *
 *   {"drover_plan": 1, "drover_version": "0.1.0", "source": "web.json",
 *    "template": "<text>", "vars": {"replicas": 2}, "stack": "web",
 *    "flags": 0,
 *    "entries": [{"address": "web[0]", "action": "update",
 *                 "etag": "...", "live_hash": "...", "observed": "..."}]}
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine.h"

#define PLAN_FORMAT 1

static int same_str(const char *a, const char *b)
{
  if(!a || !b)
    return a == b;
  return !strcmp(a, b);
}

/* One entry as seen by a review. Strings borrowed. */
typedef struct seen {
  const char *address;
  drover_action action;
  const char *etag;
  const char *live_hash;
  const char *observed;
} seen;

static drover_code stale(drover_error *err, const char *address, const char *why)
{
  drover_error_set(err, DROVER_E_STALE_PLAN,
                   "resource \"%s\" changed since the plan was made (%s)",
                   address, why);
  drover_error_locate(err, NULL, address);
  return DROVER_E_STALE_PLAN;
}

/* Compares what a review saw with a fresh plan, entry by entry (plans are
 * built in a deterministic order). */
static drover_code compare(const seen *old, size_t nold, const drover_plan *fresh,
                           drover_error *err)
{
  size_t i, n = nold < fresh->n ? nold : fresh->n;

  for(i = 0; i < n; i++) {
    const dv_plan_entry *e = &fresh->entries[i];
    if(!same_str(old[i].address, e->address))
      return stale(err, old[i].address, "the set of resources differs");
    if(old[i].action != e->action)
      return stale(err, e->address, "its planned action differs");
    if(!same_str(old[i].etag, e->etag))
      return stale(err, e->address, "its ETag differs");
    if(!same_str(old[i].live_hash, e->live_hash))
      return stale(err, e->address, "its hash label differs");
    if(!same_str(old[i].observed, e->observed))
      return stale(err, e->address, "its properties in the cloud differ");
  }
  if(nold > n)
    return stale(err, old[n].address, "it is no longer in the plan");
  if(fresh->n > n)
    return stale(err, fresh->entries[n].address, "it is new in the plan");
  return DROVER_OK;
}

static drover_code seen_of_plan(seen **out, const drover_plan *plan)
{
  size_t i;
  seen *s = calloc(plan->n ? plan->n : 1, sizeof(*s));

  *out = s;
  if(!s)
    return DROVER_E_NOMEM;
  for(i = 0; i < plan->n; i++) {
    s[i].address = plan->entries[i].address;
    s[i].action = plan->entries[i].action;
    s[i].etag = plan->entries[i].etag;
    s[i].live_hash = plan->entries[i].live_hash;
    s[i].observed = plan->entries[i].observed;
  }
  return DROVER_OK;
}

drover_code dv_plan_check_fresh(drover_plan *plan, drover_error *err)
{
  drover_code rc;
  drover_plan *fresh = NULL;
  seen *old = NULL;
  dv_plan_entry *tmp;
  size_t tn;

  /* Remember what the plan saw before refresh frees the live objects. */
  rc = seen_of_plan(&old, plan);
  if(rc) {
    free(old);
    return drover_error_set(err, rc, "plan: out of memory");
  }
  rc = drover_stack_refresh(plan->stack, err);
  if(!rc)
    rc = drover_plan_new(&fresh, plan->stack, plan->flags, err);
  if(!rc)
    rc = compare(old, plan->n, fresh, err);
  if(fresh) {
    /* Either way the plan must now point at the fresh live objects: take
     * the fresh entries (identical to ours unless stale). */
    tmp = plan->entries;
    tn = plan->n;
    plan->entries = fresh->entries;
    plan->n = fresh->n;
    plan->refresh_gen = fresh->refresh_gen;
    fresh->entries = tmp;
    fresh->n = tn;
  }
  drover_plan_free(fresh);
  free(old);
  return rc;
}

/* ------------------------------------------------------------------------
 * Save
 */

static drover_code write_all(int fd, const char *buf, size_t len)
{
  while(len) {
    ssize_t w = write(fd, buf, len);
    if(w < 0) {
      if(errno == EINTR)
        continue;
      return DROVER_E_IO;
    }
    buf += w;
    len -= (size_t)w;
  }
  return DROVER_OK;
}

drover_code drover_plan_save(const drover_plan *plan, const char *path,
                             drover_error *err)
{
  drover_code rc = DROVER_OK;
  const drover_template *tpl;
  json_t *root = NULL, *entries;
  char *text = NULL, *tmp = NULL;
  int fd = -1;
  size_t i;

  if(!plan || !path)
    return drover_error_set(err, DROVER_E_ARG, "plan save: no plan or path");
  tpl = plan->stack->tpl;
  if(!tpl || !tpl->text)
    return drover_error_set(err, DROVER_E_ARG,
                            "plan save: stack \"%s\" has no template to save",
                            plan->stack->name);
  entries = json_array();
  root = json_pack("{s:i, s:s, s:s?, s:s%, s:O, s:s, s:i, s:o}",
                   "drover_plan", PLAN_FORMAT, "drover_version", DROVER_VERSION,
                   "source", tpl->source, "template", tpl->text, tpl->len,
                   "vars", plan->stack->params ? plan->stack->params : json_null(),
                   "stack", plan->stack->name, "flags", (int)plan->flags,
                   "entries", entries ? entries : json_array());
  if(!root || !entries)
    goto nomem;
  /* Count overrides (scale policies) are part of what was planned. */
  if(plan->stack->counts &&
     json_object_set(root, "counts", plan->stack->counts))
    goto nomem;
  for(i = 0; i < plan->n; i++) {
    const dv_plan_entry *e = &plan->entries[i];
    if(json_array_append_new(entries,
                             json_pack("{s:s, s:s, s:s*, s:s*, s:s*}", "address", e->address,
                                       "action", drover_action_name(e->action),
                                       "etag", e->etag, "live_hash", e->live_hash,
                                       "observed", e->observed)))
      goto nomem;
  }
  text = json_dumps(root, JSON_INDENT(1));
  tmp = dv_aprintf("%s.XXXXXX", path);
  if(!text || !tmp)
    goto nomem;
  fd = mkstemp(tmp); /* 0600 */
  if(fd < 0) {
    int e = errno;
    rc = drover_error_set(err, DROVER_E_IO, "plan save: %s: %s", path, strerror(e));
    free(tmp);
    tmp = NULL;
    goto out;
  }
  if(write_all(fd, text, strlen(text)) || write_all(fd, "\n", 1) || fsync(fd)) {
    int e = errno;
    rc = drover_error_set(err, DROVER_E_IO, "plan save: %s: %s", path, strerror(e));
    goto out;
  }
  if(close(fd)) {
    int e = errno;
    fd = -1;
    rc = drover_error_set(err, DROVER_E_IO, "plan save: %s: %s", path, strerror(e));
    goto out;
  }
  fd = -1;
  if(rename(tmp, path)) {
    int e = errno;
    rc = drover_error_set(err, DROVER_E_IO, "plan save: %s: %s", path, strerror(e));
    goto out;
  }
  free(tmp);
  tmp = NULL;
  goto out;
nomem:
  rc = drover_error_set(err, DROVER_E_NOMEM, "plan save: out of memory");
out:
  if(fd >= 0)
    close(fd);
  if(tmp) {
    unlink(tmp);
    free(tmp);
  }
  free(text);
  json_decref(root);
  return rc;
}

/* ------------------------------------------------------------------------
 * Load
 */

static int action_of(const char *name, drover_action *out)
{
  drover_action a;

  for(a = DROVER_ACTION_NOOP; a <= DROVER_ACTION_DELETE; a++) {
    if(!strcmp(name, drover_action_name(a))) {
      *out = a;
      return 0;
    }
  }
  return -1;
}

drover_code drover_plan_load(drover_plan **out, drover_stack **stack_out,
                             const char *path, const drover_options *opts,
                             drover_error *err)
{
  drover_code rc = DROVER_OK;
  drover_options o = DROVER_OPTIONS_INIT;
  json_t *root = NULL, *vars_json = NULL, *entries = NULL, *item, *counts;
  json_error_t jerr;
  const char *source = NULL, *text = NULL, *stack_name = NULL;
  size_t text_len = 0, i;
  int format = 0, flags = 0;
  drover_template *tpl = NULL;
  drover_vars *vars = NULL;
  drover_stack *stack = NULL;
  drover_plan *plan = NULL;
  seen *old = NULL;

  *out = NULL;
  if(stack_out)
    *stack_out = NULL;
  if(!path)
    return drover_error_set(err, DROVER_E_ARG, "plan load: no path");
  root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  if(!root) {
    rc = drover_error_set(err, DROVER_E_IO, "plan load: %s:%d: %s", path, jerr.line,
                          jerr.text);
    goto out;
  }
  if(json_unpack_ex(root, &jerr, 0, "{s:i, s?s, s:s%, s:o, s:s, s?i, s:o}",
                    "drover_plan", &format, "source", &source, "template", &text,
                    &text_len, "vars", &vars_json, "stack", &stack_name,
                    "flags", &flags, "entries", &entries) ||
     !json_is_array(entries) || !json_is_object(vars_json)) {
    rc = drover_error_set(err, DROVER_E_ARG, "plan load: %s: not a drover plan file",
                          path);
    goto out;
  }
  if(format != PLAN_FORMAT) {
    rc = drover_error_set(err, DROVER_E_ARG,
                          "plan load: %s: plan format %d, this drover reads %d",
                          path, format, PLAN_FORMAT);
    goto out;
  }
  old = calloc(json_array_size(entries) + 1, sizeof(*old));
  if(!old)
    goto nomem;
  json_array_foreach(entries, i, item) {
    const char *act = NULL;
    if(json_unpack(item, "{s:s, s:s, s?s, s?s, s?s}", "address", &old[i].address,
                   "action", &act, "etag", &old[i].etag, "live_hash",
                   &old[i].live_hash, "observed", &old[i].observed) ||
       action_of(act, &old[i].action)) {
      rc = drover_error_set(err, DROVER_E_ARG, "plan load: %s: bad entry %zu",
                            path, i);
      goto out;
    }
  }
  rc = drover_template_load_buffer(&tpl, text, text_len, source ? source : path, err);
  if(rc)
    goto out;
  vars = drover_vars_new();
  if(!vars)
    goto nomem;
  if(!vars->values && !(vars->values = json_object()))
    goto nomem;
  if(json_object_update(vars->values, vars_json))
    goto nomem;
  counts = json_object_get(root, "counts");
  if(counts && (!json_is_object(counts) || !(vars->counts = json_deep_copy(counts)))) {
    rc = drover_error_set(err, DROVER_E_ARG, "plan load: %s: bad counts", path);
    goto out;
  }
  if(opts)
    o = *opts;
  o.stack_name = stack_name;
  rc = drover_stack_open(&stack, tpl, vars, &o, err);
  if(rc)
    goto out;
  /* The stack owns the template from here; the plan owns the stack. */
  stack->owned_tpl = tpl;
  tpl = NULL;
  stack->opts.stack_name = stack->name; /* o's string dies with root */
  rc = drover_stack_refresh(stack, err);
  if(rc)
    goto out;
  rc = drover_plan_new(&plan, stack, (unsigned)flags, err);
  if(rc)
    goto out;
  plan->owns_stack = 1;
  stack = NULL;
  rc = compare(old, json_array_size(entries), plan, err);
  if(rc)
    goto out;
  if(stack_out)
    *stack_out = plan->stack;
  *out = plan;
  plan = NULL;
  goto out;
nomem:
  rc = drover_error_set(err, DROVER_E_NOMEM, "plan load: out of memory");
out:
  drover_plan_free(plan);
  if(stack) {
    drover_template *owned = stack->owned_tpl;
    stack->owned_tpl = NULL;
    drover_stack_free(stack);
    drover_template_free(owned);
  }
  drover_template_free(tpl);
  drover_vars_free(vars);
  free(old);
  json_decref(root);
  return rc;
}
