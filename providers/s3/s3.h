/*
 * s3.h - internals of the S3 provider. Only providers/s3/ includes this;
 * the engine sees nothing but the exported table dv_provider_s3.
 *
 * Names shared between the provider's files carry the s3_ prefix and
 * hidden visibility; everything else is static to its file.
 */
#ifndef DROVER_S3_INTERNAL_H
#define DROVER_S3_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <jansson.h>
#include "drover_provider.h"
#include "drover_sigv4.h"

#if defined(__GNUC__)
#define S3_HIDDEN __attribute__((visibility("hidden")))
#else
#define S3_HIDDEN
#endif

/* Ownership labels: bucket tags "drover:<label>", object metadata
 * "x-amz-meta-drover-<label>". */
#define S3_TAG_PREFIX "drover:"
#define S3_META_PREFIX "drover-"
/* Buckets on servers without bucket tagging keep their tags (labels
 * included) in this object instead. */
#define S3_LABEL_OBJECT ".drover-bucket-tags.json"

typedef struct s3_cred {
  char *akid;
  char *secret;
  char *token;                 /* NULL when none */
  char source[160];            /* where they came from, for messages (no values) */
} s3_cred;

typedef struct s3_vhost {
  char *bucket;
  drover_http *http;
} s3_vhost;

/* Provider state: the engine allocates sizeof(s3_state) zeroed bytes. */
typedef struct s3_state {
  drover_provider_env env;     /* copy; strings borrowed from the engine */
  s3_cred cred;
  char *scheme;                /* "https" */
  char *host;                  /* "s3.us-east-1.amazonaws.com", with :port if any */
  char *region;
  int path_style;              /* 1: /bucket/key; 0: bucket.host/key */
  char *object_prefix;         /* "drover/{stack}/" */
  char *ca_file;
  unsigned long long mp_threshold; /* bytes: multipart at or above */
  unsigned long long part_size; /* 0: chosen per upload (s3_part_size) */
  unsigned long long dl_threshold; /* bytes: ranged parallel GETs above; 0 never */
  unsigned concurrency;        /* parallel requests (parts, refresh reads) */
  unsigned list_max_keys;      /* ListObjectsV2 page size (S3: at most 1000) */
  double timeout;              /* seconds per HTTP attempt */
  int checksum;                /* S3_SUM_*: how uploads are checked */
  atomic_int unconfirmed_said; /* the "server did not confirm" warning, once */
  /* drover_s3 transfers only (drover_s3_set_progress), else NULL: the
   * running transfer's body bytes moved and its size. */
  void (*progress)(void *userdata, unsigned long long done, unsigned long long total);
  void *progress_ud;
  atomic_ullong moved;
  unsigned long long total;
  drover_http *http;           /* the endpoint itself */
  pthread_mutex_t lock;        /* guards vh */
  int lock_ready;
  s3_vhost *vh;                /* virtual-hosted style: one handle per bucket */
  size_t nvh;
} s3_state;

/* --------------------------------------------------------------------------
 * Credentials (s3_cred.c)
 */

/* Loads credentials: the file named by settings "credentials_file" (with
 * settings "profile"), else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/
 * AWS_SESSION_TOKEN, else the shared credentials file
 * (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials), else the config
 * file (AWS_CONFIG_FILE or ~/.aws/config), with the profile from settings,
 * AWS_PROFILE or "default". Registers the secret and token for redaction.
 * Errors name files and profiles, never a value. */
S3_HIDDEN drover_code s3_cred_load(s3_cred *c, const json_t *config, drover_error *err);
S3_HIDDEN void s3_cred_free(s3_cred *c);

/* --------------------------------------------------------------------------
 * Requests (s3_api.c)
 */

#define S3_ALLOW_404 0x1u      /* a 404 is an answer, not an error */
#define S3_ALLOW_ERRORS 0x2u   /* any status is an answer (caller looks) */
#define S3_ALLOW_STALE 0x4u    /* 412 and 416 are answers: a resume's part is
                                  not a prefix of the object as it is now */

/* The size of every read of a file that is sent or hashed (the CRC32C and
 * digest passes, the MD5 read-ahead), as curl's own tool reads an upload.
 * Measured here (bench/README.md, "Fifth S3 session"): the copy out of
 * the page cache during an upload cost 3 to 5 times as much CPU in 128
 * KiB and 1 MiB reads as in 64 KiB ones, and the transport's upload
 * buffer is the same size (http.c). */
