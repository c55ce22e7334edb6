/* check_graph.c - stack open: references and implicit dependencies,
 * depends_on, topological order, count expansion, addresses, cloud names,
 * index and [*] references, unknown-after-apply values, cycle messages.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "fake_provider.h"
#include "run_suite.h"

static drover_template *tpl;
static drover_stack *st;
static drover_error err;
static char msg[2048];

/* Loads json and opens it with the space-separated "k=v" vars and the
 * stack name override (may be NULL). Leaves tpl/st set on success. */
static drover_code open_with(const char *json, const char *vars, const char *name)
{
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_vars *v = drover_vars_new();
  drover_code rc;

  drover_error_clear(&err);
  msg[0] = '\0';
  opts.stack_name = name;
  rc = drover_template_load_buffer(&tpl, json, strlen(json), "g.json", &err);
  if(!rc && vars) {
    char *copy = strdup(vars), *save = NULL, *kv;
    for(kv = strtok_r(copy, " ", &save); kv && !rc; kv = strtok_r(NULL, " ", &save))
      rc = drover_vars_set_kv(v, kv, &err);
    free(copy);
  }
  if(!rc)
    rc = drover_stack_open(&st, tpl, v, &opts, &err);
  if(rc)
    drover_error_format(&err, msg, sizeof(msg));
  drover_vars_free(v);
  return rc;
}

static void setup(void)
{
  ck_assert_int_eq(fake_register(), 0);
  fake_reset();
  tpl = NULL;
  st = NULL;
}

static void teardown(void)
{
  drover_stack_free(st);
  drover_template_free(tpl);
  st = NULL;
  tpl = NULL;
}

static dv_inst *inst(const char *address)
{
  size_t i;

  for(i = 0; st && i < st->ninsts; i++)
    if(!strcmp(st->insts[i].address, address))
      return &st->insts[i];
  ck_abort_msg("no instance %s", address);
  return NULL;
}

/* Position of block name in st->topo. */
static size_t topo_pos(const char *name)
{
  size_t i;

  for(i = 0; i < tpl->nblocks; i++)
    if(!strcmp(tpl->blocks[st->topo[i]].name, name))
      return i;
  ck_abort_msg("%s not in topo", name);
  return 0;
}

