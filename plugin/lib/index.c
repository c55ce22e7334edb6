/* index.c - a string -> position map (open addressing, linear probing,
 * FNV-1a), so looking a name up costs the same with 10 or 100,000 of
 * them. Keys are borrowed: they must outlive the index. */
#include <stdlib.h>
#include <string.h>
#include "engine.h"

#define EMPTY ((size_t)-1)

static size_t hash_n(const char *s, size_t len)
{
  size_t h = (size_t)14695981039346656037ULL, i;

  for(i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= (size_t)1099511628211ULL;
  }
  return h;
}

/* Slots for n keys at most half full, a power of two (so h & (cap - 1)). */
static size_t cap_for(size_t n)
{
  size_t cap = 16;

  while(cap < 2 * n + 2)
    cap *= 2;
  return cap;
}

static int key_is(const char *key, const char *s, size_t len)
{
  return !strncmp(key, s, len) && key[len] == '\0';
}

/* Slot holding s[0..len) or the empty slot where it would go. */
static size_t slot_of(const dv_index *ix, const char *s, size_t len)
{
  size_t i = hash_n(s, len) & (ix->cap - 1);

  while(ix->vals[i] != EMPTY && !key_is(ix->keys[i], s, len))
    i = (i + 1) & (ix->cap - 1);
  return i;
}

static drover_code rehash(dv_index *ix, size_t cap)
{
  dv_index grown;
  size_t i;

  grown.keys = calloc(cap, sizeof(*grown.keys));
  grown.vals = malloc(cap * sizeof(*grown.vals));
  if(!grown.keys || !grown.vals) {
    free(grown.keys);
    free(grown.vals);
    return DROVER_E_NOMEM;
  }
  memset(grown.vals, 0xff, cap * sizeof(*grown.vals)); /* every slot EMPTY */
  grown.cap = cap;
  grown.n = ix->n;
  for(i = 0; i < ix->cap; i++) {
    size_t s;
    if(ix->vals[i] == EMPTY)
      continue;
    s = slot_of(&grown, ix->keys[i], strlen(ix->keys[i]));
    grown.keys[s] = ix->keys[i];
    grown.vals[s] = ix->vals[i];
  }
  free(ix->keys);
  free(ix->vals);
  *ix = grown;
  return DROVER_OK;
}

drover_code dv_index_init(dv_index *ix, size_t expect)
{
  memset(ix, 0, sizeof(*ix));
  return rehash(ix, cap_for(expect));
}

drover_code dv_index_put(dv_index *ix, const char *key, size_t val)
{
  size_t s, len = strlen(key);
  drover_code rc;

  if(val == EMPTY)
    return DROVER_E_ARG;
  if(!ix->cap || 2 * (ix->n + 1) + 2 > ix->cap) {
    rc = rehash(ix, cap_for(ix->n + 1));
    if(rc)
      return rc;
  }
  s = slot_of(ix, key, len);
  if(ix->vals[s] != EMPTY)
    return DROVER_OK; /* the first value stays */
  ix->keys[s] = key;
  ix->vals[s] = val;
  ix->n++;
  return DROVER_OK;
}

size_t dv_index_getn(const dv_index *ix, const char *s, size_t len)
{
  if(!ix || !ix->cap || !s)
    return EMPTY;
  return ix->vals[slot_of(ix, s, len)];
}

size_t dv_index_get(const dv_index *ix, const char *key)
{
  return key ? dv_index_getn(ix, key, strlen(key)) : EMPTY;
}

void dv_index_free(dv_index *ix)
{
  if(!ix)
    return;
  free(ix->keys);
  free(ix->vals);
  memset(ix, 0, sizeof(*ix));
}
