/* check_s3.c - the S3 provider's table against a scripted local server.
 *
 * The server (scripted_server.h) answers connection n with script[n] (the
 * last entry repeats) and keeps the requests, so the tests see exactly what
 * the provider sent: settings checks, credentials, the signed request's
 * shape, virtual-hosted addressing, error texts without credentials, and
 * the labels-object fallback of a server without bucket tagging. Live
 * behaviour against a real S3 server is tests/s3/run.sh.
 */
#include <check.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "drover_provider.h"
#include "drover_s3.h"
#include "drover_sigv4.h"
#include "run_suite.h"
#include "crc32c_ref.h"
#include "scripted_server.h"

/* A TCP scripted server answering from script (see scripted_server.h). */
static void srv_start(srv *s, const char *const *script, size_t n)
{
  srv_listen(s, 0, script, n);
  srv_run(s);
}

/* The S3 provider, initialised with config (a JSON text); *state is
 * allocated here and freed by done(). */
static const drover_provider *prov(void)
{
  const drover_provider *p = NULL;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_provider_get(&p, "s3", &err), DROVER_OK);
  return p;
}

static drover_code init(const drover_provider *p, void **state, const char *config,
                        drover_error *err)
{
  json_t *cfg = json_loads(config, 0, NULL);
  drover_code rc;

  ck_assert_ptr_nonnull(cfg);
  *state = calloc(1, p->state_size);
  ck_assert_ptr_nonnull(*state);
  drover_error_clear(err);
  rc = p->init(*state, cfg, NULL, err);
  json_decref(cfg);
  return rc;
}

static void done(const drover_provider *p, void *state)
{
  p->cleanup(state);
  free(state);
}

static const drover_rtype *type(const drover_provider *p, const char *name)
{
  size_t i;
  for(i = 0; p->types[i]; i++)
    if(!strcmp(p->types[i]->name, name))
      return p->types[i];
  ck_abort_msg("no type %s", name);
  return NULL;
}

/* A create request of stack "stk" for address with props (borrowed). */
static void res_req(drover_res_req *req, const char *address, const char *name,
                    const json_t *props)
{
  memset(req, 0, sizeof(*req));
  req->stack = "stk";
  req->address = address;
  req->name = name;
  req->hash = "h1";
  req->deps = "";
  req->properties = props;
}

static void env_creds(void)
{
  setenv("AWS_ACCESS_KEY_ID", "AKIDCHECKS3", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "secret-value-check-s3", 1);
  unsetenv("AWS_SESSION_TOKEN");
  unsetenv("AWS_PROFILE");
  setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
  setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
  unsetenv("DROVER_S3_ENDPOINT");
  unsetenv("AWS_REGION");
  unsetenv("AWS_DEFAULT_REGION");
}

#define XML_HEAD "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nConnection: close\r\n"

/* A 200 answer with body b. Caller frees. */
static char *ok_xml(const char *b)
{
  char *s = NULL;
  ck_assert_int_gt(asprintf(&s, XML_HEAD "Content-Length: %zu\r\n\r\n%s", strlen(b), b), 0);
  return s;
}

/* A DELETE's answer (a script entry). */
#define DELETED "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

/* A 200 answer with no body and ETag "etag". Caller frees. */
static char *etag_ok(const char *etag)
{
  char *s = NULL;
  ck_assert_int_gt(asprintf(&s, "HTTP/1.1 200 OK\r\nETag: \"%s\"\r\nContent-Length: 0\r\n"
                                "Connection: close\r\n\r\n", etag), 0);
  return s;
}

static char *status(int code, const char *reason, const char *b)
{
  char *s = NULL;
  ck_assert_int_gt(asprintf(&s, "HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\n"
                                "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
                            code, reason, strlen(b), b), 0);
  return s;
}

/* Base64 of 4 bytes into out (9 bytes). */
static void b64_4(char *out, const unsigned char in[4])
{
  EVP_EncodeBlock((unsigned char *)out, in, 4);
}

/* A CRC32C as S3 writes it (base64 of its 4 big-endian bytes) into out
 * (9 bytes); its big-endian bytes into be (may be NULL). */
static void crc_b64(char *out, uint32_t c, unsigned char *be)
{
  unsigned char b[4] = {(unsigned char)(c >> 24), (unsigned char)(c >> 16),
                        (unsigned char)(c >> 8), (unsigned char)c};

  b64_4(out, b);
  if(be)
    memcpy(be, b, 4);
}

/* --------------------------------------------------------------------------
 * Settings and credentials
 */

START_TEST(settings_refused)
{
  const drover_provider *p = prov();
  void *st;
  drover_error err;

  env_creds();
  ck_assert_int_eq(init(p, &st, "{\"endpont\": \"http://x\"}", &err), DROVER_E_CONFIG);
  ck_assert_ptr_nonnull(strstr(err.text, "unknown setting \"endpont\""));
  done(p, st);
  ck_assert_int_eq(init(p, &st, "{\"endpoint\": \"ftp://x\"}", &err), DROVER_E_CONFIG);
  done(p, st);
  ck_assert_int_eq(init(p, &st, "{\"endpoint\": \"http://h/path\"}", &err), DROVER_E_CONFIG);
  done(p, st);
  ck_assert_int_eq(init(p, &st, "{\"addressing\": \"dns\"}", &err), DROVER_E_CONFIG);
  done(p, st);
  ck_assert_int_eq(init(p, &st, "{\"part_size\": 1024}", &err), DROVER_E_CONFIG);
  ck_assert_ptr_nonnull(strstr(err.text, "part_size"));
  done(p, st);
  drover_error_clear(&err);
  ck_assert_int_eq(init(p, &st, "{\"download_threshold\": 1024}", &err), DROVER_E_CONFIG);
  ck_assert_ptr_nonnull(strstr(err.text, "download_threshold"));
  done(p, st);
  ck_assert_int_eq(init(p, &st, "{\"checksum\": \"sha1\"}", &err), DROVER_E_CONFIG);
  ck_assert_ptr_nonnull(strstr(err.text, "checksum must be \"crc32c\", \"md5\" or \"none\""));
  done(p, st);
}
END_TEST

START_TEST(credentials_missing_and_from_file)
{
  const drover_provider *p = prov();
  void *st;
  drover_error err;
  char path[] = "/tmp/check_s3_credsXXXXXX", cfg[256];
  int fd = mkstemp(path);
  FILE *f;

  env_creds();
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  ck_assert_int_eq(init(p, &st, "{}", &err), DROVER_E_CONFIG);
  ck_assert_ptr_nonnull(strstr(err.text, "no credentials"));
  done(p, st);
  setenv("AWS_ACCESS_KEY_ID", "AKIDONLY", 1);
  ck_assert_int_eq(init(p, &st, "{}", &err), DROVER_E_CONFIG);
  ck_assert_ptr_nonnull(strstr(err.text, "set together"));
  ck_assert_ptr_null(strstr(err.text, "AKIDONLY"));
  done(p, st);

  ck_assert_int_ge(fd, 0);
  f = fdopen(fd, "w");
  fputs("# comment\n[default]\naws_access_key_id = AKIDDEF\naws_secret_access_key = s-def\n"
        "[ci]\naws_access_key_id=AKIDCI\naws_secret_access_key=secret-ci-value\n", f);
  fclose(f);
  snprintf(cfg, sizeof(cfg), "{\"credentials_file\": \"%s\", \"profile\": \"ci\"}", path);
  ck_assert_int_eq(init(p, &st, cfg, &err), DROVER_OK);
  done(p, st);
  snprintf(cfg, sizeof(cfg), "{\"credentials_file\": \"%s\", \"profile\": \"nope\"}", path);
  ck_assert_int_eq(init(p, &st, cfg, &err), DROVER_E_CONFIG);
  ck_assert_ptr_nonnull(strstr(err.text, "no profile \"nope\""));
  ck_assert_ptr_null(strstr(err.text, "secret-ci-value"));
  ck_assert_ptr_null(strstr(err.text, "AKIDCI"));
  done(p, st);
  unlink(path);
}
END_TEST

/* --------------------------------------------------------------------------
 * Requests
 */

/* Path style: ListBuckets is GET / on the endpoint, signed for s3 with the
 * payload hash header; the secret is nowhere in the request. */
START_TEST(signed_list_path_style)
{
  const drover_provider *p = prov();
  char *r0 = ok_xml("<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>");
  const char *script[] = {r0};
  srv s;
  void *st;
  drover_error err;
  drover_live_list out = {0};
  char cfg[128];

  env_creds();
  setenv("AWS_SESSION_TOKEN", "token-value-check", 1);
  srv_start(&s, script, 1);
  snprintf(cfg, sizeof(cfg), "{\"endpoint\": \"http://127.0.0.1:%d\"}", s.port);
  ck_assert_int_eq(init(p, &st, cfg, &err), DROVER_OK);
  ck_assert_int_eq(p->list(st, type(p, "s3.bucket"), "stk", &out, &err), DROVER_OK);
  ck_assert_uint_eq(out.count, 0);
  ck_assert_int_eq(atomic_load(&s.served), 1);
  ck_assert_int_eq(strncmp(s.req[0], "GET / HTTP/1.1\r\n", 16), 0);
  ck_assert_ptr_nonnull(strcasestr(s.req[0], "\r\nAuthorization: AWS4-HMAC-SHA256 "
                                              "Credential=AKIDCHECKS3/"));
  ck_assert_ptr_nonnull(strstr(s.req[0], "/us-east-1/s3/aws4_request, SignedHeaders=host;"
                                         "x-amz-content-sha256;x-amz-date;x-amz-security-token,"));
  ck_assert_ptr_nonnull(strcasestr(s.req[0], "\r\nx-amz-content-sha256: e3b0c442"));
  ck_assert_ptr_nonnull(strcasestr(s.req[0], "\r\nx-amz-security-token: token-value-check"));
  ck_assert_ptr_null(strstr(s.req[0], "secret-value-check-s3"));
  done(p, st);
  srv_stop(&s);
  drover_live_list_clear(&out);
  unsetenv("AWS_SESSION_TOKEN");
  free(r0);
}
END_TEST

