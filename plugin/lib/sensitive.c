/* sensitive.c - which property values hold secrets, by structure.
 *
 * Substring search (log.c) cannot redact a short secret without mangling
 * ordinary text, and cannot know a value the template never saw (the old
 * token still in the cloud after a rotation). So every property value
 * that is derived from a sensitive param - directly, spliced into a
 * larger string, or through another resource's attribute - is found at
 * load time and recorded as a JSON pointer inside the block's properties
 * ("/config/user.token"). Plans and `show` replace the values at those
 * pointers wholesale, old and new alike, and the pointers travel with the
 * object as the DROVER_LABEL_SENSITIVE label, so a value that was once
 * sensitive stays redacted after the template stops saying so.
 */
#include <stdlib.h>
#include <string.h>
#include "engine.h"

#define REDACTED_VALUE "(sensitive)"
#define UNKNOWN_TEXT "(known after apply)"

/* ------------------------------------------------------------------------
 * Load time: taint
 */

enum { T_TODO = 0, T_BUSY = 1, T_DONE = 2 };

typedef struct taint_ctx {
  drover_template *tpl;
  unsigned char *state;  /* per block, T_* */
  dv_block *b;           /* block being walked; NULL in outputs */
  size_t skip;           /* length of the block's "<pointer>/properties" prefix */
  int hit;               /* outputs: a tainted reference was seen */
} taint_ctx;

static drover_code taint_block(drover_template *tpl, unsigned char *state, size_t bi,
                               drover_error *err);

/* Whether ptr (e.g. "/config/user.token") is at or below "/" + attr. */
static int ptr_under(const char *ptr, const char *attr)
{
  size_t n = strlen(attr);

  return ptr[0] == '/' && !strncmp(ptr + 1, attr, n) &&
         (ptr[1 + n] == '\0' || ptr[1 + n] == '/');
}

int dv_block_attr_sensitive(const dv_block *b, const char *attr)
{
  size_t i;

  for(i = 0; i < b->nsecret_ptrs; i++)
    if(ptr_under(b->secret_ptrs[i], attr))
      return 1;
  return 0;
}

static drover_code add_ptr(dv_block *b, const char *ptr, drover_error *err)
{
  char **grown;
  size_t i;

  for(i = 0; i < b->nsecret_ptrs; i++)
    if(!strcmp(b->secret_ptrs[i], ptr))
      return DROVER_OK;
  grown = realloc(b->secret_ptrs, (b->nsecret_ptrs + 1) * sizeof(*grown));
  if(!grown)
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  b->secret_ptrs = grown;
  if(!(b->secret_ptrs[b->nsecret_ptrs] = dv_strdup(ptr)))
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  b->nsecret_ptrs++;
  return DROVER_OK;
}

static drover_code taint_ref(void *ud, const dv_ref *ref, const char *pointer,
                             drover_error *err)
{
  taint_ctx *c = ud;
  drover_template *tpl = c->tpl;
  drover_code rc;
  int tainted = 0;
  size_t i;

  if(ref->kind == DV_REF_PARAM) {
    for(i = 0; i < tpl->nparams; i++)
      if(!strcmp(tpl->params[i].name, ref->name))
        tainted = tpl->params[i].sensitive;
  }
  else if(ref->kind == DV_REF_RESOURCE) {
    i = dv_block_find(tpl, ref->name);
    if(i == (size_t)-1)
      return DROVER_OK; /* reported by dv_refs_check */
    /* A cycle is reported by the graph; here it only stops the walk. */
    if(c->state[i] == T_TODO && (rc = taint_block(tpl, c->state, i, err)))
      return rc;
    tainted = dv_block_attr_sensitive(&tpl->blocks[i], ref->attr);
  }
  if(!tainted)
    return DROVER_OK;
  c->hit = 1;
  if(!c->b)
    return DROVER_OK;
  if(strlen(pointer) < c->skip)
    return DROVER_OK;
  return add_ptr(c->b, pointer + c->skip, err);
}

