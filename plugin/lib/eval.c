/* eval.c - evaluation: a template value with its references resolved
 * against a stack (params, count.index, stack.name and what is known of
 * other resources now). Reference syntax is ref.c's; the unknown marker
 * is value.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"

/* ------------------------------------------------------------------------
 * Evaluation
 */

/* dv_inst_attr, and whether the value came from the cloud (applied or
 * live attributes) or is not known yet: *runtime is then set, because a
 * refresh or an apply may change it (refresh.c re-evaluates only where
 * that can matter). */
static json_t *inst_attr(const dv_inst *inst, const char *attr, int *runtime)
{
  json_t *v;

  if(inst->applied && inst->applied->attributes &&
     (v = json_object_get(inst->applied->attributes, attr)) != NULL) {
    *runtime = 1;
    return json_deep_copy(v);
  }
  if(inst->desired && (v = json_object_get(inst->desired, attr)) != NULL)
    return json_deep_copy(v);
  if(!strcmp(attr, "name") && inst->name)
    return json_string(inst->name);
  *runtime = 1;
  /* Being replaced where the cloud assigns IDs (plan.c): the live object's
   * attributes are the old one's; the new one's are known after apply. */
  if(inst->live && inst->live->attributes && !inst->replacing &&
     (v = json_object_get(inst->live->attributes, attr)) != NULL)
    return json_deep_copy(v);
  return dv_unknown();
}

json_t *dv_inst_attr(const drover_stack *stack, const dv_inst *inst, const char *attr)
{
  int runtime = 0;

  (void)stack;
  return inst_attr(inst, attr, &runtime);
}


typedef struct ev_str {
  drover_stack *stack;
  int count_index;
  char *buf;        /* spliced text */
  size_t len, cap;
  int unknown;      /* an unknown was spliced in */
  json_t *whole;    /* the value of a whole-string reference */
} ev_str;

static drover_code ev_append(void *ud, const char *p, size_t n)
{
  ev_str *e = ud;

  if(e->len + n + 1 > e->cap) {
    size_t cap = e->cap ? e->cap : 64;
    char *grown;
    while(cap < e->len + n + 1)
      cap *= 2;
    grown = realloc(e->buf, cap);
    if(!grown)
      return DROVER_E_NOMEM;
    e->buf = grown;
    e->cap = cap;
  }
  memcpy(e->buf + e->len, p, n);
  e->len += n;
  e->buf[e->len] = '\0';
  return DROVER_OK;
}

/* The value of ref, as a new reference in *out. */
static drover_code resolve(json_t **out, drover_stack *stack, int count_index,
                           const dv_ref *ref, const char *pointer, drover_error *err)
{
  const drover_template *tpl = stack->tpl;
  size_t b, i;
  json_t *v;
  int runtime = 0;

  *out = NULL;
  switch(ref->kind) {
  case DV_REF_PARAM:
    v = stack->params ? json_object_get(stack->params, ref->name) : NULL;
    if(!v)
      return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE,
                          "unknown param \"%s\" in reference \"%s\"", ref->name,
                          ref->text);
    *out = json_deep_copy(v);
    break;
  case DV_REF_COUNT_INDEX:
    if(count_index < 0)
      return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE,
                          "\"%s\" can only be used inside a resource with count",
                          ref->text);
    *out = json_integer(count_index);
    break;
  case DV_REF_STACK_NAME:
    *out = json_string(stack->name);
    break;
  case DV_REF_RESOURCE:
    b = dv_block_find(tpl, ref->name);
    if(b == (size_t)-1 || !stack->block_ninst || !stack->insts)
      return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE,
                          "unknown resource \"%s\" in reference \"%s\"", ref->name,
                          ref->text);
    if(ref->index == DV_REF_ALL) {
      *out = json_array();
      for(i = 0; *out && i < stack->block_ninst[b]; i++) {
        const dv_inst *in = &stack->insts[stack->block_first[b] + i];
        if(json_array_append_new(*out, inst_attr(in, ref->attr, &runtime))) {
          json_decref(*out);
          *out = NULL;
        }
      }
      break;
    }
    i = ref->index == DV_REF_NO_INDEX ? 0 : (size_t)ref->index;
    if(i >= stack->block_ninst[b]) {
      if(ref->index == DV_REF_NO_INDEX)
        return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE,
                            "resource \"%s\" has no instance", ref->name);
      return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE,
                          "index %ld out of range in \"%s\": resource \"%s\" has "
                          "count %zu",
                          ref->index, ref->text, ref->name, stack->block_ninst[b]);
    }
    *out = inst_attr(&stack->insts[stack->block_first[b] + i], ref->attr, &runtime);
    break;
  }
  if(runtime)
    stack->eval_runtime++;
  if(!*out)
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  return DROVER_OK;
}

