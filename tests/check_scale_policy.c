/* check_scale_policy.c - scale.policy: the decision walked with an
 * overridable now (windows on the Europe/Berlin wall clock across both
 * 2026 DST changes, first match, queue rule, min/max clamp, cooldown),
 * property errors, the target check with file:line:col, count overrides
 * through vars and saved plans, and drover_scale_run over an in-memory
 * provider named "scale" (so scale.policy resolves to it, not to LXD):
 * scale up and down through apply, the decision kept as a label, the
 * cooldown read back from it, dry run. (check_scale.c is the engine at
 * large N.) */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine.h"
#include "scale.h"
#include "run_suite.h"

static time_t utc(int y, int mo, int d, int h, int mi)
{
  return (time_t)dv_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

static dv_scale_policy policy_of(const char *text)
{
  dv_scale_policy p;
  drover_error err;
  char where[128];
  json_t *props = json_loads(text, 0, NULL);

  ck_assert_ptr_nonnull(props);
  drover_error_clear(&err);
  ck_assert_msg(dv_scale_parse(&p, props, where, sizeof(where), &err) == DROVER_OK,
                "%s: %s", where, err.text);
  json_decref(props);
  return p;
}

static dv_scale_decision decide_at(const dv_scale_policy *p, time_t now, long current,
                                   long pending, time_t last_change)
{
  dv_scale_decision d;
  dv_scale_input in = {now, current, pending, last_change};
  drover_error err;

  drover_error_clear(&err);
  ck_assert_msg(dv_scale_decide(&d, p, &in, &err) == DROVER_OK, "%s", err.text);
  return d;
}

/* Desired count and deciding rule at now. */
static void expect(const dv_scale_policy *p, time_t now, long want, const char *rule)
{
  dv_scale_decision d = decide_at(p, now, 0, -1, 0);

  ck_assert_msg(d.desired == want && !strcmp(d.rule, rule),
                "at %lld (%s): %ld by %s, want %ld by %s (%s)", (long long)now, d.local,
                d.desired, d.rule, want, rule, d.reason);
}

static const char business[] =
  "{\"target\": \"web\", \"timezone\": \"Europe/Berlin\", \"schedule\": ["
  " {\"name\": \"weekday-day\", \"when\": \"* 8-19 * * mon-fri\", \"count\": 6}],"
  " \"default\": 2, \"max\": 10}";

START_TEST(window_edges_in_winter_and_summer)
{
  dv_scale_policy p = policy_of(business);

  /* Friday 27 March 2026, CET (UTC+1): 08:00-20:00 local is 07:00-19:00Z. */
  expect(&p, utc(2026, 3, 27, 6, 59), 2, "default");
  expect(&p, utc(2026, 3, 27, 7, 0), 6, "weekday-day");
  expect(&p, utc(2026, 3, 27, 18, 59), 6, "weekday-day");
  expect(&p, utc(2026, 3, 27, 19, 0), 2, "default");
  /* Saturday and Sunday: never, DST change day included. */
  expect(&p, utc(2026, 3, 28, 10, 0), 2, "default");
  expect(&p, utc(2026, 3, 29, 10, 0), 2, "default");
  /* Monday 30 March, CEST (UTC+2) since Sunday 01:00Z: 06:00-18:00Z. A
   * UTC-based window would be wrong for an hour at each end. */
  expect(&p, utc(2026, 3, 30, 5, 59), 2, "default");
  expect(&p, utc(2026, 3, 30, 6, 0), 6, "weekday-day");
  expect(&p, utc(2026, 3, 30, 17, 59), 6, "weekday-day");
  expect(&p, utc(2026, 3, 30, 18, 0), 2, "default");
  /* Friday 23 October, still CEST; Monday 26 October, CET again (the
   * change was Sunday 25 October 01:00Z). */
  expect(&p, utc(2026, 10, 23, 6, 0), 6, "weekday-day");
  expect(&p, utc(2026, 10, 23, 18, 0), 2, "default");
  expect(&p, utc(2026, 10, 26, 6, 0), 2, "default");
  expect(&p, utc(2026, 10, 26, 7, 0), 6, "weekday-day");
  expect(&p, utc(2026, 10, 26, 19, 0), 2, "default");
}
END_TEST

/* Minutes in [from, to) at which the window named rule decides. */
static int minutes_of(const dv_scale_policy *p, time_t from, time_t to, const char *rule)
{
  int n = 0;
  time_t t;

  for(t = from; t < to; t += 60)
    n += !strcmp(decide_at(p, t, 0, -1, 0).rule, rule);
  return n;
}

START_TEST(dst_gap_and_overlap)
{
  dv_scale_policy p = policy_of(
    "{\"target\": \"web\", \"timezone\": \"Europe/Berlin\", \"schedule\": ["
    " {\"name\": \"night\", \"when\": \"* 2 * * *\", \"count\": 5}], \"default\": 1,"
    " \"max\": 9}");

  /* An ordinary night: local 02:00-02:59 is one hour. */
  ck_assert_int_eq(minutes_of(&p, utc(2026, 3, 27, 22, 0), utc(2026, 3, 28, 4, 0), "night"), 60);
  /* 29 March: clocks jump 02:00 -> 03:00, the window never opens. */
  ck_assert_int_eq(minutes_of(&p, utc(2026, 3, 28, 22, 0), utc(2026, 3, 29, 4, 0), "night"), 0);
  /* 25 October: 02:00-02:59 happens twice, two real hours. */
  ck_assert_int_eq(minutes_of(&p, utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 4, 0), "night"),
                   120);
  expect(&p, utc(2026, 10, 25, 0, 30), 5, "night");  /* 02:30 CEST */
  expect(&p, utc(2026, 10, 25, 1, 30), 5, "night");  /* 02:30 CET */
  expect(&p, utc(2026, 10, 25, 2, 0), 1, "default"); /* 03:00 CET */
}
END_TEST