static drover_code taint_block(drover_template *tpl, unsigned char *state, size_t bi,
                               drover_error *err)
{
  dv_block *b = &tpl->blocks[bi];
  const drover_prop *dp;
  taint_ctx c;
  char *pp = NULL, *np = NULL;
  drover_code rc = DROVER_OK;
  size_t i;

  state[bi] = T_BUSY;
  memset(&c, 0, sizeof(c));
  c.tpl = tpl;
  c.state = state;
  c.b = b;
  pp = dv_ptr_join(b->pointer, "properties");
  if(!pp) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    goto out;
  }
  c.skip = strlen(pp);
  if(b->properties && (rc = dv_refs_each(tpl, b->properties, pp, taint_ref, &c, err)))
    goto out;
  /* Properties the type says always hold secrets. */
  for(dp = b->rtype ? b->rtype->props : NULL; dp && dp->name; dp++) {
    char *rel;
    if(!(dp->flags & DROVER_PROP_SENSITIVE))
      continue;
    rel = dv_ptr_join("", dp->name);
    rc = rel ? add_ptr(b, rel, err) : drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    free(rel);
    if(rc)
      goto out;
  }
  /* A cloud name is shown by every listing, label and error: it can
   * never be redacted, so it may not be derived from a secret. */
  for(i = 0; i < b->nsecret_ptrs; i++) {
    if(!ptr_under(b->secret_ptrs[i], "name"))
      continue;
    np = dv_aprintf("%s%s", pp, b->secret_ptrs[i]);
    rc = dv_tpl_error(err, tpl, np ? np : pp, 0, DROVER_E_TEMPLATE,
                      "the name of resource \"%s\" is derived from a sensitive "
                      "value; names are shown everywhere and cannot be redacted",
                      b->name);
    goto out;
  }
out:
  state[bi] = T_DONE;
  free(np);
  free(pp);
  return rc;
}

drover_code dv_taint_compute(drover_template *tpl, drover_error *err)
{
  unsigned char *state = calloc(tpl->nblocks + 1, 1);
  drover_code rc = DROVER_OK;
  taint_ctx c;
  size_t i;

  if(!state)
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  for(i = 0; i < tpl->nblocks && !rc; i++)
    if(state[i] == T_TODO)
      rc = taint_block(tpl, state, i, err);
  /* An output derived from a secret is sensitive whatever it says. */
  for(i = 0; i < tpl->noutputs && !rc; i++) {
    dv_output *o = &tpl->outputs[i];
    memset(&c, 0, sizeof(c));
    c.tpl = tpl;
    c.state = state;
    if(o->sensitive || !o->value)
      continue;
    rc = dv_refs_each(tpl, o->value, o->pointer, taint_ref, &c, err);
    if(c.hit)
      o->sensitive = 1;
  }
  free(state);
  return rc;
}

/* ------------------------------------------------------------------------
 * Pointers inside values
 */

/* The next segment of ptr (after its leading '/'), unescaped into *seg
 * (malloc'ed, replacing what it held); returns the rest of ptr, or NULL
 * when ptr is empty or on OOM (*oom set). */
static const char *next_seg(const char *ptr, char **seg, int *oom)
{
  const char *end;
  size_t n = 0;
  char *out;

  if(!ptr || *ptr != '/')
    return NULL;
  ptr++;
  end = strchr(ptr, '/');
  if(!end)
    end = ptr + strlen(ptr);
  out = malloc((size_t)(end - ptr) + 1);
  if(!out) {
    *oom = 1;
    return NULL;
  }
  for(; ptr < end; ptr++) {
    char ch = *ptr;
    if(ch == '~' && ptr + 1 < end && (ptr[1] == '0' || ptr[1] == '1'))
      ch = *++ptr == '0' ? '~' : '/';
    out[n++] = ch;
  }
  out[n] = '\0';
  free(*seg);
  *seg = out;
  return end;
}

/* Calls fn on the value at ptr inside root (if it exists); fn may replace
 * it through the parent it is given. */
typedef int (*at_fn)(void *ud, json_t *parent, const char *key, size_t index,
                     json_t *value);

/* Returns fn's result (-1: out of memory), 0 when ptr names nothing. */
static int at_pointer(json_t *root, const char *ptr, at_fn fn, void *ud)
{
  json_t *cur = root, *parent = NULL;
  char *seg = NULL;
  size_t index = 0;
  int oom = 0, r = 0;

  while((ptr = next_seg(ptr, &seg, &oom)) != NULL) {
    parent = cur;
    if(json_is_object(cur))
      cur = json_object_get(cur, seg);
    else if(json_is_array(cur)) {
      char *end;
      index = strtoul(seg, &end, 10);
      cur = *end || !seg[0] ? NULL : json_array_get(cur, index);
    }
    else
      cur = NULL;
    if(!cur)
      break;
  }
  if(oom)
    r = -1;
  else if(cur && parent)
    r = fn(ud, parent, seg, index, cur);
  free(seg);
  return r;
}

