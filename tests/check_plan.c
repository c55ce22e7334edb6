/* check_plan.c - refresh, plan, rendering, saved plans, outputs, graph,
 * stacks list; all against the in-process fake provider. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "drover_sigv4.h"
#include "fixture.h"

/* A group and N things that depend on it. */
static const char *TPL =
  "{\"drover\": 1, \"stack\": \"tp\",\n"
  " \"params\": {\"n\": {\"type\": \"integer\", \"default\": 2},\n"
  "            \"image\": {\"type\": \"string\", \"default\": \"busybox\"},\n"
  "            \"size\": {\"type\": \"integer\", \"default\": 1},\n"
  "            \"note\": {\"type\": \"string\", \"default\": \"hello\"},\n"
  "            \"pw\": {\"type\": \"string\", \"default\": \"hunter2-secret\",\n"
  "                     \"sensitive\": true}},\n"
  " \"providers\": {\"fake\": {\"region\": \"x\"}},\n"
  " \"resources\": {\n"
  "  \"grp\": {\"type\": \"fake.group\", \"properties\": {\"config\": {\"a\": \"1\"}}},\n"
  "  \"web\": {\"type\": \"fake.thing\", \"count\": \"${params.n}\",\n"
  "           \"depends_on\": [\"grp\"],\n"
  "           \"properties\": {\"image\": \"${params.image}\", \"size\": \"${params.size}\",\n"
  "                          \"note\": \"${params.note}\",\n"
  "                          \"tags\": {\"pw\": \"${params.pw}\"}}}},\n"
  " \"outputs\": {\"names\": {\"value\": \"${resources.web[*].name}\"},\n"
  "             \"secret\": {\"value\": \"${params.pw}\", \"sensitive\": true}}}\n";

/* The same with lifecycle settings on web. */
static const char *TPL_LC =
  "{\"drover\": 1, \"stack\": \"tp\",\n"
  " \"params\": {\"image\": {\"type\": \"string\", \"default\": \"busybox\"},\n"
  "            \"size\": {\"type\": \"integer\", \"default\": 1}},\n"
  " \"resources\": {\n"
  "  \"web\": {\"type\": \"fake.thing\",\n"
  "           \"properties\": {\"image\": \"${params.image}\", \"size\": \"${params.size}\"},\n"
  "           \"lifecycle\": {\"prevent_destroy\": true, \"ignore_changes\": [\"tags\"]}}}}\n";

static long find_entry(const drover_plan *p, const char *address)
{
  size_t i;

  for(i = 0; i < drover_plan_count(p); i++)
    if(!strcmp(drover_plan_address(p, i), address))
      return (long)i;
  return -1;
}

/* Whether the fake holds type/name (the copy fake_get returns is freed). */
static int fake_get_decref(const char *type, const char *name)
{
  json_t *o = fake_get(type, name);
  json_decref(o);
  return o != NULL;
}

static void expect(const drover_plan *p, const char *address, drover_action a,
                   const char *reason)
{
  long i = find_entry(p, address);

  ck_assert_msg(i >= 0, "no plan entry for %s", address);
  ck_assert_msg(drover_plan_action(p, (size_t)i) == a, "%s: action %s, expected %s",
                address, drover_action_name(drover_plan_action(p, (size_t)i)),
                drover_action_name(a));
  if(reason)
    ck_assert_str_eq(drover_plan_reason(p, (size_t)i), reason);
}

/* ------------------------------------------------------------------------ */

START_TEST(refresh_is_bulk)
{
  const char *vars[] = {"n=50", NULL};
  fx f;

  fx_converge(TPL, vars);
  ck_assert_uint_eq(fake_count("fake.thing", "tp"), 50);
  fake_reset_counts();
  fx_open(&f, TPL, vars);
  fx_plan(&f, 0);
  /* One list per type, independent of the 51 resources. */
  ck_assert_uint_eq(fake_calls(FAKE_OP_LIST, "fake.thing"), 1);
  ck_assert_uint_eq(fake_calls(FAKE_OP_LIST, "fake.group"), 1);
  ck_assert_uint_eq(fake_calls(FAKE_OP_LIST, NULL), 2);
  ck_assert_uint_eq(fake_calls(FAKE_OP_READ, NULL), 0);
  ck_assert_uint_eq(drover_plan_count(f.plan), 51);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 0);
  fx_close(&f);
}
END_TEST

START_TEST(plan_create_then_noop)
{
  fx f;

  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  ck_assert_uint_eq(drover_plan_count(f.plan), 3);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 3);
  expect(f.plan, "grp", DROVER_ACTION_CREATE, "not in the cloud");
  expect(f.plan, "web[0]", DROVER_ACTION_CREATE, "not in the cloud");
  expect(f.plan, "web[1]", DROVER_ACTION_CREATE, "not in the cloud");
  /* Dependency order: the group comes first. */
  ck_assert_str_eq(drover_plan_address(f.plan, 0), "grp");
  fx_apply_ok(&f);
  fx_plan(&f, 0);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 0);
  expect(f.plan, "web[0]", DROVER_ACTION_NOOP, NULL);
  fx_close(&f);
}
END_TEST

START_TEST(plan_update_and_replace)
{
  const char *size2[] = {"size=2", NULL};
  const char *img[] = {"image=alpine", NULL};
  const char *both[] = {"image=alpine", "size=3", NULL};
  fx f;

  fx_converge(TPL, NULL);
  fx_open(&f, TPL, size2);
  fx_plan(&f, 0);
  expect(f.plan, "web[0]", DROVER_ACTION_UPDATE, "\"size\" changed");
  expect(f.plan, "grp", DROVER_ACTION_NOOP, NULL);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 2);
  fx_close(&f);

  fx_open(&f, TPL, img);
  fx_plan(&f, 0);
  expect(f.plan, "web[1]", DROVER_ACTION_REPLACE, "\"image\" forces replacement");
  fx_close(&f);

  fx_open(&f, TPL, both);
  fx_plan(&f, 0);
  expect(f.plan, "web[1]", DROVER_ACTION_REPLACE, "\"image\" forces replacement");
  ck_assert_uint_eq(f.plan->entries[find_entry(f.plan, "web[1]")].nchanged, 2);
  fx_close(&f);
}
END_TEST

