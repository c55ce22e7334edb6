/* check_nodes.c - node sets (nodes.c) and the repair loop's decisions
 * (reconcile.c): node stack names, one list per type for many node
 * stacks, parallel rate-limited apply with failure isolation, adoption of
 * orphan node stacks, and the decision table. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "fake_provider.h"
#include "run_suite.h"

/* One thing per node, named after it. */
static const char *NODE_TPL =
  "{\"drover\": 1, \"stack\": \"node\",\n"
  " \"params\": {\"node\": {\"type\": \"string\", \"pattern\": \"^[a-z][a-z0-9-]*$\"},\n"
  "            \"image\": {\"type\": \"string\", \"default\": \"img\"}},\n"
  " \"providers\": {\"fake\": {}},\n"
  " \"resources\": {\n"
  "  \"vm\": {\"type\": \"fake.thing\",\n"
  "         \"properties\": {\"name\": \"${params.node}\", \"image\": \"${params.image}\"}}},\n"
  " \"outputs\": {\"address\": {\"value\": \"${resources.vm.name}\"}}}\n";

static void setup(void)
{
  ck_assert_int_eq(fake_register(), 0);
  fake_reset();
}

typedef struct fx {
  drover_template *tpl;
  drover_nodeset *set;
  drover_error err;
} fx;

static void fx_open(fx *f, size_t n, const char *prefix)
{
  char name[32];
  size_t i;

  memset(f, 0, sizeof(*f));
  ck_assert_int_eq(drover_template_load_buffer(&f->tpl, NODE_TPL, strlen(NODE_TPL),
                                               "node.json", &f->err), 0);
  ck_assert_int_eq(drover_nodeset_new(&f->set, f->tpl, NULL, &f->err), 0);
  for(i = 0; i < n; i++) {
    snprintf(name, sizeof(name), "%s%zu", prefix, i);
    ck_assert_msg(drover_nodeset_add(f->set, name, NULL, &f->err) == 0, "%s", f->err.text);
  }
}

static void fx_close(fx *f)
{
  drover_nodeset_free(f->set);
  drover_template_free(f->tpl);
}

START_TEST(node_stack_names)
{
  char buf[64];
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_eq(drover_node_stack_name(buf, sizeof(buf), "cloud-12", &err), 0);
  ck_assert_str_eq(buf, "node-cloud-12");
  ck_assert_str_eq(drover_node_of_stack("node-cloud-12"), "cloud-12");
  ck_assert_ptr_null(drover_node_of_stack("node-"));
  ck_assert_ptr_null(drover_node_of_stack("job-12-web"));
  ck_assert_ptr_null(drover_node_of_stack(NULL));
  /* Stack names are lowercase: a node name that is not cannot be one,
   * and says so rather than being folded onto another node's stack. */
  ck_assert_int_eq(drover_node_stack_name(buf, sizeof(buf), "Cloud1", &err), DROVER_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.text, "Cloud1"));
  drover_error_clear(&err);
  ck_assert_int_eq(drover_node_stack_name(buf, sizeof(buf), "a_b", &err), DROVER_E_ARG);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_node_stack_name(buf, sizeof(buf), "", &err), DROVER_E_ARG);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_node_stack_name(buf, sizeof(buf),
                   "a123456789012345678901234567890123456789012345678901234567890", &err),
                   DROVER_E_ARG);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_node_stack_name(buf, 8, "cloud1", &err), DROVER_E_ARG);
}
END_TEST

START_TEST(nodeset_duplicate_node)
{
  fx f;

  fx_open(&f, 3, "x");
  ck_assert_int_eq(drover_nodeset_add(f.set, "x1", NULL, &f.err), 0);
  ck_assert_int_eq(drover_nodeset_refresh(f.set, 0, &f.err), DROVER_E_ARG);
  ck_assert_ptr_nonnull(strstr(f.err.text, "\"x1\" given twice"));
  ck_assert_uint_eq(fake_calls(FAKE_OP_LIST, NULL), 0);
  fx_close(&f);
}
END_TEST

