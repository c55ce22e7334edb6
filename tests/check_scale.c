/* check_scale.c - the graph and apply's scheduling at large N: results,
 * never times (times are bench/engine-scale's). A chain 20,000 blocks
 * deep (the topological sort must not recurse that deep), a fan-in over a
 * block of count 20,000, a cycle through 20,000 blocks, and apply's
 * barriers: a failure in one block skips every dependent, and deletes go
 * by delete_order, with thousands of nodes on each side.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine.h"
#include "fake_provider.h"
#include "run_suite.h"

#define BIG 20000

static drover_template *tpl;
static drover_stack *st;
static drover_error err;

typedef struct sbuf {
  char *p;
  size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_add(sbuf *b, const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  ck_assert_int_ge(n, 0);
  if(b->len + (size_t)n + 1 > b->cap) {
    b->cap = 2 * (b->len + (size_t)n + 1);
    b->p = realloc(b->p, b->cap);
    ck_assert_ptr_nonnull(b->p);
  }
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

static void setup(void)
{
  ck_assert_int_eq(fake_register(), 0);
  fake_reset();
  drover_error_clear(&err);
  tpl = NULL;
  st = NULL;
}

static void teardown(void)
{
  fake_stack_close(tpl, st);
  tpl = NULL;
  st = NULL;
}

/* r0 <- r1 <- ... <- r(n-1), by reference (or by depends_on), and
 * optionally r0 depending on the last one (a cycle). */
static char *chain(size_t n, int by_depends_on, int cycle)
{
  sbuf b = {NULL, 0, 0};
  size_t i;

  sb_add(&b, "{\"stack\": \"sc\", \"resources\": {");
  for(i = 0; i < n; i++) {
    sb_add(&b, "%s\"r%zu\": {\"type\": \"fake.thing\", \"properties\": {\"image\": ",
           i ? "," : "", i);
    if(i && !by_depends_on)
      sb_add(&b, "\"${resources.r%zu.image}\"}}", i - 1);
    else if(i)
      sb_add(&b, "\"img\"}, \"depends_on\": [\"r%zu\"]}", i - 1);
    else if(cycle)
      sb_add(&b, "\"img\"}, \"depends_on\": [\"r%zu\"]}", n - 1);
    else
      sb_add(&b, "\"img\"}}");
  }
  sb_add(&b, "}}");
  return b.p;
}

static size_t topo_pos(size_t block)
{
  size_t i;

  for(i = 0; i < st->tpl->nblocks; i++)
    if(st->topo[i] == block)
      return i;
  ck_abort_msg("block %zu not in topo", block);
  return 0;
}

START_TEST(chain_by_reference)
{
  char *json = chain(BIG, 0, 0), label[32];
  size_t *pos, i;

  ck_assert_int_eq(fake_stack_open(&tpl, &st, json, NULL, NULL, &err), DROVER_OK);
  free(json);
  ck_assert_uint_eq(st->ninsts, BIG);
  /* Every block after the one it references; each names exactly it. */
  pos = calloc(BIG, sizeof(*pos));
  ck_assert_ptr_nonnull(pos);
  for(i = 0; i < BIG; i++)
    pos[st->topo[i]] = i + 1;
  for(i = 0; i < BIG; i++)
    ck_assert_uint_ne(pos[i], 0);
  for(i = 1; i < BIG; i++) {
    size_t b = dv_block_find(st->tpl, (snprintf(label, sizeof(label), "r%zu", i), label));
    size_t d = dv_block_find(st->tpl, (snprintf(label, sizeof(label), "r%zu", i - 1), label));
    ck_assert_uint_eq(b, i);
    ck_assert_uint_eq(st->block_ndeps[b], 1);
    ck_assert_uint_eq(st->block_deps[b][0], d);
    ck_assert_uint_lt(pos[d], pos[b]);
    ck_assert_str_eq(st->insts[b].deps, label);
  }
  ck_assert_str_eq(st->insts[0].deps, "");
  /* The value travelled down the whole chain. */
  ck_assert_str_eq(json_string_value(json_object_get(st->insts[BIG - 1].desired, "image")),
                   "img");
  ck_assert_uint_eq(dv_block_find(st->tpl, "r20000"), (size_t)-1);
  free(pos);
}
END_TEST

