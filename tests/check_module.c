/* check_module.c - provider modules: the registry loads a module only
 * when the trust checks pass (the ones the SPANK shim applies to its
 * engine) and its table fits, and says why otherwise; never a crash.
 *
 * The modules are tests/modules/test_module.c built several ways. Each
 * test copies the one it needs into a fresh directory with the modes it
 * wants and removes it after, so the tests also hold in one process
 * (CK_FORK=no, as under valgrind) where the registry outlives a test.
 * Needs root: modules must be root's files.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "engine.h"
#include "run_suite.h"

#ifndef TEST_BUILDDIR
#error TEST_BUILDDIR must name the build directory
#endif

typedef struct staged {
  char dir[64];
  char path[128];
} staged;

/* Copies tests/modules/.libs/<lib>.so to <fresh dir>/<as>.so with mode. */
static void stage(staged *s, const char *lib, const char *as, mode_t mode)
{
  char src[1024], buf[65536];
  int in, out;
  ssize_t n;

  snprintf(s->dir, sizeof(s->dir), "/tmp/check_module.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(s->dir));
  ck_assert_int_eq(chmod(s->dir, 0755), 0);
  snprintf(s->path, sizeof(s->path), "%s/%s.so", s->dir, as);
  snprintf(src, sizeof(src), "%s/tests/modules/.libs/%s.so", TEST_BUILDDIR, lib);
  in = open(src, O_RDONLY);
  ck_assert_msg(in >= 0, "%s: %s", src, strerror(errno));
  out = open(s->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  ck_assert_int_ge(out, 0);
  while((n = read(in, buf, sizeof(buf))) > 0)
    ck_assert_int_eq(write(out, buf, (size_t)n), n);
  close(in);
  close(out);
  ck_assert_int_eq(chmod(s->path, mode), 0);
}

static void unstage(staged *s)
{
  char cmd[128];

  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
  ck_assert_int_eq(system(cmd), 0);
}

/* Loads path and expects a refusal whose text holds want. */
static void expect_refused(const char *path, const char *want)
{
  drover_error err;
  const char *name = "unset";

  drover_error_clear(&err);
  ck_assert_int_eq(drover_provider_load(path, &name, &err), DROVER_E_CONFIG);
  ck_assert_ptr_null(name);
  ck_assert_msg(strstr(err.text, want) != NULL, "\"%s\" lacks \"%s\"", err.text, want);
}

START_TEST(refuses_group_writable)
{
  staged s;

  stage(&s, "tgood", "tgood", 0775);
  expect_refused(s.path, "group or world writable");
  ck_assert_ptr_null(dv_provider_find("tgood"));
  unstage(&s);
}
END_TEST

START_TEST(refuses_writable_directory)
{
  staged s;

  stage(&s, "tgood", "tgood", 0755);
  ck_assert_int_eq(chmod(s.dir, 0777), 0);
  expect_refused(s.path, "group or world writable");
  unstage(&s);
}
END_TEST

START_TEST(refuses_symlink)
{
  staged s;
  char link[160];

  stage(&s, "tgood", "real", 0755);
  snprintf(link, sizeof(link), "%s/tgood.so", s.dir);
  ck_assert_int_eq(symlink(s.path, link), 0);
  expect_refused(link, "is a symlink; refused");
  unstage(&s);
}
END_TEST

/* Modules whose table the loader must refuse, and what it says. */
static const struct {
  const char *lib;
  const char *want;
} bad_tables[] = {
  {"tv99", "provider table version 99 not supported"},
  {"tnoentry", "has no drover_provider_entry symbol"},
  {"tsmall", "is too small for version 3"},
};

START_TEST(refuses_bad_table)
{
  staged s;

  stage(&s, bad_tables[_i].lib, bad_tables[_i].lib, 0755);
  expect_refused(s.path, bad_tables[_i].want);
  unstage(&s);
}
END_TEST

START_TEST(refuses_not_a_library)
{
  staged s;
  int fd;

  snprintf(s.dir, sizeof(s.dir), "/tmp/check_module.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(s.dir));
  ck_assert_int_eq(chmod(s.dir, 0755), 0);
  snprintf(s.path, sizeof(s.path), "%s/junk.so", s.dir);
  fd = open(s.path, O_WRONLY | O_CREAT | O_EXCL, 0644);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, "not an ELF file\n", 16), 16);
  close(fd);
  expect_refused(s.path, "cannot load provider module");
  unstage(&s);
}
END_TEST

START_TEST(accepts_older_table_by_path)
{
  staged s;
  drover_error err;
  const char *name = NULL;
  const drover_provider *p;

  stage(&s, "tv1", "tv1", 0755);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_provider_load(s.path, &name, &err), DROVER_OK);
  ck_assert_str_eq(name, "tv1");
  p = dv_provider_find("tv1");
  ck_assert_ptr_nonnull(p);
  ck_assert_uint_eq(p->version, 1);
  /* A version 1 table has no table_size: the copy reads only what v1 has. */
  ck_assert_uint_eq(p->table_size, 0);
  ck_assert_ptr_nonnull(dv_rtype_find("tv1.thing", NULL));
  /* Loading it again is refused by name, not loaded twice. */
  expect_refused(s.path, "already loaded");
  unstage(&s);
}
END_TEST

