/* check_stage.c - the scratch space backup archives are staged in
 * (plugin/lib/stage.c): closed stages leave nothing, a stage whose
 * process was killed is removed by the next one, a live one is not, and
 * the sweep touches nothing it should not. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "engine.h"
#include "stage.h"
#include "run_suite.h"

/* A new empty directory under the suite's temp dir. Caller frees. */
static char *new_parent(const char *name)
{
  char *p = dv_aprintf("%s/%s", run_suite_dir(), name);

  ck_assert_ptr_nonnull(p);
  ck_assert_int_eq(mkdir(p, 0700), 0);
  return p;
}

static void put(const char *dir, const char *name, const char *text)
{
  char *p = dv_aprintf("%s/%s", dir, name);
  FILE *f = p ? fopen(p, "w") : NULL;

  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  ck_assert_int_eq(fclose(f), 0);
  free(p);
}

static int exists(const char *path)
{
  struct stat sb;
  return lstat(path, &sb) == 0;
}

/* Entries in dir other than . and .. */
static int count_entries(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *de;
  int n = 0;

  ck_assert_ptr_nonnull(d);
  while((de = readdir(d)) != NULL)
    n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
  closedir(d);
  return n;
}

START_TEST(close_removes_the_archive_and_part_files)
{
  char *parent = new_parent("close");
  dv_stage s;
  drover_error err;
  size_t swept = 99;

  drover_error_clear(&err);
  ck_assert_int_eq(dv_stage_open(&s, parent, &swept, &err), DROVER_OK);
  ck_assert_uint_eq(swept, 0);
  ck_assert_ptr_nonnull(strstr(s.path, "/drover-stage-"));
  ck_assert_int_eq(strncmp(s.path, s.dir, strlen(s.dir)), 0);
  put(s.dir, "archive", "data");
  put(s.dir, "archive.drover-part", "part");
  put(s.dir, "archive.drover-part.etag", "etag");
  ck_assert_int_eq(count_entries(parent), 1);
  dv_stage_close(&s);
  ck_assert_ptr_null(s.dir);
  ck_assert_int_eq(count_entries(parent), 0);
  dv_stage_close(&s); /* closed already: nothing */
  free(parent);
}
END_TEST

/* A child opens a stage, writes into it and is killed with SIGKILL: what
 * a backup job past its time limit leaves. */
static char *killed_stage(const char *parent)
{
  int fds[2];
  char buf[4096];
  ssize_t n;
  pid_t pid;
  int status;

  ck_assert_int_eq(pipe(fds), 0);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if(pid == 0) {
    dv_stage s;
    drover_error err;
    drover_error_clear(&err);
    close(fds[0]);
    if(dv_stage_open(&s, parent, NULL, &err))
      _exit(1);
    put(s.dir, "archive", "half an archive");
    if(write(fds[1], s.dir, strlen(s.dir)) < 0)
      _exit(1);
    close(fds[1]);
    for(;;)
      pause();
  }
  close(fds[1]);
  n = read(fds[0], buf, sizeof(buf) - 1);
  close(fds[0]);
  kill(pid, SIGKILL);
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_int_gt(n, 0);
  buf[n] = '\0';
  return strdup(buf);
}

START_TEST(a_killed_stage_is_removed_by_the_next_and_a_live_one_is_kept)
{
  char *parent = new_parent("killed");
  char *dead = killed_stage(parent);
  dv_stage live, next;
  drover_error err;
  size_t swept = 0;

  drover_error_clear(&err);
  ck_assert(exists(dead));
  /* A stage held in this process: its lock is taken, whoever looks. */
  ck_assert_int_eq(dv_stage_open(&live, parent, &swept, &err), DROVER_OK);
  ck_assert_uint_eq(swept, 1);
  ck_assert(!exists(dead));
  free(dead);
  dead = killed_stage(parent);
  ck_assert_int_eq(count_entries(parent), 2);
  ck_assert_int_eq(dv_stage_open(&next, parent, &swept, &err), DROVER_OK);
  ck_assert_uint_eq(swept, 1);
  ck_assert(!exists(dead));
  ck_assert(exists(live.dir));
  ck_assert_int_eq(count_entries(parent), 2);
  /* A sweep by itself keeps both live stages. */
  ck_assert_uint_eq(dv_stage_sweep(parent), 0);
  dv_stage_close(&next);
  dv_stage_close(&live);
  ck_assert_int_eq(count_entries(parent), 0);
  free(dead);
  free(parent);
}
END_TEST

/* "drover-stage-<host>-", as this host names its stages. Caller frees. */
static char *host_prefix(const char *parent)
{
  dv_stage s;
  drover_error err;
  char *base, *p;

  drover_error_clear(&err);
  ck_assert_int_eq(dv_stage_open(&s, parent, NULL, &err), DROVER_OK);
  base = strrchr(s.dir, '/') + 1;
  p = strndup(base, strlen(base) - 6); /* less mkdtemp's XXXXXX */
  ck_assert_ptr_nonnull(p);
  ck_assert_int_eq(strncmp(p, "drover-stage-", 13), 0);
  ck_assert_int_gt(strlen(p), 14);
  dv_stage_close(&s);
  return p;
}