START_TEST(first_window_wins)
{
  dv_scale_policy p = policy_of(
    "{\"target\": \"web\", \"schedule\": ["
    " {\"name\": \"lunch\", \"when\": \"* 12 * * *\", \"count\": 8},"
    " {\"name\": \"day\", \"when\": \"* 8-19 * * *\", \"count\": 4}], \"default\": 1,"
    " \"max\": 9}");

  expect(&p, utc(2026, 6, 1, 12, 30), 8, "lunch");
  expect(&p, utc(2026, 6, 1, 13, 0), 4, "day");
  expect(&p, utc(2026, 6, 1, 7, 59), 1, "default");
}
END_TEST

START_TEST(min_max_clamp)
{
  dv_scale_policy p = policy_of(
    "{\"target\": \"web\", \"schedule\": ["
    " {\"name\": \"peak\", \"when\": \"* 9 * * *\", \"count\": 12}], \"default\": 0,"
    " \"min\": 1, \"max\": 10}");
  dv_scale_decision d = decide_at(&p, utc(2026, 6, 1, 9, 0), 3, -1, 0);

  ck_assert_int_eq(d.asked, 12);
  ck_assert_int_eq(d.desired, 10);
  ck_assert_str_eq(d.clamped, "max");
  ck_assert_ptr_nonnull(strstr(d.reason, "lowered to max 10"));
  d = decide_at(&p, utc(2026, 6, 1, 10, 0), 3, -1, 0);
  ck_assert_int_eq(d.asked, 0);
  ck_assert_int_eq(d.desired, 1);
  ck_assert_str_eq(d.clamped, "min");
  ck_assert_str_eq(d.rule, "default");
  ck_assert_ptr_nonnull(strstr(d.reason, "raised to min 1"));
  d = decide_at(&p, utc(2026, 6, 1, 11, 0), 3, -1, 0);
  ck_assert_ptr_nonnull(d.clamped);
}
END_TEST

START_TEST(cooldown_holds_a_change)
{
  dv_scale_policy p = policy_of(
    "{\"target\": \"web\", \"schedule\": ["
    " {\"name\": \"day\", \"when\": \"* 8-19 * * *\", \"count\": 6}], \"default\": 2,"
    " \"max\": 10, \"cooldown\": \"10m\"}");
  time_t changed = utc(2026, 6, 1, 7, 55), at = utc(2026, 6, 1, 8, 0);
  dv_scale_decision d = decide_at(&p, at, 2, -1, changed);

  ck_assert_int_eq(d.desired, 6);
  ck_assert_int_eq(d.held, 1);
  ck_assert_int_eq((long long)d.cooldown_until, (long long)(changed + 600));
  ck_assert_ptr_nonnull(strstr(d.reason, "held by the cooldown"));
  /* Nothing to hold when the count is already right. */
  d = decide_at(&p, at, 6, -1, changed);
  ck_assert_int_eq(d.held, 0);
  /* At the end of the cooldown the change goes through. */
  d = decide_at(&p, changed + 600, 2, -1, changed);
  ck_assert_int_eq(d.held, 0);
  ck_assert_int_eq((long long)d.cooldown_until, 0);
  /* Never changed: no cooldown. */
  d = decide_at(&p, at, 2, -1, 0);
  ck_assert_int_eq(d.held, 0);
}
END_TEST

