/* json_fast.c - a parser for the plain JSON most template pieces are:
 * objects, arrays, integers, true/false/null and strings of printable
 * ASCII without escapes. jansson's lexer costs about 50 instructions a
 * byte (its stream decodes and checks each character on its own), and
 * load parses every resource declaration once and open its properties
 * again; this walks the bytes directly and builds the same jansson values.
 *
 * It accepts a strict subset of what jansson accepts and refuses anything
 * else (a real number, an escape, a byte outside printable ASCII, a
 * duplicate key, deep nesting, bad syntax) by returning NULL: the caller
 * then asks json_loadb, which accepts or reports it as it always did. So
 * a result, when there is one, is what json_loadb would have built
 * (tests/check_json_fast.c compares the two). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"

/* Deeper than any template needs; jansson's own limit is 2048. */
#define MAX_DEPTH 256

#if JSON_INTEGER_IS_LONG_LONG
#define INT_LOWEST LLONG_MIN
#else
#define INT_LOWEST LONG_MIN
#endif

typedef struct jp {
  const char *p, *end;
} jp;

static void skip_ws(jp *j)
{
  while(j->p < j->end &&
        (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r'))
    j->p++;
}

/* A string's bytes (after its opening quote) up to the closing quote:
 * *s, *len; j->p after the quote. Non-zero on an escape, a control
 * character, a byte above 0x7e or an unterminated string. */
static int take_string(jp *j, const char **s, size_t *len)
{
  const char *q = j->p;

  while(q < j->end && *q != '"') {
    unsigned char c = (unsigned char)*q;
    if(c < 0x20 || c > 0x7e || c == '\\')
      return -1;
    q++;
  }
  if(q == j->end)
    return -1;
  *s = j->p;
  *len = (size_t)(q - j->p);
  j->p = q + 1;
  return 0;
}

/* -?(0|[1-9][0-9]*) within json_int_t; NULL on a real number (fraction
 * or exponent), a leading zero or an overflow (jansson refuses those). */
static json_t *take_integer(jp *j)
{
  int neg = 0;
  json_int_t v = 0;
  const char *start;

  if(j->p < j->end && *j->p == '-') {
    neg = 1;
    j->p++;
  }
  start = j->p;
  while(j->p < j->end && *j->p >= '0' && *j->p <= '9') {
    int d = *j->p - '0';
    /* Accumulated negative, so the most negative value fits too. */
    if(v < (INT_LOWEST + d) / 10)
      return NULL;
    v = v * 10 - d;
    j->p++;
  }
  if(j->p == start || (*start == '0' && j->p - start > 1))
    return NULL;
  if(j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
    return NULL;
  if(!neg) {
    if(v == INT_LOWEST)
      return NULL;
    v = -v;
  }
  return json_integer(v);
}

static int take_word(jp *j, const char *w, size_t n)
{
  if((size_t)(j->end - j->p) < n || memcmp(j->p, w, n))
    return -1;
  j->p += n;
  return 0;
}

static json_t *take_value(jp *j, int depth);

/* After a member of an object or array: 1 past a ',' (another member
 * follows), 0 past close (the end), -1 on anything else. */
static int after_member(jp *j, char close)
{
  skip_ws(j);
  if(j->p < j->end && *j->p == ',') {
    j->p++;
    skip_ws(j);
    return 1;
  }
  if(j->p < j->end && *j->p == close) {
    j->p++;
    return 0;
  }
  return -1;
}

/* After the '{'. */
static json_t *take_object(jp *j, int depth)
{
  json_t *o = json_object(), *v;
  char small[64], *key = small;
  size_t cap = sizeof(small);

  if(!o)
    return NULL;
  skip_ws(j);
  if(j->p < j->end && *j->p == '}') {
    j->p++;
    return o;
  }
  for(;;) {
    const char *s;
    size_t len;
    int sep;
    if(j->p >= j->end || *j->p != '"')
      goto fail;
    j->p++;
    if(take_string(j, &s, &len))
      goto fail;
    if(len + 1 > cap) {
      char *grown = malloc(len + 1);
      if(!grown)
        goto fail;
      if(key != small)
        free(key);
      key = grown;
      cap = len + 1;
    }
    memcpy(key, s, len);
    key[len] = '\0';
    if(json_object_get(o, key))
      goto fail; /* a duplicate: json_loadb decides, per its flags */
    skip_ws(j);
    if(j->p >= j->end || *j->p != ':')
      goto fail;
    j->p++;
    skip_ws(j);
    v = take_value(j, depth);
    if(!v || json_object_set_new_nocheck(o, key, v))
      goto fail;
    sep = after_member(j, '}');
    if(sep < 0)
      goto fail;
    if(!sep)
      break;
  }
  if(key != small)
    free(key);
  return o;
fail:
  if(key != small)
    free(key);
  json_decref(o);
  return NULL;
}

/* After the '['. */
static json_t *take_array(jp *j, int depth)
{
  json_t *a = json_array(), *v;

  if(!a)
    return NULL;
  skip_ws(j);
  if(j->p < j->end && *j->p == ']') {
    j->p++;
    return a;
  }
  for(;;) {
    int sep;
    v = take_value(j, depth);
    if(!v || json_array_append_new(a, v))
      goto fail;
    sep = after_member(j, ']');
    if(sep < 0)
      goto fail;
    if(!sep)
      return a;
  }
fail:
  json_decref(a);
  return NULL;
}

static json_t *take_value(jp *j, int depth)
{
  const char *s;
  size_t len;

  if(j->p >= j->end || depth >= MAX_DEPTH)
    return NULL;
  switch(*j->p) {
  case '{':
    j->p++;
    return take_object(j, depth + 1);
  case '[':
    j->p++;
    return take_array(j, depth + 1);
  case '"':
    j->p++;
    return take_string(j, &s, &len) ? NULL : json_stringn_nocheck(s, len);
  case 't':
    return take_word(j, "true", 4) ? NULL : json_true();
  case 'f':
    return take_word(j, "false", 5) ? NULL : json_false();
  case 'n':
    return take_word(j, "null", 4) ? NULL : json_null();
  default:
    return take_integer(j);
  }
}

json_t *dv_json_fast(const char *text, size_t len)
{
  jp j = {text, text + len};
  json_t *v;

  if(!text)
    return NULL;
  skip_ws(&j);
  /* json_loadb without JSON_DECODE_ANY takes an object or an array. */
  if(j.p >= j.end || (*j.p != '{' && *j.p != '['))
    return NULL;
  v = take_value(&j, 0);
  if(!v)
    return NULL;
  skip_ws(&j);
  if(j.p != j.end) {
    json_decref(v);
    return NULL;
  }
  return v;
}

json_t *dv_json_load(const char *text, size_t len, size_t flags)
{
  json_error_t je;
  json_t *v = dv_json_fast(text, len);

  return v ? v : json_loadb(text, len, flags, &je);
}
