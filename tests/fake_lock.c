/* fake_lock.c - the fake cloud's stack lease: lock records with
 * compare-and-swap on a version counter (see fake_provider.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "fake_provider.h"

#define FIRST_LOCK_OP FAKE_OP_LOCK_READ
#define NLOCK_OPS (FAKE_OP_N - FAKE_OP_LOCK_READ)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *records;          /* stack -> {"record": {...}, "version": N} */
static unsigned long version;    /* shared counter: a version is never reused */
static int disabled;
static unsigned ncalls[NLOCK_OPS];
static unsigned nfail[NLOCK_OPS];
static drover_code fail_code[NLOCK_OPS];

/* Under mu: counts the call; the injected fault, or 0. */
static drover_code enter(fake_op op, drover_error *err)
{
  int i = (int)op - FIRST_LOCK_OP;

  ncalls[i]++;
  if(!nfail[i])
    return DROVER_OK;
  nfail[i]--;
  drover_error_set(err, fail_code[i], "fake: injected lock fault");
  return fail_code[i];
}

static char *version_of(const json_t *entry)
{
  char buf[32];

  snprintf(buf, sizeof(buf), "l%lld",
           (long long)json_integer_value(json_object_get(entry, "version")));
  return strdup(buf);
}

/* Under mu: stores record (a copy) as the stack's, with a new version.
 * *etag (owned) is that version when etag is not NULL. */
static drover_code store(const char *stack, const json_t *record, char **etag,
                         drover_error *err)
{
  json_t *entry;

  if(!records && !(records = json_object()))
    return drover_error_set(err, DROVER_E_NOMEM, "fake: out of memory");
  entry = json_pack("{s:o, s:I}", "record", json_deep_copy(record), "version",
                    (json_int_t)++version);
  if(!entry || json_object_set_new(records, stack, entry))
    return drover_error_set(err, DROVER_E_NOMEM, "fake: out of memory");
  if(etag && !(*etag = version_of(entry)))
    return drover_error_set(err, DROVER_E_NOMEM, "fake: out of memory");
  return DROVER_OK;
}

/* Under mu: whether the stack's record is at version if_match. */
static int at_version(const json_t *entry, const char *if_match)
{
  char *v = version_of(entry);
  int same = v && if_match && !strcmp(v, if_match);

  free(v);
  return same;
}

drover_code fake_lock_read(void *state, const char *stack, json_t **record,
                           char **etag, drover_error *err)
{
  drover_code rc;
  json_t *entry;

  (void)state;
  *record = NULL;
  *etag = NULL;
  pthread_mutex_lock(&mu);
  rc = enter(FAKE_OP_LOCK_READ, err);
  if(rc)
    goto out;
  if(disabled) {
    rc = drover_error_set(err, DROVER_E_UNSUPPORTED, "fake: leases switched off");
    goto out;
  }
  entry = records ? json_object_get(records, stack) : NULL;
  if(!entry) {
    rc = DROVER_E_NOT_FOUND;
    goto out;
  }
  *record = json_deep_copy(json_object_get(entry, "record"));
  *etag = version_of(entry);
  if(!*record || !*etag)
    rc = drover_error_set(err, DROVER_E_NOMEM, "fake: out of memory");
out:
  pthread_mutex_unlock(&mu);
  return rc;
}

drover_code fake_lock_create(void *state, const char *stack, const json_t *record,
                             char **etag, drover_error *err)
{
  drover_code rc;

  (void)state;
  *etag = NULL;
  pthread_mutex_lock(&mu);
  rc = enter(FAKE_OP_LOCK_CREATE, err);
  if(!rc && records && json_object_get(records, stack))
    rc = DROVER_E_CONFLICT;
  else if(!rc)
    rc = store(stack, record, etag, err);
  pthread_mutex_unlock(&mu);
  return rc;
}

/* Under mu: the entry of stack, counted as a call of op, when its version
 * is if_match; otherwise the fault, DROVER_E_NOT_FOUND or
 * DROVER_E_CONFLICT. */
static drover_code at_entry(fake_op op, const char *stack, const char *if_match,
                            drover_error *err)
{
  drover_code rc = enter(op, err);
  json_t *entry = records ? json_object_get(records, stack) : NULL;

  if(!rc && !entry)
    rc = DROVER_E_NOT_FOUND;
  else if(!rc && !at_version(entry, if_match))
    rc = DROVER_E_CONFLICT;
  return rc;
}

drover_code fake_lock_write(void *state, const char *stack, const json_t *record,
                            const char *if_match, char **etag, drover_error *err)
{
  drover_code rc;

  (void)state;
  *etag = NULL;
  pthread_mutex_lock(&mu);
  rc = at_entry(FAKE_OP_LOCK_WRITE, stack, if_match, err);
  if(!rc)
    rc = store(stack, record, etag, err);
  pthread_mutex_unlock(&mu);
  return rc;
}

drover_code fake_lock_delete(void *state, const char *stack, const char *if_match,
                             drover_error *err)
{
  drover_code rc;

  (void)state;
  pthread_mutex_lock(&mu);
  rc = at_entry(FAKE_OP_LOCK_DELETE, stack, if_match, err);
  if(!rc)
    json_object_del(records, stack);
  pthread_mutex_unlock(&mu);
  return rc;
}

void fake_lock_reset(void)
{
  pthread_mutex_lock(&mu);
  json_decref(records);
  records = NULL;
  disabled = 0;
  memset(ncalls, 0, sizeof(ncalls));
  memset(nfail, 0, sizeof(nfail));
  pthread_mutex_unlock(&mu);
}

void fake_lock_set_enabled(int on)
{
  pthread_mutex_lock(&mu);
  disabled = !on;
  pthread_mutex_unlock(&mu);
}

unsigned fake_lock_calls(fake_op op)
{
  unsigned n;

  if(op < FIRST_LOCK_OP || op >= FAKE_OP_N)
    return 0;
  pthread_mutex_lock(&mu);
  n = ncalls[op - FIRST_LOCK_OP];
  pthread_mutex_unlock(&mu);
  return n;
}

void fake_lock_fail(fake_op op, unsigned n, drover_code code)
{
  if(op < FIRST_LOCK_OP || op >= FAKE_OP_N)
    return;
  pthread_mutex_lock(&mu);
  nfail[op - FIRST_LOCK_OP] = n;
  fail_code[op - FIRST_LOCK_OP] = code;
  pthread_mutex_unlock(&mu);
}

json_t *fake_lock_get(const char *stack)
{
  json_t *r = NULL, *entry;

  pthread_mutex_lock(&mu);
  entry = records ? json_object_get(records, stack) : NULL;
  if(entry)
    r = json_deep_copy(json_object_get(entry, "record"));
  pthread_mutex_unlock(&mu);
  return r;
}

int fake_lock_put(const char *stack, const char *record_json)
{
  json_t *rec = record_json ? json_loads(record_json, 0, NULL) : NULL;
  drover_error err;
  int ret = 0;

  drover_error_clear(&err);
  if(record_json && !json_is_object(rec)) {
    json_decref(rec);
    return -1;
  }
  pthread_mutex_lock(&mu);
  if(!rec) {
    if(records)
      json_object_del(records, stack);
  }
  else if(store(stack, rec, NULL, &err))
    ret = -1;
  pthread_mutex_unlock(&mu);
  json_decref(rec);
  return ret;
}
