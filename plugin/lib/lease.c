/* lease.c - the stack lease held in the providers (doc/locks.md):
 * acquire (create the record, or take over one whose lease ran out, by
 * compare-and-swap; else wait with backoff), release, force-unlock.
 *
 * A stack may use several providers; the lease is taken in each one that
 * has the lock ops, in name order, so two runs that share any provider
 * exclude each other and none waits for another in a loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "backoff.h"
#include "lease.h"

#define WAIT_BASE 0.2 /* seconds: the first wait between tries */
#define WAIT_CAP 2.0  /* the longest */
/* Reads again at once after losing a race, so the holder is named even
 * without a wait. */
#define QUICK_REREADS 3

static double wall(const drover_stack *stack)
{
  return stack->wall ? stack->wall(stack->wall_arg) : dv_wall_now(NULL);
}

static int has_lock_ops(const drover_provider *vt)
{
  return vt->version >= 6 && vt->lock_read && vt->lock_create && vt->lock_write &&
         vt->lock_delete;
}

static int by_name(const void *a, const void *b)
{
  const drover_provider *const *x = a, *const *y = b;
  return strcmp((*x)->name, (*y)->name);
}

static void leases_free(dv_leases *l)
{
  size_t i;

  if(!l)
    return;
  for(i = 0; i < l->n; i++)
    free(l->slots[i].etag);
  free(l->slots);
  json_decref(l->record);
  if(l->sync_ok) {
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
  }
  free(l);
}

/* The providers of stack with the lock ops, initialised, in name order,
 * as empty slots. *out owned by the caller (leases_free). */
static drover_code leases_new(dv_leases **out, drover_stack *stack,
                              const dv_lease_conf *conf, drover_error *err)
{
  const drover_provider **provs = NULL;
  dv_leases *l = NULL;
  size_t n = 0, i;
  drover_code rc;
  pthread_condattr_t ca;

  *out = NULL;
  rc = dv_stack_providers_up(&provs, &n, stack, err);
  if(rc)
    return rc;
  l = calloc(1, sizeof(*l));
  if(!l || !(l->slots = calloc(n ? n : 1, sizeof(*l->slots)))) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "lock: out of memory");
    goto out;
  }
  l->stack = stack;
  l->conf = *conf;
  l->wall = stack->wall;
  l->wall_arg = stack->wall_arg;
  qsort(provs, n, sizeof(*provs), by_name);
  for(i = 0; i < n; i++) {
    dv_pinst *p;
    if(!has_lock_ops(provs[i]))
      continue;
    rc = dv_stack_provider(&p, stack, provs[i], err); /* up already: found */
    if(rc)
      goto out;
    l->slots[l->n].vt = provs[i];
    l->slots[l->n].pstate = p->state;
    l->n++;
  }
  if(pthread_condattr_init(&ca)) {
    rc = drover_error_set(err, DROVER_E_INTERNAL, "lock: cannot create a condition");
    goto out;
  }
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  if(pthread_mutex_init(&l->mu, NULL)) {
    pthread_condattr_destroy(&ca);
    rc = drover_error_set(err, DROVER_E_INTERNAL, "lock: cannot create a mutex");
    goto out;
  }
  if(pthread_cond_init(&l->cv, &ca)) {
    pthread_mutex_destroy(&l->mu);
    pthread_condattr_destroy(&ca);
    rc = drover_error_set(err, DROVER_E_INTERNAL, "lock: cannot create a condition");
    goto out;
  }
  pthread_condattr_destroy(&ca);
  l->sync_ok = 1;
  *out = l;
  l = NULL;
out:
  leases_free(l);
  free(provs);
  return rc;
}

/* Deletes our record from slot s (its lease still runs: nobody else may
 * have written it). A record changed under us is re-read: still ours (a
 * renewal whose answer was lost) is deleted, someone else's is left. */
