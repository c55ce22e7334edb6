/* check_faults.c - the engine against a cloud that behaves like LXD: lost
 * responses on every op, half-done two-step ops, taken names, refused
 * and missing deletes, and dependencies that finish late. Each test
 * asserts what the engine must do; the fake only answers as LXD would
 * (see fake_provider.h). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fixture.h"

/* A group used by two things through its name (so LXD-like, the group
 * cannot go before them), and an independent thing. */
static const char *TPL =
  "{\"drover\": 1, \"stack\": \"fx\",\n"
  " \"params\": {\"n\": {\"type\": \"integer\", \"default\": 2}},\n"
  " \"resources\": {\n"
  "  \"grp\": {\"type\": \"fake.group\"},\n"
  "  \"web\": {\"type\": \"fake.thing\", \"count\": \"${params.n}\",\n"
  "           \"properties\": {\"image\": \"busybox\",\n"
  "                          \"tags\": {\"grp\": \"${resources.grp.name}\"}}},\n"
  "  \"solo\": {\"type\": \"fake.thing\", \"properties\": {\"image\": \"solo\"}}}}\n";

/* b depends on a only through depends_on; c names a (known at plan time). */
static const char *TPL_ORDER =
  "{\"drover\": 1, \"stack\": \"fo\",\n"
  " \"resources\": {\n"
  "  \"a\": {\"type\": \"fake.thing\", \"properties\": {\"image\": \"x\"}},\n"
  "  \"b\": {\"type\": \"fake.thing\", \"depends_on\": [\"a\"],\n"
  "         \"properties\": {\"image\": \"x\"}},\n"
  "  \"c\": {\"type\": \"fake.thing\",\n"
  "         \"properties\": {\"image\": \"x\", \"tags\": {\"peer\": \"${resources.a.name}\"}}}}}\n";

static const char *prop_str(const char *type, const char *name, const char *prop)
{
  static char buf[128];
  json_t *o = fake_get(type, name);
  const char *v;

  ck_assert_msg(o != NULL, "%s %s is not in the cloud", type, name);
  v = json_string_value(json_object_get(json_object_get(o, "properties"), prop));
  snprintf(buf, sizeof(buf), "%s", v ? v : "(unset)");
  json_decref(o);
  return buf;
}

/* ------------------------------------------------------------------------
 * Lost responses and half-done ops
 */

/* The create reached the cloud but its answer was lost: apply reads the
 * object back and, its goal holding, counts it as created without a
 * second create; never a second object. */
START_TEST(create_lost_response_adopted)
{
  fx f;

  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  fake_fail_at(FAKE_OP_CREATE, "web[1]", 1, DROVER_E_TRANSIENT, FAKE_FAULT_AFTER);
  fake_fail_at(FAKE_OP_CREATE, "grp", 1, DROVER_E_TIMEOUT, FAKE_FAULT_AFTER);
  fx_apply_ok(&f);
  fx_counts(&f, .created = 4);
  ck_assert_uint_eq(fake_calls(FAKE_OP_CREATE, "fake.thing"), 3);
  ck_assert_uint_eq(fake_calls(FAKE_OP_CREATE, "fake.group"), 1);
  ck_assert_uint_ge(fake_calls(FAKE_OP_READ, NULL), 2);
  ck_assert_uint_eq(fake_count_address("fake.thing", "web[1]"), 1);
  ck_assert_uint_eq(fake_count(NULL, NULL), 4);
  fx_close(&f);
  fx_converged(TPL, NULL);
}
END_TEST

/* The create made the thing but not its start (LXD creates stopped, then
 * starts): the retry's adoption must bring it to "running". */
START_TEST(create_midway_converges)
{
  fx f;

  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  fake_fail_at(FAKE_OP_CREATE, "solo", 1, DROVER_E_TRANSIENT, FAKE_FAULT_MIDWAY);
  fx_apply_ok(&f);
  fx_counts(&f, .created = 4);
  ck_assert_uint_eq(fake_calls(FAKE_OP_CREATE, "fake.thing"), 3 + 1);
  ck_assert_str_eq(prop_str("fake.thing", "fx-solo", "state"), "running");
  fx_close(&f);
  fx_converged(TPL, NULL);
}
END_TEST