/* A version 3 table loads; the lock ops past its table_size are never
 * read (the copy stops there), so it keeps no lease. */
START_TEST(accepts_version_3_without_lock_ops)
{
  staged s;
  drover_error err;
  const char *name = NULL;
  const drover_provider *p;

  stage(&s, "tv3", "tv3", 0755);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_provider_load(s.path, &name, &err), DROVER_OK);
  p = dv_provider_find("tv3");
  ck_assert_ptr_nonnull(p);
  ck_assert_uint_eq(p->version, 3);
  ck_assert_ptr_null(p->lock_read);
  ck_assert_ptr_null(p->lock_delete);
  unstage(&s);
}
END_TEST

START_TEST(loads_by_name_from_dir)
{
  staged s;
  drover_error err;
  const drover_provider *p = NULL, *q;
  drover_template *tpl = NULL;
  char *json = NULL;
  size_t i;
  static const char tpl_text[] =
    "{\"stack\": \"m\", \"providers\": {\"tgood\": {}},\n"
    " \"resources\": {\"a\": {\"type\": \"tgood.thing\", \"properties\": {}}}}";

  stage(&s, "tgood", "tgood", 0755);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_provider_dir_add(s.dir, &err), DROVER_OK);
  /* A template naming it loads it on first use. */
  ck_assert_int_eq(drover_template_load_buffer(&tpl, tpl_text, strlen(tpl_text), "t.json",
                                               &err), DROVER_OK);
  drover_template_free(tpl);
  p = dv_provider_find("tgood");
  ck_assert_ptr_nonnull(p);
  ck_assert_uint_eq(p->version, DROVER_PROVIDER_VERSION);
  ck_assert_uint_eq(p->table_size, sizeof(drover_provider));
  ck_assert_ptr_nonnull(p->lock_read); /* version 6: its lock ops are kept */
  for(i = 0; (q = dv_provider_at(i)) != NULL && q != p; i++)
    ;
  ck_assert_ptr_eq(q, p);
  ck_assert_int_eq(drover_providers_json(&json, &err), DROVER_OK);
  ck_assert_ptr_nonnull(strstr(json, "\"tgood\":{}"));
  free(json);
  /* A name that is not a file name is never looked up as one. */
  ck_assert_ptr_null(dv_provider_find("../tgood"));
  unstage(&s);
}
END_TEST

START_TEST(template_says_why_refused)
{
  staged s;
  drover_error err;
  drover_template *tpl = NULL;
  static const char tpl_text[] =
    "{\"stack\": \"m\",\n \"providers\": {\"tnoentry\": {}}, \"resources\": {}}";

  stage(&s, "tnoentry", "tnoentry", 0755);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_provider_dir_add(s.dir, &err), DROVER_OK);
  ck_assert_int_eq(drover_template_load_buffer(&tpl, tpl_text, strlen(tpl_text), "t.json",
                                               &err), DROVER_E_CONFIG);
  ck_assert_ptr_null(tpl);
  ck_assert_int_eq(err.line, 2);
  ck_assert_ptr_nonnull(strstr(err.text, "provider \"tnoentry\": provider module"));
  ck_assert_ptr_nonnull(strstr(err.text, "has no drover_provider_entry symbol"));
  unstage(&s);
}
END_TEST

START_TEST(load_all_from_dirs)
{
  staged s;
  drover_error err;

  stage(&s, "tall", "tall", 0755);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_provider_dir_add(s.dir, &err), DROVER_OK);
  ck_assert_int_eq(drover_providers_load_all(&err), DROVER_OK);
  ck_assert_ptr_nonnull(dv_provider_find("tall"));
  /* A refused module in a search directory makes load_all fail, naming it. */
  {
    staged bad;
    stage(&bad, "tsmall", "tsmall", 0755);
    ck_assert_int_eq(drover_provider_dir_add(bad.dir, &err), DROVER_OK);
    ck_assert_int_eq(drover_providers_load_all(&err), DROVER_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.text, bad.path));
    unstage(&bad);
  }
  unstage(&s);
}
END_TEST

static Suite *module_suite(void)
{
  Suite *s = suite_create("module");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, refuses_group_writable);
  tcase_add_test(tc, refuses_writable_directory);
  tcase_add_test(tc, refuses_symlink);
  tcase_add_loop_test(tc, refuses_bad_table, 0,
                      (int)(sizeof(bad_tables) / sizeof(bad_tables[0])));
  tcase_add_test(tc, accepts_version_3_without_lock_ops);
  tcase_add_test(tc, refuses_not_a_library);
  tcase_add_test(tc, accepts_older_table_by_path);
  tcase_add_test(tc, loads_by_name_from_dir);
  tcase_add_test(tc, template_says_why_refused);
  tcase_add_test(tc, load_all_from_dirs);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  if(geteuid() != 0) {
    /* Modules must be root's files; as another user every case would be
     * refused for its owner, which proves nothing. */
    fprintf(stderr, "check_module: must run as root\n");
    return 99;
  }
  return run_suite(module_suite());
}
