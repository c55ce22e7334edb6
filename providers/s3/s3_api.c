/* s3_api.c - signed S3 requests on the shared transport, error mapping,
 * bounded parallel jobs, and the helpers the types share. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "config.h"
#include "s3.h"
#include "aws_xml.h"
#include "aws_sign.h"

void s3_strv_free(char **v, size_t n)
{
  size_t i;

  for(i = 0; v && i < n; i++)
    free(v[i]);
  free(v);
}

/* --------------------------------------------------------------------------
 * Handles: the endpoint, or one per bucket for virtual-hosted style
 */

static drover_code new_handle(s3_state *st, const char *host, drover_http **out,
                              drover_error *err)
{
  drover_http_config hc;
  char *url = NULL;
  drover_code rc;

  memset(&hc, 0, sizeof(hc));
  hc.version = DROVER_HTTP_CONFIG_VERSION;
  if(asprintf(&url, "%s://%s", st->scheme, host) < 0)
    return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  hc.base_url = url;
  hc.ca_file = st->ca_file;
  hc.timeout = st->timeout;
  rc = drover_http_new(out, &hc, err);
  free(url);
  return rc;
}

/* The handle for bucket (borrowed from st). */
static drover_code handle_for(s3_state *st, const char *bucket, drover_http **out,
                              drover_error *err)
{
  drover_code rc = DROVER_OK;
  char *host = NULL;
  size_t i;

  if(st->path_style || !bucket) {
    *out = st->http;
    return DROVER_OK;
  }
  pthread_mutex_lock(&st->lock);
  for(i = 0; i < st->nvh; i++)
    if(!strcmp(st->vh[i].bucket, bucket)) {
      *out = st->vh[i].http;
      goto out;
    }
  {
    s3_vhost *g = realloc(st->vh, (st->nvh + 1) * sizeof(*g));
    drover_http *h = NULL;
    if(!g || asprintf(&host, "%s.%s", bucket, st->host) < 0) {
      if(g)
        st->vh = g;
      host = NULL;
      rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
      goto out;
    }
    st->vh = g;
    rc = new_handle(st, host, &h, err);
    if(rc)
      goto out;
    st->vh[st->nvh].bucket = strdup(bucket);
    if(!st->vh[st->nvh].bucket) {
      drover_http_free(h);
      rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
      goto out;
    }
    st->vh[st->nvh++].http = h;
    *out = h;
  }
out:
  pthread_mutex_unlock(&st->lock);
  free(host);
  return rc;
}

/* --------------------------------------------------------------------------
 * Signing: the transport calls this before every attempt
 */

typedef struct sign_ctx {
  s3_state *st;
  const char *payload_hash;
  unsigned tries;              /* attempts signed so far */
} sign_ctx;

static drover_code sign_attempt(void *ud, const drover_http_req *req,
                                const drover_http_attempt *attempt,
                                drover_http_headers *add, drover_error *err)
{
  sign_ctx *sc = ud;
  s3_state *st = sc->st;
  drover_sigv4_header hdr[48];
  char *copies[48];
  size_t nh = 0, nc = 0, i;
  drover_sigv4_request sr;
  drover_sigv4_params p;
  drover_code rc = DROVER_OK;

  sc->tries = attempt->number + 1;
  hdr[nh].name = "host";
  hdr[nh++].value = attempt->host;
  /* Every x-amz-* header is signed (S3 requires it); others need not be. */
  for(i = 0; req->headers && req->headers[i]; i++) {
    const char *h = req->headers[i], *colon = strchr(h, ':');
    char *name;
    if(!colon || strncasecmp(h, "x-amz-", 6) || nh == sizeof(hdr) / sizeof(hdr[0]))
      continue;
    name = strndup(h, (size_t)(colon - h));
    if(!name) {
      rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
      goto out;
    }
    copies[nc++] = name;
    hdr[nh].name = name;
    hdr[nh].value = colon + 1;
    nh++;
  }
  memset(&sr, 0, sizeof(sr));
  sr.method = req->method;
  sr.path = req->path;
  sr.query = req->query;
  sr.headers = hdr;
  sr.nheaders = nh;
  sr.payload_hash = sc->payload_hash;
  memset(&p, 0, sizeof(p));
  p.access_key_id = st->cred.akid;
  p.secret_access_key = st->cred.secret;
  p.session_token = st->cred.token;
  p.region = st->region;
  p.service = "s3";
  p.when = time(NULL);          /* the signer is pure; the clock is read here */
  p.flags = DROVER_SIGV4_S3_FLAGS;
  rc = aws_sign_into(add, &sr, &p, err);
out:
  for(i = 0; i < nc; i++)
    free(copies[i]);
  return rc;
}

