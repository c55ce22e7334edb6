/* s3_object.c - s3.object: one object whose content is an inline string
 * or a local file, with a content type and user metadata.
 *
 * Keys are stored under the stack's prefix (settings object_prefix,
 * "drover/{stack}/"), so refresh is ListObjectsV2 on that prefix, page by
 * page, then one read per object for its metadata (the labels), at most
 * st->concurrency at a time. Small objects are read with GET (metadata and
 * content in one call), larger ones with HEAD.
 *
 * Diff: the metadata records the SHA-256 of the content and, for a file,
 * its path, size and mtime at upload. Refresh reports "source" as the
 * path only when the local file still matches: same size and mtime (not
 * read at all), or else the same SHA-256 (read once). Inline content is
 * reported as the object's bytes, checked against the recorded SHA-256.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "s3.h"

/* Objects up to this size are read whole at refresh (inline content). */
#define INLINE_MAX (1u << 20)
#define META "x-amz-meta-"

static const drover_prop object_props[] = {
  {"bucket", DROVER_T_STRING, DROVER_PROP_REQUIRED | DROVER_PROP_FORCE_NEW, NULL, NULL,
   "bucket name (e.g. ${resources.data.name})"},
  {"key", DROVER_T_STRING, DROVER_PROP_REQUIRED | DROVER_PROP_FORCE_NEW, NULL, NULL,
   "object key, below the stack's prefix (settings object_prefix)"},
  {"content", DROVER_T_STRING, DROVER_PROP_DIGEST, NULL, NULL,
   "the object's content, inline (or source)"},
  {"source", DROVER_T_STRING, 0, NULL, NULL, "a local file to upload (or content)"},
  {"content_type", DROVER_T_STRING, 0, "\"application/octet-stream\"", NULL,
   "Content-Type stored with the object"},
  {"metadata", DROVER_T_STRING_MAP, 0, "{}", NULL,
   "user metadata (x-amz-meta-*; keys \"drover-*\" are drover's)"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

/* Deleted before the buckets that hold them. The object's identity is
 * its bucket and key (drover_live.name "bucket/key", also its "id"), not a
 * name drover derives: DROVER_RTYPE_SERVER_ID makes ownership the labels
 * alone, as for IDs a cloud assigns, so the engine's copy-by-name rules
 * (made for LXD's `lxc copy`) do not mistake every object for a copy. */
/* What references may read besides the properties and the name. */
static const char *const object_exports[] = {"id", "size", "full_key", "etag", NULL};

const drover_rtype s3_object_type = {
  .name = "s3.object", .props = object_props, .delete_order = 1,
  .doc = "an S3 object", .exports = object_exports, .flags = DROVER_RTYPE_SERVER_ID
};

/* --------------------------------------------------------------------------
 * Helpers
 */

static char *percent_decode(const char *s)
{
  char *out = malloc(strlen(s) + 1), *o = out;

  if(!out)
    return NULL;
  while(*s) {
    unsigned int c;
    if(s[0] == '%' && s[1] && s[2] && sscanf(s + 1, "%2x", &c) == 1) {
      *o++ = (char)c;
      s += 3;
    }
    else {
      *o++ = *s++;
    }
  }
  *o = '\0';
  return out;
}

/* "bucket/key" -> bucket and key (both owned by the caller). */
static drover_code split_name(const char *name, char **bucket, char **key, drover_error *err)
{
  const char *slash = strchr(name, '/');

  *bucket = *key = NULL;
  if(!slash || slash == name || !slash[1])
    return s3_fail(err, DROVER_E_ARG, NULL, "object name \"%s\" is not BUCKET/KEY", name);
  *bucket = strndup(name, (size_t)(slash - name));
  *key = strdup(slash + 1);
  if(!*bucket || !*key) {
    free(*bucket);
    free(*key);
    *bucket = *key = NULL;
    return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  }
  return DROVER_OK;
}

static const char *meta(const drover_http_response *resp, const char *name)
{
  char h[96];
  snprintf(h, sizeof(h), META S3_META_PREFIX "%s", name);
  return drover_http_response_header(resp, h);
}

static char *dup_or_null(const char *s)
{
  return s ? strdup(s) : NULL;
}

/* Live object from a HEAD/GET answer; *out NULL when it is not stack's
 * (any drover stack when stack is NULL). *out owned by the caller. */
static drover_code make_live(s3_state *st, drover_live **out, const char *bucket,
                             const char *key, const char *stack,
                             const drover_http_response *resp, int have_body,
                             drover_error *err)
{
  const char *s = meta(resp, DROVER_LABEL_STACK), *src, *sha, *ct;
  char *prefix = NULL, *name = NULL, *path = NULL;
  drover_live *l = NULL;
  json_t *md = NULL;
  unsigned long long obj_size = 0;
  const char *cl = drover_http_response_header(resp, "content-length");
  drover_code rc = DROVER_OK;
  size_t i, plen;

  *out = NULL;
  if(!s || (stack && strcmp(s, stack)))
    return DROVER_OK;
  prefix = s3_stack_prefix(st, s);
  l = drover_live_new();
  md = json_object();
  if(!prefix || !l || !md || asprintf(&name, "%s/%s", bucket, key) < 0) {
    name = NULL;
    goto nomem;
  }
  plen = strlen(prefix);
  if(strncmp(key, prefix, plen)) {
    /* Labelled for this stack but outside its prefix: not listable by
     * refresh, so not claimed either. */
    drover_live_free(l);
    l = NULL;
    goto out;
  }
  l->name = name;
  name = NULL;
  l->stack = dup_or_null(s);
  l->address = dup_or_null(meta(resp, DROVER_LABEL_ADDRESS));
  l->hash = dup_or_null(meta(resp, DROVER_LABEL_HASH));
  l->deps = dup_or_null(meta(resp, DROVER_LABEL_DEPS));
  l->etag = dup_or_null(resp->etag);
  if(!l->stack)
    goto nomem;
  if(have_body)
    obj_size = resp->len;
  else if(cl)
    obj_size = strtoull(cl, NULL, 10);
  for(i = 0; i < resp->nheaders; i++) {
    const char *h = resp->headers[2 * i];
    if(strncasecmp(h, META, strlen(META)) ||
       !strncasecmp(h + strlen(META), S3_META_PREFIX, strlen(S3_META_PREFIX)))
      continue;
    if(json_object_set_new(md, h + strlen(META), json_string(resp->headers[2 * i + 1])))
      goto nomem;
  }
  ct = drover_http_response_header(resp, "content-type");
  sha = meta(resp, "sha256");
  src = meta(resp, "source");
  if(json_object_set_new(l->properties, "bucket", json_string(bucket)) ||
     json_object_set_new(l->properties, "key", json_string(key + plen)) ||
     json_object_set_new(l->properties, "content_type", json_string(ct ? ct : "")) ||
     json_object_set(l->properties, "metadata", md))
    goto nomem;
  if(src) {
    /* The local file still what was uploaded? size+mtime first (no read),
     * then its SHA-256. */
    struct stat sb;
    const char *msize = meta(resp, "size"), *mtime = meta(resp, "mtime");
    char now_mtime[64], hash[65];
    int same = 0, fd;
    path = percent_decode(src);
    if(!path)
      goto nomem;
    if(stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
       (unsigned long long)sb.st_size == obj_size) {
      snprintf(now_mtime, sizeof(now_mtime), "%lld.%09ld", (long long)sb.st_mtim.tv_sec,
               sb.st_mtim.tv_nsec);
      if(msize && mtime && strtoull(msize, NULL, 10) == obj_size && !strcmp(mtime, now_mtime)) {
        same = 1;
      }
      else if(sha && (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
        drover_error ignore;
        drover_error_clear(&ignore);
        same = !s3_file_digests(hash, NULL, NULL, 0, fd, obj_size, path, NULL, &ignore) &&
               !strcmp(hash, sha);
        close(fd);
      }
    }
    if(json_object_set_new(l->properties, "source", same ? json_string(path) : json_null()))
      goto nomem;
  }
  else {
    /* Inline content: the bytes themselves when read and intact; above
     * INLINE_MAX (not read) the recorded SHA-256, which the engine
     * compares with the desired content's, provided the object is still
     * what was written: its ETag, where it is an MD5, the recorded MD5. */
    char hash[65], etag[64];
    const char *md5 = meta(resp, "md5");
    json_t *content = NULL;
    if(have_body) {
      drover_sigv4_sha256_hex(hash, resp->body, resp->len);
      if(sha && !strcmp(hash, sha))
        content = json_stringn(resp->body, resp->len); /* NULL: not UTF-8 */
    }
    else if(sha && md5) {
      s3_etag_strip(etag, sizeof(etag), resp->etag);
      if(strlen(etag) != 32 || strspn(etag, "0123456789abcdef") != 32 || !strcmp(etag, md5))
        content = json_pack("{s:s}", "sha256", sha);
    }
    if(json_object_set_new(l->properties, "content", content ? content : json_null()))
      goto nomem;
  }
  if(json_object_update(l->attributes, l->properties) ||
     json_object_set_new(l->attributes, "size", json_integer((json_int_t)obj_size)) ||
     json_object_set_new(l->attributes, "full_key", json_string(key)) ||
     json_object_set_new(l->attributes, "etag", json_string(resp->etag ? resp->etag : "")))
    goto nomem;
  *out = l;
  l = NULL;
  goto out;
nomem:
  rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
out:
  drover_live_free(l);
  json_decref(md);
  free(prefix);
  free(name);
  free(path);
  return rc;
}

/* GET (small) or HEAD one object. *out NULL when absent or not stack's. */
static drover_code read_object(s3_state *st, const char *bucket, const char *key,
                               unsigned long long size_hint, const char *stack,
                               drover_live **out, drover_error *err)
{
  s3_req r;
  drover_http_response resp;
  drover_code rc;
  char what[512];
  int get = size_hint <= INLINE_MAX;

  *out = NULL;
  snprintf(what, sizeof(what), "%s object \"%s/%s\"", get ? "GET" : "HEAD", bucket, key);
  s3_req_init(&r, get ? "GET" : "HEAD", bucket, key, what);
  r.allow = S3_ALLOW_404;
  rc = s3_call(st, &r, &resp, err);
  if(!rc && resp.status == 200)
    rc = make_live(st, out, bucket, key, stack, &resp, get, err);
  drover_http_response_free(&resp);
  return rc;
}

/* --------------------------------------------------------------------------
 * Refresh
 */

typedef struct found {
  char *bucket;                 /* borrowed from the bucket list */
  char *key;
  unsigned long long size;
} found;

typedef struct list_job {
  s3_state *st;
  const char *stack;
  found *f;
  size_t n, cap;
  size_t pages;                 /* ListObjectsV2 calls made */
  char *bucket;                 /* the one being listed (borrowed) */
  drover_live **live;
} list_job;

/* One listed key: kept for the metadata reads. */
static drover_code found_key(void *ud, const s3_list_entry *e, drover_error *err)
{
  list_job *j = ud;

  if(j->n == j->cap) {
    size_t nc = j->cap ? j->cap * 2 : 256;
    found *g = realloc(j->f, nc * sizeof(*g));
    if(!g)
      return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    j->f = g;
    j->cap = nc;
  }
  j->f[j->n].bucket = j->bucket;
  j->f[j->n].size = e->size;
  j->f[j->n].key = strdup(e->key);
  if(!j->f[j->n].key)
    return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  j->n++;
  return DROVER_OK;
}

static drover_code read_job(void *ud, size_t i, drover_error *err)
{
  list_job *j = ud;
  return read_object(j->st, j->f[i].bucket, j->f[i].key, j->f[i].size, j->stack, &j->live[i],
                     err);
}

static drover_code object_list(s3_state *st, const char *stack, drover_live_list *out,
                               drover_error *err)
{
  list_job j;
  char **buckets = NULL, *prefix = s3_stack_prefix(st, stack);
  size_t nb = 0, i;
  drover_code rc;

  memset(&j, 0, sizeof(j));
  j.st = st;
  j.stack = stack;
  if(!prefix)
    return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  rc = s3_list_buckets(st, &buckets, &nb, err);
  for(i = 0; !rc && i < nb; i++) {
    j.bucket = buckets[i];
    rc = s3_list_objects(st, buckets[i], prefix, S3_LIST_REFRESH, found_key, &j, &j.pages,
                         err);
  }
  if(rc)
    goto out;
  j.live = calloc(j.n ? j.n : 1, sizeof(*j.live));
  if(!j.live) {
    rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  rc = s3_parallel(st, j.n, read_job, &j, err);
  for(i = 0; i < j.n; i++) {
    if(!rc && j.live[i]) {
      rc = drover_live_list_push(out, j.live[i]);
      if(rc)
        s3_fail(err, rc, NULL, "out of memory");
    }
    else {
      drover_live_free(j.live[i]);
    }
  }
  drover_logf(&st->env, DROVER_LOG_DEBUG,
              "s3: %zu object(s) under \"%s\" in %zu bucket(s), %zu list page(s)", j.n, prefix,
              nb, j.pages);
out:
  for(i = 0; i < j.n; i++)
    free(j.f[i].key);
  free(j.f);
  free(j.live);
  s3_strv_free(buckets, nb);
  free(prefix);
  return rc;
}

static drover_code object_read(s3_state *st, const char *name, drover_live **out,
                               drover_error *err)
{
  char *bucket, *key;
  drover_code rc = split_name(name, &bucket, &key, err);

  *out = NULL;
  if(rc)
    return rc;
  rc = read_object(st, bucket, key, 0, NULL, out, err);
  if(!rc && !*out)
    rc = s3_fail(err, DROVER_E_NOT_FOUND, NULL, "object \"%s\" not found or not drover's",
                 name);
  free(bucket);
  free(key);
  return rc;
}

/* --------------------------------------------------------------------------
 * Writing
 */

typedef struct hdrs {
  char *v[64];
  size_t n;
} hdrs;

static int hdr_add(hdrs *h, const char *name, const char *value)
{
  char *line = NULL;

  if(h->n + 1 >= sizeof(h->v) / sizeof(h->v[0]) || asprintf(&line, "%s: %s", name, value) < 0)
    return -1;
  h->v[h->n++] = line;
  h->v[h->n] = NULL;
  return 0;
}

static int label_hdr(void *ud, const char *label, const char *value)
{
  char name[96];
  snprintf(name, sizeof(name), META S3_META_PREFIX "%s", label);
  return hdr_add(ud, name, value);
}

static void hdrs_free(hdrs *h)
{
  size_t i;
  for(i = 0; i < h->n; i++)
    free(h->v[i]);
  h->n = 0;
}

static int valid_meta_key(const char *k)
{
  if(!*k)
    return 0;
  for(; *k; k++)
    if(!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '-' || *k == '_'))
      return 0;
  return 1;
}

/* *out owned by the caller: the object as written. */
static drover_code written_live(drover_live **out, const drover_res_req *req, const char *bucket,
                                const char *full_key, const char *etag,
                                unsigned long long size, drover_error *err)
{
  drover_live *l = drover_live_new();
  const char *k;
  json_t *v;

  *out = NULL;
  if(!l || asprintf(&l->name, "%s/%s", bucket, full_key) < 0) {
    if(l)
      l->name = NULL;
    goto nomem;
  }
  l->stack = dup_or_null(req->stack);
  l->address = dup_or_null(req->address);
  l->hash = dup_or_null(req->hash);
  l->deps = req->deps && *req->deps ? strdup(req->deps) : NULL;
  l->etag = dup_or_null(etag);
  json_object_foreach((json_t *)req->properties, k, v)
    if(json_object_set(l->properties, k, v))
      goto nomem;
  if(json_object_update(l->attributes, l->properties) ||
     json_object_set_new(l->attributes, "size", json_integer((json_int_t)size)) ||
     json_object_set_new(l->attributes, "full_key", json_string(full_key)) ||
     json_object_set_new(l->attributes, "etag", json_string(etag ? etag : "")))
    goto nomem;
  *out = l;
  return DROVER_OK;
nomem:
  drover_live_free(l);
  return s3_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
}

static drover_code object_put(s3_state *st, const drover_res_req *req, const drover_live *cur,
                              drover_live **out, drover_error *err)
{
  const json_t *p = req->properties;
  const char *bucket = json_string_value(json_object_get(p, "bucket"));
  const char *key = json_string_value(json_object_get(p, "key"));
  const json_t *content = json_object_get(p, "content");
  const char *source = json_string_value(json_object_get(p, "source"));
  const char *ctype = json_string_value(json_object_get(p, "content_type"));
  const json_t *md = json_object_get(p, "metadata");
  char *prefix = s3_stack_prefix(st, req->stack), *full = NULL, *esrc = NULL;
  char sha[65], md5[33], num[64], what[1200];
  hdrs h;
  const char *k;
  json_t *v;
  drover_http_response resp;
  s3_req r;
  struct stat sb;
  uint32_t *part_crcs = NULL;
  unsigned long long span = 0;
  s3_md5_body body;             /* zeroed: freeing it unused is a no-op */
  int fd = -1, multi, whole;
  unsigned long long size = 0;
  drover_code rc = DROVER_OK;
  unsigned tries = 0;

  (void)cur;
  *out = NULL;
  memset(&body, 0, sizeof(body));
  memset(&h, 0, sizeof(h));
  memset(&resp, 0, sizeof(resp));
  if(!prefix)
    return s3_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
  if(!bucket || !*bucket || !key || !*key) {
    rc = s3_fail(err, DROVER_E_ARG, req->address, "bucket and key are required");
    goto out;
  }
  if((json_is_string(content) ? 1 : 0) + (source ? 1 : 0) != 1) {
    rc = s3_fail(err, DROVER_E_ARG, req->address,
                 "set exactly one of \"content\" and \"source\"");
    goto out;
  }
  if(asprintf(&full, "%s%s", prefix, key) < 0) {
    full = NULL;
    rc = s3_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
    goto out;
  }
  if(strlen(full) > 1024) {
    rc = s3_fail(err, DROVER_E_ARG, req->address, "key is longer than S3's 1024 bytes");
    goto out;
  }
  snprintf(what, sizeof(what), "PUT object \"%s/%s\"", bucket, full);
  json_object_foreach((json_t *)md, k, v) {
    char name[160];
    if(!valid_meta_key(k) || !strncmp(k, S3_META_PREFIX, strlen(S3_META_PREFIX)) ||
       strlen(k) > 100 || !json_is_string(v)) {
      rc = s3_fail(err, DROVER_E_ARG, req->address,
                   "metadata \"%s\": keys are [a-z0-9_-], not \"%s*\", values strings", k,
                   S3_META_PREFIX);
      goto out;
    }
    snprintf(name, sizeof(name), META "%s", k);
    if(hdr_add(&h, name, json_string_value(v)))
      goto nomem;
  }
  if(s3_labels_each(req, label_hdr, &h))
    goto nomem;

  s3_req_init(&r, "PUT", bucket, full, NULL);
  r.content_type = ctype ? ctype : "application/octet-stream";
  r.what = what;
  if(!source) {
    unsigned char dg[16];
    size = json_string_length(content);
    drover_sigv4_sha256_hex(sha, json_string_value(content), (size_t)size);
    /* The MD5 too: a later refresh that does not read the bytes checks the
     * object's ETag (S3's MD5 of a single PUT) against it. */
    if(!EVP_Digest(json_string_value(content), (size_t)size, dg, NULL, EVP_md5(), NULL))
      goto nomem;
    s3_hex(md5, dg, 16);
    if(label_hdr(&h, "sha256", sha) || label_hdr(&h, "md5", md5))
      goto nomem;
    r.headers = (const char *const *)h.v;
    r.body = json_string_value(content);
    r.body_len = (size_t)size;
    rc = s3_call(st, &r, &resp, err);
    goto done;
  }

  fd = open(source, O_RDONLY | O_CLOEXEC);
  if(fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    rc = s3_fail(err, DROVER_E_IO, req->address, "source %s: %s", source,
                 fd < 0 ? strerror(errno) : "not a regular file");
    goto out;
  }
  size = (unsigned long long)sb.st_size;
  /* The SHA-256 is signed as the payload hash of a single PUT and stored
   * as metadata. Only a multipart upload uses the MD5 (its final ETag
   * against the file's, drover_s3_upload_checked says why) and the
   * parts' CRC32Cs, so a single PUT leaves them out of this read, and
   * "checksum": "none" the MD5 too. */
  multi = size >= st->mp_threshold;
  whole = s3_whole_md5_wanted(st, size);
  if(multi)
    rc = s3_part_crcs_new(st, size, &part_crcs, &span, err);
  if(!rc)
    rc = s3_file_digests(sha, whole ? md5 : NULL, part_crcs, span, fd, size, source, NULL,
                         err);
  if(rc)
    goto out;
  esrc = drover_sigv4_uri_encode(source, strlen(source), 1);
  if(!esrc || label_hdr(&h, "sha256", sha) || label_hdr(&h, "source", esrc))
    goto nomem;
  snprintf(num, sizeof(num), "%llu", size);
  if(label_hdr(&h, "size", num))
    goto nomem;
  snprintf(num, sizeof(num), "%lld.%09ld", (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
  if(label_hdr(&h, "mtime", num))
    goto nomem;
  r.headers = (const char *const *)h.v;
  if(multi) {
    /* Judged against sb, taken before the digest pass: the recorded
     * SHA-256 and mtime are that pass's, so a change after it counts. */
    rc = s3_multipart_upload(st, bucket, full, fd, size, whole ? md5 : NULL, part_crcs, &sb,
                             r.headers, r.content_type, req->address, err);
    if(!rc)
      rc = written_live(out, req, bucket, full, NULL, size, err);
    goto out;
  }
  /* The bytes come from the file that was hashed (fd), not from the path
   * opened again: another file renamed onto the path meanwhile would be
   * sent under this one's SHA-256, and its status would not tell. */
  rc = s3_md5_body_init(&body, fd, 0, size, 0, err);
  if(rc)
    goto out;
  r.body_read = s3_md5_body_read;
  r.body_userdata = &body;
  r.stream_len = size;
  r.payload_hash = sha;         /* signed: a file changed since hashing is refused */
  r.tries = &tries;
  rc = s3_call(st, &r, &resp, err);
  /* A server that checks no payload hash (s3rver) stores the changed
   * bytes: the file's status from before the digest pass tells, and they
   * go again. */
  if(!rc && (rc = s3_file_unchanged(fd, &sb, what, req->address, err)))
    s3_put_undo(st, bucket, full, &resp, NULL, tries, err);
done:
  if(!rc)
    rc = written_live(out, req, bucket, full, resp.etag, size, err);
  goto out;
nomem:
  rc = s3_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
out:
  if(rc)
    drover_error_locate(err, "s3", req->address);
  s3_md5_body_free(&body);
  if(fd >= 0)
    close(fd);
  drover_http_response_free(&resp);
  hdrs_free(&h);
  free(prefix);
  free(full);
  free(esrc);
  free(part_crcs);
  return rc;
}

static drover_code object_del(s3_state *st, const drover_live *cur, drover_error *err)
{
  char *bucket, *key, what[512];
  s3_req r;
  drover_http_response resp;
  drover_code rc = split_name(cur->name, &bucket, &key, err);

  if(rc)
    return rc;
  snprintf(what, sizeof(what), "DELETE object \"%s\"", cur->name);
  s3_req_init(&r, "DELETE", bucket, key, what);
  r.allow = S3_ALLOW_404;
  rc = s3_call(st, &r, &resp, err);
  if(rc)
    drover_error_locate(err, "s3", cur->address);
  drover_http_response_free(&resp);
  free(bucket);
  free(key);
  return rc;
}

const s3_type_ops s3_object_ops = {object_list, object_put, object_del, object_read};
