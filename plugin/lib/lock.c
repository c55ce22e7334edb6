/* lock.c - the per-stack lock: on this machine flock() on
 * <lock_dir>/<stack>.lock, then the lease in the providers (lease.c) that
 * keeps other machines out (doc/locks.md).
 *
 * flock locks belong to the open file description, so two stacks in one
 * process exclude each other just like two processes do, and the kernel
 * drops the lock when the holder dies: no stale lock files to break.
 * The file is never unlinked (unlinking a lock file races with the next
 * opener); it only holds the holder's pid for the error message.
 */
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

/* Creates dir (and missing parents) with mode 0700. */
static drover_code make_dirs(const char *dir, drover_error *err)
{
  char path[4096];
  size_t len = strlen(dir), i;

  if(len == 0 || len >= sizeof(path))
    return drover_error_set(err, DROVER_E_ARG, "lock: bad lock directory");
  memcpy(path, dir, len + 1);
  for(i = 1; i <= len; i++) {
    if(path[i] != '/' && path[i] != '\0')
      continue;
    path[i] = '\0';
    if(mkdir(path, 0700) != 0 && errno != EEXIST) {
      int e = errno;
      return drover_error_set(err, DROVER_E_IO, "lock: cannot create %s: %s",
                              path, strerror(e));
    }
    path[i] = dir[i];
  }
  return DROVER_OK;
}

/* The lock directory, per the contract in drover.h. Caller frees.
 * *shared_tmp is set for the per-user fallback under /tmp, which must be
 * checked after it is created (see drover_stack_lock). */
static char *lock_dir(const drover_stack *stack, int *shared_tmp)
{
  const char *env = getenv("DROVER_LOCK_DIR");

  *shared_tmp = 0;
  if(stack->opts.lock_dir && stack->opts.lock_dir[0])
    return dv_strdup(stack->opts.lock_dir);
  if(env && env[0])
    return dv_strdup(env);
  if((mkdir("/run/drover", 0700) == 0 || errno == EEXIST) &&
     access("/run/drover", W_OK | X_OK) == 0)
    return dv_strdup("/run/drover");
  *shared_tmp = 1;
  return dv_aprintf("/tmp/drover-%lu", (unsigned long)getuid());
}

/* A directory in /tmp is only ours if we own it, it is a real directory
 * and nobody else may write to it. Checked after mkdir, so a directory
 * (or symlink) someone planted between a check and the mkdir is seen. */
static int dir_is_private(const char *dir)
{
  struct stat st;

  return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid() &&
         !(st.st_mode & (S_IWGRP | S_IWOTH));
}

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

drover_code drover_stack_lock(drover_stack *stack, double wait_seconds,
                              drover_error *err)
{
  drover_code rc = DROVER_OK;
  char *dir = NULL, *path = NULL;
  char buf[32];
  double deadline;
  int fd = -1, shared_tmp;

  if(!stack || !stack->name)
    return drover_error_set(err, DROVER_E_ARG, "lock: no stack");
  if(stack->lock_fd >= 0)
    return DROVER_OK; /* already ours */
  dir = lock_dir(stack, &shared_tmp);
  if(!dir) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "lock: out of memory");
    goto out;
  }
  rc = make_dirs(dir, err);
  if(rc)
    goto out;
  if(shared_tmp && !dir_is_private(dir)) {
    rc = drover_error_set(err, DROVER_E_IO,
                          "lock: %s is not a private directory of this user "
                          "(set DROVER_LOCK_DIR)", dir);
    goto out;
  }
  path = dv_aprintf("%s/%s.lock", dir, stack->name);
  if(!path) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "lock: out of memory");
    goto out;
  }
  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if(fd < 0) {
    int e = errno;
    rc = drover_error_set(err, DROVER_E_IO, "lock: cannot open %s: %s", path,
                          strerror(e));
    goto out;
  }
  deadline = drover_now() + (wait_seconds > 0 ? wait_seconds : 0);
  for(;;) {
    if(flock(fd, LOCK_EX | LOCK_NB) == 0)
      break;
    if(errno != EWOULDBLOCK && errno != EINTR) {
      int e = errno;
      rc = drover_error_set(err, DROVER_E_IO, "lock: flock %s: %s", path,
                            strerror(e));
      goto out;
    }
    if(drover_now() >= deadline) {
      ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
      long pid = 0;
      buf[n > 0 ? n : 0] = '\0';
      pid = strtol(buf, NULL, 10);
      if(pid > 0)
        rc = drover_error_set(err, DROVER_E_LOCKED,
                              "lock: stack \"%s\" is locked by pid %ld (%s)",
                              stack->name, pid, path);
      else
        rc = drover_error_set(err, DROVER_E_LOCKED,
                              "lock: stack \"%s\" is locked by another process (%s)",
                              stack->name, path);
      goto out;
    }
    sleep_ms(50);
  }
  /* Ours: record the pid for whoever waits next. */
  snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
  if(ftruncate(fd, 0) != 0 || pwrite(fd, buf, strlen(buf), 0) < 0)
    dv_log(stack, DROVER_LOG_DEBUG, "lock: could not record pid in %s", path);
  stack->lock_fd = fd;
  fd = -1;
  dv_log(stack, DROVER_LOG_DEBUG, "lock: holding %s", path);
  /* Then the other machines: the rest of the wait goes to the lease. */
  rc = dv_lease_acquire(stack, deadline, err);
  if(rc)
    drover_stack_unlock(stack);
out:
  if(fd >= 0)
    close(fd);
  free(path);
  free(dir);
  return rc;
}

void drover_stack_unlock(drover_stack *stack)
{
  if(!stack || stack->lock_fd < 0)
    return;
  dv_lease_release(stack);
  /* Clear the pid first so a waiter never names a process that let go. */
  if(ftruncate(stack->lock_fd, 0) != 0)
    dv_log(stack, DROVER_LOG_DEBUG, "lock: could not clear the lock file");
  flock(stack->lock_fd, LOCK_UN);
  close(stack->lock_fd);
  stack->lock_fd = -1;
}
