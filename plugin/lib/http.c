/* http.c - the one HTTP module, on libcurl, and drover's global init.
 *
 * Every provider talks to its cloud through drover_http_perform() (or its
 * JSON wrapper drover_http_request()): one curl easy handle per attempt
 * (so any thread may call it, and a retry starts clean), a curl share
 * object for the connection/DNS/TLS-session caches (guarded by mutexes),
 * TLS verification always on, and retries with the shared backoff
 * (backoff.c), bounded per request (max_retries) and over the handle's
 * life (retry_budget, an atomic counter shared by all threads). The body
 * source and sink of an attempt live in http_attempt.c.
 *
 * Error texts name the method and path, never a request body or header:
 * both may hold secrets (cloud-init data, tokens, signatures).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include <curl/curl.h>
#include "backoff.h"
#include "engine.h"
#include "http_int.h"

/* --------------------------------------------------------------------------
 * Global init (refcounted; curl_global_init is not thread safe, so the
 * shells call this once before starting threads)
 */

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned global_refs;

drover_code drover_global_init(void)
{
  drover_code rc = DROVER_OK;

  pthread_mutex_lock(&global_lock);
  if(global_refs == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    rc = DROVER_E_INTERNAL;
  else
    global_refs++;
  pthread_mutex_unlock(&global_lock);
  return rc;
}

void drover_global_cleanup(void)
{
  pthread_mutex_lock(&global_lock);
  if(global_refs > 0 && --global_refs == 0)
    curl_global_cleanup();
  pthread_mutex_unlock(&global_lock);
}

/* --------------------------------------------------------------------------
 * The handle
 */

struct drover_http {
  char *base_url;
  char *host;                   /* authority of base_url, for signers */
  char *unix_socket;
  char *ca_file;
  char *pinned_pubkey;
  char *client_cert;
  char *client_key;
  long connect_timeout_ms;
  long timeout_ms;
  double stall;                 /* streamed transfers: seconds without progress */
  unsigned max_retries;
  dv_backoff backoff;
  unsigned retry_budget;
  atomic_uint retries_used;     /* over the handle's life */
  atomic_uint seed;             /* jitter seed source */
  CURLSH *share;                /* NULL if the share could not be made */
  pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
  int locks_ready;
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access,
                       void *userp)
{
  drover_http *http = userp;
  (void)h;
  (void)access;
  if((unsigned)data < CURL_LOCK_DATA_LAST)
    pthread_mutex_lock(&http->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
  drover_http *http = userp;
  (void)h;
  if((unsigned)data < CURL_LOCK_DATA_LAST)
    pthread_mutex_unlock(&http->locks[data]);
}

/* Shares caches between the per-request easy handles. Optional: without
 * it every request opens its own connection, which is correct but slower. */
static void share_setup(drover_http *http)
{
  int i;

  for(i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_init(&http->locks[i], NULL);
  http->locks_ready = 1;
  http->share = curl_share_init();
  if(!http->share)
    return;
  if(curl_share_setopt(http->share, CURLSHOPT_LOCKFUNC, share_lock) ||
     curl_share_setopt(http->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
     curl_share_setopt(http->share, CURLSHOPT_USERDATA, http) ||
     curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) ||
     curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) ||
     curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT)) {
    curl_share_cleanup(http->share);
    http->share = NULL;
  }
}

static int dup_opt(char **dst, const char *src)
{
  if(!src || !*src)
    return 0;
  *dst = strdup(src);
  return *dst ? 0 : -1;
}

/* *out is owned by the caller: drover_http_free(). */
drover_code drover_http_new(drover_http **out, const drover_http_config *cfg,
                            drover_error *err)
{
  drover_http *http = NULL;
  drover_code rc = DROVER_OK;

  *out = NULL;
  if(!cfg || cfg->version < 1 || cfg->version > DROVER_HTTP_CONFIG_VERSION) {
    rc = drover_error_set(err, DROVER_E_ARG,
                          "http: config version %u not supported (1..%u)",
                          cfg ? cfg->version : 0u, DROVER_HTTP_CONFIG_VERSION);
    goto out;
  }
  if(!cfg->base_url || !*cfg->base_url) {
    rc = drover_error_set(err, DROVER_E_ARG, "http: no base URL");
    goto out;
  }
  http = calloc(1, sizeof(*http));
  if(!http) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "http: out of memory");
    goto out;
  }
  if(dup_opt(&http->base_url, cfg->base_url) ||
     dup_opt(&http->unix_socket, cfg->unix_socket) ||
     dup_opt(&http->ca_file, cfg->ca_file) ||
     dup_opt(&http->pinned_pubkey, cfg->pinned_pubkey) ||
     dup_opt(&http->client_cert, cfg->client_cert) ||
     dup_opt(&http->client_key, cfg->client_key)) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "http: out of memory");
    goto out;
  }
  /* Without a trailing slash so paths ("/1.0/...") join cleanly. */
  {
    size_t n = strlen(http->base_url);
    const char *auth = strstr(http->base_url, "://");
    while(n > 0 && http->base_url[n - 1] == '/')
      http->base_url[--n] = '\0';
    auth = auth ? auth + 3 : http->base_url;
    http->host = strndup(auth, strcspn(auth, "/?#"));
    if(!http->host) {
      rc = drover_error_set(err, DROVER_E_NOMEM, "http: out of memory");
      goto out;
    }
  }
  http->connect_timeout_ms =
    (long)((cfg->connect_timeout > 0 ? cfg->connect_timeout : 10.0) * 1000.0);
  http->timeout_ms = (long)((cfg->timeout > 0 ? cfg->timeout : 60.0) * 1000.0);
  http->stall = cfg->stall_timeout > 0 ? cfg->stall_timeout : 30.0;
  http->max_retries = cfg->max_retries ? cfg->max_retries : 4;
  http->backoff.base = cfg->retry_base > 0 ? cfg->retry_base : 0.25;
  http->backoff.cap = cfg->retry_max > 0 ? cfg->retry_max : 8.0;
  http->retry_budget = cfg->retry_budget ? cfg->retry_budget : 100;
  atomic_init(&http->retries_used, 0u);
  atomic_init(&http->seed, (unsigned)time(NULL) ^ (unsigned)(uintptr_t)http);
  share_setup(http);
  *out = http;
  http = NULL;