/* 40 nodes: one list per type in all, then one create each, at most
 * `parallelism` at once; each node is its own stack. */
START_TEST(nodeset_one_list_for_all)
{
  fx f;
  drover_nodeset_opts o = DROVER_NODESET_OPTS_INIT;
  size_t i;
  drover_node_live lv;

  fx_open(&f, 40, "c");
  ck_assert_int_eq(drover_nodeset_refresh(f.set, 0, &f.err), 0);
  ck_assert_uint_eq(fake_calls(FAKE_OP_LIST, NULL), 2); /* fake.thing, fake.group */
  fake_set_delay(0.01);
  o.parallelism = 5;
  o.apply.retry_base = 0.001;
  ck_assert_int_eq(drover_nodeset_apply(f.set, NULL, 0, &o, &f.err), 0);
  ck_assert_uint_eq(fake_calls(FAKE_OP_CREATE, "fake.thing"), 40);
  ck_assert_uint_le(fake_max_concurrent(), 5);
  ck_assert_uint_ge(fake_max_concurrent(), 2);
  ck_assert_uint_eq(fake_count("fake.thing", "node-c7"), 1);
  {
    json_t *g = fake_get("fake.thing", "c7"); /* named by the template: the node */
    ck_assert_ptr_nonnull(g);
    json_decref(g);
  }
  ck_assert_uint_eq(fake_calls(FAKE_OP_LIST, NULL), 2); /* apply lists nothing */
  /* A second set sees them all complete, again with one list per type. */
  fx_close(&f);
  fake_reset_counts();
  fx_open(&f, 40, "c");
  ck_assert_int_eq(drover_nodeset_refresh(f.set, 0, &f.err), 0);
  ck_assert_uint_eq(fake_calls(FAKE_OP_LIST, NULL), 2);
  for(i = 0; i < 40; i++) {
    ck_assert_int_eq(drover_nodeset_live(&lv, f.set, i, &f.err), 0);
    ck_assert_uint_eq(lv.objects, 1);
    ck_assert_int_eq(lv.complete, 1);
  }
  fx_close(&f);
}
END_TEST

/* One node's failure does not stop the others, and each node's outcome
 * is its own; the done callback sees every node once. */
static size_t done_calls, done_failed;
static void count_done(void *ud, size_t i, drover_code rc, const drover_error *err)
{
  (void)ud;
  (void)i;
  done_calls++;
  if(rc) {
    done_failed++;
    ck_assert_int_ne(err->code, 0); /* the node's own error comes along */
  }
}

START_TEST(nodeset_failure_isolated)
{
  fx f;
  drover_nodeset_opts o = DROVER_NODESET_OPTS_INIT;
  size_t i, bad = 0;

  fx_open(&f, 6, "f");
  ck_assert_int_eq(drover_nodeset_refresh(f.set, 0, &f.err), 0);
  /* Every node's resource is "vm": the first create fails for good. */
  fake_fail(FAKE_OP_CREATE, "vm", 1, DROVER_E_PROVIDER);
  o.done = count_done;
  o.apply.retry_base = 0.001;
  done_calls = done_failed = 0;
  ck_assert_int_eq(drover_nodeset_apply(f.set, NULL, 0, &o, &f.err), DROVER_E_PARTIAL);
  ck_assert_uint_eq(done_calls, 6);
  ck_assert_uint_eq(done_failed, 1);
  ck_assert_uint_eq(fake_count("fake.thing", NULL), 5);
  for(i = 0; i < 6; i++)
    if(drover_nodeset_result(f.set, i, NULL, NULL))
      bad++;
  ck_assert_uint_eq(bad, 1);
  fx_close(&f);
}
END_TEST

