/* lease_renew.c - the thread that renews a held stack lease: every
 * conf.renew seconds it moves the record's expiry to now + lease by
 * compare-and-swap. A record that changed under it to someone else's, or
 * vanished (force-unlock), or that could not be renewed before the lease
 * ran out, makes the lease lost: apply then starts no new action. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "lease.h"

/* After a failed renewal, try again this much sooner than usual. */
#define RETRY_DIVISOR 4

static void mark_lost(dv_leases *l, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void mark_lost(dv_leases *l, const char *fmt, ...)
{
  char msg[DROVER_ERROR_TEXT];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&l->mu);
  if(!atomic_load(&l->lost))
    snprintf(l->lost_why, sizeof(l->lost_why), "%s", msg);
  pthread_mutex_unlock(&l->mu);
  atomic_store(&l->lost, 1);
  dv_log(l->stack, DROVER_LOG_ERROR, "%s", msg);
}

/* Renews slot i with record (a copy: the thread owns it while writing).
 * 0 on success; 1 when it failed but may work next time; -1 when lost. */
static int renew_slot(dv_leases *l, size_t i, const json_t *record)
{
  dv_lease_slot *s = &l->slots[i];
  drover_error e;
  drover_code rc;
  char *etag, *got = NULL, *cur_etag = NULL;
  json_t *cur = NULL;
  int ret = 0;

  pthread_mutex_lock(&l->mu);
  etag = s->etag ? strdup(s->etag) : NULL;
  pthread_mutex_unlock(&l->mu);
  drover_error_clear(&e);
  rc = s->vt->lock_write(s->pstate, l->stack->name, record, etag, &got, &e);
  if(rc == DROVER_E_CONFLICT) {
    /* Our own earlier write whose answer was lost changes the version
     * too: only someone else's id means the lease is gone. */
    drover_error_clear(&e);
    rc = s->vt->lock_read(s->pstate, l->stack->name, &cur, &cur_etag, &e);
    if(!rc && !strcmp(dv_lease_get(cur, DV_LEASE_ID), l->id)) {
      drover_error_clear(&e);
      rc = s->vt->lock_write(s->pstate, l->stack->name, record, cur_etag, &got, &e);
    }
    else if(!rc) {
      char who[512];
      dv_lease_describe(cur, who, sizeof(who));
      mark_lost(l, "lock: %s: the lease of stack \"%s\" was taken over by %s; no new "
                "action is started", s->vt->name, l->stack->name, who);
      ret = -1;
      goto out;
    }
  }
  if(rc == DROVER_E_NOT_FOUND) {
    mark_lost(l, "lock: %s: the lease of stack \"%s\" was removed (force-unlock?); "
              "no new action is started", s->vt->name, l->stack->name);
    ret = -1;
    goto out;
  }
  if(rc) {
    dv_log(l->stack, DROVER_LOG_WARN, "lock: %s: could not renew the lease of stack "
           "\"%s\": %s", s->vt->name, l->stack->name, e.text);
    ret = 1;
    goto out;
  }
  pthread_mutex_lock(&l->mu);
  free(s->etag);
  s->etag = got;
  got = NULL;
  pthread_mutex_unlock(&l->mu);
out:
  free(etag);
  free(got);
  free(cur_etag);
  json_decref(cur);
  return ret;
}

int dv_lease_renew_once(dv_leases *l)
{
  json_t *record;
  double sent = drover_now(), now; /* monotonic first, then the wall */
  size_t i, held;
  int failed = 0;

  now = l->wall ? l->wall(l->wall_arg) : dv_wall_now(NULL);
  pthread_mutex_lock(&l->mu);
  record = json_deep_copy(l->record);
  if(record && dv_lease_record_extend(record, now, &l->conf) == 0) {
    json_decref(l->record);
    l->record = json_incref(record);
  }
  pthread_mutex_unlock(&l->mu);
  if(!record)
    return 1;
  pthread_mutex_lock(&l->mu);
  held = l->held;
  pthread_mutex_unlock(&l->mu);
  if(!held) {
    json_decref(record);
    return 0; /* nothing taken yet */
  }
  for(i = 0; i < held && !atomic_load(&l->lost); i++) {
    int r = renew_slot(l, i, record);
    if(r)
      failed = 1;
  }
  json_decref(record);
  if(!failed && !atomic_load(&l->lost)) {
    /* Counted from when the writes went out, not when they came back. */
    pthread_mutex_lock(&l->mu);
    l->confirmed = sent + l->conf.lease;
    pthread_mutex_unlock(&l->mu);
    atomic_fetch_add(&l->renewals, 1);
    return 0;
  }
  return 1;
}

static struct timespec mono_at(double t)
{
  struct timespec ts;

  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - floor(t)) * 1e9);
  if(ts.tv_nsec >= 1000000000L)
    ts.tv_nsec = 999999999L;
  return ts;
}

static void *renew_main(void *arg)
{
  dv_leases *l = arg;
  double next = drover_now() + l->conf.renew;

  pthread_mutex_lock(&l->mu);
  while(!l->stop) {
    struct timespec ts = mono_at(next);
    int r = pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    double confirmed;
    if(l->stop)
      break;
    if(r != ETIMEDOUT && drover_now() < next)
      continue; /* woken early, not stopped */
    pthread_mutex_unlock(&l->mu);
    if(dv_lease_renew_once(l) == 0)
      next = drover_now() + l->conf.renew;
    else
      next = drover_now() + l->conf.renew / RETRY_DIVISOR;
    pthread_mutex_lock(&l->mu);
    confirmed = l->confirmed;
    if(atomic_load(&l->lost))
      break;
    if(l->held && drover_now() >= confirmed) {
      pthread_mutex_unlock(&l->mu);
      mark_lost(l, "lock: the lease of stack \"%s\" ran out before it could be "
                "renewed; no new action is started", l->stack->name);
      pthread_mutex_lock(&l->mu);
      break;
    }
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

drover_code dv_lease_renew_start(dv_leases *l, drover_error *err)
{
  if(pthread_create(&l->thread, NULL, renew_main, l))
    return drover_error_set(err, DROVER_E_INTERNAL,
                            "lock: cannot start the lease renewal thread");
  l->thread_started = 1;
  return DROVER_OK;
}

void dv_lease_renew_stop(dv_leases *l)
{
  if(!l->thread_started)
    return;
  pthread_mutex_lock(&l->mu);
  l->stop = 1;
  pthread_cond_signal(&l->cv);
  pthread_mutex_unlock(&l->mu);
  pthread_join(l->thread, NULL);
  l->thread_started = 0;
}
