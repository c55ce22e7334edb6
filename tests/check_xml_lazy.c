/*
 * check_xml_lazy.c - libxml2 is loaded at the first XML answer, not at
 * start (providers/aws/aws_xml_lib.h): an S3 upload and download that
 * succeed never load it, listing a bucket does, and the list is read
 * right. A program of its own, with one test, so the first check sees a
 * process no other test has parsed XML in, also under valgrind
 * (CK_FORK=no runs every test of a program in one process).
 */
#include "config.h"
#include <check.h>
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "drover_s3.h"
#include "run_suite.h"
#include "scripted_server.h"

#define OK_PUT "HTTP/1.1 200 OK\r\nETag: \"e1\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define OK_GET "HTTP/1.1 200 OK\r\nETag: \"e1\"\r\nContent-Length: 5\r\n" \
               "Connection: close\r\n\r\nhello"
#define LIST_XML "<ListBucketResult><KeyCount>1</KeyCount><IsTruncated>false</IsTruncated>" \
                 "<Contents><Key>a/b.txt</Key><Size>5</Size><ETag>\"e1\"</ETag></Contents>" \
                 "</ListBucketResult>"

static int loaded(void)
{
  void *h = dlopen(DROVER_LIBXML2_SONAME, RTLD_NOW | RTLD_NOLOAD);

  if(!h)
    return 0;
  dlclose(h);                  /* drops only the reference NOLOAD took */
  return 1;
}

static int on_entry(void *ud, const drover_s3_entry *e)
{
  char *seen = ud;

  snprintf(seen, 64, "%s %llu", e->name, e->size);
  return 0;
}

START_TEST(libxml2_at_first_xml_answer)
{
  char *list = NULL, cfg[160], path[] = "/tmp/check_xml_lazyXXXXXX", down[64], seen[64] = "";
  const char *script[3];
  drover_s3 *s3 = NULL;
  drover_error err;
  int fd;
  srv s;

  ck_assert_int_gt(asprintf(&list, "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"
                                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                            strlen(LIST_XML), LIST_XML), 0);
  script[0] = OK_PUT;
  script[1] = OK_GET;
  script[2] = list;
  setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
  unsetenv("AWS_SESSION_TOKEN");
  unsetenv("AWS_PROFILE");
  ck_assert_msg(!loaded(), "libxml2 was loaded before the test began");
  srv_listen(&s, 0, script, 3);
  srv_run(&s);
  snprintf(cfg, sizeof(cfg), "{\"endpoint\": \"http://127.0.0.1:%d\", \"checksum\": \"none\"}",
           s.port);
  drover_error_clear(&err);
  ck_assert_msg(drover_s3_open(&s3, cfg, &err) == DROVER_OK, "%s", err.text);
  fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, "hello", 5), 5);
  close(fd);
  ck_assert_msg(drover_s3_upload(s3, path, "b", "a/b.txt", NULL, &err) == DROVER_OK, "%s",
                err.text);
  snprintf(down, sizeof(down), "%s.down", path);
  ck_assert_msg(drover_s3_download(s3, "b", "a/b.txt", down, NULL, &err) == DROVER_OK, "%s",
                err.text);
  ck_assert_msg(!loaded(), "an upload and a download that read no XML loaded libxml2");
  ck_assert_msg(drover_s3_list(s3, "b", "a/", on_entry, seen, &err) == DROVER_OK, "%s",
                err.text);
  ck_assert_str_eq(seen, "a/b.txt 5");
  ck_assert_msg(loaded(), "a list answer was read without libxml2 loaded");
  ck_assert_int_eq(atomic_load(&s.served), 3);
  drover_s3_close(s3);
  srv_stop(&s);
  unlink(path);
  unlink(down);
  free(list);
}
END_TEST

int main(void)
{
  Suite *su = suite_create("xml_lazy");
  TCase *tc = tcase_create("lazy");

  tcase_add_test(tc, libxml2_at_first_xml_answer);
  suite_add_tcase(su, tc);
  return run_suite(su);
}
