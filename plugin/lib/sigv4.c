/* sigv4.c - AWS Signature Version 4 (header and presigned-URL variants).
 *
 * Follows the AWS "Create a signed AWS API request" rules: canonical
 * request, string to sign, HMAC-SHA256 key chain. Pure: the time comes in
 * as an argument, nothing is read or logged. OpenSSL does the hashing.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include "drover_sigv4.h"
#include "engine.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

/* --------------------------------------------------------------------------
 * A growable string; on OOM it sets failed and drops further appends, so a
 * sequence of appends needs one check at the end.
 */

typedef struct sbuf {
  char *p;
  size_t len, cap;
  int failed;
} sbuf;

static void sb_addn(sbuf *b, const char *s, size_t n)
{
  if(b->failed)
    return;
  if(b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *np;
    while(cap < b->len + n + 1)
      cap *= 2;
    np = realloc(b->p, cap);
    if(!np) {
      b->failed = 1;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_add(sbuf *b, const char *s)
{
  sb_addn(b, s, strlen(s));
}

static void sb_addc(sbuf *b, char c)
{
  sb_addn(b, &c, 1);
}

static int unreserved(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '.' || c == '~';
}

static void sb_encode(sbuf *b, const char *s, size_t n, int keep_slash)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t i;

  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if(unreserved(c) || (keep_slash && c == '/')) {
      sb_addc(b, (char)c);
    }
    else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};
      sb_addn(b, e, 3);
    }
  }
}

/* Caller frees. */
char *drover_sigv4_uri_encode(const char *s, size_t len, int keep_slash)
{
  sbuf b = {0};

  sb_encode(&b, s ? s : "", s ? len : 0, keep_slash);
  sb_addn(&b, "", 0);
  if(b.failed) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

static void hexify(char *out, const unsigned char *md, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  size_t i;

  for(i = 0; i < n; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[2 * n] = '\0';
}

void drover_sigv4_sha256_hex(char out[65], const void *data, size_t len)
{
  unsigned char md[SHA256_DIGEST_LENGTH];

  SHA256(data ? data : (const void *)"", len, md);
  hexify(out, md, sizeof(md));
}

static int hmac(unsigned char out[32], const void *key, size_t klen, const char *msg)
{
  unsigned int olen = 32;
  return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg),
              out, &olen) != NULL;
}

/* --------------------------------------------------------------------------
 * Canonical URI
 */

/* Removes empty, "." and ".." segments (RFC 3986 5.2.4 plus collapsed
 * slashes, as the AWS SDKs do). A trailing slash, or a trailing "." or
 * "..", leaves the result ending in '/'. */
static void normalize_path(sbuf *out, const char *path)
{
  const char *segs[256];
  size_t lens[256], n = 0, i;
  const char *p = path;
  int trailing = 0;

  while(*p) {
    const char *s;
    size_t len;
    while(*p == '/')
      p++;
    if(!*p) {
      trailing = 1;
      break;
    }
    s = p;
    while(*p && *p != '/')
      p++;
    len = (size_t)(p - s);
    trailing = !*p;
    if(len == 1 && s[0] == '.') {
      trailing = 1;
      continue;
    }
    if(len == 2 && s[0] == '.' && s[1] == '.') {
      if(n)
        n--;
      trailing = 1;
      continue;
    }
    trailing = 0;
    if(n == sizeof(segs) / sizeof(segs[0])) {
      out->failed = 1;        /* absurdly deep: refuse rather than guess */
      return;
    }
    segs[n] = s;
    lens[n++] = len;
  }
  sb_addc(out, '/');
  for(i = 0; i < n; i++) {
    sb_addn(out, segs[i], lens[i]);
    if(i + 1 < n || trailing)
      sb_addc(out, '/');
  }
}

static void canonical_uri(sbuf *out, const char *path, unsigned flags)
{
  sbuf norm = {0};
  const char *p = path && *path ? path : "/";

  if(flags & DROVER_SIGV4_NORMALIZE_PATH) {
    normalize_path(&norm, p);
    if(norm.failed) {
      out->failed = 1;
      free(norm.p);
      return;
    }
    p = norm.p;
  }
  if(flags & DROVER_SIGV4_DOUBLE_ENCODE)
    sb_encode(out, p, strlen(p), 1);
  else
    sb_add(out, p);
  free(norm.p);
}

