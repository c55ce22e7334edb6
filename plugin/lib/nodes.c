/* nodes.c - node sets: one stack per elastic (Slurm cloud) node, built
 * from one node template, sharing one instance of each provider and one
 * bulk list per resource type.
 *
 * The power-save programs and the repair loop work on many nodes at
 * once (a resume of 200 nodes, a reconcile of a whole partition). Each
 * node stays its own stack ("node-<name>"), so plan, show and destroy
 * work on one node, but the set lists each type once with no stack filter
 * and hands every node stack its own objects, then plans and applies the
 * nodes in parallel, rate limited, each under its own stack lock.
 */
/* timegm, strptime: _GNU_SOURCE comes from AM_CPPFLAGS */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "engine.h"

typedef struct dv_node {
  char *node;              /* Slurm node name */
  drover_stack *stack;     /* owned */
  drover_template *bare;   /* owned template of an adopted bare stack, or NULL */
  int adopted;             /* found by refresh, not added by the caller */
  drover_code rc;          /* outcome of the last apply */
  drover_error err;
  drover_apply_result res;
} dv_node;

struct drover_nodeset {
  const drover_template *tpl;
  drover_options opts;
  drover_stack *host;      /* owns the providers every node stack borrows */
  dv_node *nodes;
  size_t n, cap;
};

/* ------------------------------------------------------------------------
 * Names
 */

drover_code drover_node_stack_name(char *buf, size_t size, const char *node,
                                   drover_error *err)
{
  size_t i, n = node ? strlen(node) : 0;
  size_t plen = strlen(DROVER_NODE_STACK_PREFIX);

  if(!n || plen + n > 63 || plen + n + 1 > size)
    return drover_error_set(err, DROVER_E_ARG,
                            "node \"%s\": name too long or empty for a stack name",
                            node ? node : "");
  for(i = 0; i < n; i++)
    if(!((node[i] >= 'a' && node[i] <= 'z') || (node[i] >= '0' && node[i] <= '9') ||
         node[i] == '-'))
      return drover_error_set(err, DROVER_E_ARG,
                              "node \"%s\": a node stack name takes only lowercase "
                              "letters, digits and '-'", node);
  memcpy(buf, DROVER_NODE_STACK_PREFIX, plen);
  memcpy(buf + plen, node, n + 1);
  return DROVER_OK;
}

const char *drover_node_of_stack(const char *stack)
{
  size_t plen = strlen(DROVER_NODE_STACK_PREFIX);

  if(!stack || strncmp(stack, DROVER_NODE_STACK_PREFIX, plen) || !stack[plen])
    return NULL;
  return stack + plen;
}

/* ------------------------------------------------------------------------
 * The set
 */

drover_code drover_nodeset_new(drover_nodeset **out, const drover_template *tpl,
                               const drover_options *opts, drover_error *err)
{
  static const drover_options defaults = DROVER_OPTIONS_INIT;
  drover_nodeset *set = NULL;
  drover_options hopts;
  char *providers = NULL;
  drover_code rc = DROVER_OK;

  *out = NULL;
  if(!tpl)
    return drover_error_set(err, DROVER_E_ARG, "nodes: no template");
  set = calloc(1, sizeof(*set));
  if(!set)
    return drover_error_set(err, DROVER_E_NOMEM, "nodes: out of memory");
  set->tpl = tpl;
  set->opts = opts ? *opts : defaults;
  set->opts.stack_name = NULL;
  /* The host holds the providers with the template's settings; it owns
   * nothing in the cloud itself. */
  providers = tpl->providers ? json_dumps(tpl->providers, JSON_COMPACT) : dv_strdup("{}");
  if(!providers) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "nodes: out of memory");
    goto out;
  }
  hopts = set->opts;
  rc = drover_stack_open_bare(&set->host, "drover-nodes", providers, &hopts, err);
  if(rc)
    goto out;
  *out = set;
  set = NULL;
out:
  free(providers);
  drover_nodeset_free(set);
  return rc;
}

void drover_nodeset_free(drover_nodeset *set)
{
  size_t i;

  if(!set)
    return;
  /* Node stacks first: they borrow the host's providers. */
  for(i = 0; i < set->n; i++) {
    drover_stack_free(set->nodes[i].stack);
    drover_template_free(set->nodes[i].bare);
    free(set->nodes[i].node);
  }
  free(set->nodes);
  drover_stack_free(set->host);
  free(set);
}