START_TEST(plan_drift_and_no_diff)
{
  fx f;

  fx_converge(TPL, NULL);
  /* note is NO_DIFF: a changed note is not a change. */
  ck_assert_int_eq(fake_mutate("fake.thing", "tp-web-0", "note", "\"other\""), 0);
  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 0);
  /* size changed behind drover's back. */
  ck_assert_int_eq(fake_mutate("fake.thing", "tp-web-0", "size", "7"), 0);
  ck_assert_int_eq(fake_mutate("fake.group", "tp-grp", "config", "{\"a\": \"2\"}"), 0);
  fx_plan(&f, 0);
  expect(f.plan, "web[0]", DROVER_ACTION_UPDATE, "changed outside drover: \"size\"");
  expect(f.plan, "grp", DROVER_ACTION_UPDATE, "changed outside drover: \"config\"");
  expect(f.plan, "web[1]", DROVER_ACTION_NOOP, NULL);
  /* Converge it back. */
  fx_apply_ok(&f);
  fx_plan(&f, 0);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 0);
  fx_close(&f);
}
END_TEST

/* A DROVER_PROP_DIGEST property the provider reports as {"sha256": hex}
 * (content too large to read back) equals the desired string with that
 * SHA-256, and nothing else; other properties never compare so. */
static const char *TPL_BLOB =
  "{\"drover\": 1, \"stack\": \"tb\", \"resources\": {\"g\": {\"type\": \"fake.group\",\n"
  " \"properties\": {\"blob\": \"large content\"}}}}\n";

static void digest_json(char *out, size_t size, const char *text)
{
  char hex[65];
  drover_sigv4_sha256_hex(hex, text, strlen(text));
  snprintf(out, size, "{\"sha256\": \"%s\"}", hex);
}

START_TEST(plan_digest_property)
{
  char same[100], other[100];
  fx f;

  fx_converge(TPL_BLOB, NULL);
  digest_json(same, sizeof(same), "large content");
  digest_json(other, sizeof(other), "large content, changed");
  ck_assert_int_eq(fake_mutate("fake.group", "tb-g", "blob", same), 0);
  fx_open(&f, TPL_BLOB, NULL);
  fx_plan(&f, 0);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 0);
  ck_assert_int_eq(fake_mutate("fake.group", "tb-g", "blob", other), 0);
  fx_plan(&f, 0);
  expect(f.plan, "g", DROVER_ACTION_UPDATE, "changed outside drover: \"blob\"");
  fx_apply_ok(&f);
  fx_counts(&f, .updated = 1);
  fx_plan(&f, 0);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 0);
  fx_close(&f);
  /* image is no digest property: the digest of "busybox" is no match. */
  fx_converge(TPL, NULL);
  digest_json(same, sizeof(same), "busybox");
  ck_assert_int_eq(fake_mutate("fake.thing", "tp-web-0", "image", same), 0);
  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  expect(f.plan, "web[0]", DROVER_ACTION_REPLACE, NULL);
  expect(f.plan, "web[1]", DROVER_ACTION_NOOP, NULL);
  fx_close(&f);
}
END_TEST

/* Strings above 1 KiB show as their size and SHA-256 in both plans (the
 * text and --json), at any depth; 1 KiB itself is shown as it is. */
static const char *TPL_LONG =
  "{\"drover\": 1, \"stack\": \"tl\",\n"
  " \"params\": {\"blob\": {\"type\": \"string\"}, \"cfg\": {\"type\": \"string\"}},\n"
  " \"resources\": {\"g\": {\"type\": \"fake.group\",\n"
  "  \"properties\": {\"blob\": \"${params.blob}\", \"config\": {\"a\": \"${params.cfg}\"}}}}}\n";

/* "k=" followed by n copies of c. Caller frees. */
static char *long_var(const char *k, char c, size_t n)
{
  size_t kl = strlen(k);
  char *v = malloc(kl + n + 2);

  ck_assert_ptr_nonnull(v);
  memcpy(v, k, kl);
  v[kl] = '=';
  memset(v + kl + 1, c, n);
  v[kl + 1 + n] = '\0';
  return v;
}

/* "(n bytes, sha256 HEX)" of n copies of c, into out. */
static void summary_text(char *out, size_t size, char c, size_t n)
{
  char *buf = malloc(n), hex[65];

  ck_assert_ptr_nonnull(buf);
  memset(buf, c, n);
  drover_sigv4_sha256_hex(hex, buf, n);
  snprintf(out, size, "(%zu bytes, sha256 %s)", n, hex);
  free(buf);
}

