/* http.c - the one HTTP module, on libcurl, and drover's global init.
 *
 * Every provider talks to its cloud through drover_http_request(): one
 * curl easy handle per request (so any thread may call it), a curl share
 * object for the connection/DNS/TLS-session caches (guarded by mutexes),
 * TLS verification always on, and retries with exponential backoff, full
 * jitter and Retry-After, bounded per request (max_retries) and over the
 * handle's life (retry_budget, an atomic counter shared by all threads).
 *
 * Error texts name the method and path, never a request body: bodies may
 * hold secrets (cloud-init data, tokens).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include "engine.h"

/* A response larger than this is refused rather than buffered. */
#define HTTP_MAX_BODY (256u * 1024u * 1024u)

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
  char *unix_socket;
  char *ca_file;
  char *pinned_pubkey;
  char *client_cert;
  char *client_key;
  long connect_timeout_ms;
  long timeout_ms;
  unsigned max_retries;
  double retry_base;
  double retry_max;
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
  if(!cfg || !cfg->base_url || !*cfg->base_url) {
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
    while(n > 0 && http->base_url[n - 1] == '/')
      http->base_url[--n] = '\0';
  }
  http->connect_timeout_ms =
    (long)((cfg->connect_timeout > 0 ? cfg->connect_timeout : 10.0) * 1000.0);
  http->timeout_ms = (long)((cfg->timeout > 0 ? cfg->timeout : 60.0) * 1000.0);
  http->max_retries = cfg->max_retries ? cfg->max_retries : 4;
  http->retry_base = cfg->retry_base > 0 ? cfg->retry_base : 0.25;
  http->retry_max = cfg->retry_max > 0 ? cfg->retry_max : 8.0;
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
  free(http->unix_socket);
  free(http->ca_file);
  free(http->pinned_pubkey);
  free(http->client_cert);
  free(http->client_key);
  free(http);
}

void drover_http_response_free(drover_http_response *resp)
{
  if(!resp)
    return;
  free(resp->body);
  free(resp->etag);
  memset(resp, 0, sizeof(*resp));
}

/* --------------------------------------------------------------------------
 * One attempt
 */

typedef struct attempt {
  char *body;
  size_t len, cap;
  int too_big;
  char *etag;                 /* owned */
  double retry_after;         /* seconds; < 0 when absent */
} attempt;

static void attempt_reset(attempt *a)
{
  free(a->body);
  free(a->etag);
  memset(a, 0, sizeof(*a));
  a->retry_after = -1;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userp)
{
  attempt *a = userp;
  size_t n = size * nmemb;

  if(a->len + n + 1 > HTTP_MAX_BODY) {
    a->too_big = 1;
    return 0;
  }
  if(a->len + n + 1 > a->cap) {
    size_t cap = a->cap ? a->cap : 4096;
    char *grown;
    while(cap < a->len + n + 1)
      cap *= 2;
    grown = realloc(a->body, cap);
    if(!grown)
      return 0;
    a->body = grown;
    a->cap = cap;
  }
  memcpy(a->body + a->len, ptr, n);
  a->len += n;
  a->body[a->len] = '\0';
  return n;
}

/* Value of header line "Name: value" when the name matches, trimmed, as a
 * fresh string the caller frees; NULL otherwise. */