START_TEST(chain_by_depends_on)
{
  char *json = chain(BIG, 1, 0);

  ck_assert_int_eq(fake_stack_open(&tpl, &st, json, NULL, NULL, &err), DROVER_OK);
  free(json);
  /* Declaration order is already an order; the sort keeps it. */
  ck_assert_uint_eq(st->topo[0], 0);
  ck_assert_uint_eq(st->topo[BIG - 1], BIG - 1);
  ck_assert_uint_lt(topo_pos(BIG / 2 - 1), topo_pos(BIG / 2));
  ck_assert_str_eq(st->insts[BIG - 1].deps, "r19998");
}
END_TEST

START_TEST(cycle_through_every_block)
{
  char *json = chain(BIG, 1, 1);
  drover_code rc = fake_stack_open(&tpl, &st, json, NULL, NULL, &err);

  free(json);
  ck_assert_int_eq(rc, DROVER_E_CYCLE);
  /* Named from the block declared first, each followed by what it
   * depends on, cut to the error's size. */
  ck_assert_msg(!strncmp(err.text, "dependency cycle: r0 -> r19999 -> r19998 -> ", 44),
                "%s", err.text);
}
END_TEST

START_TEST(fan_in_over_a_large_count)
{
  sbuf b = {NULL, 0, 0};
  const json_t *members;

  sb_add(&b, "{\"stack\": \"sc\", \"resources\": {"
         "\"w\": {\"type\": \"fake.thing\", \"count\": %d, \"properties\": "
         "{\"image\": \"i-${count.index}\"}},"
         "\"lb\": {\"type\": \"fake.group\", \"properties\": "
         "{\"members\": \"${resources.w[*].image}\"}}},"
         "\"outputs\": {\"all\": {\"value\": \"${resources.w[*].name}\"}}}", BIG);
  ck_assert_int_eq(fake_stack_open(&tpl, &st, b.p, NULL, NULL, &err), DROVER_OK);
  free(b.p);
  ck_assert_uint_eq(st->ninsts, BIG + 1);
  ck_assert_uint_eq(st->block_ndeps[1], 1);
  members = json_object_get(st->insts[BIG].desired, "members");
  ck_assert_uint_eq(json_array_size(members), BIG);
  ck_assert_str_eq(json_string_value(json_array_get(members, 12345)), "i-12345");
  /* The label names the counted block, not each of its BIG instances. */
  ck_assert_str_eq(st->insts[BIG].deps, "w[*]");
}
END_TEST

/* Refresh evaluates again only where something can have changed: b reads
 * a's server-assigned id, c reads b's property, d reads nothing that
 * changes. A new a (a new id) must reach c through b. */
