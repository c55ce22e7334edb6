/*
 * outputs.c - the per-job outputs file and the DROVER_* variables.
 *
 * The prolog (root) writes <outputs_dir>/<jobid>/outputs.json, or
 * <outputs_dir>/<jobid>/error when the job's stack could not be built;
 * the job directory is 0700 and the file 0600, both owned by the job's
 * user. Task init (in slurmstepd, as the user) reads them back. The job
 * directory belongs to the user, so everything root does inside it goes
 * through a directory fd and never follows a link.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifndef DVS_NO_JANSSON /* the shim, drover.so, does not link jansson */
#include <jansson.h>
#endif
#include "spank_int.h"

int dvs_output_env_name(char *buf, size_t size, const char *output)
{
  size_t plen = strlen(DVS_ENV_PREFIX), i, n;

  if(!output || !output[0])
    return -1;
  n = strlen(output);
  if(plen + n + 1 > size)
    return -1;
  memcpy(buf, DVS_ENV_PREFIX, plen);
  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)output[i];
    if(c >= 'a' && c <= 'z')
      c = (unsigned char)(c - 'a' + 'A');
    else if(!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
      c = '_';
    buf[plen + i] = (char)c;
  }
  buf[plen + n] = '\0';
  if(!strcmp(buf, DVS_ENV_OUTPUTS_FILE))
    return -1;
  return 0;
}

#ifndef DVS_NO_JANSSON
int dvs_output_env_value(char **out, const void *json_value)
{
  const json_t *v = json_value;
  size_t i, total = 0;
  json_t *item;
  char *buf;

  *out = NULL;
  if(!v)
    return -1;
  if(json_is_string(v)) {
    *out = strdup(json_string_value(v));
    return *out ? 0 : -1;
  }
  if(json_is_array(v) && json_array_size(v) > 0) {
    int words = 1;
    json_array_foreach(v, i, item) {
      const char *s = json_string_value(item);
      if(!s || !s[0] || strpbrk(s, " \t\r\n")) {
        words = 0;
        break;
      }
      total += strlen(s) + 1;
    }
    if(words) {
      buf = malloc(total);
      if(!buf)
        return -1;
      buf[0] = '\0';
      json_array_foreach(v, i, item) {
        if(i)
          strcat(buf, " ");
        strcat(buf, json_string_value(item));
      }
      *out = buf;
      return 0;
    }
  }
  *out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  return *out ? 0 : -1;
}
#endif /* !DVS_NO_JANSSON */

int dvs_job_file_path(char *buf, size_t size, const char *dir, uint32_t jobid,
                      const char *file)
{
  int n = snprintf(buf, size, "%s/%u%s%s", dir, (unsigned)jobid, file ? "/" : "",
                   file ? file : "");
  return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* mkdir -p for the root-owned part (outputs_dir), 0755. */
static int mkdirs(const char *path, char *errbuf, size_t errlen)
{
  char buf[512];
  size_t i, n = strlen(path);

  if(n >= sizeof(buf) || path[0] != '/')
    return dv_trust_fail(errbuf, errlen, "drover: bad outputs_dir %s", path);
  memcpy(buf, path, n + 1);
  for(i = 1; i <= n; i++) {
    if(buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];
      buf[i] = '\0';
      if(mkdir(buf, 0755) && errno != EEXIST)
        return dv_trust_fail(errbuf, errlen, "drover: mkdir %s: %s", buf, strerror(errno));
      buf[i] = c;
    }
  }
  return 0;
}

/* Opens outputs_dir, which must be root's and not writable by others. */
static int open_base(const char *dir, int create, char *errbuf, size_t errlen)
{
  struct stat st;
  int fd;

  if(create && mkdirs(dir, errbuf, errlen))
    return -1;
  /* Job users must be able to pass through it to their own directory. */
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if(fd < 0)
    return dv_trust_fail(errbuf, errlen, "drover: %s: %s", dir, strerror(errno));
  if(fstat(fd, &st) || st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
    close(fd);
    return dv_trust_fail(errbuf, errlen, "drover: %s must be root's and not group/world writable",
                dir);
  }
  if(create && (st.st_mode & 0111) != 0111)
    fchmod(fd, (st.st_mode & 07777) | 0111);
  return fd;
}

