/* check_serverid.c - resource types whose IDs the cloud assigns
 * (DROVER_RTYPE_SERVER_ID), with the fake provider's "fakeid" mode:
 * create, refresh, plan and destroy work; references to .id resolve after
 * create; the plan shows the ID once known; a create the cloud accepted
 * but whose answer was lost is retried with the same idempotency token and
 * makes no duplicate; one interrupted by a crash is adopted by its labels
 * on the next run; deletes ready together go to the provider's del_many
 * in one call, with results per object. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fixture.h"

static const char TPL[] =
  "{\"stack\": \"sid\", \"resources\": {\n"
  "  \"vm\": {\"type\": \"fakeid.vm\", \"count\": 2,\n"
  "          \"properties\": {\"image\": \"busybox\", \"size\": 2}},\n"
  "  \"peer\": {\"type\": \"fake.thing\",\n"
  "            \"properties\": {\"image\": \"busybox\",\n"
  "                           \"tags\": {\"vm\": \"${resources.vm[0].id}\"}}}}}\n";

/* The ID (cloud name) of the fakeid.vm labelled address; "" if none. */
static const char *vm_id(const drover_stack *st, const char *address)
{
  size_t i;

  for(i = 0; i < st->ninsts; i++)
    if(!strcmp(st->insts[i].address, address) && st->insts[i].live)
      return st->insts[i].live->name;
  return "";
}

START_TEST(create_refresh_plan_destroy)
{
  fx f;
  char *text, *json = NULL, want[64], id0[32];
  json_t *peer, *root;
  size_t i;

  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 3);
  /* Before create the ID is unknown, and no name is invented for it. */
  text = fx_render(f.plan, 0);
  ck_assert_ptr_nonnull(strstr(text, "id = (known after apply)"));
  ck_assert_ptr_null(strstr(text, "name = \"sid-vm"));
  free(text);
  ck_assert_int_eq(drover_plan_to_json(&json, f.plan, &f.err), DROVER_OK);
  root = json_loads(json, 0, NULL);
  free(json);
  for(i = 0; i < json_array_size(json_object_get(root, "resources")); i++) {
    json_t *r = json_array_get(json_object_get(root, "resources"), i);
    if(!strcmp(json_string_value(json_object_get(r, "type")), "fakeid.vm"))
      ck_assert(json_is_null(json_object_get(r, "id")));
    else
      ck_assert_ptr_null(json_object_get(r, "id"));
  }
  json_decref(root);

  fx_apply_ok(&f);
  fx_counts(&f, .created = 3);
  ck_assert_uint_eq(fake_count("fakeid.vm", "sid"), 2);

  /* The peer got vm[0]'s ID, assigned by the cloud during this apply. */
  fx_plan(&f, 0);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 0);
  /* Copied: the next refresh frees what vm_id points into. */
  snprintf(id0, sizeof(id0), "%s", vm_id(f.stack, "vm[0]"));
  ck_assert_int_eq(strncmp(id0, "i-", 2), 0);
  ck_assert_str_ne(id0, vm_id(f.stack, "vm[1]"));
  peer = fake_get("fake.thing", f.stack->insts[2].name);
  ck_assert_ptr_nonnull(peer);
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(
                     peer, "properties"), "tags"), "vm")), id0);
  json_decref(peer);

  /* A change that forces replacement shows the old ID. */
  ck_assert_int_eq(fake_mutate("fakeid.vm", id0, "image", "\"alpine\""), 0);
  fx_plan(&f, 0);
  text = fx_render(f.plan, 0);
  snprintf(want, sizeof(want), "(fakeid.vm %s) must be replaced", id0);
  ck_assert_msg(strstr(text, want) != NULL, "no \"%s\" in:\n%s", want, text);
  free(text);

  /* Destroy: the objects go by their IDs. */
  fx_plan(&f, DROVER_PLAN_DESTROY);
  fx_apply_ok(&f);
  fx_counts(&f, .deleted = 3);
  ck_assert_uint_eq(fake_count(NULL, "sid"), 0);
  fx_close(&f);
}
END_TEST

static const char TPL_MANY[] =
  "{\"stack\": \"sid\", \"resources\": {\n"
  "  \"vm\": {\"type\": \"fakeid.vm\", \"count\": 6,\n"
  "          \"properties\": {\"image\": \"busybox\"}}}}\n";