START_TEST(refresh_reevaluates_what_depends_on_the_cloud)
{
  const char *j = "{\"stack\":\"u\",\"resources\":{"
                  "\"a\":{\"type\":\"fake.thing\",\"properties\":{\"image\":\"i\"}},"
                  "\"b\":{\"type\":\"fake.thing\",\"properties\":{\"image\":\"${resources.a.id}\"}},"
                  "\"c\":{\"type\":\"fake.group\",\"properties\":{\"members\":"
                  "[\"${resources.b.image}\"]}},"
                  "\"d\":{\"type\":\"fake.group\",\"properties\":{\"members\":"
                  "[\"${resources.a.image}\"]}}}}";
  const json_t *m;
  char first[64];

  ck_assert_int_eq(fake_stack_open(&tpl, &st, j, NULL, NULL, &err), DROVER_OK);
  ck_assert_int_eq(st->insts[1].known, 0);
  ck_assert_int_eq(st->insts[2].known, 0);
  ck_assert_int_eq(st->insts[3].known, 1);
  ck_assert_int_eq(fake_seed("fake.thing", "u-a", "u", "a", "h", NULL,
                             "{\"image\": \"i\"}"), 0);
  ck_assert_int_eq(drover_stack_refresh(st, &err), DROVER_OK);
  ck_assert_int_eq(st->insts[1].known, 1);
  m = json_object_get(st->insts[2].desired, "members");
  ck_assert(json_is_string(json_array_get(m, 0)));
  snprintf(first, sizeof(first), "%s", json_string_value(json_array_get(m, 0)));
  ck_assert_str_eq(first, json_string_value(json_object_get(st->insts[1].desired, "image")));
  ck_assert_int_eq(st->insts[2].known, 1);
  ck_assert_str_eq(json_string_value(json_array_get(
                       json_object_get(st->insts[3].desired, "members"), 0)), "i");
  /* The same object again: nothing changes. */
  ck_assert_int_eq(drover_stack_refresh(st, &err), DROVER_OK);
  m = json_object_get(st->insts[2].desired, "members");
  ck_assert_str_eq(json_string_value(json_array_get(m, 0)), first);
  /* Replaced out of band: a new id, seen by b and through b by c. */
  ck_assert_int_eq(fake_remove("fake.thing", "u-a"), 0);
  ck_assert_int_eq(fake_seed("fake.thing", "u-a", "u", "a", "h", NULL,
                             "{\"image\": \"i\"}"), 0);
  ck_assert_int_eq(drover_stack_refresh(st, &err), DROVER_OK);
  m = json_object_get(st->insts[2].desired, "members");
  ck_assert_str_ne(json_string_value(json_array_get(m, 0)), first);
  ck_assert_str_eq(json_string_value(json_array_get(m, 0)),
                   json_string_value(json_object_get(st->insts[1].desired, "image")));
  /* Gone: unknown again, down the chain. */
  ck_assert_int_eq(fake_remove("fake.thing", "u-a"), 0);
  ck_assert_int_eq(drover_stack_refresh(st, &err), DROVER_OK);
  ck_assert(dv_is_unknown(json_object_get(st->insts[1].desired, "image")));
  ck_assert(dv_is_unknown(json_array_get(json_object_get(st->insts[2].desired, "members"), 0)));
}
END_TEST

/* The DOT graph of a large planned stack: every instance with its own
 * action, every edge of a fan-in. */
START_TEST(graph_dot_large)
{
  drover_plan *plan = NULL;
  sbuf b = {NULL, 0, 0};
  char *dot = NULL, *p;
  size_t creates = 0, edges = 0;

  sb_add(&b, "{\"stack\": \"sc\", \"resources\": {"
         "\"w\": {\"type\": \"fake.thing\", \"count\": %d, \"properties\": "
         "{\"image\": \"i\"}},"
         "\"lb\": {\"type\": \"fake.group\", \"depends_on\": [\"w\"]}}}", BIG);
  ck_assert_int_eq(fake_stack_open(&tpl, &st, b.p, NULL, NULL, &err), DROVER_OK);
  free(b.p);
  ck_assert_int_eq(drover_stack_refresh(st, &err), DROVER_OK);
  ck_assert_int_eq(drover_plan_new(&plan, st, 0, &err), DROVER_OK);
  ck_assert_int_eq(drover_graph_dot(&dot, st, plan, &err), DROVER_OK);
  for(p = dot; (p = strstr(p, "\\ncreate\", color=darkgreen")) != NULL; p++)
    creates++;
  for(p = dot; (p = strstr(p, "\"lb\" -> \"w[")) != NULL; p++)
    edges++;
  ck_assert_uint_eq(creates, BIG + 1);
  ck_assert_uint_eq(edges, BIG);
  ck_assert_ptr_nonnull(strstr(dot, "\"w[19999]\" [label=\"w[19999]\\nfake.thing\\ncreate\""));
  free(dot);
  drover_plan_free(plan);
}
END_TEST