#define S3_READ_SIZE (64u << 10)

typedef struct s3_req {
  const char *method;
  const char *bucket;          /* NULL: the service (list buckets) */
  const char *key;             /* raw key; NULL: the bucket itself */
  const char *query;           /* encoded, or NULL */
  const char *const *headers;  /* NULL-terminated "Name: value"; x-amz-* are signed */
  const char *content_type;
  const void *body;            /* in memory: body_len bytes, hashed for SigV4 */
  size_t body_len;
  const char *body_path;       /* or: the first stream_len bytes of a file */
  drover_http_read_fn body_read; /* or: a stream of stream_len bytes */
  void *body_userdata;
  unsigned long long stream_len;
  const char *payload_hash;    /* for a file or stream; NULL: UNSIGNED-PAYLOAD */
  const char *crc32c;          /* base64: sent as x-amz-checksum-crc32c; or NULL */
  const char *response_path;   /* a 2xx body goes to this file */
  int response_to_fd;          /* or: to response_fd from response_offset on */
  int response_fd;
  unsigned long long response_offset;
  const char *if_match;        /* sent as If-Match, or NULL */
  /* Or NULL: the transport's on_body_start (drover_http_req, version 4). */
  drover_code (*on_body_start)(void *userdata, const drover_http_response *head,
                               drover_error *err);
  void *body_start_userdata;
  const char *what;            /* "PUT object \"b/k\"", for errors */
  unsigned allow;              /* S3_ALLOW_* */
  unsigned *tries;             /* out when not NULL: the attempts made (1: no retry) */
} s3_req;

/* r zeroed, then the request's method on bucket/key (either NULL: the
 * service, the bucket) and what names it in errors (or NULL). The strings
 * are borrowed: they must outlive the call they are sent in. */
S3_HIDDEN void s3_req_init(s3_req *r, const char *method, const char *bucket,
                           const char *key, const char *what);

/* One signed request. A status the caller did not allow is recorded as
 * "s3: <what>: HTTP <status> <Code>: <Message> (request id <id>)"; 404
 * NOT_FOUND, 409 CONFLICT, 5xx and throttling TRANSIENT, the rest
 * PROVIDER. resp is always initialised; drover_http_response_free(). */
S3_HIDDEN drover_code s3_call(s3_state *st, const s3_req *r, drover_http_response *resp,
                              drover_error *err);

/* A drover_s3 transfer of total bytes starts, done of them already there
 * (what the progress callback is told). */
S3_HIDDEN void s3_progress_start(s3_state *st, unsigned long long done,
                                 unsigned long long total);
/* Records "s3: <address>: <text>" and locates it at "s3". Returns code. */
#define s3_fail(err, code, address, ...) \
  drover_error_fail((err), (code), "s3", (address), __VA_ARGS__)

/* Runs fn(ud, i, err) for i in [0, n) on up to st->concurrency threads.
 * The first failure stops the remaining jobs and is what *err holds. */
typedef drover_code (*s3_job_fn)(void *ud, size_t i, drover_error *err);
S3_HIDDEN drover_code s3_parallel(s3_state *st, size_t n, s3_job_fn fn, void *ud,
                                  drover_error *err);

/* Every bucket name of the account. *names and each entry owned by the
 * caller (s3_strv_free). */
S3_HIDDEN drover_code s3_list_buckets(s3_state *st, char ***names, size_t *n,
                                      drover_error *err);
S3_HIDDEN void s3_strv_free(char **v, size_t n);

/* ListObjectsV2 of bucket under prefix (NULL: all), following continuation
 * tokens: fn(ud, entry, err) once per object, in the server's order; the
 * entry's strings are borrowed for the call. A non-zero fn result stops
 * the listing and is returned (fn records its own error, if any). *pages
 * (may be NULL) counts the requests made. With S3_LIST_REFRESH a 403 or
 * 404 is an empty listing (another account's bucket, or one deleted since
 * the bucket list) and messages name the bucket. */
#define S3_LIST_REFRESH 0x1u
typedef struct s3_list_entry {
  const char *key;
  unsigned long long size;
  const char *modified;        /* LastModified as sent; "" when absent */
} s3_list_entry;
typedef drover_code (*s3_list_fn)(void *ud, const s3_list_entry *e, drover_error *err);
S3_HIDDEN drover_code s3_list_objects(s3_state *st, const char *bucket, const char *prefix,
                                      unsigned flags, s3_list_fn fn, void *ud, size_t *pages,
                                      drover_error *err);

