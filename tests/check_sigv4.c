/* check_sigv4.c - the SigV4 signer.
 *
 * 1. Every case of the AWS SigV4 test suite in shared/vectors/aws-sigv4/,
 *    read at test time (never copied here): canonical request, string to
 *    sign, signature and signed request, header and query variants.
 *    Found through $DROVER_SIGV4_VECTORS, else the first
 *    shared/vectors/aws-sigv4 in a parent of the source tree (CI clones
 *    the repo with shared/ beside it). Missing: a failure under CI=true,
 *    a loud skip (exit 77) otherwise.
 * 2. libcurl's own SigV4 (CURLOPT_AWS_SIGV4) signs a PUT to a local
 *    server; the signer, given the same request and curl's X-Amz-Date,
 *    must produce the same Authorization header.
 * 3. S3 rules: no double encoding, awkward keys, repeated and empty query
 *    parameters, bad input.
 */
#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "drover_sigv4.h"
#include "scripted_server.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static char vectors[PATH_MAX];
static char **cases;
static size_t ncases;

/* --------------------------------------------------------------------------
 * Helpers
 */

/* The whole file, NUL-terminated; NULL when absent. Caller frees. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
  char path[PATH_MAX + 64];
  FILE *f;
  char *buf = NULL;
  long n;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "rb");
  if(!f)
    return NULL;
  if(fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
    buf = malloc((size_t)n + 1);
    if(buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
      free(buf);
      buf = NULL;
    }
    if(buf) {
      buf[n] = '\0';
      if(len)
        *len = (size_t)n;
    }
  }
  fclose(f);
  return buf;
}

static char *must_slurp(const char *dir, const char *name)
{
  char *s = slurp(dir, name, NULL);
  ck_assert_msg(s != NULL, "%s/%s: cannot read", dir, name);
  return s;
}

static void rstrip(char *s)
{
  size_t n = strlen(s);
  while(n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
    s[--n] = '\0';
}

/* A parsed request.txt: request line, headers (obs-fold lines unfolded
 * with one space, as RFC 7230 3.2.4 says), body. */
typedef struct preq {
  char *buf;
  char *method, *path, *query, *body;
  size_t body_len;
  drover_sigv4_header hdr[32];
  char *hval[32];
  size_t nhdr;
} preq;

static void preq_parse(preq *r, char *text)
{
  char *line, *next, *sp, *ver;

  memset(r, 0, sizeof(*r));
  r->buf = text;
  next = strchr(text, '\n');
  ck_assert_ptr_nonnull(next);
  *next++ = '\0';
  line = text;
  sp = strchr(line, ' ');
  ver = strstr(line, " HTTP/1.1");
  ck_assert(sp && ver && ver > sp);
  *sp = '\0';
  *ver = '\0';
  r->method = line;
  r->path = sp + 1;
  r->query = strchr(r->path, '?');
  if(r->query)
    *r->query++ = '\0';
  while(next && *next && *next != '\n') {
    line = next;
    next = strchr(line, '\n');
    if(next)
      *next++ = '\0';
    if(*line == ' ' || *line == '\t') {
      char *v;
      ck_assert_uint_gt(r->nhdr, 0);
      while(*line == ' ' || *line == '\t')
        line++;
      v = r->hval[r->nhdr - 1];
      r->hval[r->nhdr - 1] = malloc(strlen(v) + strlen(line) + 2);
      sprintf(r->hval[r->nhdr - 1], "%s %s", v, line);
      free(v);
      r->hdr[r->nhdr - 1].value = r->hval[r->nhdr - 1];
      continue;
    }
    sp = strchr(line, ':');
    ck_assert_ptr_nonnull(sp);
    ck_assert_uint_lt(r->nhdr, 32);
    *sp = '\0';
    r->hdr[r->nhdr].name = line;
    r->hval[r->nhdr] = strdup(sp + 1);
    r->hdr[r->nhdr].value = r->hval[r->nhdr];
    r->nhdr++;
  }
  if(next && *next == '\n') {
    r->body = next + 1;
    r->body_len = strlen(r->body);
  }
}

static void preq_free(preq *r)
{
  size_t i;
  for(i = 0; i < r->nhdr; i++)
    free(r->hval[i]);
  free(r->buf);
}

