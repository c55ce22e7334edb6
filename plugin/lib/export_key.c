/* export_key.c - the pure parts of backup exports: where an export's
 * objects live (backup.h), what a manifest must hold, and the checksum of
 * a staged archive. No I/O but reading a local file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "engine.h"
#include "backup.h"

void dv_export_loc_free(dv_export_loc *loc)
{
  free(loc->bucket);
  free(loc->prefix);
  memset(loc, 0, sizeof(*loc));
}

drover_code dv_export_loc_parse(dv_export_loc *out, const char *url, drover_error *err)
{
  const char *b, *slash;
  size_t plen;

  memset(out, 0, sizeof(*out));
  if(!url || strncmp(url, "s3://", 5) || !url[5] || url[5] == '/')
    return drover_error_set(err, DROVER_E_ARG, "export: \"%s\" is not s3://bucket/prefix",
                            url ? url : "");
  b = url + 5;
  slash = strchr(b, '/');
  out->bucket = slash ? dv_aprintf("%.*s", (int)(slash - b), b) : dv_strdup(b);
  /* The prefix is a folder: trailing slashes are one, none is none. */
  plen = slash ? strlen(slash + 1) : 0;
  while(plen && slash[plen] == '/')
    plen--;
  out->prefix = plen ? dv_aprintf("%.*s/", (int)plen, slash + 1) : dv_strdup("");
  if(!out->bucket || !out->prefix) {
    dv_export_loc_free(out);
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  }
  return DROVER_OK;
}

char *dv_export_object(const dv_export_loc *loc, const char *snapshot,
                       const char *instance, const char *ext)
{
  return dv_aprintf("%s%s/%s%s", loc->prefix, snapshot, instance, ext);
}

int dv_export_object_parse(const dv_export_loc *loc, const char *object, const char *key,
                           long long *slot, char *instance, size_t size)
{
  size_t pl = strlen(loc->prefix), il, al = strlen(DV_EXPORT_ARCHIVE),
         ml = strlen(DV_EXPORT_MANIFEST);
  const char *snap, *slash, *inst;
  char name[96];
  int kind = 0;

  if(strncmp(object, loc->prefix, pl))
    return 0;
  snap = object + pl;
  slash = strchr(snap, '/');
  if(!slash || (size_t)(slash - snap) >= sizeof(name))
    return 0;
  snprintf(name, sizeof(name), "%.*s", (int)(slash - snap), snap);
  *slot = dv_snap_slot(name, key);
  if(*slot < 0)
    return 0;
  inst = slash + 1;
  il = strlen(inst);
  if(strchr(inst, '/'))
    return 0;
  if(il > al && !strcmp(inst + il - al, DV_EXPORT_ARCHIVE)) {
    kind = 1;
    il -= al;
  }
  else if(il > ml && !strcmp(inst + il - ml, DV_EXPORT_MANIFEST)) {
    kind = 2;
    il -= ml;
  }
  if(!kind || il >= size)
    return 0;
  snprintf(instance, size, "%.*s", (int)il, inst);
  return kind;
}