START_TEST(queue_rule)
{
  dv_scale_policy p = policy_of(
    "{\"target\": \"web\", \"schedule\": ["
    " {\"name\": \"day\", \"when\": \"* 8-19 * * *\", \"count\": 2}], \"default\": 1,"
    " \"queue\": {\"partition\": \"debug\", \"jobs_per_instance\": 4}, \"max\": 5}");
  dv_scale_decision d = decide_at(&p, utc(2026, 6, 1, 9, 0), 2, 9, 0);

  ck_assert_int_eq(d.queue_count, 3);
  ck_assert_int_eq(d.desired, 3);
  ck_assert_str_eq(d.rule, "queue");
  ck_assert_ptr_nonnull(strstr(d.reason, "9 pending jobs in partition debug"));
  /* A short queue leaves the schedule in charge (ties too). */
  d = decide_at(&p, utc(2026, 6, 1, 9, 0), 2, 8, 0);
  ck_assert_int_eq(d.queue_count, 2);
  ck_assert_str_eq(d.rule, "day");
  d = decide_at(&p, utc(2026, 6, 1, 9, 0), 2, 0, 0);
  ck_assert_int_eq(d.queue_count, 0);
  ck_assert_int_eq(d.desired, 2);
  /* A long queue is still held to max. */
  d = decide_at(&p, utc(2026, 6, 1, 22, 0), 2, 100, 0);
  ck_assert_int_eq(d.asked, 25);
  ck_assert_int_eq(d.desired, 5);
  ck_assert_str_eq(d.rule, "queue");
  /* Unread queue: the schedule alone. */
  d = decide_at(&p, utc(2026, 6, 1, 22, 0), 2, -1, 0);
  ck_assert_int_eq(d.queue_count, -1);
  ck_assert_int_eq(d.desired, 1);
}
END_TEST

static void parse_bad(const char *text, const char *where_want, const char *needle, int col)
{
  dv_scale_policy p;
  drover_error err;
  char where[128];
  json_t *props = json_loads(text, 0, NULL);

  ck_assert_ptr_nonnull(props);
  drover_error_clear(&err);
  ck_assert_msg(dv_scale_parse(&p, props, where, sizeof(where), &err) == DROVER_E_TEMPLATE,
                "%s parsed", text);
  ck_assert_str_eq(where, where_want);
  ck_assert_msg(strstr(err.text, needle), "\"%s\" lacks \"%s\"", err.text, needle);
  if(col)
    ck_assert_int_eq(err.column, col);
  json_decref(props);
}

START_TEST(property_errors)
{
  parse_bad("{\"default\": 1, \"max\": 2}", "/target", "target is the name", 0);
  parse_bad("{\"target\": \"w\", \"max\": 2}", "/default", "default (the count", 0);
  parse_bad("{\"target\": \"w\", \"default\": 1}", "/max", "max is an integer", 0);
  parse_bad("{\"target\": \"w\", \"default\": 1, \"min\": 3, \"max\": 2}", "/max",
            "max is below min", 0);
  parse_bad("{\"target\": \"w\", \"default\": 1, \"max\": 2, \"timezone\": \"Mars/Base\"}",
            "/timezone", "Mars/Base", 0);
  parse_bad("{\"target\": \"w\", \"default\": 1, \"max\": 2, \"schedule\": ["
            "{\"name\": \"d\", \"when\": \"* 8-25 * * *\", \"count\": 1}]}",
            "/schedule/0/when", "hour field", 3);
  parse_bad("{\"target\": \"w\", \"default\": 1, \"max\": 2, \"schedule\": ["
            "{\"name\": \"d\", \"when\": \"* * * * *\", \"count\": -1}]}",
            "/schedule/0/count", "count is an integer", 0);
  parse_bad("{\"target\": \"w\", \"default\": 1, \"max\": 2, \"schedule\": ["
            "{\"name\": \"queue\", \"when\": \"* * * * *\", \"count\": 1}]}",
            "/schedule/0/name", "pick another", 0);
  parse_bad("{\"target\": \"w\", \"default\": 1, \"max\": 2, \"schedule\": ["
            "{\"name\": \"d\", \"when\": \"* * * * *\", \"count\": 1, \"from\": 1}]}",
            "/schedule/0/from", "unknown member", 0);
  parse_bad("{\"target\": \"w\", \"default\": 1, \"max\": 2, \"queue\": "
            "{\"partition\": \"debug\"}}", "/queue/jobs_per_instance", "jobs_per_instance", 0);
  parse_bad("{\"target\": \"w\", \"default\": 1, \"max\": 2, \"cooldown\": \"soon\"}",
            "/cooldown", "cooldown is seconds", 0);
}
END_TEST