/* "2015-08-30T12:36:00Z" -> seconds. */
static time_t parse_iso(const char *s)
{
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  ck_assert_ptr_nonnull(strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm));
  return timegm(&tm);
}

/* The value of header name (case-insensitive) in an HTTP message's head;
 * "" when absent. Copies into buf. */
static const char *find_header(const char *msg, const char *name, char *buf, size_t size)
{
  const char *p = strchr(msg, '\n');
  size_t nl = strlen(name);

  buf[0] = '\0';
  while(p && p[1] && p[1] != '\n' && p[1] != '\r') {
    const char *line = p + 1, *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if(len > nl && !strncasecmp(line, name, nl) && line[nl] == ':') {
      const char *v = line + nl + 1;
      size_t vl = len - nl - 1;
      while(vl && (*v == ' '))
        v++, vl--;
      while(vl && (v[vl - 1] == '\r'))
        vl--;
      if(vl >= size)
        vl = size - 1;
      memcpy(buf, v, vl);
      buf[vl] = '\0';
      return buf;
    }
    p = end;
  }
  return buf;
}

/* --------------------------------------------------------------------------
 * The AWS test suite
 */

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *p)
{
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Finds the suite: $DROVER_SIGV4_VECTORS, else shared/vectors/aws-sigv4 in
 * the nearest parent of the source tree that has one. */
static int locate_vectors(void)
{
  const char *env = getenv("DROVER_SIGV4_VECTORS");
  const char *start = getenv("DROVER_TEST_SRCDIR");
  char dir[PATH_MAX], cand[PATH_MAX + 32];
  int n;

  if(env && *env) {
    snprintf(vectors, sizeof(vectors), "%s", env);
    return is_dir(vectors);
  }
  if(!start || !*start)
    start = DROVER_ABS_TOP_SRCDIR;
  if(!realpath(start, dir))
    return 0;
  for(;;) {
    char *slash;
    snprintf(cand, sizeof(cand), "%s/shared/vectors/aws-sigv4", dir);
    if(is_dir(cand)) {
      n = snprintf(vectors, sizeof(vectors), "%s", cand);
      if(n < 0 || (size_t)n >= sizeof(vectors))
        return 0;
      return 1;
    }
    slash = strrchr(dir, '/');
    if(!slash || slash == dir)
      return 0;
    *slash = '\0';
  }
}

static void load_cases(void)
{
  DIR *d = opendir(vectors);
  struct dirent *e;
  size_t cap = 0;

  if(!d)
    return;
  while((e = readdir(d))) {
    char p[PATH_MAX + 300];
    if(e->d_name[0] == '.')
      continue;
    snprintf(p, sizeof(p), "%s/%s", vectors, e->d_name);
    if(!is_dir(p))
      continue;
    if(ncases == cap) {
      cap = cap ? cap * 2 : 64;
      cases = realloc(cases, cap * sizeof(*cases));
    }
    cases[ncases++] = strdup(e->d_name);
  }
  closedir(d);
  if(ncases)
    qsort(cases, ncases, sizeof(*cases), cmp_str);
}

START_TEST(vectors_present)
{
  ck_assert_msg(vectors[0] != '\0',
                "the SigV4 test suite (shared/vectors/aws-sigv4) was not found: set "
                "DROVER_SIGV4_VECTORS or clone shared/ beside the repository");
  ck_assert_msg(ncases > 0, "%s holds no cases", vectors);
}
END_TEST

/* Signs case dir in one variant; fills params from context.json. */
static void run_case(const char *name, int query)
{
  char dir[PATH_MAX + 300];
  char *ctx_text, *want_cr, *want_sts, *want_sig, *want_req;
  json_t *ctx, *cred;
  json_error_t jerr;
  preq r;
  drover_sigv4_request req;
  drover_sigv4_params p;
  drover_sigv4_result out;
  drover_error err;
  char body_hash[65];
  const char *v = query ? "query" : "header";
  char fname[64];
  drover_code rc;
  size_t i;

  snprintf(dir, sizeof(dir), "%s/%s", vectors, name);
  ctx_text = must_slurp(dir, "context.json");
  memset(&jerr, 0, sizeof(jerr));
  ctx = json_loads(ctx_text, 0, &jerr);
  ck_assert_msg(ctx != NULL, "%s/context.json: %s", dir, jerr.text);
  free(ctx_text);
  preq_parse(&r, must_slurp(dir, "request.txt"));

  memset(&p, 0, sizeof(p));
  cred = json_object_get(ctx, "credentials");
  p.access_key_id = json_string_value(json_object_get(cred, "access_key_id"));
  p.secret_access_key = json_string_value(json_object_get(cred, "secret_access_key"));
  p.session_token = json_string_value(json_object_get(cred, "token"));
  p.region = json_string_value(json_object_get(ctx, "region"));
  p.service = json_string_value(json_object_get(ctx, "service"));
  p.when = parse_iso(json_string_value(json_object_get(ctx, "timestamp")));
  p.expires = (long)json_integer_value(json_object_get(ctx, "expiration_in_seconds"));
  /* The suite is for a generic service: double encoding always. */
  p.flags = DROVER_SIGV4_DOUBLE_ENCODE;
  if(json_is_true(json_object_get(ctx, "normalize")))
    p.flags |= DROVER_SIGV4_NORMALIZE_PATH;
  if(json_is_true(json_object_get(ctx, "sign_body")))
    p.flags |= DROVER_SIGV4_CONTENT_SHA256;
  if(json_is_true(json_object_get(ctx, "omit_session_token")))
    p.flags |= DROVER_SIGV4_TOKEN_UNSIGNED;

  drover_sigv4_sha256_hex(body_hash, r.body, r.body_len);
  memset(&req, 0, sizeof(req));
  req.method = r.method;
  req.path = r.path;
  req.query = r.query;
  req.headers = r.hdr;
  req.nheaders = r.nhdr;
  req.payload_hash = body_hash;

  drover_error_clear(&err);
  rc = query ? drover_sigv4_presign(&out, &req, &p, &err) : drover_sigv4_sign(&out, &req, &p, &err);
  ck_assert_msg(rc == DROVER_OK, "%s (%s): %s", name, v, err.text);

  snprintf(fname, sizeof(fname), "%s-canonical-request.txt", v);
  want_cr = must_slurp(dir, fname);
  ck_assert_msg(!strcmp(out.canonical_request, want_cr),
                "%s (%s): canonical request\n--- got\n%s\n--- want\n%s", name, v,
                out.canonical_request, want_cr);
  snprintf(fname, sizeof(fname), "%s-string-to-sign.txt", v);
  want_sts = must_slurp(dir, fname);
  ck_assert_msg(!strcmp(out.string_to_sign, want_sts),
                "%s (%s): string to sign\n--- got\n%s\n--- want\n%s", name, v,
                out.string_to_sign, want_sts);
  snprintf(fname, sizeof(fname), "%s-signature.txt", v);
  want_sig = must_slurp(dir, fname);
  rstrip(want_sig);
  ck_assert_msg(!strcmp(out.signature, want_sig), "%s (%s): signature %s, want %s", name, v,
                out.signature, want_sig);

  snprintf(fname, sizeof(fname), "%s-signed-request.txt", v);
  want_req = must_slurp(dir, fname);
  if(query) {
    /* The request line carries the whole query. */
    char *line = NULL;
    ck_assert_int_gt(asprintf(&line, "%s %s?%s HTTP/1.1", r.method, r.path, out.query), 0);
    ck_assert_msg(!strncmp(want_req, line, strlen(line)) && want_req[strlen(line)] == '\n',
                  "%s (query): request line\n--- got\n%s\n--- want\n%.*s", name, line,
                  (int)strcspn(want_req, "\n"), want_req);
    ck_assert_uint_eq(out.nadd_headers, 0);
    free(line);
  }
  else {
    /* Each header the signer adds is in the signed request, same value,
     * and every x-amz-* or Authorization header there is one of them. */
    size_t want_added = 0;
    const char *ln;
    for(i = 0; i < out.nadd_headers; i++) {
      char hname[64], got[2048];
      const char *colon = strchr(out.add_headers[i], ':');
      ck_assert_ptr_nonnull(colon);
      snprintf(hname, sizeof(hname), "%.*s", (int)(colon - out.add_headers[i]),
               out.add_headers[i]);
      find_header(want_req, hname, got, sizeof(got));
      ck_assert_msg(!strcmp(got, colon + 2), "%s (header): %s is \"%s\", want \"%s\"", name,
                    hname, colon + 2, got);
    }
    for(ln = want_req; ln && *ln && *ln != '\n'; ln = strchr(ln, '\n'), ln = ln ? ln + 1 : NULL)
      if(!strncasecmp(ln, "x-amz-", 6) || !strncasecmp(ln, "authorization:", 14))
        want_added++;
    ck_assert_uint_eq(out.nadd_headers, want_added);
    ck_assert_ptr_null(out.query);
  }
  free(want_cr);
  free(want_sts);
  free(want_sig);
  free(want_req);
  drover_sigv4_result_free(&out);
  preq_free(&r);
  json_decref(ctx);
}

START_TEST(vector_header)
{
  ck_assert_uint_lt((size_t)_i, ncases);
  run_case(cases[_i], 0);
}
END_TEST

START_TEST(vector_query)
{
  ck_assert_uint_lt((size_t)_i, ncases);
  run_case(cases[_i], 1);
}
END_TEST

/* --------------------------------------------------------------------------
 * S3 rules
 */

static drover_sigv4_params s3params(void)
{
  drover_sigv4_params p;
  memset(&p, 0, sizeof(p));
  p.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  p.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  p.region = "us-east-1";
  p.service = "s3";
  p.when = 1369353600;          /* 2013-05-24T00:00:00Z */
  p.flags = DROVER_SIGV4_S3_FLAGS;
  return p;
}

/* The GET-object example of the S3 SigV4 documentation. */
START_TEST(s3_doc_get_object)
{
  drover_sigv4_header h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                             {"Range", "bytes=0-9"}};
  drover_sigv4_request req = {"GET", "/test.txt", NULL, h, 2, NULL};
  drover_sigv4_params p = s3params();
  drover_sigv4_result out;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_sigv4_sign(&out, &req, &p, &err), DROVER_OK);
  ck_assert_uint_eq(out.nadd_headers, 3);
  ck_assert_str_eq(out.add_headers[0], "X-Amz-Date: 20130524T000000Z");
  ck_assert_str_eq(out.add_headers[1], "X-Amz-Content-Sha256: " DROVER_SIGV4_EMPTY_SHA256);
  ck_assert_str_eq(out.add_headers[2],
                   "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
                   "us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;"
                   "x-amz-date, Signature="
                   "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  drover_sigv4_result_free(&out);
}
END_TEST

