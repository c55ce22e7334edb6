/* index.c - a string -> position map (open addressing, linear probing,
 * FNV-1a), so looking a name up costs the same with 10 or 100,000 of
 * them. Keys are borrowed: they must outlive the index. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"

#define EMPTY ((size_t)-1)
#define FREE_SLOT UINT32_MAX /* val of a slot that holds no key */

static uint32_t hash_n(const char *s, size_t len)
{
  uint32_t h = 2166136261u;
  size_t i;

  for(i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 16777619u;
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

/* Slot holding s[0..len) (hash h) or the free slot where it would go.
 * Key, value and hash share a slot, and a slot of another hash is passed
 * without reading its key: about one cache miss for the slot and one for
 * the key's bytes per lookup, at 100k names as at 10. */
static size_t slot_of(const dv_index *ix, const char *s, size_t len, uint32_t h)
{
  size_t i = h & (ix->cap - 1);

  for(;;) {
    const dv_index_slot *sl = &ix->slots[i];
    if(sl->val == FREE_SLOT ||
       (sl->hash == h && !strncmp(sl->key, s, len) && sl->key[len] == '\0'))
      return i;
    i = (i + 1) & (ix->cap - 1);
  }
}

static drover_code rehash(dv_index *ix, size_t cap)
{
  dv_index grown;
  size_t i;

  grown.slots = malloc(cap * sizeof(*grown.slots));
  if(!grown.slots)
    return DROVER_E_NOMEM;
  for(i = 0; i < cap; i++) {
    grown.slots[i].key = NULL;
    grown.slots[i].hash = 0;
    grown.slots[i].val = FREE_SLOT;
  }
  grown.cap = cap;
  grown.n = ix->n;
  for(i = 0; i < ix->cap; i++) {
    const dv_index_slot *sl = &ix->slots[i];
    size_t j;
    if(sl->val == FREE_SLOT)
      continue;
    /* Keys are distinct: the first free slot from the hash is its place. */
    for(j = sl->hash & (cap - 1); grown.slots[j].val != FREE_SLOT; j = (j + 1) & (cap - 1))
      ;
    grown.slots[j] = *sl;
  }
  free(ix->slots);
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
  uint32_t h = hash_n(key, len);
  drover_code rc;

  if(val >= FREE_SLOT)
    return DROVER_E_ARG; /* positions fit in 32 bits (DROVER_MAX_COUNT) */
  if(!ix->cap || 2 * (ix->n + 1) + 2 > ix->cap) {
    rc = rehash(ix, cap_for(ix->n + 1));
    if(rc)
      return rc;
  }
  s = slot_of(ix, key, len, h);
  if(ix->slots[s].val != FREE_SLOT)
    return DROVER_OK; /* the first value stays */
  ix->slots[s].key = key;
  ix->slots[s].hash = h;
  ix->slots[s].val = (uint32_t)val;
  ix->n++;
  return DROVER_OK;
}

size_t dv_index_getn(const dv_index *ix, const char *s, size_t len)
{
  uint32_t v;

  if(!ix || !ix->cap || !s)
    return EMPTY;
  v = ix->slots[slot_of(ix, s, len, hash_n(s, len))].val;
  return v == FREE_SLOT ? EMPTY : v;
}

size_t dv_index_get(const dv_index *ix, const char *key)
{
  return key ? dv_index_getn(ix, key, strlen(key)) : EMPTY;
}

void dv_index_free(dv_index *ix)
{
  if(!ix)
    return;
  free(ix->slots);
  memset(ix, 0, sizeof(*ix));
}