START_TEST(ready_deletes_go_in_one_call)
{
  fx f;

  fx_open(&f, TPL_MANY, NULL);
  fx_plan(&f, 0);
  fx_apply_ok(&f);
  fx_counts(&f, .created = 6);
  fx_plan(&f, DROVER_PLAN_DESTROY);
  fx_apply_ok(&f);
  fx_counts(&f, .deleted = 6);
  ck_assert_uint_eq(fake_calls(FAKE_OP_DELETE_MANY, "fakeid.vm"), 1);
  ck_assert_uint_eq(fake_calls(FAKE_OP_DELETE, "fakeid.vm"), 6);
  ck_assert_uint_eq(fake_count(NULL, "sid"), 0);
  fx_close(&f);
}
END_TEST

START_TEST(batch_failures_stay_per_object)
{
  fx f;
  drover_code rc;

  fx_open(&f, TPL_MANY, NULL);
  fx_plan(&f, 0);
  fx_apply_ok(&f);
  /* vm[2] is refused for good, vm[4] once (transient: retried alone). */
  fake_fail(FAKE_OP_DELETE, "vm[2]", 1000, DROVER_E_PROVIDER);
  fake_fail(FAKE_OP_DELETE, "vm[4]", 1, DROVER_E_TRANSIENT);
  fx_plan(&f, DROVER_PLAN_DESTROY);
  rc = fx_apply(&f);
  ck_assert_int_eq(rc, DROVER_E_PARTIAL);
  fx_counts(&f, .deleted = 5, .failed = 1);
  ck_assert_str_eq(f.err.address, "vm[2]");
  ck_assert_uint_eq(fake_calls(FAKE_OP_DELETE_MANY, "fakeid.vm"), 1);
  /* Six in the batch's call, then vm[4] alone through del() (a transient
   * failure is retried); vm[2]'s refusal is final. */
  ck_assert_uint_eq(fake_calls(FAKE_OP_DELETE, "fakeid.vm"), 7);
  ck_assert_uint_eq(fake_count(NULL, "sid"), 1);
  fx_close(&f);
}
END_TEST

START_TEST(lost_response_retried_without_duplicate)
{
  fx f;

  /* The cloud makes each VM, but the first answer for it never comes. */
  fake_lose_create_responses(1);
  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  fx_apply_ok(&f);
  fx_counts(&f, .created = 3);
  ck_assert_uint_eq(fake_calls(FAKE_OP_CREATE, "fakeid.vm"), 3);
  ck_assert_uint_eq(fake_count("fakeid.vm", "sid"), 2);
  fx_close(&f);
}
END_TEST

START_TEST(without_tokens_a_lost_response_duplicates)
{
  fx f;

  /* The control: a cloud that ignores the token makes a second VM on the
   * retry, so the test above really depends on the token. */
  fake_set_honour_tokens(0);
  fake_lose_create_responses(1);
  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  fx_apply_ok(&f);
  fx_counts(&f, .created = 3);
  ck_assert_uint_eq(fake_count("fakeid.vm", "sid"), 3);
  fx_close(&f);
}
END_TEST

START_TEST(crash_after_accept_is_adopted)
{
  fx f;
  char id0[32];

  /* Run 1: every create of vm[0] is accepted by the cloud but reported as
   * failed, and apply gives up (max_retries 1 and a lost answer each time):
   * the same as a drover killed right after the cloud said yes. */
  fake_lose_create_responses(100);
  fx_open(&f, TPL, NULL);
  f.ao.max_retries = 1;
  fx_plan(&f, 0);
  ck_assert_int_eq(fx_apply(&f), DROVER_E_PARTIAL);
  ck_assert_uint_eq(fake_count("fakeid.vm", "sid"), 2);
  fx_close(&f);

  /* Run 2, a fresh process's view: refresh finds both by their labels,
   * plans no create for them, and makes no duplicate. */
  fake_lose_create_responses(0);
  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  snprintf(id0, sizeof(id0), "%s", vm_id(f.stack, "vm[0]"));
  ck_assert_int_eq(strncmp(id0, "i-", 2), 0);
  ck_assert_int_eq(drover_plan_action(f.plan, 0), DROVER_ACTION_NOOP);
  ck_assert_int_eq(drover_plan_action(f.plan, 1), DROVER_ACTION_NOOP);
  fx_apply_ok(&f);
  fx_counts(&f, .created = 1);
  ck_assert_uint_eq(fake_count("fakeid.vm", "sid"), 2);
  ck_assert_str_eq(vm_id(f.stack, "vm[0]"), id0);
  ck_assert_uint_eq(fake_count("fake.thing", "sid"), 1);
  fx_close(&f);
}
END_TEST

