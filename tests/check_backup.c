/* check_backup.c - the backup commands over an in-memory provider named
 * "backup" (so backup.policy resolves to it, not to LXD): one snapshot
 * per slot, hooks (pre failure aborts, post always runs, stopped
 * instances get none), prune on the policy's own snapshots only (manual,
 * foreign-stack and other-policy snapshots untouched), dry run, restore
 * refusing a running instance (and a volume attached to one), the drill's
 * scratch copy deleted through the target's type, and policy parsing. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "backup.h"
#include "fixture.h"

/* ------------------------------------------------------------------------
 * The in-memory provider
 */

typedef struct mobj {
  char name[64], address[64], status[16];
  char instance[64];              /* a volume's: the instance it is attached to */
  int vol;                        /* a backup.volume, not an instance */
} mobj;

typedef struct msnap {
  char instance[64], name[96];
  long long created;
  json_t *labels;
} msnap;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static mobj objs[8];
static size_t nobjs;
static msnap snaps[256];
static size_t nsnaps;
static int pre_status;            /* exit status the "pre" hook returns */
static char calls[2048];          /* "pre:NAME post:NAME restore:NAME/SNAP " */
static long long fake_created = 1000;

/* Appends "<what>:<a>[/<b>] " to calls. */
static void note(const char *what, const char *a, const char *b)
{
  size_t n = strlen(calls);
  snprintf(calls + n, sizeof(calls) - n, "%s:%s%s%s ", what, a, b ? "/" : "", b ? b : "");
}

