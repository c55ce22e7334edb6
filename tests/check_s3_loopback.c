/*
 * check_s3_loopback.c - which endpoint hosts name this machine
 * (s3_host_is_loopback): with one, download_threshold defaults to none
 * (doc/s3.md). The text alone decides; nothing is looked up.
 */
#include <check.h>
#include "s3.h"
#include "run_suite.h"

static const struct {
  const char *host;
  int loopback;
} cases[] = {
  {"127.0.0.1", 1},
  {"127.0.0.1:4568", 1},
  {"127.255.3.9:80", 1},
  {"localhost", 1},
  {"LocalHost:9000", 1},
  {"localhost.", 1},
  {"s3.localhost:4568", 1},
  {"bucket.s3.localhost", 1},
  {"[::1]:9000", 1},
  {"[::1]", 1},
  {"[0:0:0:0:0:0:0:1]", 1},
  /* Other machines, or names that only look local. */
  {"s3.us-east-1.amazonaws.com", 0},
  {"10.0.0.1:9000", 0},
  {"128.0.0.1", 0},
  {"126.255.255.255", 0},
  {"0.0.0.0", 0},
  {"127.0.0.1.example.com", 0},
  {"localhost.example.com", 0},
  {"mylocalhost", 0},
  {"xlocalhost:80", 0},
  {".localhost", 0},
  /* A short form getaddrinfo would take for 127.0.0.1: not dotted-quad,
   * so taken as another machine, whose default is the safe one. */
  {"127.1", 0},
  {"[::2]:9000", 0},
  {"[::1", 0},
  {"[fe80::1]", 0},
  {"", 0},
};

START_TEST(loopback_hosts)
{
  ck_assert_msg(s3_host_is_loopback(cases[_i].host) == cases[_i].loopback, "%s: want %d",
                cases[_i].host, cases[_i].loopback);
}
END_TEST

static Suite *suite(void)
{
  Suite *s = suite_create("s3_loopback");
  TCase *tc = tcase_create("hosts");

  tcase_add_loop_test(tc, loopback_hosts, 0, (int)(sizeof(cases) / sizeof(cases[0])));
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(suite());
}