/* A permanent error after the change (the cloud acted, then answered
 * badly): read back, the goal holds, so it is done. The same error before
 * the change stays a failure for that resource alone. */
START_TEST(create_permanent_after_vs_before)
{
  fx f;

  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  fake_fail_at(FAKE_OP_CREATE, "solo", 1, DROVER_E_PROVIDER, FAKE_FAULT_AFTER);
  fx_apply_ok(&f);
  fx_counts(&f, .created = 4);
  ck_assert_uint_eq(fake_calls(FAKE_OP_CREATE, "fake.thing"), 3);
  ck_assert_uint_eq(fake_count_address("fake.thing", "solo"), 1);
  fx_close(&f);
  fx_converged(TPL, NULL);

  fake_reset();
  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  fake_fail_at(FAKE_OP_CREATE, "solo", 1, DROVER_E_PROVIDER, FAKE_FAULT_BEFORE);
  ck_assert_int_eq(fx_apply(&f), DROVER_E_PARTIAL);
  ck_assert_int_eq(f.err.code, DROVER_E_PROVIDER);
  ck_assert_str_eq(f.err.address, "solo");
  fx_counts(&f, .created = 3, .failed = 1);
  ck_assert_uint_eq(fake_count_address("fake.thing", "solo"), 0);
  fx_close(&f);
}
END_TEST

/* An update whose answer was lost, on a cloud whose lists carry no ETag
 * (LXD): the retry succeeds and the cloud converges. */
START_TEST(update_lost_response_and_midway)
{
  const char *three[] = {"n=2", NULL};
  fx f;

  fx_open(&f, TPL, three);
  fx_plan(&f, 0);
  fx_apply_ok(&f);
  fx_close(&f);
  ck_assert_int_eq(fake_mutate("fake.thing", "fx-web-0", "size", "7"), 0);
  ck_assert_int_eq(fake_mutate("fake.thing", "fx-web-1", "state", "\"stopped\""), 0);
  fake_reset_counts();
  fx_open(&f, TPL, three);
  fx_plan(&f, 0);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 2);
  fake_fail_at(FAKE_OP_UPDATE, "web[0]", 1, DROVER_E_TRANSIENT, FAKE_FAULT_AFTER);
  fake_fail_at(FAKE_OP_UPDATE, "web[1]", 1, DROVER_E_TRANSIENT, FAKE_FAULT_MIDWAY);
  fx_apply_ok(&f);
  fx_counts(&f, .updated = 2);
  /* web[0] read back and done; web[1] half done, so updated again. */
  ck_assert_uint_eq(fake_calls(FAKE_OP_UPDATE, NULL), 3);
  ck_assert_str_eq(prop_str("fake.thing", "fx-web-1", "state"), "running");
  fx_close(&f);
  fx_converged(TPL, NULL);
}
END_TEST

/* A delete whose answer was lost: read back, the object is gone, so it
 * is done without a retry; a delete stopped midway (stopped, not
 * deleted) is tried again and finishes. A delete of an object already
 * gone succeeds. */
START_TEST(delete_lost_response_and_midway)
{
  fx f;

  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  fx_apply_ok(&f);
  fx_plan(&f, DROVER_PLAN_DESTROY);
  fake_fail_at(FAKE_OP_DELETE, "solo", 1, DROVER_E_TRANSIENT, FAKE_FAULT_AFTER);
  fake_fail_at(FAKE_OP_DELETE, "web[0]", 1, DROVER_E_TIMEOUT, FAKE_FAULT_MIDWAY);
  fx_apply_ok(&f);
  fx_counts(&f, .deleted = 4);
  ck_assert_uint_eq(fake_count(NULL, NULL), 0);
  ck_assert_uint_eq(fake_calls(FAKE_OP_DELETE, NULL), 4 + 1);
  fx_close(&f);

  /* Gone between plan and apply: the delete still succeeds. */
  fake_reset();
  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  fx_apply_ok(&f);
  fx_plan(&f, DROVER_PLAN_DESTROY);
  ck_assert_int_eq(fake_remove("fake.thing", "fx-solo"), 0);
  fx_apply_ok(&f);
  fx_counts(&f, .deleted = 4);
  ck_assert_uint_eq(fake_stat(FAKE_STAT_DELETE_MISSING), 1);
  ck_assert_uint_eq(fake_count(NULL, NULL), 0);
  fx_close(&f);
}
END_TEST