out:
  drover_http_free(http);
  return rc;
}

void drover_http_free(drover_http *http)
{
  int i;

  if(!http)
    return;
  if(http->share)
    curl_share_cleanup(http->share);
  if(http->locks_ready)
    for(i = 0; i < CURL_LOCK_DATA_LAST; i++)
      pthread_mutex_destroy(&http->locks[i]);
  free(http->base_url);
  free(http->host);
  free(http->unix_socket);
  free(http->ca_file);
  free(http->pinned_pubkey);
  free(http->client_cert);
  free(http->client_key);
  free(http);
}

void drover_http_response_free(drover_http_response *resp)
{
  size_t i;

  if(!resp)
    return;
  for(i = 0; i < 2 * resp->nheaders; i++)
    free(resp->headers[i]);
  free(resp->headers);
  free(resp->body);
  free(resp->etag);
  memset(resp, 0, sizeof(*resp));
}

const char *drover_http_response_header(const drover_http_response *resp,
                                        const char *name)
{
  size_t i;

  if(!resp || !name)
    return NULL;
  for(i = 0; i < resp->nheaders; i++)
    if(!strcasecmp(resp->headers[2 * i], name))
      return resp->headers[2 * i + 1];
  return NULL;
}

/* --------------------------------------------------------------------------
 * Classifying an attempt
 */

/* How a finished attempt is classified. */
enum outcome { OUT_DONE, OUT_RETRY, OUT_FAIL };

static int curl_is_tls(CURLcode cc)
{
  switch(cc) {
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_USE_SSL_FAILED:
    return 1;
  default:
    return 0;
  }
}

