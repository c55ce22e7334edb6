/* posmap.c - JSON pointer -> line:column index over a template's text.
 *
 * jansson keeps no positions for the values it parses, yet every template
 * error must name file:line:column. So after jansson accepted the text, a
 * small scanner walks the same bytes once and records, for every value,
 * the RFC 6901 pointer that reaches it together with the position where
 * the value starts and (for object members) where its key starts.
 *
 * Columns count characters, not bytes (UTF-8 continuation bytes do not
 * advance the column), as jansson's own error columns do.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"

typedef struct pm_entry {
  char *pointer;
  dv_pos value;
  dv_pos key;       /* 0:0 for array elements and the root */
} pm_entry;

struct dv_posmap {
  pm_entry *e;
  size_t n, cap;
};

typedef struct pm_scan {
  const char *buf;
  size_t len, i;
  int line, column;   /* position of buf[i] */
  char *ptr;          /* current pointer, NUL-terminated */
  size_t plen, pcap;
  dv_posmap *map;
  int depth;
} pm_scan;

#define PM_MAX_DEPTH 2048

/* ------------------------------------------------------------------------
 * Scanner primitives
 */

static void pm_advance(pm_scan *s)
{
  unsigned char c;

  if(s->i >= s->len)
    return;
  c = (unsigned char)s->buf[s->i++];
  if(c == '\n') {
    s->line++;
    s->column = 1;
  }
  else if((c & 0xC0) != 0x80) {
    /* Continuation bytes belong to the previous character; a character
     * starts counting at its first byte, so the column of the next
     * character is bumped by the lead byte only. */
    s->column++;
  }
}

static dv_pos pm_here(const pm_scan *s)
{
  dv_pos p;
  p.line = s->line;
  p.column = s->column;
  return p;
}

static void pm_ws(pm_scan *s)
{
  while(s->i < s->len && strchr(" \t\r\n", s->buf[s->i]) && s->buf[s->i])
    pm_advance(s);
}

static drover_code pm_ptr_reserve(pm_scan *s, size_t more)
{
  if(s->plen + more + 1 > s->pcap) {
    size_t cap = s->pcap ? s->pcap : 64;
    char *grown;
    while(cap < s->plen + more + 1)
      cap *= 2;
    grown = realloc(s->ptr, cap);
    if(!grown)
      return DROVER_E_NOMEM;
    s->ptr = grown;
    s->pcap = cap;
  }
  return DROVER_OK;
}

/* Appends "/" and the pointer-escaped segment (~ -> ~0, / -> ~1). */
static drover_code pm_ptr_push(pm_scan *s, const char *seg, size_t len)
{
  size_t k;
  drover_code rc = pm_ptr_reserve(s, 1 + 2 * len);

  if(rc)
    return rc;
  s->ptr[s->plen++] = '/';
  for(k = 0; k < len; k++) {
    if(seg[k] == '~') {
      s->ptr[s->plen++] = '~';
      s->ptr[s->plen++] = '0';
    }
    else if(seg[k] == '/') {
      s->ptr[s->plen++] = '~';
      s->ptr[s->plen++] = '1';
    }
    else
      s->ptr[s->plen++] = seg[k];
  }
  s->ptr[s->plen] = '\0';
  return DROVER_OK;
}

static drover_code pm_record(pm_scan *s, dv_pos value, dv_pos key)
{
  dv_posmap *m = s->map;

  if(m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    pm_entry *grown = realloc(m->e, cap * sizeof(*grown));
    if(!grown)
      return DROVER_E_NOMEM;
    m->e = grown;
    m->cap = cap;
  }
  m->e[m->n].pointer = strdup(s->ptr ? s->ptr : "");
  if(!m->e[m->n].pointer)
    return DROVER_E_NOMEM;
  m->e[m->n].value = value;
  m->e[m->n].key = key;
  m->n++;
  return DROVER_OK;
}

