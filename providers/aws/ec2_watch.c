/* ec2_watch.c - waits on instance states, shared by the threads of a run.
 *
 * The creates of an elastic-node resume run in parallel, one RunInstances
 * per node (doc/aws.md, "Batching"), and each then waits for its instance
 * to run. Waiting alone, each would describe its instance every
 * poll_interval: N nodes, N calls per poll. Here the waiting threads
 * share the polls: one of them (the poller) sleeps poll_interval, then
 * describes every instance anyone waits for at that moment, WATCH_MAX
 * IDs per call, and hands each waiter its instance's state. Threads that
 * start waiting while the poller sleeps are in its next call.
 *
 * The describe filters on instance-id rather than naming InstanceId.N:
 * an instance too new to be listed yet (EC2's eventual consistency) is
 * then just absent, instead of failing the call for every waiter.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ec2.h"

#define WATCH_MAX 200 /* values of one filter EC2 accepts */

struct ec2_watch {
  char *id;                    /* owned copy */
  char status[32];             /* last state seen; "" when not listed */
  int seen;                    /* a poll answered for it since it last looked */
  drover_error err;            /* that poll's failure, if it failed */
  struct ec2_watch *next;
};

static int by_id(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One round: describes ids[0..n) (sorted here) and records, under the
 * lock, each watcher's state or the describe's failure. */
static void poll_round(ec2_state *st, char **ids, size_t n)
{
  drover_live_list list = {NULL, 0, 0};
  drover_error e;
  const char **seen = NULL;
  ec2_watch *w;
  size_t from, k;
  drover_code rc = DROVER_OK;

  drover_error_clear(&e);
  for(from = 0; !rc && from < n; from += WATCH_MAX) {
    ec2_form f;
    ec2_form_init(&f, "DescribeInstances");
    ec2_form_add(&f, "Filter.1.Name", "instance-id");
    for(k = from; k < n && k < from + WATCH_MAX; k++)
      ec2_form_addf(&f, ids[k], "Filter.1.Value.%zu", k - from + 1);
    rc = ec2_describe_instances(st, &f, 0, NULL, 1, &list, &e);
  }
  if(!rc && !(seen = ec2_state_index(&list)))
    rc = ec2_fail(&e, DROVER_E_NOMEM, NULL, "out of memory");
  pthread_mutex_lock(&st->watch_mu);
  for(w = st->watches; w; w = w->next) {
    const char *key = w->id, *state;
    if(!bsearch(&key, ids, n, sizeof(*ids), by_id))
      continue;                /* came after the snapshot: the next round */
    w->seen = 1;
    if(rc) {
      w->err = e;
      continue;
    }
    state = ec2_state_find(seen, &list, w->id);
    snprintf(w->status, sizeof(w->status), "%s", state ? state : "");
  }
  pthread_mutex_unlock(&st->watch_mu);
  free(seen);
  drover_live_list_clear(&list);
}

/* The poller's turn (called and returning with st->watch_mu held): sleeps
 * poll_interval (or until deadline), then describes everything watched.
 * 1 when deadline passed before the poll. */
static int poll_turn(ec2_state *st, double deadline)
{
  char **ids = NULL;
  size_t n = 0, k;
  ec2_watch *w;
  int late;

  st->watch_polling = 1;
  pthread_mutex_unlock(&st->watch_mu);
  late = ec2_pause(st, deadline);
  pthread_mutex_lock(&st->watch_mu);
  if(!late) {
    for(w = st->watches; w; w = w->next)
      n++;
    ids = calloc(n ? n : 1, sizeof(*ids));
    for(w = st->watches, k = 0; ids && w; w = w->next)
      if(!(ids[k++] = strdup(w->id)))
        k--;
    n = ids ? k : 0;
    pthread_mutex_unlock(&st->watch_mu);
    /* Out of memory: no poll this round; the waiters try again or time out. */
    if(ids) {
      qsort(ids, n, sizeof(*ids), by_id);
      poll_round(st, ids, n);
    }
    for(k = 0; k < n; k++)
      free(ids[k]);
    free(ids);
    pthread_mutex_lock(&st->watch_mu);
  }
  st->watch_polling = 0;
  pthread_cond_broadcast(&st->watch_cv);
  return late;
}

/* What the last poll says for w: 1 done (OK), -1 failed (err set), 0 go on. */
static int judge(ec2_watch *w, const char *want, const char *address, drover_error *err)
{
  int gone_ok = !strcmp(want, "terminated");

  w->seen = 0;
  if(w->err.code) {
    drover_error_set(err, w->err.code, "%s", w->err.text);
    drover_error_locate(err, "aws", address);
    return -1;
  }
  if(!w->status[0])
    return gone_ok ? 1 : 0;    /* not listed: gone, or too new to be */
  if(!strcmp(w->status, want))
    return 1;
  if(!gone_ok && (!strcmp(w->status, "terminated") || !strcmp(w->status, "shutting-down"))) {
    ec2_fail(err, DROVER_E_PROVIDER, address, "instance %s is %s (waiting for %s)", w->id,
             w->status, want);
    return -1;
  }
  return 0;
}

drover_code ec2_watch_state(ec2_state *st, const char *id, const char *want, double deadline,
                            const char *address, drover_error *err)
{
  ec2_watch me, **pp;
  drover_code rc = DROVER_OK;

  memset(&me, 0, sizeof(me));
  drover_error_clear(&me.err);
  snprintf(me.status, sizeof(me.status), "unknown");
  me.id = strdup(id);
  if(!me.id)
    return ec2_fail(err, DROVER_E_NOMEM, address, "out of memory");
  pthread_mutex_lock(&st->watch_mu);
  me.next = st->watches;
  st->watches = &me;
  for(;;) {
    if(me.seen) {
      int v = judge(&me, want, address, err);
      if(v) {
        rc = v > 0 ? DROVER_OK : err->code;
        break;
      }
    }
    if(drover_now() >= deadline) {
      rc = ec2_fail(err, DROVER_E_TIMEOUT, address,
                    "instance %s still %s at the deadline (waiting for %s)", id,
                    me.status[0] ? me.status : "not listed", want);
      break;
    }
    if(!st->watch_polling)
      poll_turn(st, deadline);
    else {
      /* Until the poll's answer, or at most a second, so the deadline is
       * seen while another thread polls. */
      double d = deadline - drover_now();
      struct timespec ts;
      if(d > 1.0)
        d = 1.0;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += (time_t)d;
      ts.tv_nsec += (long)((d - (double)(time_t)d) * 1e9);
      if(ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&st->watch_cv, &st->watch_mu, &ts);
    }
  }
  for(pp = &st->watches; *pp; pp = &(*pp)->next)
    if(*pp == &me) {
      *pp = me.next;
      break;
    }
  pthread_mutex_unlock(&st->watch_mu);
  free(me.id);
  return rc;
}