/* The drover labels as "drover-<label>" metadata or "drover:<label>"
 * tags: calls fn(ud, label, value) for stack, address, hash, deps, version.
 * Returns the first non-zero fn result. */
typedef int (*s3_label_fn)(void *ud, const char *label, const char *value);
S3_HIDDEN int s3_labels_each(const drover_res_req *req, s3_label_fn fn, void *ud);

/* The object key prefix of stack ("drover/<stack>/"); stack NULL: the
 * part before the stack (for `drover gc`). Caller frees; NULL on OOM. */
S3_HIDDEN char *s3_stack_prefix(const s3_state *st, const char *stack);

/* Digests (s3_digest.c) */

/* SHA-256 into sha (65 bytes) and MD5 into md5 (33 bytes), lowercase hex,
 * and CRC32Cs (s3_crc32c) into crc, each only when not NULL, of the open
 * file's first size bytes, read once with pread: a caller that must read
 * the file before sending it gets every checksum the upload needs from
 * that one read. crc[i] is that of the i-th span bytes (the last may be
 * shorter: a multipart upload's parts), or with span 0 crc[0] that of the
 * whole; the caller's array holds that many. A set *stop (may be NULL)
 * ends it early with DROVER_E_CANCELLED and no message. */
S3_HIDDEN drover_code s3_file_digests(char *sha, char *md5, uint32_t *crc,
                                      unsigned long long span, int fd,
                                      unsigned long long size, const char *path,
                                      const atomic_int *stop, drover_error *err);

/* DROVER_OK when the open file fd still has the status before (fstat,
 * taken before the upload's first read of it; borrowed): the same size,
 * mtime and ctime, to the nanosecond. Else DROVER_E_IO, "<what>: the file
 * changed while it was sent; upload it again", at address (may be NULL).
 * ctime too, though a chmod or a new hard link moves it: a rewrite that
 * puts the mtime back (cp -p, rsync -t, tar x) moves only ctime, and a
 * false alarm costs one upload again where a miss stores an object of
 * old and new bytes. */
S3_HIDDEN drover_code s3_file_unchanged(int fd, const struct stat *before, const char *what,
                                        const char *address, drover_error *err);

/* After an upload the server stored (put: the answer of its PUT or
 * completion, etag: the ETag of what it stored, quoted or not, or NULL
 * for put's ETag header; tries: the attempts that request took) but
 * drover then refused (the file changed while it was sent, or other bytes
 * were stored): the object goes again, so no object of mixed bytes stays
 * visible under bucket/key. In a versioned bucket only the version it
 * made (its x-amz-version-id), so the one before is current again; after
 * a retried request an earlier attempt may have made one too, so a
 * delete marker hides the key instead (the versions are kept). A DELETE
 * without a version id is sent with If-Match: that ETag, so what another
 * writer stored since stays (S3 answers 412). err holds why the upload
 * failed; what became of the object is added to its text. */
S3_HIDDEN void s3_put_undo(s3_state *st, const char *bucket, const char *key,
                           const drover_http_response *put, const char *etag,
                           unsigned tries, drover_error *err);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
S3_HIDDEN void s3_hex(char *out, const unsigned char *md, size_t n);

/* An ETag without its quotes, into out (size bytes). */
S3_HIDDEN void s3_etag_strip(char *out, size_t size, const char *etag);

/* A request body of len bytes of fd from off, read with pread, its MD5
 * computed on the way when hash is set (restarted when an attempt starts
 * again at 0): one pass over the file, checked afterwards against the
 * ETag. */
typedef struct s3_md5_body {
  int fd;
  unsigned long long off, len;
  EVP_MD_CTX *md;
} s3_md5_body;
S3_HIDDEN drover_code s3_md5_body_init(s3_md5_body *b, int fd, unsigned long long off,
                                       unsigned long long len, int hash, drover_error *err);
S3_HIDDEN void s3_md5_body_free(s3_md5_body *b);
/* A drover_http_read_fn; ud is the s3_md5_body. */
S3_HIDDEN drover_code s3_md5_body_read(void *ud, unsigned long long offset, char *buf,
                                       size_t size, size_t *nread, drover_error *err);
/* The MD5 of the last attempt's body, once it was read to the end (hash
 * set). */
S3_HIDDEN void s3_md5_body_final(s3_md5_body *b, unsigned char md5[16]);