static int replace_fn(void *ud, json_t *parent, const char *key, size_t index,
                      json_t *value)
{
  (void)ud;
  (void)value;
  if(json_is_object(parent))
    return json_object_set_new(parent, key, json_string(REDACTED_VALUE));
  return json_array_set_new(parent, index, json_string(REDACTED_VALUE));
}

/* Registers every string inside v (and v's compact text) as a secret. */
static void register_all(const json_t *v)
{
  const char *k;
  json_t *m;
  size_t i;

  /* Unknowns are not values, and registering "true" or "false" would
   * only blank those words out of every message. */
  if(!v || dv_is_unknown(v) || json_is_boolean(v) || json_is_null(v))
    return;
  if(json_is_string(v))
    dv_secret_add(json_string_value(v));
  else if(json_is_object(v)) {
    json_object_foreach((json_t *)v, k, m)
      register_all(m);
  }
  else if(json_is_array(v)) {
    json_array_foreach(v, i, m)
      register_all(m);
  }
  else {
    char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    dv_secret_add(t);
    free(t);
  }
}

static int register_fn(void *ud, json_t *parent, const char *key, size_t index,
                       json_t *value)
{
  (void)ud;
  (void)parent;
  (void)key;
  (void)index;
  if(!dv_is_unknown(value))
    register_all(value);
  return 0;
}

/* Calls fn at each pointer of b (may be NULL) and of label (a JSON array
 * of pointers, may be NULL; garbage is ignored). -1 on OOM. */
static int each_secret(json_t *props, const dv_block *b, const char *label, at_fn fn)
{
  json_error_t je;
  json_t *arr;
  size_t i;
  int r = 0;

  if(!json_is_object(props) && !json_is_array(props))
    return 0;
  for(i = 0; b && i < b->nsecret_ptrs && !r; i++)
    r = at_pointer(props, b->secret_ptrs[i], fn, NULL);
  if(r || !label || !*label)
    return r;
  memset(&je, 0, sizeof(je));
  arr = json_loads(label, 0, &je);
  if(!arr && json_error_code(&je) == json_error_out_of_memory)
    return -1;
  for(i = 0; json_is_array(arr) && i < json_array_size(arr) && !r; i++) {
    const char *p = json_string_value(json_array_get(arr, i));
    if(p)
      r = at_pointer(props, p, fn, NULL);
  }
  json_decref(arr);
  return r;
}

/* ------------------------------------------------------------------------
 * Display copies
 */

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
    char *buf = dv_redact_display(json_string_value(v));
    if(!buf)
      return NULL;
    out = json_string(buf);
    free(buf);
    return out;
  }
  return json_deep_copy(v);
}

json_t *dv_props_display(const json_t *props, const dv_block *b, const char *label)
{
  json_t *copy = dv_json_display(props, 1);

  if(copy && each_secret(copy, b, label, replace_fn)) {
    json_decref(copy);
    return NULL;
  }
  return copy;
}

void dv_secrets_register(const json_t *props, const dv_block *b, const char *label)
{
  (void)each_secret((json_t *)props, b, label, register_fn);
}

char *dv_secret_label(const dv_block *b)
{
  json_t *arr;
  char *s = NULL;
  size_t i;

  if(!b || !b->nsecret_ptrs)
    return dv_strdup("");
  arr = json_array();
  for(i = 0; arr && i < b->nsecret_ptrs; i++)
    if(json_array_append_new(arr, json_string(b->secret_ptrs[i]))) {
      json_decref(arr);
      return NULL;
    }
  if(arr)
    s = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  return s;
}

void dv_stack_register_secrets(const drover_stack *stack)
{
  size_t i;

  for(i = 0; i < stack->ninsts; i++) {
    const dv_inst *inst = &stack->insts[i];
    const dv_block *b = &stack->tpl->blocks[inst->block];
    if(inst->desired)
      dv_secrets_register(inst->desired, b, NULL);
    if(inst->live)
      dv_secrets_register(inst->live->properties, b, inst->live->sensitive);
  }
  for(i = 0; i < stack->orphans.count; i++)
    dv_secrets_register(stack->orphans.items[i]->properties, NULL,
                        stack->orphans.items[i]->sensitive);
  for(i = 0; i < stack->copies.count; i++)
    dv_secrets_register(stack->copies.items[i]->properties, NULL,
                        stack->copies.items[i]->sensitive);
}
