/*
 * check_s3_crc32c.c - CRC32C, the checksum S3 uploads carry: the table
 * path and (on x86-64) the instruction path with its three joined lanes,
 * each against a bit-at-a-time reference (crc32c_ref.h)
 * and against the values RFC 3720 (iSCSI, appendix B.4) lists; the
 * composite of a multipart upload; the file pass, split between threads.
 */
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "s3.h"
#include "run_suite.h"
#include "crc32c_ref.h"

START_TEST(known_values)
{
  unsigned char buf[32];
  char b64[9];
  int i;

  ck_assert_uint_eq(s3_crc32c(0, "123456789", 9), 0xe3069283u);
  ck_assert_uint_eq(s3_crc32c_soft(0, "123456789", 9), 0xe3069283u);
  ck_assert_uint_eq(s3_crc32c(0, "", 0), 0);
  memset(buf, 0, sizeof(buf));
  ck_assert_uint_eq(s3_crc32c(0, buf, 32), 0x8a9136aau);
  ck_assert_uint_eq(s3_crc32c_soft(0, buf, 32), 0x8a9136aau);
  memset(buf, 0xff, sizeof(buf));
  ck_assert_uint_eq(s3_crc32c(0, buf, 32), 0x62a8ab43u);
  for(i = 0; i < 32; i++)
    buf[i] = (unsigned char)i;
  ck_assert_uint_eq(s3_crc32c(0, buf, 32), 0x46dd794eu);
  ck_assert_uint_eq(s3_crc32c_soft(0, buf, 32), 0x46dd794eu);
  /* As S3 writes it: base64 of the big-endian bytes E3 06 92 83. */
  s3_crc32c_b64(b64, 0xe3069283u);
  ck_assert_str_eq(b64, "4waSgw==");
}
END_TEST

/* Every length up to a few lanes' worth and every alignment, whole and
 * split in two (a continued CRC), on both paths. */
START_TEST(both_paths_match_reference)
{
  size_t cap = 3 * 4096 + 200, n, a, cut;
  unsigned char *buf = malloc(cap + 8);
  uint32_t seed = 12345;

  ck_assert_ptr_nonnull(buf);
  for(n = 0; n < cap + 8; n++) {
    seed = seed * 1103515245u + 12345u;
    buf[n] = (unsigned char)(seed >> 16);
  }
  for(a = 0; a < 8; a++)
    for(n = 0; n + a <= cap; n += (n < 64 ? 1 : n < 4200 ? 61 : 997)) {
      uint32_t want = crc32c_ref(0, buf + a, n);
      ck_assert_msg(s3_crc32c(0, buf + a, n) == want, "fast, length %zu at +%zu", n, a);
      ck_assert_msg(s3_crc32c_soft(0, buf + a, n) == want, "table, length %zu at +%zu", n, a);
      cut = n / 3;
      ck_assert_msg(s3_crc32c(s3_crc32c(0, buf + a, cut), buf + a + cut, n - cut) == want,
                    "continued, length %zu at +%zu", n, a);
    }
  free(buf);
}
END_TEST

/* A multipart checksum: the CRC32C of the parts' CRC32Cs as 4 big-endian
 * bytes each, base64, then -<parts>. */
START_TEST(composite)
{
  uint32_t parts[3] = {0xe3069283u, 0x8a9136aau, 0x01020304u};
  unsigned char be[12] = {0xe3, 0x06, 0x92, 0x83, 0x8a, 0x91, 0x36, 0xaa, 1, 2, 3, 4};
  char want[9], got[32], full[32];

  s3_crc32c_b64(want, crc32c_ref(0, be, 12));
  snprintf(full, sizeof(full), "%s-3", want);
  s3_crc32c_composite(got, sizeof(got), parts, 3);
  ck_assert_str_eq(got, full);
}
END_TEST

/* The file pass splits a range of 64 MiB or more between threads and joins
 * their CRCs: a range that starts off a page and is split in two gives the
 * table path's CRC of those bytes (checked above against the reference). */
START_TEST(file_pass_in_shares)
{
  char path[512];
  size_t size = (66u << 20) + 4099, off = 4097, i;
  unsigned char *data = malloc(size);
  uint32_t got = 0;
  drover_error err;
  FILE *f;
  int fd;

  ck_assert_ptr_nonnull(data);
  for(i = 0; i < size; i++)
    data[i] = (unsigned char)(i * 131 + (i >> 13));
  snprintf(path, sizeof(path), "%s/crc.bin", run_suite_dir());
  f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(data, 1, size, f), size);
  ck_assert_int_eq(fclose(f), 0);
  fd = open(path, O_RDONLY);
  ck_assert_int_ge(fd, 0);
  drover_error_clear(&err);
  ck_assert_int_eq(s3_file_crc32c(&got, fd, off, size - off - 3, &err), DROVER_OK);
  ck_assert_uint_eq(got, s3_crc32c_soft(0, data + off, size - off - 3));
  /* Past the end: the file is shorter than asked. */
  ck_assert_int_eq(s3_file_crc32c(&got, fd, off, size, &err), DROVER_E_IO);
  ck_assert_ptr_nonnull(strstr(err.text, "file shrank"));
  close(fd);
  unlink(path);
  free(data);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("s3_crc32c");
  TCase *tc = tcase_create("crc32c");

  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, known_values);
  tcase_add_test(tc, both_paths_match_reference);
  tcase_add_test(tc, composite);
  tcase_add_test(tc, file_pass_in_shares);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
