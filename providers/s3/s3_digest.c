/* s3_digest.c - content digests of local files, read once: what
 * s3.object compares with its stored hash and what a multipart upload
 * checks its parts against. Below s3_object.c and s3_multipart.c, which
 * both use it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "s3.h"

/* SHA-256 (and, when md5 is not NULL, MD5) of the open file's first size
 * bytes, read once. */
drover_code s3_file_digests(char sha[65], char *md5, int fd, unsigned long long size,
                                const char *path, drover_error *err)
{
  static const char hex[] = "0123456789abcdef";
  EVP_MD_CTX *ctx = EVP_MD_CTX_new(), *mctx = md5 ? EVP_MD_CTX_new() : NULL;
  unsigned char md[32];
  unsigned int mdlen = 0, i;
  char *buf = malloc(1u << 20);
  unsigned long long off = 0;
  drover_code rc = DROVER_OK;

  if(!ctx || !buf || (md5 && !mctx) || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
     (mctx && !EVP_DigestInit_ex(mctx, EVP_md5(), NULL))) {
    rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  while(off < size) {
    size_t want = size - off < (1u << 20) ? (size_t)(size - off) : (1u << 20);
    ssize_t n = pread(fd, buf, want, (off_t)off);
    if(n <= 0) {
      rc = s3_fail(err, DROVER_E_IO, NULL, "%s: read failed: %s", path,
                   n < 0 ? strerror(errno) : "file shrank");
      goto out;
    }
    EVP_DigestUpdate(ctx, buf, (size_t)n);
    if(mctx)
      EVP_DigestUpdate(mctx, buf, (size_t)n);
    off += (unsigned long long)n;
  }
  EVP_DigestFinal_ex(ctx, md, &mdlen);
  for(i = 0; i < mdlen; i++) {
    sha[2 * i] = hex[md[i] >> 4];
    sha[2 * i + 1] = hex[md[i] & 15];
  }
  sha[2 * mdlen] = '\0';
  if(mctx) {
    EVP_DigestFinal_ex(mctx, md, &mdlen);
    for(i = 0; i < mdlen; i++) {
      md5[2 * i] = hex[md[i] >> 4];
      md5[2 * i + 1] = hex[md[i] & 15];
    }
    md5[2 * mdlen] = '\0';
  }
out:
  EVP_MD_CTX_free(ctx);
  EVP_MD_CTX_free(mctx);
  free(buf);
  return rc;
}