/* The presigned-URL example of the S3 documentation. */
START_TEST(s3_doc_presign)
{
  drover_sigv4_header h[] = {{"Host", "examplebucket.s3.amazonaws.com"}};
  drover_sigv4_request req = {"GET", "/test.txt", NULL, h, 1, DROVER_SIGV4_UNSIGNED_PAYLOAD};
  drover_sigv4_params p = s3params();
  drover_sigv4_result out;
  drover_error err;

  p.expires = 86400;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_sigv4_presign(&out, &req, &p, &err), DROVER_OK);
  ck_assert_str_eq(out.signature,
                   "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  ck_assert_ptr_nonnull(strstr(out.query, "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
                                          "us-east-1%2Fs3%2Faws4_request"));
  ck_assert_ptr_nonnull(strstr(out.query, "&X-Amz-Signature=aeeed9bb"));
  drover_sigv4_result_free(&out);
}
END_TEST

/* S3 keys: the path is encoded once by drover_sigv4_uri_encode and then
 * signed exactly as sent; other services encode it once more. */
START_TEST(s3_awkward_key_not_double_encoded)
{
  const char key[] = "/bkt/a b+c%d/\xe1\x88\xb4/x~y_z.txt";
  char *wire = drover_sigv4_uri_encode(key, strlen(key), 1);
  drover_sigv4_header h[] = {{"Host", "127.0.0.1:4568"}};
  drover_sigv4_request req = {"PUT", NULL, NULL, h, 1, DROVER_SIGV4_UNSIGNED_PAYLOAD};
  drover_sigv4_params p = s3params();
  drover_sigv4_result out;
  drover_error err;

  ck_assert_str_eq(wire, "/bkt/a%20b%2Bc%25d/%E1%88%B4/x~y_z.txt");
  req.path = wire;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_sigv4_sign(&out, &req, &p, &err), DROVER_OK);
  ck_assert_str_eq(strchr(out.canonical_request, '\n') + 1,
                   "/bkt/a%20b%2Bc%25d/%E1%88%B4/x~y_z.txt\n\nhost:127.0.0.1:4568\n"
                   "x-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:20130524T000000Z\n\n"
                   "host;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD");
  drover_sigv4_result_free(&out);

  /* Another service: encoded again, and "a//b" normalized. */
  p.flags = DROVER_SIGV4_SERVICE_FLAGS;
  p.service = "ec2";
  drover_error_clear(&err);
  ck_assert_int_eq(drover_sigv4_sign(&out, &req, &p, &err), DROVER_OK);
  ck_assert_ptr_nonnull(strstr(out.canonical_request,
                               "\n/bkt/a%2520b%252Bc%2525d/%25E1%2588%25B4/x~y_z.txt\n"));
  drover_sigv4_result_free(&out);
  free(wire);
}
END_TEST

