/* s3_digest.c - content digests of local files: read once ahead of an
 * upload (what s3.object compares with its stored hash), or computed on
 * the way as a request body is read (what a PUT or a part is checked
 * against by its ETag); and whether the file changed while an upload read
 * it. Below s3_object.c, s3_multipart.c and s3_client.c, which use it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "s3.h"

#define CHUNK S3_READ_SIZE

void s3_hex(char *out, const unsigned char *md, size_t n)
{
  static const char h[] = "0123456789abcdef";
  size_t i;

  for(i = 0; i < n; i++) {
    out[2 * i] = h[md[i] >> 4];
    out[2 * i + 1] = h[md[i] & 15];
  }
  out[2 * n] = '\0';
}

drover_code s3_file_digests(char *sha, char *md5, uint32_t *crc, unsigned long long span,
                            int fd, unsigned long long size, const char *path,
                            const atomic_int *stop, drover_error *err)
{
  EVP_MD_CTX *ctx = sha ? EVP_MD_CTX_new() : NULL, *mctx = md5 ? EVP_MD_CTX_new() : NULL;
  unsigned char md[32];
  unsigned int mdlen = 0;
  char *buf = malloc(CHUNK);
  unsigned long long off = 0;
  uint32_t c = 0;
  drover_code rc = DROVER_OK;

  if(!buf || (sha && !ctx) || (md5 && !mctx) ||
     (ctx && !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) ||
     (mctx && !EVP_DigestInit_ex(mctx, EVP_md5(), NULL))) {
    rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  /* span 0: one CRC of the whole (1 for an empty file keeps the
   * arithmetic below defined). */
  if(!span)
    span = size ? size : 1;
  while(off < size) {
    size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
    unsigned long long left = span - off % span; /* to the end of this CRC's span */
    ssize_t n;
    if(crc && want > left)
      want = (size_t)left;
    if(stop && atomic_load(stop)) {
      rc = DROVER_E_CANCELLED;
      goto out;
    }
    n = pread(fd, buf, want, (off_t)off);
    if(n < 0 && errno == EINTR)
      continue;
    if(n <= 0) {
      rc = s3_fail(err, DROVER_E_IO, NULL, "%s: read failed: %s", path,
                   n < 0 ? strerror(errno) : "file shrank");
      goto out;
    }
    if(ctx)
      EVP_DigestUpdate(ctx, buf, (size_t)n);
    if(mctx)
      EVP_DigestUpdate(mctx, buf, (size_t)n);
    /* The chunk is in the cache here: the CRC costs a fraction of the
     * SHA-256 beside it, a read of its own costs a copy of every byte. */
    if(crc)
      c = s3_crc32c(c, buf, (size_t)n);
    off += (unsigned long long)n;
    if(crc && (off % span == 0 || off == size)) {
      crc[(off - 1) / span] = c;
      c = 0;
    }
  }
  if(ctx) {
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    s3_hex(sha, md, mdlen);
  }
  if(mctx) {
    EVP_DigestFinal_ex(mctx, md, &mdlen);
    s3_hex(md5, md, mdlen);
  }
  if(crc && !size)
    crc[0] = 0;
out:
  EVP_MD_CTX_free(ctx);
  EVP_MD_CTX_free(mctx);
  free(buf);
  return rc;
}

/* --------------------------------------------------------------------------
 * A request body with its MD5 computed on the way
 */

drover_code s3_md5_body_init(s3_md5_body *b, int fd, unsigned long long off,
                             unsigned long long len, int hash, drover_error *err)
{
  memset(b, 0, sizeof(*b));
  b->fd = fd;
  b->off = off;
  b->len = len;
  if(!hash)
    return DROVER_OK;
  b->md = EVP_MD_CTX_new();
  if(!b->md)
    return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  return DROVER_OK;
}

void s3_md5_body_free(s3_md5_body *b)
{
  EVP_MD_CTX_free(b->md);
  b->md = NULL;
}

drover_code s3_md5_body_read(void *ud, unsigned long long offset, char *buf, size_t size,
                             size_t *nread, drover_error *err)
{
  s3_md5_body *b = ud;
  ssize_t n;

  *nread = 0;
  /* A retry (or a rewind) sends the body again from its start. */
  if(offset == 0 && b->md && !EVP_DigestInit_ex(b->md, EVP_md5(), NULL))
    return s3_fail(err, DROVER_E_INTERNAL, NULL, "MD5 init failed");
  if(offset >= b->len)
    return DROVER_OK;
  if(size > b->len - offset)
    size = (size_t)(b->len - offset);
  do
    n = pread(b->fd, buf, size, (off_t)(b->off + offset));
  while(n < 0 && errno == EINTR);
  if(n <= 0)
    return s3_fail(err, DROVER_E_IO, NULL, "read for upload failed: %s",
                   n < 0 ? strerror(errno) : "file shrank");
  if(b->md)
    EVP_DigestUpdate(b->md, buf, (size_t)n);
  *nread = (size_t)n;
  return DROVER_OK;
}

void s3_md5_body_final(s3_md5_body *b, unsigned char md5[16])
{
  unsigned int mdlen = 0;
  EVP_DigestFinal_ex(b->md, md5, &mdlen);
}

void s3_etag_strip(char *out, size_t size, const char *etag)
{
  size_t n;

  if(!etag)
    etag = "";
  if(*etag == '"')
    etag++;
  n = strlen(etag);
  if(n && etag[n - 1] == '"')
    n--;
  if(n >= size)
    n = size - 1;
  memcpy(out, etag, n);
  out[n] = '\0';
}

drover_code s3_file_unchanged(int fd, const struct stat *before, const char *what,
                              const char *address, drover_error *err)
{
  struct stat now;

  if(fstat(fd, &now) != 0)
    return s3_fail(err, DROVER_E_IO, address, "%s: fstat: %s", what, strerror(errno));
  if(now.st_size != before->st_size || now.st_mtim.tv_sec != before->st_mtim.tv_sec ||
     now.st_mtim.tv_nsec != before->st_mtim.tv_nsec ||
     now.st_ctim.tv_sec != before->st_ctim.tv_sec ||
     now.st_ctim.tv_nsec != before->st_ctim.tv_nsec)
    return s3_fail(err, DROVER_E_IO, address,
                   "%s: the file changed while it was sent; upload it again", what);
  return DROVER_OK;
}
