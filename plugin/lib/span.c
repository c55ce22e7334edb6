/* span.c - where each resource's "properties" object lies in the text of
 * a template jansson has already accepted, so load can drop the parsed
 * tree of a block declared on its own and parse its few bytes again when
 * it is evaluated (doc/dev/engine-scale.md: memory per resource).
 *
 * A small scanner, not a parser: the text is known to be valid JSON with
 * no duplicate keys. Keys written with escapes are not decoded; a
 * template that spells "resources", "properties" or a resource name with
 * one simply keeps its trees (the caller's fallback).
 */
#include <string.h>
#include "engine.h"

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

/* At '"': moves past the closing quote. *raw (may be NULL) is set when the
 * string holds no escape, so its bytes are its value. */
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
      depth++;
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

/* At '{' (after blanks): calls member() for each key, with the scanner at
 * the key's value; member must move past the value. */
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

/* key points into the text just after its opening quote. */
static int key_is(const char *key, const char *want)
{
  size_t n = strlen(want);

  return !strncmp(key, want, n) && key[n] == '"';
}

typedef struct span_ctx {
  const drover_template *tpl;
  size_t *off, *len;
  size_t next;        /* index of the next block expected */
  size_t cur;         /* the block being scanned */
  int seen_resources;
} span_ctx;

static int in_resource(scan *c, const char *key, int raw, void *ud)
{
  span_ctx *x = ud;
  size_t start;

  if(!raw || !key_is(key, "properties"))
    return raw ? skip_value(c) : -1;
  start = c->i;
  if(skip_value(c))
    return -1;
  x->off[x->cur] = start;
  x->len[x->cur] = c->i - start;
  return 0;
}

static int in_resources(scan *c, const char *key, int raw, void *ud)
{
  span_ctx *x = ud;
  const char *name;
  size_t n;

  /* Members come in declaration order, as jansson keeps them. */
  if(!raw || x->next >= x->tpl->nblocks)
    return -1;
  name = x->tpl->blocks[x->next].name;
  n = strlen(name);
  if(strncmp(key, name, n) || key[n] != '"')
    return -1;
  x->cur = x->next++;
  return each_member(c, in_resource, x);
}

static int in_top(scan *c, const char *key, int raw, void *ud)
{
  span_ctx *x = ud;

  if(!raw)
    return -1;
  if(!key_is(key, "resources"))
    return skip_value(c);
  x->seen_resources = 1;
  return each_member(c, in_resources, x);
}

int dv_props_spans(const drover_template *tpl, size_t *off, size_t *len)
{
  scan c = {tpl->text, tpl->len, 0};
  span_ctx x;
  size_t i;

  memset(&x, 0, sizeof(x));
  x.tpl = tpl;
  x.off = off;
  x.len = len;
  for(i = 0; i < tpl->nblocks; i++)
    off[i] = len[i] = 0;
  if(each_member(&c, in_top, &x) || !x.seen_resources || x.next != tpl->nblocks)
    return -1;
  return 0;
}
