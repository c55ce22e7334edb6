/* check_backup_provider.c - which provider holds a backup.policy
 * (plugin/lib/backup_provider.c), over two in-memory providers that both
 * declare the type: "pa" can run commands and export, "pb" (like EC2)
 * can do neither and has volumes as backup targets. The policy goes to
 * its targets' provider or its selector's; targets of both are refused,
 * as are hooks and export where the holder cannot do them, each at the
 * template's line and column. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "fixture.h"

static const drover_prop any_props[] = {
  {"size", DROVER_T_INTEGER, 0, NULL, NULL, "size"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

#define TYPES(p)                                                                        \
  static const drover_rtype p##_inst = {.name = #p ".instance", .props = any_props,     \
                                        .delete_order = 1, .doc = "i"};                 \
  static const drover_rtype p##_vol = {.name = #p ".volume", .props = any_props,        \
                                       .doc = "v", .flags = DROVER_RTYPE_BACKUP};       \
  static const drover_rtype p##_pol = {.name = "backup.policy",                         \
                                       .props = drover_backup_policy_props,             \
                                       .delete_order = 2, .doc = "p"};                  \
  static const drover_rtype *const p##_types[] = {&p##_inst, &p##_vol, &p##_pol, NULL};
TYPES(pa)
TYPES(pb)

static drover_code m_list(void *state, const drover_rtype *type, const char *stack,
                          drover_live_list *out, drover_error *err)
{
  (void)state; (void)type; (void)stack; (void)out; (void)err;
  return DROVER_OK;
}
static drover_code m_del(void *state, const drover_rtype *type, const drover_live *cur,
                         double deadline, drover_error *err)
{
  (void)state; (void)type; (void)cur; (void)deadline; (void)err;
  return DROVER_OK;
}
static drover_code m_exec(void *state, const char *instance, const char *const *argv,
                          double deadline, int *status, char **output, drover_error *err)
{
  (void)state; (void)instance; (void)argv; (void)deadline; (void)output; (void)err;
  *status = 0;
  return DROVER_OK;
}
static drover_code m_export(void *state, const char *instance, const char *snapshot,
                            const char *scratch, const char *path, double deadline,
                            json_t **info, drover_error *err)
{
  (void)state; (void)instance; (void)snapshot; (void)scratch; (void)path; (void)deadline;
  *info = NULL;
  return drover_error_set(err, DROVER_E_INTERNAL, "not used");
}

static const drover_provider pa = {
  .version = DROVER_PROVIDER_VERSION, .name = "pa", .types = pa_types, .init = fx_op_init,
  .cleanup = fx_op_cleanup, .list = m_list, .create = fx_op_create_unused, .del = m_del,
  .check = fx_op_check_policy,
  .exec = m_exec, .backup_export = m_export, .table_size = sizeof(drover_provider)
};
static const drover_provider pb = {
  .version = DROVER_PROVIDER_VERSION, .name = "pb", .types = pb_types, .init = fx_op_init,
  .cleanup = fx_op_cleanup, .list = m_list, .create = fx_op_create_unused, .del = m_del,
  .check = fx_op_check_policy,
  .table_size = sizeof(drover_provider)
};

static drover_template *tpl;
static drover_error err;

static void setup(void)
{
  ck_assert_int_eq(dv_provider_register(&pa, &err), 0);
  ck_assert_int_eq(dv_provider_register(&pb, &err), 0);
  drover_error_clear(&err);
  tpl = NULL;
}

static void teardown(void)
{
  drover_template_free(tpl);
  tpl = NULL;
}

/* Loads a template whose line 2 holds the targets' blocks and line 3 the
 * policy's properties (policy). */
static drover_code load(const char *policy)
{
  char text[1024];

  snprintf(text, sizeof(text),
           "{\"stack\": \"bp\", \"resources\": {\n"
           " \"a\": {\"type\": \"pa.instance\"}, \"v\": {\"type\": \"pb.volume\"}, \"w\": {\"type\": \"pb.instance\"},\n"
           " \"pol\": {\"type\": \"backup.policy\", \"properties\": {%s}}}}",
           policy);
  drover_template_free(tpl);
  tpl = NULL;
  drover_error_clear(&err);
  return drover_template_load_buffer(&tpl, text, strlen(text), "bp.json", &err);
}

static const dv_block *policy_block(void)
{
  size_t b = dv_block_find(tpl, "pol");
  ck_assert_uint_ne(b, (size_t)-1);
  return &tpl->blocks[b];
}

#define COMMON "\"schedule\": \"@daily\", \"retention\": {\"keep_last\": 2}"

