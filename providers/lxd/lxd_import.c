/* lxd_import.c - the table op backup_import: an instance backup tarball
 * (made by lxd_backup.c, or by `lxc export`) becomes a new instance.
 *
 * The tarball is imported under a temporary name drover-import-<hash of
 * the name>, relabelled, then renamed to its name and started. A restore
 * killed during the (long) import leaves only the temporary instance,
 * which the next import of that name deletes first; the name itself is
 * taken only by a relabelled instance, so what a killed restore leaves
 * under it carries the labels the caller gave (backup_export.c marks its
 * restores that way, to resume them).
 *
 * LXD 5.0's unpack can read the upload from the wrong offset (see
 * unpack_raced); an import that fails that way is sent again, up to
 * IMPORT_TRIES times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "lxd.h"

/* POST /1.0/instances with the tarball as the body. */
static drover_code import_file(lxd_state *st, const char *path, const char *name,
                               double deadline, drover_error *err)
{
  char *ipath = lxd_path(st, "/1.0/instances"), *hname = NULL;
  const char *hdrs[2] = {NULL, NULL};
  drover_http_req req;
  drover_http_response resp;
  drover_error herr;
  json_t *root = NULL;
  const char *op, *type;
  struct stat sb;
  long long size = -1;
  drover_code rc;

  memset(&resp, 0, sizeof(resp));
  if(!ipath || asprintf(&hname, "X-LXD-name: %s", name) < 0) {
    hname = NULL;
    rc = lxd_fail(err, DROVER_E_NOMEM, name, "out of memory");
    goto out;
  }
  if(stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
    size = (long long)sb.st_size;
  if(size < 0) {
    rc = lxd_fail(err, DROVER_E_IO, name, "%s: cannot read the backup file", path);
    goto out;
  }
  hdrs[0] = hname;
  memset(&req, 0, sizeof(req));
  req.version = DROVER_HTTP_REQ_VERSION;
  req.method = "POST";
  req.path = ipath;
  req.headers = hdrs;
  req.content_type = "application/octet-stream";
  req.body_path = path;
  req.body_len = (unsigned long long)size;
  drover_error_clear(&herr);
  rc = drover_http_perform(st->http, &req, &resp, &herr);
  if(rc && !resp.status) {
    rc = lxd_fail(err, rc, name, "%s: %s", st->where, herr.text);
    goto out;
  }
  root = resp.body ? json_loadb(resp.body, resp.len, 0, NULL) : NULL;
  type = json_string_value(json_object_get(root, "type"));
  op = json_string_value(json_object_get(root, "operation"));
  if(rc || resp.status >= 300 || !type || strcmp(type, "async") || !op || !*op) {
    rc = lxd_transfer_fail(err, &resp, name, "import of the backup");
    goto out;
  }
  rc = lxd_wait(st, op, deadline, name, 0, NULL, err);
out:
  json_decref(root);
  drover_http_response_free(&resp);
  free(hname);
  free(ipath);
  return rc;
}

/* Whether LXD's failed import is its own read race, not a bad archive.
 * LXD before 5.16 (Debian 12: 5.0.2) leaks a goroutine reading the upload
 * (fixed upstream in 284e7c3), which can move the file offset after LXD
 * seeks back to 0. LXD has just picked the decompressor from the file's
 * first bytes, so one that finds no header was fed from the wrong offset. */
static int unpack_raced(const char *text)
{
  static const char *const no_header[] = {
    "not in gzip format",         /* gzip */
    "File format not recognized", /* xz, lzma */
    "is not a bzip2 file",        /* bzip2 */
    "unsupported format",         /* zstd */
    NULL};
  size_t i;

  if(!strstr(text, "Error starting unpack"))
    return 0;
  for(i = 0; no_header[i]; i++)
    if(strstr(text, no_header[i]))
      return 1;
  return 0;
}

/* Whether key is a MAC address LXD generated (volatile.<nic>.hwaddr). */
static int is_mac_key(const char *key)
{
  size_t n = strlen(key);

  return !strncmp(key, "volatile.", 9) && n > 16 && !strcmp(key + n - 7, ".hwaddr");
}

/* The imported instance at ipath gets labels (label -> text; may be NULL)
 * in place of every drover label its archive carried (an export of the
 * live instance has them), and loses the MAC addresses LXD generated,
 * as `lxc copy` drops them: a copy started beside the original must not
 * share its address. */
static drover_code relabel(lxd_state *st, const char *ipath, const char *name,
                           const json_t *labels, double deadline, drover_error *err)
{
  json_t *obj = NULL, *cfg = json_object(), *v;
  const char *key;
  char *etag = NULL;
  drover_code rc;

  if(!cfg) {
    rc = lxd_fail(err, DROVER_E_NOMEM, name, "out of memory");
    goto out;
  }
  rc = lxd_get(st, ipath, name, &obj, &etag, err);
  if(!rc && !obj)
    rc = lxd_fail(err, DROVER_E_NOT_FOUND, name, "the imported instance vanished");
  if(rc)
    goto out;
  json_object_foreach(json_object_get(obj, "config"), key, v) {
    if(!strncmp(key, LXD_LABEL_PREFIX, strlen(LXD_LABEL_PREFIX)) || is_mac_key(key))
      continue;
    if(json_object_set(cfg, key, v)) {
      rc = lxd_fail(err, DROVER_E_NOMEM, name, "out of memory");
      goto out;
    }
  }
  json_object_foreach((json_t *)labels, key, v) {
    char *k = NULL;
    if(asprintf(&k, LXD_LABEL_PREFIX "%s", key) < 0 || json_object_set(cfg, k, v)) {
      free(k);
      rc = lxd_fail(err, DROVER_E_NOMEM, name, "out of memory");
      goto out;
    }
    free(k);
  }
  if(lxd_set(obj, "config", json_incref(cfg))) {
    rc = lxd_fail(err, DROVER_E_NOMEM, name, "out of memory");
    goto out;
  }
  /* PUT takes the writable fields and ignores the rest of what GET gave. */
  rc = lxd_call_wait(st, "PUT", ipath, etag, obj, name, deadline, err);
out:
  json_decref(obj);
  json_decref(cfg);
  free(etag);
  return rc;
}

/* The temporary name a tarball is imported under for name: 64 bits of
 * FNV-1a of the name, so each name has its own and a leftover is found
 * again by the next import of that name. */
static void import_name(char out[32], const char *name)
{
  unsigned long long h = 0xcbf29ce484222325ull;

  for(; *name; name++)
    h = (h ^ (unsigned char)*name) * 0x100000001b3ull;
  snprintf(out, 32, "drover-import-%016llx", h);
}

/* Uploads of one archive before an unpack race (unpack_raced) is given
 * up on: each is the whole archive again. */
#define IMPORT_TRIES 3

drover_code lxd_backup_import(void *state, const char *path, const char *name,
                              const json_t *labels, int start, double deadline,
                              drover_error *err)
{
  lxd_state *st = state;
  char tmp[32];
  char *ipath = lxd_name_path(st, "/1.0/instances/", name, NULL);
  char *spath = lxd_name_path(st, "/1.0/instances/", name, "/state");
  char *tpath = NULL;
  json_t *body = NULL, *obj = NULL;
  drover_code rc;
  const char *made = NULL; /* what to delete again on failure */
  drover_error ie;
  int tries;

  deadline = lxd_deadline(st, deadline);
  import_name(tmp, name);
  tpath = lxd_name_path(st, "/1.0/instances/", tmp, NULL);
  if(!ipath || !spath || !tpath) {
    rc = lxd_fail(err, DROVER_E_NOMEM, name, "out of memory");
    goto out;
  }
  /* Refuse an existing name before sending gigabytes. */
  rc = lxd_get(st, ipath, name, &obj, NULL, err);
  if(!rc && obj)
    rc = lxd_fail(err, DROVER_E_CONFLICT, name, "instance %s already exists", name);
  /* What a killed import of this name left goes first. */
  if(!rc)
    rc = lxd_drop_instance(st, tmp, deadline, err);
  if(rc)
    goto out;
  made = tmp;
  for(tries = 1;; tries++) {
    drover_error_clear(&ie);
    rc = import_file(st, path, tmp, deadline, &ie);
    if(!rc || tries == IMPORT_TRIES || !unpack_raced(ie.text) || drover_now() >= deadline)
      break;
    /* LXD reverted what it made; whatever is left goes before the next. */
    rc = lxd_drop_instance(st, tmp, deadline, err);
    if(rc)
      break;
  }
  if(rc && err && !err->code)
    *err = ie;
  if(!rc)
    rc = relabel(st, tpath, tmp, labels, deadline, err);
  if(!rc) {
    body = json_pack("{s:s}", "name", name);
    rc = body ? lxd_call_wait(st, "POST", tpath, NULL, body, name, deadline, err)
              : lxd_fail(err, DROVER_E_NOMEM, name, "out of memory");
    json_decref(body);
    body = NULL;
  }
  if(rc)
    goto out;
  made = name;
  if(start) {
    body = json_pack("{s:s, s:i}", "action", "start", "timeout", 30);
    rc = body ? lxd_call_wait(st, "PUT", spath, NULL, body, name, deadline, err)
              : lxd_fail(err, DROVER_E_NOMEM, name, "out of memory");
  }
out:
  if(rc && made) {
    /* Nothing half made: the imported instance goes again. */
    drover_error e2;
    drover_error_clear(&e2);
    lxd_drop_instance(st, made, deadline, &e2);
  }
  json_decref(body);
  json_decref(obj);
  free(tpath);
  free(spath);
  free(ipath);
  return rc;
}