/* ------------------------------------------------------------------------
 * The in-memory provider "scale"
 */

typedef struct mobj {
  char name[64], address[64], stack[64], hash[20];
  int policy;               /* a scale.policy record, else a scale.node */
  json_t *props;
  char label[512];          /* scale_decision, "" when unset */
} mobj;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static mobj objs[32];
static size_t nobjs;
static int creates, deletes, labels_set, fail_creates;

static const drover_prop node_props[] = {
  {"size", DROVER_T_INTEGER, 0, "1", NULL, NULL},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};
static const drover_prop pol_props[] = {
  {"target", DROVER_T_STRING, DROVER_PROP_REQUIRED, NULL, NULL, NULL},
  {"timezone", DROVER_T_STRING, 0, NULL, NULL, NULL},
  {"schedule", DROVER_T_OBJECT_ARRAY, 0, NULL, NULL, NULL},
  {"default", DROVER_T_INTEGER, DROVER_PROP_REQUIRED, NULL, NULL, NULL},
  {"queue", DROVER_T_OBJECT, 0, NULL, NULL, NULL},
  {"min", DROVER_T_INTEGER, 0, NULL, NULL, NULL},
  {"max", DROVER_T_INTEGER, DROVER_PROP_REQUIRED, NULL, NULL, NULL},
  {"cooldown", DROVER_T_ANY, 0, NULL, NULL, NULL},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};
static const drover_rtype node_type = {
  .name = "scale.node", .props = node_props, .delete_order = 1, .doc = "a node"};
static const drover_rtype pol_type = {
  .name = "scale.policy", .props = pol_props, .delete_order = 2, .doc = "a policy"};
static const drover_rtype *const types[] = {&node_type, &pol_type, NULL};

static drover_live *live_of(const mobj *o)
{
  drover_live *l = drover_live_new();

  ck_assert_ptr_nonnull(l);
  l->name = strdup(o->name);
  l->address = strdup(o->address);
  l->stack = strdup(o->stack);
  l->hash = strdup(o->hash);
  json_object_update(l->properties, o->props);
  json_object_update(l->attributes, o->props);
  json_object_set_new(l->attributes, "name", json_string(o->name));
  if(o->label[0])
    json_object_set_new(l->attributes, "label_" DV_SCALE_LABEL, json_string(o->label));
  return l;
}

static drover_code m_init(void *state, const json_t *config, const drover_provider_env *env,
                          drover_error *err)
{
  (void)state; (void)config; (void)env; (void)err;
  return DROVER_OK;
}

static void m_cleanup(void *state)
{
  (void)state;
}

static drover_code m_list(void *state, const drover_rtype *type, const char *stack,
                          drover_live_list *out, drover_error *err)
{
  size_t i;

  (void)state; (void)err;
  pthread_mutex_lock(&mu);
  for(i = 0; i < nobjs; i++)
    if(objs[i].policy == (type == &pol_type) && (!stack || !strcmp(objs[i].stack, stack)))
      drover_live_list_push(out, live_of(&objs[i]));
  pthread_mutex_unlock(&mu);
  return DROVER_OK;
}

static drover_code m_create(void *state, const drover_rtype *type,
                            const drover_res_req *req, drover_live **out, drover_error *err)
{
  mobj *o;

  (void)state;
  if(fail_creates)
    return drover_error_set(err, DROVER_E_PROVIDER, "create refused (test)");
  pthread_mutex_lock(&mu);
  ck_assert_uint_lt(nobjs, 32);
  o = &objs[nobjs++];
  memset(o, 0, sizeof(*o));
  snprintf(o->name, sizeof(o->name), "%s", req->name);
  snprintf(o->address, sizeof(o->address), "%s", req->address);
  snprintf(o->stack, sizeof(o->stack), "%s", req->stack);
  snprintf(o->hash, sizeof(o->hash), "%s", req->hash);
  o->policy = type == &pol_type;
  o->props = json_deep_copy(req->properties);
  creates++;
  *out = live_of(o);
  pthread_mutex_unlock(&mu);
  return DROVER_OK;
}

static drover_code m_del(void *state, const drover_rtype *type, const drover_live *cur,
                         double deadline, drover_error *err)
{
  size_t i;

  (void)state; (void)type; (void)deadline; (void)err;
  pthread_mutex_lock(&mu);
  for(i = 0; i < nobjs; i++)
    if(!strcmp(objs[i].name, cur->name)) {
      json_decref(objs[i].props);
      objs[i] = objs[--nobjs];
      deletes++;
      break;
    }
  pthread_mutex_unlock(&mu);
  return DROVER_OK;
}