/* Faults before the change on update, delete and read paths are retried
 * like create's; list faults fail the refresh with their code. */
START_TEST(faults_before_every_op)
{
  fx f;
  drover_error err;

  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  fx_apply_ok(&f);
  ck_assert_int_eq(fake_mutate("fake.thing", "fx-solo", "size", "3"), 0);
  fx_plan(&f, 0);
  fake_fail(FAKE_OP_UPDATE, "solo", 2, DROVER_E_TRANSIENT);
  fx_apply_ok(&f);
  fx_counts(&f, .updated = 1);
  ck_assert_uint_eq(fake_calls(FAKE_OP_UPDATE, NULL), 3);
  fx_plan(&f, DROVER_PLAN_DESTROY);
  fake_fail(FAKE_OP_DELETE, "grp", 1, DROVER_E_TRANSIENT);
  fx_apply_ok(&f);
  fx_counts(&f, .deleted = 4);
  ck_assert_uint_eq(fake_count(NULL, NULL), 0);
  fake_fail(FAKE_OP_LIST, NULL, 1, DROVER_E_TRANSIENT);
  drover_error_clear(&err);
  ck_assert_int_ne(drover_stack_refresh(f.stack, &err), DROVER_OK);
  ck_assert_int_eq(err.code, DROVER_E_TRANSIENT);
  fx_close(&f);
}
END_TEST

/* ------------------------------------------------------------------------
 * Taken names, refused deletes
 */

/* A name taken by an object that is not this stack's: a permanent error
 * for that resource; the object is left exactly as it was. */
START_TEST(create_taken_name_refused)
{
  fx f;
  json_t *o;

  ck_assert_int_eq(fake_seed("fake.thing", "fx-solo", NULL, NULL, NULL, NULL,
                             "{\"image\": \"theirs\"}"), 0);
  ck_assert_int_eq(fake_seed("fake.thing", "fx-web-1", "other", "web[1]", NULL, NULL,
                             "{\"image\": \"other-stack\"}"), 0);
  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  ck_assert_int_eq(fx_apply(&f), DROVER_E_PARTIAL);
  ck_assert_int_eq(f.err.code, DROVER_E_PROVIDER);
  fx_counts(&f, .created = 2, .failed = 2);
  ck_assert_str_eq(prop_str("fake.thing", "fx-solo", "image"), "theirs");
  ck_assert_str_eq(prop_str("fake.thing", "fx-web-1", "image"), "other-stack");
  o = fake_get("fake.thing", "fx-solo");
  ck_assert(json_is_null(json_object_get(json_object_get(o, "labels"), "stack")));
  json_decref(o);
  fx_close(&f);
}
END_TEST

/* The group is in use while things name it: the engine must delete the
 * things first (destroy and orphan removal alike), and a refused delete
 * is an error, never success. */
