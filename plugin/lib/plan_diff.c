/* plan_diff.c - where two values of a property differ, path by path, for
 * properties that hold arrays or maps of objects (block device mappings,
 * network interfaces): a plan says "disks[1].size: 8 -> 16" rather than
 * printing both whole arrays. */
#include <ctype.h>
#include <string.h>
#include "engine.h"

/* path + ".key", or path + "[\"key\"]" when key is not a plain word.
 * Caller frees. */
static char *key_path(const char *path, const char *key)
{
  size_t i;
  int plain = key[0] != '\0';

  for(i = 0; key[i] && plain; i++)
    plain = isalnum((unsigned char)key[i]) || key[i] == '_' || key[i] == '-';
  if(plain)
    return dv_aprintf("%s.%s", path, key);
  return dv_aprintf("%s[\"%s\"]", path, key);
}

/* Appends {"path", "before", "after"}; a missing side is null. */
static drover_code push(json_t *out, const char *path, const json_t *have,
                        const json_t *want)
{
  json_t *d = json_pack("{s:s, s:O, s:O}", "path", path,
                        "before", have ? (json_t *)have : json_null(),
                        "after", want ? (json_t *)want : json_null());

  return d && !json_array_append_new(out, d) ? DROVER_OK : DROVER_E_NOMEM;
}

drover_code dv_diff_paths(json_t *out, const char *path, const json_t *have,
                          const json_t *want)
{
  drover_code rc = DROVER_OK;
  const char *key;
  json_t *v;
  char *sub;
  size_t i, n;

  if(have && want && json_is_object(have) && json_is_object(want) &&
     !dv_is_unknown(want)) {
    json_object_foreach((json_t *)have, key, v) {
      if(!(sub = key_path(path, key)))
        return DROVER_E_NOMEM;
      rc = dv_diff_paths(out, sub, v, json_object_get(want, key));
      free(sub);
      if(rc)
        return rc;
    }
    json_object_foreach((json_t *)want, key, v) {
      if(json_object_get(have, key))
        continue;
      if(!(sub = key_path(path, key)))
        return DROVER_E_NOMEM;
      rc = push(out, sub, NULL, v);
      free(sub);
      if(rc)
        return rc;
    }
    return DROVER_OK;
  }
  if(have && want && json_is_array(have) && json_is_array(want)) {
    /* By position: arrays of objects are ordered (device index, rule
     * order), so an insertion shows as changes from there on. */
    n = json_array_size(have) > json_array_size(want) ? json_array_size(have)
                                                       : json_array_size(want);
    for(i = 0; i < n; i++) {
      if(!(sub = dv_aprintf("%s[%zu]", path, i)))
        return DROVER_E_NOMEM;
      rc = dv_diff_paths(out, sub, json_array_get(have, i), json_array_get(want, i));
      free(sub);
      if(rc)
        return rc;
    }
    return DROVER_OK;
  }
  if(!have && !want)
    return DROVER_OK;
  if(have && want && dv_is_known(want) && json_equal((json_t *)have, (json_t *)want))
    return DROVER_OK;
  return push(out, path, have, want);
}