static drover_code m_check(const drover_rtype *type, const json_t *props, char *where,
                           size_t where_size, drover_error *err)
{
  return type == &pol_type ? drover_scale_policy_check(props, where, where_size, err)
                           : DROVER_OK;
}

static drover_code m_label_set(void *state, const drover_rtype *type, const char *name,
                               const char *key, const char *text, drover_error *err)
{
  size_t i;
  drover_code rc = DROVER_E_NOT_FOUND;

  (void)state;
  ck_assert_ptr_eq(type, &pol_type);
  ck_assert_str_eq(key, DV_SCALE_LABEL);
  pthread_mutex_lock(&mu);
  for(i = 0; i < nobjs; i++)
    if(!strcmp(objs[i].name, name)) {
      snprintf(objs[i].label, sizeof(objs[i].label), "%s", text);
      labels_set++;
      rc = DROVER_OK;
    }
  pthread_mutex_unlock(&mu);
  return rc ? drover_error_set(err, rc, "no object %s", name) : rc;
}

static const drover_provider mem_provider = {
  .version = DROVER_PROVIDER_VERSION, .name = "scale", .types = types,
  .init = m_init, .cleanup = m_cleanup, .list = m_list, .create = m_create,
  .del = m_del, .check = m_check, .table_size = sizeof(drover_provider),
  .label_set = m_label_set
};

static size_t count_nodes(void)
{
  size_t i, n = 0;

  for(i = 0; i < nobjs; i++)
    n += !objs[i].policy;
  return n;
}

static const mobj *policy_obj(void)
{
  size_t i;

  for(i = 0; i < nobjs; i++)
    if(objs[i].policy)
      return &objs[i];
  return NULL;
}

static void reset(void)
{
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_eq(dv_provider_register(&mem_provider, &err), DROVER_OK);
  while(nobjs)
    json_decref(objs[--nobjs].props);
  creates = deletes = labels_set = fail_creates = 0;
}

static const char run_tpl[] =
  "{\"stack\": \"sc\", \"resources\": {\n"
  " \"web\": {\"type\": \"scale.node\", \"count\": 2},\n"
  " \"hours\": {\"type\": \"scale.policy\", \"properties\": {\n"
  "   \"target\": \"web\", \"timezone\": \"Europe/Berlin\",\n"
  "   \"schedule\": [{\"name\": \"weekday-day\", \"when\": \"* 8-19 * * mon-fri\","
  " \"count\": 6}],\n"
  "   \"default\": 2, \"min\": 1, \"max\": 10, \"cooldown\": \"30m\"}}}}";

static drover_stack *open_stack(drover_template **tpl, const char *text, drover_vars *vars)
{
  drover_stack *st = NULL;
  drover_options o = DROVER_OPTIONS_INIT;
  drover_error err;
  char dir[] = "/tmp/check-scale-XXXXXX";

  drover_error_clear(&err);
  ck_assert_ptr_nonnull(mkdtemp(dir));
  setenv("DROVER_LOCK_DIR", dir, 1);
  ck_assert_msg(drover_template_load_buffer(tpl, text, strlen(text), "t.json", &err) == 0,
                "%s", err.text);
  ck_assert_msg(drover_stack_open(&st, *tpl, vars, &o, &err) == 0, "%s", err.text);
  return st;
}

static void apply_all(drover_stack *st)
{
  drover_plan *plan = NULL;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_msg(drover_stack_refresh(st, &err) == 0, "%s", err.text);
  ck_assert_msg(drover_plan_new(&plan, st, 0, &err) == 0, "%s", err.text);
  ck_assert_msg(drover_apply(plan, NULL, NULL, &err) == 0, "%s", err.text);
  drover_plan_free(plan);
}

/* Runs the policy at now; returns the report (caller decrefs). */
static json_t *run_at(drover_stack *st, long long now, int dry)
{
  drover_scale_opts o = DROVER_SCALE_OPTS_INIT;
  drover_error err;
  char *text = NULL;
  json_t *r;

  o.now = now;
  o.dry_run = dry;
  drover_error_clear(&err);
  ck_assert_msg(drover_scale_run(&text, st, "hours", &o, &err) == 0, "%s", err.text);
  ck_assert_ptr_nonnull(text);
  r = json_loads(text, 0, NULL);
  ck_assert_ptr_nonnull(r);
  free(text);
  return r;
}