START_TEST(the_sweep_leaves_what_is_not_a_dead_stage)
{
  char *parent = new_parent("others"), *pre = host_prefix(parent);
  char *fresh = dv_aprintf("%s/%sfresh1", parent, pre);
  char *old = dv_aprintf("%s/%sold123", parent, pre);
  char *dead = dv_aprintf("%s/%sdead12", parent, pre);
  char *node = dv_aprintf("%s/drover-stage-another-node-abcdef", parent);
  char *target = dv_aprintf("%s/elsewhere", run_suite_dir());
  char *link = dv_aprintf("%s/%slink12", parent, pre);
  char *other = dv_aprintf("%s/unrelated", parent);
  char *file = dv_aprintf("%s/%sfile12", parent, pre);
  struct timespec ts[2] = {{0, 0}, {0, 0}};

  ck_assert_int_eq(count_entries(parent), 0);
  /* A stage made a moment ago whose lock is not in place yet. */
  ck_assert_int_eq(mkdir(fresh, 0700), 0);
  put(fresh, "lock.new", "");
  /* One whose maker died before the lock was in place, long ago. */
  ck_assert_int_eq(mkdir(old, 0700), 0);
  put(old, "lock.new", "");
  ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 7200;
  ck_assert_int_eq(utimensat(AT_FDCWD, old, ts, 0), 0);
  /* This host's, with a lock nobody holds. */
  ck_assert_int_eq(mkdir(dead, 0700), 0);
  put(dead, "lock", "");
  put(dead, "archive", "left by a killed run");
  /* The same on another node sharing the directory: its lock may only
   * look free from here. */
  ck_assert_int_eq(mkdir(node, 0700), 0);
  put(node, "lock", "");
  /* A link to a directory that looks like a dead stage: not followed. */
  ck_assert_int_eq(mkdir(target, 0700), 0);
  put(target, "lock", "");
  put(target, "archive", "someone's file");
  ck_assert_int_eq(symlink(target, link), 0);
  /* A plain file with the prefix, and a directory without it. */
  put(parent, strrchr(file, '/') + 1, "x");
  ck_assert_int_eq(mkdir(other, 0700), 0);
  put(other, "lock", "");

  ck_assert_uint_eq(dv_stage_sweep(parent), 2);
  ck_assert(!exists(old));
  ck_assert(!exists(dead));
  ck_assert(exists(fresh));
  ck_assert(exists(node));
  ck_assert(exists(link));
  ck_assert(exists(file));
  ck_assert(exists(other));
  ck_assert_int_eq(count_entries(target), 2);
  ck_assert_int_eq(count_entries(parent), 5);
  free(pre);
  free(fresh);
  free(old);
  free(dead);
  free(node);
  free(target);
  free(link);
  free(other);
  free(file);
  free(parent);
}
END_TEST

START_TEST(a_stage_of_another_user_is_left)
{
  char *parent, *theirs, *pre;

  if(geteuid() != 0)
    return; /* only root can make a directory someone else owns */
  parent = new_parent("owner");
  pre = host_prefix(parent);
  theirs = dv_aprintf("%s/%stheirs", parent, pre);
  ck_assert_int_eq(mkdir(theirs, 0700), 0);
  put(theirs, "lock", "");
  ck_assert_int_eq(chown(theirs, 65534, 65534), 0);
  ck_assert_uint_eq(dv_stage_sweep(parent), 0);
  ck_assert(exists(theirs));
  free(pre);
  free(theirs);
  free(parent);
}
END_TEST

START_TEST(a_missing_parent_is_a_clear_error)
{
  char *parent = dv_aprintf("%s/no-such-dir", run_suite_dir());
  dv_stage s;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_eq(dv_stage_open(&s, parent, NULL, &err), DROVER_E_IO);
  ck_assert_ptr_nonnull(strstr(err.text, parent));
  ck_assert_ptr_nonnull(strstr(err.text, strerror(ENOENT)));
  ck_assert_ptr_null(s.dir);
  dv_stage_close(&s);
  free(parent);
}
END_TEST

static Suite *stage_suite(void)
{
  Suite *s = suite_create("stage");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, close_removes_the_archive_and_part_files);
  tcase_add_test(tc, a_killed_stage_is_removed_by_the_next_and_a_live_one_is_kept);
  tcase_add_test(tc, the_sweep_leaves_what_is_not_a_dead_stage);
  tcase_add_test(tc, a_stage_of_another_user_is_left);
  tcase_add_test(tc, a_missing_parent_is_a_clear_error);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(stage_suite());
}
