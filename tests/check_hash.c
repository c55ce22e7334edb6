/* check_hash.c - dv_hash_json (value.c) hashes exactly the text
 * json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY) writes:
 * its own serialiser must never change a hash, since hashes live in cloud
 * labels. Compared on edge cases and on 20,000 generated values. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "engine.h"
#include "run_suite.h"

/* The hash as it was computed before: SHA-256 of jansson's text. */
static void reference_hash(char out[17], const json_t *v)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  char *text = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
  int i;

  ck_assert_ptr_nonnull(text);
  ck_assert_int_eq(EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL), 1);
  free(text);
  for(i = 0; i < 8; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[16] = '\0';
}

static void same_hash(json_t *v)
{
  char mine[17], ref[17];
  char *shown;

  ck_assert_ptr_nonnull(v);
  ck_assert_int_eq(dv_hash_json(mine, v), DROVER_OK);
  reference_hash(ref, v);
  if(strcmp(mine, ref)) {
    shown = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    ck_abort_msg("hash of %.300s: %s, jansson's text gives %s", shown, mine, ref);
  }
  json_decref(v);
}

START_TEST(hash_edge_cases)
{
  char ctl[40], big[5000];
  json_t *o;
  size_t i;

  same_hash(json_null());
  same_hash(json_true());
  same_hash(json_false());
  same_hash(json_integer(0));
  same_hash(json_integer(LLONG_MIN));
  same_hash(json_integer(LLONG_MAX));
  same_hash(json_real(0.1));
  same_hash(json_real(-0.0));
  same_hash(json_real(3.0));
  same_hash(json_real(1e300));
  same_hash(json_real(-2.5e-300));
  same_hash(json_string(""));
  same_hash(json_string("quote \" backslash \\ slash / del \x7f"));
  same_hash(json_string("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
  for(i = 0; i < 31; i++)
    ctl[i] = (char)(i + 1);
  same_hash(json_stringn(ctl, 31));
  same_hash(json_stringn("nul\0inside", 10));
  memset(big, 'x', sizeof(big));
  big[100] = '\n';
  big[4000] = '"';
  same_hash(json_stringn(big, sizeof(big)));
  same_hash(json_array());
  same_hash(json_object());
  same_hash(json_loads("[[],{},[[]],{\"a\":{}}]", 0, NULL));
  /* Key order: bytes, shorter first; a key with a NUL in it. */
  o = json_object();
  json_object_set_new(o, "b", json_integer(1));
  json_object_set_new(o, "ab", json_integer(2));
  json_object_set_new(o, "a", json_integer(3));
  json_object_set_new(o, "A", json_integer(4));
  json_object_set_new(o, "\xc3\xa9", json_integer(5));
  json_object_set_new(o, "a-b", json_integer(6));
  json_object_setn_new(o, "a\0z", 3, json_integer(7));
  json_object_set_new(o, "q\"k\\\n", json_integer(8));
  same_hash(o);
  /* More members than the serialiser keeps on its stack. */
  o = json_object();
  for(i = 0; i < 100; i++) {
    char k[16];
    snprintf(k, sizeof(k), "k%zu", (i * 37) % 100);
    json_object_set_new(o, k, json_integer((json_int_t)i));
  }
  same_hash(o);
}
END_TEST

static unsigned long long rng = 88172645463325252ULL;

static unsigned rnd(unsigned n)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng % n);
}

static json_t *gen_string(void)
{
  static const char *const pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t",
                                       "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac",
                                       "\xf0\x9f\x98\x80", "${x}", "-", "_"};
  char buf[200];
  size_t len = 0, n = rnd(12), i;

  for(i = 0; i < n; i++) {
    const char *p = pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];
    size_t l = strlen(p);
    memcpy(buf + len, p, l);
    len += l;
  }
  if(rnd(20) == 0)
    buf[len++] = '\0'; /* an embedded NUL */
  return json_stringn(buf, len);
}

static json_t *gen(int depth)
{
  unsigned k = rnd(depth > 3 ? 6 : 8);
  json_t *v;
  size_t n, i;

  switch(k) {
  case 0: return json_null();
  case 1: return rnd(2) ? json_true() : json_false();
  case 2: return json_integer((json_int_t)rnd(2000000) - 1000000);
  case 3: return json_real((double)rnd(100000) / (double)(1 + rnd(1000)));
  case 4:
  case 5: return gen_string();
  case 6:
    v = json_array();
    n = rnd(6);
    for(i = 0; i < n; i++)
      json_array_append_new(v, gen(depth + 1));
    return v;
  default:
    v = json_object();
    n = rnd(rnd(10) == 0 ? 40 : 6);
    for(i = 0; i < n; i++) {
      json_t *k2 = gen_string();
      json_object_setn_new(v, json_string_value(k2), json_string_length(k2),
                           gen(depth + 1));
      json_decref(k2);
    }
    return v;
  }
}

START_TEST(hash_generated_values)
{
  int i;

  for(i = 0; i < 20000; i++)
    same_hash(gen(0));
}
END_TEST

int main(void)
{
  Suite *s = suite_create("hash");
  TCase *tc = tcase_create("core");

  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, hash_edge_cases);
  tcase_add_test(tc, hash_generated_values);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
