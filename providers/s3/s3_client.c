/* s3_client.c - the public S3 transfer API (drover_s3.h) on the
 * provider's state: same settings, credentials, signing and multipart. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "s3.h"
#include "drover_s3.h"

extern const drover_provider dv_provider_s3;

struct drover_s3 {
  s3_state st;
};

drover_code drover_s3_open(drover_s3 **out, const char *settings_json, drover_error *err)
{
  drover_s3 *h = calloc(1, sizeof(*h));
  json_t *cfg = NULL;
  json_error_t je;
  drover_code rc;

  *out = NULL;
  if(!h)
    return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  memset(&je, 0, sizeof(je));
  if(settings_json && *settings_json) {
    cfg = json_loads(settings_json, JSON_REJECT_DUPLICATES, &je);
    if(!json_is_object(cfg)) {
      json_decref(cfg);
      free(h);
      return s3_fail(err, DROVER_E_CONFIG, NULL, "settings are not a JSON object (%s)",
                     je.text[0] ? je.text : "wrong type");
    }
  }
  rc = dv_provider_s3.init(&h->st, cfg, NULL, err);
  json_decref(cfg);
  if(rc) {
    dv_provider_s3.cleanup(&h->st);
    free(h);
    return rc;
  }
  *out = h;
  return DROVER_OK;
}

void drover_s3_close(drover_s3 *s3)
{
  if(!s3)
    return;
  dv_provider_s3.cleanup(&s3->st);
  free(s3);
}

void drover_s3_set_log(drover_s3 *s3, drover_log_fn fn, void *userdata)
{
  s3->st.env.log = fn;
  s3->st.env.log_userdata = userdata;
}

void drover_s3_set_progress(drover_s3 *s3, drover_s3_progress_fn fn, void *userdata)
{
  s3->st.progress = fn;
  s3->st.progress_ud = userdata;
}

/* --------------------------------------------------------------------------
 * List
 */

static drover_code list_buckets(drover_s3 *s3, drover_s3_list_fn fn, void *ud,
                                drover_error *err)
{
  char **names = NULL;
  size_t n = 0, i;
  drover_code rc = s3_list_buckets(&s3->st, &names, &n, err);

  for(i = 0; !rc && i < n; i++) {
    drover_s3_entry e = {names[i], 0, ""};
    if(fn(ud, &e))
      rc = DROVER_E_CANCELLED;
  }
  s3_strv_free(names, n);
  return rc;
}

typedef struct list_ctx {
  drover_s3_list_fn fn;
  void *ud;
} list_ctx;

static drover_code list_one(void *ud, const s3_list_entry *e, drover_error *err)
{
  list_ctx *c = ud;
  drover_s3_entry out;

  (void)err;
  out.name = e->key;
  out.size = e->size;
  out.modified = e->modified;
  return c->fn(c->ud, &out) ? DROVER_E_CANCELLED : DROVER_OK;
}

drover_code drover_s3_list(drover_s3 *s3, const char *bucket, const char *prefix,
                           drover_s3_list_fn fn, void *ud, drover_error *err)
{
  list_ctx c = {fn, ud};

  if(!bucket)
    return list_buckets(s3, fn, ud, err);
  return s3_list_objects(&s3->st, bucket, prefix, 0, list_one, &c, NULL, err);
}

/* --------------------------------------------------------------------------
 * Upload, delete
 */

/* A request on object bucket/key; what (size bytes) names it for errors. */
static void obj_req(s3_req *r, char *what, size_t size, const char *method,
                    const char *bucket, const char *key)
{
  snprintf(what, size, "%s object \"%s/%s\"", method, bucket, key);
  s3_req_init(r, method, bucket, key, what);
}

/* What a pass the caller made over the file anyway (the SHA-256 of
 * drover_s3_upload_checked) gives a single PUT: the file's status from
 * before that pass, which the PUT judges a change against, and with the
 * setting CRC32C the whole file's CRC32C, which put_stream sends instead of
 * reading the file again. */
typedef struct known_crc {
  uint32_t crc;
  struct stat before;
} known_crc;

