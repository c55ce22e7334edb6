/* eval.c - "${...}" references: parsing, load-time checks, evaluation,
 * the "known after apply" marker and the canonical hash.
 *
 * Unknown values. A value that is not known until apply (an attribute
 * the provider reports only after creating a resource) is represented by
 * a JSON object with exactly one member, DV_UNKNOWN_KEY ("$drover:unknown")
 * set to true. The marker travels through evaluation like any value, so a
 * property, an array element or a map value can be unknown while its
 * siblings are known; a string that splices an unknown becomes unknown as
 * a whole. Templates cannot write the marker themselves: dv_refs_check
 * rejects the reserved key anywhere under resources and outputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "engine.h"

#define DV_UNKNOWN_KEY "$drover:unknown"

/* ------------------------------------------------------------------------
 * Unknowns and hashing
 */

json_t *dv_unknown(void)
{
  json_t *o = json_object();

  if(o && json_object_set_new(o, DV_UNKNOWN_KEY, json_true())) {
    json_decref(o);
    o = NULL;
  }
  return o;
}

int dv_is_unknown(const json_t *v)
{
  return json_is_object(v) && json_object_size(v) == 1 &&
         json_object_get(v, DV_UNKNOWN_KEY) != NULL;
}

int dv_is_known(const json_t *v)
{
  size_t i;
  const char *k;
  json_t *m;

  if(dv_is_unknown(v))
    return 0;
  if(json_is_array(v)) {
    for(i = 0; i < json_array_size(v); i++)
      if(!dv_is_known(json_array_get(v, i)))
        return 0;
  }
  else if(json_is_object(v)) {
    json_object_foreach((json_t *)v, k, m)
      if(!dv_is_known(m))
        return 0;
  }
  return 1;
}

drover_code dv_hash_json(char out[17], const json_t *v)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  char *text;
  int i;

  out[0] = '\0';
  text = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
  if(!text)
    return DROVER_E_NOMEM;
  if(!EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL) || mdlen < 8) {
    free(text);
    return DROVER_E_INTERNAL;
  }
  free(text);
  for(i = 0; i < 8; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[16] = '\0';
  return DROVER_OK;
}

/* ------------------------------------------------------------------------
 * Parsing
 */

static int ident_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '-';
}

/* Copies an identifier from *p into buf; 0 when empty or too long. */
static int take_ident(const char **p, const char *end, char *buf, size_t size)
{
  size_t n = 0;

  while(*p < end && ident_char(**p)) {
    if(n + 1 >= size)
      return 0;
    buf[n++] = *(*p)++;
  }
  buf[n] = '\0';
  return n > 0;
}

/* Parses the body of "${body}" (len bytes). On a syntax error writes the
 * reason to msg and returns 1. */
