/* s3_bucket.c - s3.bucket: a bucket with versioning, one lifecycle
 * expiration rule and tags. The ownership labels are tags "drover:<label>";
 * on a server without bucket tagging (s3rver, some Swift gateways) the tags
 * live in the object S3_LABEL_OBJECT inside the bucket instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/md5.h>
#include "s3.h"
#include "aws_xml.h"

static const drover_prop bucket_props[] = {
  {"name", DROVER_T_STRING, DROVER_PROP_FORCE_NEW, NULL, NULL,
   "bucket name; default derived from stack and address"},
  {"versioning", DROVER_T_BOOLEAN, 0, "false", NULL, "keep every version of each object"},
  {"expiration_days", DROVER_T_INTEGER, 0, "0", NULL,
   "lifecycle rule: delete objects this many days old (0: no rule)"},
  {"expiration_prefix", DROVER_T_STRING, 0, "\"\"", NULL,
   "lifecycle rule: only objects under this key prefix"},
  {"tags", DROVER_T_STRING_MAP, 0, "{}", NULL, "bucket tags (keys \"drover:*\" are drover's)"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

static const char *const bucket_exports[] = {NULL};

const drover_rtype s3_bucket_type = {
  .name = "s3.bucket", .props = bucket_props, .delete_order = 0,
  .doc = "an S3 bucket", .exports = bucket_exports
};

#define RULE_ID "drover-expiration"

/* What a bucket holds, as read. */
typedef struct binfo {
  char *name;
  json_t *tags;             /* every tag, drover's included */
  int no_tagging;           /* the server has no bucket tagging: labels object */
  int versioning;
  long long exp_days;
  char *exp_prefix;
} binfo;

static void binfo_free(binfo *b)
{
  json_decref(b->tags);
  free(b->exp_prefix);
  memset(b, 0, sizeof(*b));
}

static int not_implemented(const drover_http_response *resp)
{
  aws_error e;
  if(resp->status == 501)
    return 1;
  return aws_error_parse(&e, resp->body, resp->len) && !strcmp(e.code, "NotImplemented");
}

static int has_code(const drover_http_response *resp, const char *code)
{
  aws_error e;
  return aws_error_parse(&e, resp->body, resp->len) && !strcmp(e.code, code);
}

/* Appends s to b with XML's five special characters escaped. */
static int xml_add(char **b, size_t *len, const char *s)
{
  for(; *s; s++) {
    const char *rep = NULL;
    char c[2] = {*s, '\0'};
    char *g;
    size_t n;
    switch(*s) {
    case '&': rep = "&amp;"; break;
    case '<': rep = "&lt;"; break;
    case '>': rep = "&gt;"; break;
    case '"': rep = "&quot;"; break;
    case '\'': rep = "&apos;"; break;
    default: rep = c;
    }
    n = strlen(rep);
    g = realloc(*b, *len + n + 1);
    if(!g)
      return -1;
    *b = g;
    memcpy(*b + *len, rep, n + 1);
    *len += n;
  }
  return 0;
}

static int raw_add(char **b, size_t *len, const char *s)
{
  size_t n = strlen(s);
  char *g = realloc(*b, *len + n + 1);

  if(!g)
    return -1;
  *b = g;
  memcpy(*b + *len, s, n + 1);
  *len += n;
  return 0;
}

/* "Content-MD5: <base64>" for body (S3 wants it on tagging and lifecycle). */
static void content_md5(char out[64], const char *body, size_t len)
{
  unsigned char md[MD5_DIGEST_LENGTH];
  unsigned char b64[32];
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned int mdlen = 0;

  out[0] = '\0';
  if(!ctx)
    return;
  if(EVP_DigestInit_ex(ctx, EVP_md5(), NULL) && EVP_DigestUpdate(ctx, body, len) &&
     EVP_DigestFinal_ex(ctx, md, &mdlen)) {
    EVP_EncodeBlock(b64, md, (int)mdlen);
    snprintf(out, 64, "Content-MD5: %s", (const char *)b64);
  }
  EVP_MD_CTX_free(ctx);
}