static const char *str_at(const json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

/* ------------------------------------------------------------------------ */

static const char *tier =
  "{\"stack\":\"tier\",\"params\":{\"n\":{\"type\":\"integer\",\"default\":3}},"
  "\"resources\":{"
  " \"lb\":{\"type\":\"fake.group\",\"properties\":{"
  "   \"members\":\"${resources.web[*].name}\","
  "   \"config\":{\"first\":\"${resources.web[0].name}\",\"last\":\"${resources.web[2].image}\"}}},"
  " \"web\":{\"type\":\"fake.thing\",\"count\":\"${params.n}\",\"depends_on\":[\"vol\"],"
  "   \"properties\":{\"image\":\"img-${count.index}\","
  "     \"tags\":{\"net\":\"${resources.net.name}\",\"i\":\"${count.index}\"}}},"
  " \"net\":{\"type\":\"fake.group\"},"
  " \"vol\":{\"type\":\"fake.group\",\"properties\":{\"name\":\"shared-${stack.name}\"}}"
  "}}";

START_TEST(test_references_make_edges)
{
  size_t lb, web, net, vol;

  ck_assert_int_eq(open_with(tier, NULL, NULL), DROVER_OK);
  lb = dv_block_find(tpl, "lb");
  web = dv_block_find(tpl, "web");
  net = dv_block_find(tpl, "net");
  vol = dv_block_find(tpl, "vol");
  /* lb -> web (references); web -> net (reference) and vol (depends_on). */
  ck_assert_uint_eq(st->block_ndeps[lb], 1);
  ck_assert_uint_eq(st->block_deps[lb][0], web);
  ck_assert_uint_eq(st->block_ndeps[web], 2);
  ck_assert_uint_eq(st->block_deps[web][0], net);
  ck_assert_uint_eq(st->block_deps[web][1], vol);
  ck_assert_uint_eq(st->block_ndeps[net], 0);
  ck_assert_uint_eq(st->block_ndeps[vol], 0);
  /* Dependencies in declaration order: a counted block by its name and
   * [*] (every instance), any other by its address. */
  ck_assert_str_eq(inst("lb")->deps, "web[*]");
  ck_assert_str_eq(inst("web[1]")->deps, "net,vol");
  ck_assert_str_eq(inst("net")->deps, "");
}
END_TEST

START_TEST(test_topo_order)
{
  ck_assert_int_eq(open_with(tier, NULL, NULL), DROVER_OK);
  ck_assert_uint_lt(topo_pos("web"), topo_pos("lb"));
  ck_assert_uint_lt(topo_pos("net"), topo_pos("web"));
  ck_assert_uint_lt(topo_pos("vol"), topo_pos("web"));
  /* Deterministic: depth first in declaration order. */
  ck_assert_uint_eq(topo_pos("net"), 0);
  ck_assert_uint_eq(topo_pos("vol"), 1);
  ck_assert_uint_eq(topo_pos("web"), 2);
  ck_assert_uint_eq(topo_pos("lb"), 3);
}
END_TEST

START_TEST(test_chain_declared_backwards)
{
  const char *j = "{\"stack\":\"c\",\"resources\":{"
                  "\"d\":{\"type\":\"fake.group\",\"depends_on\":[\"c\"]},"
                  "\"c\":{\"type\":\"fake.group\",\"depends_on\":[\"b\"]},"
                  "\"b\":{\"type\":\"fake.group\",\"properties\":{\"members\":[\"${resources.a.name}\"]}},"
                  "\"a\":{\"type\":\"fake.group\"}}}";

  ck_assert_int_eq(open_with(j, NULL, NULL), DROVER_OK);
  ck_assert_str_eq(tpl->blocks[st->topo[0]].name, "a");
  ck_assert_str_eq(tpl->blocks[st->topo[1]].name, "b");
  ck_assert_str_eq(tpl->blocks[st->topo[2]].name, "c");
  ck_assert_str_eq(tpl->blocks[st->topo[3]].name, "d");
  ck_assert_str_eq(inst("b")->deps, "a");
  ck_assert_str_eq(json_string_value(json_array_get(
                     json_object_get(inst("b")->desired, "members"), 0)),
                   "c-a");
}
END_TEST

START_TEST(test_count_expansion)
{
  size_t web;
  int i;

  ck_assert_int_eq(open_with(tier, NULL, NULL), DROVER_OK);
  ck_assert_uint_eq(drover_stack_resource_count(st), 6);
  web = dv_block_find(tpl, "web");
  ck_assert_uint_eq(st->block_ninst[web], 3);
  ck_assert_uint_eq(st->block_first[web], 1);
  for(i = 0; i < 3; i++) {
    char addr[16], img[16], idx[8];
    dv_inst *in;
    snprintf(addr, sizeof(addr), "web[%d]", i);
    snprintf(img, sizeof(img), "img-%d", i);
    snprintf(idx, sizeof(idx), "%d", i);
    in = inst(addr);
    ck_assert_int_eq(in->index, i);
    ck_assert_uint_eq(in->block, web);
    ck_assert_str_eq(str_at(in->desired, "image"), img);
    /* "${count.index}" lands in a string map as text. */
    ck_assert_str_eq(str_at(json_object_get(in->desired, "tags"), "i"), idx);
    ck_assert_str_eq(str_at(json_object_get(in->desired, "tags"), "net"), "tier-net");
  }
  ck_assert_int_eq(inst("lb")->index, -1);
  teardown();

  /* count from a var; 0 removes every instance and the [*] is empty. */
  ck_assert_int_eq(open_with(tier, "n=0", NULL), DROVER_E_REFERENCE);
  ck_assert_str_eq(msg, "g.json:1:178: index 0 out of range in "
                        "\"${resources.web[0].name}\": resource \"web\" has count 0");
  teardown();
  ck_assert_int_eq(open_with(tier, "n=5", NULL), DROVER_OK);
  ck_assert_uint_eq(drover_stack_resource_count(st), 8);
  ck_assert_str_eq(inst("web[4]")->name, "tier-web-4");
}
END_TEST

/* DROVER_MAX_COUNT sets the count limit, and the error names the count's
 * place; a value that is not a whole number from 1 up is refused rather
 * than taken as the default. */
START_TEST(test_count_limit_from_env)
{
  const char *j = "{\"stack\":\"z\",\"resources\":{\n"
                  "  \"w\":{\"type\":\"fake.thing\",\"count\":6,\"properties\":{\"image\":\"i\"}}}}";
  const char *bad[] = {"lots", "0", "-3", "5x", " 5", "100000001"};
  size_t i;

  setenv("DROVER_MAX_COUNT", "5", 1);
  ck_assert_int_eq(open_with(j, NULL, NULL), DROVER_E_PARAM);
  ck_assert_str_eq(err.text, "count of resource \"w\" is 6, above the limit 5");
  ck_assert_str_eq(err.source, "g.json");
  ck_assert_int_eq(err.line, 2);
  ck_assert_int_eq(err.column, 36);
  teardown();
  setenv("DROVER_MAX_COUNT", "6", 1);
  ck_assert_int_eq(open_with(j, NULL, NULL), DROVER_OK);
  ck_assert_uint_eq(st->ninsts, 6);
  teardown();
  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    setenv("DROVER_MAX_COUNT", bad[i], 1);
    ck_assert_int_eq(open_with(j, NULL, NULL), DROVER_E_ARG);
    ck_assert_msg(strstr(err.text, "DROVER_MAX_COUNT") != NULL, "%s: %s", bad[i], err.text);
    teardown();
  }
  unsetenv("DROVER_MAX_COUNT");
  ck_assert_int_eq(open_with(j, NULL, NULL), DROVER_OK);
  ck_assert_uint_eq(st->ninsts, 6);
}
END_TEST