/* Virtual-hosted style: the bucket is in the Host, not the path. */
START_TEST(virtual_hosted)
{
  const drover_provider *p = prov();
  char *r0 = ok_xml("<ListAllMyBucketsResult><Buckets><Bucket><Name>b1</Name></Bucket>"
                    "</Buckets></ListAllMyBucketsResult>");
  char *r1 = ok_xml("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
  const char *script[] = {r0, r1};
  srv s;
  void *st;
  drover_error err;
  drover_live_list out = {0};
  char cfg[160], host[64];

  env_creds();
  srv_start(&s, script, 2);
  snprintf(cfg, sizeof(cfg),
           "{\"endpoint\": \"http://s3.localhost:%d\", \"addressing\": \"virtual\"}", s.port);
  ck_assert_int_eq(init(p, &st, cfg, &err), DROVER_OK);
  ck_assert_int_eq(p->list(st, type(p, "s3.object"), "stk", &out, &err), DROVER_OK);
  ck_assert_int_eq(atomic_load(&s.served), 2);
  snprintf(host, sizeof(host), "\r\nHost: b1.s3.localhost:%d\r\n", s.port);
  ck_assert_ptr_nonnull(strstr(s.req[1], host));
  ck_assert_int_eq(strncmp(s.req[1], "GET /?list-type=2&max-keys=1000&prefix=drover%2Fstk%2F ",
                           55), 0);
  done(p, st);
  srv_stop(&s);
  drover_live_list_clear(&out);
  free(r0);
  free(r1);
}
END_TEST

/* A refused signature: S3's code and message, where the credentials came
 * from, and none of what S3 echoes back (key id, token in the canonical
 * request). Not retried. */
START_TEST(auth_error_has_no_credential)
{
  const drover_provider *p = prov();
  char *r0 = status(403, "Forbidden",
                    "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature "
                    "we calculated does not match</Message><AWSAccessKeyId>AKIDCHECKS3"
                    "</AWSAccessKeyId><CanonicalRequest>GET\n/\n\nx-amz-security-token:"
                    "token-value-check</CanonicalRequest><RequestId>RID42</RequestId></Error>");
  const char *script[] = {r0};
  srv s;
  void *st;
  drover_error err;
  drover_live_list out = {0};
  char cfg[128], text[2048];

  env_creds();
  setenv("AWS_SESSION_TOKEN", "token-value-check", 1);
  srv_start(&s, script, 1);
  snprintf(cfg, sizeof(cfg), "{\"endpoint\": \"http://127.0.0.1:%d\"}", s.port);
  ck_assert_int_eq(init(p, &st, cfg, &err), DROVER_OK);
  ck_assert_int_eq(p->list(st, type(p, "s3.bucket"), "stk", &out, &err), DROVER_E_PROVIDER);
  drover_error_format(&err, text, sizeof(text));
  ck_assert_ptr_nonnull(strstr(text, "HTTP 403 SignatureDoesNotMatch"));
  ck_assert_ptr_nonnull(strstr(text, "request id RID42"));
  ck_assert_ptr_nonnull(strstr(text, "check the credentials from environment"));
  ck_assert_ptr_null(strstr(text, "AKIDCHECKS3"));
  ck_assert_ptr_null(strstr(text, "token-value-check"));
  ck_assert_ptr_null(strstr(text, "secret-value-check-s3"));
  ck_assert_int_eq(atomic_load(&s.served), 1);
  done(p, st);
  srv_stop(&s);
  unsetenv("AWS_SESSION_TOKEN");
  free(r0);
}
END_TEST

/* A server without bucket tagging (501 NotImplemented): labels come from
 * the labels object; versioning and lifecycle read as off. */
START_TEST(bucket_labels_object_fallback)
{
  const drover_provider *p = prov();
  char *r0 = ok_xml("<ListAllMyBucketsResult><Buckets><Bucket><Name>b1</Name></Bucket>"
                    "<Bucket><Name>other</Name></Bucket></Buckets></ListAllMyBucketsResult>");
  char *ni = status(501, "Not Implemented",
                    "<Error><Code>NotImplemented</Code><Message>no</Message></Error>");
  char *labels = NULL;
  char *nf = status(404, "Not Found", "<Error><Code>NoSuchKey</Code><Message>x</Message></Error>");
  const char *script[7];
  srv s;
  void *st;
  drover_error err;
  drover_live_list out = {0};
  char cfg[128];
  const char *body = "{\"tags\": {\"drover:stack\": \"stk\", \"drover:address\": \"data\", "
                     "\"drover:hash\": \"h1\", \"team\": \"hpc\"}}";

  ck_assert_int_gt(asprintf(&labels, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
                            strlen(body), body), 0);
  /* One thread (concurrency 1), so the order is fixed: list, b1 tagging,
   * b1 labels object, b1 versioning, b1 lifecycle, other tagging, other
   * labels object (none). */
  script[0] = r0;
  script[1] = ni;
  script[2] = labels;
  script[3] = ni;
  script[4] = ni;
  script[5] = ni;
  script[6] = nf;
  env_creds();
  srv_start(&s, script, 7);
  snprintf(cfg, sizeof(cfg), "{\"endpoint\": \"http://127.0.0.1:%d\", \"concurrency\": 1}",
           s.port);
  ck_assert_int_eq(init(p, &st, cfg, &err), DROVER_OK);
  ck_assert_int_eq(p->list(st, type(p, "s3.bucket"), "stk", &out, &err), DROVER_OK);
  ck_assert_uint_eq(out.count, 1);
  ck_assert_str_eq(out.items[0]->name, "b1");
  ck_assert_str_eq(out.items[0]->address, "data");
  ck_assert_str_eq(out.items[0]->hash, "h1");
  ck_assert_str_eq(json_string_value(json_object_get(
                     json_object_get(out.items[0]->properties, "tags"), "team")), "hpc");
  ck_assert(json_object_get(json_object_get(out.items[0]->properties, "tags"),
                            "drover:stack") == NULL);
  ck_assert(json_is_false(json_object_get(out.items[0]->properties, "versioning")));
  ck_assert_int_eq(atomic_load(&s.served), 7);
  ck_assert_int_eq(strncmp(s.req[2], "GET /b1/.drover-bucket-tags.json ", 33), 0);
  done(p, st);
  srv_stop(&s);
  drover_live_list_clear(&out);
  free(r0);
  free(ni);
  free(labels);
  free(nf);
}
END_TEST

/* A server with bucket tagging, versioning and lifecycle (AWS): create
 * writes the labels as tags and both settings, each with Content-MD5;
 * refresh reads them back. */
START_TEST(bucket_tags_versioning_lifecycle)
{
  const drover_provider *p = prov();
  char *ok0 = status(200, "OK", "");
  char *notags = status(404, "Not Found", "<Error><Code>NoSuchTagSet</Code><Message>x</Message>"
                                          "</Error>");
  char *list_r = ok_xml("<ListAllMyBucketsResult><Buckets><Bucket><Name>stk-data</Name>"
                        "</Bucket></Buckets></ListAllMyBucketsResult>");
  char *tags_r = ok_xml("<Tagging><TagSet><Tag><Key>drover:stack</Key><Value>stk</Value></Tag>"
                        "<Tag><Key>drover:address</Key><Value>data</Value></Tag>"
                        "<Tag><Key>team</Key><Value>a&amp;b</Value></Tag></TagSet></Tagging>");
  char *ver_r = ok_xml("<VersioningConfiguration><Status>Enabled</Status>"
                       "</VersioningConfiguration>");
  char *lc_r = ok_xml("<LifecycleConfiguration><Rule><ID>other</ID><Expiration><Days>1</Days>"
                      "</Expiration></Rule><Rule><ID>drover-expiration</ID><Filter><Prefix>tmp/"
                      "</Prefix></Filter><Status>Enabled</Status><Expiration><Days>30</Days>"
                      "</Expiration></Rule></LifecycleConfiguration>");
  const char *script[9];
  srv s;
  void *st;
  drover_error err;
  drover_live *out = NULL;
  drover_live_list lst = {0};
  drover_res_req req;
  json_t *props = json_pack("{s:b, s:i, s:s, s:{s:s}}", "versioning", 1, "expiration_days", 30,
                            "expiration_prefix", "tmp/", "tags", "team", "a&b");
  char cfg[160];

  script[0] = ok0;     /* PUT bucket */
  script[1] = notags;  /* GET ?tagging: none yet, but tagging exists */
  script[2] = ok0;     /* PUT ?tagging */
  script[3] = ok0;     /* PUT ?versioning */
  script[4] = ok0;     /* PUT ?lifecycle */
  script[5] = list_r;  /* refresh: list buckets */
  script[6] = tags_r;
  script[7] = ver_r;
  script[8] = lc_r;
  env_creds();
  srv_start(&s, script, 9);
  snprintf(cfg, sizeof(cfg), "{\"endpoint\": \"http://127.0.0.1:%d\", \"concurrency\": 1}",
           s.port);
  ck_assert_int_eq(init(p, &st, cfg, &err), DROVER_OK);
  res_req(&req, "data", "stk-data", props);
  ck_assert_msg(p->create(st, type(p, "s3.bucket"), &req, &out, &err) == DROVER_OK, "%s",
                err.text);
  ck_assert_int_eq(strncmp(s.req[0], "PUT /stk-data HTTP/1.1", 22), 0);
  ck_assert_int_eq(strncmp(s.req[2], "PUT /stk-data?tagging= ", 23), 0);
  ck_assert_ptr_nonnull(strcasestr(s.req[2], "\r\nContent-MD5: "));
  ck_assert_ptr_nonnull(strstr(s.req[2], "<Tag><Key>team</Key><Value>a&amp;b</Value></Tag>"));
  ck_assert_ptr_nonnull(strstr(s.req[2], "<Tag><Key>drover:address</Key><Value>data</Value>"));
  ck_assert_ptr_nonnull(strstr(s.req[2], "<Tag><Key>drover:hash</Key><Value>h1</Value>"));
  ck_assert_int_eq(strncmp(s.req[3], "PUT /stk-data?versioning= ", 26), 0);
  ck_assert_ptr_nonnull(strstr(s.req[3], "<Status>Enabled</Status>"));
  ck_assert_int_eq(strncmp(s.req[4], "PUT /stk-data?lifecycle= ", 25), 0);
  ck_assert_ptr_nonnull(strcasestr(s.req[4], "\r\nContent-MD5: "));
  ck_assert_ptr_nonnull(strstr(s.req[4], "<ID>drover-expiration</ID><Filter><Prefix>tmp/</Prefix>"
                                         "</Filter><Status>Enabled</Status><Expiration><Days>30"));
  drover_live_free(out);

  ck_assert_int_eq(p->list(st, type(p, "s3.bucket"), "stk", &lst, &err), DROVER_OK);
  ck_assert_uint_eq(lst.count, 1);
  ck_assert_str_eq(lst.items[0]->address, "data");
  ck_assert(json_is_true(json_object_get(lst.items[0]->properties, "versioning")));
  ck_assert_int_eq(json_integer_value(json_object_get(lst.items[0]->properties,
                                                      "expiration_days")), 30);
  ck_assert_str_eq(json_string_value(json_object_get(lst.items[0]->properties,
                                                     "expiration_prefix")), "tmp/");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(lst.items[0]->properties,
                                                                     "tags"), "team")), "a&b");
  ck_assert_int_eq(atomic_load(&s.served), 9);
  drover_live_list_clear(&lst);
  done(p, st);
  srv_stop(&s);
  json_decref(props);
  free(ok0);
  free(notags);
  free(list_r);
  free(tags_r);
  free(ver_r);
  free(lc_r);
}
END_TEST

/* --------------------------------------------------------------------------
 * Multipart
 */

