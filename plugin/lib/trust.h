/*
 * trust.h - may this file be trusted with root's rights? The one copy of
 * the checks applied to code and admin files before they are used: the
 * SPANK shim's engine module, its template directory and config file, and
 * the library's provider modules (registry.c).
 *
 * libc only (no jansson, no libcurl, no libdrover calls): trust.c is
 * compiled into the libc-only SPANK shim as well as into libdrover.
 * Messages start with "drover: " and go to errbuf; every function returns
 * -1 after writing one.
 */
#ifndef DROVER_TRUST_H
#define DROVER_TRUST_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Writes the message into errbuf (when given) and returns -1: the one way
 * these checks, and the SPANK shim's own, report a refusal. */
int dv_trust_fail(char *errbuf, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 3, 4)))
#endif
  ;

/* st (of path) is owned by want_uid and not group/world writable: 0, or -1. */
int dv_trust_owner_mode(const struct stat *st, uid_t want_uid, const char *path,
                        char *errbuf, size_t errlen);

/* Every directory above the absolute path (not path itself) is owned by
 * root or want_uid and not group/world writable (a root-owned sticky
 * directory such as /tmp is allowed): 0, or -1. */
int dv_trust_ancestors(const char *path, uid_t want_uid, char *errbuf, size_t errlen);

/* Checks the directories above path, opens it without following a final
 * symlink and requires a regular file; messages name it "<what>path".
 * Returns the fd (caller closes; its stat in *st) or -1. */
int dv_trust_open_regular(const char *path, const char *what, uid_t want_uid,
                          struct stat *st, char *errbuf, size_t errlen);

/* A trusted directory: trusted ancestors, not a symlink, owned by
 * want_uid, not group/world writable. Returns an O_DIRECTORY fd (caller
 * closes) or -1. */
int dv_trust_open_dir(const char *path, uid_t want_uid, char *errbuf, size_t errlen);

/* A trusted regular file (code to load, data to believe): as
 * dv_trust_open_regular plus dv_trust_owner_mode. Returns an fd (caller
 * closes) or -1. */
int dv_trust_open_file(const char *path, uid_t want_uid, char *errbuf, size_t errlen);

#endif /* DROVER_TRUST_H */
