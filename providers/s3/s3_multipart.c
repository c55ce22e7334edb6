/* s3_multipart.c - multipart upload: initiate, parts in parallel (each
 * streamed from the file with pread and checked, by CRC32C or by MD5 as
 * the "checksum" setting says, or not at all with "none"; retried on a
 * transient failure), check
 * that the file did not change meanwhile, complete with the part list,
 * check the result against the parts; abort on any failure so no partial
 * object is left behind as a visible object.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "s3.h"
#include "aws_xml.h"

#define PART_TRIES 3

typedef struct part {
  unsigned long long off, len;
  unsigned char md5[16];        /* checksum md5 */
  uint32_t crc;                 /* checksum crc32c */
  char etag[40];                /* "<hex md5>" as S3 answered, quotes stripped */
} part;

typedef struct upload {
  s3_state *st;
  const char *bucket, *key, *address;
  char *upload_id;              /* encoded for the query */
  int fd;
  int crc_known;                /* parts[].crc came from the caller's read */
  part *parts;
  size_t nparts;
} upload;

static drover_code upload_part(void *ud, size_t i, drover_error *err)
{
  upload *u = ud;
  part *p = &u->parts[i];
  s3_md5_body b;
  char q[512], what[256], want[33], b64[9];
  int crc = u->st->checksum == S3_SUM_CRC32C, md5 = u->st->checksum == S3_SUM_MD5;
  drover_code rc;
  int attempt;

  /* CRC32C: the part is read once before it is sent (from the page cache
   * the second time: a part is 16-64 MiB by default), unless the caller's
   * own read of the file gave it. */
  rc = crc && !u->crc_known ? s3_file_crc32c(&p->crc, u->fd, p->off, p->len, err) : DROVER_OK;
  if(!rc)
    rc = s3_md5_body_init(&b, u->fd, p->off, p->len, md5, err);
  if(rc)
    return rc;
  s3_crc32c_b64(b64, p->crc);
  snprintf(q, sizeof(q), "partNumber=%zu&uploadId=%s", i + 1, u->upload_id);
  snprintf(what, sizeof(what), "upload part %zu of %zu", i + 1, u->nparts);
  for(attempt = 0; attempt < PART_TRIES; attempt++) {
    s3_req r;
    drover_http_response resp;
    drover_error e;
    drover_error_clear(&e);
    s3_req_init(&r, "PUT", u->bucket, u->key, NULL);
    r.query = q;
    r.body_read = s3_md5_body_read;
    r.body_userdata = &b;
    r.stream_len = p->len;
    r.what = what;
    r.crc32c = crc ? b64 : NULL;
    rc = s3_call(u->st, &r, &resp, &e);
    if(!rc)
      s3_etag_strip(p->etag, sizeof(p->etag), resp.etag);
    if(!rc && crc) {
      rc = s3_crc32c_confirm(u->st,
                             drover_http_response_header(&resp, "x-amz-checksum-crc32c"), b64,
                             what, u->address, &e);
    }
    else if(!rc && md5) {
      s3_md5_body_final(&b, p->md5);
      s3_hex(want, p->md5, 16);
      if(strcmp(p->etag, want)) {
        /* The server stored other bytes than we sent: send it again. */
        rc = s3_fail(&e, DROVER_E_TRANSIENT, u->address,
                     "part %zu: ETag %s is not the MD5 of the bytes sent (%s)", i + 1, p->etag,
                     want);
      }
    }
    drover_http_response_free(&resp);
    if(rc != DROVER_E_TRANSIENT) {
      if(rc && err && !err->code)
        *err = e;
      break;
    }
    if(attempt + 1 == PART_TRIES && err && !err->code)
      *err = e;
  }
  s3_md5_body_free(&b);
  return rc;
}

static void abort_upload(upload *u)
{
  s3_req r;
  drover_http_response resp;
  drover_error e;
  char q[400];

  snprintf(q, sizeof(q), "uploadId=%s", u->upload_id);
  s3_req_init(&r, "DELETE", u->bucket, u->key, NULL);
  r.query = q;
  r.what = "abort multipart upload";
  r.allow = S3_ALLOW_404;
  drover_error_clear(&e);
  if(s3_call(u->st, &r, &resp, &e))
    drover_logf(&u->st->env, DROVER_LOG_WARN,
                "s3: %s: could not abort multipart upload of \"%s/%s\": %s",
                u->address ? u->address : "-", u->bucket, u->key, e.text);
  drover_http_response_free(&resp);
}

