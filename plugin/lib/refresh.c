/* refresh.c - refresh: one bulk list per resource type, live objects
 * matched to instances by their address label, everything else labelled
 * with the stack is an orphan. The providers it lists through are
 * instantiated by stack_providers.c.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"

/* Most list calls refresh runs at once (one per provider and type). */
#define REFRESH_MAX_THREADS 8

/* ------------------------------------------------------------------------
 * What the last refresh attached to a stack
 */

static void clear_live(drover_stack *stack)
{
  size_t i;

  for(i = 0; i < stack->ninsts; i++) {
    drover_live_free(stack->insts[i].live);
    stack->insts[i].live = NULL;
  }
  drover_live_list_clear(&stack->orphans);
  free(stack->orphan_types);
  stack->orphan_types = NULL;
  stack->orphan_cap = 0;
  drover_live_list_clear(&stack->copies);
  free(stack->copy_types);
  stack->copy_types = NULL;
  stack->copy_cap = 0;
  stack->refreshed = 0;
}

/* Appends live (owned, also on failure) to list, and its type to the
 * parallel array *types of capacity *cap. The types grow with the list's
 * own capacity (doubling), so n objects cost O(n), not a realloc each. */
static drover_code add_typed(drover_live_list *list, const drover_rtype ***types,
                             size_t *cap, drover_live *live,
                             const drover_rtype *type, drover_error *err)
{
  drover_code rc;
  const drover_rtype **t;

  rc = drover_live_list_push(list, live);
  if(rc)
    return drover_error_set(err, rc, "refresh: out of memory");
  if(list->count > *cap) {
    size_t n = list->cap > list->count ? list->cap : list->count;
    t = realloc(*types, n * sizeof(*t));
    if(!t) {
      /* Keep the two arrays the same length: the live object goes. */
      drover_live_free(list->items[--list->count]);
      list->items[list->count] = NULL;
      return drover_error_set(err, DROVER_E_NOMEM, "refresh: out of memory");
    }
    *types = t;
    *cap = n;
  }
  (*types)[list->count - 1] = type;
  return DROVER_OK;
}

static drover_code add_orphan(drover_stack *stack, drover_live *live,
                              const drover_rtype *type, drover_error *err)
{
  return add_typed(&stack->orphans, &stack->orphan_types, &stack->orphan_cap, live,
                   type, err);
}

/* An extra claimant of an address: kept, shown, never acted on. */
static drover_code add_copy(drover_stack *stack, drover_live *live,
                            const drover_rtype *type, drover_error *err)
{
  dv_log(stack, DROVER_LOG_WARN, "refresh: %s: \"%s\" carries its labels but is not "
         "the object drover made (a copy?); it is left alone",
         live->address ? live->address : "?", live->name ? live->name : "?");
  return add_typed(&stack->copies, &stack->copy_types, &stack->copy_cap, live,
                   type, err);
}

/* ------------------------------------------------------------------------
 * Refresh
 */

typedef struct addr_ix {
  const char *address;
  size_t inst;
} addr_ix;

static int addr_cmp(const void *a, const void *b)
{
  return strcmp(((const addr_ix *)a)->address, ((const addr_ix *)b)->address);
}

static const dv_block *inst_block(const drover_stack *stack, const dv_inst *inst)
{
  return &stack->tpl->blocks[inst->block];
}

/* Whether type's objects are told apart by the names drover gives them.
 * Not so where the cloud assigns IDs: there the labels alone say whose
 * an object is, and the copy rules below, which go by name, do not apply. */
static int named_by_drover(const drover_rtype *type)
{
  const drover_provider *p = NULL;

  return !type || !dv_rtype_find(type->name, &p) ||
         !(dv_rtype_flags(p, type) & DROVER_RTYPE_SERVER_ID);
}