/* Whether the template declares param name. */
static int tpl_has_param(const drover_template *tpl, const char *name)
{
  size_t i;

  for(i = 0; i < tpl->nparams; i++)
    if(!strcmp(tpl->params[i].name, name))
      return 1;
  return 0;
}

static drover_code grow(drover_nodeset *set, drover_error *err)
{
  dv_node *g;
  size_t cap;

  if(set->n < set->cap)
    return DROVER_OK;
  cap = set->cap ? set->cap * 2 : 16;
  g = realloc(set->nodes, cap * sizeof(*g));
  if(!g)
    return drover_error_set(err, DROVER_E_NOMEM, "nodes: out of memory");
  set->nodes = g;
  set->cap = cap;
  return DROVER_OK;
}

/* Opens node's stack from the template, with "node" set unless vars set
 * it. *out owned by the caller. */
static drover_code open_node(drover_stack **out, drover_nodeset *set, const char *node,
                             const char *stack_name, const drover_vars *vars,
                             drover_error *err)
{
  drover_options o = set->opts;
  drover_vars *own = NULL;
  drover_code rc;

  o.stack_name = stack_name;
  if(tpl_has_param(set->tpl, "node") &&
     !(vars && vars->values && json_object_get(vars->values, "node"))) {
    own = drover_vars_new();
    if(!own)
      return drover_error_set(err, DROVER_E_NOMEM, "nodes: out of memory");
    if(vars && vars->values && json_object_update(own->values, vars->values)) {
      drover_vars_free(own);
      return drover_error_set(err, DROVER_E_NOMEM, "nodes: out of memory");
    }
    rc = drover_vars_set(own, "node", node, err);
    if(rc) {
      drover_vars_free(own);
      return rc;
    }
    vars = own;
  }
  rc = drover_stack_open(out, set->tpl, vars, &o, err);
  drover_vars_free(own);
  if(!rc)
    (*out)->provider_host = set->host;
  return rc;
}

drover_code drover_nodeset_add(drover_nodeset *set, const char *node,
                               const drover_vars *vars, drover_error *err)
{
  char name[64];
  dv_node *d;
  drover_code rc;

  if(!set)
    return drover_error_set(err, DROVER_E_ARG, "nodes: no set");
  rc = drover_node_stack_name(name, sizeof(name), node, err);
  if(rc)
    return rc;
  /* A node given twice is refused by refresh, with the sorted index
   * (checking here would cost a pass over the set per node). */
  rc = grow(set, err);
  if(rc)
    return rc;
  d = &set->nodes[set->n];
  memset(d, 0, sizeof(*d));
  d->node = dv_strdup(node);
  if(!d->node)
    return drover_error_set(err, DROVER_E_NOMEM, "nodes: out of memory");
  rc = open_node(&d->stack, set, node, name, vars, err);
  if(rc) {
    free(d->node);
    return rc;
  }
  set->n++;
  return DROVER_OK;
}

/* A stack found in the cloud for a node the caller did not add (an
 * orphan, e.g. a node removed from slurm.conf): opened from the template
 * when it accepts the node, else bare, which can only delete. */
static drover_code adopt(drover_nodeset *set, const char *stack_name, drover_error *err)
{
  const char *node = drover_node_of_stack(stack_name);
  drover_error local;
  dv_node *d;
  drover_code rc;
  drover_options o = set->opts;
  char *providers = NULL;

  rc = grow(set, err);
  if(rc)
    return rc;
  d = &set->nodes[set->n];
  memset(d, 0, sizeof(*d));
  d->adopted = 1;
  d->node = dv_strdup(node);
  if(!d->node)
    return drover_error_set(err, DROVER_E_NOMEM, "nodes: out of memory");
  drover_error_clear(&local);
  if(open_node(&d->stack, set, node, stack_name, NULL, &local)) {
    providers = set->tpl->providers ? json_dumps(set->tpl->providers, JSON_COMPACT)
                                    : dv_strdup("{}");
    o.stack_name = stack_name;
    rc = providers ? drover_stack_open_bare(&d->stack, stack_name, providers, &o, err)
                   : drover_error_set(err, DROVER_E_NOMEM, "nodes: out of memory");
    free(providers);
    if(rc) {
      free(d->node);
      return rc;
    }
    d->stack->provider_host = set->host;
  }
  set->n++;
  return DROVER_OK;
}