static int parse_ref(const char *body, size_t len, dv_ref *ref, char *msg, size_t msize)
{
  const char *p = body, *end = body + len;

  memset(ref, 0, sizeof(*ref));
  ref->index = DV_REF_NO_INDEX;
  snprintf(ref->text, sizeof(ref->text), "${%.*s}", (int)len, body);
  while(p < end && (*p == ' ' || *p == '\t'))
    p++;
  while(end > p && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  len = (size_t)(end - p);
  if(len == 11 && !memcmp(p, "count.index", 11)) {
    ref->kind = DV_REF_COUNT_INDEX;
    return 0;
  }
  if(len == 10 && !memcmp(p, "stack.name", 10)) {
    ref->kind = DV_REF_STACK_NAME;
    return 0;
  }
  if(len > 7 && !memcmp(p, "params.", 7)) {
    p += 7;
    ref->kind = DV_REF_PARAM;
    if(take_ident(&p, end, ref->name, sizeof(ref->name)) && p == end)
      return 0;
    snprintf(msg, msize, "bad reference \"%s\": expected params.NAME", ref->text);
    return 1;
  }
  if(len > 10 && !memcmp(p, "resources.", 10)) {
    p += 10;
    ref->kind = DV_REF_RESOURCE;
    if(!take_ident(&p, end, ref->name, sizeof(ref->name)))
      goto bad_resource;
    if(p < end && *p == '[') {
      p++;
      if(p < end && *p == '*') {
        ref->index = DV_REF_ALL;
        p++;
      }
      else {
        long v = 0;
        int digits = 0;
        while(p < end && *p >= '0' && *p <= '9' && digits < 9) {
          v = v * 10 + (*p++ - '0');
          digits++;
        }
        if(!digits)
          goto bad_resource;
        ref->index = v;
      }
      if(p >= end || *p != ']')
        goto bad_resource;
      p++;
    }
    if(p >= end || *p != '.')
      goto bad_resource;
    p++;
    if(take_ident(&p, end, ref->attr, sizeof(ref->attr)) && p == end)
      return 0;
  bad_resource:
    snprintf(msg, msize,
             "bad reference \"%s\": expected resources.NAME.ATTR, "
             "resources.NAME[N].ATTR or resources.NAME[*].ATTR",
             ref->text);
    return 1;
  }
  snprintf(msg, msize,
           "bad reference \"%s\": expected params.NAME, count.index, stack.name or "
           "resources.NAME.ATTR",
           ref->text);
  return 1;
}

int dv_has_ref(const char *s)
{
  for(; s && *s; s++) {
    if(s[0] == '$' && s[1] == '$' && s[2] == '{')
      s += 2;
    else if(s[0] == '$' && s[1] == '{')
      return 1;
  }
  return 0;
}

typedef drover_code (*lit_fn)(void *ud, const char *p, size_t n);

/* Walks string s: literal pieces (with "$${" turned into "${") go to lit,
 * references to fn. Syntax errors are reported at pointer. */
static drover_code str_walk(const drover_template *tpl, const char *s,
                            const char *pointer, lit_fn lit, dv_ref_fn fn, void *ud,
                            drover_error *err)
{
  size_t len = strlen(s), i = 0, start = 0;
  drover_code rc = DROVER_OK;
  const char *close;
  int whole;

  close = len > 2 && s[0] == '$' && s[1] == '{' ? strchr(s + 2, '}') : NULL;
  whole = close && close == s + len - 1;
  while(i < len) {
    if(s[i] == '$' && s[i + 1] == '$' && s[i + 2] == '{') {
      if(lit && ((rc = lit(ud, s + start, i - start)) || (rc = lit(ud, "${", 2))))
        goto lit_failed;
      i += 3;
      start = i;
    }
    else if(s[i] == '$' && s[i + 1] == '{') {
      dv_ref ref;
      char msg[512];
      close = strchr(s + i + 2, '}');
      if(!close)
        return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE,
                            "unterminated reference \"%.60s%s\" (missing \"}\")",
                            s + i, strlen(s + i) > 60 ? "..." : "");
      if(parse_ref(s + i + 2, (size_t)(close - (s + i + 2)), &ref, msg, sizeof(msg)))
        return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE, "%s", msg);
      ref.whole = whole;
      if(lit && (rc = lit(ud, s + start, i - start)))
        goto lit_failed;
      if(fn && (rc = fn(ud, &ref, pointer, err)))
        return rc;
      i = (size_t)(close - s) + 1;
      start = i;
    }
    else
      i++;
  }
  if(lit && start < len && (rc = lit(ud, s + start, len - start)))
    goto lit_failed;
  return DROVER_OK;
lit_failed:
  /* lit has no drover_error; its only failure is the allocator. */
  return drover_error_set(err, rc, "eval: out of memory at %s",
                          pointer ? pointer : "");
}

drover_code dv_refs_each(const drover_template *tpl, const json_t *v,
                         const char *pointer, dv_ref_fn fn, void *ud,
                         drover_error *err)
{
  drover_code rc = DROVER_OK;
  const char *key;
  json_t *m;
  size_t i;

  if(json_is_string(v))
    return str_walk(tpl, json_string_value(v), pointer, NULL, fn, ud, err);
  if(json_is_array(v)) {
    for(i = 0; i < json_array_size(v) && !rc; i++) {
      char *p = dv_aprintf("%s/%zu", pointer, i);
      if(!p)
        return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
      rc = dv_refs_each(tpl, json_array_get(v, i), p, fn, ud, err);
      free(p);
    }
  }
  else if(json_is_object(v)) {
    json_object_foreach((json_t *)v, key, m) {
      char *p = dv_ptr_join(pointer, key);
      if(!p)
        return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
      if(!strcmp(key, DV_UNKNOWN_KEY))
        rc = dv_tpl_error(err, tpl, p, 1, DROVER_E_TEMPLATE,
                          "key \"%s\" is reserved", DV_UNKNOWN_KEY);
      else
        rc = dv_refs_each(tpl, m, p, fn, ud, err);
      free(p);
      if(rc)
        break;
    }
  }
  return rc;
}

/* ------------------------------------------------------------------------
 * Load-time checks
 */

typedef struct chk_ctx {
  const drover_template *tpl;
  const dv_block *block; /* NULL in outputs */
  int in_count;
} chk_ctx;