/* The same for one PUT, read ahead and hashed by a thread of its own
 * (s3_ahead.c) so the hashing runs beside the send, not in series with it;
 * memory is a fixed ring. Reads must be sequential; one at offset 0
 * starts the body again (a retry). */
typedef struct s3_ahead s3_ahead;
/* *out owned by the caller: s3_ahead_free(). */
S3_HIDDEN drover_code s3_ahead_new(s3_ahead **out, int fd, unsigned long long off,
                                   unsigned long long len, drover_error *err);
S3_HIDDEN void s3_ahead_free(s3_ahead *a);
/* A drover_http_read_fn; ud is the s3_ahead. */
S3_HIDDEN drover_code s3_ahead_read(void *ud, unsigned long long offset, char *buf,
                                    size_t size, size_t *nread, drover_error *err);
/* The MD5 of the last attempt's body; an error unless it was read to the
 * end. */
S3_HIDDEN drover_code s3_ahead_final(s3_ahead *a, unsigned char md5[16], drover_error *err);

/* --------------------------------------------------------------------------
 * Types
 */

typedef struct s3_type_ops {
  drover_code (*list)(s3_state *st, const char *stack, drover_live_list *out,
                      drover_error *err);
  drover_code (*put)(s3_state *st, const drover_res_req *req, const drover_live *cur,
                     drover_live **out, drover_error *err);
  drover_code (*del)(s3_state *st, const drover_live *cur, drover_error *err);
  drover_code (*read)(s3_state *st, const char *name, drover_live **out,
                      drover_error *err);
} s3_type_ops;

S3_HIDDEN extern const drover_rtype s3_bucket_type;
S3_HIDDEN extern const s3_type_ops s3_bucket_ops;
S3_HIDDEN extern const drover_rtype s3_object_type;
S3_HIDDEN extern const s3_type_ops s3_object_ops;

/* --------------------------------------------------------------------------
 * Download (s3_download.c)
 */
/* drover_s3_download (drover_s3.h) on st. */
S3_HIDDEN drover_code s3_download(s3_state *st, const char *bucket, const char *key,
                                  const char *path, unsigned long long *resumed_from,
                                  drover_error *err);
/* --------------------------------------------------------------------------
 * Multipart upload (s3_multipart.c)
 */

/* --------------------------------------------------------------------------
 * Upload checksums (s3_crc32c.c)
 */

/* Settings "checksum": how an upload is checked. CRC32C (the default):
 * computed before sending, sent as x-amz-checksum-crc32c, checked by the
 * server before it stores anything and compared with its answer (servers
 * without S3's additional checksums ignore it: then nothing is checked,
 * and a warning says so once). MD5: computed as the bytes are sent and
 * compared with the ETag afterwards; every S3 server answers that, at
 * about 20 times the CPU. None: no checksum is computed, sent or
 * compared (for a server that refuses the checksum headers, or a link
 * whose own checks suffice); the length and the file's status still are.
 * Append only: the values are compared, never stored. */
enum { S3_SUM_CRC32C = 0, S3_SUM_MD5 = 1, S3_SUM_NONE = 2 };

/* CRC32C of len bytes at buf, continuing crc (0 to start). */
S3_HIDDEN uint32_t s3_crc32c(uint32_t crc, const void *buf, size_t len);
/* The same without the CPU's instruction (what other CPUs run; tests). */
S3_HIDDEN uint32_t s3_crc32c_soft(uint32_t crc, const void *buf, size_t len);
/* The checksum as S3 writes it: base64 of its 4 big-endian bytes. */
S3_HIDDEN void s3_crc32c_b64(char out[9], uint32_t crc);
/* A multipart upload's checksum as S3 answers it: the CRC32C of the n
 * parts' checksums (4 big-endian bytes each), in base64, then "-n". */
S3_HIDDEN void s3_crc32c_composite(char *out, size_t size, const uint32_t *parts, size_t n);
/* *out: the CRC32C of len bytes of fd from off, read with pread. */
S3_HIDDEN drover_code s3_file_crc32c(uint32_t *out, int fd, unsigned long long off,
                                     unsigned long long len, drover_error *err);
/* Checks the server's x-amz-checksum-crc32c answer (resp header, or the
 * text got from an XML answer) against want (base64, or composite): a
 * mismatch is an error naming what; none warns once that the server did
 * not check the upload. */
S3_HIDDEN drover_code s3_crc32c_confirm(s3_state *st, const char *got, const char *want,
                                        const char *what, const char *address,
                                        drover_error *err);