/* A bucket sub-resource call with an XML body. */
static drover_code put_sub(s3_state *st, const char *bucket, const char *sub, const char *body,
                           const char *what, drover_http_response *resp, drover_error *err)
{
  char md5[64];
  const char *headers[2] = {md5, NULL};
  s3_req r;

  content_md5(md5, body, strlen(body));
  s3_req_init(&r, "PUT", bucket, NULL, NULL);
  r.query = sub;
  r.headers = headers;
  r.content_type = "application/xml";
  r.body = body;
  r.body_len = strlen(body);
  r.what = what;
  r.allow = S3_ALLOW_ERRORS;
  return s3_call(st, &r, resp, err);
}

/* --------------------------------------------------------------------------
 * Reading
 */

/* Reads the tags of bucket into b->tags (empty when it has none). */
static drover_code read_tags(s3_state *st, const char *bucket, binfo *b, drover_error *err)
{
  s3_req r;
  drover_http_response resp;
  xmlDoc *doc = NULL;
  xmlNode *t;
  drover_code rc;
  char what[320];

  snprintf(what, sizeof(what), "bucket \"%s\": read tags", bucket);
  b->tags = json_object();
  if(!b->tags)
    return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  s3_req_init(&r, "GET", bucket, NULL, NULL);
  r.query = "tagging=";
  r.what = what;
  r.allow = S3_ALLOW_ERRORS;
  rc = s3_call(st, &r, &resp, err);
  if(rc)
    goto out;
  if(resp.status == 404 && has_code(&resp, "NoSuchTagSet"))
    goto out;
  if(not_implemented(&resp)) {
    /* No bucket tagging here: the labels object holds them. */
    b->no_tagging = 1;
    drover_http_response_free(&resp);
    r.query = NULL;
    r.key = S3_LABEL_OBJECT;
    r.allow = S3_ALLOW_404;
    rc = s3_call(st, &r, &resp, err);
    if(!rc && resp.status == 200) {
      json_t *j = json_loadb(resp.body, resp.len, 0, NULL);
      json_t *tags = json_object_get(j, "tags");
      if(json_is_object(tags))
        json_object_update(b->tags, tags);
      json_decref(j);
    }
    goto out;
  }
  if(resp.status == 403 || resp.status == 404) {
    /* Not ours to read (another account's bucket in the list), or gone
     * between the list and this call: not this stack's either way. */
    goto out;
  }
  if(resp.status >= 300) {
    rc = s3_fail(err, aws_error_class(resp.status, NULL), NULL, "%s: HTTP %ld", what,
                 resp.status);
    goto out;
  }
  rc = aws_xml_parse(&doc, resp.body, resp.len, "s3: bucket tags", err);
  if(rc)
    goto out;
  t = aws_xml_child(aws_xml_root(doc, "Tagging"), "TagSet");
  for(t = aws_xml_child(t, "Tag"); t; t = aws_xml_next(t)) {
    char *k = aws_xml_text(t, "Key"), *v = aws_xml_text(t, "Value");
    if(k && v)
      json_object_set_new(b->tags, k, json_string(v));
    free(k);
    free(v);
  }
out:
  if(doc)
    aws_xml_free(doc);
  drover_http_response_free(&resp);
  return rc;
}

static const char *tag(const binfo *b, const char *label)
{
  char k[64];
  snprintf(k, sizeof(k), S3_TAG_PREFIX "%s", label);
  return json_string_value(json_object_get(b->tags, k));
}

/* Versioning and the lifecycle rule; servers without them read as off. */
static drover_code read_config(s3_state *st, const char *bucket, binfo *b, drover_error *err)
{
  s3_req r;
  drover_http_response resp;
  xmlDoc *doc = NULL;
  xmlNode *rule;
  drover_code rc;
  char buf[64];

  s3_req_init(&r, "GET", bucket, NULL, NULL);
  r.query = "versioning=";
  r.what = "read versioning";
  r.allow = S3_ALLOW_ERRORS;
  rc = s3_call(st, &r, &resp, err);
  if(rc)
    goto out;
  if(resp.status == 200 && !aws_xml_parse(&doc, resp.body, resp.len, "s3: versioning", NULL)) {
    b->versioning = aws_xml_text_buf(aws_xml_root(doc, NULL), "Status", buf, sizeof(buf)) &&
                    !strcmp(buf, "Enabled");
    aws_xml_free(doc);
    doc = NULL;
  }
  drover_http_response_free(&resp);
  r.query = "lifecycle=";
  r.what = "read lifecycle";
  rc = s3_call(st, &r, &resp, err);
  if(rc)
    goto out;
  if(resp.status != 200 || aws_xml_parse(&doc, resp.body, resp.len, "s3: lifecycle", NULL))
    goto out;
  for(rule = aws_xml_child(aws_xml_root(doc, NULL), "Rule"); rule; rule = aws_xml_next(rule)) {
    xmlNode *exp = aws_xml_child(rule, "Expiration"), *filter = aws_xml_child(rule, "Filter");
    if(!aws_xml_text_buf(rule, "ID", buf, sizeof(buf)) || strcmp(buf, RULE_ID) || !exp)
      continue;
    if(aws_xml_text_buf(exp, "Days", buf, sizeof(buf)))
      b->exp_days = strtoll(buf, NULL, 10);
    free(b->exp_prefix);
    b->exp_prefix = filter ? aws_xml_text(filter, "Prefix") : aws_xml_text(rule, "Prefix");
  }
out:
  if(doc)
    aws_xml_free(doc);
  drover_http_response_free(&resp);
  return rc;
}

