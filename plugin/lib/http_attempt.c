/* http_attempt.c - one HTTP attempt's data paths: the request body source
 * (memory is handed to curl directly; files and streams come through
 * dv_http_on_read), the response body sink (memory, or a file for a 2xx
 * with response_path or response_to_fd) and the response headers. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "http_int.h"

/* --------------------------------------------------------------------------
 * Response
 */

int dv_http_to_fd(const drover_http_req *req)
{
  return req->version >= 5 && req->response_to_fd;
}

void dv_http_attempt_reset(dv_http_attempt *a, const drover_http_req *req)
{
  size_t i;

  if(a->sink_fd >= 0)
    close(a->sink_fd);
  for(i = 0; i < 2 * a->nheaders; i++)
    free(a->headers[i]);
  free(a->headers);
  free(a->body);
  free(a->etag);
  memset(a, 0, sizeof(*a));
  a->sink_fd = -1;
  a->out_fd = -1;
  a->retry_after = -1;
  if(req) {
    a->response_path = req->response_path;
    if(req->version >= 4 && req->on_body_start)
      a->req = req;
    if(dv_http_to_fd(req)) {
      a->out_fd = req->response_fd;
      a->out_off = req->response_offset;
    }
  }
}

/* Whether a 2xx body goes to a file (response_path or response_to_fd). */
static int to_a_file(const dv_http_attempt *a)
{
  return a->response_path || a->out_fd >= 0;
}

/* Names the attempt's file in messages. */
static const char *file_name(const dv_http_attempt *a)
{
  return a->response_path ? a->response_path : "the response file";
}

static int is_2xx(long status)
{
  return status >= 200 && status < 300;
}

/* Opens response_path for a 2xx body (response_to_fd: the file is the
 * caller's, open already), once the caller's on_body_start (if any) has
 * seen the answer's head. */