static void slot_delete(dv_leases *l, dv_lease_slot *s)
{
  drover_error e;
  drover_code rc;
  json_t *rec = NULL;
  char *etag = NULL;

  drover_error_clear(&e);
  rc = s->vt->lock_delete(s->pstate, l->stack->name, s->etag, &e);
  if(rc == DROVER_E_CONFLICT) {
    drover_error_clear(&e);
    rc = s->vt->lock_read(s->pstate, l->stack->name, &rec, &etag, &e);
    if(!rc && !strcmp(dv_lease_get(rec, DV_LEASE_ID), l->id)) {
      drover_error_clear(&e);
      rc = s->vt->lock_delete(s->pstate, l->stack->name, etag, &e);
    }
    else if(!rc) {
      char who[512];
      dv_lease_describe(rec, who, sizeof(who));
      dv_log(l->stack, DROVER_LOG_WARN, "lock: %s: the lease of stack \"%s\" had been "
             "taken over (%s); left to its holder", s->vt->name, l->stack->name, who);
    }
  }
  if(rc == DROVER_E_NOT_FOUND)
    dv_log(l->stack, DROVER_LOG_WARN, "lock: %s: the lease of stack \"%s\" was gone "
           "(force-unlocked?)", s->vt->name, l->stack->name);
  else if(rc)
    dv_log(l->stack, DROVER_LOG_WARN, "lock: %s: could not release the lease of stack "
           "\"%s\" (%s); it runs out by itself in %.0fs", s->vt->name, l->stack->name,
           e.text, l->conf.lease);
  json_decref(rec);
  free(etag);
}

/* Outcome of one try at one slot. */
typedef enum { TRY_TAKEN, TRY_HELD, TRY_AGAIN } try_result;

/* One compare-and-swap try: create the record, or replace one whose lease
 * ran out. *holder (new reference) is the record found when it is held. */
static drover_code slot_try(dv_leases *l, dv_lease_slot *s, const json_t *mine,
                            try_result *res, json_t **holder, drover_error *err)
{
  const drover_stack *stack = l->stack;
  drover_error e;
  drover_code rc;
  json_t *rec = NULL;
  char *etag = NULL, *got = NULL;
  char who[512];

  *res = TRY_AGAIN;
  *holder = NULL;
  drover_error_clear(&e);
  rc = s->vt->lock_read(s->pstate, stack->name, &rec, &etag, &e);
  if(rc == DROVER_E_UNSUPPORTED)
    return rc; /* no lease in this provider: the caller drops it */
  if(rc == DROVER_E_NOT_FOUND) {
    drover_error_clear(&e);
    rc = s->vt->lock_create(s->pstate, stack->name, mine, &got, &e);
    if(rc == DROVER_E_CONFLICT) /* someone was quicker: read theirs */
      rc = DROVER_OK;
    else if(!rc)
      *res = TRY_TAKEN;
    goto out;
  }
  if(rc)
    goto out;
  if(!strcmp(dv_lease_get(rec, DV_LEASE_ID), l->id)) {
    /* Ours: a create or write whose answer was lost went through. */
    *res = TRY_TAKEN;
    got = etag;
    etag = NULL;
    goto out;
  }
  if(dv_lease_judge(rec, wall(stack), l->conf.skew, NULL) != DV_LEASE_EXPIRED) {
    *res = TRY_HELD;
    *holder = rec;
    rec = NULL;
    goto out;
  }
  dv_lease_describe(rec, who, sizeof(who));
  drover_error_clear(&e);
  rc = s->vt->lock_write(s->pstate, stack->name, mine, etag, &got, &e);
  if(rc == DROVER_E_CONFLICT || rc == DROVER_E_NOT_FOUND) {
    rc = DROVER_OK; /* it changed or went since we read it: read again */
    goto out;
  }
  if(!rc) {
    *res = TRY_TAKEN;
    dv_log(stack, DROVER_LOG_WARN, "lock: %s: took over the lease of stack \"%s\": "
           "its holder's lease ran out (%s)", s->vt->name, stack->name, who);
  }
out:
  if(rc) {
    drover_error_locate(&e, s->vt->name, NULL);
    if(err && !err->code)
      *err = e;
  }
  if(*res == TRY_TAKEN) {
    pthread_mutex_lock(&l->mu);
    free(s->etag);
    s->etag = got;
    got = NULL;
    pthread_mutex_unlock(&l->mu);
  }
  json_decref(rec);
  free(etag);
  free(got);
  return rc;
}

