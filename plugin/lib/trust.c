/* trust.c - the ownership and mode checks of trust.h. libc only. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "trust.h"

int dv_trust_fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
  va_list ap;

  if(errbuf && errlen) {
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

int dv_trust_owner_mode(const struct stat *st, uid_t want_uid, const char *path,
                        char *errbuf, size_t errlen)
{
  if(st->st_uid != want_uid)
    return dv_trust_fail(errbuf, errlen, "drover: %s is owned by uid %u, not %u", path,
                         (unsigned)st->st_uid, (unsigned)want_uid);
  if(st->st_mode & (S_IWGRP | S_IWOTH))
    return dv_trust_fail(errbuf, errlen, "drover: %s is group or world writable", path);
  return 0;
}

int dv_trust_ancestors(const char *path, uid_t want_uid, char *errbuf, size_t errlen)
{
  char buf[PATH_MAX];
  struct stat st;
  char *slash;

  if(path[0] != '/' || strlen(path) >= sizeof(buf))
    return dv_trust_fail(errbuf, errlen, "drover: %s is not an absolute path", path);
  memcpy(buf, path, strlen(path) + 1);
  while((slash = strrchr(buf, '/')) != NULL) {
    if(slash == buf)
      slash[1] = '\0';
    else
      *slash = '\0';
    if(stat(buf, &st))
      return dv_trust_fail(errbuf, errlen, "drover: %s: %s", buf, strerror(errno));
    /* Root-owned is always fine above the tree (the tests own a subtree). */
    if(st.st_uid != 0 && st.st_uid != want_uid)
      return dv_trust_fail(errbuf, errlen, "drover: %s (above %s) is owned by uid %u", buf, path,
                           (unsigned)st.st_uid);
    /* A root-owned sticky directory (/tmp) is fine above the tree: others
     * may add entries there but cannot rename or remove ours. */
    if((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_uid == 0 && (st.st_mode & S_ISVTX)))
      return dv_trust_fail(errbuf, errlen, "drover: %s (above %s) is group or world writable",
                           buf, path);
    if(!strcmp(buf, "/"))
      break;
  }
  return 0;
}

int dv_trust_open_dir(const char *path, uid_t want_uid, char *errbuf, size_t errlen)
{
  struct stat st;
  int fd;

  if(dv_trust_ancestors(path, want_uid, errbuf, errlen))
    return -1;
  fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if(fd < 0)
    return dv_trust_fail(errbuf, errlen, "drover: %s: %s", path, strerror(errno));
  if(fstat(fd, &st)) {
    dv_trust_fail(errbuf, errlen, "drover: %s: %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  if(dv_trust_owner_mode(&st, want_uid, path, errbuf, errlen)) {
    close(fd);
    return -1;
  }
  return fd;
}

int dv_trust_open_regular(const char *path, const char *what, uid_t want_uid,
                          struct stat *st, char *errbuf, size_t errlen)
{
  int fd;

  if(dv_trust_ancestors(path, want_uid, errbuf, errlen))
    return -1;
  fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if(fd < 0)
    return dv_trust_fail(errbuf, errlen, "drover: %s%s: %s", what, path,
                         errno == ELOOP ? "is a symlink; refused" : strerror(errno));
  if(fstat(fd, st) || !S_ISREG(st->st_mode)) {
    close(fd);
    return dv_trust_fail(errbuf, errlen, "drover: %s%s is not a regular file", what, path);
  }
  return fd;
}

int dv_trust_open_file(const char *path, uid_t want_uid, char *errbuf, size_t errlen)
{
  struct stat st;
  int fd = dv_trust_open_regular(path, "", want_uid, &st, errbuf, errlen);

  if(fd >= 0 && dv_trust_owner_mode(&st, want_uid, path, errbuf, errlen)) {
    close(fd);
    return -1;
  }
  return fd;
}