START_TEST(plan_long_strings_summarized)
{
  char *blob_a = long_var("blob", 'a', 2000), *blob_b = long_var("blob", 'b', 1025);
  char *cfg_edge = long_var("cfg", 'c', 1024), *cfg_long = long_var("cfg", 'd', 1500);
  const char *first[] = {blob_a, cfg_edge, NULL}, *second[] = {blob_b, cfg_long, NULL};
  char sa[128], sb[128], sd[128], want[400], *text, *js = NULL;
  json_t *root, *r;
  fx f;

  summary_text(sa, sizeof(sa), 'a', 2000);
  summary_text(sb, sizeof(sb), 'b', 1025);
  summary_text(sd, sizeof(sd), 'd', 1500);
  fx_open(&f, TPL_LONG, first);
  fx_plan(&f, 0);
  expect(f.plan, "g", DROVER_ACTION_CREATE, NULL);
  text = fx_render(f.plan, 0);
  snprintf(want, sizeof(want), "+ blob = \"%s\"\n", sa);
  ck_assert_msg(strstr(text, want), "no summary in:\n%.400s", text);
  ck_assert_ptr_null(strstr(text, "aaaaaaaaaa"));
  /* Exactly 1 KiB: shown whole. */
  ck_assert_ptr_nonnull(strstr(text, cfg_edge + 4));
  free(text);
  ck_assert_int_eq(drover_plan_to_json(&js, f.plan, &f.err), DROVER_OK);
  root = json_loads(js, 0, NULL);
  r = json_object_get(json_array_get(json_object_get(root, "resources"), 0), "after");
  ck_assert_str_eq(json_string_value(json_object_get(r, "blob")), sa);
  ck_assert_uint_eq(json_string_length(json_object_get(json_object_get(r, "config"), "a")),
                    1024);
  json_decref(root);
  free(js);
  fx_apply_ok(&f);
  fx_close(&f);

  /* An update: both sides summarized, inside maps too. */
  fx_open(&f, TPL_LONG, second);
  fx_plan(&f, 0);
  expect(f.plan, "g", DROVER_ACTION_UPDATE, NULL);
  text = fx_render(f.plan, 0);
  snprintf(want, sizeof(want), "~ blob: \"%s\" -> \"%s\"\n", sa, sb);
  ck_assert_msg(strstr(text, want), "no summaries in:\n%.600s", text);
  ck_assert_ptr_nonnull(strstr(text, sd));
  ck_assert_ptr_null(strstr(text, "dddddddddd"));
  free(text);
  ck_assert_int_eq(drover_plan_to_json(&js, f.plan, &f.err), DROVER_OK);
  root = json_loads(js, 0, NULL);
  r = json_array_get(json_object_get(root, "resources"), 0);
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "before"), "blob")), sa);
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "after"), "blob")), sb);
  ck_assert_str_eq(json_string_value(json_object_get(
                     json_object_get(json_object_get(r, "after"), "config"), "a")), sd);
  json_decref(root);
  free(js);
  fx_close(&f);
  free(blob_a);
  free(blob_b);
  free(cfg_edge);
  free(cfg_long);
}
END_TEST

START_TEST(plan_delete_removed)
{
  const char *three[] = {"n=3", NULL};
  const char *one[] = {"n=1", NULL};
  fx f;

  fx_converge(TPL, three);
  ck_assert_uint_eq(fake_count("fake.thing", "tp"), 3);
  fx_open(&f, TPL, one);
  fx_plan(&f, 0);
  expect(f.plan, "web[0]", DROVER_ACTION_NOOP, NULL);
  expect(f.plan, "web[1]", DROVER_ACTION_DELETE, "no longer in the template");
  expect(f.plan, "web[2]", DROVER_ACTION_DELETE, "no longer in the template");
  ck_assert_uint_eq(drover_plan_changes(f.plan), 2);
  fx_apply_ok(&f);
  ck_assert_uint_eq(fake_count("fake.thing", "tp"), 1);
  fx_close(&f);
}
END_TEST

/* A refresh between plan and apply frees the live objects the plan saw:
 * the plan keeps its own copies for rendering, and apply refuses it. */
START_TEST(plan_outlives_refresh)
{
  const char *three[] = {"n=3", NULL};
  const char *one[] = {"n=1", NULL};
  drover_apply_opts ao = DROVER_APPLY_OPTS_INIT;
  char *json = NULL;
  fx f;

  fx_converge(TPL, three);
  fx_open(&f, TPL, one);
  fx_plan(&f, 0);
  expect(f.plan, "web[2]", DROVER_ACTION_DELETE, "no longer in the template");
  ck_assert_int_eq(drover_stack_refresh(f.stack, &f.err), DROVER_OK);
  ck_assert_int_eq(drover_plan_to_json(&json, f.plan, &f.err), DROVER_OK);
  ck_assert_ptr_nonnull(strstr(json, "\"web[2]\""));
  ck_assert_ptr_nonnull(strstr(json, "\"before\": {"));
  free(json);
  ck_assert_int_eq(drover_apply(f.plan, &ao, NULL, &f.err), DROVER_E_STALE_PLAN);
  ck_assert_ptr_nonnull(strstr(f.err.text, "refreshed"));
  ck_assert_uint_eq(fake_count("fake.thing", "tp"), 3);
  /* Planned again, it goes through. */
  fx_plan(&f, 0);
  drover_error_clear(&f.err);
  fx_apply_ok(&f);
  ck_assert_uint_eq(fake_count("fake.thing", "tp"), 1);
  fx_close(&f);
}
END_TEST

static char logged[4096];

static void keep_line(void *ud, drover_log_level level, const char *msg)
{
  (void)ud;
  (void)level;
  snprintf(logged, sizeof(logged), "%s", msg);
}

/* A secret that straddles the end of the error or log buffer must not
 * leave its first characters behind when the text is cut. */
START_TEST(redact_at_truncation)
{
  static const char secret[] = "Zq9-straddling-secret-Zq9";
  drover_provider_env env;
  drover_error err;
  char pad[4096];

  dv_secret_add(secret);
  memset(pad, 'a', sizeof(pad));
  pad[DROVER_ERROR_TEXT - 8] = '\0';
  drover_error_clear(&err);
  drover_error_set(&err, DROVER_E_PROVIDER, "%s%s", pad, secret);
  ck_assert_ptr_null(strstr(err.text, "Zq9"));
  ck_assert_uint_eq(strspn(err.text, "a"), DROVER_ERROR_TEXT - 8);

  memset(&env, 0, sizeof(env));
  env.log = keep_line;
  memset(pad, 'a', sizeof(pad));
  pad[2048 - 8] = '\0';
  drover_logf(&env, DROVER_LOG_ERROR, "%s%s", pad, secret);
  ck_assert_ptr_null(strstr(logged, "Zq9"));
  ck_assert_uint_eq(strspn(logged, "a"), 2048 - 8);
  /* Redaction itself still works on short lines. */
  drover_logf(&env, DROVER_LOG_ERROR, "x %s y", secret);
  ck_assert_str_eq(logged, "x (sensitive) y");
}
END_TEST