static const drover_prop inst_props[] = {
  {"image", DROVER_T_STRING, 0, "\"x\"", NULL, "image"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};
static const drover_prop pol_props[] = {
  {"targets", DROVER_T_ARRAY, 0, NULL, NULL, "t"},
  {"selector", DROVER_T_STRING_MAP, 0, NULL, NULL, "s"},
  {"schedule", DROVER_T_STRING, DROVER_PROP_REQUIRED, NULL, NULL, "s"},
  {"timezone", DROVER_T_STRING, 0, "\"UTC\"", NULL, "z"},
  {"retention", DROVER_T_OBJECT, DROVER_PROP_REQUIRED, NULL, NULL, "r"},
  {"hooks", DROVER_T_OBJECT, 0, NULL, NULL, "h"},
  {"export", DROVER_T_STRING, 0, NULL, NULL, "e"},
  {"on_delete", DROVER_T_STRING, 0, "\"keep\"", NULL, "o"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};
static const drover_rtype inst_type = {
  .name = "backup.instance", .props = inst_props, .delete_order = 1, .doc = "an instance"};
static const drover_rtype pol_type = {
  .name = "backup.policy", .props = pol_props, .delete_order = 2, .doc = "a policy"};
/* A volume a policy may back up (as aws.volume): restored and drilled
 * through the snapshot ops like an instance. */
static const drover_prop vol_props[] = {
  {"instance", DROVER_T_STRING, 0, "\"\"", NULL, "attached to"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};
static const drover_rtype vol_type = {
  .name = "backup.volume", .props = vol_props, .delete_order = 2, .doc = "a volume",
  .flags = DROVER_RTYPE_BACKUP};
static const drover_rtype *const types[] = {&inst_type, &pol_type, &vol_type, NULL};

static drover_code m_list(void *state, const drover_rtype *type, const char *stack,
                          drover_live_list *out, drover_error *err)
{
  size_t i;
  drover_code rc = DROVER_OK;

  (void)state; (void)err;
  if(type != &inst_type && type != &vol_type)
    return DROVER_OK;
  pthread_mutex_lock(&mu);
  for(i = 0; i < nobjs && !rc; i++) {
    drover_live *l;
    if(objs[i].vol != (type == &vol_type))
      continue;
    if(!(l = drover_live_new())) {
      rc = DROVER_E_NOMEM;
      break;
    }
    l->name = strdup(objs[i].name);
    l->address = strdup(objs[i].address);
    l->status = strdup(objs[i].status);
    l->stack = strdup(stack ? stack : "bk");
    if(objs[i].vol)
      json_object_set_new(l->properties, "instance", json_string(objs[i].instance));
    else
      json_object_set_new(l->properties, "image", json_string("x"));
    json_object_set_new(l->attributes, "name", json_string(objs[i].name));
    rc = drover_live_list_push(out, l);
  }
  pthread_mutex_unlock(&mu);
  return rc;
}

static drover_code m_del(void *state, const drover_rtype *type, const drover_live *cur,
                         double deadline, drover_error *err)
{
  (void)state; (void)deadline; (void)err;
  note("del", cur->name, type == &vol_type ? "volume" : NULL);
  return DROVER_OK;
}

static drover_code m_snapshot_clone(void *state, const char *instance, const char *snapshot,
                                    const char *new_name, const json_t *labels,
                                    double deadline, drover_error *err)
{
  (void)state; (void)deadline; (void)err;
  note("clone", instance, snapshot);
  note("as", new_name, json_string_value(json_object_get(labels, DROVER_LABEL_ADDRESS)));
  return DROVER_OK;
}

static drover_code m_snapshot_list(void *state, const char *instance,
                                   drover_snapshot_list *out, drover_error *err)
{
  size_t i;
  drover_code rc = DROVER_OK;

  (void)state; (void)err;
  pthread_mutex_lock(&mu);
  for(i = 0; i < nsnaps && !rc; i++)
    if(!strcmp(snaps[i].instance, instance))
      rc = drover_snapshot_list_push(out, instance, snaps[i].name, snaps[i].created,
                                     json_deep_copy(snaps[i].labels));
  pthread_mutex_unlock(&mu);
  return rc;
}

static void add_snap(const char *instance, const char *name, json_t *labels)
{
  msnap *s = &snaps[nsnaps++];
  snprintf(s->instance, sizeof(s->instance), "%s", instance);
  snprintf(s->name, sizeof(s->name), "%s", name);
  s->created = fake_created++;
  s->labels = labels ? labels : json_object();
}

static drover_code m_snapshot_create(void *state, const char *instance, const char *snapshot,
                                     const char *key, const char *text, double deadline,
                                     int *existed, drover_error *err)
{
  size_t i;

  (void)state; (void)deadline; (void)err;
  *existed = 0;
  pthread_mutex_lock(&mu);
  for(i = 0; i < nsnaps; i++)
    if(!strcmp(snaps[i].instance, instance) && !strcmp(snaps[i].name, snapshot))
      *existed = 1;
  if(!*existed)
    add_snap(instance, snapshot, json_pack("{s:s}", key, text));
  pthread_mutex_unlock(&mu);
  return DROVER_OK;
}

static drover_code m_snapshot_delete(void *state, const char *instance, const char *snapshot,
                                     double deadline, drover_error *err)
{
  size_t i;

  (void)state; (void)deadline; (void)err;
  pthread_mutex_lock(&mu);
  for(i = 0; i < nsnaps; i++)
    if(!strcmp(snaps[i].instance, instance) && !strcmp(snaps[i].name, snapshot)) {
      json_decref(snaps[i].labels);
      snaps[i] = snaps[--nsnaps];
      break;
    }
  pthread_mutex_unlock(&mu);
  return DROVER_OK;
}

static drover_code m_snapshot_restore(void *state, const char *instance,
                                      const char *snapshot, double deadline,
                                      drover_error *err)
{
  (void)state; (void)deadline; (void)err;
  note("restore", instance, snapshot);
  return DROVER_OK;
}

static drover_code m_exec(void *state, const char *instance, const char *const *argv,
                          double deadline, int *status, char **output, drover_error *err)
{
  (void)state; (void)deadline; (void)err;
  note(argv[0], instance, NULL);
  *status = !strcmp(argv[0], "pre") ? pre_status : 0;
  *output = strdup("hook output\n");
  return DROVER_OK;
}

static const drover_provider mem_provider = {
  .version = DROVER_PROVIDER_VERSION, .name = "backup", .types = types,
  .init = fx_op_init, .cleanup = fx_op_cleanup, .list = m_list,
  .create = fx_op_create_unused, .del = m_del, .check = fx_op_check_policy, .snapshot_list = m_snapshot_list,
  .snapshot_create = m_snapshot_create, .snapshot_delete = m_snapshot_delete,
  .snapshot_restore = m_snapshot_restore, .exec = m_exec,
  .snapshot_clone = m_snapshot_clone, .table_size = sizeof(drover_provider)
};

/* ------------------------------------------------------------------------
 * Fixture
 */

static const char tpl_text[] =
  "{\"stack\": \"bk\", \"resources\": {"
  " \"db\": {\"type\": \"backup.instance\", \"count\": 2},"
  " \"nightly\": {\"type\": \"backup.policy\", \"properties\": {"
  "   \"targets\": [\"db\"], \"schedule\": \"@hourly\", \"timezone\": \"Europe/Berlin\","
  "   \"retention\": {\"keep_last\": 2, \"keep_daily\": 2},"
  "   \"hooks\": {\"pre\": [\"pre\"], \"post\": [\"post\"], \"check\": [\"check\"]}}}}}";

static drover_template *tpl;
static drover_stack *st;
static drover_error err;
static char key[9];

static long long utc(int y, int mo, int d, int h, int mi)
{
  return (long long)dv_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

static void setup(void)
{
  size_t i;

  ck_assert_int_eq(dv_provider_register(&mem_provider, &err), 0);
  for(i = 0; i < nsnaps; i++)
    json_decref(snaps[i].labels);
  nsnaps = 0;
  nobjs = 2;
  memset(objs, 0, sizeof(objs));
  snprintf(objs[0].name, 64, "bk-db-0");
  snprintf(objs[0].address, 64, "db[0]");
  snprintf(objs[0].status, 16, "Running");
  snprintf(objs[1].name, 64, "bk-db-1");
  snprintf(objs[1].address, 64, "db[1]");
  snprintf(objs[1].status, 16, "Stopped");
  pre_status = 0;
  calls[0] = '\0';
  drover_error_clear(&err);
  fx_stack(&tpl, &st, tpl_text);
  ck_assert_int_eq(dv_policy_key(key, "bk", "nightly"), 0);
}

static void teardown(void)
{
  drover_stack_free(st);
  drover_template_free(tpl);
  st = NULL;
  tpl = NULL;
}

static json_t *run_at(long long now, drover_code want)
{
  drover_backup_opts o = DROVER_BACKUP_OPTS_INIT;
  char *out = NULL;
  drover_code rc;
  json_t *r;

  o.now = now;
  drover_error_clear(&err);
  rc = drover_backup_run(&out, st, "nightly", &o, &err);
  ck_assert_msg(rc == want, "run: %d (%s), want %d", rc, err.text, want);
  ck_assert_ptr_nonnull(out);
  r = json_loads(out, 0, NULL);
  free(out);
  ck_assert_ptr_nonnull(r);
  return r;
}

static size_t count_named(const char *instance, const char *name)
{
  size_t i, n = 0;

  for(i = 0; i < nsnaps; i++)
    if((!instance || !strcmp(snaps[i].instance, instance)) &&
       (!name || !strcmp(snaps[i].name, name)))
      n++;
  return n;
}

static const char *result_of(json_t *r, size_t i)
{
  return json_string_value(json_object_get(json_array_get(json_object_get(r, "targets"), i),
                                           "result"));
}

/* ------------------------------------------------------------------------
 * Tests
 */

START_TEST(run_once_per_slot)
{
  char name[96];
  json_t *r = run_at(utc(2026, 3, 28, 10, 20), DROVER_OK);

  dv_snap_name(name, sizeof(name), key, utc(2026, 3, 28, 10, 0));
  ck_assert_str_eq(json_string_value(json_object_get(r, "snapshot")), name);
  ck_assert_str_eq(result_of(r, 0), "created");
  ck_assert_str_eq(result_of(r, 1), "created");
  ck_assert_uint_eq(count_named("bk-db-0", name), 1);
  ck_assert_uint_eq(count_named("bk-db-1", name), 1);
  /* hooks only in the running instance, pre before post */
  ck_assert_str_eq(calls, "pre:bk-db-0 post:bk-db-0 ");
  json_decref(r);

  calls[0] = '\0';
  r = run_at(utc(2026, 3, 28, 10, 59), DROVER_OK);
  ck_assert_str_eq(result_of(r, 0), "exists");
  ck_assert_str_eq(result_of(r, 1), "exists");
  ck_assert_uint_eq(nsnaps, 2);
  ck_assert_str_eq(calls, ""); /* no hooks for a slot already taken */
  json_decref(r);
}
END_TEST

START_TEST(pre_failure_aborts_post_runs)
{
  json_t *r;

  pre_status = 3;
  dv_secret_add("output");
  r = run_at(utc(2026, 3, 28, 11, 5), DROVER_E_PARTIAL);
  ck_assert_str_eq(result_of(r, 0), "failed");
  ck_assert_str_eq(result_of(r, 1), "created");
  ck_assert_uint_eq(count_named("bk-db-0", NULL), 0);
  ck_assert_uint_eq(count_named("bk-db-1", NULL), 1);
  ck_assert_str_eq(calls, "pre:bk-db-0 post:bk-db-0 ");
  /* hook output reaches the report, with registered secrets redacted */
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
                       json_array_get(json_object_get(r, "targets"), 0), "pre"), "output")),
                   "hook (sensitive)\n");
  ck_assert_int_eq(json_integer_value(json_object_get(
                       json_object_get(json_array_get(json_object_get(r, "targets"), 0),
                                       "pre"), "status")), 3);
  ck_assert_ptr_nonnull(strstr(err.text, "1 of 2 targets failed"));
  json_decref(r);
}
END_TEST