/* A 5 MiB file of known bytes; its MD5 as hex in md5hex. Caller unlinks. */
/* Lowercase hex of n bytes into out (2n+1 bytes). */
static void to_hex(char *out, const unsigned char *md, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  size_t i;

  for(i = 0; i < n; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[2 * n] = '\0';
}

static void make_part_file(char *path, char md5hex[33])
{
  unsigned char md[16];
  char *buf = malloc(5u << 20);
  int fd = mkstemp(path), i;

  ck_assert_ptr_nonnull(buf);
  ck_assert_int_ge(fd, 0);
  for(i = 0; i < (5 << 20); i++)
    buf[i] = (char)(i * 7 + 3);
  ck_assert_int_eq(write(fd, buf, 5u << 20), 5 << 20);
  close(fd);
  ck_assert(EVP_Digest(buf, 5u << 20, md, NULL, EVP_md5(), NULL));
  to_hex(md5hex, md, 16);
  free(buf);
}

/* The transfer API on a scripted server answering from script (n entries),
 * with settings on top of the endpoint ("" or ", \"k\": v, ..."). Credentials
 * from the environment (env_creds). Close with drover_s3_close. */
static drover_s3 *s3_on(srv *s, const char *const *script, size_t n, const char *settings)
{
  char cfg[320];
  drover_s3 *s3 = NULL;
  drover_error err;

  env_creds();
  srv_start(s, script, n);
  snprintf(cfg, sizeof(cfg), "{\"endpoint\": \"http://127.0.0.1:%d\"%s}", s->port, settings);
  drover_error_clear(&err);
  ck_assert_msg(drover_s3_open(&s3, cfg, &err) == DROVER_OK, "%s", err.text);
  return s3;
}

static drover_code create_big(const drover_provider *p, void *st, const char *path,
                              drover_live **out, drover_error *err)
{
  drover_res_req req;
  json_t *props = json_pack("{s:s, s:s, s:s, s:s, s:{}}", "bucket", "b", "key", "big.bin",
                            "source", path, "content_type", "application/x-test", "metadata");
  drover_code rc;

  res_req(&req, "big", "stk-big", props);
  drover_error_clear(err);
  rc = p->create(st, type(p, "s3.object"), &req, out, err);
  json_decref(props);
  return rc;
}

#define MP_CFG "{\"endpoint\": \"http://127.0.0.1:%d\", \"multipart_threshold\": 5242880, " \
               "\"part_size\": 5242880, \"concurrency\": 1, \"checksum\": \"md5\"}"

/* A part whose ETag is not the MD5 of what was sent is sent again; the
 * completion lists the good ETag and its answer is checked. */
START_TEST(multipart_part_retried_on_bad_etag)
{
  const drover_provider *p = prov();
  char path[] = "/tmp/check_s3_partXXXXXX", md5[33], cfg[256], *bad, *good, *done_r, *doneb;
  char *init_r = ok_xml("<InitiateMultipartUploadResult><UploadId>UP/1</UploadId>"
                        "</InitiateMultipartUploadResult>");
  char *list_r = ok_xml("<ListMultipartUploadsResult><Upload><Key>drover/stk/big.bin</Key>"
                        "<UploadId>OLD1</UploadId></Upload><Upload><Key>drover/stk/big.bin.2"
                        "</Key><UploadId>OLD2</UploadId></Upload></ListMultipartUploadsResult>");
  char *gone = status(204, "No Content", "");
  const char *script[6];
  unsigned char mm[16], raw[16];
  char final[40];
  srv s;
  void *st;
  drover_error err;
  drover_live *out = NULL;
  int i;

  make_part_file(path, md5);
  for(i = 0; i < 16; i++)
    sscanf(md5 + 2 * i, "%2hhx", &raw[i]);
  ck_assert(EVP_Digest(raw, 16, mm, NULL, EVP_md5(), NULL));
  for(i = 0; i < 16; i++)
    sprintf(final + 2 * i, "%02x", mm[i]);
  bad = etag_ok("0123456789abcdef0123456789abcdef");
  good = etag_ok(md5);
  ck_assert_int_gt(asprintf(&doneb, "<CompleteMultipartUploadResult><ETag>\"%s-1\"</ETag>"
                                    "</CompleteMultipartUploadResult>", final), 0);
  done_r = ok_xml(doneb);
  /* The stale upload of this key (a killed run's) is aborted first, the
   * one of another key is left alone. */
  script[0] = list_r;
  script[1] = gone;
  script[2] = init_r;
  script[3] = bad;
  script[4] = good;
  script[5] = done_r;
  env_creds();
  srv_start(&s, script, 6);
  snprintf(cfg, sizeof(cfg), MP_CFG, s.port);
  ck_assert_int_eq(init(p, &st, cfg, &err), DROVER_OK);
  ck_assert_msg(create_big(p, st, path, &out, &err) == DROVER_OK, "%s", err.text);
  ck_assert_int_eq(atomic_load(&s.served), 6);
  ck_assert_int_eq(strncmp(s.req[0], "GET /b?prefix=drover%2Fstk%2Fbig.bin&uploads= ", 46), 0);
  ck_assert_int_eq(strncmp(s.req[1], "DELETE /b/drover/stk/big.bin?uploadId=OLD1 ", 43), 0);
  ck_assert_int_eq(strncmp(s.req[2], "POST /b/drover/stk/big.bin?uploads= ", 36), 0);
  ck_assert_ptr_nonnull(strcasestr(s.req[2], "\r\nContent-Type: application/x-test\r\n"));
  ck_assert_ptr_nonnull(strcasestr(s.req[2], "\r\nx-amz-meta-drover-address: big\r\n"));
  ck_assert_int_eq(strncmp(s.req[3], "PUT /b/drover/stk/big.bin?partNumber=1&uploadId=UP%2F1 ",
                           55), 0);
  ck_assert_int_eq(strncmp(s.req[4], "PUT /b/drover/stk/big.bin?partNumber=1&uploadId=UP%2F1 ",
                           55), 0);
  ck_assert_int_eq(strncmp(s.req[5], "POST /b/drover/stk/big.bin?uploadId=UP%2F1 ", 43), 0);
  ck_assert_ptr_nonnull(strstr(s.req[5], "<Part><PartNumber>1</PartNumber><ETag>\""));
  ck_assert_ptr_nonnull(strstr(s.req[5], md5));
  drover_live_free(out);
  done(p, st);
  srv_stop(&s);
  unlink(path);
  free(init_r);
  free(bad);
  free(good);
  free(doneb);
  free(done_r);
  free(list_r);
  free(gone);
}
END_TEST

/* A part refused for good: the upload is aborted (DELETE ?uploadId=). */
START_TEST(multipart_aborted_on_failure)
{
  const drover_provider *p = prov();
  char path[] = "/tmp/check_s3_partXXXXXX", md5[33], cfg[256];
  char *init_r = ok_xml("<InitiateMultipartUploadResult><UploadId>UP2</UploadId>"
                        "</InitiateMultipartUploadResult>");
  char *denied = status(403, "Forbidden", "<Error><Code>AccessDenied</Code>"
                                          "<Message>no</Message></Error>");
  char *gone = status(204, "No Content", "");
  char *ni = status(501, "Not Implemented", "<Error><Code>NotImplemented</Code></Error>");
  const char *script[4];
  srv s;
  void *st;
  drover_error err;
  drover_live *out = NULL;

  make_part_file(path, md5);
  /* No multipart listing here (s3rver): go on without aborting anything. */
  script[0] = ni;
  script[1] = init_r;
  script[2] = denied;
  script[3] = gone;
  env_creds();
  srv_start(&s, script, 4);
  snprintf(cfg, sizeof(cfg), MP_CFG, s.port);
  ck_assert_int_eq(init(p, &st, cfg, &err), DROVER_OK);
  ck_assert_int_eq(create_big(p, st, path, &out, &err), DROVER_E_PROVIDER);
  ck_assert_ptr_nonnull(strstr(err.text, "AccessDenied"));
  ck_assert_ptr_null(out);
  ck_assert_int_eq(atomic_load(&s.served), 4);
  ck_assert_int_eq(strncmp(s.req[3], "DELETE /b/drover/stk/big.bin?uploadId=UP2 ", 42), 0);
  done(p, st);
  srv_stop(&s);
  unlink(path);
  free(init_r);
  free(denied);
  free(gone);
  free(ni);
}
END_TEST

/* A file that would need more than S3's 10,000 parts of part_size goes up
 * in larger parts instead of failing: 200 GiB (sparse) at 16 MiB would be
 * 12,800 parts, so parts are 21 MiB, the smallest whole MiB that fits.
 * Without part_size, a 2 GiB file goes in parts chosen for it. */
START_TEST(multipart_part_size_grows)
{
  char path[] = "/tmp/check_s3_hugeXXXXXX";
  char *init_r = ok_xml("<InitiateMultipartUploadResult><UploadId>UP3</UploadId>"
                        "</InitiateMultipartUploadResult>");
  char *denied = status(403, "Forbidden", "<Error><Code>AccessDenied</Code>"
                                          "<Message>no</Message></Error>");
  char *gone = status(204, "No Content", "");
  const char *script[3];
  drover_s3 *s3;
  drover_error err;
  int fd = mkstemp(path);
  srv s;

  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(ftruncate(fd, (off_t)200 << 30), 0);
  close(fd);
  /* The first part is refused: the test needs only its length. */
  script[0] = init_r;
  script[1] = denied;
  script[2] = gone;
  s3 = s3_on(&s, script, 3, ", \"concurrency\": 1, \"part_size\": 16777216");
  drover_error_clear(&err);
  ck_assert_int_eq(drover_s3_upload(s3, path, "b", "k", NULL, &err), DROVER_E_PROVIDER);
  ck_assert_ptr_nonnull(strstr(err.text, "AccessDenied"));
  ck_assert_int_eq(strncmp(s.req[1], "PUT /b/k?partNumber=1&uploadId=UP3 ", 35), 0);
  ck_assert_ptr_nonnull(strcasestr(s.req[1], "\r\nContent-Length: 22020096\r\n"));
  ck_assert_int_eq(strncmp(s.req[2], "DELETE /b/k?uploadId=UP3 ", 25), 0);
  drover_s3_close(s3);
  srv_stop(&s);

  /* Without part_size the parts are sized to the file: 2 GiB in one lane
   * would be four parts of 512 MiB, and goes in the largest chosen size,
   * 64 MiB (s3_part_size's cases: check_s3_parts.c). */
  ck_assert_int_eq(truncate(path, (off_t)2 << 30), 0);
  s3 = s3_on(&s, script, 3, ", \"concurrency\": 1");
  drover_error_clear(&err);
  ck_assert_int_eq(drover_s3_upload(s3, path, "b", "k", NULL, &err), DROVER_E_PROVIDER);
  ck_assert_int_eq(strncmp(s.req[1], "PUT /b/k?partNumber=1&uploadId=UP3 ", 35), 0);
  ck_assert_ptr_nonnull(strcasestr(s.req[1], "\r\nContent-Length: 67108864\r\n"));
  ck_assert_int_eq(strncmp(s.req[2], "DELETE /b/k?uploadId=UP3 ", 25), 0);
  drover_s3_close(s3);
  srv_stop(&s);
  unlink(path);
  free(init_r);
  free(denied);
  free(gone);
}
END_TEST

/* --------------------------------------------------------------------------
 * Inline content above the size read at refresh; checked single PUTs
 */

#define BIG_INLINE 2097152

/* HEAD answer for an inline object of BIG_INLINE bytes whose recorded
 * SHA-256 is sha and MD5 md5, with ETag etag. Caller frees. */
static char *head_inline(const char *sha, const char *md5, const char *etag)
{
  char *s = NULL;
  ck_assert_int_gt(asprintf(&s, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nETag: \"%s\"\r\n"
                                "x-amz-meta-drover-stack: stk\r\n"
                                "x-amz-meta-drover-address: obj\r\n"
                                "x-amz-meta-drover-sha256: %s\r\n"
                                "x-amz-meta-drover-md5: %s\r\n"
                                "Content-Type: text/plain\r\nConnection: close\r\n\r\n",
                            BIG_INLINE, etag, sha, md5), 0);
  return s;
}

/* Lists the stack's objects against a server answering with head as the
 * object's HEAD; returns the one live object's "content". New reference. */
static json_t *listed_content(const char *head, srv *s)
{
  const drover_provider *p = prov();
  char *buckets = ok_xml("<ListAllMyBucketsResult><Buckets><Bucket><Name>b</Name></Bucket>"
                         "</Buckets></ListAllMyBucketsResult>");
  char *listing = NULL, *list_r, cfg[160];
  const char *script[3];
  drover_live_list out = {NULL, 0, 0};
  drover_error err;
  json_t *content;
  void *st;

  ck_assert_int_gt(asprintf(&listing, "<ListBucketResult><IsTruncated>false</IsTruncated>"
                                      "<Contents><Key>drover/stk/big.txt</Key><Size>%d</Size>"
                                      "</Contents></ListBucketResult>", BIG_INLINE), 0);
  list_r = ok_xml(listing);
  script[0] = buckets;
  script[1] = list_r;
  script[2] = head;
  env_creds();
  srv_start(s, script, 3);
  snprintf(cfg, sizeof(cfg), "{\"endpoint\": \"http://127.0.0.1:%d\"}", s->port);
  ck_assert_int_eq(init(p, &st, cfg, &err), DROVER_OK);
  ck_assert_msg(p->list(st, type(p, "s3.object"), "stk", &out, &err) == DROVER_OK, "%s",
                err.text);
  ck_assert_int_eq(atomic_load(&s->served), 3);
  ck_assert_int_eq(strncmp(s->req[2], "HEAD /b/drover/stk/big.txt ", 27), 0);
  ck_assert_uint_eq(out.count, 1);
  content = json_incref(json_object_get(out.items[0]->properties, "content"));
  ck_assert_ptr_nonnull(content);
  drover_live_list_clear(&out);
  done(p, st);
  srv_stop(s);
  free(buckets);
  free(listing);
  free(list_r);
  return content;
}

/* Inline content too large to GET at refresh is reported by its recorded
 * SHA-256 (the engine compares the desired content's), as long as the
 * ETag still is the recorded MD5; an object rewritten since is not. */
START_TEST(large_inline_content_by_digest)
{
  const char *sha = "6d5ab3af8d4fbf5e4ab2bfa5e7d9e0a3bd11dc8e2c8f8b5f08d1fa1b3c7f9e21";
  const char *md5 = "0f343b0931126a20f133d67c2b018a3b";
  char *head = head_inline(sha, md5, md5);
  json_t *c;
  srv s;

  c = listed_content(head, &s);
  ck_assert_msg(json_is_object(c), "content is not a digest object");
  ck_assert_str_eq(json_string_value(json_object_get(c, "sha256")), sha);
  json_decref(c);
  free(head);

  /* Same metadata, other bytes (the ETag is their MD5): unknown content. */
  head = head_inline(sha, md5, "99999999999999999999999999999999");
  c = listed_content(head, &s);
  ck_assert(json_is_null(c));
  json_decref(c);
  free(head);

  /* An ETag that is no MD5 (SSE-KMS): the recorded digest stands. */
  head = head_inline(sha, md5, "not-an-md5");
  c = listed_content(head, &s);
  ck_assert(json_is_object(c));
  json_decref(c);
  free(head);
}
END_TEST

/* The inline PUT records the content's SHA-256 and MD5. */
START_TEST(inline_put_records_digests)
{
  const drover_provider *p = prov();
  char *ok = NULL, cfg[160];
  const char *script[1];
  drover_res_req req;
  drover_live *out = NULL;
  drover_error err;
  json_t *props = json_pack("{s:s, s:s, s:s, s:s, s:{}}", "bucket", "b", "key", "hi.txt",
                            "content", "hello", "content_type", "text/plain", "metadata");
  void *st;
  srv s;

  ok = etag_ok("5d41402abc4b2a76b9719d911017c592");
  script[0] = ok;
  env_creds();
  srv_start(&s, script, 1);
  snprintf(cfg, sizeof(cfg), "{\"endpoint\": \"http://127.0.0.1:%d\"}", s.port);
  ck_assert_int_eq(init(p, &st, cfg, &err), DROVER_OK);
  res_req(&req, "hi", "stk-hi", props);
  ck_assert_msg(p->create(st, type(p, "s3.object"), &req, &out, &err) == DROVER_OK, "%s",
                err.text);
  ck_assert_ptr_nonnull(strcasestr(s.req[0], "\r\nx-amz-meta-drover-md5: "
                                             "5d41402abc4b2a76b9719d911017c592\r\n"));
  ck_assert_ptr_nonnull(strcasestr(s.req[0], "\r\nx-amz-meta-drover-sha256: 2cf24dba5fb0a30e26e8"
                                             "3b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\r\n"));
  drover_live_free(out);
  done(p, st);
  srv_stop(&s);
  json_decref(props);
  free(ok);
}
END_TEST

/* drover_s3_upload's single PUT with "checksum": "md5": the MD5 of the
 * bytes sent must be the ETag answered; another MD5 is an error (and what
 * was stored is deleted again), an ETag that is no MD5 is not. */
START_TEST(single_put_checked_by_etag)
{
  char path[] = "/tmp/check_s3_putXXXXXX", md5[33], *good = NULL, *bad = NULL;
  char *kms = NULL;
  const char *script[4];
  drover_s3 *s3 = NULL;
  drover_error err;
  srv s;

  make_part_file(path, md5);
  good = etag_ok(md5);
  bad = etag_ok("0123456789abcdef0123456789abcdef");
  kms = etag_ok("kms-0123");
  script[0] = good;
  script[1] = bad;
  script[2] = DELETED;
  script[3] = kms;
  s3 = s3_on(&s, script, 4, ", \"checksum\": \"md5\"");
  drover_error_clear(&err);
  ck_assert_msg(drover_s3_upload(s3, path, "b", "k", NULL, &err) == DROVER_OK, "%s", err.text);
  ck_assert_int_eq(strncmp(s.req[0], "PUT /b/k ", 9), 0);
  ck_assert_ptr_nonnull(strcasestr(s.req[0], "\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\n"));
  ck_assert_int_eq(drover_s3_upload(s3, path, "b", "k", NULL, &err), DROVER_E_PROVIDER);
  ck_assert_ptr_nonnull(strstr(err.text, "stored other bytes than were sent"));
  ck_assert_ptr_nonnull(strstr(err.text, md5));
  ck_assert_ptr_nonnull(strstr(err.text, "(the object it stored was deleted again)"));
  ck_assert_int_eq(strncmp(s.req[2], "DELETE /b/k ", 12), 0);
  /* Only if the key still holds what the PUT stored. */
  ck_assert_ptr_nonnull(strcasestr(s.req[2], "\r\nIf-Match: \"0123456789abcdef0123456789abcdef\"\r\n"));
  drover_error_clear(&err);
  ck_assert_msg(drover_s3_upload(s3, path, "b", "k", NULL, &err) == DROVER_OK, "%s", err.text);
  ck_assert_int_eq(atomic_load(&s.served), 4);
  drover_s3_close(s3);
  srv_stop(&s);
  unlink(path);
  free(good);
  free(bad);
  free(kms);
}
END_TEST

/* The same refused PUT, but another writer stored the key since: the
 * conditional DELETE is answered 412, nothing is deleted, and the error
 * says the key was left as it is, not that the object was deleted. */
START_TEST(single_put_undo_replaced)
{
  char path[] = "/tmp/check_s3_putXXXXXX", md5[33], *bad = NULL, *stale = NULL;
  const char *script[2];
  drover_s3 *s3 = NULL;
  drover_error err;
  srv s;

  make_part_file(path, md5);
  bad = etag_ok("0123456789abcdef0123456789abcdef");
  stale = status(412, "Precondition Failed",
                 "<Error><Code>PreconditionFailed</Code><Message>At least one of the "
                 "pre-conditions you specified did not hold</Message></Error>");
  script[0] = bad;
  script[1] = stale;
  s3 = s3_on(&s, script, 2, ", \"checksum\": \"md5\"");
  drover_error_clear(&err);
  ck_assert_int_eq(drover_s3_upload(s3, path, "b", "k", NULL, &err), DROVER_E_PROVIDER);
  ck_assert_ptr_nonnull(strstr(err.text, "stored other bytes than were sent"));
  ck_assert_msg(strstr(err.text, "(another writer replaced what it stored since, so the key "
                                 "was left as it is)"), "%s", err.text);
  ck_assert_ptr_null(strstr(err.text, "deleted again"));
  ck_assert_int_eq(strncmp(s.req[1], "DELETE /b/k ", 12), 0);
  ck_assert_ptr_nonnull(strcasestr(s.req[1], "\r\nIf-Match: \"0123456789abcdef0123456789abcdef\"\r\n"));
  ck_assert_int_eq(atomic_load(&s.served), 2);
  drover_s3_close(s3);
  srv_stop(&s);
  unlink(path);
  free(bad);
  free(stale);
}
END_TEST

/* The single PUT's body comes from a read-ahead thread through a ring
 * smaller than the file: the server gets the file's bytes exactly, and an
 * attempt that fails (a 500) sends them again from the start with the MD5
 * started again, so the retry is checked against the right ETag. */
START_TEST(single_put_read_ahead_retried)
{
  char path[] = "/tmp/check_s3_aheadXXXXXX", md5[33], *good = NULL, *e500 = NULL;
  const char *script[2];
  char *data = malloc(5u << 20);
  drover_s3 *s3;
  drover_error err;
  FILE *f;
  srv s;

  ck_assert_ptr_nonnull(data);
  make_part_file(path, md5);
  f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fread(data, 1, 5u << 20, f), 5u << 20);
  fclose(f);
  good = etag_ok(md5);
  e500 = status(500, "Internal Server Error",
                "<Error><Code>InternalError</Code><Message>try again</Message></Error>");
  script[0] = e500;
  script[1] = good;
  s3 = s3_on(&s, script, 2, ", \"checksum\": \"md5\"");
  drover_error_clear(&err);
  ck_assert_msg(drover_s3_upload(s3, path, "b", "k", NULL, &err) == DROVER_OK, "%s", err.text);
  ck_assert_int_eq(atomic_load(&s.served), 2);
  ck_assert_uint_eq(s.body_bytes, 5u << 20);
  ck_assert_uint_eq(s.body_hash, fnv(FNV_INIT, data, 5u << 20));
  drover_s3_close(s3);
  srv_stop(&s);
  unlink(path);
  free(data);
  free(good);
  free(e500);
}
END_TEST

/* Two multipart uploads of one part, each part answered by part: the
 * first completed with ETag md5 (the whole object's MD5, as s3rver
 * answers), the second with another MD5. v is the script; the entries are
 * freed by md5_script_free. */