static void assert_report(json_t *r, long cur, long want, int applied, const char *rule)
{
  char *s = json_dumps(r, JSON_COMPACT);

  ck_assert_msg(json_integer_value(json_object_get(r, "current")) == cur &&
                json_integer_value(json_object_get(r, "desired")) == want &&
                json_is_true(json_object_get(r, "applied")) == applied &&
                !strcmp(json_string_value(json_object_get(r, "rule")), rule) &&
                json_is_true(json_object_get(r, "ok")) &&
                json_is_null(json_object_get(r, "error")),
                "report %s", s);
  free(s);
}

START_TEST(run_scales_up_and_down)
{
  drover_template *tpl = NULL;
  drover_stack *st;
  json_t *r, *label;
  long long mon10 = utc(2026, 3, 30, 8, 0); /* Monday 10:00 CEST */

  reset();
  st = open_stack(&tpl, run_tpl, NULL);
  apply_all(st);
  ck_assert_uint_eq(count_nodes(), 2);

  /* A dry run decides and changes nothing, records nothing. */
  r = run_at(st, mon10, 1);
  assert_report(r, 2, 6, 0, "weekday-day");
  ck_assert(json_is_true(json_object_get(r, "dry_run")));
  json_decref(r);
  ck_assert_uint_eq(count_nodes(), 2);
  ck_assert_int_eq(labels_set, 0);

  /* Business hours: up to 6 through apply, the decision recorded. */
  r = run_at(st, mon10, 0);
  assert_report(r, 2, 6, 1, "weekday-day");
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "changes"),
                                                      "created")), 4);
  ck_assert_str_eq(json_string_value(json_object_get(r, "decided_at")),
                   "2026-03-30T08:00:00Z");
  ck_assert_str_eq(json_string_value(json_object_get(r, "cooldown_until")),
                   "2026-03-30T08:30:00Z");
  json_decref(r);
  ck_assert_uint_eq(count_nodes(), 6);
  label = json_loads(policy_obj()->label, 0, NULL);
  ck_assert_ptr_nonnull(label);
  ck_assert_int_eq(json_integer_value(json_object_get(label, "desired")), 6);
  ck_assert_int_eq(json_integer_value(json_object_get(label, "changed_at")), mon10);
  ck_assert(json_is_true(json_object_get(label, "applied")));
  json_decref(label);

  /* A plain plan keeps what the policy set: the recorded count (6) goes
   * into the vars, and the stack reopened with them plans no change. */
  {
    drover_vars *vars = drover_vars_new();
    drover_stack *plain;
    drover_plan *plan = NULL;
    drover_error err;
    int changed = 0;
    drover_error_clear(&err);
    ck_assert_int_eq(drover_stack_refresh(st, &err), 0);
    ck_assert_int_eq(drover_scale_counts(vars, st, &changed, &err), 0);
    ck_assert_int_eq(changed, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(vars->counts, "web")), 6);
    ck_assert_int_eq(drover_stack_open(&plain, tpl, vars, NULL, &err), 0);
    ck_assert_int_eq(drover_stack_refresh(plain, &err), 0);
    ck_assert_int_eq(drover_plan_new(&plan, plain, 0, &err), 0);
    ck_assert_uint_eq(drover_plan_changes(plan), 0);
    drover_plan_free(plan);
    drover_stack_free(plain);
    drover_vars_free(vars);
  }

  /* The same window again: nothing to do. */
  r = run_at(st, mon10 + 60, 0);
  assert_report(r, 6, 6, 0, "weekday-day");
  json_decref(r);
  ck_assert_uint_eq(count_nodes(), 6);

  /* 20:00 CEST: down to 2, the instances above the template count are
   * deleted by the plan (they are orphans of the stack at count 2). */
  r = run_at(st, utc(2026, 3, 30, 18, 0), 0);
  assert_report(r, 6, 2, 1, "default");
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "changes"),
                                                      "deleted")), 4);
  json_decref(r);
  ck_assert_uint_eq(count_nodes(), 2);
  drover_stack_free(st);
  drover_template_free(tpl);
}
END_TEST