/* Query: '+' is a literal plus, %2F stays encoded, a parameter with no '='
 * gets an empty value, repeated names sort by value, unicode names are
 * encoded, lowercase escapes are made uppercase. */
START_TEST(s3_query_rules)
{
  drover_sigv4_header h[] = {{"Host", "h"}};
  drover_sigv4_request req = {"GET", "/", "uploads&prefix=a+b%2Fc&b=2&b=1&\xc3\xa9=%e2%82%ac&acl=",
                              h, 1, NULL};
  drover_sigv4_params p = s3params();
  drover_sigv4_result out;
  drover_error err;
  const char *q;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_sigv4_sign(&out, &req, &p, &err), DROVER_OK);
  q = strchr(strchr(out.canonical_request, '\n') + 1, '\n') + 1;
  ck_assert_int_eq(strncmp(q, "%C3%A9=%E2%82%AC&acl=&b=1&b=2&prefix=a%2Bb%2Fc&uploads=\n",
                           strlen("%C3%A9=%E2%82%AC&acl=&b=1&b=2&prefix=a%2Bb%2Fc&uploads=\n")),
                   0);
  drover_sigv4_result_free(&out);
}
END_TEST

START_TEST(session_token_signed_in_header)
{
  drover_sigv4_header h[] = {{"Host", "h"}};
  drover_sigv4_request req = {"GET", "/", NULL, h, 1, NULL};
  drover_sigv4_params p = s3params();
  drover_sigv4_result out;
  drover_error err;

  p.session_token = "TOKEN/with+chars==";
  drover_error_clear(&err);
  ck_assert_int_eq(drover_sigv4_sign(&out, &req, &p, &err), DROVER_OK);
  ck_assert_str_eq(out.add_headers[0], "X-Amz-Security-Token: TOKEN/with+chars==");
  ck_assert_ptr_nonnull(strstr(out.canonical_request, "\nx-amz-security-token:TOKEN/with+chars==\n"));
  ck_assert_ptr_nonnull(strstr(out.add_headers[out.nadd_headers - 1],
                               "SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                               "x-amz-security-token,"));
  drover_sigv4_result_free(&out);
}
END_TEST

/* Bad input: a clear error, nothing to free, and no credential in it. */
START_TEST(bad_input)
{
  drover_sigv4_header h[] = {{"Host", "h"}};
  drover_sigv4_header auth[] = {{"Host", "h"}, {"Authorization", "x"}};
  drover_sigv4_header nl[] = {{"Host", "h"}, {"X-A", "a\r\nX-Evil: 1"}};
  drover_sigv4_request req = {"GET", "/", NULL, h, 1, NULL};
  drover_sigv4_request noh = {"GET", "/", NULL, NULL, 0, NULL};
  drover_sigv4_params p = s3params();
  drover_sigv4_result out;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_sigv4_sign(&out, &noh, &p, &err), DROVER_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.text, "Host"));
  ck_assert_ptr_null(out.canonical_request);

  req.headers = auth;
  req.nheaders = 2;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_sigv4_sign(&out, &req, &p, &err), DROVER_E_ARG);
  req.headers = nl;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_sigv4_sign(&out, &req, &p, &err), DROVER_E_ARG);

  req.headers = h;
  req.nheaders = 1;
  req.payload_hash = "ABC";
  drover_error_clear(&err);
  ck_assert_int_eq(drover_sigv4_sign(&out, &req, &p, &err), DROVER_E_ARG);
  ck_assert_ptr_null(strstr(err.text, p.secret_access_key));
  req.payload_hash = NULL;

  p.expires = DROVER_SIGV4_MAX_EXPIRES + 1;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_sigv4_presign(&out, &req, &p, &err), DROVER_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.text, "expires"));

  p.expires = 60;
  p.secret_access_key = "";
  drover_error_clear(&err);
  ck_assert_int_eq(drover_sigv4_presign(&out, &req, &p, &err), DROVER_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.text, "credentials"));
}
END_TEST