typedef struct md5_script {
  char *init, *part, *body, *done_ok, *done_bad;
  const char *v[7];
} md5_script;

static void md5_script_make(md5_script *m, const char *upload_id, const char *md5, char *part)
{
  ck_assert_int_gt(asprintf(&m->body, "<InitiateMultipartUploadResult><UploadId>%s</UploadId>"
                                      "</InitiateMultipartUploadResult>", upload_id), 0);
  m->init = ok_xml(m->body);
  free(m->body);
  ck_assert_int_gt(asprintf(&m->body, "<CompleteMultipartUploadResult><ETag>\"%s\"</ETag>"
                                      "</CompleteMultipartUploadResult>", md5), 0);
  m->done_ok = ok_xml(m->body);
  m->done_bad = ok_xml("<CompleteMultipartUploadResult><ETag>"
                       "\"0123456789abcdef0123456789abcdef\"</ETag>"
                       "</CompleteMultipartUploadResult>");
  m->part = part;
  m->v[0] = m->v[3] = m->init;
  m->v[1] = m->v[4] = m->part;
  m->v[2] = m->done_ok;
  m->v[5] = m->done_bad;
  m->v[6] = DELETED;             /* the refused object deleted again */
}

static void md5_script_free(md5_script *m)
{
  free(m->init);
  free(m->part);
  free(m->body);
  free(m->done_ok);
  free(m->done_bad);
}

/* A server that answers the completion with the whole object's MD5
 * (s3rver) is checked against the file's, computed while it assembled;
 * an answer that matches neither that nor the parts is an error. */
START_TEST(multipart_whole_md5_answer)
{
  char path[] = "/tmp/check_s3_wholeXXXXXX", md5[33];
  md5_script m;
  drover_s3 *s3 = NULL;
  drover_error err;
  srv s;

  make_part_file(path, md5);
  /* One part of 5 MiB: its md5-of-MD5s-1 differs from the file's MD5. */
  md5_script_make(&m, "W1", md5, etag_ok(md5));
  s3 = s3_on(&s, m.v, 7, ", \"multipart_threshold\": 5242880, \"part_size\": 5242880, "
                         "\"checksum\": \"md5\"");
  drover_error_clear(&err);
  ck_assert_msg(drover_s3_upload(s3, path, "b", "k", NULL, &err) == DROVER_OK, "%s", err.text);
  ck_assert_int_eq(strncmp(s.req[2], "POST /b/k?uploadId=W1 ", 22), 0);
  ck_assert_int_eq(drover_s3_upload(s3, path, "b", "k", NULL, &err), DROVER_E_PROVIDER);
  ck_assert_ptr_nonnull(strstr(err.text, "matches neither the parts"));
  ck_assert_ptr_nonnull(strstr(err.text, md5));
  /* Assembled, then refused: it goes again. */
  ck_assert_ptr_nonnull(strstr(err.text, "(the object it stored was deleted again)"));
  ck_assert_int_eq(strncmp(s.req[6], "DELETE /b/k ", 12), 0);
  /* Only if the key still holds it: the completion's ETag, not a header. */
  ck_assert_ptr_nonnull(strcasestr(s.req[6], "\r\nIf-Match: \"0123456789abcdef0123456789abcdef\"\r\n"));
  ck_assert_int_eq(atomic_load(&s.served), 7);
  drover_s3_close(s3);
  srv_stop(&s);
  unlink(path);
  md5_script_free(&m);
}
END_TEST


/* --------------------------------------------------------------------------
 * CRC32C, the default check
 */

/* A 200 answer echoing CRC32C b64 (NULL: none). Caller frees. */
static char *crc_ok(const char *b64)
{
  char *s = NULL;
  ck_assert_int_gt(asprintf(&s, "HTTP/1.1 200 OK\r\nETag: \"e1\"\r\n%s%s%sContent-Length: 0\r\n"
                                "Connection: close\r\n\r\n",
                            b64 ? "x-amz-checksum-crc32c: " : "", b64 ? b64 : "",
                            b64 ? "\r\n" : ""), 0);
  return s;
}

/* A single PUT carries the file's CRC32C (RFC 3720's "123456789" value,
 * E3069283) and asks to continue before its body; the server's echo must
 * match (else what it stored is deleted again), a server that says
 * nothing is no error (it checked nothing, and a warning says so), and
 * its BadDigest refusal is the error (it stored nothing: no DELETE). */
START_TEST(single_put_crc32c)
{
  char path[] = "/tmp/check_s3_crcXXXXXX";
  char *good = crc_ok("4waSgw=="), *bad = crc_ok("AAAAAA=="), *none = crc_ok(NULL);
  char *digest = status(400, "Bad Request", "<Error><Code>BadDigest</Code><Message>The "
                        "CRC32C you specified did not match the calculated checksum."
                        "</Message></Error>");
  const char *script[5];
  drover_s3 *s3;
  drover_error err;
  int fd = mkstemp(path);
  srv s;

  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, "123456789", 9), 9);
  close(fd);
  script[0] = good;
  script[1] = bad;
  script[2] = DELETED;
  script[3] = none;
  script[4] = digest;
  s3 = s3_on(&s, script, 5, "");
  drover_error_clear(&err);
  ck_assert_msg(drover_s3_upload(s3, path, "b", "k", NULL, &err) == DROVER_OK, "%s", err.text);
  ck_assert_ptr_nonnull(strcasestr(s.req[0], "\r\nx-amz-checksum-crc32c: 4waSgw==\r\n"));
  ck_assert_ptr_nonnull(strcasestr(s.req[0], "\r\nExpect: 100-continue\r\n"));
  /* Signed, as every x-amz-* header is. */
  ck_assert_ptr_nonnull(strstr(s.req[0], "x-amz-checksum-crc32c;x-amz-content-sha256"));
  ck_assert_int_eq(drover_s3_upload(s3, path, "b", "k", NULL, &err), DROVER_E_PROVIDER);
  ck_assert_ptr_nonnull(strstr(err.text, "CRC32C AAAAAA== is not that of the bytes sent "
                                         "(4waSgw==)"));
  ck_assert_int_eq(strncmp(s.req[2], "DELETE /b/k ", 12), 0);
  drover_error_clear(&err);
  ck_assert_msg(drover_s3_upload(s3, path, "b", "k", NULL, &err) == DROVER_OK, "%s", err.text);
  ck_assert_int_eq(drover_s3_upload(s3, path, "b", "k", NULL, &err), DROVER_E_PROVIDER);
  ck_assert_ptr_nonnull(strstr(err.text, "BadDigest"));
  ck_assert_int_eq(atomic_load(&s.served), 5);
  drover_s3_close(s3);
  srv_stop(&s);
  unlink(path);
  free(good);
  free(bad);
  free(none);
  free(digest);
}
END_TEST

/* A multipart upload declares CRC32C, each part carries its own, the
 * completion lists them, and its answer must be their composite; another
 * composite is an error. */
START_TEST(multipart_crc32c)
{
  char path[] = "/tmp/check_s3_mpcrcXXXXXX", md5[33], *buf, b64[9], comp[32];
  char *init_r = ok_xml("<InitiateMultipartUploadResult><UploadId>C1</UploadId>"
                        "</InitiateMultipartUploadResult>");
  char *part, *done_ok, *done_bad, *body = NULL, want[64];
  const char *script[7];
  unsigned char be[4];
  uint32_t c;
  drover_s3 *s3;
  drover_error err;
  FILE *f;
  srv s;

  make_part_file(path, md5);
  buf = malloc(5u << 20);
  ck_assert_ptr_nonnull(buf);
  f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fread(buf, 1, 5u << 20, f), 5u << 20);
  fclose(f);
  /* The part's CRC32C, bit at a time; the composite of that one part is
   * the CRC32C of its 4 big-endian bytes. */
  c = crc32c_ref(0, buf, 5u << 20);
  be[0] = (unsigned char)(c >> 24);
  be[1] = (unsigned char)(c >> 16);
  be[2] = (unsigned char)(c >> 8);
  be[3] = (unsigned char)c;
  b64_4(b64, be);
  c = crc32c_ref(0, be, 4);
  be[0] = (unsigned char)(c >> 24);
  be[1] = (unsigned char)(c >> 16);
  be[2] = (unsigned char)(c >> 8);
  be[3] = (unsigned char)c;
  b64_4(comp, be);
  snprintf(want, sizeof(want), "%s-1", comp);
  part = crc_ok(b64);
  ck_assert_int_gt(asprintf(&body, "<CompleteMultipartUploadResult><ETag>\"x-1\"</ETag>"
                                   "<ChecksumCRC32C>%s</ChecksumCRC32C>"
                                   "</CompleteMultipartUploadResult>", want), 0);
  done_ok = ok_xml(body);
  done_bad = ok_xml("<CompleteMultipartUploadResult><ETag>\"x-1\"</ETag><ChecksumCRC32C>"
                    "AAAAAA==-1</ChecksumCRC32C></CompleteMultipartUploadResult>");
  script[0] = init_r;
  script[1] = part;
  script[2] = done_ok;
  script[3] = init_r;
  script[4] = part;
  script[5] = done_bad;
  script[6] = DELETED;
  s3 = s3_on(&s, script, 7, ", \"multipart_threshold\": 5242880, \"part_size\": 5242880");
  drover_error_clear(&err);
  ck_assert_msg(drover_s3_upload(s3, path, "b", "k", NULL, &err) == DROVER_OK, "%s", err.text);
  ck_assert_ptr_nonnull(strcasestr(s.req[0], "\r\nx-amz-checksum-algorithm: CRC32C\r\n"));
  ck_assert_int_eq(strncmp(s.req[1], "PUT /b/k?partNumber=1&uploadId=C1 ", 34), 0);
  ck_assert_ptr_nonnull(strcasestr(s.req[1], b64));
  ck_assert_ptr_nonnull(strstr(s.req[2], "<ChecksumCRC32C>"));
  ck_assert_ptr_nonnull(strstr(s.req[2], b64));
  ck_assert_int_eq(drover_s3_upload(s3, path, "b", "k", NULL, &err), DROVER_E_PROVIDER);
  ck_assert_ptr_nonnull(strstr(err.text, "CRC32C AAAAAA==-1 is not that of the bytes sent"));
  ck_assert_ptr_nonnull(strstr(err.text, want));
  ck_assert_int_eq(strncmp(s.req[6], "DELETE /b/k ", 12), 0);
  ck_assert_int_eq(atomic_load(&s.served), 7);
  drover_s3_close(s3);
  srv_stop(&s);
  unlink(path);
  free(buf);
  free(part);
  free(body);
  free(done_ok);
  free(done_bad);
  free(init_r);
}
END_TEST

/* --------------------------------------------------------------------------
 * drover_s3_upload_checked: one read for the digests, one to send
 */

/* Bytes read by this process through read(2), pread(2) and their kin
 * (/proc/self/io "rchar"; every thread's, the finished ones' included). */
static unsigned long long rchar(void)
{
  unsigned long long v = 0;
  char line[128];
  int found = 0;
  FILE *f = fopen("/proc/self/io", "r");

  ck_assert_ptr_nonnull(f);
  while(!found && fgets(line, sizeof(line), f))
    found = sscanf(line, "rchar: %llu", &v) == 1;
  fclose(f);
  ck_assert_msg(found, "/proc/self/io has no rchar");
  return v;
}

/* A file of size bytes of a fixed pattern at path (a mkstemp template),
 * its bytes in *data (caller frees). */
static void make_file(char *path, size_t size, char **data)
{
  size_t i;
  int fd = mkstemp(path);

  *data = malloc(size);
  ck_assert_ptr_nonnull(*data);
  ck_assert_int_ge(fd, 0);
  for(i = 0; i < size; i++)
    (*data)[i] = (char)(i * 13 + (i >> 16));
  ck_assert_int_eq(write(fd, *data, size), (ssize_t)size);
  close(fd);
}

/* The single PUT of an upload with metadata carries the CRC32C of the
 * file (the bitwise reference's) and its SHA-256, both from the one read
 * that comes before the request, and the bytes sent are the file's: the
 * file is read twice in all, not three times as when the PUT computed
 * its CRC32C in a read of its own.
 * Measured as the process's rchar around the call, for 8 MiB: the
 * scripted server runs in this process, but it and libcurl take the body
 * off the socket with recv(2), which the kernel does not count in rchar
 * (only the VFS read calls), so what is counted is the file's reads plus
 * a few small ones. At least 2x (both reads are seen: the measure is not
 * blind) and below 2.5x (no third). */
START_TEST(upload_checked_crc_from_digest_pass)
{
  const size_t size = 8u << 20;
  char path[] = "/tmp/check_s3_ucrcXXXXXX", *data, b64[9], sha[65], want_sha[65];
  char line[160], *ok;
  const char *meta[] = {"kind", "test", NULL};
  const char *script[1];
  unsigned char md[32];
  unsigned long long r0, r1;
  drover_s3 *s3;
  drover_error err;
  srv s;

  make_file(path, size, &data);
  crc_b64(b64, crc32c_ref(0, data, size), NULL);
  ck_assert(EVP_Digest(data, size, md, NULL, EVP_sha256(), NULL));
  to_hex(want_sha, md, 32);
  ok = crc_ok(b64);
  script[0] = ok;
  s3 = s3_on(&s, script, 1, "");
  drover_error_clear(&err);
  r0 = rchar();
  ck_assert_msg(drover_s3_upload_checked(s3, path, "b", "k", NULL, meta, sha, &err) ==
                DROVER_OK, "%s", err.text);
  r1 = rchar();
  ck_assert_str_eq(sha, want_sha);
  ck_assert_int_eq(atomic_load(&s.served), 1);
  ck_assert_int_eq(strncmp(s.req[0], "PUT /b/k ", 9), 0);
  snprintf(line, sizeof(line), "\r\nx-amz-checksum-crc32c: %s\r\n", b64);
  ck_assert_msg(strcasestr(s.req[0], line), "no %s in %s", b64, s.req[0]);
  snprintf(line, sizeof(line), "\r\nx-amz-meta-drover-sha256: %s\r\n", want_sha);
  ck_assert_ptr_nonnull(strcasestr(s.req[0], line));
  ck_assert_ptr_nonnull(strcasestr(s.req[0], "\r\nx-amz-meta-drover-kind: test\r\n"));
  ck_assert_uint_eq(s.body_bytes, size);
  ck_assert_uint_eq(s.body_hash, fnv(FNV_INIT, data, size));
  ck_assert_msg(r1 - r0 >= 2ull * size && r1 - r0 < 5ull * size / 2,
                "read %llu bytes for a file of %zu (want 2x, below 2.5x)", r1 - r0, size);
  drover_s3_close(s3);
  srv_stop(&s);
  unlink(path);
  free(data);
  free(ok);
}
END_TEST

