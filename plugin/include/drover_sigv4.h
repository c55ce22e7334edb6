/*
 * drover_sigv4.h - AWS Signature Version 4, for providers (S3, EC2, ...).
 *
 * Pure functions: no clock (the signing time is an argument), no I/O, no
 * global state; safe from any thread. The header variant returns the
 * headers to add to the request; the query variant (a presigned URL)
 * returns the query string to send.
 *
 * Secrets: the secret key is used only to derive the signing key, which is
 * wiped before return. The canonical request and the results may hold the
 * session token: never log them. Error texts never hold a credential.
 */
#ifndef DROVER_SIGV4_H
#define DROVER_SIGV4_H

#include <stddef.h>
#include <time.h>
#include "drover.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The hash of an empty payload and the marker for an unsigned one. */
#define DROVER_SIGV4_EMPTY_SHA256 \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DROVER_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* Longest presigned URL lifetime AWS accepts: seven days. */
#define DROVER_SIGV4_MAX_EXPIRES 604800L

enum {
  /* Canonical URI: encode the sent path once more. Every service but S3
   * does this; S3 signs the path exactly as sent. */
  DROVER_SIGV4_DOUBLE_ENCODE = 1u << 0,
  /* Canonical URI: remove "." and ".." segments and empty segments first.
   * Every service but S3 (where "a//b" and "a/../b" are distinct keys). */
  DROVER_SIGV4_NORMALIZE_PATH = 1u << 1,
  /* Header variant: add and sign x-amz-content-sha256 (S3 requires it). */
  DROVER_SIGV4_CONTENT_SHA256 = 1u << 2,
  /* The session token is added after signing, outside the signature
   * (services that want it so); by default it is signed. */
  DROVER_SIGV4_TOKEN_UNSIGNED = 1u << 3
};

/* Flags for S3 and for every other service. */
#define DROVER_SIGV4_S3_FLAGS DROVER_SIGV4_CONTENT_SHA256
#define DROVER_SIGV4_SERVICE_FLAGS (DROVER_SIGV4_DOUBLE_ENCODE | DROVER_SIGV4_NORMALIZE_PATH)

typedef struct drover_sigv4_header {
  const char *name;
  const char *value;
} drover_sigv4_header;

/* The request as it will be sent. Every header listed is signed; it must
 * include Host, and must not include Authorization or X-Amz-Date (the
 * signer adds them). Repeated names are joined in the order given. */
typedef struct drover_sigv4_request {
  const char *method;               /* "GET", "PUT", ... */
  const char *path;                 /* as sent: percent-encoded, from '/' */
  const char *query;                /* as sent, no '?'; NULL or "" for none */
  const drover_sigv4_header *headers;
  size_t nheaders;
  /* Lowercase hex SHA-256 of the body, or DROVER_SIGV4_UNSIGNED_PAYLOAD;
   * NULL means the empty body. */
  const char *payload_hash;
} drover_sigv4_request;

typedef struct drover_sigv4_params {
  const char *access_key_id;
  const char *secret_access_key;
  const char *session_token;        /* NULL or "" for none */
  const char *region;               /* "us-east-1" */
  const char *service;              /* "s3", "ec2", ... */
  time_t when;                      /* signing time, UTC seconds */
  unsigned flags;                   /* DROVER_SIGV4_* */
  long expires;                     /* query variant: 1..MAX_EXPIRES seconds */
} drover_sigv4_params;

/* All strings owned by the result; drover_sigv4_result_free releases them. */
typedef struct drover_sigv4_result {
  char *canonical_request;          /* for tests and debugging; may hold the token */
  char *string_to_sign;
  char signature[65];               /* lowercase hex */
  char amz_date[17];                /* "20150830T123600Z" */
  /* Header variant: the headers to add, "Name: value", ready for
   * curl_slist_append, Authorization last. Query variant: none. */
  char *add_headers[4];
  size_t nadd_headers;
  /* Query variant: the whole query to send (the request's own parameters,
   * then the X-Amz-* ones), no '?'. Header variant: NULL. */
  char *query;
} drover_sigv4_result;

/* Signs req for an Authorization header. On success fills *out (free it
 * with drover_sigv4_result_free); on failure *out holds nothing to free.
 * DROVER_E_ARG for a bad request or params, DROVER_E_NOMEM. */
drover_code drover_sigv4_sign(drover_sigv4_result *out, const drover_sigv4_request *req,
                              const drover_sigv4_params *p, drover_error *err);

/* Signs req into a presigned URL's query (X-Amz-Signature and friends).
 * Same contract as drover_sigv4_sign; p->expires is required. For S3 pass
 * DROVER_SIGV4_UNSIGNED_PAYLOAD as the payload hash. */
drover_code drover_sigv4_presign(drover_sigv4_result *out, const drover_sigv4_request *req,
                                 const drover_sigv4_params *p, drover_error *err);

/* Frees the strings in r and zeroes it. NULL is a no-op. */
void drover_sigv4_result_free(drover_sigv4_result *r);

/* Percent-encodes len bytes of s as SigV4 wants: every byte but A-Z a-z
 * 0-9 - _ . ~ as %XX (uppercase hex); '/' kept when keep_slash (paths and
 * S3 keys). Caller frees; NULL on OOM. */
char *drover_sigv4_uri_encode(const char *s, size_t len, int keep_slash);

/* Lowercase hex SHA-256 of len bytes. */
void drover_sigv4_sha256_hex(char out[65], const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
