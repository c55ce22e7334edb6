/*
 * engine.h - libdrover internals shared between the engine's files.
 * Not installed. Cross-file internal names use the dv_ prefix.
 *
 * Data flow, in pipeline order; each file calls only files above it or
 * the leaves (util, error, log, index, posmap, value, ref, registry, live)
 * and never back (tests/layers.sh):
 *   drover_template (template.c, posmap.c)  raw JSON + parsed declarations;
 *                   (ref.c)                  reference syntax and checks
 *   evaluation      (eval.c, value.c)        references resolved, unknowns
 *   drover_stack    (stack.c)                params bound, count expanded,
 *                                            graph built, desired props;
 *                   (stack_providers.c)      provider instances
 *   refresh         (refresh.c)              live objects attached to insts,
 *                                            orphans collected
 *   drover_plan     (plan.c, plan_render.c, plan_file.c)
 *   apply           (apply.c)                dependency graph on a thread pool
 */
#ifndef DROVER_ENGINE_H
#define DROVER_ENGINE_H

#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include "drover.h"
#include "drover_provider.h"

/* ------------------------------------------------------------------------
 * Name index (index.c): string -> position, O(1) per lookup
 */

typedef struct dv_index_slot {
  const char *key; /* borrowed; valid where val != UINT32_MAX */
  uint32_t hash;   /* FNV-1a of key */
  uint32_t val;    /* UINT32_MAX: a free slot */
} dv_index_slot;

typedef struct dv_index {
  dv_index_slot *slots;
  size_t cap, n;      /* cap: a power of two, at most half full */
} dv_index;

/* Empty index sized for about expect keys. DROVER_E_NOMEM on failure
 * (ix is then empty, and dv_index_free is still fine). */
drover_code dv_index_init(dv_index *ix, size_t expect);
/* Maps key (borrowed: must outlive ix) to val (below UINT32_MAX, else
 * DROVER_E_ARG: values are positions). A key already present keeps its
 * first value. Grows as needed; DROVER_E_NOMEM
 * leaves ix as it was. */
drover_code dv_index_put(dv_index *ix, const char *key, size_t val);
/* The value of key, or (size_t)-1. ix may be NULL or empty. */
size_t dv_index_get(const dv_index *ix, const char *key);
/* The same for the len bytes at s (need not be NUL-terminated). */
size_t dv_index_getn(const dv_index *ix, const char *s, size_t len);
void dv_index_free(dv_index *ix);

/* ------------------------------------------------------------------------
 * Positions (posmap.c): JSON pointer -> line:column of the value
 */

typedef struct dv_pos {
  int line, column; /* 1-based; 0 when unknown */
} dv_pos;

typedef struct dv_posmap dv_posmap;

/* Scans buf (already known to be valid JSON) and records the position of
 * every value and every object key. *out owned by caller. */
drover_code dv_posmap_build(dv_posmap **out, const char *buf, size_t len);
void dv_posmap_free(dv_posmap *map);
/* Position of the value at pointer (RFC 6901, e.g. "/resources/web/count").
 * Falls back to the nearest ancestor. */
dv_pos dv_posmap_value(const dv_posmap *map, const char *pointer);
/* Position of the key naming the member at pointer (for unknown keys). */
dv_pos dv_posmap_key(const dv_posmap *map, const char *pointer);

/* Records a template error at pointer: sets err code, source, line,
 * column and text (first error wins). Returns code. */