START_TEST(prune_only_own_snapshots)
{
  drover_backup_opts o = DROVER_BACKUP_OPTS_INIT;
  long long t[] = { utc(2026, 3, 28, 10, 20), utc(2026, 3, 28, 11, 5),
                    utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 30),
                    utc(2026, 3, 29, 9, 30) };
  char other_key[9], name[96], *out = NULL;
  size_t i, nkeep = 0, ndel = 0;
  json_t *r, *s;

  for(i = 0; i < 5; i++)
    json_decref(run_at(t[i], DROVER_OK));
  ck_assert_uint_eq(nsnaps, 10);
  /* Not the policy's: manual, same-name-but-foreign-stack label, another
   * policy's key. */
  add_snap("bk-db-0", "manual1", NULL);
  dv_snap_name(name, sizeof(name), key, utc(2026, 3, 20, 0, 0));
  add_snap("bk-db-0", name, json_pack("{s:s}", key, "{\"stack\":\"x\",\"policy\":\"nightly\"}"));
  ck_assert_int_eq(dv_policy_key(other_key, "bk", "weekly"), 0);
  dv_snap_name(name, sizeof(name), other_key, utc(2026, 3, 20, 0, 0));
  add_snap("bk-db-0", name,
           json_pack("{s:s}", other_key, "{\"stack\":\"bk\",\"policy\":\"weekly\"}"));

  o.now = t[4];
  o.dry_run = 1;
  ck_assert_int_eq(drover_backup_prune(&out, st, "nightly", &o, &err), 0);
  r = json_loads(out, 0, NULL);
  free(out);
  ck_assert_uint_eq(json_array_size(json_object_get(r, "snapshots")), 10);
  json_array_foreach(json_object_get(r, "snapshots"), i, s) {
    const char *a = json_string_value(json_object_get(s, "action"));
    const char *slot = json_string_value(json_object_get(s, "slot"));
    const char *by = json_string_value(json_object_get(s, "kept_by"));
    if(!strcmp(a, "keep")) {
      nkeep++;
      /* Berlin: 09:00Z and 02:00Z are last; 29 March's and 28 March's
       * newest are daily. */
      if(!strcmp(slot, "2026-03-29T09:00:00Z"))
        ck_assert_str_eq(by, "last,daily");
      else if(!strcmp(slot, "2026-03-29T02:00:00Z"))
        ck_assert_str_eq(by, "last");
      else
        ck_assert_msg(!strcmp(slot, "2026-03-28T11:00:00Z") && !strcmp(by, "daily"),
                      "unexpected keep %s %s", slot, by);
    }
    else {
      ck_assert_str_eq(a, "would delete");
      ndel++;
    }
  }
  ck_assert_uint_eq(nkeep, 6);
  ck_assert_uint_eq(ndel, 4);
  ck_assert_uint_eq(nsnaps, 13);
  json_decref(r);

  o.dry_run = 0;
  ck_assert_int_eq(drover_backup_prune(&out, st, "nightly", &o, &err), 0);
  free(out);
  ck_assert_uint_eq(nsnaps, 9); /* 6 kept + 3 not the policy's */
  ck_assert_uint_eq(count_named("bk-db-0", "manual1"), 1);
  dv_snap_name(name, sizeof(name), key, utc(2026, 3, 20, 0, 0));
  ck_assert_uint_eq(count_named("bk-db-0", name), 1);
  dv_snap_name(name, sizeof(name), other_key, utc(2026, 3, 20, 0, 0));
  ck_assert_uint_eq(count_named("bk-db-0", name), 1);
  dv_snap_name(name, sizeof(name), key, utc(2026, 3, 28, 10, 0));
  ck_assert_uint_eq(count_named(NULL, name), 0);
}
END_TEST