/* *out owned by the caller. */
static drover_code make_live(drover_live **out, const char *name, const binfo *b,
                             drover_error *err)
{
  drover_live *l = drover_live_new();
  json_t *user = json_object();
  const char *k;
  json_t *v;

  *out = NULL;
  if(!l || !user)
    goto nomem;
  json_object_foreach(b->tags, k, v)
    if(strncmp(k, S3_TAG_PREFIX, strlen(S3_TAG_PREFIX)) &&
       json_object_set(user, k, v))
      goto nomem;
  l->name = strdup(name);
  l->stack = tag(b, DROVER_LABEL_STACK) ? strdup(tag(b, DROVER_LABEL_STACK)) : NULL;
  l->address = tag(b, DROVER_LABEL_ADDRESS) ? strdup(tag(b, DROVER_LABEL_ADDRESS)) : NULL;
  l->hash = tag(b, DROVER_LABEL_HASH) ? strdup(tag(b, DROVER_LABEL_HASH)) : NULL;
  l->deps = tag(b, DROVER_LABEL_DEPS) ? strdup(tag(b, DROVER_LABEL_DEPS)) : NULL;
  if(!l->name ||
     json_object_set_new(l->properties, "name", json_string(name)) ||
     json_object_set_new(l->properties, "versioning", json_boolean(b->versioning)) ||
     json_object_set_new(l->properties, "expiration_days", json_integer(b->exp_days)) ||
     json_object_set_new(l->properties, "expiration_prefix",
                         json_string(b->exp_prefix ? b->exp_prefix : "")) ||
     json_object_set_new(l->properties, "tags", user) ||
     json_object_update(l->attributes, l->properties))
    goto nomem_user_taken;
  *out = l;
  return DROVER_OK;
nomem:
  json_decref(user);
nomem_user_taken:
  drover_live_free(l);
  return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
}

/* Reads bucket and, when it carries stack's label (any drover stack when
 * stack is NULL), its configuration; *out NULL when not this stack's. */
static drover_code read_bucket(s3_state *st, const char *name, const char *stack,
                               drover_live **out, drover_error *err)
{
  binfo b;
  drover_code rc;
  const char *s;

  *out = NULL;
  memset(&b, 0, sizeof(b));
  rc = read_tags(st, name, &b, err);
  if(rc)
    goto out;
  s = tag(&b, DROVER_LABEL_STACK);
  if(!s || (stack && strcmp(s, stack)))
    goto out;
  rc = read_config(st, name, &b, err);
  if(!rc)
    rc = make_live(out, name, &b, err);
out:
  binfo_free(&b);
  return rc;
}

typedef struct list_job {
  s3_state *st;
  const char *stack;
  char **names;
  drover_live **found;
} list_job;

static drover_code list_one(void *ud, size_t i, drover_error *err)
{
  list_job *j = ud;
  return read_bucket(j->st, j->names[i], j->stack, &j->found[i], err);
}

