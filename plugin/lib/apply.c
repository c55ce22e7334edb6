/* apply.c - run a plan as a DAG on a small thread pool.
 *
 * Nodes are the plan's non-no-op entries. Edges ("A before B"):
 *  - create/update/replace of an instance waits for every create, update
 *    or replace of the instances of the blocks it depends on;
 *  - it also waits for the delete of an orphan of its type that holds
 *    the same cloud name (so a create never collides with an orphan);
 *  - deletes (orphans, or everything under DROVER_PLAN_DESTROY) go in
 *    decreasing rtype->delete_order; at equal order, an object whose deps
 *    label (or, when destroying, whose block's dependencies) names another
 *    object's address is deleted before it.
 * A node whose dependency failed or was skipped is SKIPPED; independent
 * nodes go on. A replace is one node: delete then create, or with
 * create_before_destroy create (under a new name, see DV_CBD_BASE_MAX)
 * then delete.
 *
 * Each create/update re-evaluates its instance first, so references to
 * attributes of what was just created resolve. Transient errors (and
 * timeouts of a wait) are retried with exponential backoff and full
 * jitter; the provider contract makes create idempotent (adopt an object
 * with our labels), so a retry never duplicates. After a failure that may
 * have come after the cloud acted (a lost reply), the object is read back
 * and the call counts as done when its goal holds (goal_holds).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "backoff.h"
#include "engine.h"

#define BACKOFF_CAP 30.0

typedef enum {
  N_WAIT = 0, N_RUNNING, N_OK, N_FAILED, N_SKIPPED
} nstate;

/* Nodes [0, n) are the plan's actions; nodes [n, nn) are barriers: no
 * action, just "every predecessor has finished", so a group waiting for a
 * group costs |A| + |B| edges instead of |A| x |B| (see build_edges). */
typedef struct node {
  dv_plan_entry *e;           /* NULL for a barrier */
  const drover_provider *vt;
  const drover_rtype *rtype;
  void *pstate;
  const drover_live *target;  /* what a delete/replace removes */
  const dv_block *block;      /* NULL for orphans */
  size_t *succ;               /* nodes that wait for this one */
  size_t nsucc, capsucc;
  size_t npending;
  int blocked;                /* a dependency failed or was skipped */
  nstate state;
} node;

typedef struct run {
  drover_plan *plan;
  drover_stack *stack;
  node *nodes;
  size_t n;                   /* actions */
  size_t nn, capnodes;        /* actions and barriers */
  size_t *queue;              /* ready nodes, FIFO; each enters once */
  size_t *todo;               /* finish(): nodes whose dependents to release
                                 (each enters once: nn long) */
  size_t head, tail;
  size_t finished;
  pthread_mutex_t mu;         /* scheduler state */
  pthread_cond_t cv;
  pthread_mutex_t evalmu;     /* inst->desired/applied across workers */
  pthread_mutex_t evmu;       /* serialises progress callbacks */
  unsigned parallelism, max_retries;
  double retry_base, op_timeout;
  const drover_apply_opts *opts;
  drover_apply_result res;
  drover_error first;
  int cancelled;
} run;

/* ------------------------------------------------------------------------
 * Events
 */

static void emit(run *r, drover_event_kind kind, const node *nd, const char *msg,
                 double elapsed, size_t done)
{
  drover_event ev;
  char buf[DROVER_ERROR_TEXT];

  if(!r->opts->progress)
    return;
  ev.kind = kind;
  ev.action = nd->e->action;
  ev.address = nd->e->address;
  ev.message = NULL;
  if(msg) {
    snprintf(buf, sizeof(buf), "%s", msg);
    dv_redact(buf, sizeof(buf));
    ev.message = buf;
  }
  ev.elapsed = elapsed;
  ev.done = done;
  ev.total = r->n;
  pthread_mutex_lock(&r->evmu);
  r->opts->progress(r->opts->progress_userdata, &ev);
  pthread_mutex_unlock(&r->evmu);
}

/* ------------------------------------------------------------------------
 * Graph
 */

static drover_code add_edge(run *r, size_t from, size_t to)
{
  node *a = &r->nodes[from];

  /* No search for an existing edge (that would cost the node's degree per
   * edge): a duplicate only counts twice in npending and is released
   * twice, which is the same thing. */
  if(from == to)
    return DROVER_OK;
  if(a->nsucc == a->capsucc) {
    size_t cap = a->capsucc ? a->capsucc * 2 : 4;
    size_t *g = realloc(a->succ, cap * sizeof(*g));
    if(!g)
      return DROVER_E_NOMEM;
    a->succ = g;
    a->capsucc = cap;
  }
  a->succ[a->nsucc++] = to;
  r->nodes[to].npending++;
  return DROVER_OK;
}

static int is_build(drover_action a)
{
  return a == DROVER_ACTION_CREATE || a == DROVER_ACTION_UPDATE ||
         a == DROVER_ACTION_REPLACE;
}

#define NONE ((size_t)-1)

/* A new barrier node; its index, or NONE on OOM (the array is sized for
 * every barrier build_edges can make, so this only guards the bound). */
static size_t new_barrier(run *r)
{
  if(r->nn == r->capnodes)
    return NONE;
  memset(&r->nodes[r->nn], 0, sizeof(r->nodes[0]));
  return r->nn++;
}