/* Takes slot s, waiting until deadline. */
static drover_code slot_take(dv_leases *l, dv_lease_slot *s, double deadline,
                             drover_error *err)
{
  dv_backoff policy = {WAIT_BASE, WAIT_CAP};
  unsigned seed = (unsigned)getpid() ^ (unsigned)(unsigned long long)(drover_now() * 1e6);
  unsigned attempt = 0, quick = 0;
  char last[DV_LEASE_ID_LEN + 1] = "";
  char who[512];

  for(;;) {
    try_result res;
    json_t *holder = NULL, *mine;
    drover_code rc;
    double left = 0, until, sent = drover_now(); /* monotonic, then the wall */
    double now = wall(l->stack);

    /* The expiry counts from this try, not from when the wait began. */
    pthread_mutex_lock(&l->mu);
    if(dv_lease_record_extend(l->record, now, &l->conf) ||
       (!l->held && dv_lease_record_stamp(l->record, now)))
      mine = NULL;
    else
      mine = json_deep_copy(l->record);
    pthread_mutex_unlock(&l->mu);
    if(!mine)
      return drover_error_set(err, DROVER_E_NOMEM, "lock: out of memory");
    rc = slot_try(l, s, mine, &res, &holder, err);
    json_decref(mine);
    if(rc)
      return rc;
    if(res == TRY_TAKEN) {
      pthread_mutex_lock(&l->mu);
      if(!l->held || sent + l->conf.lease < l->confirmed)
        l->confirmed = sent + l->conf.lease;
      l->held++;
      pthread_mutex_unlock(&l->mu);
      return DROVER_OK;
    }
    if(holder) {
      dv_lease_describe(holder, who, sizeof(who));
      dv_lease_judge(holder, wall(l->stack), l->conf.skew, &left);
      if(drover_now() >= deadline) {
        rc = drover_error_set(err, DROVER_E_LOCKED,
                              "lock: stack \"%s\" is locked in %s by %s; its lease "
                              "is renewed while the holder runs (if that holder is "
                              "gone for good: drover force-unlock %s)",
                              l->stack->name, s->vt->name, who,
                              dv_lease_get(holder, DV_LEASE_ID));
        json_decref(holder);
        return rc;
      }
      /* Once per holder, not once per try. */
      if(strcmp(last, dv_lease_get(holder, DV_LEASE_ID))) {
        snprintf(last, sizeof(last), "%s", dv_lease_get(holder, DV_LEASE_ID));
        dv_log(l->stack, DROVER_LOG_WARN, "lock: stack \"%s\" is locked in %s by %s; "
               "waiting up to %.0fs", l->stack->name, s->vt->name, who,
               deadline - drover_now());
      }
      json_decref(holder);
    }
    else if(quick++ < QUICK_REREADS)
      continue; /* it changed between our read and write: read the new one */
    else if(drover_now() >= deadline)
      return drover_error_set(err, DROVER_E_LOCKED, "lock: stack \"%s\": the lease in "
                              "%s kept changing until the wait ran out",
                              l->stack->name, s->vt->name);
    until = drover_now() + dv_backoff_delay(&policy, attempt++, -1, &seed);
    if(until > deadline)
      until = deadline;
    dv_backoff_sleep_until(until, NULL);
  }
}

drover_code dv_lease_acquire(drover_stack *stack, double deadline, drover_error *err)
{
  dv_lease_conf conf;
  dv_leases *l = NULL;
  drover_code rc;
  double now;
  size_t i, taken = 0;
  int enabled;

  if(stack->leases)
    return DROVER_OK;
  rc = dv_lease_conf_get(&conf, &enabled, &stack->opts, err);
  if(rc || !enabled)
    return rc;
  rc = leases_new(&l, stack, &conf, err);
  if(rc)
    goto out;
  if(!l->n)
    goto out; /* no provider of this stack keeps leases: the lock file only */
  rc = dv_lease_new_id(l->id, err);
  if(rc)
    goto out;
  now = wall(stack); /* both times are set again at each try */
  l->record = dv_lease_record_new(l->id, now, now, &conf);
  if(!l->record) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "lock: out of memory");
    goto out;
  }
  if(!l->n)
    goto out;
  /* Renewing from the start: while a later provider's lease is awaited,
   * the ones already taken must not run out. */
  rc = dv_lease_renew_start(l, err);
  if(rc)
    goto out;
  for(taken = 0; taken < l->n;) {
    rc = slot_take(l, &l->slots[taken], deadline, err);
    if(rc == DROVER_E_UNSUPPORTED) {
      /* Its lease is switched off by its settings: not one of ours. */
      pthread_mutex_lock(&l->mu);
      memmove(&l->slots[taken], &l->slots[taken + 1],
              (l->n - taken - 1) * sizeof(*l->slots));
      l->n--;
      pthread_mutex_unlock(&l->mu);
      rc = DROVER_OK;
      continue;
    }
    if(rc)
      goto out;
    taken++;
  }
  if(!l->n) {
    dv_lease_renew_stop(l);
    goto out; /* no lease anywhere: the lock file only */
  }
  dv_log(stack, DROVER_LOG_DEBUG, "lock: holding lock %s of stack \"%s\" in %zu "
         "provider(s), lease %.3gs renewed every %.3gs", l->id, stack->name, l->n,
         conf.lease, conf.renew);
  stack->leases = l;
  l = NULL;
