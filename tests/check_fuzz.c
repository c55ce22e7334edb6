/* check_fuzz.c - replays the fuzz harnesses' inputs in `make check`:
 * the seeds (tests/fuzz/seeds/), every input that once found a problem
 * (tests/fuzz/regressions/) and, for the template and plan harnesses,
 * every golden template. So a fixed crash stays fixed without clang or
 * libFuzzer, and the same inputs run under ASan/UBSan and valgrind. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Each harness defines LLVMFuzzerTestOneInput; give each its own name. */
#define LLVMFuzzerTestOneInput fuzz_template_one
#include "fuzz/fuzz_template.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_refs_one
#include "fuzz/fuzz_refs.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_plan_one
#include "fuzz/fuzz_plan.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_planfile_one
#include "fuzz/fuzz_planfile.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_lxd_one
#include "fuzz/fuzz_lxd.c"
#include "run_suite.h"
#undef LLVMFuzzerTestOneInput

typedef int (*harness_fn)(const uint8_t *data, size_t size);

static const char *srcdir(void)
{
  const char *d = getenv("DROVER_TEST_SRCDIR");
  return d ? d : "tests";
}

/* Feeds one file to fn; returns 1 when it was a regular file. */
static int feed(harness_fn fn, const char *path)
{
  struct stat st;
  FILE *f;
  uint8_t *buf;
  size_t n;

  if(stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    return 0;
  f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "%s: cannot open", path);
  buf = malloc((size_t)st.st_size + 1);
  ck_assert_ptr_nonnull(buf);
  n = fread(buf, 1, (size_t)st.st_size, f);
  fclose(f);
  ck_assert_uint_eq(n, (size_t)st.st_size);
  ck_assert_int_eq(fn(buf, n), 0);
  free(buf);
  return 1;
}

/* Feeds every file of dir (or dir/<x>/input.json when nested); returns how
 * many. A missing dir feeds nothing. */
static size_t feed_dir(harness_fn fn, const char *dir, int nested)
{
  DIR *d = opendir(dir);
  struct dirent *de;
  char path[2048];
  size_t n = 0;

  if(!d)
    return 0;
  while((de = readdir(d)) != NULL) {
    if(de->d_name[0] == '.' || !strcmp(de->d_name, "README"))
      continue;
    snprintf(path, sizeof(path), nested ? "%s/%s/input.json" : "%s/%s", dir, de->d_name);
    n += (size_t)feed(fn, path);
  }
  closedir(d);
  return n;
}

/* Seeds and regressions of harness name, plus the golden templates when
 * templates is set. Returns the number of inputs. */
static size_t replay(harness_fn fn, const char *name, int templates)
{
  char dir[1024];
  size_t n = 0;

  snprintf(dir, sizeof(dir), "%s/fuzz/seeds/%s", srcdir(), name);
  n += feed_dir(fn, dir, 0);
  snprintf(dir, sizeof(dir), "%s/fuzz/regressions/%s", srcdir(), name);
  n += feed_dir(fn, dir, 0);
  if(templates) {
    snprintf(dir, sizeof(dir), "%s/valid", srcdir());
    n += feed_dir(fn, dir, 0);
    snprintf(dir, sizeof(dir), "%s/invalid", srcdir());
    n += feed_dir(fn, dir, 1);
  }
  return n;
}

START_TEST(replay_template)
{
  ck_assert_uint_ge(replay(fuzz_template_one, "template", 1), 100);
}
END_TEST

START_TEST(replay_refs)
{
  ck_assert_uint_ge(replay(fuzz_refs_one, "refs", 0), 6);
}
END_TEST

START_TEST(replay_plan)
{
  ck_assert_uint_ge(replay(fuzz_plan_one, "plan", 1), 100);
}
END_TEST

START_TEST(replay_planfile)
{
  ck_assert_uint_ge(replay(fuzz_planfile_one, "planfile", 0), 1);
}
END_TEST

START_TEST(replay_lxd)
{
  ck_assert_uint_ge(replay(fuzz_lxd_one, "lxd", 0), 4);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("fuzz-replay");
  TCase *tc = tcase_create("core");

  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, replay_template);
  tcase_add_test(tc, replay_refs);
  tcase_add_test(tc, replay_plan);
  tcase_add_test(tc, replay_planfile);
  tcase_add_test(tc, replay_lxd);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