START_TEST(restore_refuses_running)
{
  drover_backup_opts o = DROVER_BACKUP_OPTS_INIT;
  char *out = NULL;

  ck_assert_int_eq(drover_backup_restore(&out, st, "db[0]", "s1", &o, &err), DROVER_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.text, "is running"));
  ck_assert_str_eq(calls, "");
  drover_error_clear(&err);
  ck_assert_int_eq(drover_backup_restore(&out, st, "db[1]", "s1", &o, &err), 0);
  free(out);
  o.force = 1;
  ck_assert_int_eq(drover_backup_restore(&out, st, "db[0]", "s2", &o, &err), 0);
  free(out);
  ck_assert_str_eq(calls, "restore:bk-db-1/s1 restore:bk-db-0/s2 ");
  drover_error_clear(&err);
  ck_assert_int_eq(drover_backup_restore(&out, st, "nope", "s1", &o, &err), DROVER_E_ARG);
}
END_TEST

/* A volume target (DROVER_RTYPE_BACKUP): restore refuses one attached to
 * a running instance unless --force, and the drill's scratch copy is
 * deleted through the volume's own type. */
START_TEST(volume_target)
{
  static const char text[] =
    "{\"stack\": \"bk\", \"resources\": {"
    " \"db\": {\"type\": \"backup.instance\", \"count\": 2},"
    " \"disk\": {\"type\": \"backup.volume\", \"properties\": {\"instance\": \"bk-db-0\"}},"
    " \"spare\": {\"type\": \"backup.volume\"},"
    " \"vols\": {\"type\": \"backup.policy\", \"properties\": {"
    "   \"targets\": [\"disk\"], \"schedule\": \"@hourly\", \"retention\": {\"keep_last\": 1}}}}}";
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_backup_opts o = DROVER_BACKUP_OPTS_INIT;
  drover_template *t2 = NULL;
  drover_stack *s2 = NULL;
  char *out = NULL, vkey[9], snap[96], expect[512];

  objs[2] = (mobj){"bk-disk", "disk", "in-use", "bk-db-0", 1};
  objs[3] = (mobj){"bk-spare", "spare", "available", "", 1};
  nobjs = 4;
  ck_assert_int_eq(drover_template_load_buffer(&t2, text, strlen(text), "v.json", &err), 0);
  ck_assert_msg(drover_stack_open(&s2, t2, NULL, &opts, &err) == 0, "%s", err.text);
  ck_assert_int_eq(drover_backup_restore(&out, s2, "disk", "s1", &o, &err), DROVER_E_ARG);
  ck_assert_msg(strstr(err.text, "bk-disk (disk) is attached to instance bk-db-0, which is "
                                 "running") != NULL, "%s", err.text);
  ck_assert_str_eq(calls, "");
  /* Detached, or attached to a stopped instance: no --force needed. */
  drover_error_clear(&err);
  ck_assert_msg(drover_backup_restore(&out, s2, "spare", "s1", &o, &err) == 0, "%s", err.text);
  free(out);
  o.force = 1;
  drover_error_clear(&err);
  ck_assert_msg(drover_backup_restore(&out, s2, "disk", "s2", &o, &err) == 0, "%s", err.text);
  free(out);
  ck_assert_str_eq(calls, "restore:bk-spare/s1 restore:bk-disk/s2 ");
  /* The drill: scratch copy deleted with del() on backup.volume. */
  o = (drover_backup_opts)DROVER_BACKUP_OPTS_INIT;
  o.now = utc(2026, 3, 28, 10, 20);
  ck_assert_msg(drover_backup_run(&out, s2, "vols", &o, &err) == 0, "%s", err.text);
  free(out);
  calls[0] = '\0';
  ck_assert_msg(drover_backup_verify(&out, s2, "vols", &o, &err) == 0, "%s", err.text);
  free(out);
  ck_assert_int_eq(dv_policy_key(vkey, "bk", "vols"), 0);
  dv_snap_name(snap, sizeof(snap), vkey, utc(2026, 3, 28, 10, 0));
  snprintf(expect, sizeof(expect),
           "del:drover-verify-%s-0/volume clone:bk-disk/%s as:drover-verify-%s-0/vols.verify[0] "
           "del:drover-verify-%s-0/volume ",
           vkey, snap, vkey, vkey);
  ck_assert_str_eq(calls, expect);
  drover_stack_free(s2);
  drover_template_free(t2);
}
END_TEST

