/*
 * check_s3_parts.c - the part size of a multipart upload (s3_part_size):
 * a set part_size as given, else sized to the file and the lanes within
 * 16..64 MiB, and either grown to fit S3's 10,000 parts.
 */
#include <check.h>
#include <stdint.h>
#include "s3.h"
#include "run_suite.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static const struct {
  unsigned long long part_size; /* the setting; 0: not set */
  unsigned lanes;
  unsigned long long size;
  unsigned long long want;
} cases[] = {
  /* Set: as given, whatever the file and the lanes. */
  {5 * MiB, 4, 64 * MiB, 5 * MiB},
  {16 * MiB, 1, 2 * GiB, 16 * MiB},
  {100 * MiB, 8, 200 * MiB, 100 * MiB},
  /* Set, and too small for 10,000 parts: the smallest whole MiB that fits
   * (200 GiB / 10,000 = 20.48 MiB). */
  {16 * MiB, 4, 200 * GiB, 21 * MiB},
  /* Exactly 10,000 parts fit. */
  {5 * MiB, 4, 10000 * 5 * MiB, 5 * MiB},
  /* Not set: four parts a lane, in whole MiB, from 16 MiB ... */
  {0, 4, 64 * MiB, 16 * MiB},
  {0, 4, 200 * MiB, 16 * MiB},
  {0, 4, 512 * MiB, 32 * MiB},
  {0, 4, 520 * MiB + 1, 33 * MiB},
  {0, 2, 200 * MiB, 25 * MiB},
  {0, 1, 100 * MiB + 1, 26 * MiB},
  /* ... to 64 MiB ... */
  {0, 4, 1 * GiB, 64 * MiB},
  {0, 4, 2 * GiB, 64 * MiB},
  {0, 64, 2 * GiB, 16 * MiB},
  {0, 0, 2 * GiB, 64 * MiB},
  /* ... and grown past it only for S3's 10,000 parts (1 TiB / 10,000 =
   * 104.86 MiB). */
  {0, 4, 1024 * GiB, 105 * MiB},
  /* More than 10,000 parts of 5 GiB: no size fits. */
  {0, 4, 10001 * 5 * GiB, 0},
  {5 * MiB, 4, 10001 * 5 * GiB, 0},
};

START_TEST(part_size_table)
{
  size_t i;

  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    unsigned long long got = s3_part_size(cases[i].part_size, cases[i].lanes, cases[i].size);
    ck_assert_msg(got == cases[i].want, "case %zu: part_size %llu, %u lanes, %llu bytes: "
                  "%llu, want %llu", i, cases[i].part_size, cases[i].lanes, cases[i].size, got,
                  cases[i].want);
  }
}
END_TEST

/* For every size S3 can take, the parts chosen are within its limits: at
 * most 10,000, each 5 MiB (all but the last) to 5 GiB, in whole MiB. */
START_TEST(part_size_limits)
{
  unsigned long long size;
  unsigned lanes;

  for(lanes = 1; lanes <= 64; lanes *= 2)
    for(size = 5 * MiB; size <= 10000 * 5 * GiB; size = size * 3 / 2 + 12345) {
      unsigned long long p = s3_part_size(0, lanes, size);
      ck_assert_uint_ge(p, 16 * MiB);
      ck_assert_uint_le(p, 5 * GiB);
      ck_assert_uint_le((size + p - 1) / p, 10000);
      ck_assert_uint_eq(p % MiB, 0);
    }
}
END_TEST

int main(void)
{
  Suite *s = suite_create("s3_parts");
  TCase *tc = tcase_create("parts");

  tcase_add_test(tc, part_size_table);
  tcase_add_test(tc, part_size_limits);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