/* A multipart upload with metadata checked by CRC32C takes its parts'
 * CRC32Cs from the read that gave the SHA-256 too: each part carries the
 * reference CRC32C of its own bytes (parts of 5.5 MiB, not a whole
 * number of that read's 1 MiB chunks, and a short last one), the
 * completion lists them, and the file is read twice in all, not three
 * times (rchar: see upload_checked_crc_from_digest_pass). */
START_TEST(upload_checked_multipart_crcs_from_digest_pass)
{
  const size_t psize = 11u << 19, size = 2 * psize + (1u << 20) + 5;
  char path[] = "/tmp/check_s3_mcrcXXXXXX", *data, sha[65], b64[3][9], comp[9], want[16];
  char *init_r = ok_xml("<InitiateMultipartUploadResult><UploadId>P1</UploadId>"
                        "</InitiateMultipartUploadResult>");
  char *part[3], *done, *body = NULL, line[160];
  unsigned char be[12];
  const char *script[5];
  unsigned long long r0, r1;
  drover_s3 *s3;
  drover_error err;
  size_t i;
  srv s;

  make_file(path, size, &data);
  for(i = 0; i < 3; i++) {
    size_t len = i < 2 ? psize : size - 2 * psize;
    crc_b64(b64[i], crc32c_ref(0, data + i * psize, len), be + 4 * i);
    part[i] = crc_ok(b64[i]);
  }
  crc_b64(comp, crc32c_ref(0, be, 12), NULL);
  snprintf(want, sizeof(want), "%s-3", comp);
  ck_assert_int_gt(asprintf(&body, "<CompleteMultipartUploadResult><ETag>\"x-3\"</ETag>"
                                   "<ChecksumCRC32C>%s</ChecksumCRC32C>"
                                   "</CompleteMultipartUploadResult>", want), 0);
  done = ok_xml(body);
  script[0] = init_r;
  script[1] = part[0];
  script[2] = part[1];
  script[3] = part[2];
  script[4] = done;
  s3 = s3_on(&s, script, 5, ", \"multipart_threshold\": 5242880, \"part_size\": 5767168, "
                            "\"concurrency\": 1");
  drover_error_clear(&err);
  r0 = rchar();
  ck_assert_msg(drover_s3_upload_checked(s3, path, "b", "k", NULL, NULL, sha, &err) ==
                DROVER_OK, "%s", err.text);
  r1 = rchar();
  ck_assert_int_eq(atomic_load(&s.served), 5);
  for(i = 0; i < 3; i++) {
    snprintf(line, sizeof(line), "PUT /b/k?partNumber=%zu&uploadId=P1 ", i + 1);
    ck_assert_int_eq(strncmp(s.req[i + 1], line, strlen(line)), 0);
    snprintf(line, sizeof(line), "\r\nx-amz-checksum-crc32c: %s\r\n", b64[i]);
    ck_assert_msg(strcasestr(s.req[i + 1], line), "part %zu: no %s", i + 1, b64[i]);
    snprintf(line, sizeof(line), "<ChecksumCRC32C>%s</ChecksumCRC32C>", b64[i]);
    ck_assert_ptr_nonnull(strstr(s.req[4], line));
  }
  ck_assert_msg(r1 - r0 >= 2ull * size && r1 - r0 < 5ull * size / 2,
                "read %llu bytes for a file of %zu (want 2x, below 2.5x)", r1 - r0, size);
  drover_s3_close(s3);
  srv_stop(&s);
  unlink(path);
  free(data);
  for(i = 0; i < 3; i++)
    free(part[i]);
  free(body);
  free(done);
  free(init_r);
}
END_TEST

/* A multipart upload with metadata, checked by CRC32C, on a server that
 * confirms no CRC32C and answers the completion with an MD5 (s3rver):
 * the digest pass still gives the file's MD5, and an answer that is not
 * it is the error (the one end-to-end check left on such a server). */
START_TEST(upload_checked_multipart_keeps_md5)
{
  char path[] = "/tmp/check_s3_umd5XXXXXX", md5[33], sha[65];
  md5_script m;
  drover_s3 *s3;
  drover_error err;
  srv s;

  make_part_file(path, md5);
  md5_script_make(&m, "M1", md5, crc_ok(NULL));
  s3 = s3_on(&s, m.v, 7, ", \"multipart_threshold\": 5242880, \"part_size\": 5242880");
  drover_error_clear(&err);
  ck_assert_msg(drover_s3_upload_checked(s3, path, "b", "k", NULL, NULL, sha, &err) ==
                DROVER_OK, "%s", err.text);
  ck_assert_ptr_nonnull(strcasestr(s.req[0], "\r\nx-amz-checksum-algorithm: CRC32C\r\n"));
  ck_assert_int_eq(drover_s3_upload_checked(s3, path, "b", "k", NULL, NULL, sha, &err),
                   DROVER_E_PROVIDER);
  ck_assert_ptr_nonnull(strstr(err.text, "is not the file's MD5"));
  ck_assert_ptr_nonnull(strstr(err.text, md5));
  ck_assert_str_eq(sha, "");
  ck_assert_int_eq(strncmp(s.req[6], "DELETE /b/k ", 12), 0);
  ck_assert_int_eq(atomic_load(&s.served), 7);
  drover_s3_close(s3);
  srv_stop(&s);
  unlink(path);
  md5_script_free(&m);
}
END_TEST

/* --------------------------------------------------------------------------
 * "checksum": "none": nothing computed, sent or compared
 */

/* A single PUT with "checksum": "none" carries no checksum header and
 * reads the file once, to send it (no pass before the request: measured
 * as rchar, which upload_checked_crc_from_digest_pass below says how to
 * read); an ETag that is another MD5 is no error, as nothing is compared.
 * The bytes sent are the file's. */
START_TEST(single_put_none_reads_once)
{
  const size_t size = 8u << 20;
  char path[] = "/tmp/check_s3_noneXXXXXX", *data;
  char *other = etag_ok("0123456789abcdef0123456789abcdef");
  const char *script[1];
  unsigned long long r0, r1;
  drover_s3 *s3;
  drover_error err;
  srv s;

  make_file(path, size, &data);
  script[0] = other;
  s3 = s3_on(&s, script, 1, ", \"checksum\": \"none\"");
  drover_error_clear(&err);
  r0 = rchar();
  ck_assert_msg(drover_s3_upload(s3, path, "b", "k", NULL, &err) == DROVER_OK, "%s", err.text);
  r1 = rchar();
  ck_assert_int_eq(atomic_load(&s.served), 1);
  ck_assert_int_eq(strncmp(s.req[0], "PUT /b/k ", 9), 0);
  ck_assert_ptr_null(strcasestr(s.req[0], "x-amz-checksum"));
  ck_assert_ptr_nonnull(strcasestr(s.req[0], "\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\n"));
  ck_assert_uint_eq(s.body_bytes, size);
  ck_assert_uint_eq(s.body_hash, fnv(FNV_INIT, data, size));
  ck_assert_msg(r1 - r0 >= size && r1 - r0 < 3ull * size / 2,
                "read %llu bytes for a file of %zu (want 1x, below 1.5x)", r1 - r0, size);
  drover_s3_close(s3);
  srv_stop(&s);
  unlink(path);
  free(data);
  free(other);
}
END_TEST

/* A multipart upload with "checksum": "none": no algorithm declared, no
 * checksum per part or in the completion, the part's ETag listed as
 * answered, and neither a part's ETag nor the final one that matches no
 * MD5 is an error; the file is read once (no CRC32C pass per part, no
 * whole-file MD5 while the server assembles). */
START_TEST(multipart_none)
{
  char path[] = "/tmp/check_s3_mpnoneXXXXXX", md5[33];
  char *init_r = ok_xml("<InitiateMultipartUploadResult><UploadId>N1</UploadId>"
                        "</InitiateMultipartUploadResult>");
  char *part = etag_ok("0123456789abcdef0123456789abcdef");
  char *done = ok_xml("<CompleteMultipartUploadResult><ETag>"
                      "\"fedcba9876543210fedcba9876543210\"</ETag>"
                      "</CompleteMultipartUploadResult>");
  const char *script[3];
  unsigned long long r0, r1;
  drover_s3 *s3;
  drover_error err;
  srv s;

  make_part_file(path, md5);
  script[0] = init_r;
  script[1] = part;
  script[2] = done;
  s3 = s3_on(&s, script, 3, ", \"multipart_threshold\": 5242880, \"part_size\": 5242880, "
                            "\"checksum\": \"none\"");
  drover_error_clear(&err);
  r0 = rchar();
  ck_assert_msg(drover_s3_upload(s3, path, "b", "k", NULL, &err) == DROVER_OK, "%s", err.text);
  r1 = rchar();
  ck_assert_int_eq(atomic_load(&s.served), 3);
  ck_assert_int_eq(strncmp(s.req[0], "POST /b/k?uploads= ", 19), 0);
  ck_assert_ptr_null(strcasestr(s.req[0], "x-amz-checksum"));
  ck_assert_int_eq(strncmp(s.req[1], "PUT /b/k?partNumber=1&uploadId=N1 ", 34), 0);
  ck_assert_ptr_null(strcasestr(s.req[1], "x-amz-checksum"));
  ck_assert_int_eq(strncmp(s.req[2], "POST /b/k?uploadId=N1 ", 22), 0);
  ck_assert_ptr_null(strstr(s.req[2], "Checksum"));
  ck_assert_ptr_nonnull(strstr(s.req[2], "<ETag>\"0123456789abcdef0123456789abcdef\"</ETag>"));
  ck_assert_msg(r1 - r0 >= (5ull << 20) && r1 - r0 < (15ull << 20) / 2,
                "read %llu bytes for a file of 5 MiB (want 1x, below 1.5x)", r1 - r0);
  drover_s3_close(s3);
  srv_stop(&s);
  unlink(path);
  free(init_r);
  free(part);
  free(done);
}
END_TEST

/* --------------------------------------------------------------------------
 * A file changed during a multipart upload
 */

/* Changes the file at path from the server's thread when the request
 * starting with at arrives (the client waits for its answer meanwhile, so
 * the change falls at that point of the upload, every run): new bytes in
 * its last 4 KiB (a part not yet read), then its mtime put back, so only
 * its ctime tells (as after cp -p or rsync -t). */
typedef struct change_hook {
  const char *path;
  const char *at;
  atomic_int armed;            /* 0: do nothing */
  atomic_int done;             /* 1: changed, only ctime differs; -1: could not */
} change_hook;

static int same_time(const struct timespec *a, const struct timespec *b)
{
  return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static void change_file(void *ud, int n, const char *req)
{
  change_hook *h = ud;
  struct stat a, b;
  struct timespec t[2], now, end;
  char buf[4096];
  int fd, ok = 0;

  (void)n;
  if(!atomic_load(&h->armed) || strncmp(req, h->at, strlen(h->at)) || atomic_load(&h->done))
    return;
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  memset(buf, 0x5a, sizeof(buf));
  fd = open(h->path, O_WRONLY | O_CLOEXEC);
  if(fd >= 0 && fstat(fd, &a) == 0)
    ok = pwrite(fd, buf, sizeof(buf), a.st_size - (off_t)sizeof(buf)) == (ssize_t)sizeof(buf);
  /* Each futimens sets ctime to the kernel's clock, whose tick may not
   * have passed since the file was written: set the mtime back until
   * ctime moved, for at most 5 s. */
  t[0].tv_sec = 0;
  t[0].tv_nsec = UTIME_OMIT;
  t[1] = a.st_mtim;
  clock_gettime(CLOCK_MONOTONIC, &end);
  end.tv_sec += 5;
  while(ok) {
    struct timespec pause = {0, 1000000};
    ok = futimens(fd, t) == 0 && fstat(fd, &b) == 0;
    if(!ok || !same_time(&b.st_ctim, &a.st_ctim))
      break;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ok = now.tv_sec < end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec);
    nanosleep(&pause, NULL);
  }
  ok = ok && b.st_size == a.st_size && same_time(&b.st_mtim, &a.st_mtim);
  if(fd >= 0)
    close(fd);
  atomic_store(&h->done, ok ? 1 : -1);
}

/* An upload whose file the server's hook changes: the file (size bytes
 * of make_file's pattern), a server by routes for object obj ("/b/k"),
 * and the transfer API on it, with settings on top ("" or ", \"k\": v"). The server: the first initiation answers
 * upload id U1, later ones U2; parts, completion, abort and a single PUT
 * succeed; it confirms no CRC32C and answers the completion with an
 * md5-of-MD5s ETag (so nothing else checks the bytes, as on s3rver when
 * no MD5 of the file was taken before); a list of unfinished uploads is
 * empty. The hook changes the file when a request starting with at
 * arrives, once h.armed is set. Ended by chg_end. */
#define CHG_ROUTES 8
typedef struct chg_case {
  char path[32];
  char *data;
  char cfg[256];               /* the settings, for the provider's own init */
  char *prefix[CHG_ROUTES];
  change_hook h;
  drover_s3 *s3;
  srv s;
} chg_case;

static void chg_start(chg_case *c, size_t size, const char *obj, const char *at,
                      const char *settings)
{
  srv *s = &c->s;
  drover_error err;

  memset(c, 0, sizeof(*c));
  strcpy(c->path, "/tmp/check_s3_chgXXXXXX");
  make_file(c->path, size, &c->data);
  ck_assert_int_gt(asprintf(&c->prefix[0], "POST %s?uploads= ", obj), 0);
  ck_assert_int_gt(asprintf(&c->prefix[1], "PUT %s?partNumber=", obj), 0);
  ck_assert_int_gt(asprintf(&c->prefix[2], "POST %s?uploadId=", obj), 0);
  ck_assert_int_gt(asprintf(&c->prefix[3], "DELETE %s?uploadId=", obj), 0);
  ck_assert_int_gt(asprintf(&c->prefix[4], "GET /b?prefix="), 0);
  ck_assert_int_gt(asprintf(&c->prefix[5], "PUT %s ", obj), 0);
  ck_assert_int_gt(asprintf(&c->prefix[6], "DELETE %s ", obj), 0);
  ck_assert_int_gt(asprintf(&c->prefix[7], "DELETE %s?versionId=", obj), 0);
  env_creds();
  srv_listen(s, 0, NULL, 0);
  srv_route_add(s, c->prefix[0], 200, "<InitiateMultipartUploadResult><UploadId>U1</UploadId>"
                                      "</InitiateMultipartUploadResult>", -1);
  s->routes[0].first = 1;
  s->routes[0].later = "<InitiateMultipartUploadResult><UploadId>U2</UploadId>"
                       "</InitiateMultipartUploadResult>";
  srv_route_add(s, c->prefix[1], 200, "", -1);
  s->routes[1].etag = "\"e1\"";
  srv_route_add(s, c->prefix[2], 200, "<CompleteMultipartUploadResult><ETag>\"x-3\"</ETag>"
                                      "</CompleteMultipartUploadResult>", -1);
  srv_route_add(s, c->prefix[3], 204, "", -1);
  srv_route_add(s, c->prefix[4], 200, "<ListMultipartUploadsResult>"
                                      "</ListMultipartUploadsResult>", -1);
  srv_route_add(s, c->prefix[5], 200, "", -1);
  s->routes[5].etag = "\"e1\"";
  srv_route_add(s, c->prefix[6], 204, "", -1);
  srv_route_add(s, c->prefix[7], 204, "", -1);
  c->h.path = c->path;
  c->h.at = at;
  s->hook = change_file;
  s->hook_ud = &c->h;
  srv_run(s);
  snprintf(c->cfg, sizeof(c->cfg), "{\"endpoint\": \"http://127.0.0.1:%d\", "
           "\"multipart_threshold\": 5242880, \"part_size\": 5242880, \"concurrency\": 1%s}",
           s->port, settings);
  drover_error_clear(&err);
  ck_assert_msg(drover_s3_open(&c->s3, c->cfg, &err) == DROVER_OK, "%s", err.text);
}