START_TEST(test_count_zero)
{
  const char *j = "{\"stack\":\"z\",\"resources\":{"
                  "\"w\":{\"type\":\"fake.thing\",\"count\":0,\"properties\":{\"image\":\"i\"}},"
                  "\"g\":{\"type\":\"fake.group\",\"properties\":{\"members\":\"${resources.w[*].name}\"}}}}";

  ck_assert_int_eq(open_with(j, NULL, NULL), DROVER_OK);
  ck_assert_uint_eq(st->ninsts, 1);
  /* The label names the block, whatever its count: g still goes before
   * any w[N] left over from a larger count. */
  ck_assert_str_eq(inst("g")->deps, "w[*]");
  ck_assert(json_is_array(json_object_get(inst("g")->desired, "members")));
  ck_assert_uint_eq(json_array_size(json_object_get(inst("g")->desired, "members")), 0);
  ck_assert_int_eq(inst("g")->known, 1);
}
END_TEST

START_TEST(test_star_and_index_references)
{
  json_t *m;
  dv_inst *lb;

  ck_assert_int_eq(open_with(tier, NULL, NULL), DROVER_OK);
  lb = inst("lb");
  m = json_object_get(lb->desired, "members");
  ck_assert(json_is_array(m));
  ck_assert_uint_eq(json_array_size(m), 3);
  ck_assert_str_eq(json_string_value(json_array_get(m, 0)), "tier-web-0");
  ck_assert_str_eq(json_string_value(json_array_get(m, 2)), "tier-web-2");
  ck_assert_str_eq(str_at(json_object_get(lb->desired, "config"), "first"), "tier-web-0");
  /* A desired property of another instance is known at plan time. */
  ck_assert_str_eq(str_at(json_object_get(lb->desired, "config"), "last"), "img-2");
  ck_assert_int_eq(lb->known, 1);
}
END_TEST