/* Attaches one listed object (owned) to its inst or to the orphans. */
static drover_code place(drover_stack *stack, const addr_ix *ix, size_t nix,
                         drover_live *live, const drover_rtype *type,
                         drover_error *err)
{
  addr_ix key, *hit = NULL;
  dv_inst *inst;

  if(live->address && nix) { /* bsearch wants a non-NULL base even for 0 */
    key.address = live->address;
    hit = bsearch(&key, ix, nix, sizeof(*ix), addr_cmp);
  }
  if(!hit)
    return add_orphan(stack, live, type, err);
  inst = &stack->insts[hit->inst];
  if(inst_block(stack, inst)->rtype != type)
    return add_orphan(stack, live, type, err);
  if(dv_live_fill_id(inst_block(stack, inst)->provider, type, live)) {
    drover_live_free(live);
    return drover_error_set(err, DROVER_E_NOMEM, "refresh: out of memory");
  }
  if(!inst->live) {
    /* Alone but under another name than drover gives it, where the name
     * is drover's own choice (no "name" property): a copy whose original
     * is gone. Replacing it would destroy it; create the real one. */
    if(live->name && !json_object_get(inst->desired, "name") && named_by_drover(type) &&
       !dv_owns_name(live->name, inst->name))
      return add_copy(stack, live, type, err);
    inst->live = live;
    return DROVER_OK;
  }
  /* Two objects claim one address. For name-chosen types the owner is the
   * one under the instance's own name (or drover's create_before_destroy
   * variant of it): `lxc copy web-0 web-copy` keeps the labels but not the
   * name. Only when both carry drover's names (a replacement interrupted
   * between create and delete) is the one not built from the current
   * desired state drover's own leftover, deleted as an orphan. */
  {
    int by_name = named_by_drover(type);
    int old_owns = !by_name || dv_owns_name(inst->live->name, inst->name);
    int new_owns = !by_name || dv_owns_name(live->name, inst->name);
    int new_wins = inst->hash[0] && live->hash && !strcmp(live->hash, inst->hash) &&
                   !(inst->live->hash && !strcmp(inst->live->hash, inst->hash));
    drover_live *loser;

    if(old_owns != new_owns)
      new_wins = new_owns;
    if(new_wins) {
      loser = inst->live;
      inst->live = live;
    }
    else
      loser = live;
    if(old_owns && new_owns) {
      dv_log(stack, DROVER_LOG_WARN, "refresh: %s: two of drover's objects claim it "
             "(%s, %s); the older is deleted", inst->address,
             inst->live->name ? inst->live->name : "?", loser->name ? loser->name : "?");
      return add_orphan(stack, loser, type, err);
    }
    return add_copy(stack, loser, type, err);
  }
}

/* Among orphans (sorted) that claim one address, those not under drover's
 * own name for it are copies: moved to the copies, never deleted. When no
 * claimant has that name (an explicit "name" that is no longer in the
 * template), the original cannot be told from the copies, and every one
 * of them is kept. */
static drover_code sift_orphan_copies(drover_stack *stack, drover_error *err)
{
  drover_live_list *o = &stack->orphans;
  size_t i = 0, j, k, w;
  drover_code rc = DROVER_OK;
  unsigned char *copy = calloc(o->count ? o->count : 1, 1);

  if(!copy)
    return drover_error_set(err, DROVER_E_NOMEM, "refresh: out of memory");
  while(i < o->count) {
    const char *a = o->items[i]->address;
    char *own = NULL;
    int owned = 0;
    for(j = i + 1; a && j < o->count && o->items[j]->address &&
                   !strcmp(o->items[j]->address, a) &&
                   stack->orphan_types[j] == stack->orphan_types[i]; j++)
      ;
    if(!a || j == i + 1 || !named_by_drover(stack->orphan_types[i])) {
      i = a ? j : i + 1;
      continue;
    }
    own = dv_default_name(stack->name, a);
    if(!own) {
      rc = drover_error_set(err, DROVER_E_NOMEM, "refresh: out of memory");
      goto out;
    }
    for(k = i; k < j; k++)
      owned |= dv_owns_name(o->items[k]->name, own);
    for(k = i; k < j; k++)
      copy[k] = !owned || !dv_owns_name(o->items[k]->name, own);
    free(own);
    i = j;
  }
  for(i = 0, w = 0; i < o->count; i++) {
    if(!copy[i]) {
      o->items[w] = o->items[i];
      stack->orphan_types[w++] = stack->orphan_types[i];
      continue;
    }
    rc = add_copy(stack, o->items[i], stack->orphan_types[i], err);
    o->items[i] = NULL;
    if(rc) {
      /* Keep the list whole: what is left stays an orphan entry. */
      for(k = i + 1; k < o->count; k++) {
        o->items[w] = o->items[k];
        stack->orphan_types[w++] = stack->orphan_types[k];
      }
      break;
    }
  }
  o->count = w;
out:
  free(copy);
  return rc;
}