static int curl_is_transient(CURLcode cc)
{
  switch(cc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return 1;
  default:
    return 0;
  }
}

/* --------------------------------------------------------------------------
 * One attempt's easy handle
 */


/* Stall detection for streamed transfers: curl calls this at least once a
 * second; the attempt fails once no byte moved for stall seconds. (curl's
 * own LOW_SPEED check averages over a window, so a burst followed by
 * silence is noticed late.) */
typedef struct stall_clock {
  double stall, last;
  curl_off_t dl, ul;
  int stalled;
  const drover_http_req *req;  /* its on_progress (version >= 3), or NULL */
} stall_clock;

static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
  stall_clock *c = userp;
  double now = drover_now();

  (void)dltotal;
  (void)ultotal;
  if(dlnow != c->dl || ulnow != c->ul || c->last == 0) {
    /* The counts are the attempt's own; they only grow within it. */
    if(c->req && (dlnow > c->dl || ulnow > c->ul))
      c->req->on_progress(c->req->progress_userdata,
                          (unsigned long long)((dlnow > c->dl ? dlnow - c->dl : 0) +
                                               (ulnow > c->ul ? ulnow - c->ul : 0)));
    c->dl = dlnow;
    c->ul = ulnow;
    c->last = now;
    return 0;
  }
  if(now - c->last < c->stall)
    return 0;
  c->stalled = 1;
  return 1;
}

/* Sets the options of one easy handle. Returns a curl code. */
static CURLcode easy_setup(drover_http *http, CURL *h, const char *url,
                           const drover_http_req *req, struct curl_slist *headers,
                           dv_http_attempt *a, dv_http_upload *u, stall_clock *clk,
                           char *errbuf)
{
  const char *method = req->method;
  CURLcode cc = CURLE_OK;

#define SET(opt, val) do { if(!cc) cc = curl_easy_setopt(h, opt, val); } while(0)
  SET(CURLOPT_URL, url);
  SET(CURLOPT_ERRORBUFFER, errbuf);
  SET(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
  SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  /* A proxy's "200 Connection established" is not the answer's head
   * (on_body_start judges heads as they end). */
  SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  SET(CURLOPT_USERAGENT, "drover/" DROVER_VERSION);
  SET(CURLOPT_CONNECTTIMEOUT_MS, http->connect_timeout_ms);
  /* A streamed body may take hours: bound it by progress, not by time.
   * Other requests keep the total bound (a long-poll such as LXD's
   * operation wait is silent for most of it). */
  if(!req->body_path && !req->body_read && !req->response_path && !dv_http_to_fd(req))
    SET(CURLOPT_TIMEOUT_MS, http->timeout_ms);
  else {
    clk->stall = http->stall;
    clk->req = req->version >= 3 && req->on_progress ? req : NULL;
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, clk);
    SET(CURLOPT_NOPROGRESS, 0L);
  }
  /* TLS verification is never switched off. VERIFYHOST 2 is "on" (1 is
   * treated the same since curl 7.66). */
  SET(CURLOPT_SSL_VERIFYPEER, 1L);
  SET(CURLOPT_SSL_VERIFYHOST, 2L);
  if(http->ca_file)
    SET(CURLOPT_CAINFO, http->ca_file);
  if(http->pinned_pubkey)
    SET(CURLOPT_PINNEDPUBLICKEY, http->pinned_pubkey);
  if(http->client_cert)
    SET(CURLOPT_SSLCERT, http->client_cert);
  if(http->client_key)
    SET(CURLOPT_SSLKEY, http->client_key);
  if(http->unix_socket)
    SET(CURLOPT_UNIX_SOCKET_PATH, http->unix_socket);
  if(http->share)
    SET(CURLOPT_SHARE, http->share);
  SET(CURLOPT_HTTPHEADER, headers);
  SET(CURLOPT_WRITEFUNCTION, dv_http_on_body);
  SET(CURLOPT_WRITEDATA, a);
  SET(CURLOPT_HEADERFUNCTION, dv_http_on_header);
  SET(CURLOPT_HEADERDATA, a);
  if(req->body) {
    /* Memory: curl sends straight from the caller's buffer, no copy. */
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    SET(CURLOPT_POSTFIELDS, req->body);
  }
  else if(dv_http_has_body(req)) {
    /* File or stream: read in curl's buffer-sized pieces, so memory stays
     * bounded whatever the length. */
    SET(CURLOPT_UPLOAD, 1L);
    SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
    SET(CURLOPT_READFUNCTION, dv_http_on_read);
    SET(CURLOPT_READDATA, u);
    SET(CURLOPT_SEEKFUNCTION, dv_http_on_seek);
    SET(CURLOPT_SEEKDATA, u);
    /* Bulk uploads: 64 KiB a read and a send, as curl's tool. Larger
     * buffers made each byte's copy out of the page cache 3 to 5 times
     * dearer here: a 200 MiB PUT through libcurl alone, 128 KiB against
     * 64 KiB (bench/README.md, "Fifth S3 session"). */
    SET(CURLOPT_UPLOAD_BUFFERSIZE, 64L * 1024L);
  }
  else if(strcmp(method, "GET") && strcmp(method, "DELETE") &&
          strcmp(method, "HEAD")) {
    /* POST/PUT with no body: send an empty one, not a read callback. */
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    SET(CURLOPT_POSTFIELDS, "");
  }
  /* Bulk downloads: curl's own tool's receive buffer. */
  if(req->response_path || dv_http_to_fd(req))
    SET(CURLOPT_BUFFERSIZE, 100L * 1024L);
  if(!strcmp(method, "HEAD"))
    SET(CURLOPT_NOBODY, 1L);
  else if(strcmp(method, "GET") || dv_http_has_body(req))
    SET(CURLOPT_CUSTOMREQUEST, method);
#undef SET
  return cc;
}

