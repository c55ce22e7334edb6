/* check_index.c - the name index (index.c): every key found with its
 * value at large N, absent keys and prefixes not found, the first value
 * kept, growth from an index sized for nothing. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "run_suite.h"

#define N 100000

static char **make_keys(size_t n)
{
  char **k = calloc(n, sizeof(*k));
  size_t i;

  ck_assert_ptr_nonnull(k);
  for(i = 0; i < n; i++) {
    k[i] = dv_aprintf("res-%zu", i);
    ck_assert_ptr_nonnull(k[i]);
  }
  return k;
}

static void free_keys(char **k, size_t n)
{
  size_t i;

  for(i = 0; i < n; i++)
    free(k[i]);
  free(k);
}

START_TEST(index_large)
{
  char **k = make_keys(N), miss[32];
  dv_index ix;
  size_t i;

  /* Sized for nothing: every key past the first few makes it grow. */
  ck_assert_int_eq(dv_index_init(&ix, 0), DROVER_OK);
  for(i = 0; i < N; i++)
    ck_assert_int_eq(dv_index_put(&ix, k[i], i), DROVER_OK);
  ck_assert_uint_eq(ix.n, N);
  ck_assert_uint_ge(ix.cap, 2 * N); /* at most half full */
  for(i = 0; i < N; i++)
    ck_assert_uint_eq(dv_index_get(&ix, k[i]), i);
  for(i = 0; i < 1000; i++) {
    snprintf(miss, sizeof(miss), "res-%zu", N + i);
    ck_assert_uint_eq(dv_index_get(&ix, miss), (size_t)-1);
  }
  /* A prefix of a key is not the key; a key given by length is. */
  ck_assert_uint_eq(dv_index_get(&ix, "res-"), (size_t)-1);
  ck_assert_uint_eq(dv_index_get(&ix, "res-1234"), 1234);
  ck_assert_uint_eq(dv_index_getn(&ix, "res-1234[7]", 8), 1234);
  ck_assert_uint_eq(dv_index_getn(&ix, "res-1234", 7), 123);
  ck_assert_uint_eq(dv_index_getn(&ix, "res-1234", 3), (size_t)-1);
  dv_index_free(&ix);
  free_keys(k, N);
}
END_TEST

START_TEST(index_first_value_wins)
{
  dv_index ix;

  ck_assert_int_eq(dv_index_init(&ix, 4), DROVER_OK);
  ck_assert_int_eq(dv_index_put(&ix, "web", 3), DROVER_OK);
  ck_assert_int_eq(dv_index_put(&ix, "web", 9), DROVER_OK);
  ck_assert_uint_eq(dv_index_get(&ix, "web"), 3);
  ck_assert_uint_eq(ix.n, 1);
  /* The free-slot marker and what does not fit in 32 bits cannot be
   * stored; the largest position that does can. */
  ck_assert_int_eq(dv_index_put(&ix, "db", (size_t)-1), DROVER_E_ARG);
  ck_assert_int_eq(dv_index_put(&ix, "db", (size_t)UINT32_MAX), DROVER_E_ARG);
  ck_assert_uint_eq(dv_index_get(&ix, "db"), (size_t)-1);
  ck_assert_int_eq(dv_index_put(&ix, "db", (size_t)UINT32_MAX - 1), DROVER_OK);
  ck_assert_uint_eq(dv_index_get(&ix, "db"), (size_t)UINT32_MAX - 1);
  ck_assert_uint_eq(dv_index_get(&ix, NULL), (size_t)-1);
  dv_index_free(&ix);
  dv_index_free(&ix); /* twice is fine */
  ck_assert_uint_eq(dv_index_get(&ix, "web"), (size_t)-1);
  ck_assert_uint_eq(dv_index_get(NULL, "web"), (size_t)-1);
}
END_TEST

/* Keys that differ only at the end, and a long key: no collision may
 * make one answer for another. */
START_TEST(index_similar_keys)
{
  static const char *const keys[] = {"a", "b", "ab", "ba", "a-b", "a_b", "", NULL};
  char long_key[600];
  dv_index ix;
  size_t i;

  memset(long_key, 'x', sizeof(long_key) - 1);
  long_key[sizeof(long_key) - 1] = '\0';
  ck_assert_int_eq(dv_index_init(&ix, 2), DROVER_OK);
  for(i = 0; keys[i]; i++)
    ck_assert_int_eq(dv_index_put(&ix, keys[i], i), DROVER_OK);
  ck_assert_int_eq(dv_index_put(&ix, long_key, 100), DROVER_OK);
  for(i = 0; keys[i]; i++)
    ck_assert_uint_eq(dv_index_get(&ix, keys[i]), i);
  ck_assert_uint_eq(dv_index_get(&ix, long_key), 100);
  long_key[598] = 'y';
  ck_assert_uint_eq(dv_index_get(&ix, long_key), (size_t)-1);
  dv_index_free(&ix);
}
END_TEST

/* FNV-1a, 32 bits: the hash index.c keeps per slot. */
static uint32_t fnv1a(const char *s)
{
  uint32_t h = 2166136261u;

  for(; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 16777619u;
  }
  return h;
}

/* Two different keys with the same 32-bit hash (a pair found by a
 * search over random names) are told apart by their bytes, each found
 * with its own value, and the slot after them still answers. */
START_TEST(index_equal_hashes)
{
  const char *a = "c45103ef8533", *b = "cbc6fc4ca6de";
  dv_index ix;

  ck_assert_uint_eq(fnv1a(a), fnv1a(b));
  ck_assert_int_eq(dv_index_init(&ix, 4), DROVER_OK);
  ck_assert_int_eq(dv_index_put(&ix, a, 1), DROVER_OK);
  ck_assert_uint_eq(dv_index_get(&ix, b), (size_t)-1);
  ck_assert_int_eq(dv_index_put(&ix, b, 2), DROVER_OK);
  ck_assert_int_eq(dv_index_put(&ix, "other", 3), DROVER_OK);
  ck_assert_uint_eq(ix.n, 3);
  ck_assert_uint_eq(dv_index_get(&ix, a), 1);
  ck_assert_uint_eq(dv_index_get(&ix, b), 2);
  ck_assert_uint_eq(dv_index_get(&ix, "other"), 3);
  dv_index_free(&ix);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("index");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, index_large);
  tcase_add_test(tc, index_first_value_wins);
  tcase_add_test(tc, index_similar_keys);
  tcase_add_test(tc, index_equal_hashes);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
