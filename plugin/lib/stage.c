/* stage.c - scratch space for one backup archive (stage.h).
 *
 * The staging directory is usually /var/tmp, which every user can write
 * to, and the sweep runs as root in Slurm jobs. So the sweep works on
 * directory file descriptors (openat, unlinkat) and never follows a link,
 * and it looks only at directories this user owns: in a sticky directory
 * no one else can rename or replace them.
 *
 * Stages are named drover-stage-<host>-XXXXXX and a sweep looks only at
 * its own host's: a staging directory on shared scratch (NFS, or Lustre
 * mounted with localflock) may show another node's live lock as free.
 *
 * The lock file is made as lock.new, flocked, and only then renamed to
 * lock, so a sweeper never finds an unlocked "lock" of a live stage. A
 * process killed before the rename leaves a directory without one; those
 * are removed once they are an hour old. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "engine.h"
#include "stage.h"

#define STAGE_PREFIX "drover-stage-"
#define HOST_MAX 64

/* "drover-stage-<host>-": the host name with anything but [A-Za-z0-9.-]
 * made '_', so it is one path component whatever the name is. */
static void stage_prefix(char out[sizeof(STAGE_PREFIX) + HOST_MAX + 1])
{
  char host[HOST_MAX + 1];
  size_t i;

  if(gethostname(host, sizeof(host)) != 0 || !*host)
    strcpy(host, "localhost");
  host[HOST_MAX] = '\0';
  for(i = 0; host[i]; i++)
    if(!((host[i] >= 'a' && host[i] <= 'z') || (host[i] >= 'A' && host[i] <= 'Z') ||
         (host[i] >= '0' && host[i] <= '9') || host[i] == '.' || host[i] == '-'))
      host[i] = '_';
  snprintf(out, sizeof(STAGE_PREFIX) + HOST_MAX + 1, STAGE_PREFIX "%s-", host);
}
#define NO_LOCK_AGE 3600 /* seconds before a stage without a lock is a leftover */

/* Unlinks every non-directory entry of the directory open as fd (fd is
 * not closed). */
static void empty_dir(int fd)
{
  int dup_fd = dup(fd);
  DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
  struct dirent *de;

  if(!d) {
    if(dup_fd >= 0)
      close(dup_fd);
    return;
  }
  while((de = readdir(d)) != NULL)
    if(strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
      unlinkat(fd, de->d_name, 0);
  closedir(d);
}

/* Removes the stage name under the directory open as pfd when no live
 * process holds it: 1 when removed. */
static int sweep_one(int pfd, const char *name)
{
  struct stat sb, now;
  int sfd, lfd, gone = 0;

  sfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if(sfd < 0)
    return 0;
  if(fstat(sfd, &sb) != 0 || sb.st_uid != geteuid()) {
    close(sfd);
    return 0;
  }
  lfd = openat(sfd, "lock", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if(lfd < 0 ? errno == ENOENT && sb.st_mtime + NO_LOCK_AGE < time(NULL)
             : flock(lfd, LOCK_EX | LOCK_NB) == 0) {
    /* Still the directory looked at (not a new stage under a reused name). */
    if(fstatat(pfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_ino == sb.st_ino &&
       now.st_dev == sb.st_dev) {
      empty_dir(sfd);
      gone = unlinkat(pfd, name, AT_REMOVEDIR) == 0;
    }
  }
  if(lfd >= 0)
    close(lfd);
  close(sfd);
  return gone;
}

size_t dv_stage_sweep(const char *parent)
{
  int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = pfd >= 0 ? fdopendir(pfd) : NULL;
  struct dirent *de;
  size_t n = 0, plen;
  char prefix[sizeof(STAGE_PREFIX) + HOST_MAX + 1];

  stage_prefix(prefix);
  plen = strlen(prefix);
  if(!d) {
    if(pfd >= 0)
      close(pfd);
    return 0;
  }
  while((de = readdir(d)) != NULL)
    if(!strncmp(de->d_name, prefix, plen) &&
       (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN))
      n += (size_t)sweep_one(dirfd(d), de->d_name);
  closedir(d);
  return n;
}

drover_code dv_stage_open(dv_stage *s, const char *parent, size_t *swept,
                          drover_error *err)
{
  char *tmp = NULL, *lock = NULL, prefix[sizeof(STAGE_PREFIX) + HOST_MAX + 1];
  size_t n = dv_stage_sweep(parent);
  int e;

  if(swept)
    *swept = n;
  memset(s, 0, sizeof(*s));
  s->lock = -1;
  stage_prefix(prefix);
  s->dir = dv_aprintf("%s/%sXXXXXX", parent, prefix);
  if(!s->dir)
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  if(!mkdtemp(s->dir)) {
    e = errno;
    free(s->dir);
    s->dir = NULL;
    return drover_error_set(err, DROVER_E_IO, "cannot stage the archive in %s: %s", parent,
                            strerror(e));
  }
  tmp = dv_aprintf("%s/lock.new", s->dir);
  lock = dv_aprintf("%s/lock", s->dir);
  s->path = dv_aprintf("%s/archive", s->dir);
  if(!tmp || !lock || !s->path) {
    e = ENOMEM;
    goto fail;
  }
  s->lock = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if(s->lock < 0 || flock(s->lock, LOCK_EX | LOCK_NB) != 0 || rename(tmp, lock) != 0) {
    e = errno;
    goto fail;
  }
  free(tmp);
  free(lock);
  return DROVER_OK;
fail:
  if(tmp)
    unlink(tmp);
  dv_stage_close(s);
  free(tmp);
  free(lock);
  if(e == ENOMEM)
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  return drover_error_set(err, DROVER_E_IO, "cannot stage the archive in %s: %s", parent,
                          strerror(e));
}

void dv_stage_close(dv_stage *s)
{
  int fd;

  if(!s || !s->dir)
    return;
  fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if(fd >= 0) {
    empty_dir(fd);
    close(fd);
  }
  rmdir(s->dir);
  /* The lock last: until the directory is gone no sweeper may take it. */
  if(s->lock >= 0)
    close(s->lock);
  free(s->dir);
  free(s->path);
  s->dir = s->path = NULL;
  s->lock = -1;
}