START_TEST(list_every_policy)
{
  char *out = NULL;
  json_t *r, *e;
  size_t i;

  json_decref(run_at(utc(2026, 3, 28, 10, 20), DROVER_OK));
  add_snap("bk-db-0", "manual1", NULL);
  ck_assert_int_eq(drover_backup_list(&out, st, NULL, &err), 0);
  r = json_loads(out, 0, NULL);
  free(out);
  ck_assert_uint_eq(json_array_size(json_object_get(r, "snapshots")), 2);
  json_array_foreach(json_object_get(r, "snapshots"), i, e) {
    ck_assert_str_eq(json_string_value(json_object_get(e, "policy")), "nightly");
    ck_assert_str_eq(json_string_value(json_object_get(e, "action")), "listed");
  }
  json_decref(r);
}
END_TEST

START_TEST(selector_across_stacks)
{
  static const char text[] =
    "{\"stack\": \"ops\", \"resources\": {"
    " \"all\": {\"type\": \"backup.policy\", \"properties\": {"
    "   \"selector\": {\"stack\": \"b?\", \"address\": \"db[[]1]\"},"
    "   \"schedule\": \"@daily\", \"retention\": {\"keep_last\": 1}}}}}";
  drover_backup_opts o = DROVER_BACKUP_OPTS_INIT;
  drover_template *t2 = NULL;
  drover_stack *s2 = NULL;
  char *out = NULL;
  json_t *r;

  fx_stack(&t2, &s2, text);
  o.now = utc(2026, 6, 1, 12, 0);
  ck_assert_msg(drover_backup_run(&out, s2, "all", &o, &err) == 0, "%s", err.text);
  r = json_loads(out, 0, NULL);
  free(out);
  /* stack "bk" matches b?, and only db[1] matches the address glob */
  ck_assert_uint_eq(json_array_size(json_object_get(r, "targets")), 1);
  ck_assert_str_eq(json_string_value(json_object_get(
                       json_array_get(json_object_get(r, "targets"), 0), "address")),
                   "bk/db[1]");
  ck_assert_uint_eq(count_named("bk-db-1", NULL), 1);
  ck_assert_uint_eq(count_named("bk-db-0", NULL), 0);
  json_decref(r);
  drover_stack_free(s2);
  drover_template_free(t2);
}
END_TEST