/* --------------------------------------------------------------------------
 * The request loop
 */

static drover_code check_req(const drover_http_req *req, drover_error *err)
{
  int sources;

  if(!req || req->version < 1 || req->version > DROVER_HTTP_REQ_VERSION)
    return drover_error_set(err, DROVER_E_ARG, "http: request version %u not "
                            "supported (1..%u)", req ? req->version : 0u,
                            DROVER_HTTP_REQ_VERSION);
  if(!req->method || !*req->method || !req->path || req->path[0] != '/' ||
     strpbrk(req->method, " \r\n") || strpbrk(req->path, " \r\n") ||
     (req->query && strpbrk(req->query, " \r\n#")))
    return drover_error_set(err, DROVER_E_ARG, "http: bad method, path or query");
  sources = !!req->body + !!req->body_path + !!req->body_read;
  if(sources > 1)
    return drover_error_set(err, DROVER_E_ARG, "http: %s %s: more than one body "
                            "source", req->method, req->path);
  if(req->body && req->body_len > (unsigned long long)SIZE_MAX)
    return drover_error_set(err, DROVER_E_ARG, "http: body length too large");
  if(dv_http_to_fd(req) && (req->response_path || req->response_fd < 0 ||
                    req->response_offset > (unsigned long long)INT64_MAX))
    return drover_error_set(err, DROVER_E_ARG, "http: %s %s: response_to_fd needs a "
                            "descriptor, an offset and no response_path", req->method,
                            req->path);
  return DROVER_OK;
}

/* Hands the attempt's results to resp (moved, not copied). */
static drover_code take_response(dv_http_attempt *a, drover_http_response *resp)
{
  resp->status = a->status;
  resp->body = a->body ? a->body : strdup("");
  resp->len = a->len;
  resp->etag = a->etag;
  resp->headers = a->headers;
  resp->nheaders = a->nheaders;
  resp->written = a->written;
  a->body = NULL;
  a->etag = NULL;
  a->headers = NULL;
  a->nheaders = a->hcap = 0;
  return resp->body ? DROVER_OK : DROVER_E_NOMEM;
}