/* One PUT streamed from fd, UNSIGNED-PAYLOAD as curl does. Checked by
 * CRC32C (the default "checksum" setting): one pass over the file
 * computes it (CPU instruction: about 20 times cheaper than MD5), or the
 * caller's own pass did (known, else NULL); the server checks the bytes
 * against it before storing them, and its answer must carry the same
 * value; a file changed between the two reads is refused by the server
 * (BadDigest). With "none" there is no pass and no checksum. Either way a
 * change during the send is caught by the file's status
 * (s3_file_unchanged), for a server that checks nothing; what such a
 * server stored is deleted again (s3_put_undo). */
static drover_code put_stream(s3_state *st, int fd, unsigned long long size,
                              const char *bucket, const char *key, const char *content_type,
                              const char *const *hdrs, const known_crc *known,
                              drover_error *err)
{
  s3_req r;
  drover_http_response resp;
  s3_md5_body body;
  struct stat before;
  uint32_t crc = 0;
  char what[1200], b64[9];
  int sum = st->checksum == S3_SUM_CRC32C, stored = 0;
  unsigned tries = 0;
  drover_code rc = DROVER_OK;

  memset(&resp, 0, sizeof(resp));
  if(known) {
    before = known->before;
    crc = known->crc;
  }
  else {
    if(fstat(fd, &before) != 0)
      return s3_fail(err, DROVER_E_IO, NULL, "fstat: %s", strerror(errno));
    if(sum)
      rc = s3_file_crc32c(&crc, fd, 0, size, err);
  }
  if(!rc)
    rc = s3_md5_body_init(&body, fd, 0, size, 0, err);
  if(rc)
    return rc;
  s3_crc32c_b64(b64, crc);
  obj_req(&r, what, sizeof(what), "PUT", bucket, key);
  r.headers = hdrs;
  r.content_type = content_type;
  r.body_read = s3_md5_body_read;
  r.body_userdata = &body;
  r.stream_len = size;
  r.crc32c = sum ? b64 : NULL;
  r.tries = &tries;
  rc = s3_call(st, &r, &resp, err);
  if(rc)
    goto out;
  stored = 1;
  rc = s3_file_unchanged(fd, &before, what, NULL, err);
  if(rc || !sum)
    goto out;
  rc = s3_crc32c_confirm(st, drover_http_response_header(&resp, "x-amz-checksum-crc32c"),
                         b64, what, NULL, err);
out:
  if(rc && stored)
    s3_put_undo(st, bucket, key, &resp, NULL, tries, err);
  drover_http_response_free(&resp);
  s3_md5_body_free(&body);
  return rc;
}

/* One PUT checked by MD5 ("checksum": "md5"), streamed as it is read,
 * UNSIGNED-PAYLOAD as curl and the AWS CLI
 * do: no pass over the file before sending (a payload hash or Content-MD5
 * header would need one). Integrity instead: the MD5 of the bytes sent,
 * computed on the way by the read-ahead thread, must be the ETag the
 * server answers (S3's ETag of a single PUT is the MD5 of the object,
 * except with SSE-KMS/SSE-C, whose ETag is no MD5: then only the length
 * is, by the transport). That MD5 is of the bytes sent, so a file
 * rewritten during the send is caught by its status instead (since: the
 * caller's from before its own read, borrowed; NULL: taken here). hdrs:
 * extra headers (metadata), or NULL. Stored bytes it refuses are deleted
 * again (s3_put_undo). */
