/* check_export.c - the pure parts of backup exports (export_key.c): the
 * export location, object key naming and reading back, the manifest's
 * checks, the staged archive's checksum, and the retention over exports
 * (per instance, leftovers of killed runs). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine.h"
#include "backup.h"
#include "run_suite.h"

START_TEST(location)
{
  dv_export_loc l;
  drover_error e;

  drover_error_clear(&e);
  ck_assert_int_eq(dv_export_loc_parse(&l, "s3://bkt/dr/nightly//", &e), DROVER_OK);
  ck_assert_str_eq(l.bucket, "bkt");
  ck_assert_str_eq(l.prefix, "dr/nightly/");
  dv_export_loc_free(&l);
  ck_assert_int_eq(dv_export_loc_parse(&l, "s3://bkt", &e), DROVER_OK);
  ck_assert_str_eq(l.bucket, "bkt");
  ck_assert_str_eq(l.prefix, "");
  dv_export_loc_free(&l);
  ck_assert_int_eq(dv_export_loc_parse(&l, "s3://bkt/", &e), DROVER_OK);
  ck_assert_str_eq(l.prefix, "");
  dv_export_loc_free(&l);
  ck_assert_int_eq(dv_export_loc_parse(&l, "s3:///x", &e), DROVER_E_ARG);
  drover_error_clear(&e);
  ck_assert_int_eq(dv_export_loc_parse(&l, "file:///srv", &e), DROVER_E_ARG);
  ck_assert_ptr_nonnull(strstr(e.text, "s3://bucket/prefix"));
}
END_TEST

START_TEST(object_keys)
{
  dv_export_loc l;
  drover_error e;
  char key[9], snap[96], inst[96], *a, *m;
  long long slot = -2;

  drover_error_clear(&e);
  ck_assert_int_eq(dv_export_loc_parse(&l, "s3://bkt/dr", &e), DROVER_OK);
  ck_assert_int_eq(dv_policy_key(key, "prod", "nightly"), DROVER_OK);
  dv_snap_name(snap, sizeof(snap), key, 1774692000); /* 2026-03-28T10:00Z */
  a = dv_export_object(&l, snap, "db-0", DV_EXPORT_ARCHIVE);
  m = dv_export_object(&l, snap, "db-0", DV_EXPORT_MANIFEST);
  {
    char want[160];
    snprintf(want, sizeof(want), "dr/drover-%s-20260328T1000Z/db-0.tar.gz", key);
    ck_assert_str_eq(a, want);
    snprintf(want, sizeof(want), "dr/drover-%s-20260328T1000Z/db-0.json", key);
    ck_assert_str_eq(m, want);
  }
  ck_assert_int_eq(dv_export_object_parse(&l, a, key, &slot, inst, sizeof(inst)), 1);
  ck_assert_int_eq(slot, 1774692000);
  ck_assert_str_eq(inst, "db-0");
  ck_assert_int_eq(dv_export_object_parse(&l, m, key, &slot, inst, sizeof(inst)), 2);
  /* Not ours: another policy's key, another prefix, other files. */
  ck_assert_int_eq(dv_export_object_parse(&l, a, "00000000", &slot, inst, sizeof(inst)), 0);
  ck_assert_int_eq(dv_export_object_parse(&l, a + 3, key, &slot, inst, sizeof(inst)), 0);
  {
    char other[200];
    snprintf(other, sizeof(other), "dr/%s/db-0.txt", snap);
    ck_assert_int_eq(dv_export_object_parse(&l, other, key, &slot, inst, sizeof(inst)), 0);
    snprintf(other, sizeof(other), "dr/%s/x/db-0.json", snap);
    ck_assert_int_eq(dv_export_object_parse(&l, other, key, &slot, inst, sizeof(inst)), 0);
    snprintf(other, sizeof(other), "dr/drover-%s-2026/db-0.json", key);
    ck_assert_int_eq(dv_export_object_parse(&l, other, key, &slot, inst, sizeof(inst)), 0);
    snprintf(other, sizeof(other), "dr/%s/.json", snap);
    ck_assert_int_eq(dv_export_object_parse(&l, other, key, &slot, inst, sizeof(inst)), 0);
  }
  free(a);
  free(m);
  dv_export_loc_free(&l);
}
END_TEST