/* --------------------------------------------------------------------------
 * Canonical query: every parameter decoded, encoded again the one SigV4
 * way, sorted by name then value. '+' is a literal plus (not a space).
 */

typedef struct qparam {
  char *name;     /* encoded */
  char *value;    /* encoded */
} qparam;

static char *reencode(const char *s, size_t n)
{
  sbuf raw = {0};
  char *out;
  size_t i;

  sb_addn(&raw, "", 0);
  for(i = 0; i < n; i++) {
    int hi, lo;
    if(s[i] == '%' && i + 2 < n && (hi = dv_hexval((unsigned char)s[i + 1])) >= 0 &&
       (lo = dv_hexval((unsigned char)s[i + 2])) >= 0) {
      sb_addc(&raw, (char)(hi * 16 + lo));
      i += 2;
    }
    else {
      sb_addc(&raw, s[i]);
    }
  }
  if(raw.failed) {
    free(raw.p);
    return NULL;
  }
  out = drover_sigv4_uri_encode(raw.p, raw.len, 0);
  free(raw.p);
  return out;
}

static int qparam_cmp(const void *a, const void *b)
{
  const qparam *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->value, y->value);
}

static void qparams_free(qparam *q, size_t n)
{
  size_t i;

  for(i = 0; i < n; i++) {
    free(q[i].name);
    free(q[i].value);
  }
  free(q);
}

/* Appends the wire query's parameters to *q (grown as needed). */
static drover_code parse_query(qparam **q, size_t *n, size_t *cap, const char *query)
{
  const char *p = query ? query : "";

  while(*p) {
    const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
    const char *eq = memchr(p, '=', (size_t)(end - p));
    if(end > p) {
      qparam qp;
      if(*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        qparam *nq = realloc(*q, nc * sizeof(*nq));
        if(!nq)
          return DROVER_E_NOMEM;
        *q = nq;
        *cap = nc;
      }
      qp.name = reencode(p, (size_t)((eq ? eq : end) - p));
      qp.value = eq ? reencode(eq + 1, (size_t)(end - eq - 1)) : reencode("", 0);
      if(!qp.name || !qp.value) {
        free(qp.name);
        free(qp.value);
        return DROVER_E_NOMEM;
      }
      (*q)[(*n)++] = qp;
    }
    p = amp ? amp + 1 : end;
  }
  return DROVER_OK;
}

static drover_code add_qparam(qparam **q, size_t *n, size_t *cap, const char *name,
                              const char *value)
{
  qparam qp;

  if(*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    qparam *nq = realloc(*q, nc * sizeof(*nq));
    if(!nq)
      return DROVER_E_NOMEM;
    *q = nq;
    *cap = nc;
  }
  qp.name = drover_sigv4_uri_encode(name, strlen(name), 0);
  qp.value = drover_sigv4_uri_encode(value, strlen(value), 0);
  if(!qp.name || !qp.value) {
    free(qp.name);
    free(qp.value);
    return DROVER_E_NOMEM;
  }
  (*q)[(*n)++] = qp;
  return DROVER_OK;
}

/* --------------------------------------------------------------------------
 * Canonical headers: lowercase names, values trimmed with inner runs of
 * blanks made one space, repeated names joined with ',' in request order,
 * sorted by name.
 */

typedef struct chdr {
  char *name;     /* lowercase */
  char *value;    /* trimmed, collapsed */
  size_t order;
} chdr;

static int chdr_cmp(const void *a, const void *b)
{
  const chdr *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  if(c)
    return c;
  return x->order < y->order ? -1 : x->order > y->order;
}

static int valid_name(const char *s)
{
  if(!s || !*s)
    return 0;
  for(; *s; s++)
    if((unsigned char)*s <= ' ' || *s == ':' || (unsigned char)*s >= 127)
      return 0;
  return 1;
}