/* Objects sorted by address then name (types kept parallel), so plans
 * are deterministic; equal ones keep the order they were listed in. */
typedef struct typed_ent {
  drover_live *live;
  const drover_rtype *type;
  size_t pos;
} typed_ent;

static int typed_cmp(const void *a, const void *b)
{
  const typed_ent *x = a, *y = b;
  int c = strcmp(x->live->address ? x->live->address : "",
                 y->live->address ? y->live->address : "");

  if(!c)
    c = strcmp(x->live->name ? x->live->name : "", y->live->name ? y->live->name : "");
  if(!c)
    c = x->pos < y->pos ? -1 : x->pos > y->pos;
  return c;
}

static drover_code sort_typed(drover_live_list *list, const drover_rtype **types,
                              drover_error *err)
{
  size_t i, n = list->count;
  typed_ent *v;

  if(n < 2)
    return DROVER_OK;
  v = malloc(n * sizeof(*v));
  if(!v)
    return drover_error_set(err, DROVER_E_NOMEM, "refresh: out of memory");
  for(i = 0; i < n; i++) {
    v[i].live = list->items[i];
    v[i].type = types[i];
    v[i].pos = i;
  }
  qsort(v, n, sizeof(*v), typed_cmp);
  for(i = 0; i < n; i++) {
    list->items[i] = v[i].live;
    types[i] = v[i].type;
  }
  free(v);
  return DROVER_OK;
}

/* One bulk list: a provider's objects of one type. Filled by a worker;
 * read by refresh after every worker has been joined. */
typedef struct list_job {
  const drover_provider *vt;
  void *state;                 /* the provider's, shared (thread safe by contract) */
  const drover_rtype *type;
  drover_live_list found;      /* owned */
  drover_error err;
  drover_code rc;
  int given;                   /* found came from the stack's prelist */
} list_job;

typedef struct list_run {
  list_job *jobs;
  size_t njobs;
  atomic_size_t next;          /* next job a worker takes */
  const char *stack;
} list_run;

static void run_job(list_job *j, const char *stack)
{
  if(j->given)
    return;
  drover_error_clear(&j->err);
  j->rc = j->vt->list(j->state, j->type, stack, &j->found, &j->err);
  if(j->rc) {
    if(!j->err.code)
      drover_error_set(&j->err, j->rc, "%s: listing %s failed", j->vt->name,
                       j->type->name);
    drover_error_locate(&j->err, j->vt->name, NULL);
  }
}

static void *list_worker(void *arg)
{
  list_run *r = arg;
  size_t i;

  while((i = atomic_fetch_add(&r->next, 1)) < r->njobs)
    run_job(&r->jobs[i], r->stack);
  return NULL;
}

/* Runs every job, up to REFRESH_MAX_THREADS at once, so a refresh costs
 * about the slowest list rather than the sum of all of them. Without
 * threads to be had, the calling thread does the work. */
static void run_jobs(list_job *jobs, size_t njobs, const char *stack)
{
  pthread_t threads[REFRESH_MAX_THREADS];
  list_run r;
  size_t i, want, started = 0;

  r.jobs = jobs;
  r.njobs = njobs;
  r.stack = stack;
  atomic_init(&r.next, 0);
  want = njobs < REFRESH_MAX_THREADS ? njobs : REFRESH_MAX_THREADS;
  /* The calling thread is one of the workers. */
  for(i = 1; i < want; i++) {
    if(pthread_create(&threads[started], NULL, list_worker, &r))
      break;
    started++;
  }
  list_worker(&r);
  for(i = 0; i < started; i++)
    pthread_join(threads[i], NULL);
}

