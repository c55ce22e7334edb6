/* stack.c - a template bound to vars: params, count expansion, names,
 * the dependency graph and the desired properties of every instance.
 *
 * drover_stack_open() touches no cloud. It runs, in order:
 *   1. bind vars to params (convert, check constraints, register secrets);
 *   2. evaluate every count (params only) and expand instances;
 *   3. build the block graph from references and depends_on, check index
 *      ranges, reject cycles, order the blocks topologically;
 *   4. evaluate each instance's desired properties in that order.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine.h"

/* Per block: a guard against a mistyped count, not a limit of the engine
 * (doc/dev/engine-scale.md: memory per resource). The environment
 * variable DROVER_MAX_COUNT sets another, up to COUNT_LIMIT_CAP. */
#define MAX_COUNT 100000
#define COUNT_LIMIT_CAP 100000000
#define NAME_MAX_LEN 63

static drover_code nomem(drover_error *err)
{
  return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
}

/* ------------------------------------------------------------------------
 * Names
 */

char *dv_default_name(const char *stack, const char *address)
{
  char *raw = dv_aprintf("%s-%s", stack ? stack : "", address ? address : "");
  char *out, *full = NULL;
  size_t i, o = 0;

  if(!raw)
    return NULL;
  out = malloc(strlen(raw) + 2);
  if(!out) {
    free(raw);
    return NULL;
  }
  for(i = 0; raw[i]; i++) {
    char c = raw[i];
    if(c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if(!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
      c = '-';
    if(c == '-' && (o == 0 || out[o - 1] == '-'))
      continue; /* no leading or doubled dashes */
    if(o == 0 && !(c >= 'a' && c <= 'z'))
      out[o++] = 'd'; /* must start with a letter */
    out[o++] = c;
  }
  while(o > 0 && out[o - 1] == '-')
    o--;
  if(o == 0)
    out[o++] = 'd';
  out[o] = '\0';
  if(o > NAME_MAX_LEN) {
    /* Cut and add a hash of the unmodified stack and address, so two long
     * names sharing a prefix stay distinct. */
    char hash[17];
    json_t *s;
    full = dv_aprintf("%s\n%s", stack ? stack : "", address ? address : "");
    s = full ? json_string(full) : NULL;
    if(!s || dv_hash_json(hash, s)) {
      json_decref(s);
      free(full);
      free(raw);
      free(out);
      return NULL;
    }
    json_decref(s);
    o = NAME_MAX_LEN - 9;
    while(o > 0 && out[o - 1] == '-')
      o--;
    memcpy(out + o, "-", 1);
    memcpy(out + o + 1, hash, 8);
    out[o + 9] = '\0';
  }
  free(full);
  free(raw);
  return out;
}

/* A name drover itself gave a create_before_destroy replacement:
 * base + "-" + 6 hex digits (see apply.c). */
static int is_cbd_name(const char *live, const char *base)
{
  size_t bl = strlen(base), i;

  if(bl > DV_CBD_BASE_MAX)
    bl = DV_CBD_BASE_MAX; /* apply.c cuts the base so the name fits 63 */

  if(strncmp(live, base, bl) || live[bl] != '-' || strlen(live + bl + 1) != 6)
    return 0;
  for(i = bl + 1; live[i]; i++)
    if(!isxdigit((unsigned char)live[i]))
      return 0;
  return 1;
}

int dv_owns_name(const char *live_name, const char *name)
{
  return live_name && name && (!strcmp(live_name, name) || is_cbd_name(live_name, name));
}

static int stack_name_ok(const char *s)
{
  size_t i, n = strlen(s);

  if(n == 0 || n > NAME_MAX_LEN || !(s[0] >= 'a' && s[0] <= 'z'))
    return 0;
  for(i = 1; i < n; i++)
    if(!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
      return 0;
  return 1;
}

/* ------------------------------------------------------------------------
 * Params
 */

static const dv_param *param_find(const drover_template *tpl, const char *name)
{
  size_t i;

  for(i = 0; i < tpl->nparams; i++)
    if(!strcmp(tpl->params[i].name, name))
      return &tpl->params[i];
  return NULL;
}

/* "[+-]digits": what an integer var may look like (strtoll alone would
 * also take leading blanks). */
static int int_text(const char *s)
{
  if(*s == '+' || *s == '-')
    s++;
  if(!*s)
    return 0;
  for(; *s; s++)
    if(*s < '0' || *s > '9')
      return 0;
  return 1;
}

/* Decimal notation only: digits, sign, '.', exponent (strtod would also
 * take blanks, hex, "inf" and "nan"). */
static int decimal_text(const char *s)
{
  int digits = 0;

  for(; *s; s++) {
    if(*s >= '0' && *s <= '9')
      digits++;
    else if(!strchr("+-.eE", *s))
      return 0;
  }
  return digits > 0;
}

/* A var's string form converted to p's type; NULL with msg on failure. */
static json_t *convert_var(const dv_param *p, const char *s, char *msg, size_t size)
{
  const char *shown = p->sensitive ? "the value" : NULL;
  char *end;

  switch(p->type) {
  case DV_PARAM_STRING:
    return json_string(s);
  case DV_PARAM_INTEGER: {
    long long v;
    errno = 0;
    v = strtoll(s, &end, 10);
    if(int_text(s) && !*end && !errno)
      return json_integer((json_int_t)v);
    if(shown)
      snprintf(msg, size, "%s is not an integer", shown);
    else
      snprintf(msg, size, "\"%s\" is not an integer", s);
    return NULL;
  }
  case DV_PARAM_NUMBER: {
    double d;
    long long v;
    errno = 0;
    v = strtoll(s, &end, 10);
    if(int_text(s) && !*end && !errno)
      return json_integer((json_int_t)v);
    errno = 0;
    d = strtod(s, &end);
    if(decimal_text(s) && !*end && !errno && isfinite(d))
      return json_real(d);
    if(shown)
      snprintf(msg, size, "%s is not a number", shown);
    else
      snprintf(msg, size, "\"%s\" is not a number", s);
    return NULL;
  }
  case DV_PARAM_BOOLEAN:
    if(!strcmp(s, "true"))
      return json_true();
    if(!strcmp(s, "false"))
      return json_false();
    if(shown)
      snprintf(msg, size, "%s is not a boolean (use true or false)", shown);
    else
      snprintf(msg, size, "\"%s\" is not a boolean (use true or false)", s);
    return NULL;
  }
  return NULL;
}

static void register_secret(const json_t *v)
{
  char *text;

  if(json_is_string(v)) {
    dv_secret_add(json_string_value(v));
    return;
  }
  /* A sensitive boolean would blank "true" or "false" out of every
   * message; its uses are redacted by structure (sensitive.c). */
  if(json_is_boolean(v) || json_is_null(v))
    return;
  text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
  dv_secret_add(text);
  free(text);
}

static drover_code bind_params(drover_stack *st, const drover_vars *vars,
                               drover_error *err)
{
  const drover_template *tpl = st->tpl;
  const char *key;
  json_t *v;
  char msg[700];
  size_t i;

  st->params = json_object();
  if(!st->params)
    return nomem(err);
  if(vars && vars->values) {
    json_object_foreach(vars->values, key, v) {
      const char **names;
      const char *m;
      if(param_find(tpl, key))
        continue;
      names = calloc(tpl->nparams + 1, sizeof(*names));
      if(!names)
        return nomem(err);
      for(i = 0; i < tpl->nparams; i++)
        names[i] = tpl->params[i].name;
      m = dv_did_you_mean(key, names, tpl->nparams);
      if(m)
        snprintf(msg, sizeof(msg), " (did you mean \"%s\"?)", m);
      else if(!tpl->nparams)
        snprintf(msg, sizeof(msg), " (the template declares no params)");
      else
        msg[0] = '\0';
      free(names);
      return dv_tpl_error(err, tpl, "/params", 1, DROVER_E_PARAM, "unknown var \"%s\"%s",
                          key, msg);
    }
  }
  for(i = 0; i < tpl->nparams; i++) {
    const dv_param *p = &tpl->params[i];
    json_t *given = vars && vars->values ? json_object_get(vars->values, p->name) : NULL;
    json_t *val;
    char why[600];

    if(given && json_is_string(given) && p->type != DV_PARAM_STRING) {
      /* convert_var says why only when the text is bad; NULL with no
       * reason is the allocator. */
      why[0] = '\0';
      val = convert_var(p, json_string_value(given), why, sizeof(why));
      if(!val && !why[0])
        return nomem(err);
      if(!val)
        return dv_tpl_error(err, tpl, p->pointer, 1, DROVER_E_PARAM, "var \"%s\": %s",
                            p->name, why);
    }
    else if(given)
      val = json_deep_copy(given);
    else if(p->def)
      val = json_deep_copy(p->def);
    else
      return dv_tpl_error(err, tpl, p->pointer, 1, DROVER_E_PARAM,
                          "missing value for required param \"%s\"", p->name);
    if(!val)
      return nomem(err);
    if(p->sensitive)
      register_secret(val);
    if(given && dv_param_check(p, val, why, sizeof(why))) {
      json_decref(val);
      return dv_tpl_error(err, tpl, p->pointer, 1, DROVER_E_PARAM, "var \"%s\": %s",
                          p->name, why);
    }
    if(json_object_set_new(st->params, p->name, val))
      return nomem(err);
  }
  return DROVER_OK;
}

/* ------------------------------------------------------------------------
 * Count and instances
 */

/* The count limit: DROVER_MAX_COUNT when set, else MAX_COUNT. A value
 * that is not a whole number from 1 to COUNT_LIMIT_CAP is an error
 * rather than silently the default. */
static drover_code count_limit(long long *out, drover_error *err)
{
  const char *s = getenv("DROVER_MAX_COUNT");
  char *end;
  long long v;

  *out = MAX_COUNT;
  if(!s || !*s)
    return DROVER_OK;
  errno = 0;
  v = strtoll(s, &end, 10);
  if(!int_text(s) || *end || errno || v < 1 || v > COUNT_LIMIT_CAP)
    return drover_error_set(err, DROVER_E_ARG,
                            "DROVER_MAX_COUNT: \"%s\" is not a whole number from 1 to "
                            "%d", s, COUNT_LIMIT_CAP);
  *out = v;
  return DROVER_OK;
}

static drover_code eval_count(drover_stack *st, size_t bi, size_t *n, drover_error *err)
{
  const dv_block *b = &st->tpl->blocks[bi];
  json_t *v = NULL;
  char *p = NULL, *shown = NULL;
  drover_code rc = DROVER_OK;
  long long limit;

  *n = 1;
  if(!b->count)
    return DROVER_OK;
  rc = count_limit(&limit, err);
  if(rc)
    return rc;
  p = dv_ptr_join(b->pointer, "count");
  if(!p)
    return nomem(err);
  /* A scale policy's override replaces the template's count (scale.c). */
  v = st->counts ? json_incref(json_object_get(st->counts, b->name)) : NULL;
  if(!v)
    rc = dv_stack_eval_value(&v, st, b->count, -1, p, err);
  if(rc)
    goto out;
  if(!json_is_integer(v) || json_integer_value(v) < 0) {
    shown = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    rc = dv_tpl_error(err, st->tpl, p, 0, DROVER_E_PARAM,
                      "count of resource \"%s\" must be a non-negative integer, not %s",
                      b->name, shown ? shown : "that");
    goto out;
  }
  if(json_integer_value(v) > limit) {
    rc = dv_tpl_error(err, st->tpl, p, 0, DROVER_E_PARAM,
                      "count of resource \"%s\" is %" JSON_INTEGER_FORMAT
                      ", above the limit %lld",
                      b->name, json_integer_value(v), limit);
    goto out;
  }
  *n = (size_t)json_integer_value(v);
out:
  free(shown);
  free(p);
  json_decref(v);
  return rc;
}

/* Count overrides name blocks that have a count: anything else is the
 * caller's mistake, said before anything is planned. */
static drover_code bind_counts(drover_stack *st, const drover_vars *vars,
                               drover_error *err)
{
  const char *key;
  json_t *v;
  size_t b;

  if(!vars || !vars->counts || !json_object_size(vars->counts))
    return DROVER_OK;
  json_object_foreach(vars->counts, key, v) {
    b = dv_block_find(st->tpl, key);
    if(b == (size_t)-1 || !st->tpl->blocks[b].count)
      return drover_error_set(err, DROVER_E_ARG, "count override: \"%s\" is not a "
                              "resource with a count", key);
    if(!json_is_integer(v) || json_integer_value(v) < 0)
      return drover_error_set(err, DROVER_E_ARG, "count override of \"%s\" is not a "
                              "non-negative integer", key);
  }
  st->counts = json_deep_copy(vars->counts);
  return st->counts ? DROVER_OK : nomem(err);
}

static drover_code expand(drover_stack *st, drover_error *err)
{
  const drover_template *tpl = st->tpl;
  size_t bi, k, total = 0;
  drover_code rc;

  st->block_first = calloc(tpl->nblocks + 1, sizeof(size_t));
  st->block_ninst = calloc(tpl->nblocks + 1, sizeof(size_t));
  if(!st->block_first || !st->block_ninst)
    return nomem(err);
  for(bi = 0; bi < tpl->nblocks; bi++) {
    rc = eval_count(st, bi, &st->block_ninst[bi], err);
    if(rc)
      return rc;
    st->block_first[bi] = total;
    total += st->block_ninst[bi];
  }
  st->insts = calloc(total + 1, sizeof(*st->insts));
  if(!st->insts)
    return nomem(err);
  for(bi = 0; bi < tpl->nblocks; bi++) {
    const dv_block *b = &tpl->blocks[bi];
    for(k = 0; k < st->block_ninst[bi]; k++) {
      dv_inst *in = &st->insts[st->ninsts++];
      in->block = bi;
      in->index = b->count ? (int)k : -1;
      /* Without count the address is the block's name: borrowed (the
       * template outlives its stacks), one string less per resource. */
      in->address = b->count ? dv_aprintf("%s[%zu]", b->name, k) : b->name;
      in->name = in->address ? dv_default_name(st->name, in->address) : NULL;
      in->name_is_default = 1;
      if(!in->address || !in->name)
        return nomem(err);
    }
  }
  return DROVER_OK;
}

/* ------------------------------------------------------------------------
 * Graph
 */

typedef struct graph_ctx {
  drover_stack *st;
  size_t *deps;        /* blocks referenced so far; NULL when only checking */
  size_t n, cap;
} graph_ctx;

static drover_code graph_push(graph_ctx *g, size_t b)
{
  if(g->n == g->cap) {
    size_t cap = g->cap ? 2 * g->cap : 8;
    size_t *grown = realloc(g->deps, cap * sizeof(*grown));
    if(!grown)
      return DROVER_E_NOMEM;
    g->deps = grown;
    g->cap = cap;
  }
  g->deps[g->n++] = b;
  return DROVER_OK;
}

static drover_code graph_ref(void *ud, const dv_ref *ref, const char *pointer,
                             drover_error *err)
{
  graph_ctx *g = ud;
  size_t b;

  if(ref->kind != DV_REF_RESOURCE)
    return DROVER_OK;
  b = dv_block_find(g->st->tpl, ref->name);
  if(b == (size_t)-1) /* dv_refs_check rejected it at load */
    return dv_tpl_error(err, g->st->tpl, pointer, 0, DROVER_E_REFERENCE,
                        "unknown resource \"%s\" in reference \"%s\"", ref->name,
                        ref->text);
  if(ref->index >= 0 && (size_t)ref->index >= g->st->block_ninst[b])
    return dv_tpl_error(err, g->st->tpl, pointer, 0, DROVER_E_REFERENCE,
                        "index %ld out of range in \"%s\": resource \"%s\" has count "
                        "%zu",
                        ref->index, ref->text, ref->name, g->st->block_ninst[b]);
  if(g->cap != (size_t)-1 && graph_push(g, b))
    return nomem(err);
  return DROVER_OK;
}

/* Pushes the blocks b's properties reference, from the list load kept.
 * An index out of range is reported by walking the properties as written,
 * so the message names the reference and its place. */
static drover_code block_refs(graph_ctx *g, const dv_block *b, drover_error *err)
{
  json_t *props = NULL;
  char *p = NULL;
  drover_code rc;
  size_t i;

  for(i = 0; i < b->nrefs; i++) {
    const dv_bref *r = &b->refs[i];
    if(r->block == (size_t)-1 ||
       (r->index >= 0 && (size_t)r->index >= g->st->block_ninst[r->block]))
      break;
    if(graph_push(g, r->block))
      return nomem(err);
  }
  if(i == b->nrefs)
    return DROVER_OK;
  rc = dv_block_properties(g->st->tpl, b, &props);
  if(!rc && !(p = dv_ptr_join(b->pointer, "properties")))
    rc = DROVER_E_NOMEM;
  if(rc) {
    rc = nomem(err);
    goto out;
  }
  g->n = 0;
  rc = dv_refs_each(g->st->tpl, props, p, graph_ref, g, err);
out:
  free(p);
  json_decref(props);
  return rc;
}

static int size_cmp(const void *a, const void *b)
{
  size_t x = *(const size_t *)a, y = *(const size_t *)b;

  return x < y ? -1 : x > y;
}

/* The cycle path[k..depth] closed by an edge back to d (path[k] == d),
 * reported from the member declared first so the message does not depend
 * on where the search entered the cycle. */
static drover_code cycle_error(const drover_stack *st, const size_t *path, size_t depth,
                               size_t d, drover_error *err)
{
  const drover_template *tpl = st->tpl;
  size_t k = 0, first = 0, len, j, o;
  char msg[DROVER_ERROR_TEXT];

  while(path[k] != d)
    k++;
  len = depth - k + 1;
  for(j = 1; j < len; j++)
    if(path[k + j] < path[k + first])
      first = j;
  o = (size_t)snprintf(msg, sizeof(msg), "dependency cycle: ");
  for(j = 0; j <= len && o < sizeof(msg); j++)
    o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s%s", j ? " -> " : "",
                          tpl->blocks[path[k + (first + j) % len]].name);
  return dv_tpl_error(err, tpl, tpl->blocks[path[k + first]].pointer, 1, DROVER_E_CYCLE,
                      "%s", msg);
}

/* Depth-first from every block in declaration order, appending blocks to
 * topo in post-order. Iterative (a chain of 100,000 blocks would be as
 * deep a recursion); path/next hold the grey chain and where each of its
 * members is in its dependency list. */
static drover_code topo_sort(drover_stack *st, unsigned char *state, size_t *path,
                             size_t *next, drover_error *err)
{
  size_t root, ntopo = 0;

  for(root = 0; root < st->tpl->nblocks; root++) {
    size_t depth = 0;
    if(state[root])
      continue;
    state[root] = 1;
    path[0] = root;
    next[0] = 0;
    for(;;) {
      size_t b = path[depth], d;
      if(next[depth] < st->block_ndeps[b]) {
        d = st->block_deps[b][next[depth]++];
        if(state[d] == 2)
          continue;
        if(state[d] == 1)
          return cycle_error(st, path, depth, d, err);
        state[d] = 1;
        path[++depth] = d;
        next[depth] = 0;
        continue;
      }
      state[b] = 2;
      st->topo[ntopo++] = b;
      if(!depth)
        break;
      depth--;
    }
  }
  return DROVER_OK;
}

/* Whether block b of the stack's template is counted: its instances are
 * "b[0]", "b[1]", ... and a deps label names them all as "b[*]". */
static int counted(const drover_stack *st, size_t b)
{
  return st->tpl->blocks[b].count != NULL;
}

/* The deps label of b's instances: what b depends on, "a,b[*]", each
 * block without count by its instance's address and each counted block
 * as NAME[*] (every instance of it, however many: the label stays the
 * same size as the count grows, and fits a cloud's label limits). apply
 * reads both forms, and older labels listing every instance
 * ("b[0],b[1]"). Caller frees. */
static char *deps_string(const drover_stack *st, size_t b)
{
  size_t i, k, len = 1, o = 0;
  char *out;

  for(i = 0; i < st->block_ndeps[b]; i++) {
    size_t d = st->block_deps[b][i];
    if(counted(st, d))
      len += strlen(st->tpl->blocks[d].name) + 4;
    else
      for(k = 0; k < st->block_ninst[d]; k++)
        len += strlen(st->insts[st->block_first[d] + k].address) + 1;
  }
  out = malloc(len);
  if(!out)
    return NULL;
  for(i = 0; i < st->block_ndeps[b]; i++) {
    size_t d = st->block_deps[b][i];
    if(counted(st, d)) {
      const char *nm = st->tpl->blocks[d].name;
      size_t nl = strlen(nm);
      if(o)
        out[o++] = ',';
      memcpy(out + o, nm, nl);
      memcpy(out + o + nl, "[*]", 3);
      o += nl + 3;
      continue;
    }
    for(k = 0; k < st->block_ninst[d]; k++) {
      const char *a = st->insts[st->block_first[d] + k].address;
      size_t al = strlen(a);
      if(o)
        out[o++] = ',';
      memcpy(out + o, a, al);
      o += al;
    }
  }
  out[o] = '\0';
  return out;
}

static drover_code build_graph(drover_stack *st, drover_error *err)
{
  const drover_template *tpl = st->tpl;
  unsigned char *state = NULL;
  size_t *path = NULL, *next = NULL, bi, i, nall = 0, capall = 0;
  graph_ctx g;
  drover_code rc = DROVER_OK;

  memset(&g, 0, sizeof(g));
  g.st = st;
  st->block_deps = calloc(tpl->nblocks + 1, sizeof(*st->block_deps));
  st->block_ndeps = calloc(tpl->nblocks + 1, sizeof(size_t));
  st->block_depstr = calloc(tpl->nblocks + 1, sizeof(*st->block_depstr));
  st->topo = calloc(tpl->nblocks + 1, sizeof(size_t));
  state = calloc(tpl->nblocks + 1, 1);
  path = calloc(tpl->nblocks + 1, sizeof(size_t));
  next = calloc(tpl->nblocks + 1, sizeof(size_t));
  if(!st->block_deps || !st->block_ndeps || !st->block_depstr || !st->topo || !state ||
     !path || !next) {
    rc = nomem(err);
    goto out;
  }
  /* Each block's dependencies as a sorted list of distinct blocks: what
   * its references name plus depends_on, itself excluded (self references
   * were rejected at load). Sparse, so the graph costs its edges, not
   * blocks x blocks. */
  for(bi = 0; bi < tpl->nblocks; bi++) {
    const dv_block *b = &tpl->blocks[bi];
    size_t n = 0;
    g.n = 0;
    rc = block_refs(&g, b, err);
    if(rc)
      goto out;
    for(i = 0; i < b->n_depends_on; i++) {
      size_t d = dv_block_find(tpl, b->depends_on[i]);
      if(d != (size_t)-1 && graph_push(&g, d)) {
        rc = nomem(err);
        goto out;
      }
    }
    if(!g.n)
      continue; /* no list for a block without dependencies */
    if(g.n > 1)
      qsort(g.deps, g.n, sizeof(*g.deps), size_cmp);
    /* Every list goes into one buffer (no allocation per block); the
     * pointers are set once it has stopped moving. */
    if(nall + g.n > capall) {
      size_t cap = capall ? 2 * capall : 64, *grown;
      while(cap < nall + g.n)
        cap *= 2;
      if(!(grown = realloc(st->block_deps_buf, cap * sizeof(*grown)))) {
        rc = nomem(err);
        goto out;
      }
      st->block_deps_buf = grown;
      capall = cap;
    }
    for(i = 0; i < g.n; i++)
      if(g.deps[i] != bi && (!n || st->block_deps_buf[nall + n - 1] != g.deps[i]))
        st->block_deps_buf[nall + n++] = g.deps[i];
    st->block_ndeps[bi] = n;
    nall += n;
  }
  for(bi = 0, nall = 0; bi < tpl->nblocks; bi++) {
    if(st->block_ndeps[bi])
      st->block_deps[bi] = st->block_deps_buf + nall;
    nall += st->block_ndeps[bi];
  }
  /* Outputs make no edges, but their indexes must be in range too. */
  free(g.deps);
  g.deps = NULL;
  g.n = 0;
  g.cap = (size_t)-1;
  for(i = 0; i < tpl->noutputs; i++) {
    char *p = dv_ptr_join(tpl->outputs[i].pointer, "value");
    if(!p) {
      rc = nomem(err);
      goto out;
    }
    rc = dv_refs_each(tpl, tpl->outputs[i].value, p, graph_ref, &g, err);
    free(p);
    if(rc)
      goto out;
  }
  rc = topo_sort(st, state, path, next, err);
  if(rc)
    goto out;
  /* One deps label per block, shared by its instances; blocks without
   * dependencies share one empty label, and one depending on a single
   * block without count borrows its instance's address (no allocation
   * either). */
  for(bi = 0; bi < tpl->nblocks; bi++) {
    const char *label = "";
    if(st->block_ndeps[bi] == 1 && !counted(st, st->block_deps[bi][0]) &&
       st->block_ninst[st->block_deps[bi][0]] == 1)
      label = st->insts[st->block_first[st->block_deps[bi][0]]].address;
    else if(st->block_ndeps[bi]) {
      st->block_depstr[bi] = deps_string(st, bi);
      if(!st->block_depstr[bi]) {
        rc = nomem(err);
        goto out;
      }
      label = st->block_depstr[bi];
    }
    for(i = 0; i < st->block_ninst[bi]; i++)
      st->insts[st->block_first[bi] + i].deps = label;
  }
out:
  free(g.deps);
  free(state);
  free(path);
  free(next);
  return rc;
}

/* ------------------------------------------------------------------------
 * Instances
 */

static const drover_prop *prop_find(const drover_rtype *rt, const char *name)
{
  const drover_prop *p;

  for(p = rt->props; p && p->name; p++)
    if(!strcmp(p->name, name))
      return p;
  return NULL;
}

/* A new string holding the text of a number or boolean; NULL otherwise. */
/* *out: a new string holding scalar v as text, or NULL when v is no
 * number or boolean. Non-zero on OOM (so a failed allocation is never
 * mistaken for "leave the value as it is"). */
static int scalar_text(json_t **out, const json_t *v)
{
  char *t;

  *out = NULL;
  if(!json_is_number(v) && !json_is_boolean(v))
    return 0;
  t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
  *out = t ? json_string(t) : NULL;
  free(t);
  return *out ? 0 : -1;
}

/* Converts scalars to text at the places where prop's type wants strings:
 * the value itself, array elements, map values. Non-zero on OOM. */
static int coerce_text(json_t *parent, const char *key, const drover_prop *prop,
                       json_t *v)
{
  const char *k, *k2;
  json_t *m, *m2, *s;
  size_t i;

  switch(prop->type) {
  case DROVER_T_STRING:
    if(scalar_text(&s, v))
      return -1;
    if(s)
      return json_object_set_new(parent, key, s);
    break;
  case DROVER_T_ARRAY:
    for(i = 0; json_is_array(v) && i < json_array_size(v); i++) {
      if(scalar_text(&s, json_array_get(v, i)))
        return -1;
      if(s && json_array_set_new(v, i, s))
        return -1;
    }
    break;
  case DROVER_T_STRING_MAP:
    if(json_is_object(v))
      json_object_foreach(v, k, m) {
        if(scalar_text(&s, m))
          return -1;
        if(s && json_object_set_new(v, k, s))
          return -1;
      }
    break;
  case DROVER_T_OBJECT_MAP:
    if(json_is_object(v))
      json_object_foreach(v, k, m)
        if(json_is_object(m))
          json_object_foreach(m, k2, m2) {
            if(scalar_text(&s, m2))
              return -1;
            if(s && json_object_set_new(m, k2, s))
              return -1;
          }
    break;
  default:
    break;
  }
  return 0;
}

/* *out: a new reference to property dp's default. Each default text is
 * parsed once per stack (stack->defaults): scalars are shared by every
 * instance that leaves the property out, containers copied (they could
 * be changed in place). Callers hold apply's evaluation lock. */
static drover_code prop_default(drover_stack *st, const dv_block *b,
                                const drover_prop *dp, json_t **out, drover_error *err)
{
  json_t *v = st->defaults ? json_object_get(st->defaults, dp->default_json) : NULL;
  json_error_t je;

  *out = NULL;
  if(!v) {
    /* Defaults are constants of the provider table, exercised by every
     * plan that leaves them out; jansson reports an allocation failure
     * while lexing as a syntax error, so only a failure it names as
     * anything but memory or syntax is the table's fault. */
    memset(&je, 0, sizeof(je)); /* jansson may fail before it fills je */
    v = json_loads(dp->default_json, JSON_DECODE_ANY, &je);
    if(!v && json_error_code(&je) != json_error_out_of_memory &&
       json_error_code(&je) != json_error_invalid_syntax && je.text[0])
      return drover_error_set(err, DROVER_E_INTERNAL,
                              "%s: bad default for property \"%s\" of %s: %s",
                              b->provider ? b->provider->name : "provider", dp->name,
                              b->type_name, je.text);
    if(v && !st->defaults && !(st->defaults = json_object())) {
      json_decref(v);
      v = NULL;
    }
    /* json_object_set_new takes v, also when it fails. */
    if(!v || json_object_set_new(st->defaults, dp->default_json, v))
      return nomem(err);
  }
  *out = json_is_object(v) || json_is_array(v) ? json_deep_copy(v) : json_incref(v);
  return *out ? DROVER_OK : nomem(err);
}

drover_code dv_stack_eval_inst(drover_stack *stack, dv_inst *inst, drover_error *err)
{
  const drover_template *tpl;
  const dv_block *b;
  const drover_prop *dp;
  json_t *desired = NULL, *props = NULL, *v;
  char *pp = NULL, *sub = NULL, *name = NULL;
  char what[200];
  const char *key;
  int keep_name, same;
  unsigned long runtime_before;
  drover_code rc = DROVER_OK;

  if(!stack || !inst)
    return drover_error_set(err, DROVER_E_ARG, "eval: missing argument");
  runtime_before = stack->eval_runtime;
  tpl = stack->tpl;
  b = &tpl->blocks[inst->block];
  pp = dv_ptr_join(b->pointer, "properties");
  if(!pp) {
    rc = nomem(err);
    goto out;
  }
  if(dv_block_properties(tpl, b, &props)) {
    rc = nomem(err);
    goto out;
  }
  if(props && !b->properties && dv_eval_is_literal(props)) {
    /* Parsed just now from the text and nothing to evaluate: it is ours. */
    desired = props;
    props = NULL;
  }
  else if(props)
    rc = dv_stack_eval_value(&desired, stack, props, inst->index, pp, err);
  else if(!(desired = json_object()))
    rc = nomem(err);
  if(rc)
    goto out;
  /* Derived values (a secret spliced into a longer string) are secrets
   * themselves, whatever their length: registered before the checks below
   * can quote them in an error. */
  dv_secrets_register(desired, b, NULL);

  /* Where the schema wants text, a number or boolean that a whole-string
   * reference produced is written as text ("${count.index}" in a string
   * map). Otherwise evaluated values must still fit the schema: a
   * whole-string reference may have produced any type. */
  json_object_foreach(desired, key, v) {
    dp = prop_find(b->rtype, key);
    if(dp && coerce_text(desired, key, dp, v)) {
      rc = nomem(err);
      goto out;
    }
  }
  snprintf(what, sizeof(what), "resource \"%s\"", inst->address);
  json_object_foreach(desired, key, v) {
    dp = prop_find(b->rtype, key);
    if(!dp)
      continue; /* rejected at load */
    /* The property's pointer is only for the message: a check is pure,
     * so check first (no error recorded) and build it only to say why. */
    if(!dv_prop_check(tpl, what, dp, v, pp, 1, NULL))
      continue;
    free(sub);
    sub = dv_ptr_join(pp, key);
    if(!sub) {
      rc = nomem(err);
      goto out;
    }
    rc = dv_prop_check(tpl, what, dp, v, sub, 1, err);
    if(rc)
      goto out;
  }
  rc = dv_rules_check(tpl, what, b, desired, pp, 1, err);
  if(rc)
    goto out;
  for(dp = b->rtype->props; dp && dp->name; dp++) {
    json_t *def;
    if(!dp->default_json || json_object_get(desired, dp->name))
      continue;
    rc = prop_default(stack, b, dp, &def, err);
    if(rc)
      goto out;
    if(json_object_set_new(desired, dp->name, def)) {
      rc = nomem(err);
      goto out;
    }
  }

  v = json_object_get(desired, "name");
  if(json_is_string(v))
    name = dv_strdup(json_string_value(v));
  else if(v && dv_is_unknown(v)) {
    free(sub);
    sub = dv_ptr_join(pp, "name");
    rc = dv_tpl_error(err, tpl, sub ? sub : pp, 0, DROVER_E_REFERENCE,
                      "name of resource \"%s\" must be known before apply",
                      inst->address);
    goto out;
  }
  else if(!(inst->name && inst->name_is_default))
    name = dv_default_name(stack->name, inst->address);
  /* else: already the default name, which never changes; name stays NULL */
  keep_name = !name && inst->name && inst->name_is_default && !json_is_string(v);
  if(!name && !keep_name) {
    rc = nomem(err);
    goto out;
  }
  same = inst->desired && json_equal(desired, inst->desired);
  if(same && inst->known && inst->hash[0]) {
    /* Unchanged (refresh re-evaluates dependents): same hash. */
  }
  else if((inst->known = dv_is_known(desired)) != 0) {
    rc = dv_hash_json(inst->hash, desired);
    if(rc) {
      drover_error_set(err, rc, "cannot hash the properties of %s", inst->address);
      goto out;
    }
  }
  else
    inst->hash[0] = '\0';
  if(!same) {
    json_decref(inst->desired);
    inst->desired = desired;
    desired = NULL;
  }
  /* else the equal tree it has stays, and the new one goes at once: apply
   * evaluates on its workers, whose memory would otherwise hold a second
   * copy of every evaluated instance. */
  inst->eval_changed = !same;
  inst->runtime_refs = stack->eval_runtime != runtime_before;
  if(!keep_name) {
    free(inst->name);
    inst->name = name;
    inst->name_is_default = !json_is_string(v);
    name = NULL;
  }
out:
  json_decref(desired);
  json_decref(props);
  free(name);
  free(sub);
  free(pp);
  return rc;
}

/* Two instances of one type must not share a cloud name. */
typedef struct name_ent {
  const char *type, *name;
  size_t i;
} name_ent;

static int name_cmp(const void *a, const void *b)
{
  const name_ent *x = a, *y = b;
  int c = strcmp(x->type, y->type);

  if(!c)
    c = strcmp(x->name, y->name);
  if(!c)
    c = x->i < y->i ? -1 : x->i > y->i;
  return c;
}

static drover_code check_names(drover_stack *st, drover_error *err)
{
  name_ent *v = calloc(st->ninsts + 1, sizeof(*v));
  size_t i;
  drover_code rc = DROVER_OK;

  if(!v)
    return nomem(err);
  for(i = 0; i < st->ninsts; i++) {
    v[i].type = st->tpl->blocks[st->insts[i].block].type_name;
    v[i].name = st->insts[i].name;
    v[i].i = i;
  }
  qsort(v, st->ninsts, sizeof(*v), name_cmp);
  for(i = 1; i < st->ninsts; i++) {
    const dv_inst *a, *b;
    if(strcmp(v[i].type, v[i - 1].type) || strcmp(v[i].name, v[i - 1].name))
      continue;
    a = &st->insts[v[i - 1].i];
    b = &st->insts[v[i].i];
    rc = dv_tpl_error(err, st->tpl, st->tpl->blocks[b->block].pointer, 1,
                      DROVER_E_TEMPLATE,
                      "resources \"%s\" and \"%s\" would both be named \"%s\"; give "
                      "one of them a \"name\" property",
                      a->address, b->address, b->name);
    break;
  }
  free(v);
  return rc;
}

/* ------------------------------------------------------------------------
 * Open and free
 */

/* *opts as far as its version has members (a caller built against an
 * older drover.h passes a shorter struct); the rest from the defaults. */
static drover_options options_copy(const drover_options *opts)
{
  static const drover_options defaults = DROVER_OPTIONS_INIT;
  drover_options o = defaults;

  if(opts && opts->version >= 2)
    o = *opts;
  else if(opts)
    memcpy(&o, opts, offsetof(drover_options, lock_lease));
  return o;
}

drover_code drover_stack_open(drover_stack **out, const drover_template *tpl,
                              const drover_vars *vars, const drover_options *opts,
                              drover_error *err)
{
  drover_stack *st = NULL;
  drover_code rc;
  size_t t, k;

  if(!out || !tpl)
    return drover_error_set(err, DROVER_E_ARG, "stack: missing template");
  *out = NULL;
  st = calloc(1, sizeof(*st));
  if(!st)
    return nomem(err);
  st->lock_fd = -1;
  st->tpl = tpl;
  st->opts = options_copy(opts);
  st->env.log = st->opts.log;
  st->env.log_userdata = st->opts.log_userdata;
  st->env.user_agent = "drover/" DROVER_VERSION;
  if(st->opts.stack_name && !stack_name_ok(st->opts.stack_name)) {
    rc = drover_error_set(err, DROVER_E_ARG,
                          "invalid stack name \"%s\": stack names match "
                          "^[a-z][a-z0-9-]{0,62}$",
                          st->opts.stack_name);
    goto out;
  }
  st->name = dv_strdup(st->opts.stack_name ? st->opts.stack_name : tpl->stack);
  if(!st->name) {
    rc = nomem(err);
    goto out;
  }
  rc = bind_params(st, vars, err);
  if(!rc)
    rc = bind_counts(st, vars, err);
  if(!rc)
    rc = expand(st, err);
  if(!rc)
    rc = build_graph(st, err);
  for(t = 0; !rc && t < tpl->nblocks; t++) {
    size_t b = st->topo[t];
    for(k = 0; !rc && k < st->block_ninst[b]; k++)
      rc = dv_stack_eval_inst(st, &st->insts[st->block_first[b] + k], err);
  }
  if(!rc)
    rc = check_names(st, err);
  if(rc)
    goto out;
  *out = st;
  st = NULL;
out:
  drover_stack_free(st);
  return rc;
}

drover_code drover_stack_open_bare(drover_stack **out, const char *name,
                                   const char *providers_json,
                                   const drover_options *opts, drover_error *err)
{
  drover_options o = options_copy(opts);
  drover_template *tpl = NULL;
  json_t *prov = NULL, *root = NULL;
  json_error_t je;
  char *text = NULL, *all = NULL;
  drover_code rc;

  if(!out || !name)
    return drover_error_set(err, DROVER_E_ARG, "stack: missing name");
  *out = NULL;
  if(!stack_name_ok(name))
    return drover_error_set(err, DROVER_E_ARG,
                            "invalid stack name \"%s\": stack names match "
                            "^[a-z][a-z0-9-]{0,62}$",
                            name);
  /* No providers named: every provider may hold objects with our label. */
  if(!providers_json) {
    rc = dv_providers_all_json(&all, err);
    if(rc)
      goto out;
    providers_json = all;
  }
  prov = json_loads(providers_json, 0, &je);
  if(!prov || !json_is_object(prov)) {
    rc = drover_error_set(err, DROVER_E_ARG, "providers: %s",
                          prov ? "must be a JSON object" : je.text);
    goto out;
  }
  /* The template's own name must fit the template rule (40 characters);
   * the real name comes in as the override. */
  root = json_pack("{s:s, s:O, s:{}}", "stack", strlen(name) <= 40 ? name : "bare",
                   "providers", prov, "resources");
  text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
  if(!text) {
    rc = nomem(err);
    goto out;
  }
  rc = drover_template_load_buffer(&tpl, text, strlen(text), "(providers)", err);
  if(rc)
    goto out;
  o.stack_name = name;
  rc = drover_stack_open(out, tpl, NULL, &o, err);
  if(rc)
    goto out;
  /* The stack owns its template; the caller's strings are not kept. */
  (*out)->owned_tpl = tpl;
  (*out)->providers_implied = all != NULL;
  tpl = NULL;
  (*out)->opts.stack_name = (*out)->name;
out:
  drover_template_free(tpl);
  free(text);
  free(all);
  json_decref(root);
  json_decref(prov);
  return rc;
}

/* The one place a stack is torn down: what open built, what refresh and
 * apply attached (live and applied objects, orphans), the provider
 * instances and the lock. */
void dv_stack_prelist_clear(drover_stack *stack)
{
  size_t i;

  for(i = 0; i < stack->nprelist; i++)
    drover_live_list_clear(&stack->prelist[i].found);
  free(stack->prelist);
  stack->prelist = NULL;
  stack->nprelist = 0;
  stack->prelisted = 0;
}

void drover_stack_free(drover_stack *stack)
{
  size_t i;

  if(!stack)
    return;
  for(i = 0; i < stack->ninsts; i++) {
    dv_inst *in = &stack->insts[i];
    if(!in->address || stack->tpl->blocks[in->block].count)
      free(in->address);
    free(in->name);
    json_decref(in->desired);
    drover_live_free(in->live);
    drover_live_free(in->applied);
  }
  free(stack->insts);
  free(stack->block_first);
  free(stack->block_ninst);
  free(stack->block_deps); /* the lists point into block_deps_buf */
  free(stack->block_deps_buf);
  if(stack->block_depstr)
    for(i = 0; i < stack->tpl->nblocks; i++)
      free(stack->block_depstr[i]);
  free(stack->block_depstr);
  free(stack->block_ndeps);
  free(stack->topo);
  drover_live_list_clear(&stack->orphans);
  free(stack->orphan_types);
  drover_live_list_clear(&stack->copies);
  free(stack->copy_types);
  dv_stack_prelist_clear(stack);
  /* The lease lives in the providers: let it go while they are up. */
  drover_stack_unlock(stack);
  dv_stack_providers_release(stack);
  json_decref(stack->params);
  json_decref(stack->defaults);
  json_decref(stack->counts);
  free(stack->name);
  free(stack->owned_text);
  drover_template_free(stack->owned_tpl);
  free(stack);
}

const char *drover_stack_name(const drover_stack *stack)
{
  return stack ? stack->name : NULL;
}

size_t drover_stack_resource_count(const drover_stack *stack)
{
  return stack ? stack->ninsts : 0;
}