static int sink_open(dv_http_attempt *a)
{
  if(a->req) {
    drover_http_response head;

    memset(&head, 0, sizeof(head));
    head.status = a->status;
    head.body = (char *)"";
    head.etag = a->etag;
    head.headers = a->headers;
    head.nheaders = a->nheaders;
    if(a->req->on_body_start(a->req->body_start_userdata, &head, &a->err)) {
      if(!a->err.code)
        drover_error_set(&a->err, DROVER_E_INTERNAL, "http: on_body_start failed");
      a->hook_failed = 1;
      return -1;
    }
  }
  a->started = 1;
  if(a->out_fd >= 0)
    return 0;
  a->sink_fd = open(a->response_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if(a->sink_fd < 0) {
    drover_error_set(&a->err, DROVER_E_IO, "http: %s: %s", a->response_path,
                     strerror(errno));
    return -1;
  }
  return 0;
}

int dv_http_attempt_finish(dv_http_attempt *a)
{
  int bad = 0;

  if(a->sink_fd >= 0 && close(a->sink_fd) && !a->err.code) {
    drover_error_set(&a->err, DROVER_E_IO, "http: %s: %s", a->response_path,
                     strerror(errno));
    bad = -1;
  }
  a->sink_fd = -1;
  return bad;
}

/* A download is written as curl hands it over, in writes of at most this
 * size, as curl's own tool writes (4 and 12 KiB, through stdio). Larger
 * writes make the page cache take the bytes in larger folios, and on the
 * test VM (Linux 6.18 under Firecracker, whose balloon hands free memory
 * back to the host in 2 MiB blocks) those come from memory the host must
 * fault back in: paired 2 GiB downloads from s3rver, median wall time
 * 4.26 s with 64 KiB writes, 3.02 s with 8 KiB, curl 2.82 s
 * (bench/README.md, "Fourth S3 session"). Elsewhere small writes cost a
 * system call per 8 KiB, which is what curl pays. */
#define SINK_WRITE (8u << 10)

static size_t to_file(dv_http_attempt *a, const char *ptr, size_t n)
{
  size_t done = 0;

  if(!a->started && sink_open(a))
    return 0;
  while(done < n) {
    size_t len = n - done < SINK_WRITE ? n - done : SINK_WRITE;
    ssize_t w = a->out_fd >= 0
                ? pwrite(a->out_fd, ptr + done, len, (off_t)(a->out_off + a->written + done))
                : write(a->sink_fd, ptr + done, len);
    if(w < 0 && errno == EINTR)
      continue;
    if(w <= 0) {
      drover_error_set(&a->err, DROVER_E_IO, "http: %s: %s", file_name(a),
                       w < 0 ? strerror(errno) : "short write");
      return 0;
    }
    done += (size_t)w;
  }
  a->written += n;
  return n;
}

size_t dv_http_on_body(char *ptr, size_t size, size_t nmemb, void *userp)
{
  dv_http_attempt *a = userp;
  size_t n = size * nmemb;

  if(to_a_file(a) && is_2xx(a->status))
    return to_file(a, ptr, n);
  if(a->len + n + 1 > DV_HTTP_MAX_BODY) {
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

/* Drops what an earlier status line (a 100 Continue, say) brought. */
static void headers_clear(dv_http_attempt *a)
{
  size_t i;

  for(i = 0; i < 2 * a->nheaders; i++)
    free(a->headers[i]);
  a->nheaders = 0;
  a->hbytes = 0;
  free(a->etag);
  a->etag = NULL;
  a->retry_after = -1;
}

static char *copy_trimmed(const char *v, const char *end)
{
  char *s;

  while(v < end && (*v == ' ' || *v == '\t'))
    v++;
  while(end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' ||
                    end[-1] == '\t'))
    end--;
  s = malloc((size_t)(end - v) + 1);
  if(!s)
    return NULL;
  memcpy(s, v, (size_t)(end - v));
  s[end - v] = '\0';
  return s;
}

/* Keeps one "Name: value" line; -1 on allocation failure. */
static int header_push(dv_http_attempt *a, const char *line, size_t n)
{
  const char *colon = memchr(line, ':', n);
  char *name, *value;

  if(!colon || colon == line)
    return 0;                   /* not a header line (the blank end line) */
  if(a->nheaders == a->hcap) {
    size_t cap = a->hcap ? 2 * a->hcap : 16;
    char **grown = realloc(a->headers, 2 * cap * sizeof(*grown));
    if(!grown)
      return -1;
    a->headers = grown;
    a->hcap = cap;
  }
  name = copy_trimmed(line, colon);
  value = copy_trimmed(colon + 1, line + n);
  if(!name || !value) {
    free(name);
    free(value);
    return -1;
  }
  a->headers[2 * a->nheaders] = name;
  a->headers[2 * a->nheaders + 1] = value;
  a->nheaders++;
  if(!strcasecmp(name, "ETag")) {
    free(a->etag);
    a->etag = strdup(value);
    if(!a->etag)
      return -1;
  }
  else if(!strcasecmp(name, "Retry-After")) {
    /* Only the delay-seconds form; an HTTP-date falls back to backoff. */
    char *endp;
    long secs;
    errno = 0;
    secs = strtol(value, &endp, 10);
    if(!errno && endp != value && !*endp && secs >= 0)
      a->retry_after = (double)secs;
  }
  return 0;
}

size_t dv_http_on_header(char *ptr, size_t size, size_t nmemb, void *userp)
{
  dv_http_attempt *a = userp;
  size_t n = size * nmemb;

  if(n >= 5 && !strncmp(ptr, "HTTP/", 5)) {
    const char *sp = memchr(ptr, ' ', n);
    headers_clear(a);
    a->head_done = 0;
    a->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    return n;
  }
  a->hbytes += n;
  if(a->hbytes > DV_HTTP_MAX_HEADERS) {
    a->too_big = 1;
    return 0;
  }
  /* The blank line that ends a 2xx head: the caller's on_body_start sees
   * it now, not at the first body byte, so a refusal ends the transfer
   * at once even when the body is slow or never comes. */
  if((n == 2 && ptr[0] == '\r' && ptr[1] == '\n') || (n == 1 && ptr[0] == '\n')) {
    a->head_done = 1;
    if(to_a_file(a) && is_2xx(a->status) && !a->started && !a->err.code && sink_open(a))
      return 0;
    return n;
  }
  return header_push(a, ptr, n) ? 0 : n;
}

/* --------------------------------------------------------------------------
 * Request body from a file or a stream
 */

size_t dv_http_on_read(char *buf, size_t size, size_t nitems, void *userp)
{
  dv_http_upload *u = userp;
  const drover_http_req *req = u->req;
  unsigned long long left = req->body_len - u->off;
  size_t want = size * nitems, got = 0;

  if(want > left)
    want = (size_t)left;
  if(want == 0)
    return 0;
  if(u->fd >= 0) {
    ssize_t n;
    do
      n = pread(u->fd, buf, want, (off_t)u->off);
    while(n < 0 && errno == EINTR);
    if(n <= 0) {
      drover_error_set(&u->err, DROVER_E_IO, "http: %s: %s", req->body_path,
                       n < 0 ? strerror(errno) : "shorter than the body length");
      return CURL_READFUNC_ABORT;
    }
    got = (size_t)n;
  }
  else {
    drover_code rc = req->body_read(req->body_userdata, u->off, buf, want, &got, &u->err);
    if(rc || got == 0 || got > want) {
      if(!u->err.code)
        drover_error_set(&u->err, rc ? rc : DROVER_E_IO,
                         "http: body stream ended at byte %llu of %llu", u->off,
                         req->body_len);
      return CURL_READFUNC_ABORT;
    }
  }
  u->off += got;
  return got;
}

int dv_http_on_seek(void *userp, curl_off_t offset, int origin)
{
  dv_http_upload *u = userp;

  if(origin != SEEK_SET || offset < 0 ||
     (unsigned long long)offset > u->req->body_len)
    return CURL_SEEKFUNC_CANTSEEK;
  u->off = (unsigned long long)offset;
  return CURL_SEEKFUNC_OK;
}