static char *header_value(const char *line, size_t len, const char *name)
{
  size_t nlen = strlen(name);
  const char *v, *end = line + len;
  char *copy;

  if(len <= nlen || strncasecmp(line, name, nlen) || line[nlen] != ':')
    return NULL;
  v = line + nlen + 1;
  while(v < end && (*v == ' ' || *v == '\t'))
    v++;
  while(end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' ||
                    end[-1] == '\t'))
    end--;
  copy = malloc((size_t)(end - v) + 1);
  if(!copy)
    return NULL;
  memcpy(copy, v, (size_t)(end - v));
  copy[end - v] = '\0';
  return copy;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userp)
{
  attempt *a = userp;
  size_t n = size * nmemb;
  char *v;

  /* A new status line (after a 100 Continue, say) starts afresh. */
  if(n >= 5 && !strncmp(ptr, "HTTP/", 5)) {
    free(a->etag);
    a->etag = NULL;
    a->retry_after = -1;
    return n;
  }
  if((v = header_value(ptr, n, "ETag")) != NULL) {
    free(a->etag);
    a->etag = v;
  }
  else if((v = header_value(ptr, n, "Retry-After")) != NULL) {
    /* Only the delay-seconds form; an HTTP-date falls back to backoff. */
    char *endp;
    long secs;
    errno = 0;
    secs = strtol(v, &endp, 10);
    if(!errno && endp != v && !*endp && secs >= 0)
      a->retry_after = (double)secs;
    free(v);
  }
  return n;
}

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

/* Sets the options of one easy handle. Returns a curl code. */
static CURLcode easy_setup(drover_http *http, CURL *h, const char *url,
                           const char *method, const char *body, size_t body_len,
                           struct curl_slist *headers, attempt *a, char *errbuf)
{
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
  SET(CURLOPT_USERAGENT, "drover/" DROVER_VERSION);
  SET(CURLOPT_CONNECTTIMEOUT_MS, http->connect_timeout_ms);
  SET(CURLOPT_TIMEOUT_MS, http->timeout_ms);
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
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_WRITEDATA, a);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, a);
  if(body) {
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    SET(CURLOPT_POSTFIELDS, body);
  }
  else if(strcmp(method, "GET") && strcmp(method, "DELETE") &&
          strcmp(method, "HEAD")) {
    /* POST/PUT with no body: send an empty one, not a read callback. */
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    SET(CURLOPT_POSTFIELDS, "");
  }
  if(!strcmp(method, "HEAD"))
    SET(CURLOPT_NOBODY, 1L);
  else if(strcmp(method, "GET") || body)
    SET(CURLOPT_CUSTOMREQUEST, method);
#undef SET
  return cc;
}

/* Backoff before retry number n (0-based): full jitter over
 * [0, min(retry_max, base * 2^n)], or Retry-After (capped) when given. */
static double backoff(drover_http *http, unsigned n, double retry_after,
                      unsigned *seed)
{
  double cap = http->retry_base;
  unsigned i;

  if(retry_after >= 0)
    return retry_after < http->retry_max ? retry_after : http->retry_max;
  for(i = 0; i < n && cap < http->retry_max; i++)
    cap *= 2;
  if(cap > http->retry_max)
    cap = http->retry_max;
  return cap * ((double)rand_r(seed) / ((double)RAND_MAX + 1.0));
}

static void sleep_seconds(double s)
{
  struct timespec ts;

  if(s <= 0)
    return;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  while(nanosleep(&ts, &ts) == -1 && errno == EINTR)
    ;
}

/* Takes one retry from the handle's budget; 0 when the budget is spent. */
static int budget_take(drover_http *http)
{
  unsigned used = atomic_load(&http->retries_used);

  while(used < http->retry_budget) {
    if(atomic_compare_exchange_weak(&http->retries_used, &used, used + 1))
      return 1;
  }
  return 0;
}

/* --------------------------------------------------------------------------
 * The request loop
 */

/* Appends a header line (copied); -1 on allocation failure, list intact. */
static int add_header(struct curl_slist **list, const char *line)
{
  struct curl_slist *grown = curl_slist_append(*list, line);

  if(!grown)
    return -1;
  *list = grown;
  return 0;
}