static int is_hex64(const char *s)
{
  return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

drover_code dv_manifest_check(const json_t *m, const char *stack, const char *policy,
                              drover_error *err)
{
  static const char *const strs[] = {"stack", "policy", "instance", "snapshot", "object",
                                     "sha256", "provider", NULL};
  const char *fmt = json_string_value(json_object_get(m, "format"));
  size_t i;

  if(!json_is_object(m))
    return drover_error_set(err, DROVER_E_CORRUPT, "export manifest is not a JSON object");
  if(!fmt || strcmp(fmt, DV_EXPORT_FORMAT))
    return drover_error_set(err, DROVER_E_CORRUPT,
                            "export manifest has format \"%s\", not \"" DV_EXPORT_FORMAT
                            "\"", fmt ? fmt : "");
  for(i = 0; strs[i]; i++)
    if(!json_string_value(json_object_get(m, strs[i])) ||
       !*json_string_value(json_object_get(m, strs[i])))
      return drover_error_set(err, DROVER_E_CORRUPT, "export manifest lacks \"%s\"",
                              strs[i]);
  if(!json_is_integer(json_object_get(m, "slot")) ||
     !json_is_integer(json_object_get(m, "size")) ||
     json_integer_value(json_object_get(m, "size")) < 0 ||
     !json_is_object(json_object_get(m, "labels")))
    return drover_error_set(err, DROVER_E_CORRUPT,
                            "export manifest lacks an integer slot and size, or labels");
  if(!is_hex64(json_string_value(json_object_get(m, "sha256"))))
    return drover_error_set(err, DROVER_E_CORRUPT,
                            "export manifest's sha256 is not 64 hex digits");
  if(stack && strcmp(stack, json_string_value(json_object_get(m, "stack"))))
    return drover_error_set(err, DROVER_E_CORRUPT,
                            "export manifest names stack \"%s\", not \"%s\"",
                            json_string_value(json_object_get(m, "stack")), stack);
  if(policy && strcmp(policy, json_string_value(json_object_get(m, "policy"))))
    return drover_error_set(err, DROVER_E_CORRUPT,
                            "export manifest names policy \"%s\", not \"%s\"",
                            json_string_value(json_object_get(m, "policy")), policy);
  return DROVER_OK;
}

drover_code dv_file_sha256(const char *path, char out[65], unsigned long long *size,
                           drover_error *err)
{
  static const char hex[] = "0123456789abcdef";
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned char d[32];
  unsigned int dl = 0, i;
  char *buf = malloc(1u << 20);
  FILE *f = fopen(path, "rb");
  drover_code rc = DROVER_OK;
  size_t n;

  out[0] = '\0';
  *size = 0;
  if(!md || !buf || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    goto out;
  }
  if(!f) {
    rc = drover_error_set(err, DROVER_E_IO, "%s: %s", path, strerror(errno));
    goto out;
  }
  while((n = fread(buf, 1, 1u << 20, f)) > 0) {
    EVP_DigestUpdate(md, buf, n);
    *size += n;
  }
  if(ferror(f)) {
    rc = drover_error_set(err, DROVER_E_IO, "%s: read failed", path);
    goto out;
  }
  EVP_DigestFinal_ex(md, d, &dl);
  for(i = 0; i < dl; i++) {
    out[2 * i] = hex[d[i] >> 4];
    out[2 * i + 1] = hex[d[i] & 15];
  }
  out[2 * dl] = '\0';
out:
  if(f)
    fclose(f);
  EVP_MD_CTX_free(md);
  free(buf);
  return rc;
}

drover_code dv_export_retention(const dv_retention *r, const dv_export_item *items, size_t n,
                                time_t now, unsigned *kept, int *del, drover_error *err)
{
  time_t *times = calloc(n + 1, sizeof(*times));
  unsigned *bits = calloc(n + 1, sizeof(*bits));
  size_t *idx = calloc(n + 1, sizeof(*idx));
  drover_code rc = DROVER_OK;
  size_t i, j, k, m;

  if(!times || !bits || !idx) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    goto out;
  }
  for(i = 0; !rc && i < n; i = j) {
    long long newest = -1;
    for(j = i; j < n && !strcmp(items[j].instance, items[i].instance); j++)
      ;
    for(k = i, m = 0; k < j; k++) {
      kept[k] = 0;
      del[k] = 0;
      if(items[k].archive && items[k].manifest) {
        times[m] = (time_t)items[k].slot;
        idx[m++] = k;
        newest = items[k].slot;
      }
    }
    if(m)
      rc = dv_retention_apply(r, times, m, now, bits, err);
    for(k = 0; !rc && k < m; k++) {
      kept[idx[k]] = bits[k];
      del[idx[k]] = !bits[k];
    }
    /* A lone object of a killed run is dead once a later slot of the
     * instance is complete (the stack lock keeps a running export out). */
    for(k = i; k < j; k++)
      if(!(items[k].archive && items[k].manifest))
        del[k] = items[k].slot < newest;
  }
out:
  free(times);
  free(bits);
  free(idx);
  return rc;
}