/* --------------------------------------------------------------------------
 * One request
 */

/* Caller frees. */
static char *join4(const char *a, const char *b, const char *c, const char *d)
{
  char *out = NULL;
  if(asprintf(&out, "%s%s%s%s", a, b, c, d) < 0)
    return NULL;
  return out;
}

/* drover_http's on_progress for drover_s3 transfers: adds up the bytes
 * every part moves and reports them, never past the total (a retried
 * attempt sends its bytes again). */
static void moved(void *userdata, unsigned long long n)
{
  s3_state *st = userdata;
  unsigned long long done = atomic_fetch_add(&st->moved, n) + n;

  st->progress(st->progress_ud, done < st->total ? done : st->total, st->total);
}

void s3_req_init(s3_req *r, const char *method, const char *bucket, const char *key,
                 const char *what)
{
  memset(r, 0, sizeof(*r));
  r->method = method;
  r->bucket = bucket;
  r->key = key;
  r->what = what;
}

void s3_progress_start(s3_state *st, unsigned long long done, unsigned long long total)
{
  atomic_store(&st->moved, done);
  st->total = total;
}

drover_code s3_call(s3_state *st, const s3_req *r, drover_http_response *resp,
                    drover_error *err)
{
  drover_http *h = NULL;
  drover_http_req hr;
  sign_ctx sc;
  char *path = NULL, *ekey = NULL, hash[65], crcline[48];
  const char **hdrs = NULL;
  size_t n = 0;
  drover_code rc;

  memset(resp, 0, sizeof(*resp));
  if(r->tries)
    *r->tries = 0;
  if(r->crc32c || r->body_read || r->body_path) {
    /* The request's headers, the checksum's, and for a streamed body
     * "Expect: 100-continue" (as the AWS SDKs send it): a refusal (auth,
     * a redirect) comes before the body is sent, not after. */
    while(r->headers && r->headers[n])
      n++;
    hdrs = calloc(n + 3, sizeof(*hdrs));
    if(!hdrs)
      return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    if(n)
      memcpy(hdrs, r->headers, n * sizeof(*hdrs));
    if(r->crc32c) {
      snprintf(crcline, sizeof(crcline), "x-amz-checksum-crc32c: %s", r->crc32c);
      hdrs[n++] = crcline;
    }
    if(r->body_read || r->body_path)
      hdrs[n++] = "Expect: 100-continue";
  }
  rc = handle_for(st, r->bucket, &h, err);
  if(rc)
    return rc;
  if(r->key) {
    ekey = drover_sigv4_uri_encode(r->key, strlen(r->key), 1);
    if(!ekey) {
      free(hdrs);
      return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    }
  }
  if(!r->bucket)
    path = strdup("/");
  else if(st->path_style)
    path = ekey ? join4("/", r->bucket, "/", ekey) : join4("/", r->bucket, "", "");
  else
    path = ekey ? join4("/", ekey, "", "") : strdup("/");
  if(!path) {
    free(ekey);
    free(hdrs);
    return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  }
  memset(&hr, 0, sizeof(hr));
  hr.version = DROVER_HTTP_REQ_VERSION;
  hr.method = r->method;
  hr.path = path;
  hr.query = r->query;
  hr.headers = hdrs ? hdrs : r->headers;
  hr.content_type = r->content_type;
  hr.response_path = r->response_path;
  hr.if_match = r->if_match;
  hr.on_body_start = r->on_body_start;
  hr.body_start_userdata = r->body_start_userdata;
  hr.response_to_fd = r->response_to_fd;
  hr.response_fd = r->response_fd;
  hr.response_offset = r->response_offset;
  if(st->progress) {
    hr.on_progress = moved;
    hr.progress_userdata = st;
  }
  sc.st = st;
  sc.tries = 0;
  if(r->body || (!r->body_path && !r->body_read)) {
    /* In memory (or none): the real payload hash. */
    drover_sigv4_sha256_hex(hash, r->body, r->body_len);
    hr.body = r->body;
    hr.body_len = r->body_len;
    sc.payload_hash = hash;
  }
  else {
    hr.body_path = r->body_path;
    hr.body_read = r->body_read;
    hr.body_userdata = r->body_userdata;
    hr.body_len = r->stream_len;
    sc.payload_hash = r->payload_hash ? r->payload_hash : DROVER_SIGV4_UNSIGNED_PAYLOAD;
  }
  hr.payload_hash = sc.payload_hash;
  hr.on_attempt = sign_attempt;
  hr.attempt_userdata = &sc;
  rc = drover_http_perform(h, &hr, resp, err);
  if(r->tries)
    *r->tries = sc.tries;
  if(!rc && resp->status >= 300 && !(r->allow & S3_ALLOW_ERRORS) &&
     !(resp->status == 404 && (r->allow & S3_ALLOW_404)) &&
     !((resp->status == 412 || resp->status == 416) && (r->allow & S3_ALLOW_STALE))) {
    aws_error e;
    const char *what = r->what ? r->what : r->method;
    int auth;
    aws_error_parse(&e, resp->body, resp->len);
    rc = aws_error_class(resp->status, &e);
    auth = !strcmp(e.code, "SignatureDoesNotMatch") || !strcmp(e.code, "InvalidAccessKeyId") ||
           !strcmp(e.code, "InvalidToken") || !strcmp(e.code, "ExpiredToken");
    if(!e.code[0])
      s3_fail(err, rc, NULL, "%s: HTTP %ld", what, resp->status);
    else
      s3_fail(err, rc, NULL, "%s: HTTP %ld %s: %s%s%s%s%s%s%s", what, resp->status, e.code,
              e.message[0] ? e.message : "no message",
              e.request_id[0] ? " (request id " : "", e.request_id,
              e.request_id[0] ? ")" : "",
              auth ? " (check the credentials from " : "", auth ? st->cred.source : "",
              auth ? ")" : "");
  }
  free(path);
  free(ekey);
  free(hdrs);
  return rc;
}