START_TEST(delete_order_in_use)
{
  fx f;

  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  fx_apply_ok(&f);
  fx_plan(&f, DROVER_PLAN_DESTROY);
  fake_set_delay(0.002);
  fx_apply_ok(&f);
  fx_counts(&f, .deleted = 4);
  ck_assert_uint_eq(fake_stat(FAKE_STAT_DELETE_REFUSED), 0);
  ck_assert_uint_eq(fake_count(NULL, NULL), 0);
  ck_assert_uint_eq(fake_stat(FAKE_STAT_STOP_BEFORE_DELETE), 3);
  fx_close(&f);

  /* A thing outside the stack still names the group: its delete is
   * refused, and apply says so. */
  fake_reset();
  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  fx_apply_ok(&f);
  ck_assert_int_eq(fake_seed("fake.thing", "foreign", NULL, NULL, NULL, NULL,
                             "{\"image\": \"x\", \"tags\": {\"uses\": \"fx-grp\"}}"), 0);
  fx_plan(&f, DROVER_PLAN_DESTROY);
  ck_assert_int_eq(fx_apply(&f), DROVER_E_PARTIAL);
  ck_assert_int_eq(f.err.code, DROVER_E_PROVIDER);
  ck_assert_str_eq(f.err.address, "grp");
  ck_assert_ptr_nonnull(strstr(f.err.text, "in use"));
  fx_counts(&f, .deleted = 3, .failed = 1);
  ck_assert_uint_eq(fake_stat(FAKE_STAT_DELETE_REFUSED), 1);
  fx_close(&f);
}
END_TEST

/* Orphans with no deps label (an older drover, a label lost): the types'
 * delete_order alone must put the thing before the group it uses. The
 * thing's delete is slow, so a group delete started alongside it would
 * find the group still in use. */
START_TEST(delete_order_by_type_alone)
{
  /* One unrelated resource, so that the fake's objects are listed. */
  static const char *EMPTY =
    "{\"drover\": 1, \"stack\": \"fe\", \"resources\": {\n"
    "  \"k\": {\"type\": \"fake.thing\", \"properties\": {\"image\": \"x\"}}}}\n";
  fx f;

  ck_assert_int_eq(fake_seed("fake.group", "fe-g", "fe", "g", "h", NULL, NULL), 0);
  ck_assert_int_eq(fake_seed("fake.thing", "fe-t", "fe", "t", "h", NULL,
                             "{\"image\": \"x\", \"tags\": {\"uses\": \"fe-g\"}}"), 0);
  fx_open(&f, EMPTY, NULL);
  fx_plan(&f, 0);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 3);
  fake_set_delay_for("t", 0.2);
  f.ao.parallelism = 8;
  fx_apply_ok(&f);
  fx_counts(&f, .created = 1, .deleted = 2); /* k, and the orphans */
  ck_assert_uint_eq(fake_stat(FAKE_STAT_DELETE_REFUSED), 0);
  ck_assert_int_lt(fake_log_pos(FAKE_OP_DELETE, "t", 1), fake_log_pos(FAKE_OP_DELETE, "g", 0));
  ck_assert_uint_eq(fake_count(NULL, NULL), 1);
  fx_close(&f);
}
END_TEST

/* An object of another type that carries one of our addresses is not that
 * resource: it is an orphan (deleted), and the resource is created. */