/* What the cloud reports (server-assigned attributes) may resolve
 * references that were unknown when the stack was opened, and what apply
 * created may answer them differently. Blocks are evaluated again, in
 * dependency order, only where that can change something: an instance
 * whose last evaluation read an applied or live attribute (or one not
 * known yet), or a block depending on a block that changed now or holds
 * applied objects. The rest read only templates, params and other
 * blocks' unchanged properties. */
static drover_code reevaluate(drover_stack *stack, drover_error *err)
{
  const drover_template *tpl = stack->tpl;
  unsigned char *changed = NULL, *applied = NULL;
  size_t i, j, k;
  drover_code rc = DROVER_OK;

  if(!tpl || !stack->topo || !tpl->nblocks)
    return DROVER_OK;
  changed = calloc(tpl->nblocks, 1);
  applied = calloc(tpl->nblocks, 1);
  if(!changed || !applied) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "refresh: out of memory");
    goto out;
  }
  for(i = 0; i < stack->ninsts; i++)
    if(stack->insts[i].applied)
      applied[stack->insts[i].block] = 1;
  for(i = 0; i < tpl->nblocks; i++) {
    size_t b = stack->topo[i], first = stack->block_first[b];
    int need = 0;
    for(j = 0; j < stack->block_ndeps[b] && !need; j++)
      need = changed[stack->block_deps[b][j]] || applied[stack->block_deps[b][j]];
    for(k = 0; k < stack->block_ninst[b] && !need; k++)
      need = stack->insts[first + k].runtime_refs;
    if(!need)
      continue;
    for(k = 0; k < stack->block_ninst[b]; k++) {
      rc = dv_stack_eval_inst(stack, &stack->insts[first + k], err);
      if(rc)
        goto out;
      if(stack->insts[first + k].eval_changed)
        changed[b] = 1;
    }
  }
out:
  free(changed);
  free(applied);
  return rc;
}

drover_code drover_stack_refresh(drover_stack *stack, drover_error *err)
{
  drover_code rc = DROVER_OK;
  const drover_provider **provs = NULL;
  list_job *jobs = NULL;
  addr_ix *ix = NULL;
  size_t nprovs = 0, njobs = 0, i, j, t, k, total = 0;
  double t0 = drover_now();

  if(!stack)
    return drover_error_set(err, DROVER_E_ARG, "refresh: no stack");
  clear_live(stack);
  stack->refresh_gen++; /* plans made before now point at freed live objects */
  if(stack->ninsts) {
    ix = calloc(stack->ninsts, sizeof(*ix));
    if(!ix) {
      rc = drover_error_set(err, DROVER_E_NOMEM, "refresh: out of memory");
      goto out;
    }
    for(i = 0; i < stack->ninsts; i++) {
      ix[i].address = stack->insts[i].address;
      ix[i].inst = i;
    }
    qsort(ix, stack->ninsts, sizeof(*ix), addr_cmp);
  }
  rc = dv_stack_providers_up(&provs, &nprovs, stack, err);
  if(rc)
    goto out;
  for(i = 0; i < nprovs; i++)
    for(t = 0; provs[i]->types[t]; t++)
      njobs++;
  jobs = calloc(njobs ? njobs : 1, sizeof(*jobs));
  if(!jobs) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "refresh: out of memory");
    goto out;
  }
  for(i = 0, j = 0; i < nprovs; i++) {
    dv_pinst *p;
    rc = dv_stack_provider(&p, stack, provs[i], err); /* found, no init */
    if(rc)
      goto out;
    for(t = 0; provs[i]->types[t]; t++, j++) {
      jobs[j].vt = provs[i];
      jobs[j].state = p->state;
      jobs[j].type = provs[i]->types[t];
    }
  }
  /* Listed already for many node stacks at once (nodes.c): take it. */
  for(j = 0; stack->prelisted && j < njobs; j++) {
    jobs[j].given = 1;
    for(k = 0; k < stack->nprelist; k++)
      if(stack->prelist[k].type == jobs[j].type) {
        jobs[j].found = stack->prelist[k].found;
        memset(&stack->prelist[k].found, 0, sizeof(stack->prelist[k].found));
      }
  }
  dv_stack_prelist_clear(stack);
  run_jobs(jobs, njobs, stack->name);
  /* Results are placed in provider and type order, whichever list
   * finished first, so plans and the first error are deterministic. */
  for(j = 0; j < njobs; j++) {
    if(jobs[j].rc) {
      if(err && !err->code)
        *err = jobs[j].err;
      rc = jobs[j].rc;
      goto out;
    }
  }
  for(j = 0; j < njobs; j++) {
    drover_live_list *found = &jobs[j].found;
    for(k = 0; k < found->count; k++) {
      drover_live *l = found->items[k];
      found->items[k] = NULL;
      /* A provider may list more than asked; keep only this stack's. */
      if(l->stack && strcmp(l->stack, stack->name)) {
        drover_live_free(l);
        continue;
      }
      total++;
      rc = place(stack, ix, stack->ninsts, l, jobs[j].type, err);
      if(rc)
        goto out;
    }
  }
  rc = sort_typed(&stack->orphans, stack->orphan_types, err);
  if(rc)
    goto out;
  rc = sift_orphan_copies(stack, err);
  if(rc)
    goto out;
  rc = sort_typed(&stack->copies, stack->copy_types, err);
  if(rc)
    goto out;
  /* Values that were sensitive, as read back from the cloud (old ones
   * too), are redacted from every later log line and error. */
  dv_stack_register_secrets(stack);
  rc = reevaluate(stack, err);
  if(rc)
    goto out;
  stack->refreshed = 1;
  dv_log(stack, DROVER_LOG_INFO, "refresh: stack \"%s\": %zu live object(s), "
         "%zu orphan(s), %zu copies in %.2fs", stack->name, total,
         stack->orphans.count, stack->copies.count, drover_now() - t0);