int dvs_job_file_write(const char *dir, uint32_t jobid, const char *file,
                       const char *content, uid_t uid, gid_t gid, char *errbuf,
                       size_t errlen)
{
  char job[16], tmp[64];
  int base = -1, jfd = -1, fd = -1, rc = -1;
  size_t len = strlen(content), off = 0;
  struct stat st;

  snprintf(job, sizeof(job), "%u", (unsigned)jobid);
  snprintf(tmp, sizeof(tmp), ".%s.%ld.tmp", file, (long)getpid());
  base = open_base(dir, 1, errbuf, errlen);
  if(base < 0)
    goto out;
  if(mkdirat(base, job, 0700) && errno != EEXIST) {
    dv_trust_fail(errbuf, errlen, "drover: mkdir %s/%s: %s", dir, job, strerror(errno));
    goto out;
  }
  jfd = openat(base, job, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if(jfd < 0 || fstat(jfd, &st)) {
    dv_trust_fail(errbuf, errlen, "drover: %s/%s: %s", dir, job, strerror(errno));
    goto out;
  }
  /* Left over from an earlier run of this job id: only root or the same
   * user may own it. */
  if(st.st_uid != 0 && st.st_uid != uid) {
    dv_trust_fail(errbuf, errlen, "drover: %s/%s belongs to uid %u", dir, job, (unsigned)st.st_uid);
    goto out;
  }
  unlinkat(jfd, tmp, 0);
  fd = openat(jfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if(fd < 0) {
    dv_trust_fail(errbuf, errlen, "drover: create %s/%s/%s: %s", dir, job, tmp, strerror(errno));
    goto out;
  }
  while(off < len) {
    ssize_t w = write(fd, content + off, len - off);
    if(w < 0 && errno == EINTR)
      continue;
    if(w < 0) {
      dv_trust_fail(errbuf, errlen, "drover: write %s/%s/%s: %s", dir, job, file, strerror(errno));
      goto out;
    }
    off += (size_t)w;
  }
  if(fchown(fd, uid, gid) || fchmod(fd, 0600) || fsync(fd)) {
    dv_trust_fail(errbuf, errlen, "drover: %s/%s/%s: %s", dir, job, file, strerror(errno));
    goto out;
  }
  /* rename replaces whatever the name points at, never follows it. */
  if(renameat(jfd, tmp, jfd, file)) {
    dv_trust_fail(errbuf, errlen, "drover: rename to %s/%s/%s: %s", dir, job, file,
         strerror(errno));
    goto out;
  }
  if(fchown(jfd, uid, gid) || fchmod(jfd, 0700)) {
    dv_trust_fail(errbuf, errlen, "drover: %s/%s: %s", dir, job, strerror(errno));
    goto out;
  }
  rc = 0;
out:
  if(fd >= 0) {
    close(fd);
    if(rc)
      unlinkat(jfd, tmp, 0);
  }
  if(jfd >= 0)
    close(jfd);
  if(base >= 0)
    close(base);
  return rc;
}

int dvs_job_dir_remove(const char *dir, uint32_t jobid, char *errbuf, size_t errlen)
{
  char job[16];
  int base = -1, jfd = -1, rc = -1;
  DIR *d = NULL;
  struct dirent *de;

  snprintf(job, sizeof(job), "%u", (unsigned)jobid);
  base = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if(base < 0) {
    rc = errno == ENOENT ? 0
                         : dv_trust_fail(errbuf, errlen, "drover: %s: %s", dir, strerror(errno));
    goto out;
  }
  jfd = openat(base, job, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if(jfd < 0) {
    if(errno == ENOENT)
      rc = 0;
    else if(errno == ENOTDIR || errno == ELOOP)
      rc = unlinkat(base, job, 0) ? dv_trust_fail(errbuf, errlen, "drover: unlink %s/%s: %s",
                                         dir, job, strerror(errno)) : 0;
    else
      dv_trust_fail(errbuf, errlen, "drover: %s/%s: %s", dir, job, strerror(errno));
    goto out;
  }
  d = fdopendir(jfd);
  if(!d) {
    dv_trust_fail(errbuf, errlen, "drover: %s/%s: %s", dir, job, strerror(errno));
    goto out;
  }
  jfd = -1; /* owned by d now */
  while((de = readdir(d)) != NULL) {
    if(!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    /* Files and links only; a directory the user made stays, and so the
     * rmdir below fails and says so. */
    unlinkat(dirfd(d), de->d_name, 0);
  }
  if(unlinkat(base, job, AT_REMOVEDIR)) {
    dv_trust_fail(errbuf, errlen, "drover: rmdir %s/%s: %s", dir, job, strerror(errno));
    goto out;
  }
  rc = 0;
out:
  if(d)
    closedir(d);
  if(jfd >= 0)
    close(jfd);
  if(base >= 0)
    close(base);
  return rc;
}

#ifndef DVS_NO_JANSSON
long dvs_count_instances_json(const char *show_json)
{
  json_t *arr, *item;
  json_error_t jerr;
  long n = 0;
  size_t i;

  arr = json_loads(show_json, 0, &jerr);
  if(!json_is_array(arr)) {
    json_decref(arr);
    return -1;
  }
  json_array_foreach(arr, i, item) {
    const char *type = json_string_value(json_object_get(item, "type"));
    size_t tl = type ? strlen(type) : 0;
    if(tl >= 9 && !strcmp(type + tl - 9, ".instance"))
      n++;
  }
  json_decref(arr);
  return n;
}
#endif /* !DVS_NO_JANSSON */
