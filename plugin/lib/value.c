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

drover_code dv_hash_json(char out[17], const json_t *v)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  char *text;
  int i;

  out[0] = '\0';
  pthread_once(&sha_once, sha_fetch);
  text = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
  if(!text)
    return DROVER_E_NOMEM;
  if(!EVP_Digest(text, strlen(text), md, &mdlen, sha_md ? sha_md : EVP_sha256(), NULL) ||
     mdlen < 8) {
    free(text);
    return DROVER_E_INTERNAL;
  }
  free(text);
  for(i = 0; i < 8; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[16] = '\0';
  return DROVER_OK;
}
