/* http_headers.c - the header lines of one request: the fixed ones from
 * the request struct (checked: a name, no CR/LF, so nothing can smuggle a
 * header in), and the per-attempt hook's, which replace same-named ones. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "engine.h"
#include "http_int.h"

int dv_http_has_body(const drover_http_req *req)
{
  return req->body || req->body_path || req->body_read;
}

/* Appends a header line (copied); -1 on allocation failure, list intact. */
static int add_header(struct curl_slist **list, const char *line)
{
  struct curl_slist *grown = curl_slist_append(*list, line);

  if(!grown)
    return -1;
  *list = grown;
  return 0;
}

static int bad_header_text(const char *s)
{
  return strpbrk(s, "\r\n") != NULL;
}

drover_code drover_http_headers_add(drover_http_headers *add, const char *name,
                                    const char *value, drover_error *err)
{
  char *line = NULL;
  drover_code rc = DROVER_OK;

  if(!add || !name || !*name || !value || strpbrk(name, ": \t") ||
     bad_header_text(name) || bad_header_text(value)) {
    rc = drover_error_set(err, DROVER_E_ARG, "http: bad header name or value");
    goto out;
  }
  /* curl sends "Name;" as a header with an empty value. */
  line = *value ? dv_aprintf("%s: %s", name, value) : dv_aprintf("%s;", name);
  if(!line || add_header(&add->list, line))
    rc = drover_error_set(err, DROVER_E_NOMEM, "http: out of memory");
out:
  free(line);
  return rc;
}

/* The name part of a "Name: value" (or "Name;") line. */
static size_t line_name_len(const char *line)
{
  return strcspn(line, ":;");
}

/* Appends "name: value" unless value is NULL or empty; -1 on allocation
 * failure. */
static int add_named(struct curl_slist **list, const char *name, const char *value)
{
  char *line;
  int bad;

  if(!value || !*value)
    return 0;
  line = dv_aprintf("%s: %s", name, value);
  bad = !line || add_header(list, line);
  free(line);
  return bad ? -1 : 0;
}

/* Builds the request's fixed header lines (checked: a name, no CR/LF).
 * *out is owned by the caller (curl_slist_free_all). */
drover_code dv_http_base_headers(const drover_http_req *req, struct curl_slist **out,
                                 drover_error *err)
{
  struct curl_slist *list = NULL;
  drover_code rc = DROVER_OK;
  size_t i;
  int expect = 0;

  /* No "Expect: 100-continue" round trip before a body, unless the caller
   * asks for one with its own Expect line (S3 uploads: the server may
   * refuse before the body is sent, and s3rver reads a body it asked for
   * faster). */
  for(i = 0; req->headers && req->headers[i]; i++)
    if(line_name_len(req->headers[i]) == 6 && !strncasecmp(req->headers[i], "Expect", 6))
      expect = 1;
  if((!expect && add_header(&list, "Expect:")) || add_named(&list, "Accept", req->accept) ||
     add_named(&list, "Content-Type", dv_http_has_body(req) ? req->content_type : NULL) ||
     add_named(&list, "If-Match", req->if_match))
    goto nomem;
  if((req->accept && bad_header_text(req->accept)) ||
     (req->content_type && bad_header_text(req->content_type)) ||
     (req->if_match && bad_header_text(req->if_match))) {
    rc = drover_error_set(err, DROVER_E_ARG, "http: %s %s: CR or LF in a header",
                          req->method, req->path);
    goto out;
  }
  for(i = 0; req->headers && req->headers[i]; i++) {
    const char *h = req->headers[i];
    size_t n = line_name_len(h);
    if(n == 0 || !h[n] || bad_header_text(h) || strcspn(h, " \t") < n) {
      rc = drover_error_set(err, DROVER_E_ARG, "http: %s %s: header %zu is not "
                            "\"Name: value\"", req->method, req->path, i + 1);
      goto out;
    }
    if(add_header(&list, h))
      goto nomem;
  }
  goto out;
nomem:
  rc = drover_error_set(err, DROVER_E_NOMEM, "http: out of memory");
out:
  if(rc) {
    curl_slist_free_all(list);
    list = NULL;
  }
  *out = list;
  return rc;
}

/* The attempt's header list: the base lines not named by the hook, then
 * the hook's. *out is owned by the caller. */
drover_code dv_http_merge_headers(const struct curl_slist *base,
                                  const struct curl_slist *hook,
                                  struct curl_slist **out, drover_error *err)
{
  struct curl_slist *list = NULL;
  const struct curl_slist *b, *k;

  for(b = base; b; b = b->next) {
    size_t n = line_name_len(b->data);
    for(k = hook; k; k = k->next)
      if(dv_http_line_is(k->data, b->data, n) && line_name_len(k->data) == n)
        break;
    if(!k && add_header(&list, b->data))
      goto nomem;
  }
  for(k = hook; k; k = k->next)
    if(add_header(&list, k->data))
      goto nomem;
  *out = list;
  return DROVER_OK;
nomem:
  curl_slist_free_all(list);
  *out = NULL;
  return drover_error_set(err, DROVER_E_NOMEM, "http: out of memory");
}

int dv_http_line_is(const char *line, const char *name, size_t nlen)
{
  return !strncasecmp(line, name, nlen) && (line[nlen] == ':' || line[nlen] == ';');
}