static void chg_end(chg_case *c)
{
  int i;

  drover_s3_close(c->s3);
  srv_stop(&c->s);
  unlink(c->path);
  free(c->data);
  for(i = 0; i < CHG_ROUTES; i++)
    free(c->prefix[i]);
}

/* Of the requests from first on, how many start with prefix. */
static int count_req(srv *s, int first, const char *prefix)
{
  int i, n = 0, served = atomic_load(&s->served);

  ck_assert_int_le(served, SRV_MAXREQ);
  for(i = first; i < served; i++)
    n += !strncmp(s->req[i], prefix, strlen(prefix));
  return n;
}

/* Three parts of 5 MiB. */
#define CHG_SIZE (15u << 20)

/* drover s3 cp's upload (no read of the file before it, CRC32C by
 * default, a server that checks nothing): the file rewritten while part
 * 2 is sent, its mtime put back, fails the upload before its completion
 * and aborts it, so neither the mixed object nor the upload stays. The
 * same upload of an unchanged file completes. */
START_TEST(multipart_file_changed_aborted)
{
  chg_case c;
  drover_error err;

  chg_start(&c, CHG_SIZE, "/b/k", "PUT /b/k?partNumber=2&", "");
  /* The control: unchanged, it completes and aborts nothing. */
  drover_error_clear(&err);
  ck_assert_msg(drover_s3_upload(c.s3, c.path, "b", "k", NULL, &err) == DROVER_OK, "%s",
                err.text);
  ck_assert_int_eq(atomic_load(&c.s.served), 5);
  ck_assert_int_eq(count_req(&c.s, 0, "PUT /b/k?partNumber="), 3);
  ck_assert_int_eq(count_req(&c.s, 0, "POST /b/k?uploadId=U1 "), 1);
  ck_assert_int_eq(atomic_load(&c.s.deletes), 0);
  /* Changed while part 2 is sent. */
  atomic_store(&c.h.armed, 1);
  ck_assert_int_eq(drover_s3_upload(c.s3, c.path, "b", "k", NULL, &err), DROVER_E_IO);
  ck_assert_int_eq(atomic_load(&c.h.done), 1);
  ck_assert_msg(strstr(err.text, "multipart upload of \"b/k\": the file changed while it was "
                                 "sent; upload it again"), "%s", err.text);
  ck_assert_int_eq(atomic_load(&c.s.served), 10);
  ck_assert_int_eq(count_req(&c.s, 5, "POST /b/k?uploads= "), 1);
  ck_assert_int_eq(count_req(&c.s, 5, "PUT /b/k?partNumber="), 3);
  ck_assert_int_eq(count_req(&c.s, 5, "POST /b/k?uploadId="), 0);
  ck_assert_int_eq(count_req(&c.s, 5, "DELETE /b/k?uploadId=U2 "), 1);
  ck_assert_int_eq(atomic_load(&c.s.deletes), 1);
  chg_end(&c);
}
END_TEST

/* drover_s3_upload_checked (backup exports) reads the file for its
 * SHA-256, MD5 and the parts' CRC32Cs first: a change after that read,
 * even before the first part is read (here at the initiation), fails the
 * upload and aborts it; the metadata would otherwise describe another
 * file. */
START_TEST(upload_checked_multipart_changed_after_digest)
{
  chg_case c;
  drover_error err;
  char sha[65];

  chg_start(&c, CHG_SIZE, "/b/k", "POST /b/k?uploads= ", "");
  atomic_store(&c.h.armed, 1);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_s3_upload_checked(c.s3, c.path, "b", "k", NULL, NULL, sha, &err),
                   DROVER_E_IO);
  ck_assert_int_eq(atomic_load(&c.h.done), 1);
  ck_assert_msg(strstr(err.text, "multipart upload of \"b/k\": the file changed while it was "
                                 "sent"), "%s", err.text);
  ck_assert_str_eq(sha, "");
  ck_assert_int_eq(count_req(&c.s, 0, "POST /b/k?uploadId="), 0);
  ck_assert_int_eq(count_req(&c.s, 0, "DELETE /b/k?uploadId=U1 "), 1);
  chg_end(&c);
}
END_TEST

/* A single PUT judges a change by the same status, checked by CRC32C, by
 * MD5 (whose ETag check sees only the bytes sent) or not at all: the file
 * rewritten while its body is sent, its mtime put back, is an error. The
 * server here checks nothing and stored the mixed bytes, so they are
 * deleted again: in a versioned bucket only the version the PUT made. */
START_TEST(single_put_file_changed)
{
  const char *settings[] = {"", ", \"checksum\": \"md5\"", ", \"checksum\": \"none\""};
  chg_case c;
  drover_error err;
  int i, versioned;

  for(i = 0; i < 6; i++) {
    versioned = i >= 3;
    chg_start(&c, 1u << 20, "/b/k", "PUT /b/k ", settings[i % 3]);
    if(versioned)
      c.s.routes[5].header = "x-amz-version-id: v1+/=";
    atomic_store(&c.h.armed, 1);
    drover_error_clear(&err);
    ck_assert_int_eq(drover_s3_upload(c.s3, c.path, "b", "k", NULL, &err), DROVER_E_IO);
    ck_assert_int_eq(atomic_load(&c.h.done), 1);
    ck_assert_msg(strstr(err.text, "PUT object \"b/k\": the file changed while it was sent; "
                                   "upload it again"), "%s: %s", settings[i % 3], err.text);
    ck_assert_msg(strstr(err.text, versioned ? "(the version it stored was deleted again)"
                                             : "(the object it stored was deleted again)"),
                  "%s", err.text);
    ck_assert_int_eq(atomic_load(&c.s.served), 2);
    ck_assert_int_eq(count_req(&c.s, 0, "DELETE /b/k "), !versioned);
    ck_assert_int_eq(count_req(&c.s, 0, "DELETE /b/k?versionId=v1%2B%2F%3D "), versioned);
    chg_end(&c);
  }
}
END_TEST

/* The same in a versioned bucket, the PUT answered 500 once and sent
 * again: the first attempt may have stored a version too, so not only
 * the last one's goes; a delete marker hides the key, and the error says
 * so. */
START_TEST(single_put_retried_versioned)
{
  chg_case c;
  drover_error err;

  chg_start(&c, 1u << 20, "/b/k", "PUT /b/k ", ", \"checksum\": \"none\"");
  c.s.routes[5].header = "x-amz-version-id: v2";
  c.s.routes[5].status = 500;
  c.s.routes[5].first = 1;
  c.s.routes[5].later = "";
  c.s.routes[5].later_status = 200;
  atomic_store(&c.h.armed, 1);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_s3_upload(c.s3, c.path, "b", "k", NULL, &err), DROVER_E_IO);
  ck_assert_msg(strstr(err.text, "(sent 2 times, so a delete marker now hides the key; the "
                                 "versions stored are kept)"), "%s", err.text);
  ck_assert_int_eq(count_req(&c.s, 0, "PUT /b/k "), 2);
  ck_assert_int_eq(count_req(&c.s, 0, "DELETE /b/k "), 1);
  ck_assert_int_eq(count_req(&c.s, 0, "DELETE /b/k?versionId="), 0);
  chg_end(&c);
}
END_TEST

/* The control: unchanged, a single PUT deletes nothing. */
START_TEST(single_put_unchanged_kept)
{
  chg_case c;
  drover_error err;

  chg_start(&c, 1u << 20, "/b/k", "PUT /b/k ", "");
  drover_error_clear(&err);
  ck_assert_msg(drover_s3_upload(c.s3, c.path, "b", "k", NULL, &err) == DROVER_OK, "%s",
                err.text);
  ck_assert_int_eq(atomic_load(&c.s.served), 1);
  ck_assert_int_eq(count_req(&c.s, 0, "DELETE "), 0);
  chg_end(&c);
}
END_TEST

/* An s3.object from a file: the status it records (size, mtime) and the
 * SHA-256 are from before its digest pass, so a change after that pass
 * fails the upload with an error naming the resource: a multipart upload
 * changed at its initiation (before any part is read) is aborted, never
 * completed; a single PUT, signed with that SHA-256 (which a server that
 * checks it refuses; this one does not, as s3rver), changed while sent. */
START_TEST(object_file_changed_after_digest)
{
  static const struct {
    size_t size;
    const char *at, *what;
  } cases[] = {
    {CHG_SIZE, "POST /b/drover/stk/big.bin?uploads= ", "multipart upload of"},
    {1u << 20, "PUT /b/drover/stk/big.bin ", "PUT object"},
  };
  const drover_provider *p = prov();
  char want[200];
  chg_case c;
  drover_live *out = NULL;
  drover_error err;
  void *st;
  int i;

  for(i = 0; i < 2; i++) {
    chg_start(&c, cases[i].size, "/b/drover/stk/big.bin", cases[i].at, "");
    atomic_store(&c.h.armed, 1);
    ck_assert_int_eq(init(p, &st, c.cfg, &err), DROVER_OK);
    ck_assert_int_eq(create_big(p, st, c.path, &out, &err), DROVER_E_IO);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(atomic_load(&c.h.done), 1);
    snprintf(want, sizeof(want), "s3: big: %s \"b/drover/stk/big.bin\": the file changed "
             "while it was sent; upload it again", cases[i].what);
    ck_assert_msg(strstr(err.text, want), "%s", err.text);
    ck_assert_int_eq(count_req(&c.s, 0, "POST /b/drover/stk/big.bin?uploadId="), 0);
    ck_assert_int_eq(count_req(&c.s, 0, "DELETE /b/drover/stk/big.bin?uploadId=U1 "), !i);
    /* The single PUT's bytes were stored (this server checks no hash):
     * they go again. */
    ck_assert_int_eq(count_req(&c.s, 0, "DELETE /b/drover/stk/big.bin "), i);
    done(p, st);
    chg_end(&c);
  }
}
END_TEST

/* --------------------------------------------------------------------------
 * Downloads: no HEAD first, the ETag recorded before the body, resume
 */

