/* span.c - where the resource declarations, and each one's "properties"
 * object, lie in a template's text. Load uses it twice: to parse each
 * declaration on its own (no tree of every resource at once), and to drop
 * the parsed properties of a block declared on its own, parsing its few
 * bytes again when it is evaluated (doc/dev/engine-scale.md).
 *
 * A small scanner, not a parser: what it finds is only used when jansson
 * accepts every piece it names, and template.c falls back to parsing the
 * whole text when anything here or there fails. Keys are not decoded: a
 * template that spells "resources", "properties" or a resource name with
 * an escape takes that fallback.
 */
#include <stdlib.h>
#include <string.h>
#include "engine.h"

/* Deeper than jansson's own limit (2048) less the levels above a
 * declaration: such a template takes the whole-text path, so the limit
 * applies as it always did. */
#define MAX_DEPTH 2040

typedef struct scan {
  const char *s;
  size_t len, i;
} scan;

static void skip_ws(scan *c)
{
  while(c->i < c->len && (c->s[c->i] == ' ' || c->s[c->i] == '\t' ||
                          c->s[c->i] == '\n' || c->s[c->i] == '\r'))
    c->i++;
}

/* At '"': moves past the closing quote. *raw (may be NULL) is cleared when
 * the string holds an escape, so its bytes are not its value. */
static int skip_string(scan *c, int *raw)
{
  if(raw)
    *raw = 1;
  if(c->i >= c->len || c->s[c->i] != '"')
    return -1;
  for(c->i++; c->i < c->len; c->i++) {
    if(c->s[c->i] == '\\') {
      if(raw)
        *raw = 0;
      c->i++;
    }
    else if(c->s[c->i] == '"') {
      c->i++;
      return 0;
    }
  }
  return -1;
}

/* Moves past one value (strings inside containers skipped as strings). */
static int skip_value(scan *c)
{
  size_t depth = 0;

  skip_ws(c);
  do {
    char ch;
    if(c->i >= c->len)
      return -1;
    ch = c->s[c->i];
    if(ch == '"') {
      if(skip_string(c, NULL))
        return -1;
    }
    else if(ch == '{' || ch == '[') {
      if(++depth > MAX_DEPTH)
        return -1;
      c->i++;
    }
    else if(ch == '}' || ch == ']') {
      if(!depth)
        return -1;
      depth--;
      c->i++;
    }
    else if(depth) {
      c->i++;
    }
    else {
      /* A scalar at the top: up to the next delimiter. */
      while(c->i < c->len && !strchr(",}] \t\r\n", c->s[c->i]))
        c->i++;
    }
  } while(depth);
  return 0;
}

/* At '{' (after blanks): calls member() for each key (key: its first byte
 * after the quote; raw: written without escapes) with the scanner at the
 * key's value; member must move past the value. */
typedef int (*member_fn)(scan *c, const char *key, int raw, void *ud);

static int each_member(scan *c, member_fn member, void *ud)
{
  skip_ws(c);
  if(c->i >= c->len || c->s[c->i] != '{')
    return -1;
  c->i++;
  skip_ws(c);
  if(c->i < c->len && c->s[c->i] == '}') {
    c->i++;
    return 0;
  }
  for(;;) {
    size_t k;
    int raw;
    skip_ws(c);
    k = c->i + 1;
    if(skip_string(c, &raw))
      return -1;
    skip_ws(c);
    if(c->i >= c->len || c->s[c->i] != ':')
      return -1;
    c->i++;
    skip_ws(c);
    if(member(c, c->s + k, raw, ud))
      return -1;
    skip_ws(c);
    if(c->i >= c->len)
      return -1;
    if(c->s[c->i] == '}') {
      c->i++;
      return 0;
    }
    if(c->s[c->i] != ',')
      return -1;
    c->i++;
  }
}

static int key_is(const char *key, const char *want)
{
  size_t n = strlen(want);

  return !strncmp(key, want, n) && key[n] == '"';
}

typedef struct span_ctx {
  const char *text;
  dv_res_span *v;
  size_t n, cap;
  size_t res_off, res_len;
  int seen_resources;
} span_ctx;

static int in_resource(scan *c, const char *key, int raw, void *ud)
{
  span_ctx *x = ud;
  dv_res_span *r = &x->v[x->n - 1];
  size_t start;

  if(!raw)
    return -1;
  if(!key_is(key, "properties"))
    return skip_value(c);
  start = c->i;
  if(skip_value(c))
    return -1;
  r->props_off = start;
  r->props_len = c->i - start;
  return 0;
}

static int in_resources(scan *c, const char *key, int raw, void *ud)
{
  span_ctx *x = ud;
  dv_res_span *r;

  if(!raw)
    return -1;
  if(x->n == x->cap) {
    size_t cap = x->cap ? 2 * x->cap : 64;
    dv_res_span *g = realloc(x->v, cap * sizeof(*g));
    if(!g)
      return -1;
    x->v = g;
    x->cap = cap;
  }
  r = &x->v[x->n++];
  memset(r, 0, sizeof(*r));
  r->key_off = (size_t)(key - x->text);
  r->key_len = strcspn(key, "\"");
  r->val_off = c->i;
  if(c->i >= c->len || c->s[c->i] != '{')
    return -1; /* not an object: load says so from the whole text */
  if(each_member(c, in_resource, x))
    return -1;
  r->val_len = c->i - r->val_off;
  return 0;
}

static int in_top(scan *c, const char *key, int raw, void *ud)
{
  span_ctx *x = ud;

  if(!raw)
    return -1;
  if(!key_is(key, "resources"))
    return skip_value(c);
  if(x->seen_resources)
    return -1; /* a duplicate: jansson names it */
  x->seen_resources = 1;
  x->res_off = c->i;
  if(each_member(c, in_resources, x))
    return -1;
  x->res_len = c->i - x->res_off;
  return 0;
}

int dv_scan_resources(const char *text, size_t len, size_t *res_off, size_t *res_len,
                      dv_res_span **out, size_t *n)
{
  scan c = {text, len, 0};
  span_ctx x;

  memset(&x, 0, sizeof(x));
  x.text = text;
  *out = NULL;
  *n = 0;
  if(each_member(&c, in_top, &x) || !x.seen_resources) {
    free(x.v);
    return -1;
  }
  *res_off = x.res_off;
  *res_len = x.res_len;
  *out = x.v;
  *n = x.n;
  return 0;
}
