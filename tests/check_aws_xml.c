/* check_aws_xml.c - the AWS XML reader (providers/aws/aws_xml.c) against
 * answer fixtures in tests/fixtures/aws: S3 and EC2 error documents,
 * ListObjectsV2 with a continuation token and awkward keys, ListBuckets,
 * tagging, a non-XML body, and an external-entity attempt. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include "aws_xml.h"
#include "run_suite.h"

/* The fixture's bytes; caller frees. */
static char *fixture(const char *name, size_t *len)
{
  const char *dir = getenv("DROVER_TEST_SRCDIR");
  char path[4096];
  FILE *f;
  char *buf;
  long n;

  snprintf(path, sizeof(path), "%s/fixtures/aws/%s", dir ? dir : "tests", name);
  f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
  n = ftell(f);
  ck_assert_int_ge(n, 0);
  rewind(f);
  buf = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(buf);
  ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  *len = (size_t)n;
  return buf;
}

START_TEST(s3_signature_error)
{
  size_t len;
  char *body = fixture("s3-error-signature.xml", &len);
  aws_error e;
  drover_error err;

  ck_assert_int_eq(aws_error_parse(&e, body, len), 1);
  ck_assert_str_eq(e.code, "SignatureDoesNotMatch");
  ck_assert_str_eq(e.request_id, "4442587FB7D0A2F9");
  ck_assert_ptr_nonnull(strstr(e.message, "does not match"));
  ck_assert_int_eq(aws_error_class(403, &e), DROVER_E_PROVIDER);

  drover_error_clear(&err);
  ck_assert_int_eq(aws_error_set(&err, "s3: PUT bucket \"b\"", 403, body, len), DROVER_E_PROVIDER);
  ck_assert_str_eq(err.text, "s3: PUT bucket \"b\": HTTP 403 SignatureDoesNotMatch: The request "
                             "signature we calculated does not match the signature you "
                             "provided. Check your key and signing method. (request id "
                             "4442587FB7D0A2F9)");
  /* What S3 echoes back (key id, token in the canonical request) stays out. */
  ck_assert_ptr_null(strstr(err.text, "AKIDFIXTURESECRETID"));
  ck_assert_ptr_null(strstr(err.text, "FIXTURETOKEN"));
  free(body);
}
END_TEST

START_TEST(s3_error_classes)
{
  size_t len;
  char *body = fixture("s3-error-nosuchkey.xml", &len);
  aws_error e;
  drover_error err;

  ck_assert_int_eq(aws_error_parse(&e, body, len), 1);
  ck_assert_str_eq(e.code, "NoSuchKey");
  ck_assert_str_eq(e.request_id, "TX0001");
  ck_assert_int_eq(aws_error_class(404, &e), DROVER_E_NOT_FOUND);
  free(body);

  body = fixture("s3-error-slowdown.xml", &len);
  ck_assert_int_eq(aws_error_parse(&e, body, len), 1);
  ck_assert_int_eq(aws_error_class(503, &e), DROVER_E_TRANSIENT);
  /* SlowDown is transient whatever the status. */
  ck_assert_int_eq(aws_error_class(400, &e), DROVER_E_TRANSIENT);
  free(body);

  /* A bare status (HEAD answers have no body). */
  drover_error_clear(&err);
  ck_assert_int_eq(aws_error_set(&err, "s3: HEAD", 404, NULL, 0), DROVER_E_NOT_FOUND);
  ck_assert_str_eq(err.text, "s3: HEAD: HTTP 404");
  drover_error_clear(&err);
  ck_assert_int_eq(aws_error_set(&err, "s3: GET", 500, "", 0), DROVER_E_TRANSIENT);
  ck_assert_int_eq(aws_error_class(409, NULL), DROVER_E_CONFLICT);
}
END_TEST

START_TEST(ec2_error)
{
  size_t len;
  char *body = fixture("ec2-error.xml", &len);
  aws_error e;

  ck_assert_int_eq(aws_error_parse(&e, body, len), 1);
  ck_assert_str_eq(e.code, "InvalidInstanceID.NotFound");
  ck_assert_str_eq(e.request_id, "ea966190-f9aa-478e-9ede-example");
  ck_assert_str_eq(e.message, "The instance ID 'i-1a2b3c4d' does not exist");
  free(body);
}
END_TEST