static drover_code put_md5(s3_state *st, int fd, unsigned long long size,
                           const char *bucket, const char *key, const char *content_type,
                           const char *const *hdrs, const struct stat *since,
                           drover_error *err)
{
  s3_req r;
  drover_http_response resp;
  s3_ahead *body = NULL;
  struct stat before;
  unsigned char md[16];
  char what[1200], want[33], got[64];
  drover_code rc;
  int stored = 0;
  unsigned tries = 0;

  memset(&resp, 0, sizeof(resp));
  if(since)
    before = *since;
  else if(fstat(fd, &before) != 0)
    return s3_fail(err, DROVER_E_IO, NULL, "fstat: %s", strerror(errno));
  rc = s3_ahead_new(&body, fd, 0, size, err);
  if(rc)
    return rc;
  obj_req(&r, what, sizeof(what), "PUT", bucket, key);
  r.headers = hdrs;
  r.content_type = content_type;
  r.body_read = s3_ahead_read;
  r.body_userdata = body;
  r.stream_len = size;
  r.tries = &tries;
  rc = s3_call(st, &r, &resp, err);
  stored = !rc;
  if(!rc)
    rc = s3_ahead_final(body, md, err);
  if(!rc)
    rc = s3_file_unchanged(fd, &before, what, NULL, err);
  if(rc)
    goto out;
  s3_hex(want, md, 16);
  s3_etag_strip(got, sizeof(got), resp.etag);
  if(strlen(got) == 32 && strspn(got, "0123456789abcdef") == 32 && strcmp(got, want))
    rc = s3_fail(err, DROVER_E_PROVIDER, NULL,
                 "%s: the server stored other bytes than were sent (ETag %s, MD5 sent %s)",
                 what, got, want);
out:
  if(rc && stored)
    s3_put_undo(st, bucket, key, &resp, NULL, tries, err);
  drover_http_response_free(&resp);
  s3_ahead_free(body);
  return rc;
}

/* One PUT, checked as the settings say; known (may be NULL): see
 * known_crc. */
static drover_code put_checked(s3_state *st, int fd, unsigned long long size,
                               const char *bucket, const char *key, const char *content_type,
                               const char *const *hdrs, const known_crc *known,
                               drover_error *err)
{
  if(st->checksum == S3_SUM_MD5)
    return put_md5(st, fd, size, bucket, key, content_type, hdrs,
                   known ? &known->before : NULL, err);
  return put_stream(st, fd, size, bucket, key, content_type, hdrs, known, err);
}

/* Opens path as a regular file: *fd (the caller closes it when >= 0),
 * *size, and *sb, the status size came from (what a multipart upload
 * judges a change by). */
static drover_code open_file(const char *path, int *fd, unsigned long long *size,
                             struct stat *sb, drover_error *err)
{
  *fd = open(path, O_RDONLY | O_CLOEXEC);
  if(*fd < 0 || fstat(*fd, sb) != 0 || !S_ISREG(sb->st_mode))
    return s3_fail(err, DROVER_E_IO, NULL, "%s: %s", path,
                   *fd < 0 ? strerror(errno) : "not a regular file");
  *size = (unsigned long long)sb->st_size;
  return DROVER_OK;
}

drover_code drover_s3_upload(drover_s3 *s3, const char *path, const char *bucket,
                             const char *key, const char *content_type, drover_error *err)
{
  unsigned long long size = 0;
  struct stat sb;
  int fd = -1;
  drover_code rc = open_file(path, &fd, &size, &sb, err);

  if(rc)
    goto out;
  s3_progress_start(&s3->st, 0, size);
  if(!content_type)
    content_type = "application/octet-stream";
  if(size >= s3->st.mp_threshold)
    rc = s3_multipart_upload(&s3->st, bucket, key, fd, size, NULL, NULL, &sb, NULL,
                             content_type, NULL, err);
  else
    rc = put_checked(&s3->st, fd, size, bucket, key, content_type, NULL, NULL, err);
out:
  if(fd >= 0)
    close(fd);
  return rc;
}

drover_code drover_s3_delete(drover_s3 *s3, const char *bucket, const char *key,
                             drover_error *err)
{
  s3_req r;
  drover_http_response resp;
  drover_code rc;
  char what[1200];

  obj_req(&r, what, sizeof(what), "DELETE", bucket, key);
  r.allow = S3_ALLOW_404;
  rc = s3_call(&s3->st, &r, &resp, err);
  drover_http_response_free(&resp);
  return rc;
}

/* --------------------------------------------------------------------------
 * Download (s3_download.c)
 */

drover_code drover_s3_download(drover_s3 *s3, const char *bucket, const char *key,
                               const char *path, unsigned long long *resumed_from,
                               drover_error *err)
{
  return s3_download(&s3->st, bucket, key, path, resumed_from, err);
}

