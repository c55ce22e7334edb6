/* live.c - live objects as providers report them. */
#include <stdlib.h>
#include <string.h>
#include "engine.h"

drover_live *drover_live_new(void)
{
  drover_live *l = calloc(1, sizeof(*l));

  if(!l)
    return NULL;
  l->properties = json_object();
  l->attributes = json_object();
  if(!l->properties || !l->attributes) {
    drover_live_free(l);
    return NULL;
  }
  return l;
}

void drover_live_free(drover_live *l)
{
  if(!l)
    return;
  free(l->name);
  free(l->address);
  free(l->hash);
  free(l->deps);
  free(l->etag);
  free(l->status);
  free(l->stack);
  free(l->sensitive);
  json_decref(l->properties);
  json_decref(l->attributes);
  free(l);
}

static int dup_str(char **dst, const char *src)
{
  *dst = NULL;
  if(!src)
    return 0;
  *dst = dv_strdup(src);
  return *dst ? 0 : -1;
}

drover_live *dv_live_dup(const drover_live *l)
{
  drover_live *c;

  if(!l || !(c = calloc(1, sizeof(*c))))
    return NULL;
  c->properties = l->properties ? json_deep_copy(l->properties) : json_object();
  c->attributes = l->attributes ? json_deep_copy(l->attributes) : json_object();
  if(dup_str(&c->name, l->name) || dup_str(&c->address, l->address) ||
     dup_str(&c->hash, l->hash) || dup_str(&c->deps, l->deps) ||
     dup_str(&c->etag, l->etag) || dup_str(&c->status, l->status) ||
     dup_str(&c->stack, l->stack) ||
     dup_str(&c->sensitive, l->sensitive) || !c->properties || !c->attributes) {
    drover_live_free(c);
    return NULL;
  }
  return c;
}

drover_code drover_live_list_push(drover_live_list *list, drover_live *live)
{
  if(list->count == list->cap) {
    size_t cap = list->cap ? list->cap * 2 : 16;
    drover_live **items = realloc(list->items, cap * sizeof(*items));
    if(!items) {
      drover_live_free(live);
      return DROVER_E_NOMEM;
    }
    list->items = items;
    list->cap = cap;
  }
  list->items[list->count++] = live;
  return DROVER_OK;
}

void drover_live_list_clear(drover_live_list *list)
{
  size_t i;

  for(i = 0; i < list->count; i++)
    drover_live_free(list->items[i]);
  free(list->items);
  list->items = NULL;
  list->count = list->cap = 0;
}
