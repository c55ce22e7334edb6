/* gather.c - the deletes of many stacks in one provider call (engine.h,
 * "Deletes of many stacks in one call").
 *
 * Participants are the node stacks of one node-set run, worked on by a
 * fixed number of workers. A participant's apply parks its batchable
 * deletes here; when every participant under way (at most one per worker;
 * the rest wait for a worker) has parked something, the thread that made
 * the count complete
 * takes everything parked and sends it, grouped by provider instance and
 * type, one del_many per group, then wakes the owners. Deletes parked
 * while a flush runs wait for the next one. A participant doing other work
 * (a create, a lock wait) only delays a flush; it never blocks it for
 * good, since it too parks or finishes in the end.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"

typedef struct parked {
  const drover_provider *vt;
  void *pstate;
  const drover_rtype *rtype;
  const drover_live *const *curs;
  size_t n;
  double deadline;
  drover_code *rcs;
  drover_error *errs;
  int sent;                    /* the flushing thread's own mark */
  int done;                    /* results in place; set under the lock */
  struct parked *next;
} parked;

struct dv_gather {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t participants, left;   /* left: finished participants */
  size_t workers;              /* participants that can be under way at once */
  size_t nparked;              /* parked calls not yet taken by a flush */
  parked *head;                /* those calls */
};

dv_gather *dv_gather_new(size_t participants, size_t workers)
{
  dv_gather *g = calloc(1, sizeof(*g));

  if(!g)
    return NULL;
  if(pthread_mutex_init(&g->mu, NULL)) {
    free(g);
    return NULL;
  }
  if(pthread_cond_init(&g->cv, NULL)) {
    pthread_mutex_destroy(&g->mu);
    free(g);
    return NULL;
  }
  g->participants = participants;
  g->workers = workers;
  return g;
}

void dv_gather_free(dv_gather *g)
{
  if(!g)
    return;
  pthread_cond_destroy(&g->cv);
  pthread_mutex_destroy(&g->mu);
  free(g);
}

/* Whether p is unsent and goes with a (same provider instance and type). */
static int same_group(const parked *p, const parked *a)
{
  return !p->sent && p->vt == a->vt && p->pstate == a->pstate && p->rtype == a->rtype;
}

/* Sends a's group (the unsent calls of list from a on that share its
 * provider instance and type) as one del_many and marks them sent. Only
 * the flushing thread touches sent and the results until done is set
 * under the lock. Without the memory for the joined arrays, each call of
 * the group goes on its own. */
static void send_group(parked *a)
{
  const drover_live **curs;
  drover_code *rcs;
  drover_error *errs;
  parked *p;
  size_t n = 0, k;
  double deadline = 0;

  for(p = a; p; p = p->next)
    if(same_group(p, a)) {
      n += p->n;
      if(p->deadline > deadline)
        deadline = p->deadline;
    }
  curs = calloc(n, sizeof(*curs));
  rcs = calloc(n, sizeof(*rcs));
  errs = calloc(n, sizeof(*errs));
  if(curs && rcs && errs) {
    for(p = a, k = 0; p; p = p->next)
      if(same_group(p, a)) {
        memcpy(curs + k, p->curs, p->n * sizeof(*curs));
        k += p->n;
      }
    a->vt->del_many(a->pstate, a->rtype, curs, n, deadline, rcs, errs);
  }
  for(p = a->next, k = a->n; p; p = p->next)
    if(same_group(p, a)) {
      if(curs && rcs && errs) {
        memcpy(p->rcs, rcs + k, p->n * sizeof(*rcs));
        memcpy(p->errs, errs + k, p->n * sizeof(*errs));
      }
      else
        p->vt->del_many(p->pstate, p->rtype, p->curs, p->n, p->deadline, p->rcs, p->errs);
      k += p->n;
      p->sent = 1;
    }
  if(curs && rcs && errs) {
    memcpy(a->rcs, rcs, a->n * sizeof(*rcs));
    memcpy(a->errs, errs, a->n * sizeof(*errs));
  }
  else
    a->vt->del_many(a->pstate, a->rtype, a->curs, a->n, a->deadline, a->rcs, a->errs);
  a->sent = 1;
  free(curs);
  free(rcs);
  free(errs);
}

/* Under g->mu: when the count is complete, takes what is parked and sends
 * it (with the lock released meanwhile), then marks it done and wakes
 * every owner. */
static void flush_if_ready(dv_gather *g)
{
  parked *list, *p;
  size_t under_way = g->participants - g->left;

  /* Those not started yet wait for a worker, and so cannot park now. */
  if(under_way > g->workers)
    under_way = g->workers;
  if(!g->head || g->nparked < under_way)
    return;
  list = g->head;
  g->head = NULL;
  g->nparked = 0;
  pthread_mutex_unlock(&g->mu);
  for(p = list; p; p = p->next)
    if(!p->sent)
      send_group(p);
  pthread_mutex_lock(&g->mu);
  for(p = list; p; p = p->next)
    p->done = 1;
  pthread_cond_broadcast(&g->cv);
}

void dv_gather_workers(dv_gather *g, size_t workers)
{
  pthread_mutex_lock(&g->mu);
  g->workers = workers;
  flush_if_ready(g);
  pthread_mutex_unlock(&g->mu);
}

void dv_gather_leave(dv_gather *g)
{
  pthread_mutex_lock(&g->mu);
  g->left++;
  flush_if_ready(g);
  pthread_mutex_unlock(&g->mu);
}

void dv_gather_delete(dv_gather *g, const drover_provider *vt, void *pstate,
                      const drover_rtype *rtype, const drover_live *const *curs, size_t n,
                      double deadline, drover_code *rcs, drover_error *errs)
{
  parked me;

  memset(&me, 0, sizeof(me));
  me.vt = vt;
  me.pstate = pstate;
  me.rtype = rtype;
  me.curs = curs;
  me.n = n;
  me.deadline = deadline;
  me.rcs = rcs;
  me.errs = errs;
  pthread_mutex_lock(&g->mu);
  me.next = g->head;
  g->head = &me;
  g->nparked++;
  flush_if_ready(g);
  while(!me.done)
    pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
}