out:
  for(j = 0; jobs && j < njobs; j++)
    drover_live_list_clear(&jobs[j].found);
  free(jobs);
  free(provs);
  free(ix);
  return rc;
}

/* ------------------------------------------------------------------------
 * show / stacks list
 */

/* b: the template block of l (NULL for an orphan), whose sensitive
 * pointers are redacted along with the object's own label's. */
static json_t *live_json(const drover_live *l, const char *type, int orphan,
                         const dv_block *b)
{
  json_t *props = l->properties ? dv_props_display(l->properties, b, l->sensitive)
                                : json_null();

  if(!props)
    return NULL;
  return json_pack("{s:s?, s:s, s:s?, s:s?, s:s?, s:o, s:b}",
                   "address", l->address, "type", type, "name", l->name,
                   "hash", l->hash, "status", l->status,
                   "properties", props, "orphan", orphan);
}

drover_code drover_stack_show_json(char **out, const drover_stack *stack,
                                   drover_error *err)
{
  drover_code rc = DROVER_OK;
  json_t *arr = json_array();
  size_t i;

  *out = NULL;
  if(!arr)
    return drover_error_set(err, DROVER_E_NOMEM, "show: out of memory");
  for(i = 0; i < stack->ninsts; i++) {
    const dv_inst *inst = &stack->insts[i];
    if(!inst->live)
      continue;
    if(json_array_append_new(arr, live_json(inst->live,
                                            inst_block(stack, inst)->type_name, 0,
                                            inst_block(stack, inst))))
      goto nomem;
  }
  for(i = 0; i < stack->orphans.count; i++)
    if(json_array_append_new(arr, live_json(stack->orphans.items[i],
                                            stack->orphan_types[i]->name, 1, NULL)))
      goto nomem;
  for(i = 0; i < stack->copies.count; i++) {
    /* A copy keeps the original's labels, its sensitive label too. */
    json_t *c = live_json(stack->copies.items[i], stack->copy_types[i]->name, 0, NULL);
    if(!c || json_object_set_new(c, "copy", json_true()) ||
       json_array_append_new(arr, c))
      goto nomem;
  }
  *out = json_dumps(arr, JSON_INDENT(2) | JSON_SORT_KEYS);
  if(!*out)
    goto nomem;
  goto out;
nomem:
  rc = drover_error_set(err, DROVER_E_NOMEM, "show: out of memory");
out:
  json_decref(arr);
  return rc;
}