static json_t *good_manifest(void)
{
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:{s:s}}",
                   "format", DV_EXPORT_FORMAT, "stack", "prod", "policy", "nightly",
                   "instance", "db-0", "address", "db", "snapshot",
                   "drover-0a1b2c3d-20260328T1000Z", "slot", (json_int_t)1774692000,
                   "object", "dr/drover-0a1b2c3d-20260328T1000Z/db-0.tar.gz", "sha256",
                   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "size",
                   (json_int_t)3, "provider", "lxd", "labels", "stack", "prod");
}

START_TEST(manifest)
{
  static const char *const must[] = {"format", "stack", "policy", "instance", "snapshot",
                                     "object", "sha256", "slot", "size", "labels", NULL};
  json_t *m = good_manifest();
  drover_error e;
  size_t i;

  drover_error_clear(&e);
  ck_assert_int_eq(dv_manifest_check(m, "prod", "nightly", &e), DROVER_OK);
  ck_assert_int_eq(dv_manifest_check(m, NULL, NULL, &e), DROVER_OK);
  ck_assert_int_eq(dv_manifest_check(m, "other", "nightly", &e), DROVER_E_CORRUPT);
  ck_assert_ptr_nonnull(strstr(e.text, "stack \"prod\""));
  drover_error_clear(&e);
  ck_assert_int_eq(dv_manifest_check(m, "prod", "hourly", &e), DROVER_E_CORRUPT);
  json_decref(m);
  for(i = 0; must[i]; i++) {
    m = good_manifest();
    json_object_del(m, must[i]);
    drover_error_clear(&e);
    ck_assert_msg(dv_manifest_check(m, NULL, NULL, &e) == DROVER_E_CORRUPT,
                  "a manifest without %s passes", must[i]);
    json_decref(m);
  }
  m = good_manifest();
  json_object_set_new(m, "sha256", json_string("BA7816BF"));
  drover_error_clear(&e);
  ck_assert_int_eq(dv_manifest_check(m, NULL, NULL, &e), DROVER_E_CORRUPT);
  ck_assert_ptr_nonnull(strstr(e.text, "64 hex"));
  json_object_set_new(m, "sha256", json_string(
                                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  json_object_set_new(m, "format", json_string("drover-export/2"));
  drover_error_clear(&e);
  ck_assert_int_eq(dv_manifest_check(m, NULL, NULL, &e), DROVER_E_CORRUPT);
  json_object_set_new(m, "format", json_string(DV_EXPORT_FORMAT));
  json_object_set_new(m, "size", json_integer(-1));
  drover_error_clear(&e);
  ck_assert_int_eq(dv_manifest_check(m, NULL, NULL, &e), DROVER_E_CORRUPT);
  json_decref(m);
  drover_error_clear(&e);
  ck_assert_int_eq(dv_manifest_check(NULL, NULL, NULL, &e), DROVER_E_CORRUPT);
}
END_TEST

START_TEST(checksum)
{
  char path[] = "/tmp/check_export-XXXXXX", sha[65];
  unsigned long long size = 7;
  drover_error e;
  int fd = mkstemp(path);
  FILE *f;
  size_t i;

  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, "abc", 3), 3);
  close(fd);
  drover_error_clear(&e);
  ck_assert_int_eq(dv_file_sha256(path, sha, &size, &e), DROVER_OK);
  ck_assert_str_eq(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  ck_assert_uint_eq(size, 3);
  /* Larger than one read buffer: 3 MiB of 'a' (FIPS 180-2's million 'a'
   * is not this; compare with the value computed in two halves instead). */
  f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  for(i = 0; i < 1000000; i++)
    fputc('a', f);
  fclose(f);
  ck_assert_int_eq(dv_file_sha256(path, sha, &size, &e), DROVER_OK);
  ck_assert_str_eq(sha, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  ck_assert_uint_eq(size, 1000000);
  unlink(path);
  ck_assert_int_eq(dv_file_sha256(path, sha, &size, &e), DROVER_E_IO);
  ck_assert_str_eq(sha, "");
}
END_TEST

static dv_export_item item(const char *inst, long long slot, int archive, int has_manifest)
{
  dv_export_item it;

  memset(&it, 0, sizeof(it));
  snprintf(it.instance, sizeof(it.instance), "%s", inst);
  it.slot = slot;
  it.archive = archive;
  it.manifest = has_manifest;
  return it;
}

START_TEST(retention_over_exports)
{
  /* Hourly slots; keep_last 2 per instance. "a": four complete exports
   * and, between them, a lone archive of a killed run (deleted: a later
   * slot is complete) and, newest, a lone archive (kept: maybe still
   * being written by nobody, but no later export proves it dead).
   * "b": one complete export, kept by its own count. */
  dv_export_item it[8];
  unsigned kept[8];
  int del[8];
  dv_retention r;
  drover_error e;
  long long h = 3600, t0 = 1774692000;

  memset(&r, 0, sizeof(r));
  r.keep_last = 2;
  r.tz = "UTC";
  it[0] = item("a", t0, 1, 1);
  it[1] = item("a", t0 + h, 1, 0);      /* killed run, archive only */
  it[2] = item("a", t0 + 2 * h, 1, 1);
  it[3] = item("a", t0 + 3 * h, 1, 1);
  it[4] = item("a", t0 + 4 * h, 1, 1);
  it[5] = item("a", t0 + 5 * h, 1, 0);  /* newest, archive only */
  it[6] = item("b", t0, 1, 1);
  it[7] = item("b", t0 + h, 0, 1);      /* manifest without archive: incomplete */
  drover_error_clear(&e);
  ck_assert_int_eq(dv_export_retention(&r, it, 8, (time_t)(t0 + 6 * h), kept, del, &e),
                   DROVER_OK);
  ck_assert_int_eq(del[0], 1);
  ck_assert_int_eq(del[1], 1);
  ck_assert_int_eq(del[2], 1);
  ck_assert_int_eq(del[3], 0);
  ck_assert_uint_ne(kept[3], 0);
  ck_assert_int_eq(del[4], 0);
  ck_assert_uint_ne(kept[4], 0);
  ck_assert_int_eq(del[5], 0);
  ck_assert_uint_eq(kept[5], 0);
  ck_assert_int_eq(del[6], 0); /* b's count is its own */
  ck_assert_uint_ne(kept[6], 0);
  ck_assert_int_eq(del[7], 0); /* newer than b's newest complete one */
  {
    char why[64];
    dv_retention_reasons(kept[4], why, sizeof(why));
    ck_assert_str_eq(why, "last");
  }

  /* max_age over exports: older than 3 hours go. */
  memset(&r, 0, sizeof(r));
  r.max_age = 3 * h;
  r.tz = "UTC";
  ck_assert_int_eq(dv_export_retention(&r, it, 5, (time_t)(t0 + 5 * h), kept, del, &e),
                   DROVER_OK);
  ck_assert_int_eq(del[0], 1);
  ck_assert_int_eq(del[2], 0);
  ck_assert_int_eq(del[3], 0);
  ck_assert_int_eq(del[4], 0);
}
END_TEST

static Suite *suite(void)
{
  Suite *s = suite_create("export");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, location);
  tcase_add_test(tc, object_keys);
  tcase_add_test(tc, manifest);
  tcase_add_test(tc, checksum);
  tcase_add_test(tc, retention_over_exports);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(suite());
}
