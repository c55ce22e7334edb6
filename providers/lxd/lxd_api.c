/* lxd_api.c - LXD REST calls: JSON in and out, error mapping, operations.
 *
 * Every call goes through the shared HTTP module (retries, budget, TLS).
 * LXD answers {"type":"sync"|"async"|"error", "error":..., "metadata":...};
 * its error text is passed on unchanged, prefixed "lxd: <address>: ".
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "lxd.h"

/* --------------------------------------------------------------------------
 * Small helpers
 */

/* Ownership: caller frees. */
char *lxd_esc(const char *s)
{
  char *e = curl_easy_escape(NULL, s, 0);
  char *copy;

  if(!e)
    return NULL;
  copy = strdup(e);
  curl_free(e);
  return copy;
}

/* Ownership: caller frees. */
char *lxd_path(const lxd_state *st, const char *fmt, ...)
{
  va_list ap;
  char *base = NULL, *proj = NULL, *out = NULL;
  int n;

  va_start(ap, fmt);
  n = vasprintf(&base, fmt, ap);
  va_end(ap);
  if(n < 0)
    return NULL;
  proj = lxd_esc(st->project ? st->project : "default");
  if(proj && asprintf(&out, "%s%cproject=%s", base, strchr(base, '?') ? '&' : '?',
                      proj) < 0)
    out = NULL;
  free(proj);
  free(base);
  return out;
}

drover_code lxd_etag_race(drover_code rc, const drover_res_req *req, drover_error *err)
{
  if(rc != DROVER_E_CONFLICT || req->if_match)
    return rc;
  if(err && err->code == DROVER_E_CONFLICT)
    err->code = DROVER_E_TRANSIENT;
  return DROVER_E_TRANSIENT;
}

/* Does mark stand in msg as words of their own, not inside a longer
 * word or a config key ("boot.host_shutdown_timeout")? Case-insensitive.
 * A dot before is allowed: Go says "Client.Timeout exceeded". */
static int has_words(const char *msg, const char *mark)
{
  size_t n = strlen(mark);
  const char *at;

  for(at = strcasestr(msg, mark); at; at = strcasestr(at + 1, mark)) {
    unsigned char before = at > msg ? (unsigned char)at[-1] : ' ';
    unsigned char after = (unsigned char)at[n];
    if(!isalnum(before) && before != '_' &&
       !isalnum(after) && after != '_')
      return 1;
  }
  return 0;
}

int lxd_transient_text(const char *msg)
{
  static const char *const marks[] = {
    "database is locked", "timeout", "timed out", "deadline exceeded",
    "connection refused", "connection reset", "try again", "temporarily",
    "too many open files", "too many requests", "too many connections",
    "no such host", "broken pipe", "EOF",
    /* a create still running from a killed drover: retry until it ends */
    "is busy running", NULL};
  size_t i;

  if(!msg)
    return 0;
  for(i = 0; marks[i]; i++)
    if(has_words(msg, marks[i]))
      return 1;
  return 0;
}

double lxd_deadline(const lxd_state *st, double deadline)
{
  return deadline > 0 ? deadline : drover_now() + st->op_timeout;
}

void lxd_result_free(lxd_result *r)
{
  if(!r)
    return;
  json_decref(r->meta);
  free(r->etag);
  free(r->op);
  free(r->message);
  memset(r, 0, sizeof(*r));
}

static int says_exists(long status, const char *msg)
{
  return status == 409 || (msg && strstr(msg, "already exists"));
}

/* --------------------------------------------------------------------------
 * Dropping members before parsing
 */

#define DROP_MAX_DEPTH 64