static drover_code chdr_set(chdr *h, const char *name, const char *value, size_t order)
{
  size_t i, n = strlen(value);
  const char *s = value, *e = value + n;
  char *v;

  h->name = strdup(name);
  h->value = v = malloc(n + 1);
  h->order = order;
  if(!h->name || !h->value)
    return DROVER_E_NOMEM;
  for(i = 0; h->name[i]; i++)
    h->name[i] = (char)tolower((unsigned char)h->name[i]);
  while(s < e && (*s == ' ' || *s == '\t'))
    s++;
  while(e > s && (e[-1] == ' ' || e[-1] == '\t'))
    e--;
  while(s < e) {
    if(*s == ' ' || *s == '\t') {
      while(s < e && (*s == ' ' || *s == '\t'))
        s++;
      *v++ = ' ';
    }
    else {
      *v++ = *s++;
    }
  }
  *v = '\0';
  return DROVER_OK;
}

/* --------------------------------------------------------------------------
 * The signer
 */

typedef struct signing {
  const drover_sigv4_request *req;
  const drover_sigv4_params *p;
  int presign;
  char date[9];              /* yyyymmdd */
  char *scope;               /* date/region/service/aws4_request */
  char *credential;          /* access key id/scope */
  chdr *hdrs;
  size_t nhdrs;
  sbuf signed_headers;
  sbuf canonical_headers;
  qparam *q;
  size_t nq, qcap;
} signing;

static void signing_free(signing *s)
{
  size_t i;

  for(i = 0; i < s->nhdrs; i++) {
    free(s->hdrs[i].name);
    free(s->hdrs[i].value);
  }
  free(s->hdrs);
  free(s->scope);
  free(s->credential);
  free(s->signed_headers.p);
  free(s->canonical_headers.p);
  qparams_free(s->q, s->nq);
}

static drover_code check_args(const drover_sigv4_request *req, const drover_sigv4_params *p,
                              int presign, drover_error *err)
{
  size_t i;

  if(!req || !p)
    return drover_error_set(err, DROVER_E_ARG, "sigv4: no request or no parameters");
  if(!valid_name(req->method))
    return drover_error_set(err, DROVER_E_ARG, "sigv4: bad or missing method");
  if(req->path && *req->path && req->path[0] != '/')
    return drover_error_set(err, DROVER_E_ARG, "sigv4: path must start with '/'");
  if(!p->access_key_id || !*p->access_key_id || !p->secret_access_key ||
     !*p->secret_access_key)
    return drover_error_set(err, DROVER_E_ARG, "sigv4: no credentials");
  if(strpbrk(p->access_key_id, "/ \t\r\n,="))
    return drover_error_set(err, DROVER_E_ARG,
                            "sigv4: access key id has a character it may not hold");
  if(!valid_name(p->region) || strchr(p->region, '/') || !valid_name(p->service) ||
     strchr(p->service, '/'))
    return drover_error_set(err, DROVER_E_ARG, "sigv4: bad or missing region or service");
  if(p->session_token && strpbrk(p->session_token, "\r\n"))
    return drover_error_set(err, DROVER_E_ARG, "sigv4: session token holds a line break");
  if(presign && (p->expires < 1 || p->expires > DROVER_SIGV4_MAX_EXPIRES))
    return drover_error_set(err, DROVER_E_ARG, "sigv4: expires must be 1..%ld seconds, not %ld",
                            DROVER_SIGV4_MAX_EXPIRES, p->expires);
  if(req->payload_hash && strcmp(req->payload_hash, DROVER_SIGV4_UNSIGNED_PAYLOAD)) {
    size_t n = strlen(req->payload_hash);
    for(i = 0; i < n && (isdigit((unsigned char)req->payload_hash[i]) ||
                         (req->payload_hash[i] >= 'a' && req->payload_hash[i] <= 'f')); i++)
      ;
    if(n != 64 || i != n)
      return drover_error_set(err, DROVER_E_ARG,
                              "sigv4: payload hash is neither 64 lowercase hex digits nor %s",
                              DROVER_SIGV4_UNSIGNED_PAYLOAD);
  }
  for(i = 0; i < req->nheaders; i++) {
    const drover_sigv4_header *h = &req->headers[i];
    if(!valid_name(h->name) || !h->value)
      return drover_error_set(err, DROVER_E_ARG, "sigv4: header %zu has a bad name or no value",
                              i + 1);
    if(strpbrk(h->value, "\r\n"))
      return drover_error_set(err, DROVER_E_ARG, "sigv4: header %s holds a line break",
                              h->name);
    if(!strcasecmp(h->name, "authorization") || !strcasecmp(h->name, "x-amz-date") ||
       (!presign && !strcasecmp(h->name, "x-amz-security-token") && p->session_token &&
        *p->session_token) ||
       (!presign && !strcasecmp(h->name, "x-amz-content-sha256") &&
        (p->flags & DROVER_SIGV4_CONTENT_SHA256)))
      return drover_error_set(err, DROVER_E_ARG, "sigv4: header %s is the signer's to add",
                              h->name);
  }
  for(i = 0; i < req->nheaders; i++)
    if(!strcasecmp(req->headers[i].name, "host"))
      return DROVER_OK;
  return drover_error_set(err, DROVER_E_ARG, "sigv4: the request has no Host header");
}

