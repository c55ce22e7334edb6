/* check_json_fast.c - json_fast.c: what it accepts it builds exactly as
 * json_loadb does (same values, same member order), what it declines it
 * declines (NULL), and dv_json_load then gives jansson's answer. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "run_suite.h"

/* Both parsers on s: the fast one must accept it and agree with jansson. */
static void same_as_jansson(const char *s)
{
  json_error_t je;
  json_t *want = json_loadb(s, strlen(s), JSON_REJECT_DUPLICATES, &je);
  json_t *got = dv_json_fast(s, strlen(s));
  char *a, *b;

  ck_assert_msg(want != NULL, "jansson refuses %s: %s", s, je.text);
  ck_assert_msg(got != NULL, "declined: %s", s);
  ck_assert_msg(json_equal(want, got), "differs: %s", s);
  /* Member order too: jansson keeps insertion order in its dump. */
  a = json_dumps(want, 0);
  b = json_dumps(got, 0);
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_nonnull(b);
  ck_assert_str_eq(a, b);
  free(a);
  free(b);
  json_decref(want);
  json_decref(got);
}

START_TEST(fast_accepts_plain_json)
{
  static const char *const ok[] = {
    "{}",
    "[]",
    " \t\r\n{ } \n",
    "{\"a\": 1}",
    "{\"type\": \"bench.item\", \"properties\": {\"value\": \"v1\", \"size\": 3}}",
    "{\"value\": \"after-${resources.r1.name}\"}",
    "{\"z\": 1, \"a\": 2, \"m\": 3}",
    "{\"\": \"\"}",
    "[1, -2, 0, -0, 9223372036854775807, -9223372036854775808]",
    "[true, false, null, [], {}, [[[]]]]",
    "{\"a\": {\"b\": {\"c\": [1, {\"d\": \"e\"}]}}}",
    "{\"s\": \"quotes ' and / and ~ and ${x}\"}",
    "[\"a\",\"b\" , \"c\"\n]",
  };
  size_t i;

  for(i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    same_as_jansson(ok[i]);
}
END_TEST

START_TEST(fast_declines_the_rest)
{
  static const char *const no[] = {
    /* valid JSON it leaves to jansson */
    "[1.5]", "[1e3]", "[-2E-1]", "{\"a\": \"tab\\t\"}", "{\"\\u0041\": 1}",
    "{\"caf\xc3\xa9\": 1}", "[\"\x7f\"]", "{\"a\": 1, \"a\": 2}",
    "\"top-level string\"", "42", "true",
    /* not JSON at all */
    "", "   ", "{", "[", "{\"a\"}", "{\"a\": }", "{\"a\": 1,}", "[1,]", "[01]", "[-]",
    "[1 2]", "{\"a\": 1} x", "{} {}", "[tru]", "[truex]", "[nul]", "[\"open]",
    "{'a': 1}", "[9223372036854775808]", "[-9223372036854775809]",
    "{\"a\": \"line\nbreak\"}", "[1]\x01",
  };
  size_t i;

  for(i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
    json_t *v = dv_json_fast(no[i], strlen(no[i]));
    ck_assert_msg(v == NULL, "accepted: %s", no[i]);
  }
  ck_assert_ptr_null(dv_json_fast(NULL, 0));
  /* A NUL inside the buffer is not whitespace. */
  ck_assert_ptr_null(dv_json_fast("{}\0", 3));
  /* Nesting past its limit goes to jansson. */
  {
    char deep[1201];
    memset(deep, '[', 600);
    memset(deep + 600, ']', 600);
    deep[1200] = '\0';
    ck_assert_ptr_null(dv_json_fast(deep, 1200));
  }
}
END_TEST

START_TEST(load_falls_back_to_jansson)
{
  json_t *v = dv_json_load("{\"r\": 1.5, \"e\": \"\\n\"}", 21, 0);

  ck_assert_ptr_nonnull(v);
  ck_assert(json_real_value(json_object_get(v, "r")) == 1.5);
  ck_assert_str_eq(json_string_value(json_object_get(v, "e")), "\n");
  json_decref(v);
  /* jansson's flags decide a duplicate: kept without the flag, refused with. */
  v = dv_json_load("{\"a\": 1, \"a\": 2}", 16, 0);
  ck_assert_ptr_nonnull(v);
  ck_assert_int_eq(json_integer_value(json_object_get(v, "a")), 2);
  json_decref(v);
  ck_assert_ptr_null(dv_json_load("{\"a\": 1, \"a\": 2}", 16, JSON_REJECT_DUPLICATES));
  ck_assert_ptr_null(dv_json_load("{\"a\": }", 7, 0));
}
END_TEST

/* A large object and a long key (past the parser's key buffer). */
START_TEST(fast_large)
{
  size_t n = 100000, i, len = 0, cap = n * 40 + 1200;
  char *s = malloc(cap), key[1100];

  ck_assert_ptr_nonnull(s);
  len += (size_t)snprintf(s + len, cap - len, "{");
  for(i = 0; i < n; i++)
    len += (size_t)snprintf(s + len, cap - len, "%s\"k%zu\": [\"v%zu\", %zu]", i ? "," : "",
                            n - i, i, i);
  memset(key, 'x', 1000);
  key[1000] = '\0';
  len += (size_t)snprintf(s + len, cap - len, ", \"%s\": {}}", key);
  ck_assert_uint_lt(len, cap);
  same_as_jansson(s);
  free(s);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("json_fast");
  TCase *tc = tcase_create("core");

  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, fast_accepts_plain_json);
  tcase_add_test(tc, fast_declines_the_rest);
  tcase_add_test(tc, load_falls_back_to_jansson);
  tcase_add_test(tc, fast_large);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