static int str_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

drover_code drover_stacks_list(char ***names, const char *providers_json,
                               const drover_options *opts, drover_error *err)
{
  drover_code rc = DROVER_OK;
  drover_options defopts = DROVER_OPTIONS_INIT;
  drover_provider_env env;
  json_t *provs = NULL, *val;
  json_error_t jerr;
  drover_live_list found = {NULL, 0, 0};
  dv_pinst p;
  dv_index seen = {NULL, 0, 0}; /* stack name -> index into v */
  char **v = NULL, *all = NULL;
  size_t n = 0, cap = 0, i, t;
  const char *key;

  *names = NULL;
  if(!opts)
    opts = &defopts;
  memset(&p, 0, sizeof(p));
  memset(&env, 0, sizeof(env));
  env.log = opts->log;
  env.log_userdata = opts->log_userdata;
  env.user_agent = "drover/" DROVER_VERSION;
  /* No providers named: every provider may hold labelled objects. */
  if(!providers_json) {
    rc = dv_providers_all_json(&all, err);
    if(rc)
      goto out;
    providers_json = all;
  }
  provs = json_loads(providers_json, JSON_REJECT_DUPLICATES, &jerr);
  if(!json_is_object(provs)) {
    rc = drover_error_set(err, DROVER_E_ARG, "stacks: providers must be a JSON object");
    goto out;
  }
  json_object_foreach(provs, key, val) {
    const drover_provider *vt = dv_provider_find(key);
    (void)val;
    if(!vt) {
      rc = drover_error_set(err, DROVER_E_CONFIG, "stacks: unknown provider \"%s\"", key);
      goto out;
    }
    {
      drover_error why;
      drover_error_clear(&why);
      rc = dv_pinst_init(&p, vt, provs, opts, &env, &why);
      if(rc && all && dv_provider_skip_unset(vt, opts, &why)) {
        rc = DROVER_OK;
        continue;
      }
      if(rc) {
        if(err && !err->code)
          *err = why;
        goto out;
      }
    }
    for(t = 0; vt->types[t]; t++) {
      rc = vt->list(p.state, vt->types[t], NULL, &found, err);
      if(rc) {
        drover_error_locate(err, vt->name, NULL);
        goto out;
      }
      for(i = 0; i < found.count; i++) {
        const char *s = found.items[i]->stack;
        if(!s || dv_index_get(&seen, s) != (size_t)-1)
          continue;
        if(n + 2 > cap) {
          char **g;
          cap = cap ? cap * 2 : 16;
          g = realloc(v, cap * sizeof(*g));
          if(!g) {
            rc = drover_error_set(err, DROVER_E_NOMEM, "stacks: out of memory");
            goto out;
          }
          v = g;
        }
        v[n] = dv_strdup(s);
        if(!v[n] || dv_index_put(&seen, v[n], n)) {
          free(v[n]);
          v[n] = NULL;
          rc = drover_error_set(err, DROVER_E_NOMEM, "stacks: out of memory");
          goto out;
        }
        v[++n] = NULL;
      }
      drover_live_list_clear(&found);
    }
    dv_pinst_release(&p);
  }
  if(!v) {
    v = calloc(1, sizeof(*v));
    if(!v) {
      rc = drover_error_set(err, DROVER_E_NOMEM, "stacks: out of memory");
      goto out;
    }
  }
  qsort(v, n, sizeof(*v), str_cmp);
  *names = v;
  v = NULL;
out:
  dv_index_free(&seen);
  dv_pinst_release(&p);
  drover_live_list_clear(&found);
  drover_strv_free(v);
  json_decref(provs);
  free(all);
  return rc;
}

void drover_strv_free(char **v)
{
  size_t i;

  if(!v)
    return;
  for(i = 0; v[i]; i++)
    free(v[i]);
  free(v);
}