/* A transient fault is retried inside the node's apply. */
START_TEST(nodeset_transient_retried)
{
  fx f;
  drover_nodeset_opts o = DROVER_NODESET_OPTS_INIT;

  fx_open(&f, 3, "t");
  ck_assert_int_eq(drover_nodeset_refresh(f.set, 0, &f.err), 0);
  fake_fail(FAKE_OP_CREATE, "vm", 2, DROVER_E_TRANSIENT);
  o.apply.retry_base = 0.001;
  ck_assert_int_eq(drover_nodeset_apply(f.set, NULL, 0, &o, &f.err), 0);
  ck_assert_uint_eq(fake_count("fake.thing", NULL), 3);
  ck_assert_uint_eq(fake_calls(FAKE_OP_CREATE, NULL), 5);
  fx_close(&f);
}
END_TEST

/* The rate limit spaces node starts: 6 nodes at 50/s take >= 0.1 s. */
START_TEST(nodeset_rate_limit)
{
  fx f;
  drover_nodeset_opts o = DROVER_NODESET_OPTS_INIT;
  double t0;

  fx_open(&f, 6, "r");
  ck_assert_int_eq(drover_nodeset_refresh(f.set, 0, &f.err), 0);
  o.rate = 50;
  t0 = drover_now();
  ck_assert_int_eq(drover_nodeset_apply(f.set, NULL, 0, &o, &f.err), 0);
  ck_assert(drover_now() - t0 >= 0.099);
  fx_close(&f);
}
END_TEST

/* Destroy with a selection: only the chosen nodes' objects go. Objects
 * of other stacks (a job's, a node not in the set) are not touched, and
 * ADOPT brings the node stacks the set did not hold. */
START_TEST(nodeset_destroy_select_and_adopt)
{
  fx f;
  drover_nodeset_opts o = DROVER_NODESET_OPTS_INIT;
  unsigned char which[3] = {1, 0, 1};
  size_t i, n;
  int saw_orphan = 0;

  fx_open(&f, 3, "d");
  ck_assert_int_eq(drover_nodeset_refresh(f.set, 0, &f.err), 0);
  ck_assert_int_eq(drover_nodeset_apply(f.set, NULL, 0, &o, &f.err), 0);
  ck_assert_int_eq(fake_seed("fake.thing", "job-1-x-web", "job-1-x", "web", NULL, NULL,
                             "{\"image\": \"i\"}"), 0);
  ck_assert_int_eq(fake_seed("fake.thing", "gone1", "node-gone1", "vm", NULL, NULL,
                             "{\"image\": \"i\"}"), 0);
  fx_close(&f);
  fx_open(&f, 3, "d");
  ck_assert_int_eq(drover_nodeset_refresh(f.set, 0, &f.err), 0);
  ck_assert_int_eq(drover_nodeset_apply(f.set, which, DROVER_PLAN_DESTROY, &o, &f.err), 0);
  ck_assert_uint_eq(fake_count("fake.thing", "node-d0"), 0);
  ck_assert_uint_eq(fake_count("fake.thing", "node-d1"), 1);
  ck_assert_uint_eq(fake_count("fake.thing", "node-d2"), 0);
  ck_assert_uint_eq(fake_count("fake.thing", "job-1-x"), 1);
  ck_assert_uint_eq(fake_count("fake.thing", "node-gone1"), 1);
  fx_close(&f);

  fx_open(&f, 1, "d");
  fake_reset_counts();
  ck_assert_int_eq(drover_nodeset_refresh(f.set, DROVER_NODESET_ADOPT, &f.err), 0);
  ck_assert_uint_eq(fake_calls(FAKE_OP_LIST, NULL), 2);
  n = drover_nodeset_count(f.set);
  ck_assert_uint_eq(n, 3); /* d0, then d1 and gone1 adopted; never job-1-x */
  for(i = 0; i < n; i++) {
    drover_node_live lv;
    if(!drover_nodeset_adopted(f.set, i))
      continue;
    ck_assert_int_eq(drover_nodeset_live(&lv, f.set, i, &f.err), 0);
    ck_assert_uint_eq(lv.objects, 1);
    if(!strcmp(drover_nodeset_node(f.set, i), "gone1"))
      saw_orphan = 1;
  }
  ck_assert(saw_orphan);
  ck_assert_int_eq(drover_nodeset_apply(f.set, NULL, DROVER_PLAN_DESTROY, &o, &f.err), 0);
  ck_assert_uint_eq(fake_count("fake.thing", NULL), 1); /* only the job's */
  fx_close(&f);
}
END_TEST