/* --------------------------------------------------------------------------
 * Cross-check with libcurl's independent SigV4
 */

/* What curl sends is caught by a scripted server (scripted_server.h)
 * answering 200. */
static const char *const cap_ok[] = {
  "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
};

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
  (void)p;
  (void)ud;
  return size * n;
}

/* The requests curl and the signer both sign: an S3 PUT with an awkward
 * key, and a real EC2 Query call (form-encoded POST, service ec2, path
 * "/" double-encoded and normalised as every service but S3 wants). */
static const struct curl_case {
  const char *service, *method, *path, *query, *body, *content_type, *extra;
} curl_cases[] = {
  {"s3", "PUT", "/drover-test/a%20b%2Bc%25d/%E1%88%B4~x.txt", "partNumber=3&uploadId=u%2Fv",
   "drover sigv4 cross-check\n", "Content-Type: text/plain", "X-Amz-Meta-Owner: drover-test"},
  {"ec2", "POST", "/", NULL,
   "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3Adrover%3Astack"
   "&Filter.1.Value.1=web%20%E2%9C%93%20%E6%97%A5&MaxResults=5",
   "Content-Type: application/x-www-form-urlencoded; charset=utf-8", NULL},
};

START_TEST(matches_libcurl)
{
  const struct curl_case *cc = &curl_cases[_i];
  const char *body = cc->body, *path = cc->path, *query = cc->query;
  char scope[64];
  srv s;
  CURL *curl;
  struct curl_slist *hl = NULL;
  char url[256], host[64], amz_date[32], auth[1024], sha[128], signed_list[512];
  char *tok, *save = NULL;
  drover_sigv4_header hdr[16];
  char hval[16][256];
  size_t nh = 0;
  drover_sigv4_request req;
  drover_sigv4_params p;
  drover_sigv4_result out;
  drover_error err;
  char body_hash[65];
  struct tm tm;
  const char *sh;
  char *mine;

  srv_listen(&s, 0, cap_ok, 1);
  srv_run(&s);

  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s%s%s", s.port, path, query ? "?" : "",
           query ? query : "");
  snprintf(scope, sizeof(scope), "aws:amz:us-east-1:%s", cc->service);
  curl = curl_easy_init();
  ck_assert_ptr_nonnull(curl);
  hl = curl_slist_append(hl, cc->content_type);
  if(cc->extra)
    hl = curl_slist_append(hl, cc->extra);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, cc->method);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, scope);
  curl_easy_setopt(curl, CURLOPT_USERPWD, AKID ":" SECRET);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  ck_assert_int_eq(curl_easy_perform(curl), CURLE_OK);
  curl_easy_cleanup(curl);
  curl_slist_free_all(hl);
  srv_stop(&s);
  ck_assert_int_eq(atomic_load(&s.served), 1);

  /* What curl sent. */
  find_header(s.req[0], "Authorization", auth, sizeof(auth));
  find_header(s.req[0], "X-Amz-Date", amz_date, sizeof(amz_date));
  find_header(s.req[0], "x-amz-content-sha256", sha, sizeof(sha));
  ck_assert_msg(auth[0] && amz_date[0], "curl sent no SigV4 headers:\n%s", s.req[0]);
  sh = strstr(auth, "SignedHeaders=");
  ck_assert_ptr_nonnull(sh);
  snprintf(signed_list, sizeof(signed_list), "%.*s", (int)strcspn(sh + 14, ","), sh + 14);

  /* The same request for the signer: every header curl signed, with the
   * value curl sent, but the two the signer adds itself. */
  drover_sigv4_sha256_hex(body_hash, body, strlen(body));
  memset(&p, 0, sizeof(p));
  p.access_key_id = AKID;
  p.secret_access_key = SECRET;
  p.region = "us-east-1";
  p.service = cc->service;
  if(strcmp(cc->service, "s3"))
    p.flags = DROVER_SIGV4_SERVICE_FLAGS;
  for(tok = strtok_r(signed_list, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
    if(!strcmp(tok, "x-amz-date"))
      continue;
    if(!strcmp(tok, "x-amz-content-sha256")) {
      p.flags |= DROVER_SIGV4_CONTENT_SHA256;
      ck_assert_str_eq(sha, body_hash);
      continue;
    }
    ck_assert_uint_lt(nh, 16);
    find_header(s.req[0], tok, hval[nh], sizeof(hval[nh]));
    hdr[nh].name = tok;
    hdr[nh].value = hval[nh];
    nh++;
  }
  snprintf(host, sizeof(host), "127.0.0.1:%d", s.port);
  memset(&tm, 0, sizeof(tm));
  ck_assert_ptr_nonnull(strptime(amz_date, "%Y%m%dT%H%M%SZ", &tm));
  p.when = timegm(&tm);
  memset(&req, 0, sizeof(req));
  req.method = cc->method;
  req.path = path;
  req.query = query;
  req.headers = hdr;
  req.nheaders = nh;
  req.payload_hash = body_hash;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_sigv4_sign(&out, &req, &p, &err), DROVER_OK);
  mine = out.add_headers[out.nadd_headers - 1];
  ck_assert_int_eq(strncmp(mine, "Authorization: ", 15), 0);
  ck_assert_msg(!strcmp(mine + 15, auth), "signer and libcurl differ\n  drover: %s\n  curl:   %s",
                mine + 15, auth);
  /* The signed headers must include the ones that matter. */
  ck_assert_ptr_nonnull(strstr(auth, "host;"));
  drover_sigv4_result_free(&out);
}
END_TEST