START_TEST(verify_drill)
{
  drover_backup_opts o = DROVER_BACKUP_OPTS_INIT;
  char *out = NULL, newest[96], expect[1024];
  json_t *r;

  /* No snapshot yet: nothing to drill, a clear failure. */
  ck_assert_int_eq(drover_backup_verify(&out, st, "nightly", &o, &err), DROVER_E_PROVIDER);
  ck_assert_ptr_nonnull(strstr(out, "no snapshot of bk-db-0"));
  free(out);
  json_decref(run_at(utc(2026, 3, 28, 10, 20), DROVER_OK));
  json_decref(run_at(utc(2026, 3, 28, 12, 20), DROVER_OK));
  calls[0] = '\0';
  drover_error_clear(&err);
  ck_assert_msg(drover_backup_verify(&out, st, "nightly", &o, &err) == 0, "%s", err.text);
  r = json_loads(out, 0, NULL);
  free(out);
  dv_snap_name(newest, sizeof(newest), key, utc(2026, 3, 28, 12, 0));
  ck_assert_str_eq(json_string_value(json_object_get(
                       json_array_get(json_object_get(r, "targets"), 0), "snapshot")), newest);
  ck_assert_str_eq(result_of(r, 0), "passed");
  ck_assert_str_eq(result_of(r, 1), "passed");
  /* leftover scratch removed first, then clone, check, delete */
  snprintf(expect, sizeof(expect),
           "del:drover-verify-%s-0 clone:bk-db-0/%s as:drover-verify-%s-0/nightly.verify[0] "
           "check:drover-verify-%s-0 del:drover-verify-%s-0 "
           "del:drover-verify-%s-1 clone:bk-db-1/%s as:drover-verify-%s-1/nightly.verify[1] "
           "check:drover-verify-%s-1 del:drover-verify-%s-1 ",
           key, newest, key, key, key, key, newest, key, key, key);
  ck_assert_str_eq(calls, expect);
  json_decref(r);
}
END_TEST