/* ------------------------------------------------------------------------
 * Apply at large N (the fake cloud's own lookups are linear, so a few
 * thousand nodes)
 */

#define HALF 1500

static void plan_apply(unsigned flags, drover_apply_result *res, drover_code want)
{
  drover_plan *plan = NULL;
  drover_apply_opts ao = DROVER_APPLY_OPTS_INIT;
  drover_code rc;

  ao.parallelism = 4;
  ao.max_retries = 1;
  ck_assert_int_eq(drover_stack_refresh(st, &err), DROVER_OK);
  ck_assert_int_eq(drover_plan_new(&plan, st, flags, &err), DROVER_OK);
  drover_error_clear(&err);
  rc = drover_apply(plan, &ao, res, &err);
  ck_assert_msg(rc == want, "apply: %d (%s)", (int)rc, err.text);
  drover_plan_free(plan);
  drover_error_clear(&err);
}

/* Opens "base" (count HALF) and "top" (count HALF, depends_on base). */
static void open_base_top(void)
{
  sbuf b = {NULL, 0, 0};

  sb_add(&b, "{\"stack\": \"sc\", \"resources\": {"
         "\"base\": {\"type\": \"fake.thing\", \"count\": %d, \"properties\": "
         "{\"image\": \"b\"}},"
         "\"top\": {\"type\": \"fake.thing\", \"count\": %d, \"depends_on\": [\"base\"], "
         "\"properties\": {\"image\": \"t\"}}}}", HALF, HALF);
  ck_assert_int_eq(fake_stack_open(&tpl, &st, b.p, NULL, NULL, &err), DROVER_OK);
  free(b.p);
}

START_TEST(apply_failure_skips_every_dependent)
{
  drover_apply_result res;

  open_base_top();
  fake_fail(FAKE_OP_CREATE, "base[700]", 1, DROVER_E_PROVIDER);
  plan_apply(0, &res, DROVER_E_PARTIAL);
  ck_assert_uint_eq(res.created, HALF - 1);
  ck_assert_uint_eq(res.failed, 1);
  ck_assert_uint_eq(res.skipped, HALF);
  ck_assert_uint_eq(fake_count_address("fake.thing", "top[0]"), 0);
  ck_assert_uint_eq(fake_count_address("fake.thing", "top[1499]"), 0);
  ck_assert_uint_eq(fake_count("fake.thing", "sc"), HALF - 1);
  /* Again: only what is missing, and now every top after every base. */
  fake_reset_counts();
  plan_apply(0, &res, DROVER_OK);
  ck_assert_uint_eq(res.created, HALF + 1);
  ck_assert_uint_eq(res.skipped, 0);
  ck_assert_int_lt(fake_log_pos(FAKE_OP_CREATE, "base[700]", 1),
                   fake_log_pos(FAKE_OP_CREATE, "top[0]", 0));
  ck_assert_uint_eq(fake_count("fake.thing", "sc"), 2 * HALF);
}
END_TEST

/* Orphans whose deps labels are the same ("top[i]" each carry every
 * base's address) are deleted through one barrier per label: every top
 * before any base, and a failed top keeps every base. */