static size_t put_utf8(char *out, unsigned long cp)
{
  if(cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if(cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if(cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

static unsigned long read_u4(const char *p)
{
  unsigned long v = 0;
  int k;
  for(k = 0; k < 4; k++) {
    int h = dv_hexval(p[k]);
    if(h < 0)
      return 0xFFFD;
    v = v * 16 + (unsigned long)h;
  }
  return v;
}

/* Decodes the JSON string body raw[0..len) (between the quotes) into a
 * new NUL-terminated buffer; *outlen gets its length. Caller frees. */
static char *pm_decode(const char *raw, size_t len, size_t *outlen)
{
  char *out = malloc(len + 1);
  size_t i = 0, o = 0;

  if(!out)
    return NULL;
  while(i < len) {
    if(raw[i] != '\\' || i + 1 >= len) {
      out[o++] = raw[i++];
      continue;
    }
    i++;
    switch(raw[i]) {
    case 'b': out[o++] = '\b'; i++; break;
    case 'f': out[o++] = '\f'; i++; break;
    case 'n': out[o++] = '\n'; i++; break;
    case 'r': out[o++] = '\r'; i++; break;
    case 't': out[o++] = '\t'; i++; break;
    case 'u':
      if(i + 5 <= len) {
        unsigned long cp = read_u4(raw + i + 1);
        i += 5;
        if(cp >= 0xD800 && cp < 0xDC00 && i + 6 <= len && raw[i] == '\\' &&
           raw[i + 1] == 'u') {
          unsigned long lo = read_u4(raw + i + 2);
          if(lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          }
        }
        /* A \uXXXX expands to at most 4 bytes from 6 source bytes. */
        o += put_utf8(out + o, cp);
      }
      else
        i = len;
      break;
    default: out[o++] = raw[i++]; break;
    }
  }
  out[o] = '\0';
  *outlen = o;
  return out;
}

/* Scans a string token starting at the opening quote; sets raw/rawlen to
 * its body. */
static void pm_string(pm_scan *s, const char **raw, size_t *rawlen)
{
  size_t start;

  pm_advance(s); /* " */
  start = s->i;
  while(s->i < s->len && s->buf[s->i] != '"') {
    if(s->buf[s->i] == '\\')
      pm_advance(s);
    pm_advance(s);
  }
  *raw = s->buf + start;
  *rawlen = (s->i < s->len ? s->i : s->len) - start;
  pm_advance(s); /* closing " */
}

static drover_code pm_value(pm_scan *s, dv_pos key);

/* One member of an object or array whose pointer segment was pushed:
 * its value, then back to the container's pointer (base) and past the
 * separating comma. */
static drover_code pm_member(pm_scan *s, size_t base, dv_pos keypos)
{
  drover_code rc = pm_value(s, keypos);

  if(rc)
    return rc;
  s->plen = base;
  s->ptr[base] = '\0';
  pm_ws(s);
  if(s->i < s->len && s->buf[s->i] == ',') {
    pm_advance(s);
    pm_ws(s);
  }
  return DROVER_OK;
}

static drover_code pm_object(pm_scan *s)
{
  drover_code rc = DROVER_OK;
  size_t base = s->plen;

  pm_advance(s); /* { */
  pm_ws(s);
  while(s->i < s->len && s->buf[s->i] != '}') {
    const char *raw;
    size_t rawlen, klen;
    char *key;
    dv_pos kpos;

    if(s->buf[s->i] != '"')
      return DROVER_E_INTERNAL;
    kpos = pm_here(s);
    pm_string(s, &raw, &rawlen);
    key = pm_decode(raw, rawlen, &klen);
    if(!key)
      return DROVER_E_NOMEM;
    rc = pm_ptr_push(s, key, klen);
    free(key);
    if(rc)
      return rc;
    pm_ws(s);
    pm_advance(s); /* : */
    pm_ws(s);
    rc = pm_member(s, base, kpos);
    if(rc)
      return rc;
  }
  pm_advance(s); /* } */
  return rc;
}

static drover_code pm_array(pm_scan *s)
{
  drover_code rc = DROVER_OK;
  size_t base = s->plen, idx = 0;
  dv_pos nokey = {0, 0};

  pm_advance(s); /* [ */
  pm_ws(s);
  while(s->i < s->len && s->buf[s->i] != ']') {
    char num[32];
    int n = snprintf(num, sizeof(num), "%zu", idx++);
    rc = pm_ptr_push(s, num, (size_t)n);
    if(rc)
      return rc;
    rc = pm_member(s, base, nokey);
    if(rc)
      return rc;
  }
  pm_advance(s); /* ] */
  return rc;
}

static drover_code pm_value(pm_scan *s, dv_pos key)
{
  drover_code rc;
  const char *raw;
  size_t rawlen;

  pm_ws(s);
  if(s->i >= s->len)
    return DROVER_E_INTERNAL;
  rc = pm_record(s, pm_here(s), key);
  if(rc)
    return rc;
  if(++s->depth > PM_MAX_DEPTH)
    return DROVER_E_INTERNAL;
  switch(s->buf[s->i]) {
  case '{':
    rc = pm_object(s);
    break;
  case '[':
    rc = pm_array(s);
    break;
  case '"':
    pm_string(s, &raw, &rawlen);
    break;
  default: /* number or literal */
    while(s->i < s->len && !strchr(",]} \t\r\n", s->buf[s->i]) && s->buf[s->i])
      pm_advance(s);
    break;
  }
  s->depth--;
  return rc;
}

static int pm_cmp(const void *a, const void *b)
{
  return strcmp(((const pm_entry *)a)->pointer, ((const pm_entry *)b)->pointer);
}

/* ------------------------------------------------------------------------
 * API
 */

drover_code dv_posmap_build(dv_posmap **out, const char *buf, size_t len)
{
  pm_scan s;
  dv_pos nokey = {0, 0};
  drover_code rc;

  *out = NULL;
  memset(&s, 0, sizeof(s));
  s.buf = buf;
  s.len = len;
  s.line = 1;
  s.column = 1;
  s.map = calloc(1, sizeof(*s.map));
  if(!s.map)
    return DROVER_E_NOMEM;
  rc = pm_ptr_reserve(&s, 0);
  if(rc)
    goto out;
  s.ptr[0] = '\0';
  rc = pm_value(&s, nokey);
  if(rc)
    goto out;
  qsort(s.map->e, s.map->n, sizeof(*s.map->e), pm_cmp);
  *out = s.map;
  s.map = NULL;
out:
  free(s.ptr);
  dv_posmap_free(s.map);
  return rc;
}

void dv_posmap_free(dv_posmap *map)
{
  size_t i;

  if(!map)
    return;
  for(i = 0; i < map->n; i++)
    free(map->e[i].pointer);
  free(map->e);
  free(map);
}

/* The entry for pointer or its nearest recorded ancestor; NULL if none. */
static const pm_entry *pm_find(const dv_posmap *map, const char *pointer, int *exact)
{
  char *p;
  const pm_entry *hit = NULL;

  *exact = 1;
  if(!map || !pointer)
    return NULL;
  p = strdup(pointer);
  if(!p)
    return NULL;
  for(;;) {
    pm_entry key;
    char *slash;
    key.pointer = p;
    hit = bsearch(&key, map->e, map->n, sizeof(*map->e), pm_cmp);
    if(hit || !p[0])
      break;
    *exact = 0;
    slash = strrchr(p, '/');
    if(!slash)
      break;
    *slash = '\0';
  }
  free(p);
  return hit;
}

dv_pos dv_posmap_value(const dv_posmap *map, const char *pointer)
{
  int exact;
  const pm_entry *e = pm_find(map, pointer, &exact);
  dv_pos none = {0, 0};

  return e ? e->value : none;
}

dv_pos dv_posmap_key(const dv_posmap *map, const char *pointer)
{
  int exact;
  const pm_entry *e = pm_find(map, pointer, &exact);
  dv_pos none = {0, 0};

  if(!e)
    return none;
  /* An ancestor's key would point somewhere unrelated; its value start is
   * the better fallback. */
  return exact && e->key.line ? e->key : e->value;
}

/* tpl's position index, built from its text on first use. The index is a
 * cache of the (immutable) text, so it is filled in through a const
 * template, under the template's lock: stacks in several threads may
 * share one template. NULL when it cannot be built (positions then read
 * 0:0; the error itself still stands). */
static const dv_posmap *tpl_posmap(const drover_template *tpl)
{
  drover_template *t = (drover_template *)tpl;
  const dv_posmap *map;

  if(!t->posmap_mu_ok)
    return t->posmap;
  pthread_mutex_lock(&t->posmap_mu);
  if(!t->posmap && t->text && dv_posmap_build(&t->posmap, t->text, t->len))
    t->posmap = NULL;
  map = t->posmap;
  pthread_mutex_unlock(&t->posmap_mu);
  return map;
}

drover_code dv_tpl_error(drover_error *err, const drover_template *tpl,
                         const char *pointer, int at_key, drover_code code,
                         const char *fmt, ...)
{
  va_list ap;
  char text[DROVER_ERROR_TEXT];
  dv_pos pos = {0, 0};

  if(!err || err->code != DROVER_OK)
    return code;
  va_start(ap, fmt);
  vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  drover_error_set(err, code, "%s", text);
  if(tpl) {
    const dv_posmap *map = tpl_posmap(tpl);
    pos = at_key ? dv_posmap_key(map, pointer ? pointer : "")
                 : dv_posmap_value(map, pointer ? pointer : "");
    drover_error_locate(err, tpl->source, NULL);
  }
  err->line = pos.line;
  err->column = pos.column;
  return code;
}