size_t drover_nodeset_count(const drover_nodeset *set)
{
  return set ? set->n : 0;
}

const char *drover_nodeset_node(const drover_nodeset *set, size_t i)
{
  return set && i < set->n ? set->nodes[i].node : NULL;
}

drover_stack *drover_nodeset_stack(drover_nodeset *set, size_t i)
{
  return set && i < set->n ? set->nodes[i].stack : NULL;
}

int drover_nodeset_adopted(const drover_nodeset *set, size_t i)
{
  return set && i < set->n ? set->nodes[i].adopted : 0;
}

/* ------------------------------------------------------------------------
 * Refresh: one list per type for every node
 */

typedef struct ix_ent {
  const char *stack;
  size_t node;
} ix_ent;

static int ix_cmp(const void *a, const void *b)
{
  return strcmp(((const ix_ent *)a)->stack, ((const ix_ent *)b)->stack);
}

/* Index of the set's stacks by name (caller frees). */
static ix_ent *build_ix(const drover_nodeset *set)
{
  ix_ent *ix = calloc(set->n ? set->n : 1, sizeof(*ix));
  size_t i;

  if(!ix)
    return NULL;
  for(i = 0; i < set->n; i++) {
    ix[i].stack = set->nodes[i].stack->name;
    ix[i].node = i;
  }
  qsort(ix, set->n, sizeof(*ix), ix_cmp);
  return ix;
}

static dv_node *find_node(drover_nodeset *set, const ix_ent *ix, const char *stack)
{
  ix_ent key, *hit;

  if(!set->n)
    return NULL;
  key.stack = stack;
  hit = bsearch(&key, ix, set->n, sizeof(*ix), ix_cmp);
  return hit ? &set->nodes[hit->node] : NULL;
}

/* Hands live (owned, also on failure) to stack's prelist for type. */
static drover_code give(drover_stack *stack, const drover_rtype *type, drover_live *live,
                        drover_error *err)
{
  size_t k;
  dv_prelist *g;

  for(k = 0; k < stack->nprelist; k++)
    if(stack->prelist[k].type == type)
      break;
  if(k == stack->nprelist) {
    g = realloc(stack->prelist, (k + 1) * sizeof(*g));
    if(!g) {
      drover_live_free(live);
      return drover_error_set(err, DROVER_E_NOMEM, "nodes: out of memory");
    }
    stack->prelist = g;
    memset(&g[k], 0, sizeof(g[k]));
    g[k].type = type;
    stack->nprelist++;
  }
  if(drover_live_list_push(&stack->prelist[k].found, live))
    return drover_error_set(err, DROVER_E_NOMEM, "nodes: out of memory");
  return DROVER_OK;
}

/* Every provider the template uses: its blocks' and its "providers". */
static drover_code tpl_providers(const drover_provider ***out, size_t *n,
                                 const drover_template *tpl, drover_error *err)
{
  const drover_provider **v;
  size_t cap, i, j, k = 0;
  const char *key;
  json_t *val;

  cap = tpl->nblocks + (tpl->providers ? json_object_size(tpl->providers) : 0) + 1;
  v = calloc(cap, sizeof(*v));
  if(!v)
    return drover_error_set(err, DROVER_E_NOMEM, "nodes: out of memory");
  for(i = 0; i < tpl->nblocks; i++) {
    for(j = 0; j < k && v[j] != tpl->blocks[i].provider; j++)
      ;
    if(j == k && tpl->blocks[i].provider)
      v[k++] = tpl->blocks[i].provider;
  }
  if(json_is_object(tpl->providers)) {
    json_object_foreach(tpl->providers, key, val) {
      const drover_provider *p = dv_provider_find(key);
      (void)val;
      if(!p) {
        free(v);
        return drover_error_set(err, DROVER_E_CONFIG, "nodes: unknown provider \"%s\"",
                                key);
      }
      for(j = 0; j < k && v[j] != p; j++)
        ;
      if(j == k)
        v[k++] = p;
    }
  }
  *out = v;
  *n = k;
  return DROVER_OK;
}