START_TEST(plan_ignore_changes_and_prevent_destroy)
{
  const char *img[] = {"image=alpine", NULL};
  const char *size[] = {"size=5", NULL};
  fx f;
  drover_plan *p = NULL;

  fx_converge(TPL_LC, NULL);
  ck_assert_int_eq(fake_mutate("fake.thing", "tp-web", "tags", "{\"x\": \"y\"}"), 0);
  fx_open(&f, TPL_LC, NULL);
  fx_plan(&f, 0);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 0); /* tags ignored */
  fx_close(&f);

  fx_open(&f, TPL_LC, size);
  fx_plan(&f, 0);
  expect(f.plan, "web", DROVER_ACTION_UPDATE, "\"size\" changed"); /* allowed */
  fx_close(&f);

  fx_open(&f, TPL_LC, img);
  ck_assert_int_eq(drover_stack_refresh(f.stack, &f.err), DROVER_OK);
  ck_assert_int_eq(drover_plan_new(&p, f.stack, 0, &f.err), DROVER_E_PREVENT_DESTROY);
  ck_assert_ptr_null(p);
  ck_assert_str_eq(f.err.address, "web");
  ck_assert_ptr_nonnull(strstr(f.err.text, "\"web\""));
  drover_error_clear(&f.err);
  ck_assert_int_eq(drover_plan_new(&p, f.stack, DROVER_PLAN_DESTROY, &f.err),
                   DROVER_E_PREVENT_DESTROY);
  ck_assert_str_eq(f.err.address, "web");
  fx_close(&f);
}
END_TEST

START_TEST(plan_destroy)
{
  fx f;

  fx_converge(TPL, NULL);
  /* An orphan labelled with the stack is destroyed too. */
  ck_assert_int_eq(fake_seed("fake.thing", "tp-old", "tp", "old", "0", NULL,
                             "{\"image\": \"x\"}"), 0);
  fx_open(&f, TPL, NULL);
  fx_plan(&f, DROVER_PLAN_DESTROY);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 4);
  expect(f.plan, "grp", DROVER_ACTION_DELETE, "destroy");
  expect(f.plan, "web[0]", DROVER_ACTION_DELETE, "destroy");
  expect(f.plan, "old", DROVER_ACTION_DELETE, "destroy");
  /* Dependents are listed (and deleted) before what they use. */
  ck_assert_int_lt(find_entry(f.plan, "web[0]"), find_entry(f.plan, "grp"));
  fake_reset_counts();
  fx_apply_ok(&f);
  ck_assert_uint_eq(fake_count(NULL, "tp"), 0);
  ck_assert_int_lt(fake_log_pos(FAKE_OP_DELETE, "web[0]", 1),
                    fake_log_pos(FAKE_OP_DELETE, "grp", 0));
  ck_assert_int_lt(fake_log_pos(FAKE_OP_DELETE, "old", 1),
                    fake_log_pos(FAKE_OP_DELETE, "grp", 0));
  fx_close(&f);
}
END_TEST

START_TEST(refresh_duplicates_and_foreign)
{
  fx f;
  long i;

  fx_converge(TPL, NULL);
  /* A second object of drover's own claiming web[0] (a replacement's
   * create_before_destroy name, left by an interrupted run) with a stale
   * hash, and one from another stack that must be left alone. */
  ck_assert_int_eq(fake_seed("fake.thing", "tp-web-0-00abcd", "tp", "web[0]", "stale",
                             NULL, "{\"image\": \"busybox\"}"), 0);
  ck_assert_int_eq(fake_seed("fake.thing", "other-web-0", "other", "web[0]", "x",
                             NULL, "{\"image\": \"busybox\"}"), 0);
  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  ck_assert_uint_eq(f.stack->orphans.count, 1);
  ck_assert_str_eq(f.stack->orphans.items[0]->name, "tp-web-0-00abcd");
  ck_assert_uint_eq(f.stack->copies.count, 0);
  i = find_entry(f.plan, "web[0]");
  ck_assert_int_eq(drover_plan_action(f.plan, (size_t)i), DROVER_ACTION_NOOP);
  ck_assert_str_eq(f.plan->entries[i].inst->live->name, "tp-web-0");
  ck_assert_uint_eq(drover_plan_changes(f.plan), 1);
  fx_apply_ok(&f);
  ck_assert_ptr_null(fake_get("fake.thing", "tp-web-0-00abcd"));
  ck_assert_uint_eq(fake_count_address("fake.thing", "web[0]"), 2); /* ours + other's */
  ck_assert_uint_eq(fake_count(NULL, "other"), 1);
  fx_close(&f);
}
END_TEST

/* `lxc copy web-0 web-copy`: the copy carries every label of the original
 * and is listed first. The original (drover's name) stays the owner and is
 * never replaced; the copy is shown as a copy and never deleted, by apply,
 * by destroy, or when its block leaves the template. */