static drover_code bucket_list(s3_state *st, const char *stack, drover_live_list *out,
                               drover_error *err)
{
  list_job j;
  size_t n = 0, i;
  drover_code rc;

  memset(&j, 0, sizeof(j));
  rc = s3_list_buckets(st, &j.names, &n, err);
  if(rc)
    return rc;
  j.st = st;
  j.stack = stack;
  j.found = calloc(n ? n : 1, sizeof(*j.found));
  if(!j.found) {
    rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  /* Bounded: at most st->concurrency tag reads at a time. */
  rc = s3_parallel(st, n, list_one, &j, err);
  for(i = 0; i < n; i++) {
    if(!rc && j.found[i]) {
      rc = drover_live_list_push(out, j.found[i]);
      if(rc)
        s3_fail(err, rc, NULL, "out of memory");
    }
    else {
      drover_live_free(j.found[i]);
    }
    j.found[i] = NULL;
  }
out:
  free(j.found);
  s3_strv_free(j.names, n);
  return rc;
}

static drover_code bucket_read(s3_state *st, const char *name, drover_live **out,
                               drover_error *err)
{
  drover_code rc = read_bucket(st, name, NULL, out, err);

  if(!rc && !*out)
    rc = s3_fail(err, DROVER_E_NOT_FOUND, NULL, "bucket \"%s\" not found or not drover's",
                 name);
  return rc;
}

/* --------------------------------------------------------------------------
 * Writing
 */

typedef struct tagset {
  json_t *tags;
} tagset;

static int add_label(void *ud, const char *label, const char *value)
{
  tagset *t = ud;
  char k[64];
  snprintf(k, sizeof(k), S3_TAG_PREFIX "%s", label);
  return json_object_set_new(t->tags, k, json_string(value));
}

/* Writes every tag (user tags and labels). */
static drover_code write_tags(s3_state *st, const drover_res_req *req, int no_tagging,
                              drover_error *err)
{
  const json_t *user = json_object_get(req->properties, "tags");
  tagset t = {json_object()};
  drover_http_response resp;
  char *body = NULL, *text = NULL;
  size_t len = 0;
  const char *k;
  json_t *v;
  drover_code rc = DROVER_OK;

  memset(&resp, 0, sizeof(resp));
  if(!t.tags)
    return s3_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
  json_object_foreach((json_t *)user, k, v) {
    if(!strncmp(k, S3_TAG_PREFIX, strlen(S3_TAG_PREFIX))) {
      rc = s3_fail(err, DROVER_E_ARG, req->address, "tag \"%s\": keys \"%s*\" are drover's",
                   k, S3_TAG_PREFIX);
      goto out;
    }
    if(!json_is_string(v) || json_object_set(t.tags, k, v)) {
      rc = s3_fail(err, DROVER_E_ARG, req->address, "tag \"%s\" must be a string", k);
      goto out;
    }
  }
  if(s3_labels_each(req, add_label, &t)) {
    rc = s3_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
    goto out;
  }
  if(!no_tagging) {
    if(raw_add(&body, &len, "<Tagging><TagSet>")) {
      rc = s3_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
      goto out;
    }
    json_object_foreach(t.tags, k, v)
      if(raw_add(&body, &len, "<Tag><Key>") || xml_add(&body, &len, k) ||
         raw_add(&body, &len, "</Key><Value>") ||
         xml_add(&body, &len, json_string_value(v)) || raw_add(&body, &len, "</Value></Tag>")) {
        rc = s3_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
        goto out;
      }
    if(raw_add(&body, &len, "</TagSet></Tagging>")) {
      rc = s3_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
      goto out;
    }
    rc = put_sub(st, req->name, "tagging=", body, "write tags", &resp, err);
    if(rc)
      goto out;
    if(resp.status < 300)
      goto out;
    if(!not_implemented(&resp)) {
      rc = aws_error_set(err, "s3: write bucket tags", resp.status, resp.body, resp.len);
      drover_error_locate(err, "s3", req->address);
      goto out;
    }
    drover_http_response_free(&resp);
  }
  /* No bucket tagging on this server: the labels object. */
  {
    s3_req r;
    json_t *doc = json_pack("{s:O}", "tags", t.tags);
    text = doc ? json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    json_decref(doc);
    if(!text) {
      rc = s3_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
      goto out;
    }
    s3_req_init(&r, "PUT", req->name, S3_LABEL_OBJECT, NULL);
    r.content_type = "application/json";
    r.body = text;
    r.body_len = strlen(text);
    r.what = "write the bucket's labels object";
    rc = s3_call(st, &r, &resp, err);
  }
out:
  drover_http_response_free(&resp);
  free(body);
  free(text);
  json_decref(t.tags);
  return rc;
}

/* Versioning on (or suspended again when it was on). */
static drover_code write_versioning(s3_state *st, const drover_res_req *req, int want,
                                    drover_error *err)
{
  drover_http_response resp;
  drover_code rc;
  const char *body = want ? "<VersioningConfiguration><Status>Enabled</Status>"
                            "</VersioningConfiguration>"
                          : "<VersioningConfiguration><Status>Suspended</Status>"
                            "</VersioningConfiguration>";

  rc = put_sub(st, req->name, "versioning=", body, "write versioning", &resp, err);
  if(!rc && resp.status >= 300) {
    if(not_implemented(&resp))
      rc = s3_fail(err, DROVER_E_UNSUPPORTED, req->address,
                   "this S3 server does not implement bucket versioning");
    else
      rc = aws_error_set(err, "s3: write versioning", resp.status, resp.body, resp.len);
  }
  drover_http_response_free(&resp);
  return rc;
}

static drover_code write_lifecycle(s3_state *st, const drover_res_req *req, long long days,
                                   const char *prefix, drover_error *err)
{
  drover_http_response resp;
  char *body = NULL, num[32];
  size_t len = 0;
  drover_code rc;

  memset(&resp, 0, sizeof(resp));
  if(days <= 0) {
    s3_req r;
    s3_req_init(&r, "DELETE", req->name, NULL, NULL);
    r.query = "lifecycle=";
    r.what = "delete lifecycle";
    r.allow = S3_ALLOW_404;
    rc = s3_call(st, &r, &resp, err);
    goto out;
  }
  snprintf(num, sizeof(num), "%lld", days);
  if(raw_add(&body, &len, "<LifecycleConfiguration><Rule><ID>" RULE_ID "</ID><Filter><Prefix>") ||
     xml_add(&body, &len, prefix ? prefix : "") ||
     raw_add(&body, &len, "</Prefix></Filter><Status>Enabled</Status><Expiration><Days>") ||
     raw_add(&body, &len, num) ||
     raw_add(&body, &len, "</Days></Expiration></Rule></LifecycleConfiguration>")) {
    rc = s3_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
    goto out;
  }
  rc = put_sub(st, req->name, "lifecycle=", body, "write lifecycle", &resp, err);
  if(!rc && resp.status >= 300) {
    if(not_implemented(&resp))
      rc = s3_fail(err, DROVER_E_UNSUPPORTED, req->address,
                   "this S3 server does not implement lifecycle rules");
    else
      rc = aws_error_set(err, "s3: write lifecycle", resp.status, resp.body, resp.len);
  }
out:
  drover_http_response_free(&resp);
  free(body);
  return rc;
}

static drover_code bucket_put(s3_state *st, const drover_res_req *req, const drover_live *cur,
                              drover_live **out, drover_error *err)
{
  const json_t *p = req->properties;
  int want_versioning = json_is_true(json_object_get(p, "versioning"));
  long long days = json_integer_value(json_object_get(p, "expiration_days"));
  const char *prefix = json_string_value(json_object_get(p, "expiration_prefix"));
  int had_versioning = cur && json_is_true(json_object_get(cur->properties, "versioning"));
  long long had_days = cur ? json_integer_value(json_object_get(cur->properties,
                                                                "expiration_days")) : 0;
  const char *had_prefix = cur ? json_string_value(json_object_get(cur->properties,
                                                                   "expiration_prefix")) : NULL;
  binfo b;
  drover_http_response resp;
  drover_code rc = DROVER_OK;
  char *loc = NULL;

  memset(&b, 0, sizeof(b));
  memset(&resp, 0, sizeof(resp));
  *out = NULL;
  if(days < 0)
    return s3_fail(err, DROVER_E_ARG, req->address, "expiration_days must be 0 or more");
  if(!cur) {
    s3_req r;
    s3_req_init(&r, "PUT", req->name, NULL, "create bucket");
    r.allow = S3_ALLOW_ERRORS;
    if(strcmp(st->region, "us-east-1")) {
      if(asprintf(&loc, "<CreateBucketConfiguration><LocationConstraint>%s"
                        "</LocationConstraint></CreateBucketConfiguration>", st->region) < 0) {
        loc = NULL;
        return s3_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
      }
      r.body = loc;
      r.body_len = strlen(loc);
      r.content_type = "application/xml";
    }
    rc = s3_call(st, &r, &resp, err);
    if(rc)
      goto out;
    if(resp.status == 409) {
      /* Exists: adopt it when it carries this stack's and this address's
       * labels (a retry after a lost answer); refuse anything else. */
      rc = read_tags(st, req->name, &b, err);
      if(rc)
        goto out;
      if(!tag(&b, DROVER_LABEL_STACK) || strcmp(tag(&b, DROVER_LABEL_STACK), req->stack) ||
         !tag(&b, DROVER_LABEL_ADDRESS) || strcmp(tag(&b, DROVER_LABEL_ADDRESS), req->address)) {
        rc = aws_error_set(err, "s3: create bucket", resp.status, resp.body, resp.len);
        drover_error_locate(err, "s3", req->address);
        goto out;
      }
    }
    else if(resp.status >= 300) {
      rc = aws_error_set(err, "s3: create bucket", resp.status, resp.body, resp.len);
      drover_error_locate(err, "s3", req->address);
      goto out;
    }
    else {
      /* New: learn whether this server has bucket tagging. */
      rc = read_tags(st, req->name, &b, err);
      if(rc)
        goto out;
    }
  }
  else {
    rc = read_tags(st, req->name, &b, err);
    if(rc)
      goto out;
  }
  rc = write_tags(st, req, b.no_tagging, err);
  /* Versioning is written when it changes; a new bucket starts without. */
  if(!rc && (cur ? had_versioning != want_versioning : want_versioning))
    rc = write_versioning(st, req, want_versioning, err);
  if(!rc && (days != had_days || (days > 0 && strcmp(prefix ? prefix : "",
                                                     had_prefix ? had_prefix : ""))))
    rc = write_lifecycle(st, req, days, prefix, err);
  if(rc)
    goto out;
  binfo_free(&b);
  b.tags = json_deep_copy(json_object_get(p, "tags"));
  if(!b.tags || s3_labels_each(req, add_label, &(tagset){b.tags})) {
    rc = s3_fail(err, DROVER_E_NOMEM, req->address, "out of memory");
    goto out;
  }
  b.versioning = want_versioning;
  b.exp_days = days;
  b.exp_prefix = strdup(prefix ? prefix : "");
  rc = make_live(out, req->name, &b, err);
out:
  binfo_free(&b);
  drover_http_response_free(&resp);
  free(loc);
  return rc;
}

static drover_code bucket_del(s3_state *st, const drover_live *cur, drover_error *err)
{
  s3_req r;
  drover_http_response resp;
  drover_code rc;
  char what[320];
  int tries;

  snprintf(what, sizeof(what), "delete bucket \"%s\"", cur->name);
  for(tries = 0; tries < 2; tries++) {
    s3_req_init(&r, "DELETE", cur->name, NULL, what);
    r.allow = S3_ALLOW_ERRORS;
    rc = s3_call(st, &r, &resp, err);
    if(rc || resp.status < 300 || resp.status == 404)
      goto out;
    if(resp.status != 409 || !has_code(&resp, "BucketNotEmpty") || tries)
      break;
    /* Only the labels object left? Remove it and try again. */
    drover_http_response_free(&resp);
    r.method = "GET";
    r.query = "list-type=2&max-keys=2";
    r.what = "list before delete";
    r.allow = 0;
    rc = s3_call(st, &r, &resp, err);
    if(rc)
      goto out;
    {
      xmlDoc *doc = NULL;
      xmlNode *root, *c;
      char key[256];
      int only_labels = 0;
      if(!aws_xml_parse(&doc, resp.body, resp.len, "s3: list", NULL)) {
        root = aws_xml_root(doc, "ListBucketResult");
        c = aws_xml_child(root, "Contents");
        only_labels = c && !aws_xml_next(c) && aws_xml_text_buf(c, "Key", key, sizeof(key)) &&
                      !strcmp(key, S3_LABEL_OBJECT);
        aws_xml_free(doc);
      }
      drover_http_response_free(&resp);
      if(!only_labels)
        return s3_fail(err, DROVER_E_PROVIDER, cur->address,
                       "bucket \"%s\" is not empty: it holds objects drover does not manage",
                       cur->name);
    }
    s3_req_init(&r, "DELETE", cur->name, S3_LABEL_OBJECT, "delete the labels object");
    r.allow = S3_ALLOW_404;
    rc = s3_call(st, &r, &resp, err);
    drover_http_response_free(&resp);
    if(rc)
      return rc;
  }
  rc = aws_error_set(err, "s3: delete bucket", resp.status, resp.body, resp.len);
  drover_error_locate(err, "s3", cur->address);
out:
  drover_http_response_free(&resp);
  return rc;
}

const s3_type_ops s3_bucket_ops = {bucket_list, bucket_put, bucket_del, bucket_read};