START_TEST(test_names)
{
  char *a, *b, *c;

  ck_assert_int_eq(open_with(tier, NULL, NULL), DROVER_OK);
  ck_assert_str_eq(inst("web[0]")->name, "tier-web-0");
  ck_assert_str_eq(inst("net")->name, "tier-net");
  /* A "name" property wins, and is what references see. */
  ck_assert_str_eq(inst("vol")->name, "shared-tier");
  ck_assert_str_eq(drover_stack_name(st), "tier");

  a = dv_default_name("s", "a_b[3]");
  ck_assert_str_eq(a, "s-a-b-3");
  free(a);
  a = dv_default_name("s", "__x__");
  ck_assert_str_eq(a, "s-x");
  free(a);
  /* Long names: cut to 63 with a hash suffix; deterministic and distinct. */
  a = dv_default_name("job-123456-a-rather-long-stack-name",
                      "a_resource_name_that_is_long_enough[17]");
  b = dv_default_name("job-123456-a-rather-long-stack-name",
                      "a_resource_name_that_is_long_enough[18]");
  c = dv_default_name("job-123456-a-rather-long-stack-name",
                      "a_resource_name_that_is_long_enough[17]");
  ck_assert_uint_eq(strlen(a), 63);
  ck_assert_uint_eq(strlen(b), 63);
  ck_assert_str_ne(a, b);
  ck_assert_str_eq(a, c);
  ck_assert_int_eq(strncmp(a, "job-123456-a-rather-long-stack-name-a-resource-name-t", 53), 0);
  ck_assert(a[53] == '-' || a[54] == '-');
  /* The suffix (doc/templates.md): "-" and 8 lowercase hex digits. */
  ck_assert(a[54] == '-');
  ck_assert_uint_eq(strspn(a + 55, "0123456789abcdef"), 8);
  free(a);
  free(b);
  free(c);
  a = dv_default_name("s", "x[1]");
  ck_assert_uint_le(strlen(a), 63);
  ck_assert_str_eq(a, "s-x-1");
  free(a);
}
END_TEST

START_TEST(test_stack_name_override)
{
  ck_assert_int_eq(open_with(tier, NULL, "job-42-tier"), DROVER_OK);
  ck_assert_str_eq(drover_stack_name(st), "job-42-tier");
  ck_assert_str_eq(inst("web[1]")->name, "job-42-tier-web-1");
  ck_assert_str_eq(inst("vol")->name, "shared-job-42-tier");
  teardown();
  ck_assert_int_eq(open_with(tier, NULL, "Bad Name"), DROVER_E_ARG);
  ck_assert_ptr_null(st);
}
END_TEST

START_TEST(test_defaults_and_hash)
{
  dv_inst *w;
  char h[17];

  ck_assert_int_eq(open_with(tier, NULL, NULL), DROVER_OK);
  w = inst("web[0]");
  ck_assert(json_integer_value(json_object_get(w->desired, "size")) == 1);
  ck_assert_str_eq(str_at(w->desired, "state"), "running");
  ck_assert(json_is_object(json_object_get(inst("net")->desired, "config")));
  ck_assert(json_is_array(json_object_get(inst("net")->desired, "members")));
  ck_assert_ptr_null(json_object_get(w->desired, "note")); /* no default */
  ck_assert_int_eq(w->known, 1);
  ck_assert_int_eq(dv_hash_json(h, w->desired), DROVER_OK);
  ck_assert_str_eq(w->hash, h);
  ck_assert_str_ne(inst("web[0]")->hash, inst("web[1]")->hash);
}
END_TEST

