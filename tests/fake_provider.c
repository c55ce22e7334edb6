/* fake_provider.c - an in-process cloud for unit tests (see the header). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "engine.h"
#include "fake_provider.h"

/* ------------------------------------------------------------------------
 * Schema
 */

static const char *const fake_states[] = {"running", "stopped", NULL};

static const drover_prop thing_props[] = {
  {"name", DROVER_T_STRING, DROVER_PROP_FORCE_NEW, NULL, NULL, "cloud name"},
  {"image", DROVER_T_STRING, DROVER_PROP_REQUIRED | DROVER_PROP_FORCE_NEW, NULL,
   NULL, "image to boot"},
  {"size", DROVER_T_INTEGER, 0, "1", NULL, "size units"},
  {"tags", DROVER_T_STRING_MAP, 0, "{}", NULL, "free tags"},
  {"state", DROVER_T_STRING, 0, "\"running\"", fake_states, "power state"},
  {"note", DROVER_T_STRING, DROVER_PROP_NO_DIFF, NULL, NULL, "never compared"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

static const drover_prop group_props[] = {
  {"name", DROVER_T_STRING, DROVER_PROP_FORCE_NEW, NULL, NULL, "cloud name"},
  {"members", DROVER_T_ARRAY, 0, "[]", NULL, "member names"},
  {"config", DROVER_T_STRING_MAP, 0, "{}", NULL, "settings"},
  {"blob", DROVER_T_STRING, DROVER_PROP_DIGEST, NULL, NULL, "compared by SHA-256"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

/* fakeid.vm: the server-assigned-ID mode (provider "fakeid"). */
static const drover_prop vm_props[] = {
  {"image", DROVER_T_STRING, DROVER_PROP_REQUIRED | DROVER_PROP_FORCE_NEW, NULL,
   NULL, "image to boot"},
  {"size", DROVER_T_INTEGER, 0, "1", NULL, "size units"},
  {"tags", DROVER_T_STRING_MAP, 0, "{}", NULL, "free tags"},
  {"disks", DROVER_T_OBJECT_ARRAY, 0, "[]", NULL, "block devices, in order"},
  {"nics", DROVER_T_MAP_OF_OBJECTS, 0, "{}", NULL, "network interfaces by name"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

static const char *const fake_exports[] = {"id", NULL};

const drover_rtype fake_thing_type = {"fake.thing", thing_props, 1, "a thing",
                                      fake_exports, NULL, NULL, 0};
const drover_rtype fake_group_type = {"fake.group", group_props, 0, "a group",
                                      fake_exports, NULL, NULL, 0};
const drover_rtype fake_vm_type = {"fakeid.vm", vm_props, 1,
                                   "a VM whose ID the cloud assigns",
                                   fake_exports, NULL, NULL,
                                   DROVER_RTYPE_SERVER_ID | DROVER_RTYPE_DELETE_MANY};
static const drover_rtype *const fakeid_types[] = {&fake_vm_type, NULL};

static const drover_rtype *const fake_types[] = {&fake_thing_type,
                                                 &fake_group_type, NULL};

/* ------------------------------------------------------------------------
 * The store
 */

typedef struct fobj {
  char *type;
  char *name;
  char *stack, *address, *hash, *deps;
  char *sensitive;   /* DROVER_LABEL_SENSITIVE, or NULL */
  json_t *props;
  unsigned long etag;
  unsigned long id;
  char *token;               /* fakeid.vm: the create's idempotency token */
  struct fobj *next;
} fobj;

typedef struct ffault {
  fake_op op;
  char *address;
  unsigned n;
  drover_code code;
  fake_when when;
  struct ffault *next;
} ffault;

/* An extra delay for the store-changing calls on one address. */
typedef struct fdelay {
  char *address;
  double seconds;
  struct fdelay *next;
} fdelay;

#define NTYPES 3
#define LOGMAX 4096

typedef struct flog {
  fake_op op;
  int end;
  char address[64];
} flog;

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static fobj *objs;
static ffault *faults;
static fdelay *delays;
static unsigned calls[FAKE_OP_N][NTYPES];
static unsigned inflight, max_inflight;
static unsigned long etag_counter, id_counter;
static double delay;
static int list_etags; /* 0: listed objects carry no ETag, like LXD's lists */
static drover_code init_fail;
static unsigned lose_creates;    /* creates that succeed but report a failure */
static int honour_tokens = 1;    /* fakeid.vm: dedupe creates by token */
static json_t *last_config;
static unsigned deletes_missing, refused_deletes, stops_before_delete;
static flog oplog[LOGMAX];
static size_t noplog;

typedef struct fstate {
  int ready;
} fstate;

static int type_index(const char *type)
{
  if(type && !strcmp(type, "fake.thing"))
    return 0;
  if(type && !strcmp(type, "fake.group"))
    return 1;
  if(type && !strcmp(type, "fakeid.vm"))
    return 2;
  return -1;
}

static char *xdup(const char *s)
{
  return s ? strdup(s) : NULL;
}

/* What a create or update writes with the object: its labels from req. */
static void set_labels(fobj *o, const drover_res_req *req)
{
  free(o->stack);
  free(o->address);
  free(o->hash);
  free(o->deps);
  free(o->sensitive);
  o->stack = xdup(req->stack);
  o->address = xdup(req->address);
  o->hash = xdup(req->hash);
  o->deps = xdup(req->deps);
  o->sensitive = req->sensitive && *req->sensitive ? xdup(req->sensitive) : NULL;
}

static void obj_free(fobj *o)
{
  if(!o)
    return;
  free(o->type);
  free(o->name);
  free(o->stack);
  free(o->address);
  free(o->hash);
  free(o->deps);
  free(o->token);
  free(o->sensitive);
  json_decref(o->props);
  free(o);
}

/* Under the lock. */
static fobj *find(const char *type, const char *name)
{
  fobj *o;

  for(o = objs; o; o = o->next)
    if((!type || !strcmp(o->type, type)) && !strcmp(o->name, name))
      return o;
  return NULL;
}

/* Under the lock. */
static void log_op(fake_op op, int end, const char *address)
{
  if(noplog >= LOGMAX)
    return;
  oplog[noplog].op = op;
  oplog[noplog].end = end;
  snprintf(oplog[noplog].address, sizeof(oplog[noplog].address), "%s",
           address ? address : "");
  noplog++;
}

/* Under the lock: consumes one matching fault injected at when. */
static drover_code take_fault(fake_op op, const char *address, fake_when when)
{
  ffault *f;

  for(f = faults; f; f = f->next) {
    if(f->op != op || !f->n || f->when != when)
      continue;
    if(f->address && (!address || strcmp(f->address, address)))
      continue;
    f->n--;
    return f->code;
  }
  return DROVER_OK;
}

static void sleep_for(double s)
{
  struct timespec ts;

  if(s <= 0)
    return;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  while(nanosleep(&ts, &ts) != 0)
    ;
}

/* Common entry of every op: count, check faults, track concurrency.
 * Returns the injected fault or 0; on 0 the caller must call op_leave(). */
static drover_code op_enter(fake_op op, const drover_rtype *type, const char *address,
                            drover_error *err)
{
  drover_code rc;
  int ti = type_index(type ? type->name : NULL);

  double extra = 0;
  fdelay *d;

  pthread_mutex_lock(&fake_lock);
  if(ti >= 0)
    calls[op][ti]++;
  rc = take_fault(op, address, FAKE_FAULT_BEFORE);
  for(d = delays; d && address; d = d->next)
    if(!strcmp(d->address, address))
      extra = d->seconds;
  if(!rc && op != FAKE_OP_LIST) {
    inflight++;
    if(inflight > max_inflight)
      max_inflight = inflight;
    log_op(op, 0, address);
  }
  pthread_mutex_unlock(&fake_lock);
  if(rc) {
    drover_error_set(err, rc, "fake: injected %s fault",
                     rc == DROVER_E_TRANSIENT ? "transient" : "permanent");
    drover_error_locate(err, "fake", address);
    return rc;
  }
  if(op != FAKE_OP_LIST && op != FAKE_OP_READ)
    sleep_for(delay + extra);
  return DROVER_OK;
}

/* Under the lock: a fault injected at when (after the store changed, or
 * midway through a two-step op), recorded in err. A lost response. */
static drover_code late_fault(fake_op op, const char *address, fake_when when,
                              drover_error *err)
{
  drover_code rc = take_fault(op, address, when);

  if(rc) {
    drover_error_set(err, rc, "fake: injected %s fault %s the change",
                     rc == DROVER_E_TRANSIENT ? "transient" : "permanent",
                     when == FAKE_FAULT_AFTER ? "after" : "midway through");
    drover_error_locate(err, "fake", address);
  }
  return rc;
}

/* Under the lock: whether o carries these stack and address labels (the
 * LXD provider adopts only such an object, lxd_owned_at()). */
static int owned_at(const fobj *o, const char *stack, const char *address)
{
  return o->stack && stack && o->address && address && !strcmp(o->stack, stack) &&
         !strcmp(o->address, address);
}

/* Under the lock: a running thing (state "running" or unset: the default). */
static int is_running(const fobj *o)
{
  const char *st = json_string_value(json_object_get(o->props, "state"));

  return !strcmp(o->type, "fake.thing") && (!st || !strcmp(st, "running"));
}

/* Under the lock: a group is in use while a thing's tags name it, as an
 * LXD profile is while an instance lists it; LXD refuses its delete. */
static int in_use(const fobj *g)
{
  const fobj *o;

  if(strcmp(g->type, "fake.group"))
    return 0;
  for(o = objs; o; o = o->next) {
    const char *k;
    json_t *v;
    if(strcmp(o->type, "fake.thing"))
      continue;
    json_object_foreach(json_object_get(o->props, "tags"), k, v)
      if(json_is_string(v) && !strcmp(json_string_value(v), g->name))
        return 1;
  }
  return 0;
}

static void op_leave(fake_op op, const char *address)
{
  if(op == FAKE_OP_LIST)
    return;
  pthread_mutex_lock(&fake_lock);
  inflight--;
  log_op(op, 1, address);
  pthread_mutex_unlock(&fake_lock);
}

/* Under the lock: the object as the engine sees it. etag: whether it
 * carries its ETag (a single-object read does; a list only when
 * fake_set_list_etags() asked for it, as LXD's lists carry none). NULL on
 * OOM. */
static drover_live *to_live(const fobj *o, int etag)
{
  drover_live *l = drover_live_new();
  char buf[32];

  if(!l)
    return NULL;
  l->name = xdup(o->name);
  l->stack = xdup(o->stack);
  l->address = xdup(o->address);
  l->hash = xdup(o->hash);
  l->deps = xdup(o->deps);
  l->sensitive = xdup(o->sensitive);
  snprintf(buf, sizeof(buf), "e%lu", o->etag);
  l->etag = etag ? xdup(buf) : NULL;
  l->status = xdup("Ready");
  json_decref(l->properties);
  l->properties = json_deep_copy(o->props);
  json_object_update(l->attributes, o->props);
  json_object_set_new(l->attributes, "name", json_string(o->name));
  snprintf(buf, sizeof(buf), "id-%lu", o->id);
  /* fakeid.vm: the name is the ID the cloud assigned; the engine adds
   * attributes.id itself for such types, so leave it out. */
  if(strcmp(o->type, "fakeid.vm"))
    json_object_set_new(l->attributes, "id", json_string(buf));
  else {
    json_object_del(l->attributes, "name");
    json_object_del(l->properties, "name");
  }
  if(!l->name || (etag && !l->etag) || !l->properties) {
    drover_live_free(l);
    return NULL;
  }
  return l;
}

/* Properties as stored: the request's, plus the cloud name. */
static json_t *store_props(const json_t *props, const char *name)
{
  json_t *p = props ? json_deep_copy(props) : json_object();

  if(p)
    json_object_set_new(p, "name", json_string(name));
  return p;
}

/* ------------------------------------------------------------------------
 * The table's ops
 */

static drover_code fake_init(void *state, const json_t *config,
                             const drover_provider_env *env, drover_error *err)
{
  fstate *st = state;
  drover_code rc;

  (void)env;
  pthread_mutex_lock(&fake_lock);
  calls[FAKE_OP_INIT][0]++;
  rc = init_fail;
  if(!rc) {
    json_decref(last_config);
    last_config = config ? json_deep_copy(config) : json_object();
  }
  pthread_mutex_unlock(&fake_lock);
  if(rc)
    return drover_error_set(err, rc, "fake: init failed (injected)");
  st->ready = 1;
  return DROVER_OK;
}

static void fake_cleanup(void *state)
{
  fstate *st = state;
  st->ready = 0;
}

static drover_code fake_list(void *state, const drover_rtype *type,
                             const char *stack, drover_live_list *out,
                             drover_error *err)
{
  drover_code rc;
  fobj *o;

  (void)state;
  rc = op_enter(FAKE_OP_LIST, type, NULL, err);
  if(rc)
    return rc;
  pthread_mutex_lock(&fake_lock);
  for(o = objs; o; o = o->next) {
    drover_live *l;
    if(strcmp(o->type, type->name) || !o->stack)
      continue;
    if(stack && strcmp(o->stack, stack))
      continue;
    l = to_live(o, list_etags);
    if(!l || drover_live_list_push(out, l)) {
      rc = drover_error_set(err, DROVER_E_NOMEM, "fake: out of memory");
      break;
    }
  }
  pthread_mutex_unlock(&fake_lock);
  return rc;
}

/* Under the lock: fakeid.vm's create. The cloud names it ("i-<n>"); a
 * request carrying the token of an earlier create gets that object back,
 * as EC2 does with a ClientToken. */
static drover_code vm_create(const drover_rtype *type, const drover_res_req *req,
                             drover_live **out, drover_error *err)
{
  char name[32];
  fobj *o = NULL;

  if(honour_tokens && req->idempotency_token)
    for(o = objs; o; o = o->next)
      if(o->token && !strcmp(o->token, req->idempotency_token))
        break;
  if(!o) {
    o = calloc(1, sizeof(*o));
    if(!o)
      return drover_error_set(err, DROVER_E_NOMEM, "fake: out of memory");
    o->id = ++id_counter;
    snprintf(name, sizeof(name), "i-%06lu", o->id);
    o->type = xdup(type->name);
    o->name = xdup(name);
    o->stack = xdup(req->stack);
    o->address = xdup(req->address);
    o->hash = xdup(req->hash);
    o->deps = xdup(req->deps);
    o->token = xdup(req->idempotency_token);
    o->props = req->properties ? json_deep_copy(req->properties) : json_object();
    o->etag = ++etag_counter;
    o->next = objs;
    objs = o;
  }
  if(lose_creates) {
    /* The cloud made it; the answer never arrived. */
    lose_creates--;
    drover_error_set(err, DROVER_E_TRANSIENT, "fake: response lost after create");
    drover_error_locate(err, "fakeid", req->address);
    return DROVER_E_TRANSIENT;
  }
  *out = to_live(o, 1);
  return *out ? DROVER_OK : drover_error_set(err, DROVER_E_NOMEM, "fake: out of memory");
}

/* The end of a create or update that changed o, under fake_lock: a fault
 * after the change (the answer lost), else o as the answer (*out, the
 * caller's). */
static drover_code answer(fake_op op, const fobj *o, const char *address, drover_live **out,
                          drover_error *err)
{
  drover_code rc = late_fault(op, address, FAKE_FAULT_AFTER, err);

  if(!rc && !(*out = to_live(o, 1)))
    rc = drover_error_set(err, DROVER_E_NOMEM, "fake: out of memory");
  return rc;
}

/* As the LXD provider's create: LXD answers 409 for a taken name, and the
 * provider adopts the object only when it carries this stack's labels for
 * this address (a retry after a lost response), bringing it to the desired
 * state; otherwise "already exists and is not owned", a permanent error.
 * LXD creates an instance stopped and then starts it: a midway fault
 * leaves a labelled thing stopped. */
static drover_code fake_create(void *state, const drover_rtype *type,
                               const drover_res_req *req, drover_live **out,
                               drover_error *err)
{
  drover_code rc;
  fobj *o;

  (void)state;
  *out = NULL;
  rc = op_enter(FAKE_OP_CREATE, type, req->address, err);
  if(rc)
    return rc;
  pthread_mutex_lock(&fake_lock);
  if(type->flags & DROVER_RTYPE_SERVER_ID) {
    rc = vm_create(type, req, out, err);
    goto unlock;
  }
  o = find(type->name, req->name);
  if(o) {
    if(!owned_at(o, req->stack, req->address)) {
      rc = drover_error_set(err, DROVER_E_PROVIDER,
                            "fake: %s \"%s\" already exists and is not owned by this stack",
                            type->name, req->name);
      drover_error_locate(err, "fake", req->address);
      goto unlock;
    }
    json_decref(o->props);
  }
  else {
    o = calloc(1, sizeof(*o));
    if(!o) {
      rc = drover_error_set(err, DROVER_E_NOMEM, "fake: out of memory");
      goto unlock;
    }
    o->type = xdup(type->name);
    o->name = xdup(req->name);
    o->id = ++id_counter;
    o->next = objs;
    objs = o;
  }
  set_labels(o, req);
  o->props = store_props(req->properties, req->name);
  o->etag = ++etag_counter;
  if(!strcmp(type->name, "fake.thing") && (rc = late_fault(FAKE_OP_CREATE, req->address,
                                                          FAKE_FAULT_MIDWAY, err))) {
    json_object_set_new(o->props, "state", json_string("stopped"));
    goto unlock;
  }
  rc = answer(FAKE_OP_CREATE, o, req->address, out, err);
unlock:
  pthread_mutex_unlock(&fake_lock);
  op_leave(FAKE_OP_CREATE, req->address);
  return rc;
}

static drover_code fake_update(void *state, const drover_rtype *type,
                               const drover_res_req *req, const drover_live *cur,
                               drover_live **out, drover_error *err)
{
  drover_code rc;
  fobj *o;
  char buf[32];

  (void)state;
  *out = NULL;
  rc = op_enter(FAKE_OP_UPDATE, type, req->address, err);
  if(rc)
    return rc;
  pthread_mutex_lock(&fake_lock);
  o = find(type->name, cur->name);
  if(!o) {
    rc = drover_error_set(err, DROVER_E_NOT_FOUND, "fake: %s \"%s\" not found",
                          type->name, cur->name);
    drover_error_locate(err, "fake", req->address);
    goto unlock;
  }
  snprintf(buf, sizeof(buf), "e%lu", o->etag);
  if(req->if_match && strcmp(req->if_match, buf)) {
    rc = drover_error_set(err, DROVER_E_CONFLICT,
                          "fake: %s \"%s\" changed (ETag %s, expected %s)",
                          type->name, cur->name, buf, req->if_match);
    drover_error_locate(err, "fake", req->address);
    goto unlock;
  }
  {
    /* LXD's update is a PUT, then a state change: midway, the properties
     * are in and the power state is still the old one. */
    json_t *old_state = json_incref(json_object_get(o->props, "state"));
    json_decref(o->props);
    o->props = store_props(req->properties, o->name);
    o->etag = ++etag_counter;
    if((rc = late_fault(FAKE_OP_UPDATE, req->address, FAKE_FAULT_MIDWAY, err))) {
      if(old_state)
        json_object_set(o->props, "state", old_state);
      else
        json_object_del(o->props, "state");
    }
    json_decref(old_state);
    if(rc)
      goto unlock;
  }
  set_labels(o, req);
  o->etag = ++etag_counter;
  rc = answer(FAKE_OP_UPDATE, o, req->address, out, err);
unlock:
  pthread_mutex_unlock(&fake_lock);
  op_leave(FAKE_OP_UPDATE, req->address);
  return rc;
}

/* As the LXD provider's delete: an object already gone is success (LXD's
 * 404); a group still in use is refused (LXD: "in use"); a running thing
 * is stopped first (a midway fault leaves it stopped, not deleted). */
static drover_code fake_del(void *state, const drover_rtype *type,
                            const drover_live *cur, double deadline,
                            drover_error *err)
{
  drover_code rc;
  fobj **pp;

  (void)state;
  (void)deadline;
  rc = op_enter(FAKE_OP_DELETE, type, cur->address, err);
  if(rc)
    return rc;
  pthread_mutex_lock(&fake_lock);
  for(pp = &objs; *pp; pp = &(*pp)->next)
    if(!strcmp((*pp)->type, type->name) && !strcmp((*pp)->name, cur->name))
      break;
  if(!*pp) {
    deletes_missing++;
    goto unlock;
  }
  if(in_use(*pp)) {
    refused_deletes++;
    rc = drover_error_set(err, DROVER_E_PROVIDER,
                          "fake: %s \"%s\" is currently in use", type->name, cur->name);
    drover_error_locate(err, "fake", cur->address);
    goto unlock;
  }
  if(is_running(*pp)) {
    json_object_set_new((*pp)->props, "state", json_string("stopped"));
    (*pp)->etag = ++etag_counter;
    stops_before_delete++;
    rc = late_fault(FAKE_OP_DELETE, cur->address, FAKE_FAULT_MIDWAY, err);
    if(rc)
      goto unlock;
  }
  {
    fobj *o = *pp;
    *pp = o->next;
    obj_free(o);
  }
  rc = late_fault(FAKE_OP_DELETE, cur->address, FAKE_FAULT_AFTER, err);
unlock:
  pthread_mutex_unlock(&fake_lock);
  op_leave(FAKE_OP_DELETE, cur->address);
  return rc;
}

/* One call for many deletes: each object as fake_del, with its own
 * result (and its address's faults); a fault on FAKE_OP_DELETE_MANY
 * itself fails them all. */
static drover_code fake_del_many(void *state, const drover_rtype *type,
                                 const drover_live *const *curs, size_t n, double deadline,
                                 drover_code *rcs, drover_error *errs)
{
  drover_code rc, first = DROVER_OK;
  drover_error whole;
  size_t i;

  drover_error_clear(&whole);
  rc = op_enter(FAKE_OP_DELETE_MANY, type, NULL, &whole);
  if(!rc)
    op_leave(FAKE_OP_DELETE_MANY, NULL);
  for(i = 0; i < n; i++) {
    if(rc) {
      rcs[i] = rc;
      errs[i] = whole;
    }
    else
      rcs[i] = fake_del(state, type, curs[i], deadline, &errs[i]);
    if(!first)
      first = rcs[i];
  }
  return first;
}

static drover_code fake_read(void *state, const drover_rtype *type,
                             const char *name, drover_live **out,
                             drover_error *err)
{
  drover_code rc;
  fobj *o;

  (void)state;
  *out = NULL;
  rc = op_enter(FAKE_OP_READ, type, NULL, err);
  if(rc)
    return rc;
  pthread_mutex_lock(&fake_lock);
  o = find(type->name, name);
  if(!o)
    rc = drover_error_set(err, DROVER_E_NOT_FOUND, "fake: %s \"%s\" not found",
                          type->name, name);
  else if(!(*out = to_live(o, 1)))
    rc = drover_error_set(err, DROVER_E_NOMEM, "fake: out of memory");
  pthread_mutex_unlock(&fake_lock);
  op_leave(FAKE_OP_READ, NULL);
  return rc;
}

const drover_provider fake_provider = {
  DROVER_PROVIDER_VERSION,
  "fake",
  DROVER_CAP_ETAG,
  sizeof(fstate),
  fake_types,
  fake_init,
  fake_cleanup,
  fake_list,
  fake_create,
  fake_update,
  fake_del,
  fake_read,
  NULL, /* version 2: no settings schema, */
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, /* check, snapshots, exec or clone */
  sizeof(drover_provider),
  NULL, /* version 4: no run labels */
  NULL, NULL, /* version 5: no backup export or import */
  fake_lock_read, fake_lock_create, fake_lock_write, fake_lock_delete, /* version 6 */
  NULL, NULL, /* version 7: no live export */
  NULL /* version 8: deletes one at a time */
};

/* ------------------------------------------------------------------------
 * Test API
 */

int fake_register(void)
{
  drover_error err;

  drover_error_clear(&err);
  return dv_provider_register(&fake_provider, &err) ? -1 : 0;
}

/* The same store and ops, serving only fakeid.vm. */
const drover_provider fake_id_provider = {
  .version = DROVER_PROVIDER_VERSION, .name = "fakeid", .caps = DROVER_CAP_ETAG,
  .state_size = sizeof(fstate), .types = fakeid_types, .init = fake_init,
  .cleanup = fake_cleanup, .list = fake_list, .create = fake_create,
  .update = fake_update, .del = fake_del, .read = fake_read,
  .table_size = sizeof(drover_provider), .lock_read = fake_lock_read,
  .lock_create = fake_lock_create, .lock_write = fake_lock_write,
  .lock_delete = fake_lock_delete, .del_many = fake_del_many
};

int fake_register_server_id(void)
{
  drover_error err;

  drover_error_clear(&err);
  return dv_provider_register(&fake_id_provider, &err) ? -1 : 0;
}

void fake_lose_create_responses(unsigned n)
{
  pthread_mutex_lock(&fake_lock);
  lose_creates = n;
  pthread_mutex_unlock(&fake_lock);
}

void fake_set_honour_tokens(int on)
{
  pthread_mutex_lock(&fake_lock);
  honour_tokens = on;
  pthread_mutex_unlock(&fake_lock);
}

void fake_reset(void)
{
  pthread_mutex_lock(&fake_lock);
  while(objs) {
    fobj *o = objs;
    objs = o->next;
    obj_free(o);
  }
  while(faults) {
    ffault *f = faults;
    faults = f->next;
    free(f->address);
    free(f);
  }
  while(delays) {
    fdelay *d = delays;
    delays = d->next;
    free(d->address);
    free(d);
  }
  memset(calls, 0, sizeof(calls));
  inflight = max_inflight = 0;
  deletes_missing = refused_deletes = stops_before_delete = 0;
  list_etags = 0;
  delay = 0;
  init_fail = DROVER_OK;
  lose_creates = 0;
  honour_tokens = 1;
  json_decref(last_config);
  last_config = NULL;
  noplog = 0;
  pthread_mutex_unlock(&fake_lock);
  fake_lock_reset();
}

unsigned fake_calls(fake_op op, const char *type)
{
  unsigned n = 0;
  int ti = type_index(type);

  if((unsigned)op >= FAKE_OP_N)
    return 0;
  pthread_mutex_lock(&fake_lock);
  if(!type)
    n = calls[op][0] + (op == FAKE_OP_INIT ? 0 : calls[op][1]);
  else if(ti >= 0)
    n = calls[op][ti];
  pthread_mutex_unlock(&fake_lock);
  return n;
}

unsigned fake_max_concurrent(void)
{
  unsigned n;

  pthread_mutex_lock(&fake_lock);
  n = max_inflight;
  pthread_mutex_unlock(&fake_lock);
  return n;
}

void fake_set_list_etags(int on)
{
  pthread_mutex_lock(&fake_lock);
  list_etags = on;
  pthread_mutex_unlock(&fake_lock);
}

void fake_set_delay(double seconds)
{
  pthread_mutex_lock(&fake_lock);
  delay = seconds;
  pthread_mutex_unlock(&fake_lock);
}

void fake_fail(fake_op op, const char *address, unsigned n, drover_code code)
{
  fake_fail_at(op, address, n, code, FAKE_FAULT_BEFORE);
}

void fake_fail_at(fake_op op, const char *address, unsigned n, drover_code code,
                  fake_when when)
{
  ffault *f = calloc(1, sizeof(*f));

  if(!f)
    return;
  f->op = op;
  f->address = xdup(address);
  f->n = n;
  f->code = code;
  f->when = when;
  pthread_mutex_lock(&fake_lock);
  f->next = faults;
  faults = f;
  pthread_mutex_unlock(&fake_lock);
}

void fake_fail_after(fake_op op, const char *address, unsigned n, drover_code code)
{
  fake_fail_at(op, address, n, code, FAKE_FAULT_AFTER);
}

void fake_set_delay_for(const char *address, double seconds)
{
  fdelay *d = calloc(1, sizeof(*d));

  if(!d || !(d->address = xdup(address))) {
    free(d);
    return;
  }
  d->seconds = seconds;
  pthread_mutex_lock(&fake_lock);
  d->next = delays;
  delays = d;
  pthread_mutex_unlock(&fake_lock);
}

unsigned fake_stat(fake_stat_kind kind)
{
  unsigned n = 0;

  pthread_mutex_lock(&fake_lock);
  switch(kind) {
  case FAKE_STAT_DELETE_MISSING: n = deletes_missing; break;
  case FAKE_STAT_DELETE_REFUSED: n = refused_deletes; break;
  case FAKE_STAT_STOP_BEFORE_DELETE: n = stops_before_delete; break;
  }
  pthread_mutex_unlock(&fake_lock);
  return n;
}

void fake_fail_init(drover_code code)
{
  pthread_mutex_lock(&fake_lock);
  init_fail = code;
  pthread_mutex_unlock(&fake_lock);
}

int fake_seed(const char *type, const char *name, const char *stack,
              const char *address, const char *hash, const char *deps,
              const char *props_json)
{
  fobj *o;
  json_t *props = NULL;

  if(type_index(type) < 0 || !name)
    return -1;
  if(props_json) {
    props = json_loads(props_json, 0, NULL);
    if(!json_is_object(props)) {
      json_decref(props);
      return -1;
    }
  }
  o = calloc(1, sizeof(*o));
  if(!o) {
    json_decref(props);
    return -1;
  }
  o->type = xdup(type);
  o->name = xdup(name);
  o->stack = xdup(stack);
  o->address = xdup(address);
  o->hash = xdup(hash);
  o->deps = xdup(deps);
  o->props = store_props(props, name);
  json_decref(props);
  pthread_mutex_lock(&fake_lock);
  if(find(type, name)) {
    pthread_mutex_unlock(&fake_lock);
    obj_free(o);
    return -1;
  }
  o->etag = ++etag_counter;
  o->id = ++id_counter;
  o->next = objs;
  objs = o;
  pthread_mutex_unlock(&fake_lock);
  return 0;
}

int fake_mutate(const char *type, const char *name, const char *prop,
                const char *value_json)
{
  fobj *o;
  json_t *v = NULL;
  int rc = -1;

  if(value_json) {
    v = json_loads(value_json, JSON_DECODE_ANY, NULL);
    if(!v)
      return -1;
  }
  pthread_mutex_lock(&fake_lock);
  o = find(type, name);
  if(o) {
    if(v)
      json_object_set(o->props, prop, v);
    else
      json_object_del(o->props, prop);
    o->etag = ++etag_counter;
    rc = 0;
  }
  pthread_mutex_unlock(&fake_lock);
  json_decref(v);
  return rc;
}

int fake_set_label(const char *type, const char *name, const char *label,
                   const char *value)
{
  fobj *o;
  char **slot = NULL;
  int rc = -1;

  pthread_mutex_lock(&fake_lock);
  o = find(type, name);
  if(o) {
    if(!strcmp(label, DROVER_LABEL_STACK))
      slot = &o->stack;
    else if(!strcmp(label, DROVER_LABEL_ADDRESS))
      slot = &o->address;
    else if(!strcmp(label, DROVER_LABEL_HASH))
      slot = &o->hash;
    else if(!strcmp(label, DROVER_LABEL_DEPS))
      slot = &o->deps;
  }
  if(slot) {
    free(*slot);
    *slot = xdup(value);
    o->etag = ++etag_counter;
    rc = 0;
  }
  pthread_mutex_unlock(&fake_lock);
  return rc;
}

int fake_remove(const char *type, const char *name)
{
  fobj **pp;
  int rc = -1;

  pthread_mutex_lock(&fake_lock);
  for(pp = &objs; *pp; pp = &(*pp)->next) {
    if(!strcmp((*pp)->type, type) && !strcmp((*pp)->name, name)) {
      fobj *o = *pp;
      *pp = o->next;
      obj_free(o);
      rc = 0;
      break;
    }
  }
  pthread_mutex_unlock(&fake_lock);
  return rc;
}

size_t fake_count(const char *type, const char *stack)
{
  fobj *o;
  size_t n = 0;

  pthread_mutex_lock(&fake_lock);
  for(o = objs; o; o = o->next) {
    if(type && strcmp(o->type, type))
      continue;
    if(stack && (!o->stack || strcmp(o->stack, stack)))
      continue;
    n++;
  }
  pthread_mutex_unlock(&fake_lock);
  return n;
}

size_t fake_count_address(const char *type, const char *address)
{
  fobj *o;
  size_t n = 0;

  pthread_mutex_lock(&fake_lock);
  for(o = objs; o; o = o->next) {
    if(type && strcmp(o->type, type))
      continue;
    if(o->address && address && !strcmp(o->address, address))
      n++;
  }
  pthread_mutex_unlock(&fake_lock);
  return n;
}

static json_t *str_or_null(const char *s)
{
  return s ? json_string(s) : json_null();
}

json_t *fake_get(const char *type, const char *name)
{
  fobj *o;
  json_t *j = NULL;
  char buf[32];

  pthread_mutex_lock(&fake_lock);
  o = find(type, name);
  if(o) {
    snprintf(buf, sizeof(buf), "e%lu", o->etag);
    j = json_pack("{s:s, s:s, s:s, s:{s:o, s:o, s:o, s:o}, s:O}",
                  "type", o->type, "name", o->name, "etag", buf,
                  "labels",
                  "stack", str_or_null(o->stack),
                  "address", str_or_null(o->address),
                  "hash", str_or_null(o->hash),
                  "deps", str_or_null(o->deps),
                  "properties", o->props);
  }
  pthread_mutex_unlock(&fake_lock);
  return j;
}

long fake_log_pos(fake_op op, const char *address, int end)
{
  size_t i;
  long pos = -1;

  pthread_mutex_lock(&fake_lock);
  for(i = 0; i < noplog; i++) {
    if(oplog[i].op == op && oplog[i].end == end &&
       !strcmp(oplog[i].address, address ? address : "")) {
      pos = (long)i;
      break;
    }
  }
  pthread_mutex_unlock(&fake_lock);
  return pos;
}

size_t fake_log_len(void)
{
  size_t n;

  pthread_mutex_lock(&fake_lock);
  n = noplog;
  pthread_mutex_unlock(&fake_lock);
  return n;
}

json_t *fake_last_config(void)
{
  json_t *j;

  pthread_mutex_lock(&fake_lock);
  j = last_config ? json_deep_copy(last_config) : NULL;
  pthread_mutex_unlock(&fake_lock);
  return j;
}

void fake_reset_counts(void)
{
  pthread_mutex_lock(&fake_lock);
  memset(calls, 0, sizeof(calls));
  max_inflight = inflight;
  noplog = 0;
  pthread_mutex_unlock(&fake_lock);
}

static void fake_test_log(void *ud, drover_log_level level, const char *msg)
{
  (void)ud;
  fprintf(stderr, "[%d] %s\n", (int)level, msg);
}

drover_code fake_stack_open(drover_template **tpl, drover_stack **stack,
                            const char *json, const char *const *vars,
                            const char *stack_name, drover_error *err)
{
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_vars *v = NULL;
  drover_code rc;
  size_t i;

  *tpl = NULL;
  *stack = NULL;
  rc = drover_template_load_buffer(tpl, json, strlen(json), "test.json", err);
  if(rc)
    goto out;
  v = drover_vars_new();
  if(!v) {
    rc = DROVER_E_NOMEM;
    goto out;
  }
  for(i = 0; vars && vars[i]; i++) {
    rc = drover_vars_set_kv(v, vars[i], err);
    if(rc)
      goto out;
  }
  opts.stack_name = stack_name;
  if(getenv("DROVER_TEST_VERBOSE")) {
    opts.log = fake_test_log;
    opts.log_level = DROVER_LOG_DEBUG;
  }
  rc = drover_stack_open(stack, *tpl, v, &opts, err);
out:
  drover_vars_free(v);
  if(rc) {
    drover_template_free(*tpl);
    *tpl = NULL;
  }
  return rc;
}

void fake_stack_close(drover_template *tpl, drover_stack *stack)
{
  drover_stack_free(stack);
  drover_template_free(tpl);
}
