/*
 * http_int.h - what http.c (handle and retry loop) shares with
 * http_attempt.c (one attempt's body source, body sink and response
 * headers) and http_headers.c (the request's header lines). Internal;
 * not installed.
 */
#ifndef DROVER_HTTP_INT_H
#define DROVER_HTTP_INT_H

#include <curl/curl.h>
#include "drover_provider.h"

/* A response larger than this is refused rather than buffered in memory
 * (a body written to response_path has no such bound). */
#define DV_HTTP_MAX_BODY (256u * 1024u * 1024u)
/* Response headers are kept in memory: bounded too. */
#define DV_HTTP_MAX_HEADERS (64u * 1024u)

struct drover_http_headers {
  struct curl_slist *list;     /* "Name: value" lines, owned */
};

/* Where one attempt's request body comes from. */
typedef struct dv_http_upload {
  const drover_http_req *req;
  int fd;                      /* body_path, opened once per request; -1 */
  unsigned long long off;      /* next byte to send */
  drover_error err;            /* why the source failed (first error wins) */
} dv_http_upload;

/* What one attempt received. */
typedef struct dv_http_attempt {
  const char *response_path;   /* borrowed from the request */
  const drover_http_req *req;  /* its on_body_start (version >= 4), or NULL */
  int hook_failed;             /* err is on_body_start's own, passed on as is */
  long status;                 /* from the last status line */
  char *body;
  size_t len, cap;
  int too_big;                 /* memory body or headers over their bound */
  int sink_fd;                 /* response_path while writing; -1 */
  int out_fd;                  /* response_to_fd: the caller's file; -1 */
  unsigned long long out_off;  /* ... and where this attempt writes from */
  int started;                 /* on_body_start ran, the sink is ready */
  int head_done;               /* the blank line ending the last head came */
  unsigned long long written;
  char **headers;              /* name, value pairs, owned */
  size_t nheaders, hcap, hbytes;
  char *etag;                  /* owned */
  double retry_after;          /* seconds; < 0 when absent */
  drover_error err;            /* a sink failure (first error wins) */
} dv_http_attempt;

/* Whether req's 2xx body goes to the caller's descriptor (version 5;
 * check_req refuses it beside a response_path). */
int dv_http_to_fd(const drover_http_req *req);
/* Resets a (freeing what it holds) for a fresh attempt of req (NULL:
 * only frees). */
void dv_http_attempt_reset(dv_http_attempt *a, const drover_http_req *req);
/* Closes the sink file. (A 2xx head's end opened it, empty bodies
 * included: dv_http_on_header.) Returns non-zero (a->err set) on
 * failure. */
int dv_http_attempt_finish(dv_http_attempt *a);

/* curl callbacks: userp is a dv_http_attempt (body, headers) or a
 * dv_http_upload (read, seek). */
size_t dv_http_on_body(char *ptr, size_t size, size_t nmemb, void *userp);
size_t dv_http_on_header(char *ptr, size_t size, size_t nmemb, void *userp);
size_t dv_http_on_read(char *buf, size_t size, size_t nitems, void *userp);
int dv_http_on_seek(void *userp, curl_off_t offset, int origin);

/* http_headers.c */

/* Is "Name: value" line a header called name (its first nlen bytes,
 * case-insensitive)? */
int dv_http_line_is(const char *line, const char *name, size_t nlen);

/* Whether req has a body (memory, file or stream). */
int dv_http_has_body(const drover_http_req *req);

/* The request's fixed header lines: Expect (off), Accept, Content-Type
 * (with a body), If-Match, then req->headers, each checked. *out is owned
 * by the caller (curl_slist_free_all). */
drover_code dv_http_base_headers(const drover_http_req *req, struct curl_slist **out,
                                 drover_error *err);

/* One attempt's header list: the base lines the hook did not name, then
 * the hook's. *out is owned by the caller. */
drover_code dv_http_merge_headers(const struct curl_slist *base,
                                  const struct curl_slist *hook,
                                  struct curl_slist **out, drover_error *err);

#endif /* DROVER_HTTP_INT_H */