static drover_code check_ref(void *ud, const dv_ref *ref, const char *pointer,
                             drover_error *err)
{
  chk_ctx *c = ud;
  const drover_template *tpl = c->tpl;
  const char *cands[256];
  char sug[160];
  size_t i, n = 0, b;
  const dv_block *target;

  if(c->in_count && ref->kind != DV_REF_PARAM)
    return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE,
                        "count of resource \"%s\" may only reference params, not "
                        "\"%s\"",
                        c->block->name, ref->text);
  switch(ref->kind) {
  case DV_REF_PARAM:
    for(i = 0; i < tpl->nparams; i++) {
      if(!strcmp(tpl->params[i].name, ref->name))
        return DROVER_OK;
      if(n < 256)
        cands[n++] = tpl->params[i].name;
    }
    sug[0] = '\0';
    if(dv_did_you_mean(ref->name, cands, n))
      snprintf(sug, sizeof(sug), " (did you mean \"%s\"?)",
               dv_did_you_mean(ref->name, cands, n));
    return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE,
                        "unknown param \"%s\" in reference \"%s\"%s", ref->name,
                        ref->text, sug);
  case DV_REF_COUNT_INDEX:
    if(!c->block)
      return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE,
                          "\"%s\" can only be used inside a resource with count",
                          ref->text);
    if(!c->block->count)
      return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE,
                          "\"%s\" used in resource \"%s\", which has no count",
                          ref->text, c->block->name);
    return DROVER_OK;
  case DV_REF_STACK_NAME:
    return DROVER_OK;
  case DV_REF_RESOURCE:
    break;
  }
  b = dv_block_find(tpl, ref->name);
  if(b == (size_t)-1) {
    for(i = 0; i < tpl->nblocks && n < 256; i++)
      cands[n++] = tpl->blocks[i].name;
    sug[0] = '\0';
    if(dv_did_you_mean(ref->name, cands, n))
      snprintf(sug, sizeof(sug), " (did you mean \"%s\"?)",
               dv_did_you_mean(ref->name, cands, n));
    return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE,
                        "unknown resource \"%s\" in reference \"%s\"%s", ref->name,
                        ref->text, sug);
  }
  target = &tpl->blocks[b];
  if(target == c->block)
    return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE,
                        "resource \"%s\" refers to itself in \"%s\"", target->name,
                        ref->text);
  if(target->count && ref->index == DV_REF_NO_INDEX)
    return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE,
                        "resource \"%s\" has count; write "
                        "\"${resources.%s[N].%s}\" or \"${resources.%s[*].%s}\"",
                        target->name, target->name, ref->attr, target->name,
                        ref->attr);
  if(!target->count && ref->index != DV_REF_NO_INDEX)
    return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE,
                        "resource \"%s\" has no count; write \"${resources.%s.%s}\"",
                        target->name, target->name, ref->attr);
  if(ref->index == DV_REF_ALL && !ref->whole)
    return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE,
                        "\"%s\" yields an array and must be the whole string",
                        ref->text);
  return dv_attr_check(tpl, target, ref, pointer, err);
}

drover_code dv_refs_check(const drover_template *tpl, drover_error *err)
{
  chk_ctx c;
  drover_code rc = DROVER_OK;
  size_t i;

  for(i = 0; i < tpl->nblocks && !rc; i++) {
    const dv_block *b = &tpl->blocks[i];
    char *p;
    c.tpl = tpl;
    c.block = b;
    if(b->count) {
      c.in_count = 1;
      p = dv_ptr_join(b->pointer, "count");
      if(!p)
        return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
      rc = dv_refs_each(tpl, b->count, p, check_ref, &c, err);
      free(p);
    }
    if(!rc && b->properties) {
      c.in_count = 0;
      p = dv_ptr_join(b->pointer, "properties");
      if(!p)
        return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
      rc = dv_refs_each(tpl, b->properties, p, check_ref, &c, err);
      free(p);
    }
  }
  for(i = 0; i < tpl->noutputs && !rc; i++) {
    char *p = dv_ptr_join(tpl->outputs[i].pointer, "value");
    if(!p)
      return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    c.tpl = tpl;
    c.block = NULL;
    c.in_count = 0;
    rc = dv_refs_each(tpl, tpl->outputs[i].value, p, check_ref, &c, err);
    free(p);
  }
  return rc;
}

/* ------------------------------------------------------------------------
 * Evaluation
 */

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
        if(json_array_append_new(*out, dv_inst_attr(stack, in, ref->attr))) {
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
    *out = dv_inst_attr(stack, &stack->insts[stack->block_first[b] + i], ref->attr);
    break;
  }
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
    rc = str_walk(stack->tpl, s, pointer, ev_append, ev_ref, &e, err);
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
      char *p = dv_aprintf("%s/%zu", pointer, i);
      if(!p)
        break;
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