START_TEST(copies_left_alone)
{
  static const char *const one[] = {"n=1", "image=alpine", NULL};
  static const char *TPL_NOWEB =
    "{\"drover\": 1, \"stack\": \"tp\", \"resources\": {\n"
    "  \"grp\": {\"type\": \"fake.group\", \"properties\": {\"config\": {\"a\": \"1\"}}}}}\n";
  fx f;
  json_t *orig, *cp, *j;
  char *text = NULL, *js = NULL;
  long i;

  fx_converge(TPL, NULL);
  orig = fake_get("fake.thing", "tp-web-0");
  ck_assert_ptr_nonnull(orig);
  cp = json_deep_copy(json_object_get(orig, "labels"));
  ck_assert_int_eq(fake_seed("fake.thing", "web-copy", "tp", "web[0]",
                             json_string_value(json_object_get(cp, "hash")), NULL,
                             "{\"image\": \"busybox\", \"size\": 1}"), 0);
  json_decref(cp);
  json_decref(orig);
  fake_reset_counts();

  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  i = find_entry(f.plan, "web[0]");
  ck_assert_int_ge(i, 0);
  ck_assert_str_eq(f.plan->entries[i].inst->live->name, "tp-web-0");
  ck_assert_int_eq(drover_plan_action(f.plan, (size_t)i), DROVER_ACTION_NOOP);
  ck_assert_uint_eq(f.stack->orphans.count, 0);
  ck_assert_uint_eq(f.stack->copies.count, 1);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 0);
  /* The copy is an entry of its own, marked, in text and JSON. */
  i = (long)drover_plan_count(f.plan) - 1;
  ck_assert_int_eq(f.plan->entries[i].copy, 1);
  ck_assert_int_eq(drover_plan_action(f.plan, (size_t)i), DROVER_ACTION_NOOP);
  ck_assert_ptr_nonnull(strstr(drover_plan_reason(f.plan, (size_t)i), "web-copy"));
  text = fx_render(f.plan, 0);
  ck_assert_msg(strstr(text, "No changes."), "%s", text);
  ck_assert_msg(strstr(text, "! web[0] (fake.thing) copy: \"web-copy\""), "%s", text);
  free(text);
  ck_assert_int_eq(drover_plan_to_json(&js, f.plan, &f.err), DROVER_OK);
  j = json_loads(js, 0, NULL);
  ck_assert_ptr_nonnull(j);
  ck_assert(json_is_true(json_object_get(json_array_get(json_object_get(j, "resources"),
                                                          (size_t)i), "copy")));
  ck_assert_str_eq(json_string_value(json_object_get(
                     json_array_get(json_object_get(j, "resources"), (size_t)i), "name")),
                   "web-copy");
  json_decref(j);
  free(js);
  fx_apply_ok(&f);
  fx_close(&f);
  ck_assert_uint_eq(fake_calls(FAKE_OP_DELETE, NULL), 0);
  ck_assert_uint_eq(fake_calls(FAKE_OP_CREATE, NULL), 0);

  /* A change that forces replacement replaces the original only. */
  {
    static const char *const img[] = {"image=alpine", NULL};
    fx_open(&f, TPL, img);
    fx_plan(&f, 0);
    expect(f.plan, "web[0]", DROVER_ACTION_REPLACE, NULL);
    fx_apply_ok(&f);
    fx_close(&f);
    ck_assert(fake_get_decref("fake.thing", "web-copy"));
    ck_assert_uint_eq(fake_count_address("fake.thing", "web[0]"), 2);
  }

  /* Scaled down to one: web[1] goes, the copy of web[0] stays. */
  fake_reset_counts();
  fx_open(&f, TPL, one);
  fx_plan(&f, 0);
  fx_apply_ok(&f);
  fx_close(&f);
  ck_assert_uint_eq(fake_calls(FAKE_OP_DELETE, NULL), 1); /* web[1] */
  ck_assert(fake_get_decref("fake.thing", "web-copy"));

  /* Destroy deletes the original, never the copy. */
  fx_open(&f, TPL, one);
  fx_plan(&f, DROVER_PLAN_DESTROY);
  ck_assert_uint_eq(f.stack->copies.count, 1);
  fx_apply_ok(&f);
  fx_close(&f);
  ck_assert_ptr_null(fake_get("fake.thing", "tp-web-0"));
  ck_assert(fake_get_decref("fake.thing", "web-copy"));

  /* Alone under a name drover did not give it: the real one is created
   * beside it, the copy is not replaced. */
  fake_reset_counts();
  fx_open(&f, TPL, one);
  fx_plan(&f, 0);
  expect(f.plan, "web[0]", DROVER_ACTION_CREATE, NULL);
  fx_apply_ok(&f);
  fx_close(&f);
  ck_assert_uint_eq(fake_calls(FAKE_OP_DELETE, NULL), 0);
  ck_assert(fake_get_decref("fake.thing", "tp-web-0"));
  ck_assert(fake_get_decref("fake.thing", "web-copy"));

  /* The block leaves the template: the original is deleted as an orphan,
   * the copy is kept. */
  fx_open(&f, TPL_NOWEB, NULL);
  fx_plan(&f, 0);
  ck_assert_uint_eq(f.stack->copies.count, 1);
  expect(f.plan, "web[0]", DROVER_ACTION_DELETE, NULL);
  fx_apply_ok(&f);
  fx_close(&f);
  ck_assert_ptr_null(fake_get("fake.thing", "tp-web-0"));
  ck_assert(fake_get_decref("fake.thing", "web-copy"));
}
END_TEST

START_TEST(render_and_json)
{
  const char *size2[] = {"size=2", NULL};
  fx f;
  char *buf, *js = NULL;
  json_t *root, *res;
  json_error_t jerr;

  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  buf = fx_render(f.plan, 0);
  ck_assert_ptr_nonnull(strstr(buf, "+ web[0]"));
  ck_assert_ptr_nonnull(strstr(buf, "Plan: 3 to create, 0 to update, 0 to replace, "
                                    "0 to delete."));
  ck_assert_ptr_null(strstr(buf, "\033["));
  ck_assert_ptr_null(strstr(buf, "hunter2-secret"));
  ck_assert_ptr_nonnull(strstr(buf, "(sensitive)"));
  free(buf);
  buf = fx_render(f.plan, 1);
  ck_assert_ptr_nonnull(strstr(buf, "\033["));
  free(buf);
  buf = NULL;
  fx_apply_ok(&f);
  fx_close(&f);

  fx_open(&f, TPL, size2);
  fx_plan(&f, 0);
  buf = fx_render(f.plan, 0);
  ck_assert_ptr_nonnull(strstr(buf, "~ web[1]"));
  ck_assert_ptr_nonnull(strstr(buf, "size: 1 -> 2"));
  ck_assert_ptr_nonnull(strstr(buf, "Plan: 0 to create, 2 to update"));
  free(buf);

  ck_assert_int_eq(drover_plan_to_json(&js, f.plan, &f.err), DROVER_OK);
  ck_assert_ptr_null(strstr(js, "hunter2-secret"));
  root = json_loads(js, 0, &jerr);
  ck_assert_ptr_nonnull(root);
  ck_assert_str_eq(json_string_value(json_object_get(root, "stack")), "tp");
  ck_assert_int_eq(json_integer_value(json_object_get(root, "changes")), 2);
  res = json_object_get(root, "resources");
  ck_assert_uint_eq(json_array_size(res), 3);
  {
    size_t i;
    json_t *e;
    int seen = 0;
    json_array_foreach(res, i, e) {
      if(strcmp(json_string_value(json_object_get(e, "address")), "web[0]"))
        continue;
      seen = 1;
      ck_assert_str_eq(json_string_value(json_object_get(e, "action")), "update");
      ck_assert_str_eq(json_string_value(json_array_get(json_object_get(e, "changed"), 0)),
                       "size");
      ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(e, "before"),
                                                          "size")), 1);
      ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(e, "after"),
                                                          "size")), 2);
    }
    ck_assert(seen);
  }
  json_decref(root);
  free(js);
  fx_close(&f);

  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  buf = fx_render(f.plan, 0);
  ck_assert_ptr_nonnull(strstr(buf, "No changes."));
  free(buf);
  fx_close(&f);
}
END_TEST