/* Node lists sorted by a key, for bsearch-style range lookups. */
typedef struct keyed {
  uintptr_t type;             /* rtype pointer, or 0 */
  const char *key;
  size_t node;
} keyed;

static int keyed_cmp(const void *a, const void *b)
{
  const keyed *x = a, *y = b;
  int c = x->type < y->type ? -1 : x->type > y->type;

  if(!c)
    c = strcmp(x->key, y->key);
  if(!c)
    c = x->node < y->node ? -1 : x->node > y->node;
  return c;
}

/* First element of v[0..n) whose (type, key) is not below (type, s[0..len)). */
static size_t keyed_lower(const keyed *v, size_t n, uintptr_t type, const char *s,
                          size_t len)
{
  size_t lo = 0, hi = n;

  while(lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = v[mid].type < type ? -1 : v[mid].type > type;
    if(!c) {
      c = strncmp(v[mid].key, s, len);
      if(!c && v[mid].key[len])
        c = 1;
    }
    if(c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int keyed_is(const keyed *k, uintptr_t type, const char *s, size_t len)
{
  return k->type == type && !strncmp(k->key, s, len) && !k->key[len];
}

/* Whether address (a delete's key) is an instance NAME[N] of the counted
 * block a label entry NAME[*] names; prefix is "NAME[" (plen bytes). */
static int in_counted(const char *address, const char *prefix, size_t plen)
{
  const char *p = address + plen;

  if(strncmp(address, prefix, plen) || *p < '0' || *p > '9')
    return 0;
  while(*p >= '0' && *p <= '9')
    p++;
  return p[0] == ']' && p[1] == '\0';
}

/* Edges from `from` to every delete (dels, sorted by address) that label
 * names at delete order `order`. An entry is an address, or NAME[*] for
 * every instance of a counted block (the deletes whose addresses start
 * with "NAME[", one run of the sorted array). Sets *hit when one of them
 * is marked in member (may be NULL). */
static drover_code walk_label(run *r, const keyed *dels, size_t ndels, const char *l,
                              int order, size_t from, const unsigned char *member,
                              int *hit)
{
  while(l && *l) {
    size_t len = strcspn(l, ","), j;
    int all = len > 3 && !memcmp(l + len - 3, "[*]", 3);
    size_t plen = all ? len - 2 : len; /* NAME[ */
    for(j = keyed_lower(dels, ndels, 0, l, plen);
        j < ndels && (all ? !dels[j].type && !strncmp(dels[j].key, l, plen)
                          : keyed_is(&dels[j], 0, l, len));
        j++) {
      if(all && !in_counted(dels[j].key, l, plen))
        continue;
      if(r->nodes[dels[j].node].rtype->delete_order != order)
        continue;
      if(member) {
        if(member[dels[j].node])
          *hit = 1;
      }
      else if(add_edge(r, from, dels[j].node))
        return DROVER_E_NOMEM;
    }
    l += len;
    if(*l == ',')
      l++;
  }
  return DROVER_OK;
}

/* A delete, its label and order, for grouping equal labels. */
typedef struct labelled {
  const char *label;
  int order;
  size_t node;
} labelled;

static int labelled_cmp(const void *a, const void *b)
{
  const labelled *x = a, *y = b;
  int c = strcmp(x->label, y->label);

  if(!c)
    c = x->order < y->order ? -1 : x->order > y->order;
  if(!c)
    c = x->node < y->node ? -1 : x->node > y->node;
  return c;
}

/* A delete whose deps label names another delete's address at the same
 * order goes first. Deletes carrying the same label at the same order
 * (every instance of a block carries its block's) wait through one
 * barrier, so each distinct label is walked once: deleting N instances
 * that depend on M costs N + M edges, not N x M. A group whose label
 * names one of its own members keeps the direct edges (a barrier would
 * make a cycle of what is a skipped self edge). */
static drover_code label_edges(run *r, const keyed *dels, size_t ndels)
{
  labelled *v = calloc(ndels + 1, sizeof(*v));
  unsigned char *member = calloc(r->n + 1, 1);
  size_t i, k, n = 0;
  drover_code rc = DROVER_E_NOMEM;

  if(!v || !member)
    goto out;
  for(i = 0; i < ndels; i++) {
    const node *a = &r->nodes[dels[i].node];
    if(!a->target || !a->target->deps || !*a->target->deps)
      continue;
    v[n].label = a->target->deps;
    v[n].order = a->rtype->delete_order;
    v[n++].node = dels[i].node;
  }
  if(n)
    qsort(v, n, sizeof(*v), labelled_cmp);
  for(i = 0; i < n; i = k) {
    size_t from = v[i].node, b;
    int self = 0;
    for(k = i + 1; k < n && v[k].order == v[i].order && !strcmp(v[k].label, v[i].label);
        k++)
      ;
    if(k - i > 1) {
      for(b = i; b < k; b++)
        member[v[b].node] = 1;
      rc = walk_label(r, dels, ndels, v[i].label, v[i].order, 0, member, &self);
      for(b = i; b < k; b++)
        member[v[b].node] = 0;
      if(rc)
        goto out;
    }
    if(k - i > 1 && !self) {
      if((from = new_barrier(r)) == NONE) {
        rc = DROVER_E_NOMEM;
        goto out;
      }
      for(b = i; b < k; b++)
        if(add_edge(r, v[b].node, from)) {
          rc = DROVER_E_NOMEM;
          goto out;
        }
      rc = walk_label(r, dels, ndels, v[i].label, v[i].order, from, NULL, NULL);
    }
    else
      for(b = i, rc = DROVER_OK; !rc && b < k; b++)
        rc = walk_label(r, dels, ndels, v[b].label, v[b].order, v[b].node, NULL, NULL);
    if(rc)
      goto out;
  }
  rc = DROVER_OK;
out:
  free(v);
  free(member);
  return rc;
}

static int order_desc(const void *a, const void *b)
{
  int x = *(const int *)a, y = *(const int *)b;

  return x > y ? -1 : x < y;
}

/* The edges, "a before b", with the same meaning as comparing every pair
 * of nodes but in O(edges log n):
 *  - a build of an instance waits for every build of the instances of the
 *    blocks it depends on: builds of block X -> barrier X -> builds that
 *    depend on X;
 *  - it also waits for the delete of an orphan of its type holding its
 *    name (sorted by type and name, looked up per orphan);
 *  - deletes go in decreasing delete_order: one barrier per order level,
 *    level k -> barrier k -> level k + 1;
 *  - at equal order, a delete whose deps label names another delete's
 *    address goes first (sorted by address, looked up per label entry),
 *    and when destroying, the instances of a block go before those of the
 *    blocks it depends on (deletes of X -> barrier "dependents of Y" ->
 *    deletes of Y, for each Y that X depends on). */
static drover_code build_edges(run *r)
{
  drover_stack *s = r->stack;
  size_t nblocks = s->tpl ? s->tpl->nblocks : 0;
  size_t *bb = NULL, *db = NULL, *lv = NULL;
  unsigned char *depended = NULL; /* per block: some block depends on it */
  keyed *builds = NULL, *dels = NULL;
  int *orders = NULL;
  size_t i, k, nbuilds = 0, ndels = 0, norders = 0;
  drover_code rc = DROVER_E_NOMEM;

  bb = malloc((nblocks + 1) * sizeof(*bb));
  db = malloc((nblocks + 1) * sizeof(*db));
  builds = malloc((r->n + 1) * sizeof(*builds));
  dels = malloc((r->n + 1) * sizeof(*dels));
  orders = malloc((r->n + 1) * sizeof(*orders));
  lv = malloc((r->n + 1) * sizeof(*lv));
  depended = calloc(nblocks + 1, 1);
  if(!bb || !db || !builds || !dels || !orders || !lv || !depended)
    goto out;
  for(i = 0; i < nblocks; i++) {
    size_t j;
    bb[i] = db[i] = NONE;
    for(j = 0; s->block_ndeps && j < s->block_ndeps[i]; j++)
      depended[s->block_deps[i][j]] = 1;
  }

  /* Builds: per block barrier, then the dependents. */
  for(i = 0; i < r->n; i++) {
    const node *a = &r->nodes[i];
    if(!is_build(a->e->action) || !a->e->inst)
      continue;
    builds[nbuilds].type = (uintptr_t)a->rtype;
    builds[nbuilds].key = a->e->inst->name;
    builds[nbuilds++].node = i;
    k = a->e->inst->block;
    if(!depended[k])
      continue; /* nobody waits for this block: no barrier, no edge */
    if(bb[k] == NONE && (bb[k] = new_barrier(r)) == NONE)
      goto out;
    if(add_edge(r, i, bb[k]))
      goto out;
  }
  for(i = 0; i < r->n; i++) {
    const node *b = &r->nodes[i];
    size_t y, j;
    if(!is_build(b->e->action) || !b->e->inst)
      continue;
    y = b->e->inst->block;
    for(j = 0; s->block_ndeps && j < s->block_ndeps[y]; j++) {
      size_t x = s->block_deps[y][j];
      if(bb[x] != NONE && add_edge(r, bb[x], i))
        goto out;
    }
  }
  /* Orphan deletes before the build that reuses their name. */
  if(nbuilds)
    qsort(builds, nbuilds, sizeof(*builds), keyed_cmp);
  for(i = 0; i < r->n && nbuilds; i++) {
    const node *a = &r->nodes[i];
    const char *nm;
    size_t j, len;
    if(a->e->action != DROVER_ACTION_DELETE || a->e->inst || !a->target ||
       !a->target->name)
      continue;
    nm = a->target->name;
    len = strlen(nm);
    for(j = keyed_lower(builds, nbuilds, (uintptr_t)a->rtype, nm, len);
        j < nbuilds && keyed_is(&builds[j], (uintptr_t)a->rtype, nm, len); j++)
      if(add_edge(r, i, builds[j].node))
        goto out;
  }

  /* Deletes: levels of delete_order. */
  for(i = 0; i < r->n; i++) {
    const node *a = &r->nodes[i];
    if(a->e->action != DROVER_ACTION_DELETE)
      continue;
    dels[ndels].type = 0;
    dels[ndels].key = a->e->address;
    dels[ndels++].node = i;
    orders[norders++] = a->rtype->delete_order;
  }
  if(norders)
    qsort(orders, norders, sizeof(*orders), order_desc);
  for(i = 0, k = 0; i < norders; i++)
    if(!k || orders[k - 1] != orders[i])
      orders[k++] = orders[i];
  norders = k;
  for(k = 0; k < norders; k++)
    if((lv[k] = new_barrier(r)) == NONE)
      goto out;
  for(i = 0; i < ndels; i++) {
    size_t n = dels[i].node;
    int o = r->nodes[n].rtype->delete_order;
    size_t lo = 0, hi = norders;
    while(lo < hi) { /* orders is descending */
      size_t mid = lo + (hi - lo) / 2;
      if(orders[mid] > o)
        lo = mid + 1;
      else
        hi = mid;
    }
    if(add_edge(r, n, lv[lo]))
      goto out;
    if(lo > 0 && add_edge(r, lv[lo - 1], n))
      goto out;
  }
  /* Equal order: deps labels. */
  if(ndels)
    qsort(dels, ndels, sizeof(*dels), keyed_cmp);
  if(label_edges(r, dels, ndels))
    goto out;
  /* Equal order, destroying: dependents' instances first. */
  for(i = 0; i < r->n; i++) {
    const node *a = &r->nodes[i];
    size_t x, j;
    if(a->e->action != DROVER_ACTION_DELETE || !a->e->inst || !s->block_ndeps)
      continue;
    x = a->e->inst->block;
    for(j = 0; j < s->block_ndeps[x]; j++) {
      size_t y = s->block_deps[x][j];
      if(s->tpl->blocks[y].rtype->delete_order != a->rtype->delete_order)
        continue;
      if(db[y] == NONE && (db[y] = new_barrier(r)) == NONE)
        goto out;
      if(add_edge(r, i, db[y]))
        goto out;
    }
  }
  for(i = 0; i < r->n; i++) {
    const node *b = &r->nodes[i];
    if(b->e->action != DROVER_ACTION_DELETE || !b->e->inst)
      continue;
    k = b->e->inst->block;
    if(db[k] != NONE && add_edge(r, db[k], i))
      goto out;
  }
  rc = DROVER_OK;
out:
  free(bb);
  free(db);
  free(builds);
  free(dels);
  free(orders);
  free(lv);
  free(depended);
  return rc;
}

/* Kahn's algorithm over a copy of the counters: labels written by older
 * templates could in theory disagree with each other. */
static int has_cycle(const run *r)
{
  size_t *pend = calloc(r->nn ? r->nn : 1, sizeof(*pend));
  size_t *q = calloc(r->nn ? r->nn : 1, sizeof(*q));
  size_t h = 0, t = 0, i, k, seen = 0;
  int cyc;

  if(!pend || !q) {
    free(pend);
    free(q);
    return -1;
  }
  for(i = 0; i < r->nn; i++) {
    pend[i] = r->nodes[i].npending;
    if(!pend[i])
      q[t++] = i;
  }
  while(h < t) {
    const node *nd = &r->nodes[q[h++]];
    seen++;
    for(k = 0; k < nd->nsucc; k++)
      if(--pend[nd->succ[k]] == 0)
        q[t++] = nd->succ[k];
  }
  cyc = seen != r->nn;
  free(pend);
  free(q);
  return cyc;
}

/* ------------------------------------------------------------------------
 * One node
 */

static int cancelled(const run *r)
{
  /* Set by a signal handler, read by every worker: an atomic load keeps
   * that from being a data race without changing the public type. */
  if(r->opts->cancel && __atomic_load_n(r->opts->cancel, __ATOMIC_RELAXED))
    return 1;
  /* Another machine took the stack's lease: start nothing more. */
  return dv_lease_lost(r->stack, NULL);
}

typedef enum { OP_CREATE, OP_UPDATE, OP_DELETE } opkind;

static int same_str(const char *a, const char *b)
{
  return a && b && !strcmp(a, b);
}

/* Failures after which the request may still have been carried out: the
 * reply was lost (reset, 5xx, timeout), or a retry of a request that had
 * acted met its effect ("already stopped", "already exists", 404). */
static int ambiguous(drover_code rc, const drover_res_req *req)
{
  switch(rc) {
  case DROVER_E_PROVIDER:
  case DROVER_E_TRANSIENT:
  case DROVER_E_NOT_FOUND:
  case DROVER_E_TIMEOUT:
  case DROVER_E_IO:
    return 1;
  case DROVER_E_CONFLICT:
    /* A saved plan's ETag no longer matching is a real conflict. */
    return !req || !req->if_match;
  default:
    return 0;
  }
}

/* After an ambiguous failure: reads the object back and tells whether the
 * call's goal holds anyway: deleted (not found), or created/updated (our
 * labels, the desired hash, every managed property as desired). Success
 * is judged by the cloud's state, not by the failed call's message. On
 * success a create/update's *out is the object read (owned by the caller). */
static int goal_holds(node *nd, opkind op, const drover_res_req *req,
                      const drover_live *cur, drover_live **out)
{
  drover_live *l = NULL;
  drover_error local;
  drover_code rc;
  /* Where the cloud assigns IDs, an object is read by its ID (cur's name);
   * a create's is not known yet, so its retry relies on the idempotency
   * token instead. */
  int sid = (dv_rtype_flags(nd->vt, nd->rtype) & DROVER_RTYPE_SERVER_ID) != 0;
  const char *name = op == OP_DELETE || (sid && op == OP_UPDATE) ? (cur ? cur->name : NULL)
                     : sid ? NULL : req->name;
  int holds = 0;

  if(!nd->vt->read || !name)
    return 0;
  drover_error_clear(&local);
  rc = nd->vt->read(nd->pstate, nd->rtype, name, &l, &local);
  if(op == OP_DELETE)
    holds = rc == DROVER_E_NOT_FOUND;
  else if(!rc && l)
    holds = same_str(l->name, name) && same_str(l->stack, req->stack) &&
            same_str(l->address, req->address) && same_str(l->hash, req->hash) &&
            dv_desired_holds(nd->block, req->properties, l);
  if(holds && out) {
    drover_live_free(*out);
    *out = l;
    l = NULL;
  }
  drover_live_free(l);
  return holds;
}

/* One provider call with retries. *out (create/update) is owned by the
 * caller. */
static drover_code call_op(run *r, node *nd, opkind op, drover_res_req *req,
                           const drover_live *cur, drover_live **out,
                           unsigned *seed, drover_error *err)
{
  drover_code rc = DROVER_OK;
  unsigned attempt;

  for(attempt = 0;; attempt++) {
    drover_error local;
    double backoff, until;

    drover_error_clear(&local);
    if(req)
      req->deadline = drover_now() + r->op_timeout;
    switch(op) {
    case OP_CREATE:
      rc = nd->vt->create(nd->pstate, nd->rtype, req, out, &local);
      break;
    case OP_UPDATE:
      rc = nd->vt->update ? nd->vt->update(nd->pstate, nd->rtype, req, cur, out, &local)
                          : drover_error_set(&local, DROVER_E_UNSUPPORTED,
                                             "%s: update not supported", nd->vt->name);
      break;
    case OP_DELETE:
      rc = nd->vt->del(nd->pstate, nd->rtype, cur, drover_now() + r->op_timeout,
                       &local);
      break;
    }
    if(!rc)
      return DROVER_OK;
    if(!local.code)
      drover_error_set(&local, rc, "%s: operation failed", nd->vt->name);
    drover_error_locate(&local, nd->vt->name, nd->e->address);
    if(ambiguous(rc, req) && goal_holds(nd, op, req, cur, out)) {
      dv_log(r->stack, DROVER_LOG_WARN, "apply: %s: %s failed (%s), but the cloud "
             "shows it done; counted as done", nd->e->address,
             op == OP_DELETE ? "delete" : op == OP_CREATE ? "create" : "update",
             local.text);
      return DROVER_OK;
    }
    if((rc != DROVER_E_TRANSIENT && rc != DROVER_E_TIMEOUT) ||
       attempt >= r->max_retries || cancelled(r)) {
      if(err && !err->code)
        *err = local;
      return rc;
    }
    {
      dv_backoff policy = {r->retry_base, BACKOFF_CAP};
      backoff = dv_backoff_delay(&policy, attempt, -1, seed);
    }
    {
      char msg[DROVER_ERROR_TEXT + 64];
      snprintf(msg, sizeof(msg), "retry %u/%u in %.2fs: %s", attempt + 1,
               r->max_retries, backoff, local.text);
      emit(r, DROVER_EVENT_RETRY, nd, msg, 0, 0);
      dv_log(r->stack, DROVER_LOG_WARN, "apply: %s: %s", nd->e->address, msg);
    }
    until = drover_now() + backoff;
    dv_backoff_sleep_until(until, r->opts->cancel);
  }
}

/* The idempotency token of a create (drover_res_req.idempotency_token):
 * the same for every try of this create, in this run or a later one after
 * a crash; new for the next generation (other properties, or replacing
 * the object named replaced). */
static drover_code idem_token(char out[32], const char *stack, const char *address,
                              const char *hash, const char *replaced)
{
  json_t *parts = json_pack("[s,s,s,s]", stack, address, hash, replaced ? replaced : "");
  char h[17];
  drover_code rc = parts ? dv_hash_json(h, parts) : DROVER_E_NOMEM;

  json_decref(parts);
  if(!rc)
    snprintf(out, 32, "drover-%s", h);
  return rc;
}

/* Creates (name NULL: the instance's own name) or updates nd's instance. */
static drover_code build(run *r, node *nd, opkind op, const char *altname,
                         unsigned *seed, drover_error *err)
{
  drover_stack *s = r->stack;
  dv_inst *inst = nd->e->inst;
  drover_code rc;
  drover_res_req req;
  drover_live *out = NULL;
  json_t *props = NULL;
  char hash[17], cbd[80], token[32], *sens = NULL;
  const char *name;
  int known;

  memset(&req, 0, sizeof(req));
  pthread_mutex_lock(&r->evalmu);
  rc = dv_stack_eval_inst(s, inst, err);
  known = inst->known;
  memcpy(hash, inst->hash, sizeof(hash));
  if(!rc && known)
    props = json_deep_copy(inst->desired);
  pthread_mutex_unlock(&r->evalmu);
  if(rc) {
    drover_error_locate(err, NULL, inst->address);
    return rc;
  }
  if(!known) {
    rc = drover_error_set(err, DROVER_E_REFERENCE,
                          "apply: a property is still unknown after its "
                          "dependencies were applied");
    drover_error_locate(err, NULL, inst->address);
    return rc;
  }
  if(!props)
    return drover_error_set(err, DROVER_E_NOMEM, "apply: out of memory");
  name = inst->name; /* eval replaced it: read it only now */
  if(altname) {
    /* create_before_destroy: a second name so old and new coexist. */
    snprintf(cbd, sizeof(cbd), "%.*s-%.6s", DV_CBD_BASE_MAX, inst->name, hash);
    if(!inst->live || !inst->live->name || strcmp(cbd, inst->live->name))
      name = cbd;
    if(json_object_get(props, "name"))
      json_object_set_new(props, "name", json_string(name));
  }
  req.stack = s->name;
  req.address = inst->address;
  req.name = name;
  req.hash = hash;
  req.deps = inst->deps ? inst->deps : "";
  req.sensitive = sens = dv_secret_label(&s->tpl->blocks[inst->block]);
  if(!sens) {
    json_decref(props);
    return drover_error_set(err, DROVER_E_NOMEM, "apply: out of memory");
  }
  req.properties = props;
  if(op == OP_UPDATE) {
    req.if_match = nd->e->etag;
    req.changed = (const char *const *)nd->e->changed;
  }
  else {
    rc = idem_token(token, s->name, inst->address, hash,
                    nd->target ? nd->target->name : NULL);
    if(rc) {
      json_decref(props);
      free(sens);
      return drover_error_set(err, rc, "apply: out of memory");
    }
    req.idempotency_token = token;
  }
  rc = call_op(r, nd, op, &req, op == OP_UPDATE ? inst->live : NULL, &out, seed, err);
  json_decref(props);
  if(!rc && dv_live_fill_id(nd->vt, nd->rtype, out))
    rc = drover_error_set(err, DROVER_E_NOMEM, "apply: out of memory");
  free(sens);
  if(rc) {
    drover_live_free(out);
    return rc;
  }
  if(!out && op == OP_UPDATE && inst->live) {
    /* Provider reported nothing new: keep what we know. */
    return DROVER_OK;
  }
  pthread_mutex_lock(&r->evalmu);
  drover_live_free(inst->applied);
  inst->applied = out;
  pthread_mutex_unlock(&r->evalmu);
  return DROVER_OK;
}

static drover_code exec_node(run *r, node *nd, unsigned *seed, drover_error *err)
{
  drover_code rc;
  int cbd;

  switch(nd->e->action) {
  case DROVER_ACTION_CREATE:
    return build(r, nd, OP_CREATE, NULL, seed, err);
  case DROVER_ACTION_UPDATE:
    return build(r, nd, OP_UPDATE, NULL, seed, err);
  case DROVER_ACTION_DELETE:
    if(!nd->target)
      return DROVER_OK;
    return call_op(r, nd, OP_DELETE, NULL, nd->target, NULL, seed, err);
  case DROVER_ACTION_REPLACE:
    cbd = nd->block && (nd->block->lifecycle & DV_LC_CREATE_BEFORE_DESTROY);
    if(cbd) {
      rc = build(r, nd, OP_CREATE, "", seed, err);
      if(!rc && nd->target && nd->e->inst->applied &&
         !(nd->e->inst->applied->name && nd->target->name &&
           !strcmp(nd->e->inst->applied->name, nd->target->name)))
        rc = call_op(r, nd, OP_DELETE, NULL, nd->target, NULL, seed, err);
      return rc;
    }
    if(nd->target) {
      rc = call_op(r, nd, OP_DELETE, NULL, nd->target, NULL, seed, err);
      if(rc)
        return rc;
    }
    return build(r, nd, OP_CREATE, NULL, seed, err);
  case DROVER_ACTION_NOOP:
    break;
  }
  return DROVER_OK;
}

/* ------------------------------------------------------------------------
 * Scheduler
 */

/* Under r->mu: records nd's outcome and releases or skips its dependents.
 * A barrier whose last predecessor finished passes the outcome on at once
 * (it has no action); it is not counted as finished work. */
static void finish(run *r, size_t idx, nstate st)
{
  size_t *todo = r->todo, ntodo = 0, k;

  r->nodes[idx].state = st;
  r->finished++;
  todo[ntodo++] = idx;
  while(ntodo) {
    node *nd = &r->nodes[todo[--ntodo]];
    for(k = 0; k < nd->nsucc; k++) {
      size_t si = nd->succ[k];
      node *s = &r->nodes[si];
      if(nd->state != N_OK)
        s->blocked = 1;
      if(--s->npending)
        continue;
      if(si >= r->n) {
        s->state = s->blocked ? N_SKIPPED : N_OK;
        todo[ntodo++] = si;
        continue;
      }
      if(!s->blocked) {
        r->queue[r->tail++] = si;
        continue;
      }
      s->state = N_SKIPPED;
      r->finished++;
      r->res.skipped++;
      emit(r, DROVER_EVENT_SKIPPED, s,
           r->cancelled ? "cancelled" : "not attempted: a dependency failed", 0,
           r->finished);
      todo[ntodo++] = si;
    }
  }
}

/* Under r->mu, after finish(): wakes one waiting worker for each node
 * made ready beyond the one this worker takes itself, or every worker
 * when all is done. (A broadcast per action woke every worker to find,
 * on a chain of 100,000, nothing to do.) Workers that are not waiting
 * look at the queue before they wait, so no ready node is left behind. */
static void wake(run *r, size_t tail_before)
{
  size_t k, added = r->tail - tail_before;

  if(r->finished >= r->n) {
    pthread_cond_broadcast(&r->cv);
    return;
  }
  for(k = 1; k < added && k < r->parallelism; k++)
    pthread_cond_signal(&r->cv);
}

static void *worker(void *arg)
{
  run *r = arg;
  unsigned seed = (unsigned)time(NULL) ^ (unsigned)(size_t)&seed;

  pthread_mutex_lock(&r->mu);
  for(;;) {
    size_t idx, tail;
    node *nd;
    drover_code rc;
    drover_error nerr;
    double t0;

    while(r->head == r->tail && r->finished < r->n)
      pthread_cond_wait(&r->cv, &r->mu);
    if(r->finished >= r->n)
      break;
    idx = r->queue[r->head++];
    nd = &r->nodes[idx];
    if(nd->blocked || cancelled(r) || r->cancelled) {
      if(!nd->blocked)
        r->cancelled = 1;
      nd->state = N_SKIPPED;
      r->res.skipped++;
      emit(r, DROVER_EVENT_SKIPPED, nd, nd->blocked ? "a dependency failed" : "cancelled",
           0, r->finished + 1);
      nd->blocked = 1;
      tail = r->tail;
      finish(r, idx, N_SKIPPED);
      wake(r, tail);
      continue;
    }
    nd->state = N_RUNNING;
    pthread_mutex_unlock(&r->mu);

    t0 = drover_now();
    emit(r, DROVER_EVENT_START, nd, NULL, 0, 0);
    dv_log(r->stack, DROVER_LOG_INFO, "apply: %s: %s", nd->e->address,
           drover_action_name(nd->e->action));
    drover_error_clear(&nerr);
    rc = exec_node(r, nd, &seed, &nerr);

    pthread_mutex_lock(&r->mu);
    tail = r->tail;
    if(rc) {
      char line[DROVER_ERROR_TEXT + 64];
      r->res.failed++;
      if(!r->first.code)
        r->first = nerr;
      drover_error_format(&nerr, line, sizeof(line));
      finish(r, idx, N_FAILED);
      emit(r, DROVER_EVENT_FAILED, nd, line, drover_now() - t0, r->finished);
      dv_log(r->stack, DROVER_LOG_ERROR, "apply: %s", line);
    }
    else {
      switch(nd->e->action) {
      case DROVER_ACTION_CREATE: r->res.created++; break;
      case DROVER_ACTION_UPDATE: r->res.updated++; break;
      case DROVER_ACTION_REPLACE: r->res.replaced++; break;
      case DROVER_ACTION_DELETE: r->res.deleted++; break;
      case DROVER_ACTION_NOOP: break;
      }
      finish(r, idx, N_OK);
      {
        /* A cloud-assigned ID is known only now: say it. */
        char idmsg[300];
        const drover_live *made = nd->e->inst ? nd->e->inst->applied : NULL;
        int sid = dv_rtype_flags(nd->vt, nd->rtype) & DROVER_RTYPE_SERVER_ID;
        if(sid && made && made->name)
          snprintf(idmsg, sizeof(idmsg), "id %s", made->name);
        emit(r, DROVER_EVENT_DONE, nd, sid && made && made->name ? idmsg : NULL,
             drover_now() - t0, r->finished);
      }
    }
    wake(r, tail);
  }
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

/* ------------------------------------------------------------------------
 * drover_apply
 */

static drover_code setup_nodes(run *r, drover_error *err)
{
  drover_stack *s = r->stack;
  size_t i, k = 0;
  drover_code rc;

  size_t nblocks = s->tpl ? s->tpl->nblocks : 0, nact = 0;

  for(i = 0; i < r->plan->n; i++)
    if(r->plan->entries[i].action != DROVER_ACTION_NOOP)
      nact++;
  /* Room for the barriers too: build_edges makes at most one per block
   * holding a build, one per block holding a delete, one per delete
   * level (at most one per delete), and one per group of two or more
   * deletes sharing a deps label (at most one per two deletes). */
  r->capnodes = nact + 2 * (nact < nblocks ? nact : nblocks) + nact + nact / 2 + 1;
  r->nodes = calloc(r->capnodes, sizeof(*r->nodes));
  r->queue = calloc(nact + 1, sizeof(*r->queue));
  r->todo = calloc(r->capnodes, sizeof(*r->todo));
  if(!r->nodes || !r->queue || !r->todo)
    return drover_error_set(err, DROVER_E_NOMEM, "apply: out of memory");
  for(i = 0; i < r->plan->n; i++) {
    dv_plan_entry *e = &r->plan->entries[i];
    node *nd;
    if(e->action == DROVER_ACTION_NOOP)
      continue;
    nd = &r->nodes[k++];
    nd->e = e;
    nd->rtype = dv_rtype_find(e->type, &nd->vt);
    if(!nd->rtype)
      return drover_error_set(err, DROVER_E_INTERNAL, "apply: %s: unknown type %s",
                              e->address, e->type);
    if(e->inst) {
      nd->block = &s->tpl->blocks[e->inst->block];
      nd->target = e->inst->live;
    }
    else
      nd->target = e->orphan;
  }
  r->n = r->nn = k;
  /* Initialise every provider before any thread starts. */
  for(i = 0; i < r->n; i++) {
    dv_pinst *p;
    rc = dv_stack_provider(&p, s, r->nodes[i].vt, err);
    if(rc)
      return rc;
    /* The state block does not move when the providers array grows, and
     * may belong to another stack (node sets share providers). */
    r->nodes[i].pstate = p->state;
  }
  rc = build_edges(r);
  if(rc)
    return drover_error_set(err, rc, "apply: out of memory");
  switch(has_cycle(r)) {
  case 0:
    break;
  case 1:
    return drover_error_set(err, DROVER_E_CYCLE,
                            "apply: the deletion order has a cycle "
                            "(conflicting dependency labels)");
  default:
    return drover_error_set(err, DROVER_E_NOMEM, "apply: out of memory");
  }
  return DROVER_OK;
}

drover_code drover_apply(drover_plan *plan, const drover_apply_opts *opts,
                         drover_apply_result *result, drover_error *err)
{
  drover_apply_opts defopts = DROVER_APPLY_OPTS_INIT;
  drover_code rc = DROVER_OK;
  run r;
  pthread_t *threads = NULL;
  size_t i, nthreads = 0, started = 0;
  int took_lock = 0, sync_ok = 0;
  double t0 = drover_now();

  if(result)
    memset(result, 0, sizeof(*result));
  if(!plan || !plan->stack)
    return drover_error_set(err, DROVER_E_ARG, "apply: no plan");
  memset(&r, 0, sizeof(r));
  r.plan = plan;
  r.stack = plan->stack;
  r.opts = opts ? opts : &defopts;
  r.parallelism = r.opts->parallelism ? r.opts->parallelism : 10;
  r.max_retries = r.opts->max_retries;
  if(r.max_retries == DROVER_RETRIES_DEFAULT || (r.opts->version < 2 && !r.max_retries))
    r.max_retries = 5;
  r.retry_base = r.opts->retry_base > 0 ? r.opts->retry_base : 0.5;
  r.op_timeout = r.opts->op_timeout > 0 ? r.opts->op_timeout : 300;

  if(r.stack->lock_fd < 0) {
    rc = drover_stack_lock(r.stack, 0, err);
    if(rc)
      return rc;
    took_lock = 1;
  }
  if(plan->owns_stack) {
    /* A saved plan: the cloud may have moved since it was reviewed. */
    rc = dv_plan_check_fresh(plan, err);
    if(rc)
      goto out;
  }
  else if(plan->refresh_gen != r.stack->refresh_gen) {
    /* The caller refreshed after planning: what was reviewed is not what
     * the stack now knows, and instance entries would act on other
     * objects than the plan showed. */
    rc = drover_error_set(err, DROVER_E_STALE_PLAN,
                          "apply: stack \"%s\" was refreshed after this plan was "
                          "made; plan again", r.stack->name);
    goto out;
  }
  rc = setup_nodes(&r, err);
  if(rc)
    goto out;
  if(pthread_mutex_init(&r.mu, NULL) || pthread_mutex_init(&r.evalmu, NULL) ||
     pthread_mutex_init(&r.evmu, NULL) || pthread_cond_init(&r.cv, NULL)) {
    rc = drover_error_set(err, DROVER_E_INTERNAL, "apply: cannot create locks");
    goto out;
  }
  sync_ok = 1;
  for(i = 0; i < r.n; i++)
    if(!r.nodes[i].npending)
      r.queue[r.tail++] = i;
  nthreads = r.parallelism < r.n ? r.parallelism : r.n;
  if(nthreads) {
    threads = calloc(nthreads, sizeof(*threads));
    for(i = 0; threads && i < nthreads; i++) {
      if(pthread_create(&threads[i], NULL, worker, &r))
        break;
      started++;
    }
    if(!started)
      worker(&r); /* no threads to be had: work in this one */
    for(i = 0; i < started; i++)
      pthread_join(threads[i], NULL);
  }
  dv_log(r.stack, DROVER_LOG_INFO,
         "apply: stack \"%s\": %zu created, %zu updated, %zu replaced, %zu deleted, "
         "%zu failed, %zu skipped in %.2fs", r.stack->name, r.res.created,
         r.res.updated, r.res.replaced, r.res.deleted, r.res.failed, r.res.skipped,
         drover_now() - t0);
  if(r.res.failed) {
    if(err && !err->code)
      *err = r.first;
    rc = DROVER_E_PARTIAL;
  }
  else if(r.res.skipped && dv_lease_lost(r.stack, err))
    rc = DROVER_E_LOCKED;
  else if(r.cancelled || (cancelled(&r) && r.res.skipped)) {
    rc = drover_error_set(err, DROVER_E_CANCELLED,
                          "apply: cancelled; %zu action(s) not started",
                          r.res.skipped);
  }
  /* What we changed is no longer what the last refresh saw. */
  if(r.n)
    r.stack->refreshed = 0;
out:
  if(result)
    *result = r.res;
  if(sync_ok) {
    pthread_mutex_destroy(&r.mu);
    pthread_mutex_destroy(&r.evalmu);
    pthread_mutex_destroy(&r.evmu);
    pthread_cond_destroy(&r.cv);
  }
  for(i = 0; r.nodes && i < r.nn; i++)
    free(r.nodes[i].succ);
  free(r.nodes);
  free(r.queue);
  free(r.todo);
  free(threads);
  if(took_lock)
    drover_stack_unlock(r.stack);
  return rc;
}