/* One VM per node whose ID the cloud assigns; the fake's fakeid.vm takes
 * many deletes in one call (del_many). */
static const char *VM_TPL =
  "{\"drover\": 1, \"stack\": \"node\",\n"
  " \"params\": {\"node\": {\"type\": \"string\"}},\n"
  " \"providers\": {\"fakeid\": {}},\n"
  " \"resources\": {\"vm\": {\"type\": \"fakeid.vm\", \"properties\": {\"image\": \"img\"}}}}\n";

/* A destroy of many nodes (a suspend) deletes the nodes under way
 * together: 10 nodes on 5 workers are two del_many calls of 5, not 10
 * deletes; a node whose delete is refused fails alone. */
START_TEST(nodeset_destroy_batched)
{
  drover_template *tpl = NULL;
  drover_nodeset *set = NULL;
  drover_nodeset_opts o = DROVER_NODESET_OPTS_INIT;
  drover_error err;
  char name[16];
  size_t i, bad = 0;

  ck_assert_int_eq(fake_register_server_id(), 0);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_template_load_buffer(&tpl, VM_TPL, strlen(VM_TPL), "vm.json", &err), 0);
  ck_assert_int_eq(drover_nodeset_new(&set, tpl, NULL, &err), 0);
  for(i = 0; i < 10; i++) {
    snprintf(name, sizeof(name), "b%zu", i);
    ck_assert_int_eq(drover_nodeset_add(set, name, NULL, &err), 0);
  }
  o.parallelism = 5;
  o.apply.retry_base = 0.001;
  ck_assert_int_eq(drover_nodeset_refresh(set, 0, &err), 0);
  ck_assert_int_eq(drover_nodeset_apply(set, NULL, 0, &o, &err), 0);
  ck_assert_uint_eq(fake_count("fakeid.vm", NULL), 10);
  ck_assert_int_eq(drover_nodeset_refresh(set, 0, &err), 0);
  ck_assert_int_eq(drover_nodeset_apply(set, NULL, DROVER_PLAN_DESTROY, &o, &err), 0);
  ck_assert_uint_eq(fake_calls(FAKE_OP_DELETE_MANY, "fakeid.vm"), 2);
  ck_assert_uint_eq(fake_calls(FAKE_OP_DELETE, "fakeid.vm"), 10);
  ck_assert_uint_eq(fake_count("fakeid.vm", NULL), 0);

  /* Again, with the first delete refused for good. */
  ck_assert_int_eq(drover_nodeset_refresh(set, 0, &err), 0);
  ck_assert_int_eq(drover_nodeset_apply(set, NULL, 0, &o, &err), 0);
  fake_reset_counts();
  fake_fail(FAKE_OP_DELETE, "vm", 1, DROVER_E_PROVIDER);
  ck_assert_int_eq(drover_nodeset_refresh(set, 0, &err), 0);
  ck_assert_int_eq(drover_nodeset_apply(set, NULL, DROVER_PLAN_DESTROY, &o, &err),
                   DROVER_E_PARTIAL);
  ck_assert_uint_eq(fake_calls(FAKE_OP_DELETE_MANY, "fakeid.vm"), 2);
  ck_assert_uint_eq(fake_count("fakeid.vm", NULL), 1);
  for(i = 0; i < 10; i++)
    if(drover_nodeset_result(set, i, NULL, NULL))
      bad++;
  ck_assert_uint_eq(bad, 1);
  drover_nodeset_free(set);
  drover_template_free(tpl);
}
END_TEST