START_TEST(token_stable_and_generational)
{
  fx f;
  json_t *a;
  char first[64];

  /* The create's token reached the cloud; a replacement brings a new one. */
  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  fx_apply_ok(&f);
  fx_plan(&f, 0);
  snprintf(first, sizeof(first), "%s", vm_id(f.stack, "vm[0]"));
  ck_assert_int_eq(fake_mutate("fakeid.vm", first, "image", "\"alpine\""), 0);
  fx_plan(&f, 0);
  /* The peer holds vm[0]'s ID: the replacement gives vm[0] a new one, so
   * the peer is planned as an update to a value known after apply. */
  ck_assert_int_eq(drover_plan_action(f.plan, 0), DROVER_ACTION_REPLACE);
  ck_assert_int_eq(drover_plan_action(f.plan, 2), DROVER_ACTION_UPDATE);
  fx_apply_ok(&f);
  fx_counts(&f, .updated = 1, .replaced = 1);
  /* Had the token repeated, the cloud would have answered with the old
   * (deleted) VM instead of making a new one. */
  ck_assert_uint_eq(fake_count("fakeid.vm", "sid"), 2);
  a = fake_get("fakeid.vm", first);
  ck_assert_ptr_null(a);
  fx_plan(&f, 0);
  ck_assert_str_ne(vm_id(f.stack, "vm[0]"), first);
  ck_assert_int_eq(strncmp(vm_id(f.stack, "vm[0]"), "i-", 2), 0);
  /* Converged in one apply: the peer already holds the new ID. */
  ck_assert_uint_eq(drover_plan_changes(f.plan), 0);
  {
    json_t *peer = fake_get("fake.thing", f.stack->insts[2].name);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
                       json_object_get(peer, "properties"), "tags"), "vm")),
                     vm_id(f.stack, "vm[0]"));
    json_decref(peer);
  }
  fx_close(&f);
}
END_TEST

START_TEST(duplicate_claim_resolved_by_labels)
{
  fx f;
  char id0[32];
  size_t i, deletes = 0;

  /* Names say nothing where the cloud assigns IDs: a second object with
   * vm[0]'s labels (a replacement cut short between create and delete)
   * is drover's own leftover, deleted; the one built from the desired
   * state stays. Nothing is set aside as a "copy" by its name. */
  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  fx_apply_ok(&f);
  fx_plan(&f, 0);
  snprintf(id0, sizeof(id0), "%s", vm_id(f.stack, "vm[0]"));
  ck_assert_int_eq(fake_seed("fakeid.vm", "i-leftover", "sid", "vm[0]", "0000000000000000", "",
                             "{\"image\": \"busybox\", \"size\": 1}"), 0);
  fx_plan(&f, 0);
  ck_assert_str_eq(vm_id(f.stack, "vm[0]"), id0);
  for(i = 0; i < drover_plan_count(f.plan); i++)
    if(drover_plan_action(f.plan, i) == DROVER_ACTION_DELETE) {
      deletes++;
      ck_assert_str_eq(drover_plan_address(f.plan, i), "vm[0]");
    }
  ck_assert_uint_eq(deletes, 1);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 1);
  fx_apply_ok(&f);
  fx_counts(&f, .deleted = 1);
  ck_assert_ptr_null(fake_get("fakeid.vm", "i-leftover"));
  ck_assert_uint_eq(fake_count("fakeid.vm", "sid"), 2);
  fx_close(&f);
}
END_TEST

static Suite *serverid_suite(void)
{
  Suite *s = suite_create("serverid");
  TCase *tc = tcase_create("core");

  tcase_add_checked_fixture(tc, fx_setup_server_id, NULL);
  tcase_add_test(tc, create_refresh_plan_destroy);
  tcase_add_test(tc, ready_deletes_go_in_one_call);
  tcase_add_test(tc, batch_failures_stay_per_object);
  tcase_add_test(tc, lost_response_retried_without_duplicate);
  tcase_add_test(tc, without_tokens_a_lost_response_duplicates);
  tcase_add_test(tc, crash_after_accept_is_adopted);
  tcase_add_test(tc, token_stable_and_generational);
  tcase_add_test(tc, duplicate_claim_resolved_by_labels);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(serverid_suite());
}