START_TEST(orphans_sharing_a_label_delete_in_order)
{
  drover_apply_result res;

  open_base_top();
  plan_apply(0, &res, DROVER_OK);
  ck_assert_uint_eq(res.created, 2 * HALF);
  fake_stack_close(tpl, st);
  tpl = NULL;
  st = NULL;
  /* Both blocks leave the template: all their objects are orphans. */
  ck_assert_int_eq(fake_stack_open(&tpl, &st, "{\"stack\": \"sc\", \"providers\": "
                                   "{\"fake\": {\"region\": \"x\"}}, \"resources\": {}}",
                                   NULL, NULL, &err), DROVER_OK);
  fake_reset_counts();
  fake_fail(FAKE_OP_DELETE, "top[5]", 1, DROVER_E_PROVIDER);
  plan_apply(0, &res, DROVER_E_PARTIAL);
  ck_assert_uint_eq(res.deleted, HALF - 1);
  ck_assert_uint_eq(res.failed, 1);
  ck_assert_uint_eq(res.skipped, HALF);
  ck_assert_uint_eq(fake_count_address("fake.thing", "top[5]"), 1);
  ck_assert_uint_eq(fake_count("fake.thing", "sc"), HALF + 1);
  fake_reset_counts();
  plan_apply(0, &res, DROVER_OK);
  ck_assert_uint_eq(res.deleted, HALF + 1);
  ck_assert_int_lt(fake_log_pos(FAKE_OP_DELETE, "top[5]", 1),
                   fake_log_pos(FAKE_OP_DELETE, "base[0]", 0));
  ck_assert_int_lt(fake_log_pos(FAKE_OP_DELETE, "top[5]", 1),
                   fake_log_pos(FAKE_OP_DELETE, "base[1499]", 0));
  ck_assert_uint_eq(fake_count(NULL, "sc"), 0);
}
END_TEST

/* Orphans labelled as older drovers wrote it (every instance listed:
 * old[N] carry "core[0],core[1],...") and as now (new[N] carry
 * "base[*]", the counted block) are each deleted before every instance
 * they name, and a failed one keeps them all. "base[*]" names base[N]
 * only: the object at address "base" is labelled "new[*]", so it goes
 * before every new[N]; if "base[*]" named it too, new[N] would also go
 * before it, a cycle, and apply would refuse the plan. */
START_TEST(orphan_labels_listed_and_counted)
{
  enum { N = 300 };
  static const char *const kinds[] = {"base", "core", "old", "new"};
  drover_apply_result res;
  sbuf listed = {NULL, 0, 0};
  char name[64], addr[32];
  const char *deps[4];
  int i, k;

  for(i = 0; i < N; i++)
    sb_add(&listed, "%score[%d]", i ? "," : "", i);
  deps[0] = deps[1] = NULL;
  deps[2] = listed.p;
  deps[3] = "base[*]";
  for(i = 0; i < N; i++)
    for(k = 0; k < 4; k++) {
      snprintf(addr, sizeof(addr), "%s[%d]", kinds[k], i);
      snprintf(name, sizeof(name), "sc-%s-%d", kinds[k], i);
      ck_assert_int_eq(fake_seed("fake.thing", name, "sc", addr, "h", deps[k], "{}"), 0);
    }
  free(listed.p);
  ck_assert_int_eq(fake_seed("fake.thing", "sc-base", "sc", "base", "h", "new[*]", "{}"), 0);
  ck_assert_int_eq(fake_stack_open(&tpl, &st, "{\"stack\": \"sc\", \"providers\": "
                                   "{\"fake\": {\"region\": \"x\"}}, \"resources\": {}}",
                                   NULL, NULL, &err), DROVER_OK);
  fake_fail(FAKE_OP_DELETE, "old[3]", 1, DROVER_E_PROVIDER);
  fake_fail(FAKE_OP_DELETE, "new[7]", 1, DROVER_E_PROVIDER);
  plan_apply(0, &res, DROVER_E_PARTIAL);
  /* Every core[N] waits for old[3], every base[N] for new[7]; "base"
   * went first. */
  ck_assert_uint_eq(res.failed, 2);
  ck_assert_uint_eq(res.skipped, 2 * N);
  ck_assert_uint_eq(res.deleted, 2 * N - 1);
  ck_assert_uint_eq(fake_count_address("fake.thing", "base[0]"), 1);
  ck_assert_uint_eq(fake_count_address("fake.thing", "core[0]"), 1);
  ck_assert_uint_eq(fake_count_address("fake.thing", "base"), 0);
  for(i = 0; i < N; i += N / 3) {
    snprintf(addr, sizeof(addr), "new[%d]", i);
    ck_assert_int_lt(fake_log_pos(FAKE_OP_DELETE, "base", 1),
                     fake_log_pos(FAKE_OP_DELETE, addr, 0));
  }
  fake_reset_counts();
  plan_apply(0, &res, DROVER_OK);
  ck_assert_uint_eq(res.deleted, 2 * N + 2);
  for(i = 0; i < N; i += N / 3) {
    snprintf(addr, sizeof(addr), "core[%d]", i);
    ck_assert_int_lt(fake_log_pos(FAKE_OP_DELETE, "old[3]", 1),
                     fake_log_pos(FAKE_OP_DELETE, addr, 0));
    snprintf(addr, sizeof(addr), "base[%d]", i);
    ck_assert_int_lt(fake_log_pos(FAKE_OP_DELETE, "new[7]", 1),
                     fake_log_pos(FAKE_OP_DELETE, addr, 0));
  }
  ck_assert_uint_eq(fake_count(NULL, "sc"), 0);
}
END_TEST

