/*
 * drover_s3.h - S3 transfers for shells (the `drover s3` command, backup
 * jobs): list, upload, download, delete, presign, with the S3 provider's
 * settings, credentials, signing and multipart rules (doc/s3.md).
 *
 * Available when the S3 provider is built into libdrover (--enable-s3=yes).
 * A handle may be used from one thread at a time; it runs its own parallel
 * part transfers inside.
 */
#ifndef DROVER_S3_H
#define DROVER_S3_H

#include "drover.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct drover_s3 drover_s3;

/* Opens a handle from providers.s3-style settings as JSON text (NULL or
 * "" for none: the environment decides). *out owned by the caller:
 * drover_s3_close(). DROVER_E_CONFIG for bad settings or no credentials. */
drover_code drover_s3_open(drover_s3 **out, const char *settings_json, drover_error *err);
void drover_s3_close(drover_s3 *s3);

/* Sends the handle's warnings (an upload the server did not check) and
 * debug lines to fn (NULL: silent, the default), which must be thread safe:
 * parts run in parallel. */
void drover_s3_set_log(drover_s3 *s3, drover_log_fn fn, void *userdata);

/* Reports the progress of drover_s3_upload, _upload_checked and _download
 * to fn (NULL: none, the default): done of total body bytes, done never
 * above total (a resumed download starts at the bytes it had). Called
 * from the threads that move the bytes, parts in parallel, many times a
 * second: fn must be thread safe and quick. */
typedef void (*drover_s3_progress_fn)(void *userdata, unsigned long long done,
                                      unsigned long long total);
void drover_s3_set_progress(drover_s3 *s3, drover_s3_progress_fn fn, void *userdata);

typedef struct drover_s3_entry {
  const char *name;            /* bucket name, or object key */
  unsigned long long size;     /* objects only */
  const char *modified;        /* ISO 8601 as S3 gave it; may be "" */
} drover_s3_entry;

/* Calls fn for every bucket (bucket NULL) or every object under prefix
 * (NULL: all), following continuation tokens. A non-zero return from fn
 * stops the listing (DROVER_E_CANCELLED). */
typedef int (*drover_s3_list_fn)(void *userdata, const drover_s3_entry *entry);
drover_code drover_s3_list(drover_s3 *s3, const char *bucket, const char *prefix,
                           drover_s3_list_fn fn, void *userdata, drover_error *err);

/* Uploads the file at path: one streamed PUT (UNSIGNED-PAYLOAD) below the
 * multipart threshold, a checked multipart upload at or above it. The
 * default CRC32C check reads the file twice (the checksum goes in the
 * request's headers, then the bytes); "checksum": "md5" reads it once
 * and checks the ETag after; "none" reads it once and checks no
 * checksum. A file whose size, mtime or ctime changed
 * between the open and the end of the send is DROVER_E_IO ("upload it
 * again"); a multipart upload is then aborted before its completion, so
 * no object of mixed bytes appears.
 * content_type NULL: application/octet-stream. */
drover_code drover_s3_upload(drover_s3 *s3, const char *path, const char *bucket,
                             const char *key, const char *content_type, drover_error *err);

/* Downloads bucket/key to path, streamed to "<path>.drover-part" (memory
 * does not grow with the object) and renamed into place when complete.
 * The first GET asks for the first download_threshold bytes (256 MiB; no
 * Range, one GET at any size, with a loopback endpoint by default); a
 * larger object's GET stops at its head and the object comes in ranged
 * GETs of it (same ETag), up to the concurrency setting at once, each
 * written at its offset. A part
 * file left by a broken download of the same object, on this machine in
 * this boot, is resumed: its missing parts, or the rest after a prefix
 * with one ranged GET; of another object or boot, it is thrown away. *resumed_from (may be NULL) is the
 * bytes that were already there. */
drover_code drover_s3_download(drover_s3 *s3, const char *bucket, const char *key,
                               const char *path, unsigned long long *resumed_from,
                               drover_error *err);

/* Deletes bucket/key; an absent object is success. */
drover_code drover_s3_delete(drover_s3 *s3, const char *bucket, const char *key,
                             drover_error *err);

/* Uploads the file at path as drover_s3_upload does (a single PUT checked
 * by CRC32C or ETag, or a checked multipart upload; a change of the file
 * from before the first read on is DROVER_E_IO), with its SHA-256
 * computed first in one read that also gives the single PUT's CRC32C, or
 * a multipart upload's part CRC32Cs and the file's MD5 (which its final
 * ETag is checked against): the file is then read once more, to send
 * it. The SHA-256 is stored as metadata "x-amz-meta-drover-sha256",
 * beside meta (NULL or NULL-terminated name, value pairs; names
 * [a-z0-9-], stored as "x-amz-meta-drover-<name>"), and written to sha256
 * as 64 hex digits ("" on failure). */
drover_code drover_s3_upload_checked(drover_s3 *s3, const char *path, const char *bucket,
                                     const char *key, const char *content_type,
                                     const char *const *meta, char sha256[65],
                                     drover_error *err);

/* One PUT of len bytes from memory (small objects: manifests). */
drover_code drover_s3_put(drover_s3 *s3, const char *bucket, const char *key,
                          const void *data, size_t len, const char *content_type,
                          drover_error *err);

/* One GET into memory: *data (NUL-terminated, caller frees) and *len. An
 * object larger than max bytes is an error. Absent: DROVER_E_NOT_FOUND. */
drover_code drover_s3_get(drover_s3 *s3, const char *bucket, const char *key, size_t max,
                          char **data, size_t *len, drover_error *err);

/* HEAD: the object's size and its "drover-sha256" metadata (*sha256
 * caller frees; NULL when absent). Absent object: DROVER_E_NOT_FOUND. */
drover_code drover_s3_head(drover_s3 *s3, const char *bucket, const char *key,
                           unsigned long long *size, char **sha256, drover_error *err);

/* A presigned URL for method ("GET", "PUT") on bucket/key, valid for
 * expires seconds (1..604800) from now. *url owned by the caller (free). */
drover_code drover_s3_presign(char **url, drover_s3 *s3, const char *method,
                              const char *bucket, const char *key, long expires,
                              drover_error *err);

#ifdef __cplusplus
}
#endif
#endif