/* Sensitive values by structure: a derived value, a 2-character secret,
 * the old value read back after a rotation, and a value the template no
 * longer marks (the object's label still does). */
static const char *TPL_SECRET =
  "{\"drover\": 1, \"stack\": \"ts\",\n"
  " \"params\": {\"tok\": {\"type\": \"string\", \"sensitive\": SENS},\n"
  "            \"pin\": {\"type\": \"string\", \"sensitive\": SENS}},\n"
  " \"resources\": {\n"
  "  \"web\": {\"type\": \"fake.thing\",\n"
  "           \"properties\": {\"image\": \"img-${params.pin}\",\n"
  "                          \"tags\": {\"tok\": \"${params.tok}\",\n"
  "                                   \"auth\": \"Bearer ${params.tok}\",\n"
  "                                   \"plain\": \"tablet\"}}},\n"
  "  \"grp\": {\"type\": \"fake.group\",\n"
  "           \"properties\": {\"config\": {\"x\": \"${resources.web.image}\"}}}},\n"
  " \"outputs\": {\"t\": {\"value\": \"${resources.web.tags}\"}}}\n";

static char *secret_tpl(int sensitive)
{
  char *out = malloc(strlen(TPL_SECRET) + 16), *p;
  const char *s = TPL_SECRET;

  ck_assert_ptr_nonnull(out);
  p = out;
  while(*s) {
    if(!strncmp(s, "SENS", 4)) {
      p += sprintf(p, "%s", sensitive ? "true" : "false");
      s += 4;
    }
    else
      *p++ = *s++;
  }
  *p = '\0';
  return out;
}

/* The plan as text and JSON, and show --json, in one string. */
static char *everything(fx *f)
{
  char *buf = fx_render(f->plan, 0), *js = NULL, *show = NULL, *all;

  ck_assert_int_eq(drover_plan_to_json(&js, f->plan, &f->err), DROVER_OK);
  ck_assert_int_eq(drover_stack_show_json(&show, f->stack, &f->err), DROVER_OK);
  all = dv_aprintf("%s\n%s\n%s", buf, js, show);
  free(buf);
  free(js);
  free(show);
  return all;
}

START_TEST(secrets_by_structure)
{
  const char *v1[] = {"tok=OLD-tok-9f3a1c", "pin=ab", NULL};
  const char *v2[] = {"tok=NEW-tok-77e0b2", "pin=cd", NULL};
  const char *v3[] = {"tok=plain-tok-0000", "pin=ef", NULL};
  char *marked = secret_tpl(1), *unmarked = secret_tpl(0), *all, *o = NULL;
  json_t *js;
  fx f;

  fx_converge(marked, v1);
  fx_open(&f, marked, v2);
  fx_plan(&f, 0);
  expect(f.plan, "web", DROVER_ACTION_REPLACE, NULL);
  all = everything(&f);
  ck_assert_msg(!strstr(all, "OLD-tok") && !strstr(all, "NEW-tok"), "%s", all);
  /* The 2-character pins, spliced into image and copied into grp. */
  ck_assert_msg(!strstr(all, "img-ab") && !strstr(all, "img-cd"), "%s", all);
  ck_assert_msg(!strstr(all, "\"ab\"") && !strstr(all, "\"cd\""), "%s", all);
  /* Short secrets do not mangle other words. */
  ck_assert_ptr_nonnull(strstr(all, "tablet"));
  free(all);
  /* The object carries the pointers of its secrets. */
  ck_assert_ptr_nonnull(f.stack->insts[0].live);
  ck_assert_ptr_nonnull(f.stack->insts[0].live->sensitive);
  js = json_loads(f.stack->insts[0].live->sensitive, 0, NULL);
  ck_assert_msg(json_is_array(js) && json_array_size(js) == 3, "%s",
                f.stack->insts[0].live->sensitive);
  json_decref(js);
  /* An output derived from a secret is sensitive. */
  ck_assert_int_eq(drover_stack_outputs_json(&o, f.stack, 0, &f.err), DROVER_OK);
  ck_assert_msg(!strstr(o, "tok-"), "%s", o);
  free(o);
  fx_close(&f);

  /* The template stops marking them: what was applied as sensitive is
   * still redacted (the label), the new plain values are shown. */
  fx_open(&f, unmarked, v3);
  fx_plan(&f, 0);
  all = everything(&f);
  ck_assert_msg(!strstr(all, "OLD-tok") && !strstr(all, "img-ab"), "%s", all);
  free(all);
  fx_close(&f);
  free(marked);
  free(unmarked);
}
END_TEST

/* Pointers with long keys, escapes (~0 ~1) and array indexes. */
START_TEST(props_display_pointers)
{
  char key[700], *ptrs[3], *ek;
  dv_block b;
  json_t *props, *shown;

  memset(key, 'k', sizeof(key) - 1);
  key[sizeof(key) - 1] = '\0';
  ek = dv_ptr_join("/tags", key);
  ptrs[0] = ek;
  ptrs[1] = "/tags/a~1b~0c";
  ptrs[2] = "/list/1";
  memset(&b, 0, sizeof(b));
  b.secret_ptrs = ptrs;
  b.nsecret_ptrs = 3;
  props = json_pack("{s:{s:s, s:s, s:s}, s:[s, s]}", "tags", key, "S1", "a/b~c", "S2",
                    "other", "shown", "list", "shown-too", "S3");
  ck_assert_ptr_nonnull(props);
  shown = dv_props_display(props, &b, "[\"/other\", 5, \"/nope/x\"]");
  ck_assert_ptr_nonnull(shown);
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(shown, "tags"), key)),
                   "(sensitive)");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(shown, "tags"),
                                                     "a/b~c")), "(sensitive)");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(shown, "tags"),
                                                     "other")), "shown");
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(shown, "list"), 0)),
                   "shown-too");
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(shown, "list"), 1)),
                   "(sensitive)");
  json_decref(shown);
  /* The label alone (an orphan): "/tags" covers the whole map. */
  shown = dv_props_display(props, NULL, "[\"/tags\"]");
  ck_assert_str_eq(json_string_value(json_object_get(shown, "tags")), "(sensitive)");
  json_decref(shown);
  json_decref(props);
  free(ek);
}
END_TEST