/* Builds the sorted canonical header list from the request's headers plus
 * the ones the header variant adds. */
static drover_code build_headers(signing *s, const char *amz_date, const char *payload)
{
  const drover_sigv4_request *req = s->req;
  size_t i, n = 0;
  int token = s->p->session_token && *s->p->session_token &&
              !(s->p->flags & DROVER_SIGV4_TOKEN_UNSIGNED);
  drover_code rc = DROVER_OK;

  s->hdrs = calloc(req->nheaders + 3, sizeof(*s->hdrs));
  if(!s->hdrs)
    return DROVER_E_NOMEM;
  for(i = 0; i < req->nheaders && !rc; i++, n++)
    rc = chdr_set(&s->hdrs[n], req->headers[i].name, req->headers[i].value, n);
  if(!rc && !s->presign) {
    rc = chdr_set(&s->hdrs[n], "x-amz-date", amz_date, n);
    n++;
    if(!rc && (s->p->flags & DROVER_SIGV4_CONTENT_SHA256)) {
      rc = chdr_set(&s->hdrs[n], "x-amz-content-sha256", payload, n);
      n++;
    }
    if(!rc && token) {
      rc = chdr_set(&s->hdrs[n], "x-amz-security-token", s->p->session_token, n);
      n++;
    }
  }
  s->nhdrs = n;
  if(rc)
    return rc;
  qsort(s->hdrs, n, sizeof(*s->hdrs), chdr_cmp);
  for(i = 0; i < n; i++) {
    if(i && !strcmp(s->hdrs[i].name, s->hdrs[i - 1].name)) {
      /* A repeated name: its value joins the line already written. */
      s->canonical_headers.len--;
      sb_addc(&s->canonical_headers, ',');
    }
    else {
      if(i)
        sb_addc(&s->signed_headers, ';');
      sb_add(&s->signed_headers, s->hdrs[i].name);
      sb_add(&s->canonical_headers, s->hdrs[i].name);
      sb_addc(&s->canonical_headers, ':');
    }
    sb_add(&s->canonical_headers, s->hdrs[i].value);
    sb_addc(&s->canonical_headers, '\n');
  }
  sb_addn(&s->signed_headers, "", 0);
  sb_addn(&s->canonical_headers, "", 0);
  if(s->signed_headers.failed || s->canonical_headers.failed)
    return DROVER_E_NOMEM;
  return DROVER_OK;
}

static drover_code derive_signature(char out[65], const drover_sigv4_params *p,
                                    const char *date, const char *sts)
{
  unsigned char k[32], k2[32];
  char *secret = dv_aprintf("AWS4%s", p->secret_access_key);
  int ok;

  if(!secret)
    return DROVER_E_NOMEM;
  ok = hmac(k, secret, strlen(secret), date) && hmac(k2, k, 32, p->region) &&
       hmac(k, k2, 32, p->service) && hmac(k2, k, 32, "aws4_request") &&
       hmac(k, k2, 32, sts);
  if(ok)
    hexify(out, k, 32);
  OPENSSL_cleanse(secret, strlen(secret));
  OPENSSL_cleanse(k, sizeof(k));
  OPENSSL_cleanse(k2, sizeof(k2));
  free(secret);
  return ok ? DROVER_OK : DROVER_E_INTERNAL;
}

