/* check_nested.c - properties holding arrays or maps of objects
 * (DROVER_T_OBJECT_ARRAY, DROVER_T_MAP_OF_OBJECTS): validation with
 * positions, no-op when equal, and changes shown path by path in the plan
 * and in --json. Uses the fake provider's fakeid.vm (disks, nics). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fixture.h"

static const char TPL[] =
  "{\"stack\": \"nest\", \"resources\": {\n"
  "  \"vm\": {\"type\": \"fakeid.vm\", \"properties\": {\"image\": \"busybox\",\n"
  "    \"disks\": [{\"dev\": \"sda\", \"size\": 8}, {\"dev\": \"sdb\", \"size\": 16}],\n"
  "    \"nics\": {\"eth0\": {\"net\": \"a\", \"ips\": [\"127.0.0.2\"]}}}}}}\n";

/* Loads text and expects a template error at line:col holding want. */
static void expect_invalid(const char *text, int line, int col, const char *want)
{
  drover_template *tpl = NULL;
  drover_stack *st = NULL;
  drover_error err;
  drover_code rc;

  drover_error_clear(&err);
  rc = fake_stack_open(&tpl, &st, text, NULL, NULL, &err);
  ck_assert_int_eq(rc, DROVER_E_TEMPLATE);
  ck_assert_msg(strstr(err.text, want) != NULL, "\"%s\" lacks \"%s\"", err.text, want);
  ck_assert_int_eq(err.line, line);
  ck_assert_int_eq(err.column, col);
  fake_stack_close(tpl, st);
}

START_TEST(validated_with_positions)
{
  expect_invalid("{\"stack\": \"n\", \"resources\": {\"vm\": {\"type\": \"fakeid.vm\",\n"
                 " \"properties\": {\"image\": \"x\",\n"
                 "  \"disks\": [{\"size\": 8},\n"
                 "            \"sdb\"]}}}}\n",
                 4, 13, "must be an array of objects, but element 1 is a string");
  expect_invalid("{\"stack\": \"n\", \"resources\": {\"vm\": {\"type\": \"fakeid.vm\",\n"
                 " \"properties\": {\"image\": \"x\", \"disks\": {\"size\": 8}}}}}\n",
                 2, 40, "must be an array of objects");
  expect_invalid("{\"stack\": \"n\", \"resources\": {\"vm\": {\"type\": \"fakeid.vm\",\n"
                 " \"properties\": {\"image\": \"x\",\n"
                 "  \"nics\": {\"eth0\": {}, \"eth1\": 3}}}}}\n",
                 3, 32, "maps \"eth1\" to an integer; values must be objects");
}
END_TEST

START_TEST(diff_by_path)
{
  fx f;
  char *text, *json = NULL, id[32];
  json_t *root, *diff;

  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  fx_apply_ok(&f);
  fx_counts(&f, .created = 1);

  /* Equal nested values: nothing to do. */
  fx_plan(&f, 0);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 0);
  snprintf(id, sizeof(id), "%s", f.stack->insts[0].live->name);

  /* Changed outside drover: one element's field, one map member added. */
  ck_assert_int_eq(fake_mutate("fakeid.vm", id, "disks",
                               "[{\"dev\": \"sda\", \"size\": 8}, {\"dev\": \"sdb\", \"size\": 32}]"),
                   0);
  ck_assert_int_eq(fake_mutate("fakeid.vm", id, "nics",
                               "{\"eth0\": {\"net\": \"a\", \"ips\": [\"127.0.0.2\"]},"
                               " \"eth9\": {\"net\": \"b\"}}"), 0);
  fx_plan(&f, 0);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 1);
  ck_assert_int_eq(drover_plan_action(f.plan, 0), DROVER_ACTION_UPDATE);
  text = fx_render(f.plan, 0);
  ck_assert_msg(strstr(text, "~ disks[1].size: 32 -> 16\n") != NULL, "%s", text);
  ck_assert_msg(strstr(text, "- nics.eth9 = {\"net\":\"b\"}\n") != NULL, "%s", text);
  ck_assert_ptr_null(strstr(text, "disks[0]"));
  ck_assert_ptr_null(strstr(text, "eth0"));
  free(text);

  ck_assert_int_eq(drover_plan_to_json(&json, f.plan, &f.err), DROVER_OK);
  root = json_loads(json, 0, NULL);
  free(json);
  diff = json_object_get(json_array_get(json_object_get(root, "resources"), 0), "diff");
  ck_assert_uint_eq(json_array_size(diff), 2);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(diff, 0), "path")),
                   "disks[1].size");
  ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(diff, 0), "before")), 32);
  ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(diff, 0), "after")), 16);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(diff, 1), "path")),
                   "nics.eth9");
  ck_assert(json_is_null(json_object_get(json_array_get(diff, 1), "after")));
  json_decref(root);

  /* Applying puts the template's values back. */
  fx_apply_ok(&f);
  fx_counts(&f, .updated = 1);
  fx_plan(&f, 0);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 0);
  fx_converged(TPL, NULL);
  fx_close(&f);
}
END_TEST

START_TEST(diff_paths_unit)
{
  json_t *out = json_array();
  json_t *a = json_loads("{\"x\": [1, {\"k\": \"v\"}], \"odd key\": {}}", 0, NULL);
  json_t *b = json_loads("{\"x\": [1, {\"k\": \"w\"}, 3], \"odd key\": {}}", 0, NULL);
  json_t *u = dv_unknown();
  char *s;

  ck_assert_int_eq(dv_diff_paths(out, "p", a, b), DROVER_OK);
  s = json_dumps(out, JSON_COMPACT);
  ck_assert_str_eq(s, "[{\"path\":\"p.x[1].k\",\"before\":\"v\",\"after\":\"w\"},"
                      "{\"path\":\"p.x[2]\",\"before\":null,\"after\":3}]");
  free(s);
  json_array_clear(out);
  /* An unknown is a difference; a key that is not a word is quoted. */
  ck_assert_int_eq(json_object_set(json_object_get(b, "odd key"), "z", u), 0);
  ck_assert_int_eq(dv_diff_paths(out, "p", json_object_get(a, "odd key"),
                                 json_object_get(b, "odd key")), DROVER_OK);
  ck_assert_uint_eq(json_array_size(out), 1);
  json_array_clear(out);
  ck_assert_int_eq(dv_diff_paths(out, "q", a, json_object_get(b, "nope")), DROVER_OK);
  ck_assert_uint_eq(json_array_size(out), 1);
  ck_assert(json_is_null(json_object_get(json_array_get(out, 0), "after")));
  json_decref(u);
  json_decref(a);
  json_decref(b);
  json_decref(out);
}
END_TEST

static Suite *nested_suite(void)
{
  Suite *s = suite_create("nested");
  TCase *tc = tcase_create("core");

  tcase_add_checked_fixture(tc, fx_setup_server_id, NULL);
  tcase_add_test(tc, validated_with_positions);
  tcase_add_test(tc, diff_by_path);
  tcase_add_test(tc, diff_paths_unit);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(nested_suite());
}