START_TEST(short_secret_whole_words)
{
  char buf[128], *d;

  dv_secret_add("q7");
  dv_secret_add("");
  snprintf(buf, sizeof(buf), "x q7 y q7z aq7 \"q7\" q7");
  dv_redact(buf, sizeof(buf));
  ck_assert_str_eq(buf, "x (sensitive) y q7z aq7 \"(sensitive)\" (sensitive)");
  /* Plans and show redact short secrets by structure only. */
  d = dv_redact_display("x q7 y");
  ck_assert_str_eq(d, "x q7 y");
  free(d);
  /* A secret with a quote is also found in its JSON spelling. */
  dv_secret_add("a\"quoted\"secret");
  snprintf(buf, sizeof(buf), "got \"a\\\"quoted\\\"secret\"");
  dv_redact(buf, sizeof(buf));
  ck_assert_str_eq(buf, "got \"(sensitive)\"");
}
END_TEST

/* Plans tpl with vars on a fresh stack and saves the plan to path. */
static void save_plan(const char *path, const char *tpl, const char *const *vars)
{
  fx f;

  fx_open(&f, tpl, vars);
  fx_plan(&f, 0);
  ck_assert_int_eq(drover_plan_save(f.plan, path, &f.err), DROVER_OK);
  fx_close(&f);
}

START_TEST(saved_plan_roundtrip_and_stale)
{
  const char *size2[] = {"size=2", NULL};
  char path[256];
  struct stat st;
  fx f;
  drover_plan *loaded = NULL;
  drover_stack *ls = NULL;
  drover_error err;
  drover_apply_opts ao = DROVER_APPLY_OPTS_INIT;
  size_t i;

  /* First a cloud whose lists carry ETags; LXD's case (none) follows. */
  fake_set_list_etags(1);
  fx_converge(TPL, NULL);
  snprintf(path, sizeof(path), "%s/p.plan", run_suite_dir());
  fx_open(&f, TPL, size2);
  fx_plan(&f, 0);
  ck_assert_int_eq(drover_plan_save(f.plan, path, &f.err), DROVER_OK);
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq(st.st_mode & 0777, 0600);

  drover_error_clear(&err);
  ck_assert_int_eq(drover_plan_load(&loaded, &ls, path, NULL, &err), DROVER_OK);
  ck_assert_ptr_nonnull(ls);
  ck_assert_str_eq(drover_stack_name(ls), "tp");
  ck_assert_uint_eq(drover_plan_count(loaded), drover_plan_count(f.plan));
  for(i = 0; i < drover_plan_count(loaded); i++) {
    ck_assert_str_eq(drover_plan_address(loaded, i), drover_plan_address(f.plan, i));
    ck_assert_int_eq(drover_plan_action(loaded, i), drover_plan_action(f.plan, i));
  }
  drover_plan_free(loaded);
  loaded = NULL;

  /* Someone changes web[0] between plan and apply. */
  ck_assert_int_eq(fake_mutate("fake.thing", "tp-web-0", "tags", "{\"k\": \"v\"}"), 0);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_plan_load(&loaded, &ls, path, NULL, &err),
                   DROVER_E_STALE_PLAN);
  ck_assert_ptr_null(loaded);
  ck_assert_str_eq(err.address, "web[0]");
  ck_assert_ptr_nonnull(strstr(err.text, "resource \"web[0]\" changed since the plan "
                                         "was made"));
  fx_close(&f);

  /* Fresh plan file, loaded fine, then the cloud moves before apply. */
  save_plan(path, TPL, size2);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_plan_load(&loaded, &ls, path, NULL, &err), DROVER_OK);
  ck_assert_int_eq(fake_mutate("fake.thing", "tp-web-1", "size", "9"), 0);
  fake_reset_counts();
  ao.retry_base = 0.001;
  ck_assert_int_eq(drover_apply(loaded, &ao, NULL, &err), DROVER_E_STALE_PLAN);
  ck_assert_str_eq(err.address, "web[1]");
  ck_assert_uint_eq(fake_calls(FAKE_OP_UPDATE, NULL), 0);
  drover_plan_free(loaded);
  loaded = NULL;

  /* A cloud whose lists carry no ETag (LXD): a change that leaves the
   * action and the hash label as they were is still caught, by the
   * fingerprint of the observed properties. */
  fake_set_list_etags(0);
  save_plan(path, TPL, size2);
  ck_assert_int_eq(fake_mutate("fake.thing", "tp-web-1", "tags", "{\"q\": \"r\"}"), 0);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_plan_load(&loaded, &ls, path, NULL, &err),
                   DROVER_E_STALE_PLAN);
  ck_assert_str_eq(err.address, "web[1]");
  ck_assert_ptr_nonnull(strstr(err.text, "properties in the cloud differ"));
  fake_set_list_etags(1);

  /* Saved again and applied untouched: it works and converges. */
  save_plan(path, TPL, size2);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_plan_load(&loaded, &ls, path, NULL, &err), DROVER_OK);
  ck_assert_int_eq(drover_apply(loaded, &ao, NULL, &err), DROVER_OK);
  drover_plan_free(loaded);
  fx_open(&f, TPL, size2);
  fx_plan(&f, 0);
  ck_assert_uint_eq(drover_plan_changes(f.plan), 0);
  fx_close(&f);
  unlink(path);
}
END_TEST