/* Aborts the unfinished multipart uploads of exactly bucket/key that an
 * earlier, killed run left behind (S3 keeps their parts, and bills them,
 * until then). Best effort: a server that cannot list uploads (s3rver
 * answers NotImplemented) or a failed abort only logs. */
static void abort_stale(s3_state *st, const char *bucket, const char *key, const char *address)
{
  s3_req r;
  drover_http_response resp;
  drover_error e;
  xmlDoc *doc = NULL;
  xmlNode *u;
  char *ekey = drover_sigv4_uri_encode(key, strlen(key), 0), *q = NULL;

  memset(&resp, 0, sizeof(resp));
  if(!ekey || asprintf(&q, "prefix=%s&uploads=", ekey) < 0) {
    q = NULL;
    goto out;
  }
  s3_req_init(&r, "GET", bucket, NULL, NULL);
  r.query = q;
  r.what = "list multipart uploads";
  r.allow = S3_ALLOW_ERRORS;
  drover_error_clear(&e);
  if(s3_call(st, &r, &resp, &e) || resp.status != 200 ||
     aws_xml_parse(&doc, resp.body, resp.len, "s3: list multipart uploads", NULL))
    goto out;
  for(u = aws_xml_child(aws_xml_root(doc, "ListMultipartUploadsResult"), "Upload"); u;
      u = aws_xml_next(u)) {
    char *k = aws_xml_text(u, "Key"), *id = aws_xml_text(u, "UploadId");
    if(k && id && !strcmp(k, key)) {
      upload stale;
      memset(&stale, 0, sizeof(stale));
      stale.st = st;
      stale.bucket = bucket;
      stale.key = key;
      stale.address = address;
      stale.upload_id = drover_sigv4_uri_encode(id, strlen(id), 0);
      if(stale.upload_id) {
        drover_logf(&st->env, DROVER_LOG_INFO,
                    "s3: %s: aborting an unfinished multipart upload of \"%s/%s\" left by an "
                    "earlier run", address ? address : "-", bucket, key);
        abort_upload(&stale);
      }
      free(stale.upload_id);
    }
    free(k);
    free(id);
  }
out:
  if(doc)
    aws_xml_free(doc);
  drover_http_response_free(&resp);
  free(ekey);
  free(q);
}

/* The whole file's MD5, computed while the server assembles the object
 * (the client is idle then): only a server that answers the completion
 * with it (s3rver) needs it; S3's md5-of-MD5s answer stops it early. */
typedef struct whole_job {
  int fd;
  unsigned long long size;
  atomic_int stop;
  drover_code rc;
  drover_error err;
  char md5[33];
} whole_job;

static void *whole_main(void *arg)
{
  whole_job *w = arg;

  w->rc = s3_file_digests(NULL, w->md5, NULL, 0, w->fd, w->size, "the uploaded file",
                          &w->stop, &w->err);
  return NULL;
}

unsigned long long s3_whole_mib(unsigned long long size)
{
  return (size + (1ull << 20) - 1) & ~((1ull << 20) - 1);
}

unsigned long long s3_div_up(unsigned long long a, unsigned long long b)
{
  return a / b + (a % b != 0);
}

unsigned long long s3_part_size(unsigned long long part_size, unsigned lanes,
                                unsigned long long size)
{
  unsigned long long need = s3_div_up(size, S3_MAX_PARTS);

  if(!part_size) {
    part_size = s3_whole_mib(s3_div_up(size, (unsigned long long)(lanes ? lanes : 1) *
                                                 S3_LANE_PARTS));
    if(part_size < S3_AUTO_PART_MIN)
      part_size = S3_AUTO_PART_MIN;
    if(part_size > S3_AUTO_PART_MAX)
      part_size = S3_AUTO_PART_MAX;
  }
  if(part_size >= need)
    return part_size;
  need = s3_whole_mib(need);
  return need <= S3_MAX_PART ? need : 0;
}