/* --------------------------------------------------------------------------
 * Presign
 */

drover_code drover_s3_presign(char **url, drover_s3 *s3, const char *method,
                              const char *bucket, const char *key, long expires,
                              drover_error *err)
{
  s3_state *st = &s3->st;
  char *ekey = drover_sigv4_uri_encode(key, strlen(key), 1), *path = NULL, *host = NULL;
  drover_sigv4_header hdr[1];
  drover_sigv4_request sr;
  drover_sigv4_params p;
  drover_sigv4_result res;
  drover_code rc;

  *url = NULL;
  memset(&res, 0, sizeof(res));
  if(!ekey)
    return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  if(st->path_style) {
    host = strdup(st->host);
    if(asprintf(&path, "/%s/%s", bucket, ekey) < 0)
      path = NULL;
  }
  else {
    if(asprintf(&host, "%s.%s", bucket, st->host) < 0)
      host = NULL;
    if(asprintf(&path, "/%s", ekey) < 0)
      path = NULL;
  }
  if(!host || !path) {
    rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  hdr[0].name = "host";
  hdr[0].value = host;
  memset(&sr, 0, sizeof(sr));
  sr.method = method;
  sr.path = path;
  sr.headers = hdr;
  sr.nheaders = 1;
  sr.payload_hash = DROVER_SIGV4_UNSIGNED_PAYLOAD;
  memset(&p, 0, sizeof(p));
  p.access_key_id = st->cred.akid;
  p.secret_access_key = st->cred.secret;
  p.session_token = st->cred.token;
  p.region = st->region;
  p.service = "s3";
  p.when = time(NULL);
  p.expires = expires;
  rc = drover_sigv4_presign(&res, &sr, &p, err);
  if(!rc && asprintf(url, "%s://%s%s?%s", st->scheme, host, path, res.query) < 0) {
    *url = NULL;
    rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  }
out:
  drover_sigv4_result_free(&res);
  free(ekey);
  free(path);
  free(host);
  return rc;
}

/* --------------------------------------------------------------------------
 * Checked upload, small objects, metadata (backup exports)
 */

drover_code drover_s3_upload_checked(drover_s3 *s3, const char *path, const char *bucket,
                                     const char *key, const char *content_type,
                                     const char *const *meta, char sha256[65],
                                     drover_error *err)
{
  char md5[33] = "";
  const char **hdrs = NULL;
  char **lines = NULL;
  unsigned long long size = 0, span = 0;
  size_t n = 0, i;
  int fd = -1, multi, crc, whole;
  known_crc known;
  uint32_t *part_crcs = NULL;
  drover_code rc;

  sha256[0] = '\0';
  memset(&known, 0, sizeof(known));
  for(n = 0; meta && meta[2 * n]; n++)
    ;
  /* The status is taken before the read below, and the upload judges a
   * change against it (a single PUT after its send, a multipart upload
   * before it completes), so a file changed while it is read, or between
   * the reads, is caught as one changed during the upload's own read
   * would be. */
  rc = open_file(path, &fd, &size, &known.before, err);
  if(rc)
    goto out;
  s3_progress_start(&s3->st, 0, size);
  multi = size >= s3->st.mp_threshold;
  crc = !multi && s3->st.checksum == S3_SUM_CRC32C;
  whole = s3_whole_md5_wanted(&s3->st, size);
  /* One read first: the SHA-256 goes with the request's headers as
   * metadata, so it is needed before sending. The same read gives what
   * the upload is then checked by, so it need not read the file again:
   * - a single PUT checked by CRC32C: the whole file's CRC32C;
   * - a multipart upload checked by CRC32C: each part's, which the part
   *   would otherwise read for before sending it;
   * - a multipart upload: the MD5, which its final ETag is checked
   *   against when the server answers with the whole object's MD5
   *   (s3rver). With CRC32C that is the only end-to-end check left on a
   *   server that ignores S3's checksums (s3rver again: it confirms no
   *   CRC32C), so it stays in both settings that check (not in "none").
   * A single PUT needs no MD5 here: checked by ETag, it hashes the bytes
   * as they are sent. */
  if(multi)
    rc = s3_part_crcs_new(&s3->st, size, &part_crcs, &span, err);
  if(!rc)
    rc = s3_file_digests(sha256, whole ? md5 : NULL, crc ? &known.crc : part_crcs, span, fd,
                         size, path, NULL, err);
  if(rc)
    goto out;
  hdrs = calloc(n + 2, sizeof(*hdrs));
  lines = calloc(n + 1, sizeof(*lines));
  if(!hdrs || !lines) {
    rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  for(i = 0; i <= n; i++) {
    const char *name = i < n ? meta[2 * i] : "sha256";
    const char *value = i < n ? meta[2 * i + 1] : sha256;
    if(strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(name) ||
       strpbrk(value, "\r\n")) {
      rc = s3_fail(err, DROVER_E_ARG, NULL, "metadata \"%s\": names are [a-z0-9-], values "
                   "one line", name);
      goto out;
    }
    if(asprintf(&lines[i], "x-amz-meta-" S3_META_PREFIX "%s: %s", name, value) < 0) {
      lines[i] = NULL;
      rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
      goto out;
    }
    hdrs[i] = lines[i];
  }
  if(!content_type)
    content_type = "application/octet-stream";
  if(multi)
    rc = s3_multipart_upload(&s3->st, bucket, key, fd, size, whole ? md5 : NULL, part_crcs,
                             &known.before, hdrs, content_type, NULL, err);
  else
    rc = put_checked(&s3->st, fd, size, bucket, key, content_type, hdrs, &known, err);
out:
  free(part_crcs);
  for(i = 0; lines && i <= n; i++)
    free(lines[i]);
  free(lines);
  free(hdrs);
  if(fd >= 0)
    close(fd);
  if(rc)
    sha256[0] = '\0';
  return rc;
}

drover_code drover_s3_put(drover_s3 *s3, const char *bucket, const char *key,
                          const void *data, size_t len, const char *content_type,
                          drover_error *err)
{
  s3_req r;
  drover_http_response resp;
  char what[1200];
  drover_code rc;

  obj_req(&r, what, sizeof(what), "PUT", bucket, key);
  r.content_type = content_type ? content_type : "application/octet-stream";
  r.body = data;
  r.body_len = len;
  rc = s3_call(&s3->st, &r, &resp, err);
  drover_http_response_free(&resp);
  return rc;
}

drover_code drover_s3_get(drover_s3 *s3, const char *bucket, const char *key, size_t max,
                          char **data, size_t *len, drover_error *err)
{
  s3_req r;
  drover_http_response resp;
  char what[1200];
  drover_code rc;

  *data = NULL;
  *len = 0;
  obj_req(&r, what, sizeof(what), "GET", bucket, key);
  rc = s3_call(&s3->st, &r, &resp, err);
  if(!rc && resp.len > max)
    rc = s3_fail(err, DROVER_E_PROVIDER, NULL, "%s: %zu bytes, more than the %zu expected",
                 what, resp.len, max);
  if(!rc) {
    *data = resp.body;
    *len = resp.len;
    resp.body = NULL;
  }
  drover_http_response_free(&resp);
  return rc;
}

drover_code drover_s3_head(drover_s3 *s3, const char *bucket, const char *key,
                           unsigned long long *size, char **sha256, drover_error *err)
{
  s3_req r;
  drover_http_response resp;
  char what[1200];
  const char *v;
  drover_code rc;

  *size = 0;
  *sha256 = NULL;
  obj_req(&r, what, sizeof(what), "HEAD", bucket, key);
  rc = s3_call(&s3->st, &r, &resp, err);
  if(!rc) {
    v = drover_http_response_header(&resp, "content-length");
    *size = v ? strtoull(v, NULL, 10) : 0;
    v = drover_http_response_header(&resp, "x-amz-meta-" S3_META_PREFIX "sha256");
    if(v && !(*sha256 = strdup(v)))
      rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  }
  drover_http_response_free(&resp);
  return rc;
}