drover_code drover_http_request(drover_http *http, const char *method,
                                const char *path, const char *if_match,
                                const char *body, size_t body_len,
                                drover_http_response *resp, drover_error *err)
{
  drover_code rc = DROVER_OK;
  struct curl_slist *headers = NULL;
  char *url = NULL, *hdr = NULL;
  char errbuf[CURL_ERROR_SIZE];
  char last[CURL_ERROR_SIZE + 64];
  attempt a;
  unsigned tries, seed;
  CURL *h = NULL;

  memset(&a, 0, sizeof(a));
  a.retry_after = -1;
  if(resp)
    memset(resp, 0, sizeof(*resp));
  if(!http || !method || !path || !resp) {
    rc = drover_error_set(err, DROVER_E_ARG, "http: bad arguments");
    goto out;
  }
  /* Through uint64_t: a double above UINT_MAX (monotonic microseconds
   * after 71 minutes of uptime) converted straight to unsigned is
   * undefined behaviour (found by tests/fuzz, clang's UBSan). */
  seed = atomic_fetch_add(&http->seed, 0x9e3779b9u) ^
         (unsigned)(uint64_t)(drover_now() * 1e6);
  url = dv_aprintf("%s%s", http->base_url, path);
  if(!url)
    goto nomem;
  /* Headers: JSON both ways; no "Expect: 100-continue" round trip. */
  if(add_header(&headers, "Accept: application/json") ||
     add_header(&headers, "Expect:") ||
     (body && add_header(&headers, "Content-Type: application/json")))
    goto nomem;
  if(if_match && *if_match) {
    hdr = dv_aprintf("If-Match: %s", if_match);
    if(!hdr || add_header(&headers, hdr))
      goto nomem;
  }

  for(tries = 0;; tries++) {
    CURLcode cc;
    long status = 0;
    enum outcome oc;

    attempt_reset(&a);
    errbuf[0] = '\0';
    h = curl_easy_init();
    if(!h)
      goto nomem;
    cc = easy_setup(http, h, url, method, body, body_len, headers, &a, errbuf);
    if(cc) {
      rc = drover_error_set(err, DROVER_E_INTERNAL, "http: %s %s: setup: %s",
                            method, path, curl_easy_strerror(cc));
      goto out;
    }
    cc = curl_easy_perform(h);
    if(!cc)
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    h = NULL;

    if(cc == CURLE_WRITE_ERROR && a.too_big) {
      rc = drover_error_set(err, DROVER_E_PROVIDER,
                            "http: %s %s: response larger than %u bytes",
                            method, path, HTTP_MAX_BODY);
      goto out;
    }
    if(cc == CURLE_OUT_OF_MEMORY || (cc == CURLE_WRITE_ERROR && !a.too_big))
      goto nomem;
    if(cc && curl_is_tls(cc)) {
      rc = drover_error_set(err, DROVER_E_TLS, "http: %s %s: %s", method, path,
                            errbuf[0] ? errbuf : curl_easy_strerror(cc));
      goto out;
    }
    if(cc) {
      snprintf(last, sizeof(last), "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
      oc = curl_is_transient(cc) ? OUT_RETRY : OUT_FAIL;
    }
    else {
      snprintf(last, sizeof(last), "HTTP %ld", status);
      oc = (status == 429 || status >= 500) ? OUT_RETRY : OUT_DONE;
    }

    if(oc == OUT_FAIL) {
      rc = drover_error_set(err, DROVER_E_IO, "http: %s %s: %s", method, path, last);
      goto out;
    }
    if(oc == OUT_RETRY && tries < http->max_retries && budget_take(http)) {
      sleep_seconds(backoff(http, tries, a.retry_after, &seed));
      continue;
    }
    /* Done, or out of retries: hand the last response to the caller (a
     * provider may still want LXD's error text from a final 503). */
    if(!cc) {
      resp->status = status;
      resp->body = a.body ? a.body : strdup("");
      resp->len = a.len;
      resp->etag = a.etag;
      a.body = NULL;
      a.etag = NULL;
      if(!resp->body)
        goto nomem;
    }
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
  attempt_reset(&a);
  curl_slist_free_all(headers);
  free(hdr);
  free(url);
  return rc;
}
