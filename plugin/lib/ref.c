/* ref.c - "${...}" references: the syntax, walking the references in a
 * value, and the load-time checks of every reference in a template
 * (evaluation is eval.c's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"

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

/* "${body}" into text (size > 3 bytes), cut short exactly as snprintf
 * would: one reference is parsed per string walked, and snprintf cost
 * more than the rest of the parse together. */
static void ref_text(char *text, size_t size, const char *body, size_t len)
{
  size_t room = size - 1 - 2; /* after "${", before the NUL */

  text[0] = '$';
  text[1] = '{';
  if(len >= room) {
    memcpy(text + 2, body, room);
    text[size - 1] = '\0';
    return;
  }
  memcpy(text + 2, body, len);
  text[2 + len] = '}';
  text[3 + len] = '\0';
}

/* Parses the body of "${body}" (len bytes). On a syntax error writes the
 * reason to msg and returns 1. */
static int parse_ref(const char *body, size_t len, dv_ref *ref, char *msg, size_t msize)
{
  const char *p = body, *end = body + len;

  ref->kind = 0;
  ref->name[0] = ref->attr[0] = '\0';
  ref->whole = 0;
  ref->index = DV_REF_NO_INDEX;
  ref_text(ref->text, sizeof(ref->text), body, len);
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

drover_code dv_ref_walk(const drover_template *tpl, const char *s, const char *pointer,
                        dv_lit_fn lit, dv_ref_fn fn, void *ud, drover_error *err)
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
  char buf[128]; /* per level of nesting: kept small */

  if(json_is_string(v))
    return dv_ref_walk(tpl, json_string_value(v), pointer, NULL, fn, ud, err);
  /* Each member's pointer in buf when it fits (nearly always), so the
   * walk allocates nothing. */
  if(json_is_array(v)) {
    for(i = 0; i < json_array_size(v) && !rc; i++) {
      char *p = buf;
      if((size_t)snprintf(buf, sizeof(buf), "%s/%zu", pointer, i) >= sizeof(buf) &&
         !(p = dv_aprintf("%s/%zu", pointer, i)))
        return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
      rc = dv_refs_each(tpl, json_array_get(v, i), p, fn, ud, err);
      if(p != buf)
        free(p);
    }
  }
  else if(json_is_object(v)) {
    json_object_foreach((json_t *)v, key, m) {
      char *p = dv_ptr_join_size(pointer, key) <= sizeof(buf)
                    ? dv_ptr_join_to(buf, pointer, key)
                    : dv_ptr_join(pointer, key);
      if(!p)
        return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
      if(!strcmp(key, DV_UNKNOWN_KEY))
        rc = dv_tpl_error(err, tpl, p, 1, DROVER_E_TEMPLATE,
                          "key \"%s\" is reserved", DV_UNKNOWN_KEY);
      else
        rc = dv_refs_each(tpl, m, p, fn, ud, err);
      if(p != buf)
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