/* S3's limits on a multipart upload: parts, and bytes in one part (and in
 * one PUT). */
#define S3_MAX_PARTS 10000u
#define S3_MAX_PART (5ull << 30)

/* Parts when the settings name no part_size: about S3_LANE_PARTS a lane
 * (at most that many), each from S3_AUTO_PART_MIN up to S3_AUTO_PART_MAX
 * (the reasoning: doc/s3.md, "Multipart threshold and part size"). */
#define S3_AUTO_PART_MIN (16ull << 20)
#define S3_AUTO_PART_MAX (64ull << 20)
#define S3_LANE_PARTS 4u
/* The default download_threshold (with an endpoint that is not loopback). */
#define S3_RANGED_MIN (256ull << 20)

/* Whether host ("NAME[:PORT]" or "[V6][:PORT]", as s3_state's) names this
 * machine: localhost and the names under it (RFC 6761), 127.0.0.0/8, ::1.
 * Read from the text alone; nothing is looked up. */
S3_HIDDEN int s3_host_is_loopback(const char *host);

/* size rounded up to whole MiB: parts in round numbers (logs, docs). */
S3_HIDDEN unsigned long long s3_whole_mib(unsigned long long size);
/* a / b rounded up, for any a (a + b - 1 could wrap). */
S3_HIDDEN unsigned long long s3_div_up(unsigned long long a, unsigned long long b);

/* The part size for an upload of size bytes in lanes parallel parts:
 * part_size when set, else (part_size 0) the smallest whole number of MiB
 * that gives each lane at most S3_LANE_PARTS parts, within S3_AUTO_PART_MIN
 * and S3_AUTO_PART_MAX. Either grows, when it would need more than
 * S3_MAX_PARTS parts, to the smallest whole number of MiB that needs no
 * more; 0 when even S3_MAX_PART would. */
S3_HIDDEN unsigned long long s3_part_size(unsigned long long part_size, unsigned lanes,
                                          unsigned long long size);

/* For a caller that reads the file anyway before a multipart upload of
 * size bytes: *crcs, room for the parts' CRC32Cs (owned by the caller:
 * free), and *span, their part size, to hand s3_file_digests and then
 * s3_multipart_upload. *crcs NULL and *span 0 when nothing is to be
 * computed: the setting is MD5, or no part size fits (the upload says
 * so). */
/* Whether an upload of size bytes wants the whole file's MD5 from a read
 * its caller makes anyway: a multipart upload checks a server's
 * whole-object MD5 answer (s3rver's) against it, unless the setting is
 * "none". */
static inline int s3_whole_md5_wanted(const s3_state *st, unsigned long long size)
{
  return size >= st->mp_threshold && st->checksum != S3_SUM_NONE;
}

S3_HIDDEN drover_code s3_part_crcs_new(const s3_state *st, unsigned long long size,
                                       uint32_t **crcs, unsigned long long *span,
                                       drover_error *err);

/* Uploads size bytes of the open file fd to bucket/key in parts of
 * s3_part_size(st->part_size, st->concurrency, size), st->concurrency at a
 * time, each retried on transient failure; headers (metadata) and the
 * content type go with the initiation. With MD5 each part's ETag is checked
 * against its MD5, and the final ETag against the parts' (md5-of-MD5s-N, as
 * S3 answers) or against the file's own MD5 (as some servers answer):
 * whole_md5 when the caller has it, else read again only when such an answer
 * comes. With CRC32C each part is read for its checksum before it is sent,
 * unless the caller's own read gave part_crcs (s3_part_crcs_new; borrowed
 * for the call; else NULL); with CRC32C or none, a whole-object MD5 answer
 * is compared with whole_md5 only when given. since (borrowed): the caller's
 * fstat of fd that size came from, taken before any read of the file (its
 * own, for whole_md5 or part_crcs, included); the parts read the file at
 * different times, so before the completion the file must still have that
 * status (s3_file_unchanged), else the upload fails with DROVER_E_IO. On any
 * failure the upload is aborted so no partial object is left visible. With
 * an address (a resource, under its stack's lock) unfinished uploads of the
 * same key left by a killed run are aborted first. */
S3_HIDDEN drover_code s3_multipart_upload(s3_state *st, const char *bucket, const char *key,
                                          int fd, unsigned long long size,
                                          const char *whole_md5, const uint32_t *part_crcs,
                                          const struct stat *since,
                                          const char *const *headers,
                                          const char *content_type, const char *address,
                                          drover_error *err);

#endif