START_TEST(test_unknown_after_apply)
{
  const char *j = "{\"stack\":\"u\",\"resources\":{"
                  "\"a\":{\"type\":\"fake.thing\",\"properties\":{\"image\":\"i\"}},"
                  "\"b\":{\"type\":\"fake.thing\",\"properties\":{\"image\":\"${resources.a.id}\","
                  "\"note\":\"id=${resources.a.id}\",\"tags\":{\"n\":\"${resources.a.name}\"}}},"
                  "\"c\":{\"type\":\"fake.group\",\"properties\":{\"members\":[\"${resources.b.image}\"]}}}}";
  dv_inst *a, *b, *c;
  json_t *v;

  ck_assert_int_eq(open_with(j, NULL, NULL), DROVER_OK);
  a = inst("a");
  b = inst("b");
  c = inst("c");
  ck_assert_int_eq(a->known, 1);
  ck_assert(dv_is_unknown(json_object_get(b->desired, "image")));
  ck_assert(dv_is_unknown(json_object_get(b->desired, "note")));
  ck_assert_str_eq(str_at(json_object_get(b->desired, "tags"), "n"), "u-a");
  ck_assert_int_eq(b->known, 0);
  ck_assert_str_eq(b->hash, "");
  /* Propagates: c reads b's unknown image. */
  ck_assert(dv_is_unknown(json_array_get(json_object_get(c->desired, "members"), 0)));
  ck_assert_int_eq(c->known, 0);

  /* Attribute lookup order: applied, desired, name, live, else unknown. */
  v = dv_inst_attr(st, a, "id");
  ck_assert(dv_is_unknown(v));
  json_decref(v);
  a->live = drover_live_new();
  json_object_set_new(a->live->attributes, "id", json_string("live-id"));
  json_object_set_new(a->live->attributes, "image", json_string("live-image"));
  v = dv_inst_attr(st, a, "image");
  ck_assert_str_eq(json_string_value(v), "i");
  json_decref(v);
  v = dv_inst_attr(st, a, "id");
  ck_assert_str_eq(json_string_value(v), "live-id");
  json_decref(v);
  a->applied = drover_live_new();
  json_object_set_new(a->applied->attributes, "id", json_string("id-7"));
  v = dv_inst_attr(st, a, "id");
  ck_assert_str_eq(json_string_value(v), "id-7");
  json_decref(v);

  /* After a is applied, re-evaluating b and c makes them known. */
  ck_assert_int_eq(dv_stack_eval_inst(st, b, &err), DROVER_OK);
  ck_assert_str_eq(str_at(b->desired, "image"), "id-7");
  ck_assert_str_eq(str_at(b->desired, "note"), "id=id-7");
  ck_assert_int_eq(b->known, 1);
  ck_assert_uint_eq(strlen(b->hash), 16);
  ck_assert_int_eq(dv_stack_eval_inst(st, c, &err), DROVER_OK);
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(c->desired, "members"), 0)),
                   "id-7");
  ck_assert_int_eq(c->known, 1);
  ck_assert_str_eq(c->deps, "b");
}
END_TEST

START_TEST(test_evaluated_type_checked)
{
  const char *j = "{\"stack\":\"t\",\"resources\":{"
                  "\"a\":{\"type\":\"fake.thing\",\"properties\":{\"image\":\"i\"}},"
                  "\"b\":{\"type\":\"fake.thing\",\"properties\":{\"image\":\"i\",\"size\":\"${resources.a.id}\"}}}}";
  dv_inst *b;

  ck_assert_int_eq(open_with(j, NULL, NULL), DROVER_OK);
  b = inst("b");
  inst("a")->applied = drover_live_new();
  json_object_set_new(inst("a")->applied->attributes, "id", json_string("x1"));
  /* At apply time the known value has the wrong type for "size". */
  ck_assert_int_eq(dv_stack_eval_inst(st, b, &err), DROVER_E_TEMPLATE);
  drover_error_format(&err, msg, sizeof(msg));
  ck_assert_str_eq(msg, "g.json:1:138: property \"size\" of resource \"b\" must be an "
                        "integer, not a string");
  /* The instance keeps its previous evaluation on failure. */
  ck_assert(dv_is_unknown(json_object_get(b->desired, "size")));
}
END_TEST

START_TEST(test_cycle_messages)
{
  /* The search enters the cycle from "entry"; the message still starts at
   * the member declared first and follows the dependency direction. */
  const char *j = "{\"stack\":\"y\",\"resources\":{"
                  "\"entry\":{\"type\":\"fake.group\",\"depends_on\":[\"m3\"]},"
                  "\"m1\":{\"type\":\"fake.group\",\"depends_on\":[\"m4\"]},"
                  "\"m2\":{\"type\":\"fake.group\",\"depends_on\":[\"m1\"]},"
                  "\"m3\":{\"type\":\"fake.group\",\"depends_on\":[\"m2\"]},"
                  "\"m4\":{\"type\":\"fake.group\",\"properties\":{\"members\":[\"${resources.m3.name}\"]}}}}";

  ck_assert_int_eq(open_with(j, NULL, NULL), DROVER_E_CYCLE);
  ck_assert_str_eq(msg, "g.json:1:77: dependency cycle: m1 -> m4 -> m3 -> m2 -> m1");
  ck_assert_ptr_null(st);
}
END_TEST