START_TEST(destroy_by_delete_order)
{
  drover_apply_result res;
  sbuf b = {NULL, 0, 0};

  /* Things (delete_order 1) go before groups (0); a failed thing delete
   * keeps every group. */
  sb_add(&b, "{\"stack\": \"sc\", \"resources\": {"
         "\"g\": {\"type\": \"fake.group\", \"count\": %d},"
         "\"t\": {\"type\": \"fake.thing\", \"count\": %d, \"properties\": "
         "{\"image\": \"t\"}}}}", HALF, HALF);
  ck_assert_int_eq(fake_stack_open(&tpl, &st, b.p, NULL, NULL, &err), DROVER_OK);
  free(b.p);
  plan_apply(0, &res, DROVER_OK);
  ck_assert_uint_eq(res.created, 2 * HALF);
  fake_fail(FAKE_OP_DELETE, "t[3]", 1, DROVER_E_PROVIDER);
  plan_apply(DROVER_PLAN_DESTROY, &res, DROVER_E_PARTIAL);
  ck_assert_uint_eq(res.deleted, HALF - 1);
  ck_assert_uint_eq(res.failed, 1);
  ck_assert_uint_eq(res.skipped, HALF);
  ck_assert_uint_eq(fake_count("fake.group", "sc"), HALF);
  ck_assert_uint_eq(fake_count("fake.thing", "sc"), 1);
  fake_reset_counts();
  plan_apply(DROVER_PLAN_DESTROY, &res, DROVER_OK);
  ck_assert_uint_eq(res.deleted, HALF + 1);
  ck_assert_int_lt(fake_log_pos(FAKE_OP_DELETE, "t[3]", 1),
                   fake_log_pos(FAKE_OP_DELETE, "g[0]", 0));
  ck_assert_uint_eq(fake_count(NULL, "sc"), 0);
}
END_TEST

static Suite *scale_suite(void)
{
  Suite *s = suite_create("scale");
  TCase *tc = tcase_create("core");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, chain_by_reference);
  tcase_add_test(tc, chain_by_depends_on);
  tcase_add_test(tc, cycle_through_every_block);
  tcase_add_test(tc, fan_in_over_a_large_count);
  tcase_add_test(tc, refresh_reevaluates_what_depends_on_the_cloud);
  tcase_add_test(tc, graph_dot_large);
  tcase_add_test(tc, apply_failure_skips_every_dependent);
  tcase_add_test(tc, destroy_by_delete_order);
  tcase_add_test(tc, orphans_sharing_a_label_delete_in_order);
  tcase_add_test(tc, orphan_labels_listed_and_counted);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(scale_suite());
}
