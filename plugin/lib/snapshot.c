/* snapshot.c - the snapshot list providers fill (drover_provider.h). */
#include <stdlib.h>
#include <string.h>
#include "engine.h"

drover_code drover_snapshot_list_push(drover_snapshot_list *list, const char *instance,
                                      const char *name, long long created,
                                      json_t *labels)
{
  drover_snapshot *s;

  if(list->count == list->cap) {
    size_t cap = list->cap ? list->cap * 2 : 8;
    drover_snapshot *items = realloc(list->items, cap * sizeof(*items));
    if(!items) {
      json_decref(labels);
      return DROVER_E_NOMEM;
    }
    list->items = items;
    list->cap = cap;
  }
  s = &list->items[list->count];
  s->instance = dv_strdup(instance);
  s->name = dv_strdup(name);
  s->created = created;
  s->labels = labels ? labels : json_object();
  if(!s->instance || !s->name || !s->labels) {
    free(s->instance);
    free(s->name);
    json_decref(s->labels);
    return DROVER_E_NOMEM;
  }
  list->count++;
  return DROVER_OK;
}

void drover_snapshot_list_clear(drover_snapshot_list *list)
{
  size_t i;

  for(i = 0; i < list->count; i++) {
    free(list->items[i].instance);
    free(list->items[i].name);
    json_decref(list->items[i].labels);
  }
  free(list->items);
  memset(list, 0, sizeof(*list));
}