static int str_cmp(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct listed {
  const drover_rtype *type;
  drover_live_list found;
} listed;

drover_code drover_nodeset_refresh(drover_nodeset *set, unsigned flags, drover_error *err)
{
  drover_code rc = DROVER_OK;
  const drover_provider **provs = NULL;
  listed *lists = NULL;
  ix_ent *ix = NULL;
  size_t nprovs = 0, nlists = 0, i, t, k;
  double t0 = drover_now();

  if(!set)
    return drover_error_set(err, DROVER_E_ARG, "nodes: no set");
  ix = build_ix(set);
  if(!ix) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "nodes: out of memory");
    goto out;
  }
  for(i = 1; i < set->n; i++)
    if(!strcmp(ix[i].stack, ix[i - 1].stack)) {
      rc = drover_error_set(err, DROVER_E_ARG, "node \"%s\" given twice",
                            set->nodes[ix[i].node].node);
      goto out;
    }
  free(ix);
  ix = NULL;
  rc = tpl_providers(&provs, &nprovs, set->tpl, err);
  if(rc)
    goto out;
  for(i = 0; i < nprovs; i++)
    for(t = 0; provs[i]->types[t]; t++)
      nlists++;
  lists = calloc(nlists ? nlists : 1, sizeof(*lists));
  if(!lists) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "nodes: out of memory");
    goto out;
  }
  /* One list per type, no stack filter: every labelled object. */
  for(i = 0, k = 0; i < nprovs; i++) {
    dv_pinst *p;
    rc = dv_stack_provider(&p, set->host, provs[i], err);
    if(rc)
      goto out;
    for(t = 0; provs[i]->types[t]; t++, k++) {
      lists[k].type = provs[i]->types[t];
      rc = provs[i]->list(p->state, provs[i]->types[t], NULL, &lists[k].found, err);
      if(rc) {
        drover_error_locate(err, provs[i]->name, NULL);
        goto out;
      }
    }
  }
  /* Node stacks nobody asked about: orphans the caller may want. Their
   * names are gathered, sorted and deduplicated, then adopted. */
  if(flags & DROVER_NODESET_ADOPT) {
    const char **names = NULL;
    size_t nn = 0, cap = 0;
    ix = build_ix(set);
    if(!ix) {
      rc = drover_error_set(err, DROVER_E_NOMEM, "nodes: out of memory");
      goto out;
    }
    for(k = 0; k < nlists; k++) {
      for(i = 0; i < lists[k].found.count; i++) {
        const char *s = lists[k].found.items[i]->stack;
        if(!drover_node_of_stack(s) || find_node(set, ix, s))
          continue;
        if(nn == cap) {
          const char **g;
          cap = cap ? cap * 2 : 16;
          g = realloc(names, cap * sizeof(*g));
          if(!g) {
            free(names);
            rc = drover_error_set(err, DROVER_E_NOMEM, "nodes: out of memory");
            goto out;
          }
          names = g;
        }
        names[nn++] = s;
      }
    }
    if(nn)
      qsort(names, nn, sizeof(*names), str_cmp);
    for(i = 0; !rc && i < nn; i++)
      if(!i || strcmp(names[i], names[i - 1]))
        rc = adopt(set, names[i], err);
    free(names);
    if(rc)
      goto out;
  }
  free(ix);
  ix = build_ix(set);
  if(!ix) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "nodes: out of memory");
    goto out;
  }
  for(k = 0; k < nlists; k++) {
    for(i = 0; i < lists[k].found.count; i++) {
      drover_live *l = lists[k].found.items[i];
      dv_node *d = l->stack ? find_node(set, ix, l->stack) : NULL;
      if(!d)
        continue; /* another stack's: left in the list, freed below */
      lists[k].found.items[i] = NULL;
      rc = give(d->stack, lists[k].type, l, err);
      if(rc)
        goto out;
    }
  }
  for(i = 0; i < set->n; i++) {
    set->nodes[i].stack->prelisted = 1;
    rc = drover_stack_refresh(set->nodes[i].stack, err);
    if(rc) {
      drover_error_locate(err, NULL, set->nodes[i].node);
      goto out;
    }
  }
  dv_log(set->host, DROVER_LOG_INFO, "nodes: refreshed %zu node stack(s) with %zu "
         "list call(s) in %.2fs", set->n, nlists, drover_now() - t0);
out:
  for(k = 0; lists && k < nlists; k++)
    drover_live_list_clear(&lists[k].found);
  free(lists);
  free(provs);
  free(ix);
  return rc;
}