START_TEST(test_open_bare)
{
  drover_options opts = DROVER_OPTIONS_INIT;
  char *name = strdup("job-7-a-name-longer-than-forty-characters-for-sure");

  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_open_bare(&st, name, "{\"fake\": {\"x\": 1}}", &opts, &err),
                   DROVER_OK);
  free(name); /* the stack keeps no borrowed copy of the name */
  ck_assert_str_eq(drover_stack_name(st), "job-7-a-name-longer-than-forty-characters-for-sure");
  ck_assert_str_eq(st->opts.stack_name, drover_stack_name(st));
  ck_assert_uint_eq(drover_stack_resource_count(st), 0);
  ck_assert_ptr_nonnull(st->owned_tpl);
  ck_assert_ptr_eq(st->tpl, st->owned_tpl);
  ck_assert(json_is_object(json_object_get(st->tpl->providers, "fake")));
  ck_assert_int_eq(st->lock_fd, -1);
  ck_assert_str_eq(st->env.user_agent, "drover/" DROVER_VERSION);
  drover_stack_free(st);
  st = NULL;

  ck_assert_int_eq(drover_stack_open_bare(&st, "s", "{\"fake\": ", NULL, &err),
                   DROVER_E_ARG);
  ck_assert_ptr_null(st);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_open_bare(&st, "s", "{\"nope\": {}}", NULL, &err),
                   DROVER_E_TEMPLATE);
  ck_assert_str_eq(err.text, "unknown provider \"nope\"");
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_open_bare(&st, "Bad", "{}", NULL, &err), DROVER_E_ARG);
}
END_TEST

START_TEST(test_opts_copied)
{
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_template *t = NULL;
  const char *j = "{\"stack\":\"o\",\"resources\":{}}";

  opts.log_level = DROVER_LOG_DEBUG;
  opts.lock_dir = "/tmp/x";
  drover_error_clear(&err);
  ck_assert_int_eq(drover_template_load_buffer(&t, j, strlen(j), "o", &err), DROVER_OK);
  ck_assert_int_eq(drover_stack_open(&st, t, NULL, &opts, &err), DROVER_OK);
  ck_assert_int_eq(st->opts.log_level, DROVER_LOG_DEBUG);
  ck_assert_str_eq(st->opts.lock_dir, "/tmp/x");
  ck_assert_ptr_eq(st->tpl, t);
  ck_assert_ptr_null(st->owned_tpl);
  drover_stack_free(st);
  st = NULL;
  drover_template_free(t);
  /* Default options when NULL. */
  t = NULL;
  ck_assert_int_eq(drover_template_load_buffer(&t, j, strlen(j), "o", &err), DROVER_OK);
  ck_assert_int_eq(drover_stack_open(&st, t, NULL, NULL, &err), DROVER_OK);
  ck_assert_uint_eq(st->opts.version, DROVER_OPTIONS_VERSION);
  drover_stack_free(st);
  st = NULL;
  drover_template_free(t);
  drover_stack_free(NULL);
}
END_TEST

static Suite *graph_suite(void)
{
  Suite *s = suite_create("graph");
  TCase *tc = tcase_create("core");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_references_make_edges);
  tcase_add_test(tc, test_topo_order);
  tcase_add_test(tc, test_chain_declared_backwards);
  tcase_add_test(tc, test_count_expansion);
  tcase_add_test(tc, test_count_zero);
  tcase_add_test(tc, test_star_and_index_references);
  tcase_add_test(tc, test_names);
  tcase_add_test(tc, test_stack_name_override);
  tcase_add_test(tc, test_defaults_and_hash);
  tcase_add_test(tc, test_unknown_after_apply);
  tcase_add_test(tc, test_evaluated_type_checked);
  tcase_add_test(tc, test_cycle_messages);
  tcase_add_test(tc, test_open_bare);
  tcase_add_test(tc, test_opts_copied);
  tcase_add_test(tc, test_count_limit_from_env);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(graph_suite());
}