START_TEST(run_cooldown_holds)
{
  drover_template *tpl = NULL;
  drover_stack *st;
  json_t *r;
  long long fri1945 = utc(2026, 3, 27, 18, 45); /* Friday 19:45 CET */

  reset();
  st = open_stack(&tpl, run_tpl, NULL);
  apply_all(st);
  r = run_at(st, fri1945, 0);
  assert_report(r, 2, 6, 1, "weekday-day");
  json_decref(r);
  /* 20:00 local ends the window but the 30-minute cooldown runs to 20:15:
   * at 20:14:59 the change down is held, at 20:15 it goes through. */
  r = run_at(st, fri1945 + 1799, 0);
  ck_assert_msg(json_is_true(json_object_get(r, "held")), "not held");
  ck_assert_int_eq(json_integer_value(json_object_get(r, "desired")), 2);
  ck_assert_str_eq(json_string_value(json_object_get(r, "rule")), "default");
  ck_assert(!json_is_true(json_object_get(r, "applied")));
  ck_assert_str_eq(json_string_value(json_object_get(r, "cooldown_until")),
                   "2026-03-27T19:15:00Z");
  json_decref(r);
  ck_assert_uint_eq(count_nodes(), 6);
  r = run_at(st, fri1945 + 1800, 0);
  assert_report(r, 6, 2, 1, "default");
  json_decref(r);
  ck_assert_uint_eq(count_nodes(), 2);
  drover_stack_free(st);
  drover_template_free(tpl);
}
END_TEST

START_TEST(run_failed_apply_is_recorded)
{
  drover_template *tpl = NULL;
  drover_stack *st, *plain = NULL;
  drover_scale_opts o = DROVER_SCALE_OPTS_INIT;
  drover_vars *vars = drover_vars_new();
  drover_plan *plan = NULL;
  drover_error err;
  char *text = NULL;
  json_t *r, *label;
  int changed = 0;

  reset();
  st = open_stack(&tpl, run_tpl, NULL);
  apply_all(st);
  fail_creates = 1;
  o.now = utc(2026, 3, 30, 8, 0);
  drover_error_clear(&err);
  ck_assert_int_ne(drover_scale_run(&text, st, "hours", &o, &err), DROVER_OK);
  r = json_loads(text, 0, NULL);
  ck_assert_ptr_nonnull(r);
  ck_assert(json_is_false(json_object_get(r, "ok")));
  ck_assert(json_is_false(json_object_get(r, "applied")));
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r, "error")),
                               "create refused"));
  json_decref(r);
  free(text);
  ck_assert_uint_eq(count_nodes(), 2);
  /* Recorded: not applied, no cooldown started, but the count to reach. */
  label = json_loads(policy_obj()->label, 0, NULL);
  ck_assert_ptr_nonnull(label);
  ck_assert(json_is_false(json_object_get(label, "applied")));
  ck_assert_int_eq(json_integer_value(json_object_get(label, "changed_at")), 0);
  ck_assert_int_eq(json_integer_value(json_object_get(label, "count")), 6);
  json_decref(label);
  /* So the next plain apply finishes the scale-up instead of undoing it. */
  fail_creates = 0;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_refresh(st, &err), 0);
  ck_assert_int_eq(drover_scale_counts(vars, st, &changed, &err), 0);
  ck_assert_int_eq(changed, 1);
  ck_assert_int_eq(drover_stack_open(&plain, tpl, vars, NULL, &err), 0);
  ck_assert_int_eq(drover_stack_refresh(plain, &err), 0);
  ck_assert_int_eq(drover_plan_new(&plan, plain, 0, &err), 0);
  ck_assert_uint_eq(drover_plan_changes(plan), 4);
  drover_plan_free(plan);
  drover_stack_free(plain);
  drover_vars_free(vars);
  drover_stack_free(st);
  drover_template_free(tpl);
}
END_TEST

START_TEST(run_errors)
{
  drover_template *tpl = NULL;
  drover_stack *st;
  drover_scale_opts o = DROVER_SCALE_OPTS_INIT;
  drover_error err;
  char *text = NULL;

  reset();
  st = open_stack(&tpl, run_tpl, NULL);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_scale_run(&text, st, "web", &o, &err), DROVER_E_NOT_FOUND);
  ck_assert_ptr_nonnull(strstr(err.text, "no scale.policy \"web\""));
  ck_assert_ptr_null(text);
  /* Never applied: the decision has nowhere to live. */
  drover_error_clear(&err);
  o.now = utc(2026, 3, 30, 8, 0);
  ck_assert_int_eq(drover_scale_run(&text, st, "hours", &o, &err), DROVER_E_NOT_FOUND);
  ck_assert_ptr_nonnull(strstr(err.text, "apply the stack first"));
  ck_assert_ptr_nonnull(text);
  ck_assert_ptr_nonnull(strstr(text, "\"ok\": false"));
  free(text);
  drover_stack_free(st);
  drover_template_free(tpl);
}
END_TEST