START_TEST(other_type_at_address_is_orphan)
{
  fx f;
  size_t i;
  int create = 0, del = 0;

  ck_assert_int_eq(fake_seed("fake.group", "fx-imposter", "fx", "solo", "h", NULL, NULL), 0);
  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  for(i = 0; i < drover_plan_count(f.plan); i++) {
    if(strcmp(drover_plan_address(f.plan, i), "solo"))
      continue;
    if(!strcmp(drover_plan_type(f.plan, i), "fake.thing"))
      create += drover_plan_action(f.plan, i) == DROVER_ACTION_CREATE;
    else if(!strcmp(drover_plan_type(f.plan, i), "fake.group"))
      del += drover_plan_action(f.plan, i) == DROVER_ACTION_DELETE;
  }
  ck_assert_int_eq(create, 1);
  ck_assert_int_eq(del, 1);
  fx_apply_ok(&f);
  fx_counts(&f, .created = 4, .deleted = 1);
  ck_assert_ptr_null(fake_get("fake.group", "fx-imposter"));
  ck_assert_str_eq(prop_str("fake.thing", "fx-solo", "image"), "solo");
  fx_close(&f);
  fx_converged(TPL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------
 * Order that holds when the dependency is slow
 */

/* depends_on and a reference to a name known at plan time both order
 * the creates: with the dependency slow and everything else instant, the
 * dependents still start only after it finished. */
START_TEST(create_order_depends_on_and_known_name)
{
  fx f;

  fx_open(&f, TPL_ORDER, NULL);
  fx_plan(&f, 0);
  fake_set_delay_for("a", 0.2);
  f.ao.parallelism = 8;
  fx_apply_ok(&f);
  fx_counts(&f, .created = 3);
  ck_assert_int_ge(fake_log_pos(FAKE_OP_CREATE, "a", 1), 0);
  ck_assert_int_lt(fake_log_pos(FAKE_OP_CREATE, "a", 1),
                   fake_log_pos(FAKE_OP_CREATE, "b", 0));
  ck_assert_int_lt(fake_log_pos(FAKE_OP_CREATE, "a", 1),
                   fake_log_pos(FAKE_OP_CREATE, "c", 0));
  fx_close(&f);
}
END_TEST

/* The same order on destroy (among objects of one type; across types the
 * type's delete_order decides): slow dependents are gone before what
 * they depend on is deleted. */
START_TEST(delete_order_depends_on)
{
  fx f;

  fx_open(&f, TPL_ORDER, NULL);
  fx_plan(&f, 0);
  fx_apply_ok(&f);
  fx_plan(&f, DROVER_PLAN_DESTROY);
  fake_set_delay_for("b", 0.2);
  fake_set_delay_for("c", 0.2);
  f.ao.parallelism = 8;
  fx_apply_ok(&f);
  fx_counts(&f, .deleted = 3);
  ck_assert_int_lt(fake_log_pos(FAKE_OP_DELETE, "b", 1),
                   fake_log_pos(FAKE_OP_DELETE, "a", 0));
  ck_assert_int_lt(fake_log_pos(FAKE_OP_DELETE, "c", 1),
                   fake_log_pos(FAKE_OP_DELETE, "a", 0));
  fx_close(&f);
}
END_TEST

/* ------------------------------------------------------------------------
 * Refresh and plan
 */

/* A property the template sets that is missing from the live object (an
 * out-of-band removal) is a difference. */
START_TEST(missing_live_property_is_a_difference)
{
  fx f;
  size_t i;
  int seen = 0;

  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  fx_apply_ok(&f);
  ck_assert_int_eq(fake_mutate("fake.thing", "fx-web-0", "tags", NULL), 0);
  ck_assert_int_eq(fake_mutate("fake.group", "fx-grp", "config", NULL), 0);
  fx_plan(&f, 0);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 2);
  for(i = 0; i < drover_plan_count(f.plan); i++) {
    const char *a = drover_plan_address(f.plan, i);
    if(!strcmp(a, "web[0]") || !strcmp(a, "grp")) {
      ck_assert_int_eq(drover_plan_action(f.plan, i), DROVER_ACTION_UPDATE);
      seen++;
    }
  }
  ck_assert_int_eq(seen, 2);
  fx_apply_ok(&f);
  fx_counts(&f, .updated = 2);
  fx_close(&f);
  fx_converged(TPL, NULL);
}
END_TEST

static Suite *faults_suite(void)
{
  Suite *s = suite_create("faults");
  TCase *tc = tcase_create("core");

  tcase_add_checked_fixture(tc, fx_setup, NULL);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, create_lost_response_adopted);
  tcase_add_test(tc, create_midway_converges);
  tcase_add_test(tc, create_permanent_after_vs_before);
  tcase_add_test(tc, update_lost_response_and_midway);
  tcase_add_test(tc, delete_lost_response_and_midway);
  tcase_add_test(tc, faults_before_every_op);
  tcase_add_test(tc, create_taken_name_refused);
  tcase_add_test(tc, delete_order_in_use);
  tcase_add_test(tc, delete_order_by_type_alone);
  tcase_add_test(tc, other_type_at_address_is_orphan);
  tcase_add_test(tc, create_order_depends_on_and_known_name);
  tcase_add_test(tc, delete_order_depends_on);
  tcase_add_test(tc, missing_live_property_is_a_difference);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(faults_suite());
}