/* A busy node (someone holds its lock) fails as locked without waiting,
 * and is applied after the wait when lock_wait allows it. */
START_TEST(nodeset_busy_node)
{
  fx f;
  drover_nodeset_opts o = DROVER_NODESET_OPTS_INIT;
  drover_stack *other = NULL;
  drover_template *t2 = NULL;
  const char *vars[] = {"node=b0", NULL};
  drover_error e;

  fx_open(&f, 2, "b");
  ck_assert_int_eq(drover_nodeset_refresh(f.set, 0, &f.err), 0);
  drover_error_clear(&e);
  ck_assert_int_eq(fake_stack_open(&t2, &other, NODE_TPL, vars, "node-b0", &e), 0);
  ck_assert_int_eq(drover_stack_lock(other, 0, &e), 0);
  ck_assert_int_eq(drover_nodeset_apply(f.set, NULL, 0, &o, &f.err), DROVER_E_PARTIAL);
  drover_error_clear(&e);
  ck_assert_int_eq(drover_nodeset_result(f.set, 0, NULL, &e), DROVER_E_LOCKED);
  ck_assert_int_eq(drover_nodeset_result(f.set, 1, NULL, NULL), 0);
  ck_assert_uint_eq(fake_count("fake.thing", "node-b0"), 0);
  drover_stack_unlock(other);
  fake_stack_close(t2, other);
  o.lock_wait = 5;
  drover_error_clear(&f.err);
  ck_assert_int_eq(drover_nodeset_apply(f.set, NULL, 0, &o, &f.err), 0);
  ck_assert_uint_eq(fake_count("fake.thing", "node-b0"), 1);
  fx_close(&f);
}
END_TEST

/* ------------------------------------------------------------------------
 * The decision table
 */

typedef struct row {
  const char *what;
  drover_rc_node in;
  unsigned want;
} row;

#define N(...) {__VA_ARGS__}

