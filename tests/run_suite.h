/*
 * run_suite.h - the unit test programs' main: runs a Check suite with the
 * engine initialised and stack locks in a private temp dir, so that
 * concurrent runs of the suites (two checkouts' make check) never contend
 * for a lock. Link with run_suite.c.
 */
#ifndef DROVER_TEST_RUN_SUITE_H
#define DROVER_TEST_RUN_SUITE_H

#include <check.h>

/* Runs s (and frees it); removes the temp dir and what the tests left in
 * it. Returns the exit status: 0 when every test passed, 1 when one
 * failed, 99 when the run could not be set up. */
int run_suite(Suite *s);
/* The same with the folder providers added to the provider search path
 * first (a provider built as a module, --enable-<name>=dl, found in the
 * build tree). */
int run_suite_with_providers(Suite *s, const char *providers);

/* The temp dir, for the tests' own files; valid while run_suite runs. */
const char *run_suite_dir(void);

#endif /* DROVER_TEST_RUN_SUITE_H */