drover_code s3_part_crcs_new(const s3_state *st, unsigned long long size, uint32_t **crcs,
                             unsigned long long *span, drover_error *err)
{
  unsigned long long psize = s3_part_size(st->part_size, st->concurrency, size);

  *crcs = NULL;
  *span = 0;
  if(st->checksum != S3_SUM_CRC32C || !psize)
    return DROVER_OK;
  /* One per part, and one for an empty file (s3_file_digests sets it). */
  *crcs = calloc((size_t)((size + psize - 1) / psize) + 1, sizeof(**crcs));
  if(!*crcs)
    return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  *span = psize;
  return DROVER_OK;
}

drover_code s3_multipart_upload(s3_state *st, const char *bucket, const char *key, int fd,
                                unsigned long long size, const char *whole_md5,
                                const uint32_t *part_crcs, const struct stat *since,
                                const char *const *headers,
                                const char *content_type, const char *address,
                                drover_error *err)
{
  upload u;
  s3_req r;
  drover_http_response resp;
  xmlDoc *doc = NULL;
  char *id = NULL, *body = NULL, *q = NULL, *ctline = NULL, final[64] = "", want[64];
  char what[1200];
  const char **init_headers = NULL;
  size_t i, len = 0, cap = 0;
  drover_code rc, crc_rc = DROVER_OK;
  EVP_MD_CTX *all = NULL;
  unsigned char md[16];
  unsigned int mdlen = 0;
  unsigned long long psize;
  double t0 = 0, t1 = 0, t2 = 0;
  whole_job w;
  pthread_t wth;
  int wrun = 0, crc = st->checksum == S3_SUM_CRC32C, md5 = st->checksum == S3_SUM_MD5;
  int completed = 0;           /* the object is assembled: a failure now undoes it */
  unsigned ctries = 0;

  memset(&u, 0, sizeof(u));
  memset(&resp, 0, sizeof(resp));
  memset(&w, 0, sizeof(w));
  u.st = st;
  u.bucket = bucket;
  u.key = key;
  u.address = address;
  u.fd = fd;
  u.crc_known = part_crcs != NULL;
  psize = s3_part_size(st->part_size, st->concurrency, size);
  if(!psize)
    return s3_fail(err, DROVER_E_ARG, address,
                   "%llu bytes need parts above S3's 5 GiB to fit in its 10,000 parts",
                   size);
  if(st->part_size && psize != st->part_size)
    drover_logf(&st->env, DROVER_LOG_INFO,
                "s3: %s: %llu bytes: parts of %llu bytes instead of part_size %llu (S3 takes "
                "at most %u parts)", address ? address : "-", size, psize, st->part_size,
                S3_MAX_PARTS);
  snprintf(what, sizeof(what), "multipart upload of \"%s/%s\"", bucket, key);
  u.nparts = (size_t)((size + psize - 1) / psize);
  u.parts = calloc(u.nparts ? u.nparts : 1, sizeof(*u.parts));
  if(!u.parts)
    return s3_fail(err, DROVER_E_NOMEM, address, "out of memory");
  for(i = 0; i < u.nparts; i++) {
    u.parts[i].off = i * psize;
    u.parts[i].len = size - u.parts[i].off < psize ? size - u.parts[i].off : psize;
    u.parts[i].crc = part_crcs ? part_crcs[i] : 0;
  }

  /* Only under a stack's lock (address set): the CLI does not abort an
   * upload of the same key another admin may be running. */
  if(address)
    abort_stale(st, bucket, key, address);

  /* Initiate: metadata and content type go here. The initiation has no
   * body, so the content type is a header line of its own. */
  for(i = 0; headers && headers[i]; i++)
    ;
  init_headers = calloc(i + 3, sizeof(*init_headers));
  if(!init_headers || asprintf(&ctline, "Content-Type: %s", content_type) < 0) {
    ctline = NULL;
    rc = s3_fail(err, DROVER_E_NOMEM, address, "out of memory");
    goto out;
  }
  init_headers[0] = ctline;
  for(i = 0; headers && headers[i]; i++)
    init_headers[i + 1] = headers[i];
  /* Each part then carries its CRC32C, and S3 answers the completion with
   * the checksum of theirs. */
  if(st->checksum == S3_SUM_CRC32C)
    init_headers[i + 1] = "x-amz-checksum-algorithm: CRC32C";
  s3_req_init(&r, "POST", bucket, key, NULL);
  r.query = "uploads=";
  r.headers = init_headers;
  r.what = "initiate multipart upload";
  rc = s3_call(st, &r, &resp, err);
  if(!rc)
    rc = aws_xml_parse(&doc, resp.body, resp.len, "s3: initiate multipart upload", err);
  if(rc)
    goto out;
  id = aws_xml_text(aws_xml_root(doc, "InitiateMultipartUploadResult"), "UploadId");
  aws_xml_free(doc);
  doc = NULL;
  drover_http_response_free(&resp);
  if(!id || !*id) {
    rc = s3_fail(err, DROVER_E_PROVIDER, address, "initiate multipart upload: no UploadId");
    goto out;
  }
  u.upload_id = drover_sigv4_uri_encode(id, strlen(id), 0);
  if(!u.upload_id) {
    rc = s3_fail(err, DROVER_E_NOMEM, address, "out of memory");
    goto out;
  }
  drover_logf(&st->env, DROVER_LOG_DEBUG,
              "s3: %s: multipart upload of %llu bytes in %zu parts of %llu bytes",
              address ? address : "-", size, u.nparts, psize);

  /* Parts, st->concurrency at a time. */
  t0 = drover_now();
  rc = s3_parallel(st, u.nparts, upload_part, &u, err);
  /* Each part read its bytes at its own time: a file rewritten meanwhile
   * would become an object of old and new bytes, which a server that
   * checks nothing per part (s3rver) assembles without a word. */
  if(!rc)
    rc = s3_file_unchanged(fd, since, what, address, err);
  if(rc)
    goto abort;
  t1 = drover_now();

  /* Complete, and check the result against the parts' checksums. */
  all = EVP_MD_CTX_new();
  if(!all || !EVP_DigestInit_ex(all, EVP_md5(), NULL)) {
    rc = s3_fail(err, DROVER_E_NOMEM, address, "out of memory");
    goto abort;
  }
  cap = 64 + u.nparts * 140;
  body = malloc(cap);
  if(!body) {
    rc = s3_fail(err, DROVER_E_NOMEM, address, "out of memory");
    goto abort;
  }
  len = (size_t)snprintf(body, cap, "<CompleteMultipartUpload>");
  for(i = 0; i < u.nparts; i++) {
    char b64[9];
    s3_crc32c_b64(b64, u.parts[i].crc);
    len += (size_t)snprintf(body + len, cap - len,
                            "<Part><PartNumber>%zu</PartNumber><ETag>\"%s\"</ETag>%s%s%s</Part>",
                            i + 1, u.parts[i].etag, crc ? "<ChecksumCRC32C>" : "",
                            crc ? b64 : "", crc ? "</ChecksumCRC32C>" : "");
    EVP_DigestUpdate(all, u.parts[i].md5, 16);
  }
  len += (size_t)snprintf(body + len, cap - len, "</CompleteMultipartUpload>");
  EVP_DigestFinal_ex(all, md, &mdlen);
  s3_hex(want, md, 16);
  snprintf(want + 32, sizeof(want) - 32, "-%zu", u.nparts);
  if(asprintf(&q, "uploadId=%s", u.upload_id) < 0) {
    q = NULL;
    rc = s3_fail(err, DROVER_E_NOMEM, address, "out of memory");
    goto abort;
  }
  s3_req_init(&r, "POST", bucket, key, NULL);
  r.query = q;
  r.content_type = "application/xml";
  r.body = body;
  r.body_len = len;
  r.what = "complete multipart upload";
  r.tries = &ctries;
  if(!whole_md5 && md5) {
    w.fd = fd;
    w.size = size;
    atomic_init(&w.stop, 0);
    drover_error_clear(&w.err);
    wrun = pthread_create(&wth, NULL, whole_main, &w) == 0;
  }
  rc = s3_call(st, &r, &resp, err);
  t2 = drover_now();
  if(!rc)
    rc = aws_xml_parse(&doc, resp.body, resp.len, "s3: complete multipart upload", err);
  if(!rc && aws_xml_root(doc, "Error")) {
    /* S3 may answer 200 and still fail the completion. */
    rc = aws_error_set(err, "s3: complete multipart upload", 500, resp.body, resp.len);
  }
  completed = !rc;
  if(!rc) {
    xmlNode *res = aws_xml_root(doc, "CompleteMultipartUploadResult");
    char *etag = aws_xml_text(res, "ETag");
    s3_etag_strip(final, sizeof(final), etag ? etag : resp.etag);
    free(etag);
    if(crc) {
      char *got = aws_xml_text(res, "ChecksumCRC32C"), whole[32];
      uint32_t *crcs = malloc(u.nparts * sizeof(*crcs));
      if(!crcs)
        rc = s3_fail(err, DROVER_E_NOMEM, address, "out of memory");
      for(i = 0; crcs && i < u.nparts; i++)
        crcs[i] = u.parts[i].crc;
      if(crcs) {
        s3_crc32c_composite(whole, sizeof(whole), crcs, u.nparts);
        crc_rc = s3_crc32c_confirm(st, got, whole, "complete multipart upload", address,
                                   err);
      }
      free(crcs);
      free(got);
    }
  }
  if(wrun) {
    if(rc || !strcmp(final, want) || strchr(final, '-'))
      atomic_store(&w.stop, 1);
    pthread_join(wth, NULL);
    wrun = 0;
  }
  if(rc)
    goto abort;
  if(crc_rc) {
    rc = crc_rc;
    goto out;                   /* complete: out deletes it again */
  }
  if(!md5) {
    /* The parts were checked by CRC32C, or not at all; no part MD5s to
     * compare an S3 ETag with, but a server's whole-object MD5 still
     * meets the file's when the caller has it. */
    if(whole_md5 && !strchr(final, '-') && strcmp(final, whole_md5)) {
      rc = s3_fail(err, DROVER_E_PROVIDER, address,
                   "multipart upload of \"%s/%s\": final ETag %s is not the file's MD5 (%s)",
                   bucket, key, final, whole_md5);
      goto out;
    }
  }
  else if(strcmp(final, want) && !strchr(final, '-') && !whole_md5) {
    /* A server that answers with the whole object's MD5 (s3rver): compare
     * with the file's, computed above or, if no thread ran, now. */
    if(w.rc) {
      if(err && !err->code)
        *err = w.err;
      rc = w.rc;
    }
    else if(!w.md5[0]) {
      rc = s3_file_digests(NULL, w.md5, NULL, 0, fd, size, "the uploaded file", NULL, err);
    }
    if(rc)
      goto out;
    whole_md5 = w.md5;
  }
  if(md5 && strcmp(final, want) && !(whole_md5 && !strcmp(final, whole_md5))) {
    rc = s3_fail(err, DROVER_E_PROVIDER, address,
                 "multipart upload of \"%s/%s\": final ETag %s matches neither the parts "
                 "(%s) nor the file (%s)", bucket, key, final, want,
                 whole_md5 ? whole_md5 : "-");
    goto out;  /* complete: out deletes it again */
  }
  /* The split says whose time it is: the server assembles the object on
   * complete (s3rver copies every part once more). */
  drover_logf(&st->env, DROVER_LOG_DEBUG,
              "s3: %s: multipart upload, %zu parts of %llu bytes: parts %.2f s, complete %.2f s, "
              "check %.2f s", address ? address : "-", u.nparts, psize, t1 - t0, t2 - t1,
              drover_now() - t2);
  goto out;
abort:
  abort_upload(&u);
out:
  /* Assembled, then refused (its checksum, its ETag): it goes again. */
  if(rc && completed)
    s3_put_undo(st, bucket, key, &resp, final[0] ? final : NULL, ctries, err);
  if(doc)
    aws_xml_free(doc);
  drover_http_response_free(&resp);
  EVP_MD_CTX_free(all);
  free(body);
  free(q);
  free(id);
  free(u.upload_id);
  free(u.parts);
  free(init_headers);
  free(ctline);
  return rc;
}