/* --------------------------------------------------------------------------
 * Bounded parallel jobs
 */

typedef struct pool {
  s3_job_fn fn;
  void *ud;
  size_t n;
  atomic_size_t next;
  atomic_int stop;
  pthread_mutex_t mu;
  drover_code rc;
  drover_error err;
} pool;

static void *pool_main(void *arg)
{
  pool *p = arg;

  while(!atomic_load(&p->stop)) {
    size_t i = atomic_fetch_add(&p->next, 1);
    drover_error e;
    drover_code rc;
    if(i >= p->n)
      break;
    drover_error_clear(&e);
    rc = p->fn(p->ud, i, &e);
    if(rc) {
      pthread_mutex_lock(&p->mu);
      if(!p->rc) {
        p->rc = rc;
        p->err = e;
      }
      pthread_mutex_unlock(&p->mu);
      atomic_store(&p->stop, 1);
    }
  }
  return NULL;
}

drover_code s3_parallel(s3_state *st, size_t n, s3_job_fn fn, void *ud, drover_error *err)
{
  pool p;
  pthread_t th[64];
  size_t nt = st->concurrency ? st->concurrency : 1, started = 0, i;

  if(!n)
    return DROVER_OK;
  if(nt > n)
    nt = n;
  if(nt > sizeof(th) / sizeof(th[0]))
    nt = sizeof(th) / sizeof(th[0]);
  memset(&p, 0, sizeof(p));
  p.fn = fn;
  p.ud = ud;
  p.n = n;
  atomic_init(&p.next, 0);
  atomic_init(&p.stop, 0);
  pthread_mutex_init(&p.mu, NULL);
  for(i = 1; i < nt; i++)
    if(pthread_create(&th[started], NULL, pool_main, &p) == 0)
      started++;
  pool_main(&p);              /* the caller's thread works too */
  for(i = 0; i < started; i++)
    pthread_join(th[i], NULL);
  pthread_mutex_destroy(&p.mu);
  if(p.rc) {
    if(err && !err->code)
      *err = p.err;
    return p.rc;
  }
  return DROVER_OK;
}

/* --------------------------------------------------------------------------
 * Shared helpers
 */

