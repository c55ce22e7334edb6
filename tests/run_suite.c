/* run_suite.c - the unit test programs' main (see the header). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include "drover.h"
#include "run_suite.h"

static char dir[] = "/tmp/drover-check.XXXXXX";

const char *run_suite_dir(void)
{
  return dir;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

int run_suite_with_providers(Suite *s, const char *providers)
{
  drover_error err;

  drover_error_clear(&err);
  if(drover_provider_dir_add(providers, &err)) {
    fprintf(stderr, "run_suite: %s\n", err.text); /* s is not freed: the program ends */
    return 99;
  }
  return run_suite(s);
}

int run_suite(Suite *s)
{
  SRunner *sr;
  int failed;

  if(!mkdtemp(dir))
    return 99;
  setenv("DROVER_LOCK_DIR", dir, 1);
  if(drover_global_init() != DROVER_OK)
    return 99;
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  drover_global_cleanup();
  if(nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS) != 0)
    failed++;
  return failed ? 1 : 0;
}