START_TEST(target_must_be_counted)
{
  static const char *const bad[][2] = {
    {"{\"stack\": \"sc\", \"resources\": {\n"
     " \"web\": {\"type\": \"scale.node\"},\n"
     " \"p\": {\"type\": \"scale.policy\", \"properties\": {\n"
     "   \"target\": \"web\", \"default\": 1, \"max\": 2}}}}",
     "t.json:4:14: resource \"p\" (scale.policy): target \"web\" has no count to scale"},
    {"{\"stack\": \"sc\", \"resources\": {\n"
     " \"web\": {\"type\": \"scale.node\", \"count\": 1},\n"
     " \"p\": {\"type\": \"scale.policy\", \"properties\": {\n"
     "   \"target\": \"wbe\", \"default\": 1, \"max\": 2}}}}",
     "t.json:4:14: resource \"p\" (scale.policy): target \"wbe\" is not a resource"},
    {"{\"stack\": \"sc\", \"resources\": {\n"
     " \"web\": {\"type\": \"scale.node\", \"count\": 1},\n"
     " \"p\": {\"type\": \"scale.policy\", \"properties\": {\n"
     "   \"target\": \"web\", \"default\": 1, \"max\": 2,\n"
     "   \"schedule\": [{\"name\": \"x\", \"when\": \"* * 32 * *\", \"count\": 1}]}}}}",
     "t.json:5:39: resource \"p\" (scale.policy): cron day of month field \"32\""},
  };
  size_t i;

  reset();
  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    drover_template *tpl = NULL;
    drover_error err;
    char line[2048];
    drover_error_clear(&err);
    ck_assert_int_eq(drover_template_load_buffer(&tpl, bad[i][0], strlen(bad[i][0]),
                                                 "t.json", &err), DROVER_E_TEMPLATE);
    drover_error_format(&err, line, sizeof(line));
    ck_assert_msg(!strncmp(line, bad[i][1], strlen(bad[i][1])), "got %s\nwant %s", line,
                  bad[i][1]);
  }
}
END_TEST

START_TEST(count_override_and_saved_plan)
{
  drover_template *tpl = NULL;
  drover_stack *st, *st2 = NULL;
  drover_vars *vars = drover_vars_new();
  drover_plan *plan = NULL, *loaded = NULL;
  drover_error err;
  char path[] = "/tmp/check-scale-plan-XXXXXX";
  int fd = mkstemp(path);

  reset();
  ck_assert_int_ge(fd, 0);
  close(fd);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_vars_count_set(vars, "web", 5, &err), DROVER_OK);
  st = open_stack(&tpl, run_tpl, vars);
  /* 5 web + 1 policy */
  ck_assert_uint_eq(drover_stack_resource_count(st), 6);
  ck_assert_int_eq(drover_stack_refresh(st, &err), 0);
  ck_assert_int_eq(drover_plan_new(&plan, st, 0, &err), 0);
  ck_assert_int_eq(drover_plan_save(plan, path, &err), 0);
  ck_assert_msg(drover_plan_load(&loaded, &st2, path, NULL, &err) == 0, "%s", err.text);
  ck_assert_uint_eq(drover_stack_resource_count(st2), 6);
  drover_plan_free(loaded);
  drover_plan_free(plan);
  drover_stack_free(st);
  unlink(path);

  /* Only counted resources take an override. */
  ck_assert_int_eq(drover_vars_count_set(vars, "hours", 2, &err), DROVER_OK);
  drover_error_clear(&err);
  ck_assert_int_eq(drover_stack_open(&st, tpl, vars, NULL, &err), DROVER_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.text, "\"hours\" is not a resource with a count"));
  drover_error_clear(&err);
  ck_assert_int_eq(drover_vars_count_set(vars, "web", -1, &err), DROVER_E_ARG);
  drover_vars_free(vars);
  drover_template_free(tpl);
}
END_TEST

static Suite *suite(void)
{
  Suite *s = suite_create("scale_policy");
  TCase *tc = tcase_create("decide");

  tcase_add_test(tc, window_edges_in_winter_and_summer);
  tcase_add_test(tc, dst_gap_and_overlap);
  tcase_add_test(tc, first_window_wins);
  tcase_add_test(tc, min_max_clamp);
  tcase_add_test(tc, cooldown_holds_a_change);
  tcase_add_test(tc, queue_rule);
  tcase_add_test(tc, property_errors);
  suite_add_tcase(s, tc);
  tc = tcase_create("run");
  tcase_add_test(tc, run_scales_up_and_down);
  tcase_add_test(tc, run_cooldown_holds);
  tcase_add_test(tc, run_failed_apply_is_recorded);
  tcase_add_test(tc, run_errors);
  tcase_add_test(tc, target_must_be_counted);
  tcase_add_test(tc, count_override_and_saved_plan);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(suite());
}