static Suite *sigv4_suite(void)
{
  Suite *s = suite_create("sigv4");
  TCase *tc = tcase_create("vectors");
  TCase *s3 = tcase_create("s3");
  TCase *cu = tcase_create("curl");

  tcase_add_test(tc, vectors_present);
  if(ncases) {
    tcase_add_loop_test(tc, vector_header, 0, (int)ncases);
    tcase_add_loop_test(tc, vector_query, 0, (int)ncases);
  }
  suite_add_tcase(s, tc);
  tcase_add_test(s3, s3_doc_get_object);
  tcase_add_test(s3, s3_doc_presign);
  tcase_add_test(s3, s3_awkward_key_not_double_encoded);
  tcase_add_test(s3, s3_query_rules);
  tcase_add_test(s3, session_token_signed_in_header);
  tcase_add_test(s3, bad_input);
  suite_add_tcase(s, s3);
  tcase_add_loop_test(cu, matches_libcurl, 0,
                      (int)(sizeof(curl_cases) / sizeof(curl_cases[0])));
  suite_add_tcase(s, cu);
  return s;
}

int main(void)
{
  SRunner *sr;
  int failed;
  const char *ci = getenv("CI");
  size_t i;

  if(locate_vectors())
    load_cases();
  else
    vectors[0] = '\0';
  if(!vectors[0] && !(ci && !strcmp(ci, "true"))) {
    fprintf(stderr, "check_sigv4: SKIP: the SigV4 test suite (shared/vectors/aws-sigv4) is "
                    "not beside the source tree; set DROVER_SIGV4_VECTORS (under CI=true "
                    "this is a failure)\n");
    return 77;
  }
  printf("check_sigv4: %zu cases from %s\n", ncases, vectors);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  sr = srunner_create(sigv4_suite());
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  curl_global_cleanup();
  for(i = 0; i < ncases; i++)
    free(cases[i]);
  free(cases);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