out:
  if(l) {
    dv_lease_renew_stop(l);
    for(i = 0; rc && i < l->held; i++)
      slot_delete(l, &l->slots[i]);
  }
  leases_free(l);
  return rc;
}

void dv_lease_release(drover_stack *stack)
{
  dv_leases *l = stack ? stack->leases : NULL;
  size_t i;

  if(!l)
    return;
  dv_lease_renew_stop(l);
  /* A record is deleted only while our lease surely runs (deletes may not
   * be conditional in the cloud): renew first when it is nearly out. */
  if(!atomic_load(&l->lost) && drover_now() > l->confirmed - l->conf.renew &&
     dv_lease_renew_once(l) != 0)
    dv_log(stack, DROVER_LOG_WARN, "lock: could not renew the lease of stack \"%s\" "
           "before releasing it; it runs out by itself", stack->name);
  else if(!atomic_load(&l->lost))
    for(i = 0; i < l->n; i++)
      slot_delete(l, &l->slots[i]);
  stack->leases = NULL;
  leases_free(l);
}

int dv_lease_lost(const drover_stack *stack, drover_error *why)
{
  const dv_leases *l = stack ? stack->leases : NULL;

  if(!l || !atomic_load(&l->lost))
    return 0;
  if(why)
    drover_error_set(why, DROVER_E_LOCKED, "%s", l->lost_why);
  return 1;
}

drover_code drover_stack_force_unlock(drover_stack *stack, const char *lock_id,
                                      drover_error *err)
{
  dv_lease_conf conf = {1, 0.5, 0}; /* unused: nothing is acquired */
  dv_leases *l = NULL;
  drover_code rc;
  size_t i, removed = 0, found = 0;
  char other[512] = "";

  if(!stack || !lock_id || !*lock_id)
    return drover_error_set(err, DROVER_E_ARG, "force-unlock: no lock id given");
  rc = leases_new(&l, stack, &conf, err);
  if(rc)
    goto out;
  for(i = 0; i < l->n; i++) {
    dv_lease_slot *s = &l->slots[i];
    json_t *rec = NULL;
    char *etag = NULL;
    drover_error e;
    drover_error_clear(&e);
    rc = s->vt->lock_read(s->pstate, stack->name, &rec, &etag, &e);
    if(rc == DROVER_E_NOT_FOUND || rc == DROVER_E_UNSUPPORTED) {
      rc = DROVER_OK;
      continue;
    }
    if(!rc) {
      found++;
      if(strcmp(dv_lease_get(rec, DV_LEASE_ID), lock_id))
        dv_lease_describe(rec, other, sizeof(other));
      else {
        rc = s->vt->lock_delete(s->pstate, stack->name, etag, &e);
        if(!rc) {
          removed++;
          dv_log(stack, DROVER_LOG_WARN, "lock: %s: removed lock %s of stack \"%s\"",
                 s->vt->name, lock_id, stack->name);
        }
      }
    }
    json_decref(rec);
    free(etag);
    if(rc) {
      drover_error_locate(&e, s->vt->name, NULL);
      if(err && !err->code)
        *err = e;
      goto out;
    }
  }
  if(!found)
    rc = drover_error_set(err, DROVER_E_NOT_FOUND, "force-unlock: stack \"%s\" holds "
                          "no lease%s", stack->name,
                          l->n ? "" : " (none of its providers keeps leases)");
  else if(other[0])
    rc = drover_error_set(err, DROVER_E_ARG, "force-unlock: stack \"%s\" is held by "
                          "%s, not by lock %s; %s", stack->name, other, lock_id,
                          removed ? "only the matching leases were removed"
                                  : "nothing was unlocked");
out:
  leases_free(l);
  return rc;
}