/* Targets given as references: the graph gets the edge from the policy
 * to what it backs up (created before it, deleted after it), and the
 * cloud names they evaluate to are the targets. */
START_TEST(targets_as_references)
{
  static const char text[] =
    "{\"stack\": \"bk\", \"resources\": {"
    " \"db\": {\"type\": \"backup.instance\", \"count\": 2},"
    " \"nightly\": {\"type\": \"backup.policy\", \"properties\": {"
    "   \"targets\": [\"${resources.db[1].name}\"], \"schedule\": \"@hourly\","
    "   \"retention\": {\"keep_last\": 2}}}}}";
  size_t pb, db, i;
  int edge = 0;
  json_t *r;

  drover_stack_free(st);
  drover_template_free(tpl);
  fx_stack(&tpl, &st, text);
  pb = dv_block_find(tpl, "nightly");
  db = dv_block_find(tpl, "db");
  for(i = 0; i < st->block_ndeps[pb]; i++)
    edge |= st->block_deps[pb][i] == db;
  ck_assert_msg(edge, "no graph edge from the policy to its target");
  r = run_at(utc(2026, 3, 28, 10, 20), DROVER_OK);
  ck_assert_uint_eq(json_array_size(json_object_get(r, "targets")), 1);
  ck_assert_str_eq(json_string_value(json_object_get(
                       json_array_get(json_object_get(r, "targets"), 0), "instance")),
                   "bk-db-1");
  ck_assert_uint_eq(count_named("bk-db-0", NULL), 0);
  ck_assert_uint_eq(count_named("bk-db-1", NULL), 1);
  json_decref(r);
}
END_TEST