static drover_code ev_ref(void *ud, const dv_ref *ref, const char *pointer,
                          drover_error *err)
{
  ev_str *e = ud;
  json_t *v = NULL;
  drover_code rc = resolve(&v, e->stack, e->count_index, ref, pointer, err);
  char *text = NULL;

  if(rc)
    return rc;
  if(ref->whole) {
    e->whole = v;
    return DROVER_OK;
  }
  if(!dv_is_known(v))
    e->unknown = 1;
  else if(json_is_string(v))
    rc = ev_append(e, json_string_value(v), strlen(json_string_value(v)));
  else {
    text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    rc = text ? ev_append(e, text, strlen(text)) : DROVER_E_NOMEM;
  }
  free(text);
  json_decref(v);
  if(rc == DROVER_E_NOMEM)
    drover_error_set(err, rc, "out of memory");
  return rc;
}

/* Whether evaluating v can do more than copy it (and so may need its
 * pointer for a message): a container, or a string that may hold a
 * reference. */
static int needs_eval(const json_t *v)
{
  return json_is_object(v) || json_is_array(v) ||
         (json_is_string(v) && strchr(json_string_value(v), '$'));
}

int dv_eval_is_literal(const json_t *v)
{
  const char *key;
  json_t *m;
  size_t i;

  if(json_is_string(v))
    return !strchr(json_string_value(v), '$');
  if(json_is_array(v)) {
    for(i = 0; i < json_array_size(v); i++)
      if(!dv_eval_is_literal(json_array_get(v, i)))
        return 0;
    return 1;
  }
  if(json_is_object(v)) {
    json_object_foreach((json_t *)v, key, m)
      if(!dv_eval_is_literal(m))
        return 0;
    return 1;
  }
  return 1;
}

static drover_code eval_value(json_t **out, drover_stack *stack, const json_t *in,
                              int count_index, const char *pointer, drover_error *err)
{
  drover_code rc = DROVER_OK;
  const char *key;
  json_t *m;
  size_t i;

  *out = NULL;
  if(json_is_string(in)) {
    const char *s = json_string_value(in);
    ev_str e;
    if(!strchr(s, '$')) {
      *out = json_deep_copy(in);
      goto done;
    }
    memset(&e, 0, sizeof(e));
    e.stack = stack;
    e.count_index = count_index;
    rc = dv_ref_walk(stack->tpl, s, pointer, ev_append, ev_ref, &e, err);
    if(!rc) {
      if(e.whole) {
        *out = e.whole;
        e.whole = NULL;
      }
      else if(e.unknown)
        *out = dv_unknown();
      else
        *out = json_stringn(e.buf ? e.buf : "", e.len);
    }
    json_decref(e.whole);
    free(e.buf);
    if(rc)
      return rc;
    goto done;
  }
  if(json_is_array(in)) {
    *out = json_array();
    for(i = 0; *out && i < json_array_size(in); i++) {
      json_t *v;
      char *p;
      if(!needs_eval(json_array_get(in, i))) {
        if(json_array_append_new(*out, json_deep_copy(json_array_get(in, i)))) {
          json_decref(*out);
          *out = NULL;
        }
        continue;
      }
      p = dv_aprintf("%s/%zu", pointer, i);
      if(!p) {
        json_decref(*out); /* out of memory, not a shorter array */
        *out = NULL;
        break;
      }
      rc = eval_value(&v, stack, json_array_get(in, i), count_index, p, err);
      free(p);
      if(rc) {
        json_decref(*out);
        *out = NULL;
        return rc;
      }
      if(json_array_append_new(*out, v)) {
        json_decref(*out);
        *out = NULL;
      }
    }
    goto done;
  }
  if(json_is_object(in)) {
    *out = json_object();
    json_object_foreach((json_t *)in, key, m) {
      json_t *v;
      char *p;
      if(!*out)
        break;
      if(!needs_eval(m)) {
        /* Pointers are built only where a message may need one. */
        if(json_object_set_new(*out, key, json_deep_copy(m))) {
          json_decref(*out);
          *out = NULL;
        }
        continue;
      }
      p = dv_ptr_join(pointer, key);
      if(!p) {
        json_decref(*out);
        *out = NULL;
        break;
      }
      rc = eval_value(&v, stack, m, count_index, p, err);
      free(p);
      if(rc) {
        json_decref(*out);
        *out = NULL;
        return rc;
      }
      if(json_object_set_new(*out, key, v)) {
        json_decref(*out);
        *out = NULL;
      }
    }
    goto done;
  }
  *out = json_deep_copy(in);
done:
  if(!*out)
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  return DROVER_OK;
}

drover_code dv_stack_eval_value(json_t **out, drover_stack *stack, const json_t *in,
                                int count_index, const char *pointer,
                                drover_error *err)
{
  if(!out || !stack || !in)
    return drover_error_set(err, DROVER_E_ARG, "eval: missing argument");
  return eval_value(out, stack, in, count_index, pointer ? pointer : "", err);
}