drover_code dv_tpl_error(drover_error *err, const drover_template *tpl,
                         const char *pointer, int at_key, drover_code code,
                         const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/* ------------------------------------------------------------------------
 * Templates (template.c)
 */

typedef enum {
  DV_PARAM_STRING = 0,
  DV_PARAM_INTEGER = 1,
  DV_PARAM_NUMBER = 2,
  DV_PARAM_BOOLEAN = 3
} dv_param_type;

typedef struct dv_param {
  char *name;
  dv_param_type type;
  json_t *def;          /* default (borrowed from tpl->root); NULL: required */
  json_t *enum_values;  /* borrowed array, or NULL */
  char *pattern;        /* POSIX ERE source, or NULL */
  regex_t re;           /* compiled pattern, valid when pattern != NULL */
  int has_min, has_max; /* numbers: value bounds; strings: length bounds */
  double min, max;
  int sensitive;
  char *description;
  char *pointer;        /* "/params/<name>" */
} dv_param;

#define DV_LC_PREVENT_DESTROY 0x1u
#define DV_LC_CREATE_BEFORE_DESTROY 0x2u

/* A resource reference inside a block's properties, as load found it:
 * enough for the graph without walking the properties again. */
typedef struct dv_bref {
  size_t block;                   /* the block it names */
  long index;                     /* DV_REF_NO_INDEX, DV_REF_ALL, or >= 0 */
} dv_bref;

typedef struct dv_block {
  char *name;                     /* key under "resources" */
  const char *type_name;          /* "lxd.instance": rtype->name (borrowed;
                                     provider tables live for the process) */
  const drover_provider *provider;
  const drover_rtype *rtype;
  json_t *properties;             /* unevaluated; a reference of its own (the
                                     declaration is dropped after load), or NULL
                                     when props_len says where its text is: use
                                     dv_block_properties() */
  size_t props_off, props_len;    /* a block without count: its properties'
                                     bytes in tpl->text (the tree is dropped
                                     after load, parsed again when evaluated) */
  dv_bref *refs;                  /* resource references in properties, in the
                                     order dv_refs_each walks them (borrowed:
                                     they live in tpl->refs) */
  size_t nrefs;
  json_t *count;                  /* likewise; NULL: no count */
  char **depends_on;              /* explicit, block names */
  size_t n_depends_on;
  unsigned lifecycle;             /* DV_LC_* */
  char **ignore_changes;          /* property names */
  size_t n_ignore_changes;
  char *pointer;                  /* "/resources/<name>" */
  char **secret_ptrs;             /* sensitive.c: pointers inside properties whose
                                     values derive from a secret ("/config/k") */
  size_t nsecret_ptrs;
} dv_block;

typedef struct dv_output {
  char *name;
  json_t *value;                  /* borrowed, unevaluated */
  int sensitive;
  char *description;
  char *pointer;
} dv_output;

struct drover_template {
  char *source;                   /* path or given name */
  char *text;                     /* the file's bytes, kept for saved plans */
  size_t len;
  json_t *root;                   /* owns every borrowed json_t above; its
                                     "resources" member is dropped after load */
  dv_posmap *posmap;              /* built on the first error (posmap.c), under
                                     posmap_mu: templates without errors, and
                                     large ones, never pay for it */
  pthread_mutex_t posmap_mu;
  int posmap_mu_ok;               /* posmap_mu was initialised */
  char *stack;                    /* the "stack" member */
  char *description;
  dv_param *params;
  size_t nparams;
  dv_block *blocks;
  size_t nblocks;
  dv_output *outputs;
  size_t noutputs;
  json_t *providers;              /* borrowed "providers" object, or NULL */
  dv_index block_ix;              /* block name -> index into blocks */
  dv_bref *refs;                  /* every block's references, one after
                                     another (blocks[i].refs point into it) */
  size_t nrefs;
};

/* ------------------------------------------------------------------------
 * Vars (vars.c)
 */

struct drover_vars {
  json_t *values;                 /* name -> string (from --var) or typed value */
  json_t *counts;                 /* block name -> count override (scale policies);
                                     NULL: none */
};

/* ------------------------------------------------------------------------
 * Values (value.c)
 */

/* The member that makes an object the unknown marker; reserved in
 * templates. */
#define DV_UNKNOWN_KEY "$drover:unknown"

/* The "known after apply" marker. New reference. Compare with dv_is_unknown,
 * never with json_equal. */
json_t *dv_unknown(void);
int dv_is_unknown(const json_t *v);
/* True when v contains no unknown anywhere. */
int dv_is_known(const json_t *v);

/* SHA-256 of the canonical JSON (sorted keys, compact) of v, first 16 hex
 * digits, into out[17]. */
drover_code dv_hash_json(char out[17], const json_t *v);

/* ------------------------------------------------------------------------
 * Stacks (stack.c)
 */

typedef struct dv_inst {
  char *address;        /* "web[0]", or "db" without count; without count it is
                           the block's name (borrowed, not freed) */
  char *name;           /* cloud name: properties.name or dv_default_name() */
  json_t *desired;      /* evaluated properties, defaults filled; may hold unknowns */
  drover_live *live;    /* from refresh (owned); NULL when absent */
  drover_live *applied; /* what apply created/updated (owned); NULL before */
  const char *deps;     /* comma-separated addresses of its dependencies
                           (borrowed: its block's stack->block_depstr) */
  size_t block;         /* index into tpl->blocks */
  int index;            /* count.index, -1 without count */
  int name_is_default;  /* name is dv_default_name() (no "name" property) */
  int known;            /* desired holds no unknowns */
  char hash[17];        /* dv_hash_json(desired) when known, "" otherwise */
  unsigned char runtime_refs; /* its last evaluation read an applied or live
                                 attribute, or one not known yet */
  unsigned char eval_changed; /* its last evaluation changed desired */
  unsigned char replacing; /* plan.c: this plan replaces it and the cloud
                              assigns its ID, so its live attributes (the
                              old ID) are not what references will see */
} dv_inst;

/* Wall-clock seconds (Unix time, with fractions). Leases record times on
 * it; tests give a stack a fake one (drover_stack.wall). */
typedef double (*dv_wall_fn)(void *arg);
typedef struct dv_leases dv_leases; /* lease.h */

typedef struct dv_pinst {     /* an instantiated provider */
  const drover_provider *vt;
  void *state;                /* vt->state_size bytes, owned */
  int initialised;
  int skipped;                /* not set up here: left out (and warned about)
                                 once, by dv_stack_providers_up */
  json_t *config;             /* merged settings (owned) */
} dv_pinst;

struct drover_stack {
  const drover_template *tpl;
  char *name;
  json_t *params;             /* name -> typed value, after defaults */
  json_t *defaults;           /* property default text -> its value, parsed
                                 once (stack.c), or NULL */
  json_t *counts;             /* block name -> count override from the vars
                                 (owned; NULL: none), kept by saved plans */
  dv_inst *insts;
  size_t ninsts;
  size_t *block_first;        /* per block: index of its first inst */
  size_t *block_ninst;        /* per block: number of insts (count) */
  size_t **block_deps;        /* per block: blocks it depends on (refs + depends_on);
                                 NULL when block_ndeps is 0; the lists point
                                 into block_deps_buf */
  size_t *block_deps_buf;     /* every block's list, one after another */
  size_t *block_ndeps;
  char **block_depstr;        /* per block: the deps label of its instances,
                                 "a,b[0],b[1]" (every instance it depends on);
                                 NULL without dependencies (insts' deps: "") */
  size_t *topo;               /* blocks in dependency order */
  dv_pinst *providers;
  size_t nproviders;
  drover_live_list orphans;   /* labelled with the stack, address not in template */
  int refreshed;
  int providers_implied;      /* opened bare with no providers named: every
                                 provider is asked, and one not set up here
                                 is skipped (refresh.c) */
  drover_options opts;        /* copy; strings borrowed from the caller */
  drover_provider_env env;
  int lock_fd;                /* -1 when not held */
  dv_leases *leases;          /* lease.c: the provider leases held with the
                                 lock file; NULL when none */
  dv_wall_fn wall;            /* NULL: the real clock (dv_wall_now) */
  void *wall_arg;
  char *owned_text;           /* set when the stack owns its template */
  drover_template *owned_tpl;
  const drover_rtype **orphan_types; /* refresh.c: type of orphans.items[i]
                                        (parallel array, orphans.count long) */
  size_t orphan_cap;          /* allocated length of orphan_types */
  unsigned long refresh_gen;  /* bumped by every refresh: live objects were
                                 freed; plans made before are stale */
  drover_live_list copies;    /* refresh.c: extra claimants of an address that
                                 are not the object drover made (an out-of-band
                                 copy); never deleted or updated, only shown */
  const drover_rtype **copy_types; /* type of copies.items[i] */
  size_t copy_cap;            /* allocated length of copy_types */
  unsigned long eval_runtime; /* eval.c: references resolved from applied or
                                 live attributes or still unknown, so far */
  /* nodes.c: many node stacks share one set of providers and one list
   * per type. provider_host (borrowed) is the stack whose providers this
   * one uses; they are initialised before any worker thread starts, so
   * lookups through it only read. When prelisted is set, the next
   * refresh takes its objects from prelist instead of calling list. */
  drover_stack *provider_host;
  int prelisted;
  struct dv_prelist *prelist;
  size_t nprelist;
};

/* One type's objects listed for a stack by someone else (nodes.c). */
typedef struct dv_prelist {
  const drover_rtype *type;
  drover_live_list found;     /* owned */
} dv_prelist;

/* stack.c: frees what nodes.c listed for the stack and refresh did not
 * take, and clears prelisted. Refresh and drover_stack_free() call it. */
void dv_stack_prelist_clear(drover_stack *stack);

/* A valid cloud name from stack and address: lowercase letters, digits
 * and '-', starting with a letter, at most 63 characters; over-long names
 * are cut and suffixed with a hash so they stay unique. Caller frees. */
char *dv_default_name(const char *stack, const char *address);

/* (Re)evaluates inst->desired from the template with what is known now
 * (deps' applied or desired attributes), fills defaults, sets known and
 * hash. Used by open (plan time) and by apply before each action. */
drover_code dv_stack_eval_inst(drover_stack *stack, dv_inst *inst, drover_error *err);

/* eval.c: attribute attr of inst for references: applied attributes, then
 * desired properties, then "name", then live attributes; otherwise
 * unknown. New reference. */
json_t *dv_inst_attr(const drover_stack *stack, const dv_inst *inst, const char *attr);

/* eval.c: whether evaluating v would only copy it (no string in it holds
 * a '$'). */
int dv_eval_is_literal(const json_t *v);

/* eval.c: evaluates an arbitrary template value (properties, count,
 * outputs) against what stack knows now. New reference in *out. */
drover_code dv_stack_eval_value(json_t **out, drover_stack *stack, const json_t *in,
                                int count_index, const char *pointer,
                                drover_error *err);

/* ------------------------------------------------------------------------
 * Provider instances of a stack (stack_providers.c)
 */

/* The instantiated provider for a block's type, initialising it on first
 * use. Not thread safe; the pointer is valid until the next call. */
drover_code dv_stack_provider(dv_pinst **out, drover_stack *stack,
                              const drover_provider *vt, drover_error *err);
/* Initialises p for vt with the settings tplcfg["<name>"] overlaid by the
 * admin file opts->provider_config. On failure p is left uninitialised
 * and empty. Release with dv_pinst_release(). */
drover_code dv_pinst_init(dv_pinst *p, const drover_provider *vt, const json_t *tplcfg,
                          const drover_options *opts, const drover_provider_env *env,
                          drover_error *err);
/* The merged settings of provider name: tplcfg["<name>"] overlaid by the
 * admin file admin_path (may be NULL). New reference in *out. */
drover_code dv_provider_config(json_t **out, const char *name, const json_t *tplcfg,
                               const char *admin_path, drover_error *err);
/* Cleanup, state and config of p; p is then empty (safe to call twice). */
void dv_pinst_release(dv_pinst *p);
/* The template's "providers" object (the stack's own template for bare
 * stacks), or NULL. Borrowed. */
const json_t *dv_template_providers(const drover_stack *stack);
/* Releases every provider instance of stack (drover_stack_free). */
void dv_stack_providers_release(drover_stack *stack);
/* Every provider the stack talks to (its blocks', its template's, those
 * already instantiated), each initialised; when no provider was named
 * (providers_implied), one not set up here is skipped with a warning.
 * *out (caller frees the array; the tables are borrowed) in that order.
 * Not thread safe, like dv_stack_provider(). */
drover_code dv_stack_providers_up(const drover_provider ***out, size_t *n,
                                  drover_stack *stack, drover_error *err);
/* When no provider was named (a bare stack, `drover gc`, the epilog),
 * every provider is asked; one whose init failed with why because it is
 * not set up on this machine is skipped: returns 1 after a warning
 * through opts's sink. 0: the failure stands. */
int dv_provider_skip_unset(const drover_provider *vt, const drover_options *opts,
                           const drover_error *why);

/* live.c: a deep copy of l. Caller frees with drover_live_free(); NULL on
 * OOM (or when l is NULL). */
drover_live *dv_live_dup(const drover_live *l);

/* ------------------------------------------------------------------------
 * Providers (registry.c)
 */

/* Provider by name ("lxd"), or NULL. */
const drover_provider *dv_provider_find(const char *name);
/* The i-th provider (built-in ones first, then test ones), or NULL past
 * the last: for (i = 0; (p = dv_provider_at(i)); i++). */
const drover_provider *dv_provider_at(size_t i);
/* Resource type by full name ("lxd.instance"); sets *provider. */
const drover_rtype *dv_rtype_find(const char *name, const drover_provider **provider);
/* Every provider there is (after loading every module in the search
 * directories) as {"name":{}...}: what a bare stack asks when its caller
 * names no providers. *out: free(). */
drover_code dv_providers_all_json(char **out, drover_error *err);
/* module.c: checks a provider table: version within
 * [DROVER_PROVIDER_VERSION_MIN, DROVER_PROVIDER_VERSION], table_size
 * covering its version, the required members. what names it in errors. */
drover_code dv_provider_check(const drover_provider *p, const char *what,
                              drover_error *err);
/* module.c: bytes of struct drover_provider that a version-vers table has. */
size_t dv_provider_table_size(unsigned vers);

/* module.c: opens the provider module at path (trust checks, dlopen, entry
 * symbol, dv_provider_check, provider name want unless NULL). *out is a
 * full-size copy of its table (caller frees) and *handle its dlopen
 * handle (caller keeps it open while the table is used, or dlcloses). */
drover_code dv_module_open(const char *path, const char *want, drover_provider **out,
                           void **handle, drover_error *err);

/* t->flags when p's version has it (2 and up), else 0. */
unsigned dv_rtype_flags(const drover_provider *p, const drover_rtype *t);
/* For a type whose IDs the cloud assigns: sets l's attribute "id" to its
 * name (the ID) unless the provider set one, so references to .id
 * resolve. Returns DROVER_E_NOMEM or 0. */
drover_code dv_live_fill_id(const drover_provider *p, const drover_rtype *t,
                            drover_live *l);
/* Why the module for provider name was refused (borrowed, one line), or
 * NULL when none was. */
const char *dv_provider_refusal(const char *name);
/* For unit tests: adds a provider (e.g. the fake one) to the registry.
 * Rejects a table with a wrong version or missing required ops. */
drover_code dv_provider_register(const drover_provider *p, drover_error *err);

/* ------------------------------------------------------------------------
 * The stack lease in the providers (lease.c, lease_renew.c,
 * lease_record.c; doc/locks.md)
 */

/* The real wall clock (CLOCK_REALTIME); arg unused. */
double dv_wall_now(void *arg);
/* After the lock file: takes the lease in every provider of the stack
 * that has the lock ops, in name order, waiting (backoff, logging the
 * holder) until deadline (monotonic seconds), and starts its renewal.
 * Nothing held on failure: DROVER_E_LOCKED names the holder. */
drover_code dv_lease_acquire(drover_stack *stack, double deadline, drover_error *err);
/* Stops the renewal and deletes the records the stack still holds. */
void dv_lease_release(drover_stack *stack);
/* Non-zero once a renewal found the stack's lease gone or taken over;
 * then why (may be NULL) gets DROVER_E_LOCKED saying so. Thread safe. */
int dv_lease_lost(const drover_stack *stack, drover_error *why);

/* ------------------------------------------------------------------------
 * Logging (log.c)
 */

/* Marks value as secret: every later log line and error text has it
 * replaced by "(sensitive)" (also its JSON-escaped spelling). Thread safe.
 * Values shorter than 4 characters are replaced only as whole tokens, so
 * they do not mangle ordinary words; "" is ignored. */
void dv_secret_add(const char *value);
/* A copy of in with registered secrets replaced. Caller frees; NULL on
 * OOM. */
char *dv_redact_dup(const char *in);
/* The same with secrets of 4 characters or more only: for plans and show,
 * which redact sensitive values by structure first, so a 1-character
 * secret "1" does not turn "Plan: 1 to create" into nonsense. */
char *dv_redact_display(const char *in);
/* Replaces registered secrets in buf in place (NUL-terminated, size bytes);
 * on OOM buf becomes "(sensitive)". */
void dv_redact(char *buf, size_t size);
/* Formats into dst (size bytes) as one line (CR/LF become blanks) with
 * secrets redacted before the text is cut to fit, so no part of a secret
 * survives truncation. */
void dv_vformat_redacted(char *dst, size_t size, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 0)))
#endif
    ;