START_TEST(unknown_policy)
{
  drover_backup_opts o = DROVER_BACKUP_OPTS_INIT;
  char *out = NULL;

  ck_assert_int_eq(drover_backup_run(&out, st, "db", &o, &err), DROVER_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.text, "no backup.policy \"db\""));
  ck_assert_ptr_null(out);
}
END_TEST

START_TEST(names_and_parsing)
{
  dv_policy p;
  char where[64];
  json_t *props;

  ck_assert_int_eq(dv_snap_slot("drover-0a1b2c3d-20260330T0130Z", "0a1b2c3d"),
                   utc(2026, 3, 30, 1, 30));
  ck_assert_int_eq(dv_snap_slot("drover-0a1b2c3d-20260330T0130Z", "ffffffff"), -1);
  ck_assert_int_eq(dv_snap_slot("drover-0a1b2c3d-20260330T0130Zx", "0a1b2c3d"), -1);
  ck_assert_int_eq(dv_snap_slot("manual", "0a1b2c3d"), -1);
  ck_assert_int_eq(dv_duration_parse("36h"), 36 * 3600);
  ck_assert_int_eq(dv_duration_parse("2w"), 14 * 86400);
  ck_assert_int_eq(dv_duration_parse("30 d"), -1);
  ck_assert_int_eq(dv_duration_parse("0d"), -1);

  props = json_loads("{\"selector\": {\"stack\": \"web-*\"}, \"schedule\": \"@daily\","
                     " \"retention\": {\"keep_daily\": \"unlimited\", \"max_age\": \"1y\"},"
                     " \"hooks\": {\"pre\": \"sync; echo ok\", \"timeout\": 30}}", 0, NULL);
  ck_assert_int_eq(dv_policy_parse(&p, props, where, sizeof(where), &err), 0);
  ck_assert_str_eq(p.sel_stack, "web-*");
  ck_assert_int_eq(p.ret.keep_daily, DV_KEEP_UNLIMITED);
  ck_assert_int_eq(p.ret.max_age, 365LL * 86400);
  ck_assert_str_eq(p.pre[0], "/bin/sh");
  ck_assert_str_eq(p.pre[2], "sync; echo ok");
  ck_assert(p.hook_timeout == 30);
  dv_policy_free(&p);
  json_decref(props);

  props = json_loads("{\"targets\": [\"a\"], \"schedule\": \"@daily\","
                     " \"retention\": {\"keep_daily\": 2}, \"hooks\": {\"pre\": []}}", 0, NULL);
  drover_error_clear(&err);
  ck_assert_int_eq(dv_policy_parse(&p, props, where, sizeof(where), &err), DROVER_E_TEMPLATE);
  ck_assert_str_eq(where, "/hooks/pre");
  dv_policy_free(&p);
  json_decref(props);
}
END_TEST

static Suite *suite(void)
{
  Suite *s = suite_create("backup");
  TCase *tc = tcase_create("backup");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, run_once_per_slot);
  tcase_add_test(tc, pre_failure_aborts_post_runs);
  tcase_add_test(tc, prune_only_own_snapshots);
  tcase_add_test(tc, restore_refuses_running);
  tcase_add_test(tc, volume_target);
  tcase_add_test(tc, list_every_policy);
  tcase_add_test(tc, selector_across_stacks);
  tcase_add_test(tc, verify_drill);
  tcase_add_test(tc, targets_as_references);
  tcase_add_test(tc, unknown_policy);
  tcase_add_test(tc, names_and_parsing);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(suite());
}