static int is_ws(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Index just past the string that starts at buf[i] (a quote); len when
 * it does not end. */
static size_t skip_string(const char *buf, size_t len, size_t i)
{
  for(i++; i < len; i++) {
    if(buf[i] == '\\')
      i++;
    else if(buf[i] == '"')
      return i + 1;
  }
  return len;
}

/* Index just past the value that starts at buf[i] (after whitespace);
 * len when it does not end. */
static size_t skip_value(const char *buf, size_t len, size_t i)
{
  size_t depth = 0;

  while(i < len && is_ws(buf[i]))
    i++;
  if(i < len && buf[i] != '{' && buf[i] != '[') {
    if(buf[i] == '"')
      return skip_string(buf, len, i);
    while(i < len && !is_ws(buf[i]) && buf[i] != ',' && buf[i] != '}' && buf[i] != ']')
      i++;
    return i;
  }
  while(i < len) {
    char c = buf[i];
    if(c == '"') {
      i = skip_string(buf, len, i);
      continue;
    }
    if(c == '{' || c == '[')
      depth++;
    else if((c == '}' || c == ']') && --depth == 0)
      return i + 1;
    i++;
  }
  return len;
}

/* Removes, in place, every member whose key is one of keys (NULL-terminated,
 * no escapes in them) from the objects of a list response,
 * {"metadata": [{...}, ...]}: depth three only, so nested user data with
 * the same key is left alone.
 * Returns the new length; the text only ever gets shorter. A text that is
 * not JSON comes out as broken as it went in, for the parser to reject. */
size_t lxd_drop_members(char *buf, size_t len, const char *const *keys)
{
  char stack[DROP_MAX_DEPTH];
  size_t depth = 0, r = 0, w = 0, k;
  char prev = 0; /* last significant character written */

  while(r < len) {
    char c = buf[r];
    if(c == '"') {
      size_t end = skip_string(buf, len, r);
      /* Only members of the listed objects themselves ({"metadata": [{..}]}),
       * never a user's config key that happens to share the name. */
      if(depth == 3 && stack[0] == '{' && stack[1] == '[' && stack[2] == '{' &&
         (prev == '{' || prev == ',')) {
        size_t klen = end - r >= 2 ? end - r - 2 : 0, after = end;
        while(after < len && is_ws(buf[after]))
          after++;
        for(k = 0; klen && keys[k]; k++)
          if(strlen(keys[k]) == klen && !memcmp(buf + r + 1, keys[k], klen))
            break;
        if(klen && keys[k] && after < len && buf[after] == ':') {
          /* Drop `"key": value` and the comma after it, or else the one
           * written before it. */
          r = skip_value(buf, len, after + 1);
          while(r < len && is_ws(buf[r]))
            r++;
          if(r < len && buf[r] == ',')
            r++;
          else if(prev == ',') {
            while(w > 0 && buf[w - 1] != ',')
              w--; /* whitespace after the comma */
            w--;   /* the comma */
            prev = 0;
            for(k = w; k > 0 && !prev; k--)
              if(!is_ws(buf[k - 1]))
                prev = buf[k - 1];
          }
          continue;
        }
      }
      memmove(buf + w, buf + r, end - r);
      w += end - r;
      r = end;
      prev = '"';
      continue;
    }
    if(c == '{' || c == '[') {
      if(depth == DROP_MAX_DEPTH) {
        /* Too deep to follow: the rest is kept as it is. */
        memmove(buf + w, buf + r, len - r);
        w += len - r;
        break;
      }
      stack[depth++] = c;
    }
    else if((c == '}' || c == ']') && depth)
      depth--;
    buf[w++] = c;
    if(!is_ws(c))
      prev = c;
    r++;
  }
  if(w < len)
    buf[w] = '\0';
  return w;
}

/* --------------------------------------------------------------------------
 * One call
 */

/* A reply that is not what LXD sends is an error, never "nothing there":
 * a 2xx must be a sync or async envelope (async with its operation), and
 * an allowed 404 must be LXD's own error envelope saying 404. An error
 * envelope inside a 2xx (seen from broken proxies) is an error too. */
static drover_code envelope_check(const json_t *root, long status, const char *method,
                                  const char *path, const char *address,
                                  drover_error *err)
{
  const char *type, *text;
  json_int_t code;

  if(!root) /* garbled on the way more often than by LXD itself: retried */
    return lxd_fail(err, DROVER_E_TRANSIENT, address,
                    "%s %s: HTTP %ld reply is not JSON (empty, truncated or garbled)",
                    method, path, status);
  if(!json_is_object(root))
    return lxd_fail(err, DROVER_E_PROVIDER, address,
                    "%s %s: HTTP %ld reply is not an LXD response object",
                    method, path, status);
  type = json_string_value(json_object_get(root, "type"));
  text = json_string_value(json_object_get(root, "error"));
  code = json_integer_value(json_object_get(root, "error_code"));
  if(status == 404) {
    if(type && !strcmp(type, "error") && code == 404)
      return DROVER_OK;
    return lxd_fail(err, DROVER_E_PROVIDER, address,
                    "%s %s: HTTP 404 without LXD's not-found reply", method, path);
  }
  if(type && !strcmp(type, "error"))
    return lxd_fail(err, code >= 500 || lxd_transient_text(text) ? DROVER_E_TRANSIENT
                                                                 : DROVER_E_PROVIDER,
                    address, "%s %s: HTTP %ld reply carries an error%s%s",
                    method, path, status, text && *text ? ": " : "",
                    text && *text ? text : "");
  if(!type || (strcmp(type, "sync") && strcmp(type, "async")))
    return lxd_fail(err, DROVER_E_PROVIDER, address,
                    "%s %s: HTTP %ld reply has no valid \"type\" (sync/async)",
                    method, path, status);
  if(!strcmp(type, "async") &&
     !(json_string_value(json_object_get(root, "operation")) &&
       *json_string_value(json_object_get(root, "operation"))))
    return lxd_fail(err, DROVER_E_PROVIDER, address,
                    "%s %s: async reply without an operation", method, path);
  return DROVER_OK;
}

/* The metadata shape the caller asked for (LXD_META_*). */
static drover_code meta_check(const lxd_result *res, unsigned allow, const char *method,
                              const char *path, const char *address, drover_error *err)
{
  if((allow & LXD_META_OBJECT) && !json_is_object(res->meta))
    return lxd_fail(err, DROVER_E_PROVIDER, address,
                    "%s %s: reply without the expected metadata object", method, path);
  if((allow & LXD_META_ARRAY) && !json_is_array(res->meta))
    return lxd_fail(err, DROVER_E_PROVIDER, address,
                    "%s %s: reply without the expected metadata list", method, path);
  return DROVER_OK;
}

/* One request and its checks. *malformed is set when the reply was
 * answered but not in LXD's shape (envelope_check/meta_check failed). */
static drover_code call_once(lxd_state *st, const char *method, const char *path,
                             const char *if_match, const json_t *body,
                             const char *address, unsigned allow, lxd_result *res,
                             int *malformed, drover_error *err)
{
  drover_http_response resp;
  drover_error herr;
  drover_code rc, hrc;
  json_t *root = NULL;
  char *text = NULL;
  const char *msg;
  double t0 = drover_now();

  memset(res, 0, sizeof(*res));
  memset(&resp, 0, sizeof(resp));
  drover_error_clear(&herr);
  if(body) {
    text = json_dumps(body, JSON_COMPACT);
    if(!text) {
      rc = lxd_fail(err, DROVER_E_NOMEM, address, "out of memory");
      goto out;
    }
  }
  hrc = drover_http_request(st->http, method, path, if_match, text,
                            text ? strlen(text) : 0, &resp, &herr);
  drover_logf(&st->env, DROVER_LOG_DEBUG, "lxd: %s %s -> %ld (%.0f ms)", method, path,
              resp.status, (drover_now() - t0) * 1e3);
  res->status = resp.status;
  if(resp.body && resp.len && (allow & LXD_DROP_EXPANDED) && resp.status == 200) {
    static const char *const expanded[] = {"expanded_config", "expanded_devices", NULL};
    resp.len = lxd_drop_members(resp.body, resp.len, expanded);
  }
  if(resp.body && resp.len)
    root = json_loadb(resp.body, resp.len, 0, NULL);
  if(json_is_object(root)) {
    json_t *m = json_object_get(root, "metadata");
    const char *e = json_string_value(json_object_get(root, "error"));
    const char *op = json_string_value(json_object_get(root, "operation"));
    const char *type = json_string_value(json_object_get(root, "type"));
    if(m && !json_is_null(m))
      res->meta = json_incref(m);
    if(e && *e)
      res->message = strdup(e);
    if(type && !strcmp(type, "async") && op && *op)
      res->op = strdup(op);
  }
  if(resp.etag) {
    res->etag = resp.etag;
    resp.etag = NULL;
  }
  msg = res->message;

  if(hrc && !resp.status) {
    /* No answer at all: pass the transport error on (TRANSIENT, TLS, IO). */
    rc = lxd_fail(err, hrc, address, "%s: %s", st->where, herr.text);
    goto out;
  }
  if((allow & LXD_ALLOW_404) && resp.status == 404) {
    /* "Gone" only on LXD's own not-found envelope: a bare 404 (a proxy's
     * page, a truncated body) is no evidence that the object is absent. */
    rc = envelope_check(root, resp.status, method, path, address, err);
    *malformed = rc != DROVER_OK;
    goto out;
  }
  if((allow & LXD_ALLOW_EXISTS) && resp.status >= 400 && says_exists(resp.status, msg)) {
    /* LXD 5.0 answers a duplicate profile with a 500, which the HTTP
     * module retried; the answer is still "exists". */
    res->status = 409;
    rc = DROVER_OK;
    goto out;
  }
  if(hrc) {
    /* Retries exhausted on 429/5xx: LXD's text if it gave one. */
    rc = lxd_fail(err, hrc, address, "%s", msg ? msg : herr.text);
    goto out;
  }
  if(resp.status >= 400) {
    drover_code code = DROVER_E_PROVIDER;
    /* 404 means "no such object" for GET and DELETE. On POST/PUT it names
     * something the request refers to (an image, a profile, a pool):
     * a permanent provider error, not "the object is gone". */
    if(resp.status == 404 && (!strcmp(method, "GET") || !strcmp(method, "DELETE")))
      code = DROVER_E_NOT_FOUND;
    else if(resp.status == 412)
      code = DROVER_E_CONFLICT;
    else if(lxd_transient_text(msg))
      code = DROVER_E_TRANSIENT;
    if(msg)
      rc = lxd_fail(err, code, address, "%s", msg);
    else
      rc = lxd_fail(err, code, address, "HTTP %ld from %s %s", resp.status, method, path);
    goto out;
  }
  rc = envelope_check(root, resp.status, method, path, address, err);
  if(!rc)
    rc = meta_check(res, allow, method, path, address, err);
  if(rc) {
    *malformed = 1;
    goto out;
  }
  rc = DROVER_OK;
out:
  json_decref(root);
  drover_http_response_free(&resp);
  free(text);
  return rc;
}

/* A GET is safe to ask again: a reply garbled on the way (cut short,
 * not JSON, not LXD's shape) is re-read a few times before it becomes the
 * error. Other methods are not repeated here; apply reads the object back
 * instead (ambiguous failures). */
#define LXD_MALFORMED_REREADS 2

drover_code lxd_call(lxd_state *st, const char *method, const char *path,
                     const char *if_match, const json_t *body, const char *address,
                     unsigned allow, lxd_result *res, drover_error *err)
{
  drover_code rc;
  unsigned attempt;

  for(attempt = 0;; attempt++) {
    drover_error local;
    int malformed = 0;

    drover_error_clear(&local);
    rc = call_once(st, method, path, if_match, body, address, allow, res, &malformed,
                   &local);
    if(rc && malformed && !strcmp(method, "GET") && attempt < LXD_MALFORMED_REREADS) {
      drover_logf(&st->env, DROVER_LOG_WARN, "lxd: %s; reading again", local.text);
      lxd_result_free(res);
      continue;
    }
    if(rc && err && !err->code)
      *err = local;
    return rc;
  }
}

/* --------------------------------------------------------------------------
 * Operations
 */

drover_code lxd_wait(lxd_state *st, const char *op, double deadline,
                     const char *address, unsigned allow, lxd_exists *exists,
                     drover_error *err)
{
  return lxd_wait_meta(st, op, deadline, address, allow, exists, NULL, err);
}

drover_code lxd_wait_meta(lxd_state *st, const char *op, double deadline,
                          const char *address, unsigned allow, lxd_exists *exists,
                          json_t **meta, drover_error *err)
{
  drover_code rc = DROVER_OK;
  char *path = NULL;
  const char *q = strchr(op, '?');
  lxd_result res;

  memset(&res, 0, sizeof(res));
  if(exists)
    memset(exists, 0, sizeof(*exists));
  for(;;) {
    double left = deadline - drover_now();
    long secs, code;
    const char *errtext;

    if(left <= 0) {
      rc = lxd_fail(err, DROVER_E_TIMEOUT, address,
                    "operation %s did not finish before the deadline", op);
      goto out;
    }
    secs = (long)ceil(left < st->wait_chunk ? left : st->wait_chunk);
    if(secs < 1)
      secs = 1;
    free(path);
    /* The operation URL may already carry ?project=...; keep it. */
    if(q) {
      if(asprintf(&path, "%.*s/wait%s&timeout=%ld", (int)(q - op), op, q, secs) < 0)
        path = NULL;
    }
    else
      path = lxd_path(st, "%s/wait?timeout=%ld", op, secs);
    if(!path) {
      rc = lxd_fail(err, DROVER_E_NOMEM, address, "out of memory");
      goto out;
    }
    lxd_result_free(&res);
    rc = lxd_call(st, "GET", path, NULL, NULL, address, LXD_ALLOW_404 | LXD_META_OBJECT,
                  &res, err);
    if(rc)
      goto out;
    if(res.status == 404) {
      /* LXD forgets finished operations after a few seconds: whether this
       * one succeeded is unknown, never assumed. Transient, so the caller
       * reads the object back (delete, start/stop) or apply does
       * (ambiguous failures) and decides from the object's state. */
      rc = lxd_fail(err, DROVER_E_TRANSIENT, address, "operation %s ended unseen: "
                    "LXD no longer knows it, so its outcome is read back", op);
      goto out;
    }
    if(!json_is_integer(json_object_get(res.meta, "status_code"))) {
      rc = lxd_fail(err, DROVER_E_PROVIDER, address,
                    "operation %s: reply without a status code", op);
      goto out;
    }
    code = (long)json_integer_value(json_object_get(res.meta, "status_code"));
    errtext = json_string_value(json_object_get(res.meta, "err"));
    if(code == 200) {
      if(meta)
        *meta = json_incref(json_object_get(res.meta, "metadata"));
      goto out;
    }
    if(code == 400 || code == 401) {
      if((allow & LXD_ALLOW_EXISTS) && errtext && strstr(errtext, "already exists")) {
        if(exists) {
          exists->yes = 1;
          snprintf(exists->said, sizeof(exists->said), "%s", errtext);
        }
        goto out;
      }
      rc = lxd_fail(err, lxd_transient_text(errtext) ? DROVER_E_TRANSIENT
                                                      : DROVER_E_PROVIDER,
                    address, "%s", errtext && *errtext ? errtext :
                    code == 401 ? "operation cancelled" : "operation failed");
      goto out;
    }
    /* Still running (103) or pending: wait again until the deadline. */
  }
out:
  lxd_result_free(&res);
  free(path);
  return rc;
}

drover_code lxd_call_wait(lxd_state *st, const char *method, const char *path,
                          const char *if_match, const json_t *body,
                          const char *address, double deadline, drover_error *err)
{
  lxd_result res;
  drover_code rc;

  rc = lxd_call(st, method, path, if_match, body, address, 0, &res, err);
  if(!rc && res.op)
    rc = lxd_wait(st, res.op, deadline, address, 0, NULL, err);
  lxd_result_free(&res);
  return rc;
}