drover_code s3_list_buckets(s3_state *st, char ***names, size_t *n, drover_error *err)
{
  s3_req r;
  drover_http_response resp;
  xmlDoc *doc = NULL;
  xmlNode *b;
  drover_code rc;
  size_t cap = 0;

  *names = NULL;
  *n = 0;
  s3_req_init(&r, "GET", NULL, NULL, "list buckets");
  rc = s3_call(st, &r, &resp, err);
  if(!rc)
    rc = aws_xml_parse(&doc, resp.body, resp.len, "s3: list buckets", err);
  if(rc)
    goto out;
  b = aws_xml_child(aws_xml_root(doc, "ListAllMyBucketsResult"), "Buckets");
  for(b = aws_xml_child(b, "Bucket"); b; b = aws_xml_next(b)) {
    char *name = aws_xml_text(b, "Name");
    if(!name)
      continue;
    if(*n == cap) {
      char **g = realloc(*names, (cap ? cap * 2 : 16) * sizeof(*g));
      if(!g) {
        free(name);
        rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
        goto out;
      }
      *names = g;
      cap = cap ? cap * 2 : 16;
    }
    (*names)[(*n)++] = name;
  }
out:
  if(rc) {
    s3_strv_free(*names, *n);
    *names = NULL;
    *n = 0;
  }
  if(doc)
    aws_xml_free(doc);
  drover_http_response_free(&resp);
  return rc;
}

drover_code s3_list_objects(s3_state *st, const char *bucket, const char *prefix,
                            unsigned flags, s3_list_fn fn, void *ud, size_t *pages,
                            drover_error *err)
{
  int refresh = (flags & S3_LIST_REFRESH) != 0;
  char *token = NULL, *eprefix = NULL, what[320];
  drover_code rc = DROVER_OK;

  if(refresh)
    snprintf(what, sizeof(what), "list objects in \"%s\"", bucket);
  else
    snprintf(what, sizeof(what), "list objects");
  if(!prefix)
    prefix = "";
  eprefix = drover_sigv4_uri_encode(prefix, strlen(prefix), 0);
  if(!eprefix)
    return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  for(;;) {
    s3_req r;
    drover_http_response resp;
    xmlDoc *doc = NULL;
    xmlNode *root, *c;
    char *q = NULL, *etok = NULL, trunc[16];
    if(token && !(etok = drover_sigv4_uri_encode(token, strlen(token), 0))) {
      rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
      break;
    }
    if(asprintf(&q, "%s%s%slist-type=2&max-keys=%u&prefix=%s",
                etok ? "continuation-token=" : "", etok ? etok : "", etok ? "&" : "",
                st->list_max_keys, eprefix) < 0) {
      free(etok);
      rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
      break;
    }
    free(etok);
    s3_req_init(&r, "GET", bucket, NULL, NULL);
    r.query = q;
    r.what = what;
    r.allow = refresh ? S3_ALLOW_ERRORS : 0;
    rc = s3_call(st, &r, &resp, err);
    free(q);
    if(pages)
      (*pages)++;
    if(!rc && refresh && (resp.status == 403 || resp.status == 404)) {
      drover_http_response_free(&resp);
      break;
    }
    if(!rc && resp.status >= 300) {
      rc = aws_error_set(err, "s3: list objects", resp.status, resp.body, resp.len);
      drover_error_locate(err, "s3", NULL);
    }
    if(!rc)
      rc = aws_xml_parse(&doc, resp.body, resp.len, "s3: list objects", err);
    drover_http_response_free(&resp);
    if(rc)
      break;
    root = aws_xml_root(doc, "ListBucketResult");
    for(c = aws_xml_child(root, "Contents"); c && !rc; c = aws_xml_next(c)) {
      /* S3 keys are at most 1024 bytes: no allocation per entry. */
      char key[2048], size[32], mod[64];
      s3_list_entry e;
      if(!aws_xml_text_buf(c, "Key", key, sizeof(key))) {
        rc = s3_fail(err, DROVER_E_PROVIDER, NULL, "%s: an entry without a usable Key", what);
        break;
      }
      e.key = key;
      e.size = aws_xml_text_buf(c, "Size", size, sizeof(size)) ? strtoull(size, NULL, 10) : 0;
      e.modified = aws_xml_text_buf(c, "LastModified", mod, sizeof(mod)) ? mod : "";
      rc = fn(ud, &e, err);
    }
    free(token);
    token = NULL;
    if(!rc && aws_xml_text_buf(root, "IsTruncated", trunc, sizeof(trunc)) &&
       !strcmp(trunc, "true")) {
      token = aws_xml_text(root, "NextContinuationToken");
      if(!token)
        rc = s3_fail(err, DROVER_E_PROVIDER, NULL,
                     "%s: truncated page without a continuation token", what);
    }
    aws_xml_free(doc);
    if(rc || !token)
      break;
  }
  free(token);
  free(eprefix);
  return rc;
}