START_TEST(reconcile_table)
{
  /* name, in_slurm, ~, #, %, down, drain, reason, reason_age, busy,
   * objects, complete, age */
  static const row rows[] = {
    {"idle~ without instance: fine",
     N("n", 1, 1, 0, 0, 0, 0, NULL, -1, 0, 0, 0, -1), 0},
    {"idle~ with an old instance: delete",
     N("n", 1, 1, 0, 0, 0, 0, NULL, -1, 0, 1, 1, 400), DROVER_RC_DELETE},
    {"idle~ with a young instance: grace",
     N("n", 1, 1, 0, 0, 0, 0, NULL, -1, 0, 1, 1, 10), 0},
    {"idle~ with an instance of unknown age: delete",
     N("n", 1, 1, 0, 0, 0, 0, NULL, -1, 0, 1, 0, -1), DROVER_RC_DELETE},
    {"busy node: nothing, whatever it looks like",
     N("n", 1, 1, 0, 0, 1, 0, "drover: x", 999, 1, 1, 0, 999), 0},
    {"down~ drover reason, retry time passed: reset",
     N("n", 1, 1, 0, 0, 1, 0, "drover: lxd: no image", 400, 0, 0, 0, -1), DROVER_RC_RESET},
    {"down~ drover reason, too soon: nothing",
     N("n", 1, 1, 0, 0, 1, 0, "drover: lxd: no image", 10, 0, 0, 0, -1), 0},
    {"down~ ResumeTimeout with a dead instance: delete and reset",
     N("n", 1, 1, 0, 0, 1, 0, "ResumeTimeout reached", 400, 0, 1, 0, 400),
     DROVER_RC_DELETE | DROVER_RC_RESET},
    {"down~ by an admin: left down",
     N("n", 1, 1, 0, 0, 1, 0, "bad dimm", 400, 0, 0, 0, -1), 0},
    {"powering up without instance (resume died): create",
     N("n", 1, 1, 1, 0, 0, 0, NULL, -1, 0, 0, 0, -1), DROVER_RC_CREATE},
    {"powering up, instance complete: wait for slurmd",
     N("n", 1, 1, 1, 0, 0, 0, NULL, -1, 0, 1, 1, 5), 0},
    {"powering up, drover gave up: leave it to Slurm",
     N("n", 1, 1, 1, 0, 1, 0, "drover: x", 1, 0, 0, 0, -1), 0},
    {"up, instance gone behind Slurm's back: create",
     N("n", 1, 0, 0, 0, 0, 0, NULL, -1, 0, 0, 0, -1), DROVER_RC_CREATE},
    {"up, instance broken (stopped): create",
     N("n", 1, 0, 0, 0, 0, 0, NULL, -1, 0, 1, 0, 100), DROVER_RC_CREATE},
    {"up and complete: fine",
     N("n", 1, 0, 0, 0, 0, 0, NULL, -1, 0, 1, 1, 100), 0},
    {"up, not responding, instance gone: create",
     N("n", 1, 0, 0, 0, 1, 0, "Not responding", 100, 0, 0, 0, -1), DROVER_RC_CREATE},
    {"up, DOWN by an admin, instance gone: left alone",
     N("n", 1, 0, 0, 0, 1, 0, "maintenance", 100, 0, 0, 0, -1), 0},
    {"up, DOWN by drover, cause gone (instance complete): reset",
     N("n", 1, 0, 0, 0, 1, 0, "drover: timeout", 400, 0, 1, 1, 400), DROVER_RC_RESET},
    {"up, DOWN by drover, no instance: create and reset",
     N("n", 1, 0, 0, 0, 1, 0, "drover: timeout", 400, 0, 0, 0, -1),
     DROVER_RC_CREATE | DROVER_RC_RESET},
    {"pending power down with an old instance: delete (never create)",
     N("n", 1, 0, 0, 1, 1, 0, "drover: x", 1, 0, 1, 0, 400), DROVER_RC_DELETE},
    {"pending power down without instance: nothing",
     N("n", 1, 0, 0, 1, 1, 0, "drover: x", 1, 0, 0, 0, -1), 0},
    {"orphan: Slurm has no such node, old: delete",
     N("zz", 0, 0, 0, 0, 0, 0, NULL, -1, 0, 1, 0, 400), DROVER_RC_DELETE},
    {"orphan, young: grace",
     N("zz", 0, 0, 0, 0, 0, 0, NULL, -1, 0, 1, 0, 3), 0},
    {"no node, no instance: nothing",
     N("zz", 0, 0, 0, 0, 0, 0, NULL, -1, 0, 0, 0, -1), 0},
  };
  drover_rc_policy pol = {300, 300};
  size_t i;

  for(i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    unsigned got = 99;
    const char *why = NULL;
    drover_reconcile_decide(&got, &why, &rows[i].in, &pol);
    ck_assert_msg(got == rows[i].want, "%s: got actions %u, want %u (%s)", rows[i].what,
                  got, rows[i].want, why ? why : "?");
    ck_assert_msg(why && *why, "%s: no reason given", rows[i].what);
  }
}
END_TEST

static Suite *nodes_suite(void)
{
  Suite *s = suite_create("nodes");
  TCase *tc = tcase_create("core");

  tcase_add_checked_fixture(tc, setup, NULL);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, node_stack_names);
  tcase_add_test(tc, nodeset_duplicate_node);
  tcase_add_test(tc, nodeset_one_list_for_all);
  tcase_add_test(tc, nodeset_failure_isolated);
  tcase_add_test(tc, nodeset_transient_retried);
  tcase_add_test(tc, nodeset_rate_limit);
  tcase_add_test(tc, nodeset_destroy_select_and_adopt);
  tcase_add_test(tc, nodeset_destroy_batched);
  tcase_add_test(tc, nodeset_busy_node);
  tcase_add_test(tc, reconcile_table);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(nodes_suite());
}