START_TEST(by_targets)
{
  ck_assert_msg(load("\"targets\": [\"a\"], " COMMON) == 0, "%s", err.text);
  ck_assert_ptr_eq(policy_block()->provider, &pa);
  ck_assert_ptr_eq(policy_block()->rtype, &pa_pol);
  ck_assert_msg(load("\"targets\": [\"v\", \"w\"], " COMMON) == 0, "%s", err.text);
  ck_assert_ptr_eq(policy_block()->provider, &pb);
  ck_assert_ptr_eq(policy_block()->rtype, &pb_pol);
  /* An address and a reference to a cloud-assigned ID name blocks too. */
  ck_assert_msg(load("\"targets\": [\"${resources.v.id}\", \"w[0]\"], " COMMON) == 0, "%s",
                err.text);
  ck_assert_ptr_eq(policy_block()->provider, &pb);
}
END_TEST

START_TEST(by_selector)
{
  const drover_provider *first = NULL;

  ck_assert_msg(load("\"selector\": {\"stack\": \"x*\", \"provider\": \"pb\"}, " COMMON) == 0,
                "%s", err.text);
  ck_assert_ptr_eq(policy_block()->provider, &pb);
  /* Nothing to go by: the type's first provider, as before. */
  ck_assert_msg(load("\"selector\": {\"stack\": \"x*\"}, " COMMON) == 0, "%s", err.text);
  ck_assert_ptr_nonnull(dv_rtype_find("backup.policy", &first));
  ck_assert_ptr_eq(policy_block()->provider, first);
  ck_assert_int_eq(load("\"selector\": {\"stack\": \"x*\", \"provider\": \"nope\"}, " COMMON),
                   DROVER_E_TEMPLATE);
  ck_assert_ptr_nonnull(strstr(err.text, "no provider \"nope\""));
  ck_assert_int_eq(err.line, 3);
}
END_TEST

START_TEST(two_providers_refused)
{
  ck_assert_int_eq(load("\"targets\": [\"a\", \"v\"], " COMMON), DROVER_E_TEMPLATE);
  ck_assert_msg(strstr(err.text, "target \"v\" is a pb resource but \"a\" is a pa one"), "%s",
                err.text);
  ck_assert_int_eq(err.line, 3);
  /* The column of the second target: `"v"` in the properties. */
  ck_assert_int_eq(err.column, (int)(strstr(" \"pol\": {\"type\": \"backup.policy\", "
                                            "\"properties\": {\"targets\": [\"a\", \"v\"",
                                            "\"v\"") -
                                     " \"pol\": {\"type\": \"backup.policy\", "
                                     "\"properties\": {\"targets\": [\"a\", \"v\"") + 1);
}
END_TEST

START_TEST(what_the_holder_cannot_do)
{
  ck_assert_int_eq(load("\"targets\": [\"v\"], \"hooks\": {\"pre\": [\"sync\"]}, " COMMON),
                   DROVER_E_TEMPLATE);
  ck_assert_msg(strstr(err.text, "provider pb has no API to run commands"), "%s", err.text);
  ck_assert_int_eq(err.line, 3);
  /* Even where a reference hides the properties from the provider's check. */
  ck_assert_int_eq(load("\"targets\": [\"${resources.v.id}\"], \"hooks\": {\"post\": [\"x\"]}, "
                        COMMON), DROVER_E_TEMPLATE);
  ck_assert_ptr_nonnull(strstr(err.text, "no API to run commands"));
  ck_assert_int_eq(load("\"targets\": [\"v\"], \"export\": \"s3://b/p\", " COMMON),
                   DROVER_E_TEMPLATE);
  ck_assert_msg(strstr(err.text, "provider pb has no backup archive to export"), "%s", err.text);
  /* hooks.timeout alone asks for nothing to run. */
  ck_assert_msg(load("\"targets\": [\"v\"], \"hooks\": {\"timeout\": 30}, " COMMON) == 0, "%s",
                err.text);
  /* The provider that can, may. */
  ck_assert_msg(load("\"targets\": [\"a\"], \"export\": \"s3://b/p\", "
                     "\"hooks\": {\"pre\": [\"sync\"]}, " COMMON) == 0, "%s", err.text);
}
END_TEST

/* The new holder's own check runs on the policy it was given. */
START_TEST(holder_checks)
{
  ck_assert_int_eq(load("\"targets\": [\"v\"], \"schedule\": \"@often\", "
                        "\"retention\": {\"keep_last\": 2}"), DROVER_E_TEMPLATE);
  ck_assert_int_eq(err.line, 3);
}
END_TEST

static Suite *suite(void)
{
  Suite *s = suite_create("backup_provider");
  TCase *tc = tcase_create("choose");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, by_targets);
  tcase_add_test(tc, by_selector);
  tcase_add_test(tc, two_providers_refused);
  tcase_add_test(tc, what_the_holder_cannot_do);
  tcase_add_test(tc, holder_checks);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(suite());
}
