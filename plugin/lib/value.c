/* value.c - the "known after apply" marker and the canonical hash of a
 * value.
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "engine.h"

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

/* SHA-256 fetched once: EVP_sha256() makes every EVP_Digest fetch the
 * implementation again, which cost more than hashing a resource's
 * properties (bench/engine-scale). Kept for the life of the process. */
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha_md;

static void sha_fetch(void)
{
  sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* ------------------------------------------------------------------------
 * Canonical text: what json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT |
 * JSON_ENCODE_ANY) writes, byte for byte (hashes are stored in cloud
 * labels, so the text must never change), without jansson's per-call
 * costs: a table for loop detection, a formatted pointer and a table
 * entry per container, a heap buffer and a copy of the result. Hashing
 * is most of a large plan's time (bench/engine-scale). Reals, rare in
 * properties, are written by jansson itself. tests/check_hash.c compares
 * the two on generated values.
 */

typedef struct canon {
  char *p;            /* local or heap */
  size_t len, cap;
  char local[1024];
} canon;

static int c_put(canon *c, const char *s, size_t n)
{
  if(c->len + n > c->cap) {
    size_t cap = 2 * c->cap > c->len + n ? 2 * c->cap : c->len + n;
    char *g = c->p == c->local ? malloc(cap) : realloc(c->p, cap);
    if(!g)
      return -1;
    if(c->p == c->local)
      memcpy(g, c->local, c->len);
    c->p = g;
    c->cap = cap;
  }
  memcpy(c->p + c->len, s, n);
  c->len += n;
  return 0;
}

/* jansson's escapes: \\ \" \b \f \n \r \t, other control characters as
 * \u00XX (upper-case hex); everything else, UTF-8 included, as is. */
static int c_string(canon *c, const char *s, size_t n)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t i, run = 0;

  if(c_put(c, "\"", 1))
    return -1;
  for(i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    char esc[6];
    size_t el = 2;
    if(ch >= 0x20 && ch != '"' && ch != '\\')
      continue;
    if(c_put(c, s + run, i - run))
      return -1;
    esc[0] = '\\';
    switch(ch) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    default:
      memcpy(esc + 1, "u00", 3);
      esc[4] = hex[ch >> 4];
      esc[5] = hex[ch & 15];
      el = 6;
    }
    if(c_put(c, esc, el))
      return -1;
    run = i + 1;
  }
  if(c_put(c, s + run, n - run))
    return -1;
  return c_put(c, "\"", 1);
}

typedef struct c_member {
  const char *key;
  size_t len;
  const json_t *value;
} c_member;

/* jansson's key order: bytes, then the shorter first. */
static int c_member_cmp(const void *a, const void *b)
{
  const c_member *x = a, *y = b;
  int r = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);

  if(r)
    return r;
  return x->len < y->len ? -1 : x->len > y->len;
}

/* Decimal text of i, as "%lld" writes it, into the end of buf[24]; the
 * start of the text. */
static const char *c_int(char buf[24], json_int_t i)
{
  unsigned long long u = i < 0 ? 0ULL - (unsigned long long)i : (unsigned long long)i;
  char *p = buf + 23;

  *p = '\0';
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while(u);
  if(i < 0)
    *--p = '-';
  return p;
}

/* Members in key order: insertion sort for the usual handful (qsort's
 * setup costs more than sorting them), qsort beyond. */
static void c_sort(c_member *m, size_t n)
{
  size_t i, j;

  if(n > 16) {
    qsort(m, n, sizeof(*m), c_member_cmp);
    return;
  }
  for(i = 1; i < n; i++) {
    c_member t = m[i];
    for(j = i; j > 0 && c_member_cmp(&m[j - 1], &t) > 0; j--)
      m[j] = m[j - 1];
    m[j] = t;
  }
}

static int c_value(canon *c, const json_t *v)
{
  char num[24];
  const char *t;
  size_t i, n;
  int rc = 0;

  switch(json_typeof(v)) {
  case JSON_NULL:
    return c_put(c, "null", 4);
  case JSON_TRUE:
    return c_put(c, "true", 4);
  case JSON_FALSE:
    return c_put(c, "false", 5);
  case JSON_INTEGER:
    t = c_int(num, json_integer_value(v));
    return c_put(c, t, strlen(t));
  case JSON_REAL: {
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    rc = text ? c_put(c, text, strlen(text)) : -1;
    free(text);
    return rc;
  }
  case JSON_STRING:
    return c_string(c, json_string_value(v), json_string_length(v));
  case JSON_ARRAY:
    n = json_array_size(v);
    if(c_put(c, "[", 1))
      return -1;
    for(i = 0; i < n; i++)
      if((i && c_put(c, ",", 1)) || c_value(c, json_array_get(v, i)))
        return -1;
    return c_put(c, "]", 1);
  case JSON_OBJECT: {
    c_member small[16], *m = small;
    void *it;
    n = json_object_size(v);
    if(n > 16 && !(m = malloc(n * sizeof(*m))))
      return -1;
    for(i = 0, it = json_object_iter((json_t *)v); it && i < n;
        i++, it = json_object_iter_next((json_t *)v, it)) {
      m[i].key = json_object_iter_key(it);
      m[i].len = json_object_iter_key_len(it);
      m[i].value = json_object_iter_value(it);
    }
    n = i;
    c_sort(m, n);
    rc = c_put(c, "{", 1);
    for(i = 0; !rc && i < n; i++)
      rc = (i && c_put(c, ",", 1)) || c_string(c, m[i].key, m[i].len) ||
           c_put(c, ":", 1) || c_value(c, m[i].value);
    if(!rc)
      rc = c_put(c, "}", 1);
    if(m != small)
      free(m);
    return rc;
  }
  }
  return -1;
}

drover_code dv_hash_json(char out[17], const json_t *v)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  canon c;
  drover_code rc = DROVER_OK;
  int i;

  out[0] = '\0';
  pthread_once(&sha_once, sha_fetch);
  c.p = c.local;
  c.len = 0;
  c.cap = sizeof(c.local);
  if(!v || c_value(&c, v)) {
    rc = DROVER_E_NOMEM;
    goto out;
  }
  if(!EVP_Digest(c.p, c.len, md, &mdlen, sha_md ? sha_md : EVP_sha256(), NULL) ||
     mdlen < 8) {
    rc = DROVER_E_INTERNAL;
    goto out;
  }
  for(i = 0; i < 8; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[16] = '\0';
out:
  if(c.p != c.local)
    free(c.p);
  return rc;
}