START_TEST(list_objects_v2)
{
  size_t len;
  char *body = fixture("s3-list-objects-v2.xml", &len);
  xmlDoc *doc;
  xmlNode *root, *c;
  drover_error err;
  char buf[256];
  const char *keys[] = {"stack/a b+c%d.txt", "stack/\xe1\x88\xb4/<x>&y", "stack/z"};
  size_t n = 0;
  char *t;

  drover_error_clear(&err);
  ck_assert_int_eq(aws_xml_parse(&doc, body, len, "s3: list", &err), DROVER_OK);
  root = aws_xml_root(doc, "ListBucketResult");
  ck_assert_ptr_nonnull(root);
  ck_assert_ptr_null(aws_xml_root(doc, "Error"));
  ck_assert_str_eq(aws_xml_text_buf(root, "IsTruncated", buf, sizeof(buf)), "true");
  t = aws_xml_text(root, "NextContinuationToken");
  ck_assert_str_eq(t, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  free(t);
  for(c = aws_xml_child(root, "Contents"); c; c = aws_xml_next(c), n++) {
    ck_assert_uint_lt(n, 3);
    ck_assert_str_eq(aws_xml_text_buf(c, "Key", buf, sizeof(buf)), keys[n]);
  }
  ck_assert_uint_eq(n, 3);
  c = aws_xml_child(root, "Contents");
  ck_assert_str_eq(aws_xml_text_buf(c, "ETag", buf, sizeof(buf)),
                   "\"9b2cf535f27731c974343645a3985328\"");
  ck_assert_str_eq(aws_xml_text_buf(c, "Size", buf, sizeof(buf)), "1024");
  /* Absent children and a buffer too small. */
  ck_assert_ptr_null(aws_xml_text(aws_xml_next(aws_xml_next(c)), "ETag"));
  ck_assert_ptr_null(aws_xml_text_buf(c, "Key", buf, 4));
  ck_assert_str_eq(buf, "");
  xmlFreeDoc(doc);
  free(body);
}
END_TEST

START_TEST(list_buckets_and_tags)
{
  size_t len;
  char *body = fixture("s3-list-buckets.xml", &len);
  xmlDoc *doc;
  xmlNode *b;
  drover_error err;
  char name[64], value[64];
  size_t n = 0;

  drover_error_clear(&err);
  ck_assert_int_eq(aws_xml_parse(&doc, body, len, "s3: list buckets", &err), DROVER_OK);
  b = aws_xml_child(aws_xml_root(doc, "ListAllMyBucketsResult"), "Buckets");
  for(b = aws_xml_child(b, "Bucket"); b; b = aws_xml_next(b), n++)
    ck_assert_str_eq(aws_xml_text_buf(b, "Name", name, sizeof(name)), n ? "beta" : "alpha");
  ck_assert_uint_eq(n, 2);
  xmlFreeDoc(doc);
  free(body);

  body = fixture("s3-tagging.xml", &len);
  ck_assert_int_eq(aws_xml_parse(&doc, body, len, "s3: tags", &err), DROVER_OK);
  b = aws_xml_child(aws_xml_root(doc, "Tagging"), "TagSet");
  b = aws_xml_child(b, "Tag");
  ck_assert_str_eq(aws_xml_text_buf(b, "Key", name, sizeof(name)), "drover-stack");
  ck_assert_str_eq(aws_xml_text_buf(b, "Value", value, sizeof(value)), "s11");
  b = aws_xml_next(b);
  ck_assert_str_eq(aws_xml_text_buf(b, "Value", value, sizeof(value)), "bucket.data");
  ck_assert_ptr_null(aws_xml_next(b));
  xmlFreeDoc(doc);
  free(body);
}
END_TEST

START_TEST(not_xml)
{
  size_t len;
  char *body = fixture("not-xml.html", &len);
  xmlDoc *doc = (xmlDoc *)1;
  aws_error e;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_eq(aws_xml_parse(&doc, body, len, "s3: list", &err), DROVER_E_PROVIDER);
  ck_assert_ptr_null(doc);
  ck_assert_int_eq(strncmp(err.text, "s3: list: answer is not XML", 27), 0);
  ck_assert_int_eq(aws_error_parse(&e, body, len), 0);
  ck_assert_str_eq(e.code, "");
  drover_error_clear(&err);
  ck_assert_int_eq(aws_error_set(&err, "s3: GET", 502, body, len), DROVER_E_TRANSIENT);
  ck_assert_str_eq(err.text, "s3: GET: HTTP 502");
  drover_error_clear(&err);
  ck_assert_int_eq(aws_xml_parse(&doc, "", 0, "s3: x", &err), DROVER_E_PROVIDER);
  free(body);
}
END_TEST

/* An external entity is never fetched (no file contents in the message). */
START_TEST(no_external_entities)
{
  size_t len;
  char *body = fixture("xxe.xml", &len);
  aws_error e;

  aws_error_parse(&e, body, len);
  ck_assert_ptr_null(strstr(e.message, "root:"));
  free(body);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("aws_xml");
  TCase *tc = tcase_create("xml");
  int rc;

  xmlInitParser();
  tcase_add_test(tc, s3_signature_error);
  tcase_add_test(tc, s3_error_classes);
  tcase_add_test(tc, ec2_error);
  tcase_add_test(tc, list_objects_v2);
  tcase_add_test(tc, list_buckets_and_tags);
  tcase_add_test(tc, not_xml);
  tcase_add_test(tc, no_external_entities);
  suite_add_tcase(s, tc);
  rc = run_suite(s);
  xmlCleanupParser();
  return rc;
}