void dv_log(const drover_stack *stack, drover_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ------------------------------------------------------------------------
 * Plans (plan.c)
 */

/* dv_plan_entry.borrowed: which strings the entry does not own (they
 * outlive it: the instance's address, the type's name, a constant
 * reason), so a plan of 100,000 entries holds no copy of them. */
#define DV_PE_ADDRESS 0x1u
#define DV_PE_TYPE 0x2u
#define DV_PE_REASON 0x4u
#define DV_PE_LIVE 0x8u   /* etag and live_hash: the live object's own, valid
                             while the plan is current (refresh_gen) */

typedef struct dv_plan_entry {
  drover_action action;
  char *address;
  char *type;
  char *reason;
  unsigned borrowed;        /* DV_PE_*: strings above not owned */
  dv_inst *inst;            /* NULL for an orphan delete */
  drover_live *orphan;      /* orphan deletes: a copy of the orphan (owned), so
                               the plan outlives the stack's next refresh */
  char **changed;           /* property names that differ */
  size_t nchanged;
  char *etag;               /* live ETag at plan time, or NULL (DV_PE_LIVE) */
  char *live_hash;          /* live hash label at plan time, or NULL (DV_PE_LIVE) */
  int copy;                 /* a no-op entry showing a copy (orphan holds it) */
  char *observed;           /* dv_hash_json of the live properties at plan time, or
                               NULL: a saved plan is stale when this changes, also
                               where the cloud's list gives no ETag (LXD) */
} dv_plan_entry;

struct drover_plan {
  drover_stack *stack;      /* borrowed unless owns_stack */
  int owns_stack;
  unsigned flags;
  dv_plan_entry *entries;
  size_t n;
  unsigned long refresh_gen; /* stack->refresh_gen when planned */
};

/* create_before_destroy names: the new object of a replacement is named
 * <name cut to DV_CBD_BASE_MAX chars> + "-" + the first 6 hex digits of
 * its hash, so old and new can exist side by side (apply.c, plan.c). */
#define DV_CBD_BASE_MAX 56

/* plan_diff.c: appends to the JSON array out one {"path","before","after"}
 * per place where have (live) and want (desired) differ below path,
 * descending into objects (path.key) and arrays (path[i]); a side that is
 * absent is null, an unknown want is a difference. Values are new
 * references to the raw (unredacted) values. */
drover_code dv_diff_paths(json_t *out, const char *path, const json_t *have,
                          const json_t *want);

/* stack.c: whether live_name is the object drover names name: name itself,
 * or drover's own create_before_destroy variant of it. */
int dv_owns_name(const char *live_name, const char *name);

/* plan.c: whether live shows every managed property of desired (b's
 * schema, without NO_DIFF, ignore_changes and the name), as the plan's
 * diff compares them: apply's test that an ambiguous failure reached its
 * goal anyway. */
int dv_desired_holds(const dv_block *b, const json_t *desired, const drover_live *live);

/* plan_render.c: a deep copy of v for display: unknowns become the
 * string "(known after apply)" and, when redact is set, registered secrets
 * of 4 characters or more are redacted inside strings (dv_redact_display;
 * shorter ones are redacted by structure, dv_props_display). New
 * reference; NULL on OOM. */
json_t *dv_json_display(const json_t *v, int redact);

/* plan.c: fills the observed fingerprint of every entry that has a live
 * object and none yet, from the live objects the plan was made with.
 * DROVER_E_STALE_PLAN when the stack was refreshed since (those objects
 * are gone); DROVER_E_NOMEM. */
drover_code dv_plan_observe(drover_plan *plan);

/* plan_file.c: refreshes plan's stack, plans again with plan->flags and
 * compares every entry's address, action, ETag and live hash with plan.
 * A difference is DROVER_E_STALE_PLAN naming the address (err->address).
 * When the fresh plan could be made, plan takes its entries (and its
 * refresh_gen) whatever the outcome. */
drover_code dv_plan_check_fresh(drover_plan *plan, drover_error *err);

/* ------------------------------------------------------------------------
 * Schemas from the provider's tables (schema.c)
 */

struct dv_ref;

/* Checks props (the block's properties object at pointer) against the
 * type's value rules and cloud-name rule. Before evaluation (evaluated 0)
 * strings holding references are skipped; unknowns always are. */
drover_code dv_rules_check(const drover_template *tpl, const char *what,
                           const dv_block *b, const json_t *props, const char *pointer,
                           int evaluated, drover_error *err);
/* DROVER_E_REFERENCE when target's type does not export ref->attr. */
drover_code dv_attr_check(const drover_template *tpl, const dv_block *target,
                          const struct dv_ref *ref, const char *pointer,
                          drover_error *err);
/* Checks the template's settings for vt (at pointer) against vt's
 * settings schema: unknown keys, types, rules. */
drover_code dv_settings_check(const drover_template *tpl, const drover_provider *vt,
                              const json_t *settings, const char *pointer,
                              drover_error *err);

/* ------------------------------------------------------------------------
 * Sensitive values by structure (sensitive.c)
 */

/* Load time, after dv_refs_check: fills every block's secret_ptrs (values
 * derived from sensitive params, directly or through other resources, and
 * DROVER_PROP_SENSITIVE properties), marks outputs derived from secrets
 * sensitive, and rejects a cloud name derived from a secret. */
drover_code dv_taint_compute(drover_template *tpl, drover_error *err);
/* Whether attribute attr of block b holds (part of) a secret. */
int dv_block_attr_sensitive(const dv_block *b, const char *attr);
/* A display copy of props (dv_json_display, redacted) where the values at
 * b's secret pointers (b may be NULL) and at label's (a JSON array text,
 * may be NULL) are replaced by "(sensitive)". New reference; NULL on OOM. */
json_t *dv_props_display(const json_t *props, const dv_block *b, const char *label);
/* Registers (dv_secret_add) the values at those pointers inside props. */
void dv_secrets_register(const json_t *props, const dv_block *b, const char *label);
/* b's pointers as the DROVER_LABEL_SENSITIVE text: a compact JSON array,
 * "" for none. Caller frees; NULL on OOM. */
char *dv_secret_label(const dv_block *b);
/* Registers the secret values of every inst's desired and live properties
 * and of the orphans (after refresh, so old values read from the cloud are
 * redacted in logs and errors too). */
void dv_stack_register_secrets(const drover_stack *stack);

/* ------------------------------------------------------------------------
 * Template checks shared by load and open (template.c)
 */

/* A new reference to b's unevaluated properties in *out (NULL when it has
 * none): its tree, or its text parsed again. DROVER_E_NOMEM. */
drover_code dv_block_properties(const drover_template *tpl, const dv_block *b,
                                json_t **out);
/* Whether b declares properties. */
static inline int dv_block_has_props(const dv_block *b)
{
  return b->properties != NULL || b->props_len != 0;
}
/* span.c: one member of the top-level "resources" object, as bytes of
 * the template's text. */
typedef struct dv_res_span {
  size_t key_off, key_len;     /* the name, written without escapes */
  size_t val_off, val_len;     /* the declaration object */
  size_t props_off, props_len; /* its "properties" value; len 0: none */
} dv_res_span;
/* span.c: scans text (len bytes): *out (caller frees; NULL when empty)
 * gets one entry per member of the top-level "resources" object, in
 * order, *n their number, and *res_off, *res_len that object's own bytes.
 * Non-zero when the text does not have that shape, spells a key it looks
 * at with an escape, or nests too deep: the caller then parses the whole
 * text (what it finds is only trusted once jansson accepts each piece). */
int dv_scan_resources(const char *text, size_t len, size_t *res_off, size_t *res_len,
                      dv_res_span **out, size_t *n);

/* json_fast.c: text (len bytes) parsed without jansson's lexer when it is
 * plain JSON (an object or array of objects, arrays, integers, literals
 * and strings of printable ASCII without escapes, no duplicate keys);
 * NULL for anything else. A result is what json_loadb would build.
 * Caller owns the result. */
json_t *dv_json_fast(const char *text, size_t len);
/* json_fast.c: dv_json_fast, or when it declines json_loadb(text, len,
 * flags) (NULL where jansson refuses the text, or on OOM). Caller owns
 * the result. */
json_t *dv_json_load(const char *text, size_t len, size_t flags);

/* Index of the resource block called name, or (size_t)-1. Inline so the
 * files below template.c (ref.c) can look blocks up without calling into
 * it. */
static inline size_t dv_block_find(const drover_template *tpl, const char *name)
{
  return tpl ? dv_index_get(&tpl->block_ix, name) : (size_t)-1;
}
/* Checks v against param p's type and constraints. On a violation writes
 * a phrase such as `25 is above the maximum 20` to msg and returns 1. */
int dv_param_check(const dv_param *p, const json_t *v, char *msg, size_t size);
/* Checks property value v (of resource `what`, at pointer) against prop.
 * Strings holding ${...} and unknowns are accepted unless evaluated is set,
 * in which case only unknowns are. DROVER_E_TEMPLATE on a violation. */
drover_code dv_prop_check(const drover_template *tpl, const char *what,
                          const drover_prop *prop, const json_t *v,
                          const char *pointer, int evaluated, drover_error *err);

/* ------------------------------------------------------------------------
 * References (ref.c)
 *
 * Grammar inside "${" ... "}" (surrounding blanks ignored):
 *   params.NAME | count.index | stack.name |
 *   resources.NAME.ATTR | resources.NAME[N].ATTR | resources.NAME[*].ATTR
 */

typedef enum {
  DV_REF_PARAM = 0,
  DV_REF_COUNT_INDEX = 1,
  DV_REF_STACK_NAME = 2,
  DV_REF_RESOURCE = 3
} dv_ref_kind;

#define DV_REF_NO_INDEX (-1L) /* resources.NAME.ATTR */
#define DV_REF_ALL (-2L)      /* resources.NAME[*].ATTR */

typedef struct dv_ref {
  dv_ref_kind kind;
  char name[128];  /* param or resource name */
  long index;      /* DV_REF_NO_INDEX, DV_REF_ALL, or >= 0 */
  char attr[128];  /* resource attribute */
  char text[256];  /* the reference as written, "${...}", for messages */
  int whole;       /* the string is exactly this one reference */
} dv_ref;

/* Called for each reference found; pointer names the string holding it. */
typedef drover_code (*dv_ref_fn)(void *ud, const dv_ref *ref, const char *pointer,
                                 drover_error *err);
/* Called for each literal piece of a string; fails only on OOM. */
typedef drover_code (*dv_lit_fn)(void *ud, const char *p, size_t n);

/* Walks string s (at pointer in tpl): literal pieces (with "$${" turned
 * into "${") go to lit, references to fn; either may be NULL. Syntax
 * errors are DROVER_E_REFERENCE at pointer. */
drover_code dv_ref_walk(const drover_template *tpl, const char *s, const char *pointer,
                        dv_lit_fn lit, dv_ref_fn fn, void *ud, drover_error *err);

/* Walks every string inside v (v is at pointer in tpl) and calls fn for
 * each reference. Syntax errors are DROVER_E_REFERENCE at the string. */
drover_code dv_refs_each(const drover_template *tpl, const json_t *v,
                         const char *pointer, dv_ref_fn fn, void *ud,
                         drover_error *err);
/* Non-zero when the string s holds at least one reference. */
int dv_has_ref(const char *s);
/* Load-time checks of every reference in resources and outputs: syntax,
 * unknown params and resources, count.index placement, index forms,
 * self references, count referring to anything but params. */
drover_code dv_refs_check(const drover_template *tpl, drover_error *err);

/* Small helpers (util.c). */
char *dv_strdup(const char *s);                 /* NULL-safe; caller frees */
/* base + "/" + seg with seg escaped per RFC 6901. Caller frees. */
char *dv_ptr_join(const char *base, const char *seg);
/* The bytes dv_ptr_join's result may need (with its NUL), and the same
 * join written into out (at least that many bytes); returns out. For
 * pointers built per value walked, where a malloc each cost more than
 * the walk. */
size_t dv_ptr_join_size(const char *base, const char *seg);
char *dv_ptr_join_to(char *out, const char *base, const char *seg);
char *dv_aprintf(const char *fmt, ...)          /* caller frees; NULL on OOM */
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Levenshtein-based suggestion: the candidate closest to word within a
 * small distance, or NULL. Borrowed from candidates. */
const char *dv_did_you_mean(const char *word, const char *const *candidates, size_t n);
/* The value of hex digit c (either case), or -1. */
int dv_hexval(int c);

#endif /* DROVER_ENGINE_H */