/* "2026-11-30T10:01:02.123456789Z" (or with +hh:mm) -> Unix time; -1. */
static double parse_rfc3339(const char *s)
{
  struct tm tm;
  const char *p;
  time_t t;
  int off = 0;

  if(!s || !*s)
    return -1;
  memset(&tm, 0, sizeof(tm));
  p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if(!p)
    return -1;
  if(*p == '.')
    for(p++; *p >= '0' && *p <= '9'; p++)
      ;
  if(*p == '+' || *p == '-') {
    int hh, mm;
    if(sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
      return -1;
    off = (hh * 60 + mm) * 60 * (*p == '-' ? -1 : 1);
  }
  else if(*p != 'Z' && *p != 'z')
    return -1;
  t = timegm(&tm);
  if(t == (time_t)-1)
    return -1;
  /* LXD reports 0001-01-01 for "never": treat as unknown. */
  if(tm.tm_year < 70)
    return -1;
  return (double)t - off;
}

static void note_created(const drover_live *l, double *newest)
{
  const char *c = json_string_value(json_object_get(l->attributes, "created_at"));
  double t = parse_rfc3339(c);

  if(t >= 0 && t > *newest)
    *newest = t;
}

drover_code drover_nodeset_live(drover_node_live *out, drover_nodeset *set, size_t i,
                                drover_error *err)
{
  drover_stack *st;
  drover_plan *plan = NULL;
  double newest = -1;
  size_t k;
  drover_code rc = DROVER_OK;

  memset(out, 0, sizeof(*out));
  out->age = -1;
  if(!set || i >= set->n)
    return drover_error_set(err, DROVER_E_ARG, "nodes: no such node");
  st = set->nodes[i].stack;
  if(!st->refreshed)
    return drover_error_set(err, DROVER_E_ARG, "nodes: %s: not refreshed",
                            set->nodes[i].node);
  for(k = 0; k < st->ninsts; k++)
    if(st->insts[k].live) {
      out->objects++;
      note_created(st->insts[k].live, &newest);
    }
  for(k = 0; k < st->orphans.count; k++) {
    out->objects++;
    note_created(st->orphans.items[k], &newest);
  }
  if(newest >= 0)
    out->age = difftime(time(NULL), (time_t)newest);
  if(out->objects && st->ninsts) {
    rc = drover_plan_new(&plan, st, 0, err);
    if(rc)
      return rc;
    out->complete = drover_plan_changes(plan) == 0;
    drover_plan_free(plan);
  }
  return DROVER_OK;
}

/* ------------------------------------------------------------------------
 * Apply: every selected node in parallel, rate limited
 */

typedef struct run {
  drover_nodeset *set;
  const unsigned char *which;
  unsigned plan_flags;
  drover_nodeset_opts o;
  atomic_size_t next;
  pthread_mutex_t mu;      /* rate limiter and the done callback */
  double next_start;       /* monotonic time the next node may start */
} run;

/* Waits for the rate limiter's slot (a pacing delay, not a sync). */
static void pace(run *r)
{
  double at, now;
  struct timespec ts;

  if(r->o.rate <= 0)
    return;
  pthread_mutex_lock(&r->mu);
  now = drover_now();
  at = r->next_start > now ? r->next_start : now;
  r->next_start = at + 1.0 / r->o.rate;
  pthread_mutex_unlock(&r->mu);
  while((now = drover_now()) < at) {
    double d = at - now;
    ts.tv_sec = (time_t)d;
    ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
    if(nanosleep(&ts, NULL) && errno != EINTR)
      break;
  }
}

static void one_node(run *r, dv_node *d)
{
  drover_stack *st = d->stack;
  drover_plan *plan = NULL;
  drover_code rc;

  drover_error_clear(&d->err);
  memset(&d->res, 0, sizeof(d->res));
  rc = drover_stack_lock(st, 0, &d->err);
  if(rc == DROVER_E_LOCKED && r->o.lock_wait > 0) {
    /* Someone (a resume still running, the repair loop) works on this
     * node: wait, then read its state again, for it may have changed. */
    drover_error_clear(&d->err);
    rc = drover_stack_lock(st, r->o.lock_wait, &d->err);
    if(!rc)
      rc = drover_stack_refresh(st, &d->err);
  }
  else if(!rc && !st->refreshed)
    rc = drover_stack_refresh(st, &d->err);
  if(rc)
    goto out;
  pace(r);
  rc = drover_plan_new(&plan, st, r->plan_flags, &d->err);
  if(rc || !drover_plan_changes(plan))
    goto out;
  rc = drover_apply(plan, &r->o.apply, &d->res, &d->err);
out:
  drover_plan_free(plan);
  if(st->gather)
    dv_gather_leave(st->gather);
  drover_stack_unlock(st);
  if(rc)
    drover_error_locate(&d->err, NULL, d->node);
  d->rc = rc;
  if(r->o.done) {
    pthread_mutex_lock(&r->mu);
    r->o.done(r->o.userdata, (size_t)(d - r->set->nodes), rc, &d->err);
    pthread_mutex_unlock(&r->mu);
  }
}

static void *apply_worker(void *arg)
{
  run *r = arg;
  size_t i;

  while((i = atomic_fetch_add(&r->next, 1)) < r->set->n) {
    if(r->which && !r->which[i])
      continue;
    one_node(r, &r->set->nodes[i]);
  }
  return NULL;
}

drover_code drover_nodeset_apply(drover_nodeset *set, const unsigned char *which,
                                 unsigned plan_flags, const drover_nodeset_opts *o,
                                 drover_error *err)
{
  drover_nodeset_opts defo = DROVER_NODESET_OPTS_INIT;
  dv_gather *gather = NULL;
  pthread_t *threads = NULL;
  size_t i, want = 0, nodes, started = 0, failed = 0, first = (size_t)-1;
  run r;

  if(!set)
    return drover_error_set(err, DROVER_E_ARG, "nodes: no set");
  memset(&r, 0, sizeof(r));
  r.set = set;
  r.which = which;
  r.plan_flags = plan_flags;
  r.o = o ? *o : defo;
  if(!r.o.parallelism)
    r.o.parallelism = 16;
  /* Few resources per node: one apply thread each is plenty. */
  if(!r.o.apply.parallelism)
    r.o.apply.parallelism = 4;
  atomic_init(&r.next, 0);
  if(pthread_mutex_init(&r.mu, NULL))
    return drover_error_set(err, DROVER_E_INTERNAL, "nodes: cannot create a lock");
  for(i = 0; i < set->n; i++)
    if(!which || which[i])
      want++;
  nodes = want;
  if(want > r.o.parallelism)
    want = r.o.parallelism;
  if(want > 1)
    threads = calloc(want, sizeof(*threads));
  /* Nodes being destroyed (a suspend, a failed resume's cleanup) share
   * one gather, so the deletes of the nodes under way (up to one per
   * worker) go to the provider together: a suspend of N nodes is
   * N / parallelism TerminateInstances, not N. Without it, per node. */
  if((plan_flags & DROVER_PLAN_DESTROY) && want > 1 && threads) {
    gather = dv_gather_new(nodes, want);
    for(i = 0; gather && i < set->n; i++)
      if(!which || which[i])
        set->nodes[i].stack->gather = gather;
  }
  for(i = 1; threads && i < want; i++) {
    if(pthread_create(&threads[started], NULL, apply_worker, &r))
      break;
    started++;
  }
  if(gather && started + 1 < want)
    dv_gather_workers(gather, started + 1);
  apply_worker(&r); /* the calling thread is one of the workers */
  for(i = 0; i < started; i++)
    pthread_join(threads[i], NULL);
  free(threads);
  pthread_mutex_destroy(&r.mu);
  for(i = 0; gather && i < set->n; i++)
    set->nodes[i].stack->gather = NULL;
  dv_gather_free(gather);
  for(i = 0; i < set->n; i++)
    if((!which || which[i]) && set->nodes[i].rc) {
      failed++;
      if(first == (size_t)-1)
        first = i;
    }
  if(failed) {
    if(err && !err->code)
      *err = set->nodes[first].err;
    return DROVER_E_PARTIAL;
  }
  return DROVER_OK;
}

drover_code drover_nodeset_result(const drover_nodeset *set, size_t i,
                                  drover_apply_result *res, drover_error *err)
{
  if(!set || i >= set->n)
    return drover_error_set(err, DROVER_E_ARG, "nodes: no such node");
  if(res)
    *res = set->nodes[i].res;
  if(set->nodes[i].rc && err && !err->code)
    *err = set->nodes[i].err;
  return set->nodes[i].rc;
}