START_TEST(outputs_graph_show)
{
  fx f;
  char *s = NULL;
  json_t *o;

  fx_open(&f, TPL, NULL);
  fx_plan(&f, 0);
  ck_assert_int_eq(drover_graph_dot(&s, f.stack, f.plan, &f.err), DROVER_OK);
  ck_assert_ptr_nonnull(strstr(s, "digraph"));
  ck_assert_ptr_nonnull(strstr(s, "\"web[0]\" -> \"grp\""));
  ck_assert_ptr_null(strstr(s, "\"grp\" -> \"web"));
  ck_assert_ptr_nonnull(strstr(s, "create"));
  free(s);
  fx_apply_ok(&f);
  ck_assert_int_eq(drover_stack_outputs_json(&s, f.stack, 0, &f.err), DROVER_OK);
  o = json_loads(s, 0, NULL);
  free(s);
  ck_assert_ptr_nonnull(o);
  ck_assert_str_eq(json_string_value(json_array_get(
                     json_object_get(json_object_get(o, "names"), "value"), 1)),
                   "tp-web-1");
  ck_assert_ptr_null(json_object_get(json_object_get(o, "secret"), "value"));
  json_decref(o);
  ck_assert_int_eq(drover_stack_outputs_json(&s, f.stack, 1, &f.err), DROVER_OK);
  ck_assert_ptr_nonnull(strstr(s, "hunter2-secret"));
  free(s);
  fx_plan(&f, 0);
  ck_assert_int_eq(drover_stack_show_json(&s, f.stack, &f.err), DROVER_OK);
  o = json_loads(s, 0, NULL);
  free(s);
  ck_assert_uint_eq(json_array_size(o), 3);
  json_decref(o);
  fx_close(&f);
}
END_TEST

START_TEST(stacks_list_and_provider_config)
{
  char **names = NULL, path[256];
  drover_error err;
  drover_options opts = DROVER_OPTIONS_INIT;
  FILE *fp;
  fx f;
  json_t *cfg;
  drover_template *tpl = NULL;
  drover_stack *stack = NULL;

  fx_converge(TPL, NULL);
  ck_assert_int_eq(fake_seed("fake.group", "zz-g", "zz", "g", "h", NULL, NULL), 0);
  ck_assert_int_eq(fake_seed("fake.group", "free", NULL, NULL, NULL, NULL, NULL), 0);
  drover_error_clear(&err);
  fake_reset_counts();
  ck_assert_int_eq(drover_stacks_list(&names, "{\"fake\": {}}", NULL, &err), DROVER_OK);
  ck_assert_ptr_nonnull(names);
  ck_assert_str_eq(names[0], "tp");
  ck_assert_str_eq(names[1], "zz");
  ck_assert_ptr_null(names[2]);
  ck_assert_uint_eq(fake_calls(FAKE_OP_LIST, NULL), 2);
  drover_strv_free(names);

  /* Admin file overlays the template's provider settings. */
  snprintf(path, sizeof(path), "%s/providers.json", run_suite_dir());
  fp = fopen(path, "w");
  ck_assert_ptr_nonnull(fp);
  fputs("{\"fake\": {\"region\": \"admin\", \"api_token\": \"tok-3141592\"}}", fp);
  fclose(fp);
  opts.provider_config = path;
  memset(&f, 0, sizeof(f));
  ck_assert_int_eq(drover_template_load_buffer(&tpl, TPL, strlen(TPL), "t.json", &err),
                   DROVER_OK);
  ck_assert_int_eq(drover_stack_open(&stack, tpl, NULL, &opts, &err), DROVER_OK);
  ck_assert_int_eq(drover_stack_refresh(stack, &err), DROVER_OK);
  cfg = fake_last_config();
  ck_assert_str_eq(json_string_value(json_object_get(cfg, "region")), "admin");
  ck_assert_str_eq(json_string_value(json_object_get(cfg, "api_token")), "tok-3141592");
  json_decref(cfg);
  {
    /* The credential is now a registered secret. */
    char line[64] = "token tok-3141592 here";
    dv_redact(line, sizeof(line));
    ck_assert_ptr_null(strstr(line, "tok-3141592"));
  }
  drover_stack_free(stack);
  stack = NULL;
  unlink(path);

  /* A directory is not a config file. */
  opts.provider_config = run_suite_dir();
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_open(&stack, tpl, NULL, &opts, &err), DROVER_OK);
  ck_assert_int_eq(drover_stack_refresh(stack, &err), DROVER_E_CONFIG);
  drover_stack_free(stack);
  drover_template_free(tpl);
}
END_TEST

START_TEST(provider_init_failure)
{
  fx f;
  drover_error err;

  fx_open(&f, TPL, NULL);
  fake_fail_init(DROVER_E_NOT_FOUND);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_refresh(f.stack, &err), DROVER_E_NOT_FOUND);
  ck_assert_str_eq(err.source, "fake");
  fake_fail_init(DROVER_OK);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_refresh(f.stack, &err), DROVER_OK);
  fake_fail(FAKE_OP_LIST, NULL, 1, DROVER_E_PROVIDER);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_refresh(f.stack, &err), DROVER_E_PROVIDER);
  fx_close(&f);
}
END_TEST

static Suite *plan_suite(void)
{
  Suite *s = suite_create("plan");
  TCase *tc = tcase_create("core");

  tcase_add_checked_fixture(tc, fx_setup, NULL);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, refresh_is_bulk);
  tcase_add_test(tc, plan_create_then_noop);
  tcase_add_test(tc, plan_update_and_replace);
  tcase_add_test(tc, plan_drift_and_no_diff);
  tcase_add_test(tc, plan_digest_property);
  tcase_add_test(tc, plan_long_strings_summarized);
  tcase_add_test(tc, plan_delete_removed);
  tcase_add_test(tc, plan_outlives_refresh);
  tcase_add_test(tc, redact_at_truncation);
  tcase_add_test(tc, plan_ignore_changes_and_prevent_destroy);
  tcase_add_test(tc, plan_destroy);
  tcase_add_test(tc, refresh_duplicates_and_foreign);
  tcase_add_test(tc, copies_left_alone);
  tcase_add_test(tc, render_and_json);
  tcase_add_test(tc, secrets_by_structure);
  tcase_add_test(tc, short_secret_whole_words);
  tcase_add_test(tc, props_display_pointers);
  tcase_add_test(tc, saved_plan_roundtrip_and_stale);
  tcase_add_test(tc, outputs_graph_show);
  tcase_add_test(tc, stacks_list_and_provider_config);
  tcase_add_test(tc, provider_init_failure);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(plan_suite());
}