/* The whole of path as a string (NULL when absent); caller frees. */
static char *file_text(const char *path)
{
  FILE *f = fopen(path, "r");
  char *buf;
  size_t n;

  if(!f)
    return NULL;
  buf = calloc(1, 4096);
  ck_assert_ptr_nonnull(buf);
  n = fread(buf, 1, 4095, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static void put_text(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");

  ck_assert_ptr_nonnull(f);
  ck_assert_int_ge(fputs(text, f), 0);
  ck_assert_int_eq(fclose(f), 0);
}

#define DL_WHOLE "0123456789abcdefghij"
#define DL_HEAD(status, etag, more, len) \
  "HTTP/1.1 " status "\r\nETag: \"" etag "\"\r\n" more "Content-Length: " len \
  "\r\nConnection: close\r\n\r\n"

/* A download into a fresh directory: c->part and c->tag hold "01234" and
 * tag, when tag is not NULL, and the server answers from script (n
 * answers), calling hook (may be NULL) with each request. */
typedef struct dl_case {
  char dir[32], out[64], part[96], tag[112], map[112];
  unsigned long long from;
  drover_code rc;
  drover_error err;
  char *got;
  srv s;
} dl_case;

/* A fresh directory for c's download, nothing in it yet. */
static void dl_setup(dl_case *c)
{
  memset(c, 0, sizeof(*c));
  strcpy(c->dir, "/tmp/check_s3_dlXXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(c->dir));
  snprintf(c->out, sizeof(c->out), "%s/f", c->dir);
  snprintf(c->part, sizeof(c->part), "%s.drover-part", c->out);
  snprintf(c->tag, sizeof(c->tag), "%s.etag", c->part);
  snprintf(c->map, sizeof(c->map), "%s.parts", c->part);
}

/* The download of c (set up), with settings (JSON members after the
 * endpoint: "" or ", ..."). */
static void dl_go(dl_case *c, const char *settings, const char *const *script, size_t n,
                  srv_hook_fn hook, void *hook_ud)
{
  drover_s3 *s3 = NULL;
  char cfg[256];

  env_creds();
  srv_listen(&c->s, 0, script, n);
  c->s.hook = hook;
  c->s.hook_ud = hook_ud;
  srv_run(&c->s);
  snprintf(cfg, sizeof(cfg), "{\"endpoint\": \"http://127.0.0.1:%d\"%s}", c->s.port,
           settings);
  drover_error_clear(&c->err);
  ck_assert_msg(drover_s3_open(&s3, cfg, &c->err) == DROVER_OK, "%s", c->err.text);
  c->from = 99;
  c->rc = drover_s3_download(s3, "b", "k", c->out, &c->from, &c->err);
  c->got = file_text(c->out);
  drover_s3_close(s3);
  srv_stop(&c->s);
}

/* A boot ID that is not this boot's. */
#define OTHER_BOOT "00000000-0000-4000-8000-000000000000"

/* This boot's ID, as the kernel gives it (36 characters); a download's
 * .etag and part list name it. */
static const char *boot_now(void)
{
  static char boot[40];
  FILE *f;

  if(!boot[0]) {
    f = fopen("/proc/sys/kernel/random/boot_id", "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(boot, sizeof(boot), f));
    fclose(f);
    ck_assert_uint_eq(strlen(boot), 37);
    boot[36] = '\0';
  }
  return boot;
}

/* The text of a one-GET download's .etag for tag, written in boot (NULL:
 * this one); one of four static buffers. */
static const char *tag_text(const char *tag, const char *boot)
{
  static char buf[4][320];
  static int next;
  char *b = buf[next++ % 4];

  snprintf(b, sizeof(buf[0]), "%s\n%s\n", tag, boot ? boot : boot_now());
  return b;
}

/* download_threshold's default for an endpoint that is not loopback: the
 * scripted server is on 127.0.0.1, where the default is none (one GET). */
#define DL_REMOTE_DEFAULT ", \"download_threshold\": 268435456"

static void dl_run(dl_case *c, const char *tag, const char *const *script, size_t n,
                   srv_hook_fn hook, void *hook_ud)
{
  dl_setup(c);
  if(tag) {
    put_text(c->part, "01234");
    put_text(c->tag, tag_text(tag, NULL));
  }
  dl_go(c, DL_REMOTE_DEFAULT, script, n, hook, hook_ud);
}

/* What was on disk when the retry of a broken GET reached the server. */
typedef struct dl_seen {
  const dl_case *c;
  char *tag_text;
  long long part_size;
} dl_seen;

static void dl_look(void *ud, int n, const char *req)
{
  dl_seen *d = ud;
  struct stat sb;

  (void)req;
  if(n != 1)
    return;
  d->tag_text = file_text(d->c->tag);
  d->part_size = stat(d->c->part, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* No part, ETag file or part list is left beside the target. */
static void dl_nothing_left(const dl_case *c)
{
  ck_assert_int_ne(access(c->part, F_OK), 0);
  ck_assert_int_ne(access(c->tag, F_OK), 0);
  ck_assert_int_ne(access(c->map, F_OK), 0);
}

static void dl_end(dl_case *c)
{
  unlink(c->out);
  unlink(c->part);
  unlink(c->tag);
  unlink(c->map);
  rmdir(c->dir);
  free(c->got);
}

/* A download starts with one GET, no HEAD before it, that asks for the
 * first download_threshold bytes (256 MiB, the default of an endpoint that
 * is not loopback): a 20-byte object comes whole in
 * that answer (or in a 200 from a server that ignores the Range). The
 * answer's ETag is on disk
 * beside the part before its body lands: when the answer breaks off after
 * 10 of its 20 bytes, the retry finds the part with those 10 bytes and
 * the ETag (what the next cp resumes after a kill). The retry completes
 * the download and neither is left. */
START_TEST(download_one_get_etag_first)
{
  static const char *const script[] = {
    DL_HEAD("200 OK", "e1", "", "20") "0123456789",
    DL_HEAD("200 OK", "e1", "", "20") DL_WHOLE,
  };
  dl_case c;
  dl_seen seen = {&c, NULL, 0};

  dl_run(&c, NULL, script, 2, dl_look, &seen);
  ck_assert_msg(c.rc == DROVER_OK, "%s", c.err.text);
  ck_assert_int_eq(atomic_load(&c.s.served), 2);
  ck_assert_int_eq(strncmp(c.s.req[0], "GET /b/k ", 9), 0);
  ck_assert_int_eq(strncmp(c.s.req[1], "GET /b/k ", 9), 0);
  ck_assert_ptr_nonnull(strcasestr(c.s.req[0], "\r\nRange: bytes=0-268435455\r\n"));
  ck_assert_ptr_nonnull(strcasestr(c.s.req[1], "\r\nRange: bytes=0-268435455\r\n"));
  ck_assert_str_eq(seen.tag_text ? seen.tag_text : "(none)", tag_text("\"e1\"", NULL));
  ck_assert_int_eq(seen.part_size, 10);
  ck_assert_str_eq(c.got ? c.got : "(none)", DL_WHOLE);
  ck_assert_int_eq(c.from, 0);
  dl_nothing_left(&c);
  free(seen.tag_text);
  dl_end(&c);
}
END_TEST

/* The part's ETag still the object's: only the rest is asked for, with a
 * Range from the part's end and If-Match (S3 answers 412 when the object
 * changed; s3rver ignores it, so the answer's own ETag and Content-Range
 * are checked too). */
START_TEST(download_resumes_part)
{
  static const char *const script[] = {
    DL_HEAD("206 Partial Content", "e1", "Content-Range: bytes 5-19/20\r\n", "15")
      "56789abcdefghij",
  };
  dl_case c;

  dl_run(&c, "\"e1\"", script, 1, NULL, NULL);
  ck_assert_msg(c.rc == DROVER_OK, "%s", c.err.text);
  ck_assert_int_eq(atomic_load(&c.s.served), 1);
  ck_assert_ptr_nonnull(strcasestr(c.s.req[0], "\r\nRange: bytes=5-\r\n"));
  ck_assert_ptr_nonnull(strcasestr(c.s.req[0], "\r\nIf-Match: \"e1\"\r\n"));
  ck_assert_str_eq(c.got ? c.got : "(none)", DL_WHOLE);
  ck_assert_int_eq(c.from, 5);
  dl_nothing_left(&c);
  dl_end(&c);
}
END_TEST

/* A part that is not a prefix of the object as it is now starts over; its
 * bytes are never joined to the object's. The answer names another ETag
 * (what s3rver does), S3 refuses the If-Match (412), the part is already
 * as long as the object (416), or the range starts elsewhere. */
START_TEST(download_stale_part_starts_over)
{
  static const char *const other_etag[] = {
    DL_HEAD("206 Partial Content", "e2", "Content-Range: bytes 5-19/20\r\n", "15")
      "FGHIJKLMNOPQRST",
    DL_HEAD("200 OK", "e2", "", "20") "ABCDEFGHIJKLMNOPQRST",
  };
  static const char *const refused[] = {
    "HTTP/1.1 412 Precondition Failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    DL_HEAD("200 OK", "e2", "", "20") "ABCDEFGHIJKLMNOPQRST",
  };
  static const char *const whole[] = {
    "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    DL_HEAD("200 OK", "e1", "", "5") "01234",
  };
  static const char *const elsewhere[] = {
    DL_HEAD("206 Partial Content", "e1", "Content-Range: bytes 0-19/20\r\n", "20")
      "ABCDEFGHIJKLMNOPQRST",
    DL_HEAD("200 OK", "e1", "", "20") "ABCDEFGHIJKLMNOPQRST",
  };
  const char *const *cases[] = {other_etag, refused, whole, elsewhere};
  const char *want[] = {"ABCDEFGHIJKLMNOPQRST", "ABCDEFGHIJKLMNOPQRST", "01234",
                        "ABCDEFGHIJKLMNOPQRST"};
  size_t i;
  dl_case c;

  for(i = 0; i < 4; i++) {
    dl_run(&c, "\"e1\"", cases[i], 2, NULL, NULL);
    ck_assert_msg(c.rc == DROVER_OK, "case %zu: %s", i, c.err.text);
    ck_assert_int_eq(atomic_load(&c.s.served), 2);
    ck_assert_ptr_nonnull(strcasestr(c.s.req[0], "\r\nRange: bytes=5-\r\n"));
    ck_assert_ptr_nonnull(strcasestr(c.s.req[1], "\r\nRange: bytes=0-268435455\r\n"));
    ck_assert_msg(c.got && !strcmp(c.got, want[i]), "case %zu: got %s", i,
                  c.got ? c.got : "(none)");
    ck_assert_int_eq(c.from, 0);
    dl_end(&c);
  }
}
END_TEST

/* With a loopback endpoint and no download_threshold set, a download is
 * one plain GET whatever the size, as with concurrency 1: no Range, so an
 * object above 256 MiB is not cut into lanes. A threshold that is set is
 * used (download_one_get_etag_first). */
START_TEST(download_loopback_default_one_get)
{
  static const char *const script[] = {DL_HEAD("200 OK", "e1", "", "20") DL_WHOLE};
  dl_case c;

  dl_setup(&c);
  dl_go(&c, "", script, 1, NULL, NULL);
  ck_assert_msg(c.rc == DROVER_OK, "%s", c.err.text);
  ck_assert_int_eq(atomic_load(&c.s.served), 1);
  ck_assert_int_eq(strncmp(c.s.req[0], "GET /b/k ", 9), 0);
  ck_assert_ptr_null(strcasestr(c.s.req[0], "\r\nRange:"));
  ck_assert_str_eq(c.got ? c.got : "(none)", DL_WHOLE);
  dl_nothing_left(&c);
  dl_end(&c);
}
END_TEST

/* A part whose .etag is of another boot (the machine went down since, so
 * its bytes may never have reached the disk), or of the old one-line form
 * that names no boot, is not resumed: one fresh GET, the object whole. */
START_TEST(download_part_of_other_boot_starts_over)
{
  static const char *const script[] = {DL_HEAD("200 OK", "e1", "", "20") DL_WHOLE};
  const char *tags[] = {tag_text("\"e1\"", OTHER_BOOT), "\"e1\""};
  dl_case c;

  dl_setup(&c);
  put_text(c.part, "01234");
  put_text(c.tag, tags[_i]);
  dl_go(&c, DL_REMOTE_DEFAULT, script, 1, NULL, NULL);
  ck_assert_msg(c.rc == DROVER_OK, "%s", c.err.text);
  ck_assert_int_eq(atomic_load(&c.s.served), 1);
  ck_assert_ptr_nonnull(strcasestr(c.s.req[0], "\r\nRange: bytes=0-268435455\r\n"));
  ck_assert_ptr_null(strcasestr(c.s.req[0], "\r\nIf-Match:"));
  ck_assert_str_eq(c.got ? c.got : "(none)", DL_WHOLE);
  ck_assert_int_eq(c.from, 0);
  dl_nothing_left(&c);
  dl_end(&c);
}
END_TEST

/* A resume whose answer ends short fails the download and keeps the part
 * and its ETag as they were, for the next try. */
START_TEST(download_broken_keeps_part)
{
  static const char *const script[] = {
    DL_HEAD("206 Partial Content", "e1", "Content-Range: bytes 5-19/20\r\n", "15") "567",
  };
  dl_case c;
  char *part, *tag;

  dl_run(&c, "\"e1\"", script, 1, NULL, NULL);
  ck_assert_int_ne(c.rc, DROVER_OK);
  ck_assert_ptr_null(c.got);
  part = file_text(c.part);
  tag = file_text(c.tag);
  ck_assert_str_eq(part ? part : "(none)", "01234");
  ck_assert_str_eq(tag ? tag : "(none)", tag_text("\"e1\"", NULL));
  free(part);
  free(tag);
  dl_end(&c);
}
END_TEST


/* --------------------------------------------------------------------------
 * Ranged downloads: with download_threshold and part_size 5 MiB, the first
 * GET of a 12 MiB object stops at its head, and the object comes in three
 * ranged GETs (5, 5 and 2 MiB) written at their offsets
 */

#define RG_SIZE (12ull << 20)
#define RG_PART (5ull << 20)
/* A list of the RG_SIZE object in RG_PART parts written in boot (NULL:
 * this one), rest (its ETag line and parts) after its first line; one of
 * four static buffers. */
static const char *rg_list(const char *rest, const char *boot)
{
  static char buf[4][512];
  static int next;
  char *b = buf[next++ % 4];

  snprintf(b, sizeof(buf[0]), "drover-parts 3 12582912 5242880 5242880 %s\n%s",
           boot ? boot : boot_now(), rest);
  return b;
}
#define RG_SETTINGS ", \"part_size\": 5242880, \"download_threshold\": 5242880, " \
                    "\"concurrency\": 2"

/* The object, "RANGE:<etag>:" before it (a script entry); caller frees.
 * Printable bytes (the script is a string), none repeating at a part's
 * distance. */
static char *rg_entry(const char *etag)
{
  size_t pre = 7 + strlen(etag), i;
  char *e = malloc(pre + RG_SIZE + 1);
  unsigned x = 12345;

  ck_assert_ptr_nonnull(e);
  snprintf(e, pre + 1, "RANGE:%s:", etag);
  for(i = 0; i < RG_SIZE; i++) {
    x = x * 1103515245u + 12345u;
    e[pre + i] = (char)('!' + (x >> 16) % 90);
  }
  e[pre + RG_SIZE] = '\0';
  return e;
}

/* Whether the file at path holds exactly the n bytes at want. */
static int file_is(const char *path, const char *want, size_t n)
{
  int fd = open(path, O_RDONLY);
  char *buf = malloc(n + 1);
  ssize_t got = fd >= 0 && buf ? read(fd, buf, n + 1) : -1;
  int same = got == (ssize_t)n && !memcmp(buf, want, n);

  if(fd >= 0)
    close(fd);
  free(buf);
  return same;
}

/* The download of c (set up here) from a part file of the n bytes at
 * bytes and the part list list, the server answering with script[0]. */
static void rg_listed(dl_case *c, const char *bytes, size_t n, const char *list,
                      const char *const *script)
{
  int fd;

  dl_setup(c);
  fd = open(c->part, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, bytes, n), (ssize_t)n);
  ck_assert_int_eq(close(fd), 0);
  put_text(c->map, list);
  dl_go(c, RG_SETTINGS, script, 1, NULL, NULL);
}

/* The request among [from, n) with this Range, or NULL. */
static const char *rg_req(const dl_case *c, int from, int n, const char *range)
{
  int i;

  for(i = from; i < n && i < SRV_MAXREQ; i++)
    if(strcasestr(c->s.req[i], range))
      return c->s.req[i];
  return NULL;
}

/* A part file as a stopped ranged download leaves it: parts 0 and 2
 * written and listed, part 1 not (a hole), the ETag tag in the list. */
static void rg_stopped(dl_case *c, const char *obj, const char *tag)
{
  char rest[64];
  int fd = open(c->part, O_WRONLY | O_CREAT | O_TRUNC, 0600);

  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(pwrite(fd, obj, RG_PART, 0), (ssize_t)RG_PART);
  ck_assert_int_eq(pwrite(fd, obj + 2 * RG_PART, RG_SIZE - 2 * RG_PART, 2 * RG_PART),
                   (ssize_t)(RG_SIZE - 2 * RG_PART));
  ck_assert_int_eq(close(fd), 0);
  ck_assert_int_gt(snprintf(rest, sizeof(rest), "%s\n0\n2\n", tag), 0);
  put_text(c->map, rg_list(rest, NULL));
}

START_TEST(download_ranged_parts)
{
  char *e = rg_entry("e9");
  const char *const script[] = {e};
  const char *obj = e + 9, *r;  /* after "RANGE:e9:" */
  static const char *const ranges[] = {"\r\nRange: bytes=0-5242879\r\n",
                                       "\r\nRange: bytes=5242880-10485759\r\n",
                                       "\r\nRange: bytes=10485760-12582911\r\n"};
  dl_case c;
  int i;

  dl_setup(&c);
  dl_go(&c, RG_SETTINGS, script, 1, NULL, NULL);
  ck_assert_msg(c.rc == DROVER_OK, "%s", c.err.text);
  ck_assert_int_eq(atomic_load(&c.s.served), 4);
  ck_assert_ptr_nonnull(strcasestr(c.s.req[0], "\r\nRange: bytes=0-5242879\r\n"));
  ck_assert_ptr_null(strcasestr(c.s.req[0], "\r\nIf-Match:"));
  for(i = 0; i < 3; i++) {
    r = rg_req(&c, 1, 4, ranges[i]);
    ck_assert_msg(r != NULL, "no GET of %s", ranges[i]);
    ck_assert_ptr_nonnull(strcasestr(r, "\r\nIf-Match: \"e9\"\r\n"));
  }
  ck_assert(file_is(c.out, obj, RG_SIZE));
  ck_assert_int_eq(c.from, 0);
  dl_nothing_left(&c);
  dl_end(&c);
  free(e);
}
END_TEST

/* A stopped ranged download: only the part its list lacks is fetched. */
START_TEST(download_ranged_resumes_missing_part)
{
  char *e = rg_entry("e9");
  const char *const script[] = {e};
  dl_case c;

  dl_setup(&c);
  rg_stopped(&c, e + 9, "\"e9\"");
  dl_go(&c, RG_SETTINGS, script, 1, NULL, NULL);
  ck_assert_msg(c.rc == DROVER_OK, "%s", c.err.text);
  ck_assert_int_eq(atomic_load(&c.s.served), 1);
  ck_assert_ptr_nonnull(strcasestr(c.s.req[0], "\r\nRange: bytes=5242880-10485759\r\n"));
  ck_assert_ptr_nonnull(strcasestr(c.s.req[0], "\r\nIf-Match: \"e9\"\r\n"));
  ck_assert(file_is(c.out, e + 9, RG_SIZE));
  ck_assert_int_eq(c.from, RG_SIZE - RG_PART);
  dl_nothing_left(&c);
  dl_end(&c);
  free(e);
}
END_TEST

/* A ranged download stopped by a refused part keeps its ETag in its list
 * and writes no .etag: with the list deleted by hand, the part file (holes
 * where parts are missing) is not taken for a prefix, and the next cp
 * starts over and ends with the object's bytes. */
START_TEST(download_ranged_list_gone_starts_over)
{
  char *e = rg_entry("e9");
  char *denied = status(403, "Forbidden", "<Error><Code>AccessDenied</Code>"
                                          "<Message>no</Message></Error>");
  const char *const stop[] = {e, e, denied}, *const again[] = {e};
  const char *want = rg_list("\"e9\"\n", NULL);
  char *map;
  dl_case c;

  dl_setup(&c);
  dl_go(&c, RG_SETTINGS, stop, 3, NULL, NULL);
  ck_assert_int_ne(c.rc, DROVER_OK);
  ck_assert_ptr_nonnull(strstr(c.err.text, "AccessDenied"));
  ck_assert_int_ne(access(c.tag, F_OK), 0);
  ck_assert_int_eq(access(c.part, F_OK), 0);
  map = file_text(c.map);
  ck_assert_ptr_nonnull(map);
  ck_assert_msg(!strncmp(map, want, strlen(want)), "list: %s", map);
  free(map);

  ck_assert_int_eq(unlink(c.map), 0);
  dl_go(&c, RG_SETTINGS, again, 1, NULL, NULL);
  ck_assert_msg(c.rc == DROVER_OK, "%s", c.err.text);
  ck_assert_ptr_nonnull(strcasestr(c.s.req[0], "\r\nRange: bytes=0-5242879\r\n"));
  ck_assert_ptr_null(strcasestr(c.s.req[0], "\r\nIf-Match:"));
  ck_assert(file_is(c.out, e + 9, RG_SIZE));
  ck_assert_int_eq(c.from, 0);
  dl_nothing_left(&c);
  dl_end(&c);
  free(denied);
  free(e);
}
END_TEST

/* A list with every part done and the file whole (a cp stopped before its
 * rename): one request, the object's last byte with If-Match, holds the
 * bytes to the list's ETag and size before they are renamed into place. */
START_TEST(download_ranged_all_listed_checked)
{
  char *e = rg_entry("e9");
  const char *const script[] = {e};
  dl_case c;

  rg_listed(&c, e + 9, RG_SIZE, rg_list("\"e9\"\n0\n2\n1\n", NULL), script);
  ck_assert_msg(c.rc == DROVER_OK, "%s", c.err.text);
  ck_assert_int_eq(atomic_load(&c.s.served), 1);
  ck_assert_ptr_nonnull(strcasestr(c.s.req[0], "\r\nRange: bytes=12582911-12582911\r\n"));
  ck_assert_ptr_nonnull(strcasestr(c.s.req[0], "\r\nIf-Match: \"e9\"\r\n"));
  ck_assert(file_is(c.out, e + 9, RG_SIZE));
  ck_assert_int_eq(c.from, RG_SIZE);
  dl_nothing_left(&c);
  dl_end(&c);
  free(e);
}
END_TEST

/* The same, the list of an older version ("e8", other bytes) and the
 * object now "e9": the last byte's answer refuses it, and the download
 * starts over and ends with the object's bytes, not the old ones. */
START_TEST(download_ranged_all_listed_other_object)
{
  char *e = rg_entry("e9"), *old = malloc(RG_SIZE);
  const char *const script[] = {e};
  dl_case c;

  ck_assert_ptr_nonnull(old);
  memset(old, 'x', RG_SIZE);
  rg_listed(&c, old, RG_SIZE, rg_list("\"e8\"\n0\n1\n2\n", NULL), script);
  ck_assert_msg(c.rc == DROVER_OK, "%s", c.err.text);
  ck_assert_ptr_nonnull(strcasestr(c.s.req[0], "\r\nIf-Match: \"e8\"\r\n"));
  ck_assert_ptr_nonnull(strcasestr(c.s.req[1], "\r\nRange: bytes=0-5242879\r\n"));
  ck_assert(file_is(c.out, e + 9, RG_SIZE));
  ck_assert_int_eq(c.from, 0);
  dl_nothing_left(&c);
  dl_end(&c);
  free(old);
  free(e);
}
END_TEST

/* Lists this code does not trust, each beside the part file a stopped
 * download leaves (parts 0 and 2, a hole between): the download starts
 * over, and no listed part or .etag is taken. */
static const struct {
  const char *head;            /* an old version's first line; NULL: rg_list */
  const char *boot;            /* rg_list's boot (NULL: this one) */
  const char *rest;
} untrusted_lists[] = {
  {"drover-parts 1 12582912 5242880 5242880\n", NULL, "0\n2\n"}, /* version 1 */
  {"drover-parts 2 12582912 5242880 5242880\n", NULL, "\"e9\"\n0\n2\n"}, /* no boot ID */
  {NULL, NULL, "\"e9\""},                 /* ETag line torn */
  {NULL, NULL, "\n0\n2\n"},               /* no ETag */
  {NULL, OTHER_BOOT, "\"e9\"\n0\n2\n"},   /* another boot: parts may be holes */
};

START_TEST(download_ranged_untrusted_list_starts_over)
{
  char *e = rg_entry("e9");
  const char *const script[] = {e};
  dl_case c;

  dl_setup(&c);
  rg_stopped(&c, e + 9, "\"e9\"");
  if(untrusted_lists[_i].head) {
    char text[128];
    snprintf(text, sizeof(text), "%s%s", untrusted_lists[_i].head, untrusted_lists[_i].rest);
    put_text(c.map, text);
    /* A valid .etag of this boot beside an untrusted list must not make
     * its part file a prefix to resume. */
    put_text(c.tag, tag_text("\"e9\"", NULL));
  }
  else
    put_text(c.map, rg_list(untrusted_lists[_i].rest, untrusted_lists[_i].boot));
  dl_go(&c, RG_SETTINGS, script, 1, NULL, NULL);
  ck_assert_msg(c.rc == DROVER_OK, "%s", c.err.text);
  ck_assert_ptr_nonnull(strcasestr(c.s.req[0], "\r\nRange: bytes=0-5242879\r\n"));
  ck_assert_ptr_null(strcasestr(c.s.req[0], "\r\nIf-Match:"));
  ck_assert_int_eq(atomic_load(&c.s.served), 4);
  ck_assert(file_is(c.out, e + 9, RG_SIZE));
  ck_assert_int_eq(c.from, 0);
  dl_nothing_left(&c);
  dl_end(&c);
  free(e);
}
END_TEST

/* The object changed since the stop (another ETag): the parts there are
 * thrown away and the download starts over; its bytes are all the new
 * object's. */
START_TEST(download_ranged_changed_starts_over)
{
  char *e = rg_entry("e9");
  const char *const script[] = {e};
  dl_case c;

  dl_setup(&c);
  rg_stopped(&c, e + 9, "\"e8\"");
  dl_go(&c, RG_SETTINGS, script, 1, NULL, NULL);
  ck_assert_msg(c.rc == DROVER_OK, "%s", c.err.text);
  ck_assert_int_eq(atomic_load(&c.s.served), 5);
  ck_assert_ptr_nonnull(strcasestr(c.s.req[0], "\r\nRange: bytes=5242880-10485759\r\n"));
  ck_assert_ptr_nonnull(strcasestr(c.s.req[0], "\r\nIf-Match: \"e8\"\r\n"));
  ck_assert_ptr_nonnull(strcasestr(c.s.req[1], "\r\nRange: bytes=0-5242879\r\n"));
  ck_assert_ptr_null(strcasestr(c.s.req[1], "\r\nIf-Match:"));
  ck_assert(file_is(c.out, e + 9, RG_SIZE));
  ck_assert_int_eq(c.from, 0);
  dl_end(&c);
  free(e);
}
END_TEST

/* Parts of another object than the first GET's head named (it was
 * replaced between the GETs): the download fails as a conflict and leaves
 * nothing, no file of mixed bytes and no part to resume. */
START_TEST(download_ranged_mixed_objects_refused)
{
  char *e9 = rg_entry("e9"), *e8 = rg_entry("e8");
  const char *const script[] = {e9, e8};
  dl_case c;

  dl_setup(&c);
  dl_go(&c, RG_SETTINGS, script, 2, NULL, NULL);
  ck_assert_int_eq(c.rc, DROVER_E_CONFLICT);
  ck_assert_ptr_nonnull(strstr(c.err.text, "not of the object the download began with"));
  ck_assert_int_ne(access(c.out, F_OK), 0);
  dl_nothing_left(&c);
  dl_end(&c);
  free(e9);
  free(e8);
}
END_TEST


/* A part_size as large as the object: one part a lane instead (6 MiB,
 * whole MiB), so the part list stays one a resume can read. */
START_TEST(download_ranged_part_size_too_large)
{
  char *e = rg_entry("e9");
  const char *const script[] = {e};
  dl_case c;

  dl_setup(&c);
  dl_go(&c, ", \"part_size\": 16777216, \"download_threshold\": 5242880, \"concurrency\": 2",
        script, 1, NULL, NULL);
  ck_assert_msg(c.rc == DROVER_OK, "%s", c.err.text);
  ck_assert_int_eq(atomic_load(&c.s.served), 3);
  ck_assert_ptr_nonnull(rg_req(&c, 1, 3, "\r\nRange: bytes=0-6291455\r\n"));
  ck_assert_ptr_nonnull(rg_req(&c, 1, 3, "\r\nRange: bytes=6291456-12582911\r\n"));
  ck_assert(file_is(c.out, e + 9, RG_SIZE));
  dl_end(&c);
  free(e);
}
END_TEST

/* A list that names parts the file does not reach (cut short since): those
 * are fetched again, and the download ends whole. */
START_TEST(download_ranged_listed_beyond_file)
{
  char *e = rg_entry("e9");
  const char *const script[] = {e};
  dl_case c;

  rg_listed(&c, e + 9, RG_PART, rg_list("\"e9\"\n0\n1\n2\n", NULL), script);
  ck_assert_msg(c.rc == DROVER_OK, "%s", c.err.text);
  ck_assert_int_eq(atomic_load(&c.s.served), 2);
  ck_assert_ptr_nonnull(rg_req(&c, 0, 2, "\r\nRange: bytes=5242880-10485759\r\n"));
  ck_assert_ptr_nonnull(rg_req(&c, 0, 2, "\r\nRange: bytes=10485760-12582911\r\n"));
  ck_assert_int_eq(c.from, RG_PART);
  ck_assert(file_is(c.out, e + 9, RG_SIZE));
  dl_end(&c);
  free(e);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("s3");
  TCase *tc = tcase_create("provider");

  tcase_add_test(tc, settings_refused);
  tcase_add_test(tc, credentials_missing_and_from_file);
  tcase_add_test(tc, signed_list_path_style);
  tcase_add_test(tc, virtual_hosted);
  tcase_add_test(tc, auth_error_has_no_credential);
  tcase_add_test(tc, bucket_labels_object_fallback);
  tcase_add_test(tc, bucket_tags_versioning_lifecycle);
  tcase_add_test(tc, multipart_part_retried_on_bad_etag);
  tcase_add_test(tc, multipart_aborted_on_failure);
  tcase_add_test(tc, multipart_part_size_grows);
  tcase_add_test(tc, large_inline_content_by_digest);
  tcase_add_test(tc, inline_put_records_digests);
  tcase_add_test(tc, single_put_checked_by_etag);
  tcase_add_test(tc, single_put_undo_replaced);
  tcase_add_test(tc, single_put_read_ahead_retried);
  tcase_add_test(tc, multipart_whole_md5_answer);
  tcase_add_test(tc, single_put_crc32c);
  tcase_add_test(tc, multipart_crc32c);
  tcase_add_test(tc, single_put_none_reads_once);
  tcase_add_test(tc, multipart_none);
  tcase_add_test(tc, upload_checked_crc_from_digest_pass);
  tcase_add_test(tc, upload_checked_multipart_keeps_md5);
  tcase_add_test(tc, upload_checked_multipart_crcs_from_digest_pass);
  tcase_add_test(tc, multipart_file_changed_aborted);
  tcase_add_test(tc, upload_checked_multipart_changed_after_digest);
  tcase_add_test(tc, single_put_file_changed);
  tcase_add_test(tc, single_put_unchanged_kept);
  tcase_add_test(tc, single_put_retried_versioned);
  tcase_add_test(tc, object_file_changed_after_digest);
  tcase_add_test(tc, download_one_get_etag_first);
  tcase_add_test(tc, download_loopback_default_one_get);
  tcase_add_test(tc, download_resumes_part);
  tcase_add_test(tc, download_stale_part_starts_over);
  tcase_add_loop_test(tc, download_part_of_other_boot_starts_over, 0, 2);
  tcase_add_test(tc, download_broken_keeps_part);
  tcase_add_test(tc, download_ranged_parts);
  tcase_add_test(tc, download_ranged_resumes_missing_part);
  tcase_add_test(tc, download_ranged_changed_starts_over);
  tcase_add_test(tc, download_ranged_mixed_objects_refused);
  tcase_add_test(tc, download_ranged_part_size_too_large);
  tcase_add_test(tc, download_ranged_listed_beyond_file);
  tcase_add_test(tc, download_ranged_list_gone_starts_over);
  tcase_add_test(tc, download_ranged_all_listed_checked);
  tcase_add_test(tc, download_ranged_all_listed_other_object);
  tcase_add_loop_test(tc, download_ranged_untrusted_list_starts_over, 0,
                      sizeof(untrusted_lists) / sizeof(untrusted_lists[0]));
  suite_add_tcase(s, tc);
  return run_suite(s);
}