/* Both variants. */
static drover_code sign(drover_sigv4_result *out, const drover_sigv4_request *req,
                        const drover_sigv4_params *p, int presign, drover_error *err)
{
  signing s = {0};
  sbuf cr = {0}, sts = {0}, tail = {0};
  struct tm tm;
  char expires[32], crhash[65];
  const char *payload = req && req->payload_hash ? req->payload_hash : DROVER_SIGV4_EMPTY_SHA256;
  int token = 0;
  drover_code rc;
  size_t i;

  if(out)
    memset(out, 0, sizeof(*out));
  rc = check_args(req, p, presign, err);
  if(rc)
    goto out;
  if(!out) {
    rc = drover_error_set(err, DROVER_E_ARG, "sigv4: no result to fill");
    goto out;
  }
  token = p->session_token && *p->session_token;
  s.req = req;
  s.p = p;
  s.presign = presign;
  if(!gmtime_r(&p->when, &tm)) {
    rc = drover_error_set(err, DROVER_E_ARG, "sigv4: signing time out of range");
    goto out;
  }
  strftime(out->amz_date, sizeof(out->amz_date), "%Y%m%dT%H%M%SZ", &tm);
  memcpy(s.date, out->amz_date, 8);
  s.date[8] = '\0';
  s.scope = dv_aprintf("%s/%s/%s/aws4_request", s.date, p->region, p->service);
  s.credential = s.scope ? dv_aprintf("%s/%s", p->access_key_id, s.scope) : NULL;
  if(!s.credential) {
    rc = DROVER_E_NOMEM;
    goto out;
  }
  rc = build_headers(&s, out->amz_date, payload);
  if(rc)
    goto out;

  /* Query: the request's parameters, plus the X-Amz-* ones when presigning. */
  rc = parse_query(&s.q, &s.nq, &s.qcap, req->query);
  if(!rc && presign) {
    snprintf(expires, sizeof(expires), "%ld", p->expires);
    rc = add_qparam(&s.q, &s.nq, &s.qcap, "X-Amz-Algorithm", ALGORITHM);
    if(!rc)
      rc = add_qparam(&s.q, &s.nq, &s.qcap, "X-Amz-Credential", s.credential);
    if(!rc)
      rc = add_qparam(&s.q, &s.nq, &s.qcap, "X-Amz-Date", out->amz_date);
    if(!rc)
      rc = add_qparam(&s.q, &s.nq, &s.qcap, "X-Amz-Expires", expires);
    if(!rc && token && !(p->flags & DROVER_SIGV4_TOKEN_UNSIGNED))
      rc = add_qparam(&s.q, &s.nq, &s.qcap, "X-Amz-Security-Token", p->session_token);
    if(!rc)
      rc = add_qparam(&s.q, &s.nq, &s.qcap, "X-Amz-SignedHeaders", s.signed_headers.p);
  }
  if(rc)
    goto out;
  if(s.nq > 1) /* qsort wants a non-NULL base even for 0 items */
    qsort(s.q, s.nq, sizeof(*s.q), qparam_cmp);

  /* The canonical request. */
  sb_add(&cr, req->method);
  sb_addc(&cr, '\n');
  canonical_uri(&cr, req->path, p->flags);
  sb_addc(&cr, '\n');
  for(i = 0; i < s.nq; i++) {
    if(i)
      sb_addc(&cr, '&');
    sb_add(&cr, s.q[i].name);
    sb_addc(&cr, '=');
    sb_add(&cr, s.q[i].value);
  }
  sb_addc(&cr, '\n');
  sb_add(&cr, s.canonical_headers.p);
  sb_addc(&cr, '\n');
  sb_add(&cr, s.signed_headers.p);
  sb_addc(&cr, '\n');
  sb_add(&cr, payload);
  if(cr.failed) {
    rc = DROVER_E_NOMEM;
    goto out;
  }
  drover_sigv4_sha256_hex(crhash, cr.p, cr.len);

  sb_add(&sts, ALGORITHM "\n");
  sb_add(&sts, out->amz_date);
  sb_addc(&sts, '\n');
  sb_add(&sts, s.scope);
  sb_addc(&sts, '\n');
  sb_add(&sts, crhash);
  if(sts.failed) {
    rc = DROVER_E_NOMEM;
    goto out;
  }
  rc = derive_signature(out->signature, p, s.date, sts.p);
  if(rc) {
    drover_error_set(err, rc, "sigv4: HMAC-SHA256 failed");
    goto out;
  }

  if(presign) {
    /* The request's own query as sent, then the X-Amz-* parameters in the
     * order the AWS SDKs write them. */
    if(req->query && *req->query) {
      sb_add(&tail, req->query);
      sb_addc(&tail, '&');
    }
    sb_add(&tail, "X-Amz-Algorithm=" ALGORITHM "&X-Amz-Credential=");
    sb_encode(&tail, s.credential, strlen(s.credential), 0);
    sb_add(&tail, "&X-Amz-Date=");
    sb_add(&tail, out->amz_date);
    sb_add(&tail, "&X-Amz-SignedHeaders=");
    sb_encode(&tail, s.signed_headers.p, strlen(s.signed_headers.p), 0);
    sb_add(&tail, "&X-Amz-Expires=");
    sb_add(&tail, expires);
    if(token) {
      sb_add(&tail, "&X-Amz-Security-Token=");
      sb_encode(&tail, p->session_token, strlen(p->session_token), 0);
    }
    sb_add(&tail, "&X-Amz-Signature=");
    sb_add(&tail, out->signature);
    if(tail.failed) {
      rc = DROVER_E_NOMEM;
      goto out;
    }
    out->query = tail.p;
    tail.p = NULL;
  }
  else {
    size_t n = 0;
    if(token)
      out->add_headers[n++] = dv_aprintf("X-Amz-Security-Token: %s", p->session_token);
    out->add_headers[n++] = dv_aprintf("X-Amz-Date: %s", out->amz_date);
    if(p->flags & DROVER_SIGV4_CONTENT_SHA256)
      out->add_headers[n++] = dv_aprintf("X-Amz-Content-Sha256: %s", payload);
    out->add_headers[n++] = dv_aprintf(ALGORITHM " Credential=%s, SignedHeaders=%s, Signature=%s",
                                       s.credential, s.signed_headers.p, out->signature);
    if(out->add_headers[n - 1]) {
      char *auth = dv_aprintf("Authorization: %s", out->add_headers[n - 1]);
      free(out->add_headers[n - 1]);
      out->add_headers[n - 1] = auth;
    }
    out->nadd_headers = n;
    for(i = 0; i < n; i++)
      if(!out->add_headers[i])
        rc = DROVER_E_NOMEM;
    if(rc)
      goto out;
  }
  out->canonical_request = cr.p;
  out->string_to_sign = sts.p;
  cr.p = sts.p = NULL;

out:
  if(rc == DROVER_E_NOMEM)
    drover_error_set(err, rc, "sigv4: out of memory");
  if(rc && out)
    drover_sigv4_result_free(out);
  free(cr.p);
  free(sts.p);
  free(tail.p);
  signing_free(&s);
  return rc;
}

drover_code drover_sigv4_sign(drover_sigv4_result *out, const drover_sigv4_request *req,
                              const drover_sigv4_params *p, drover_error *err)
{
  return sign(out, req, p, 0, err);
}

drover_code drover_sigv4_presign(drover_sigv4_result *out, const drover_sigv4_request *req,
                                 const drover_sigv4_params *p, drover_error *err)
{
  return sign(out, req, p, 1, err);
}

void drover_sigv4_result_free(drover_sigv4_result *r)
{
  size_t i;

  if(!r)
    return;
  free(r->canonical_request);
  free(r->string_to_sign);
  free(r->query);
  for(i = 0; i < sizeof(r->add_headers) / sizeof(r->add_headers[0]); i++)
    free(r->add_headers[i]);
  memset(r, 0, sizeof(*r));
}