drover_code drover_http_perform(drover_http *http, const drover_http_req *req,
                                drover_http_response *resp, drover_error *err)
{
  drover_code rc = DROVER_OK;
  struct curl_slist *base = NULL, *headers = NULL;
  drover_http_headers hook = {NULL};
  char *url = NULL;
  char errbuf[CURL_ERROR_SIZE];
  char last[CURL_ERROR_SIZE + 64];
  dv_http_attempt a;
  dv_http_upload u;
  stall_clock clk;
  unsigned tries, seed;
  CURL *h = NULL;
  const char *method = "?", *path = "?";

  memset(&a, 0, sizeof(a));
  a.sink_fd = -1;
  memset(&u, 0, sizeof(u));
  u.fd = -1;
  if(resp)
    memset(resp, 0, sizeof(*resp));
  if(!http || !resp) {
    rc = drover_error_set(err, DROVER_E_ARG, "http: bad arguments");
    goto out;
  }
  rc = check_req(req, err);
  if(rc)
    goto out;
  method = req->method;
  path = req->path;
  u.req = req;
  /* Through uint64_t: a double above UINT_MAX (monotonic microseconds
   * after 71 minutes of uptime) converted straight to unsigned is
   * undefined behaviour (found by tests/fuzz, clang's UBSan). */
  seed = atomic_fetch_add(&http->seed, 0x9e3779b9u) ^
         (unsigned)(uint64_t)(drover_now() * 1e6);
  url = req->query && *req->query ? dv_aprintf("%s%s?%s", http->base_url, path, req->query)
                                  : dv_aprintf("%s%s", http->base_url, path);
  if(!url)
    goto nomem;
  rc = dv_http_base_headers(req, &base, err);
  if(rc)
    goto out;
  if(req->body_path) {
    /* Opened once; pread() from offset 0 on each attempt needs no rewind. */
    u.fd = open(req->body_path, O_RDONLY | O_CLOEXEC);
    if(u.fd < 0) {
      rc = drover_error_set(err, DROVER_E_IO, "http: %s %s: %s: %s", method, path,
                            req->body_path, strerror(errno));
      goto out;
    }
  }

  for(tries = 0;; tries++) {
    CURLcode cc;
    enum outcome oc;

    dv_http_attempt_reset(&a, req);
    drover_error_clear(&u.err);
    u.off = 0;
    errbuf[0] = '\0';
    curl_slist_free_all(headers);
    headers = NULL;
    curl_slist_free_all(hook.list);
    hook.list = NULL;
    if(req->on_attempt) {
      drover_http_attempt at;
      at.number = tries;
      at.url = url;
      at.host = http->host;
      rc = req->on_attempt(req->attempt_userdata, req, &at, &hook, err);
      if(rc) {
        drover_error_set(err, rc, "http: %s %s: request hook failed", method, path);
        goto out;
      }
    }
    rc = dv_http_merge_headers(base, hook.list, &headers, err);
    if(rc)
      goto out;
    h = curl_easy_init();
    if(!h)
      goto nomem;
    memset(&clk, 0, sizeof(clk));
    cc = easy_setup(http, h, url, req, headers, &a, &u, &clk, errbuf);
    if(cc) {
      rc = drover_error_set(err, DROVER_E_INTERNAL, "http: %s %s: setup: %s",
                            method, path, curl_easy_strerror(cc));
      goto out;
    }
    cc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    h = NULL;
    if(dv_http_attempt_finish(&a) && !cc)
      cc = CURLE_WRITE_ERROR;

    /* Failures of our own source or sink are not the network's: no retry. */
    if(a.hook_failed) {
      rc = a.err.code;
      if(err && !err->code)
        *err = a.err;
      goto out;
    }
    if(u.err.code || a.err.code) {
      rc = u.err.code ? u.err.code : a.err.code;
      drover_error_set(err, rc, "%s %s: %s", method, path,
                       u.err.code ? u.err.text : a.err.text);
      goto out;
    }
    if(cc == CURLE_WRITE_ERROR && a.too_big) {
      rc = drover_error_set(err, DROVER_E_PROVIDER,
                            "http: %s %s: response larger than %u bytes (body) or "
                            "%u bytes (headers)", method, path, DV_HTTP_MAX_BODY,
                            DV_HTTP_MAX_HEADERS);
      goto out;
    }
    if(cc == CURLE_OUT_OF_MEMORY || cc == CURLE_WRITE_ERROR)
      goto nomem;
    if(cc && curl_is_tls(cc)) {
      rc = drover_error_set(err, DROVER_E_TLS, "http: %s %s: %s", method, path,
                            errbuf[0] ? errbuf : curl_easy_strerror(cc));
      goto out;
    }
    if(cc == CURLE_ABORTED_BY_CALLBACK && clk.stalled) {
      snprintf(last, sizeof(last), "no data moved for %.0f s", clk.stall);
      oc = OUT_RETRY;
    }
    else if(cc) {
      snprintf(last, sizeof(last), "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
      oc = curl_is_transient(cc) ? OUT_RETRY : OUT_FAIL;
    }
    else if(!a.head_done) {
      /* The connection closed inside the head, which curl takes for an
       * answer with no body: a broken transfer, as one cut in its body. */
      snprintf(last, sizeof(last), "HTTP %ld: the answer's head was cut off", a.status);
      oc = OUT_RETRY;
    }
    else {
      snprintf(last, sizeof(last), "HTTP %ld", a.status);
      /* 501 Not Implemented and 505 are answers, not faults: no retry. */
      oc = (a.status == 429 || (a.status >= 500 && a.status != 501 && a.status != 505))
             ? OUT_RETRY : OUT_DONE;
      /* The caller knows answers that no retry changes. */
      if(oc == OUT_RETRY && req->version >= 2 && req->final_answer &&
         req->final_answer(req->attempt_userdata, a.status, a.body ? a.body : "", a.len))
        oc = OUT_DONE;
    }

    if(oc == OUT_FAIL) {
      rc = drover_error_set(err, DROVER_E_IO, "http: %s %s: %s", method, path, last);
      goto out;
    }
    if(oc == OUT_RETRY && tries < http->max_retries &&
       dv_backoff_budget_take(&http->retries_used, http->retry_budget)) {
      dv_backoff_sleep_until(drover_now() + dv_backoff_delay(&http->backoff, tries,
                                                             a.retry_after, &seed),
                             NULL);
      continue;
    }
    /* Done, or out of retries: hand the last response to the caller (a
     * provider may still want LXD's error text from a final 503). */
    if(!cc && take_response(&a, resp))
      goto nomem;
    if(oc == OUT_RETRY)
      rc = drover_error_set(err, DROVER_E_TRANSIENT,
                            "http: %s %s: %s (gave up after %u %s%s)",
                            method, path, last, tries, tries == 1 ? "retry" : "retries",
                            tries < http->max_retries ? ", retry budget spent" : "");
    goto out;
  }

nomem:
  rc = drover_error_set(err, DROVER_E_NOMEM, "http: out of memory");
out:
  if(h)
    curl_easy_cleanup(h);
  dv_http_attempt_reset(&a, NULL);
  if(u.fd >= 0)
    close(u.fd);
  curl_slist_free_all(hook.list);
  curl_slist_free_all(headers);
  curl_slist_free_all(base);
  free(url);
  return rc;
}

drover_code drover_http_request(drover_http *http, const char *method,
                                const char *path, const char *if_match,
                                const char *body, size_t body_len,
                                drover_http_response *resp, drover_error *err)
{
  drover_http_req req;

  memset(&req, 0, sizeof(req));
  req.version = DROVER_HTTP_REQ_VERSION;
  req.method = method;
  req.path = path;
  req.accept = "application/json";
  req.content_type = "application/json";
  req.if_match = if_match;
  req.body = body;
  req.body_len = body ? body_len : 0;
  return drover_http_perform(http, &req, resp, err);
}