int s3_labels_each(const drover_res_req *req, s3_label_fn fn, void *ud)
{
  int r;

  if((r = fn(ud, DROVER_LABEL_STACK, req->stack)))
    return r;
  if((r = fn(ud, DROVER_LABEL_ADDRESS, req->address)))
    return r;
  if(req->hash && *req->hash && (r = fn(ud, DROVER_LABEL_HASH, req->hash)))
    return r;
  if(req->deps && *req->deps && (r = fn(ud, DROVER_LABEL_DEPS, req->deps)))
    return r;
  return fn(ud, DROVER_LABEL_VERSION, PACKAGE_VERSION);
}

void s3_put_undo(s3_state *st, const char *bucket, const char *key,
                 const drover_http_response *put, const char *etag, unsigned tries,
                 drover_error *err)
{
  const char *vid = drover_http_response_header(put, "x-amz-version-id");
  char *evid = NULL, *q = NULL, cond[80];
  drover_http_response resp;
  drover_error e;
  s3_req r;
  size_t n;
  int marker, replaced = 0;

  memset(&resp, 0, sizeof(resp));
  drover_error_clear(&e);
  /* "null": the version of a bucket that never had versioning on. */
  if(vid && (!*vid || !strcmp(vid, "null")))
    vid = NULL;
  /* Retried: an earlier attempt may have stored a version of its own. */
  marker = vid && tries > 1;
  if(marker)
    vid = NULL;
  if(vid && (!(evid = drover_sigv4_uri_encode(vid, strlen(vid), 0)) ||
             asprintf(&q, "versionId=%s", evid) < 0)) {
    q = NULL;
    drover_error_set(&e, DROVER_E_NOMEM, "out of memory");
  }
  else {
    s3_req_init(&r, "DELETE", bucket, key, NULL);
    r.query = q;
    r.what = "DELETE of what the refused PUT stored";
    r.allow = S3_ALLOW_404;
    /* Without a version id the DELETE names whatever is current: only
     * if that is still what the PUT stored (its ETag), so another
     * writer's object stored since is not deleted. S3 answers 412 when
     * it is not (conditional deletes, 2025); a server that ignores
     * If-Match deletes as before. */
    if(!etag)
      etag = put->etag;
    if(!vid && etag && *etag && strlen(etag) < sizeof(cond) - 2) {
      snprintf(cond, sizeof(cond), etag[0] == '"' ? "%s" : "\"%s\"", etag);
      r.if_match = cond;
      r.allow |= S3_ALLOW_STALE;
    }
    if(!s3_call(st, &r, &resp, &e))
      replaced = resp.status == 412;
  }
  drover_http_response_free(&resp);
  n = err ? strlen(err->text) : 0;
  if(err && e.code)
    snprintf(err->text + n, sizeof(err->text) - n, " (what it stored is still there: %s)",
             e.text);
  else if(err && replaced)
    snprintf(err->text + n, sizeof(err->text) - n, " (another writer replaced what it "
             "stored since, so the key was left as it is)");
  else if(err && marker)
    snprintf(err->text + n, sizeof(err->text) - n, " (sent %u times, so a delete marker now "
             "hides the key; the versions stored are kept)", tries);
  else if(err)
    snprintf(err->text + n, sizeof(err->text) - n, " (the %s it stored was deleted again)",
             vid ? "version" : "object");
  free(evid);
  free(q);
}

/* Caller frees. */
char *s3_stack_prefix(const s3_state *st, const char *stack)
{
  const char *mark = strstr(st->object_prefix, "{stack}");
  char *out = NULL;

  if(!mark)
    return strdup(st->object_prefix);
  if(!stack)
    return strndup(st->object_prefix, (size_t)(mark - st->object_prefix));
  if(asprintf(&out, "%.*s%s%s", (int)(mark - st->object_prefix), st->object_prefix, stack,
              mark + 7) < 0)
    return NULL;
  return out;
}
