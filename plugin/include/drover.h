/*
 * drover.h - the public engine API of libdrover.
 *
 * One pipeline under every shell (the drover command, the SPANK plugin,
 * the power-save programs):
 *
 *   drover_template_load_*  -> drover_stack_open  -> drover_stack_refresh
 *     -> drover_plan_new -> drover_apply -> drover_stack_outputs
 *
 * Conventions (libgit2 style):
 *  - functions return a drover_code; 0 is success;
 *  - out parameters come first;
 *  - every function that returns memory says who frees it, and every
 *    _free(NULL) is a no-op;
 *  - errors are reported through a caller-owned drover_error; the first
 *    error recorded wins, so callers may pass one struct down a chain.
 *  - no hidden global state besides drover_global_init(): the library is
 *    loaded into slurmd and slurmstepd, which are not ours.
 */
#ifndef DROVER_H
#define DROVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DROVER_VERSION "0.1.0"

/* Error codes. Append only: never renumber or remove a code. */
typedef enum {
  DROVER_OK = 0,                 /* 0 */
  DROVER_E_NOMEM = 1,            /* 1 allocation failed */
  DROVER_E_ARG = 2,              /* 2 bad argument from the caller */
  DROVER_E_IO = 3,               /* 3 file or socket I/O failed */
  DROVER_E_SYNTAX = 4,           /* 4 template is not valid JSON */
  DROVER_E_TEMPLATE = 5,         /* 5 template is JSON but not a valid template */
  DROVER_E_PARAM = 6,            /* 6 a param value is missing, mistyped or out of bounds */
  DROVER_E_REFERENCE = 7,        /* 7 a ${...} reference is bad or unresolvable */
  DROVER_E_CYCLE = 8,            /* 8 dependency cycle */
  DROVER_E_PROVIDER = 9,         /* 9 permanent error from a cloud API */
  DROVER_E_TRANSIENT = 10,       /* 10 transient cloud error, retries exhausted */
  DROVER_E_NOT_FOUND = 11,       /* 11 object or project does not exist */
  DROVER_E_CONFLICT = 12,        /* 12 ETag mismatch: changed under us */
  DROVER_E_STALE_PLAN = 13,      /* 13 saved plan no longer matches live state */
  DROVER_E_LOCKED = 14,          /* 14 another drover holds the stack lock */
  DROVER_E_TIMEOUT = 15,         /* 15 an operation passed its deadline */
  DROVER_E_PREVENT_DESTROY = 16, /* 16 plan would destroy a protected resource */
  DROVER_E_UNSUPPORTED = 17,     /* 17 provider lacks the operation */
  DROVER_E_CANCELLED = 18,       /* 18 stopped by the caller (signal, prompt) */
  DROVER_E_PARTIAL = 19,         /* 19 apply finished with some resources failed */
  DROVER_E_CONFIG = 20,          /* 20 provider or plugin configuration is bad */
  DROVER_E_TLS = 21,             /* 21 TLS setup or verification failed */
  DROVER_E_INTERNAL = 22,        /* 22 a bug in drover */
  DROVER_E_CORRUPT = 23,         /* 23 data failed its checksum (a backup export) */
  DROVER_E_CAPACITY = 24,        /* 24 the cloud has no capacity for it now (EC2
                                    InsufficientInstanceCapacity); not retried */
  DROVER_E_NOT_SET_UP = 25       /* 25 the provider's own settings leave it nothing
                                    to reach here (AWS: no credentials, IMDS off) */
} drover_code;

/* Returns a static string; never NULL, never freed. */
const char *drover_strerror(drover_code code);

#define DROVER_ERROR_TEXT 1024

/*
 * Caller-owned error detail. Zero it (or drover_error_clear) before use.
 * The first error recorded wins; later ones are dropped so the root cause
 * survives cleanup paths.
 */
typedef struct drover_error {
  drover_code code;
  char source[256];   /* template file, or provider name ("lxd") */
  int line;           /* 1-based, 0 when unknown */
  int column;         /* 1-based, 0 when unknown */
  char address[128];  /* resource address ("web[0]"), "" when none */
  char text[DROVER_ERROR_TEXT]; /* one line, no trailing newline */
} drover_error;

void drover_error_clear(drover_error *err);

/*
 * Formats err as one line: "file:line:col: text" for template errors,
 * "address: text" for resource errors. Writes at most size bytes into
 * buf (always NUL-terminated) and returns buf.
 */
const char *drover_error_format(const drover_error *err, char *buf, size_t size);

/* --------------------------------------------------------------------------
 * Global init and logging
 */

/* Call once from a single thread before any other call (curl global init).
 * Safe to call more than once; reference counted. */
drover_code drover_global_init(void);
void drover_global_cleanup(void);

typedef enum {
  DROVER_LOG_ERROR = 0,
  DROVER_LOG_WARN = 1,
  DROVER_LOG_INFO = 2,
  DROVER_LOG_DEBUG = 3
} drover_log_level;

/*
 * The one log sink. msg is one line with secrets already redacted; it is
 * only valid during the call. May be called from apply's worker threads,
 * so the function must be thread safe.
 */
typedef void (*drover_log_fn)(void *userdata, drover_log_level level, const char *msg);

/* --------------------------------------------------------------------------
 * Templates and vars
 */

typedef struct drover_template drover_template;

/* Loads and validates the structure of a template (not its params).
 * *out is owned by the caller: drover_template_free(). On error *out is
 * NULL and err says file:line:column. */
drover_code drover_template_load_file(drover_template **out, const char *path,
                                      drover_error *err);
/* As above from memory; source names it in errors. buf need not be
 * NUL-terminated. */
drover_code drover_template_load_buffer(drover_template **out, const char *buf,
                                        size_t len, const char *source,
                                        drover_error *err);
void drover_template_free(drover_template *tpl);

/* Borrowed; valid while tpl lives. */
const char *drover_template_stack(const drover_template *tpl);
const char *drover_template_source(const drover_template *tpl);

/* Param introspection (for the SPANK shell, which checks user input
 * against declared params before anything else). Borrowed strings. */
size_t drover_template_param_count(const drover_template *tpl);
const char *drover_template_param_name(const drover_template *tpl, size_t i);
int drover_template_param_sensitive(const drover_template *tpl, const char *name);

typedef struct drover_vars drover_vars;

/* Caller frees with drover_vars_free(). NULL on allocation failure. */
drover_vars *drover_vars_new(void);
void drover_vars_free(drover_vars *vars);
/* Sets NAME from its string form ("--var k=v"); converted to the param's
 * type when the stack is opened. value is copied. */
drover_code drover_vars_set(drover_vars *vars, const char *name, const char *value,
                            drover_error *err);
/* Parses "k=v". */
drover_code drover_vars_set_kv(drover_vars *vars, const char *kv, drover_error *err);
/* Loads a JSON object of name -> value (typed values kept). */
drover_code drover_vars_load_file(drover_vars *vars, const char *path,
                                  drover_error *err);
/* Opens resource `name` (a block that has a count) with n instances
 * instead of its template count: how a scale.policy's decision flows
 * into plan and apply without rewriting the template. Saved plans keep
 * it. drover_stack_open() refuses a name without a count. */
drover_code drover_vars_count_set(drover_vars *vars, const char *name, long n,
                                  drover_error *err);

/* --------------------------------------------------------------------------
 * Stacks: a template evaluated with vars, bound to providers
 */

typedef struct drover_stack drover_stack;

typedef struct drover_options {
  unsigned version;          /* DROVER_OPTIONS_VERSION */
  const char *stack_name;    /* overrides the template's "stack" (SPANK: job-<id>-<name>) */
  drover_log_fn log;         /* NULL: silent */
  void *log_userdata;
  drover_log_level log_level;
  const char *provider_config; /* path of a JSON file merged over the template's
                                   "providers" (admin credentials); NULL for none */
  const char *lock_dir;      /* NULL: $DROVER_LOCK_DIR, else /run/drover or /tmp */
  /* ---- version >= 2: the stack lease in the provider (doc/locks.md) ---- */
  double lock_lease;         /* seconds a lease lasts unless renewed; 0:
                                $DROVER_LOCK_LEASE, else 30; < 0: no lease in
                                the provider, the lock file only */
  double lock_renew;         /* seconds between renewals; 0: $DROVER_LOCK_RENEW,
                                else a third of the lease */
  double lock_skew;          /* seconds the hosts' clocks may differ; a lease
                                is taken over only this long after it ran
                                out; 0: $DROVER_LOCK_SKEW, else 10; < 0: none */
} drover_options;
#define DROVER_OPTIONS_VERSION 2
#define DROVER_OPTIONS_INIT {DROVER_OPTIONS_VERSION, NULL, NULL, NULL, DROVER_LOG_INFO, \
                             NULL, NULL, 0, 0, 0}

/*
 * Checks params against their declarations, expands count, resolves the
 * references that do not need the cloud, builds the graph and rejects
 * cycles. Touches no cloud. tpl must outlive the stack.
 * *out is owned by the caller: drover_stack_free().
 */
drover_code drover_stack_open(drover_stack **out, const drover_template *tpl,
                              const drover_vars *vars, const drover_options *opts,
                              drover_error *err);
void drover_stack_free(drover_stack *stack);

/*
 * A stack known only by its name, with no template: every object labelled
 * with it is an orphan, so a plan deletes them all in dependency order.
 * This is how the SPANK epilog and `drover gc` remove a stack whose
 * template may have changed. providers_json is a JSON object text shaped
 * like a template's "providers" member: which providers to ask, with
 * their settings (e.g. {"lxd": {}}); NULL asks every provider there is
 * (built in, and every module in the search directories), each with the
 * settings from opts->provider_config or its own defaults.
 * *out: drover_stack_free().
 */
drover_code drover_stack_open_bare(drover_stack **out, const char *name,
                                   const char *providers_json,
                                   const drover_options *opts, drover_error *err);

/*
 * Names of every stack that owns objects in the given providers (one bulk
 * list per resource type); providers_json as for drover_stack_open_bare(),
 * NULL for every provider. *names is a NULL-terminated array owned by the
 * caller: drover_strv_free().
 */
drover_code drover_stacks_list(char ***names, const char *providers_json,
                               const drover_options *opts, drover_error *err);
void drover_strv_free(char **v);

/* Borrowed. */
const char *drover_stack_name(const drover_stack *stack);

/* Number of resource instances after count expansion. */
size_t drover_stack_resource_count(const drover_stack *stack);

/*
 * Connects the providers the template uses and lists, per resource type,
 * every object labelled with this stack: one bulk call per type.
 * Replaces what an earlier refresh found. A plan made before the refresh
 * stays readable, but drover_apply() refuses it (DROVER_E_STALE_PLAN).
 */
drover_code drover_stack_refresh(drover_stack *stack, drover_error *err);

/*
 * The live resources found by the last refresh as a JSON array text:
 * [{"address","type","name","hash","status","properties"}...].
 * Caller frees with free().
 */
drover_code drover_stack_show_json(char **out, const drover_stack *stack,
                                   drover_error *err);

/*
 * Evaluates the outputs against live state (after refresh or apply).
 * *out is a JSON object text {"name": {"value":..,"sensitive":bool}};
 * sensitive values are included only when reveal_sensitive is set.
 * Caller frees with free().
 */
drover_code drover_stack_outputs_json(char **out, drover_stack *stack,
                                      int reveal_sensitive, drover_error *err);

/*
 * The per-stack lock, so two drover processes never refresh-plan-apply
 * one stack at the same time: a lock file on this machine (flock), then,
 * in every provider of the stack that offers one, a lease held in the
 * cloud by compare-and-swap, so processes on other machines are kept out
 * too (doc/locks.md). The lease records a random lock id, host, pid and
 * Slurm job, and is renewed by a thread while held. Waits up to
 * wait_seconds (0: try once), with backoff, logging who holds it, then
 * fails with DROVER_E_LOCKED naming the holder (and the lock id that
 * drover_stack_force_unlock() needs). A holder that died is taken over
 * only once its lease ran out (plus opts.lock_skew). drover_apply() takes
 * the lock itself if the caller does not hold it, and stops starting
 * actions if the lease is lost. Released by drover_stack_unlock() or
 * drover_stack_free().
 */
drover_code drover_stack_lock(drover_stack *stack, double wait_seconds,
                              drover_error *err);
void drover_stack_unlock(drover_stack *stack);

/*
 * Removes the stack's lease from every provider of the stack whose lease
 * carries lock_id, whoever holds it, for a holder that will not come back
 * before its lease runs out. A lease with another id is left alone
 * (DROVER_E_ARG, naming the lock id it has); DROVER_E_NOT_FOUND when the
 * stack holds no lease anywhere. A live holder notices at its next renewal
 * and stops starting actions. Does not take the lock itself.
 */
drover_code drover_stack_force_unlock(drover_stack *stack, const char *lock_id,
                                      drover_error *err);

/* --------------------------------------------------------------------------
 * Plans
 */

typedef enum {
  DROVER_ACTION_NOOP = 0,
  DROVER_ACTION_CREATE = 1,
  DROVER_ACTION_UPDATE = 2,
  DROVER_ACTION_REPLACE = 3,
  DROVER_ACTION_DELETE = 4
} drover_action;

/* "no-op", "create", "update", "replace", "delete". Static. */
const char *drover_action_name(drover_action action);

typedef struct drover_plan drover_plan;

#define DROVER_PLAN_DESTROY 0x1u /* plan to delete everything the stack owns */

/* Diffs the stack's desired state against the last refresh.
 * *out is owned by the caller: drover_plan_free(). */
drover_code drover_plan_new(drover_plan **out, drover_stack *stack, unsigned flags,
                            drover_error *err);
void drover_plan_free(drover_plan *plan);

/* Read access, for shells that render plans their own way. Borrowed. */
size_t drover_plan_count(const drover_plan *plan);
drover_action drover_plan_action(const drover_plan *plan, size_t i);
const char *drover_plan_address(const drover_plan *plan, size_t i);
const char *drover_plan_type(const drover_plan *plan, size_t i);
const char *drover_plan_reason(const drover_plan *plan, size_t i);
/* Number of entries that are not no-ops. */
size_t drover_plan_changes(const drover_plan *plan);

/* Human diff. color: use ANSI colours. Sensitive values are redacted. */
drover_code drover_plan_render(const drover_plan *plan, FILE *out, int color);
/* Machine plan as JSON text; caller frees with free(). */
drover_code drover_plan_to_json(char **out, const drover_plan *plan, drover_error *err);

/*
 * Saved plans. A saved plan embeds the template text, the vars and the
 * ETag of every live object it read, so drover_plan_load() can rebuild the
 * stack and drover_apply() can refuse if anything changed in between.
 * The stack is owned by the plan; the template is owned by the plan.
 */
drover_code drover_plan_save(const drover_plan *plan, const char *path,
                             drover_error *err);
drover_code drover_plan_load(drover_plan **out, drover_stack **stack_out,
                             const char *path, const drover_options *opts,
                             drover_error *err);

/* Graphviz DOT of the stack's graph, with the plan's actions when plan is
 * not NULL. Caller frees *out with free(). */
drover_code drover_graph_dot(char **out, const drover_stack *stack,
                             const drover_plan *plan, drover_error *err);

/* --------------------------------------------------------------------------
 * Apply
 */

typedef enum {
  DROVER_EVENT_START = 0,   /* an action on address began */
  DROVER_EVENT_DONE = 1,    /* it succeeded */
  DROVER_EVENT_RETRY = 2,   /* a transient fault; will retry */
  DROVER_EVENT_FAILED = 3,  /* it failed for good (detail in message) */
  DROVER_EVENT_SKIPPED = 4  /* not attempted: a dependency failed */
} drover_event_kind;

typedef struct drover_event {
  drover_event_kind kind;
  drover_action action;
  const char *address;
  const char *message;   /* redacted; may be NULL */
  double elapsed;        /* seconds since this action started */
  size_t done, total;    /* progress over the whole apply */
} drover_event;

/* Called from worker threads, serialised by the engine. */
typedef void (*drover_progress_fn)(void *userdata, const drover_event *ev);

typedef struct drover_apply_opts {
  unsigned version;          /* DROVER_APPLY_OPTS_VERSION */
  unsigned parallelism;      /* 0: 10 */
  unsigned max_retries;      /* retries of a transient failure, 0 for none;
                                DROVER_RETRIES_DEFAULT: 5. (Version 1 callers:
                                0 also means 5, as it did then.) */
  double retry_base;         /* seconds; 0: 0.5 */
  double op_timeout;         /* seconds per cloud operation; 0: 300 */
  drover_progress_fn progress;
  void *progress_userdata;
  volatile int *cancel;      /* set non-zero (e.g. from a signal handler) to stop
                                starting new actions */
} drover_apply_opts;
/* 2: max_retries 0 means no retry; "unset" is DROVER_RETRIES_DEFAULT. */
#define DROVER_APPLY_OPTS_VERSION 2
#define DROVER_RETRIES_DEFAULT ((unsigned)-1)
#define DROVER_APPLY_OPTS_INIT {DROVER_APPLY_OPTS_VERSION, 0, DROVER_RETRIES_DEFAULT, 0, 0, \
                                NULL, NULL, NULL}

typedef struct drover_apply_result {
  size_t created, updated, replaced, deleted, failed, skipped;
} drover_apply_result;

/*
 * Applies plan to the cloud in dependency order under the stack lock.
 * Refuses with DROVER_E_STALE_PLAN (naming the resource) if the live
 * state no longer matches what the plan read, or (for a plan from
 * drover_plan_new) when the stack was refreshed after the plan was made.
 * Returns DROVER_E_PARTIAL
 * when some actions failed; err holds the first failure. result may be
 * NULL.
 */
drover_code drover_apply(drover_plan *plan, const drover_apply_opts *opts,
                         drover_apply_result *result, drover_error *err);

/* ------------------------------------------------------------------------
 * Backups (backup.c): backup.policy resources of an open stack
 *
 * Each call refreshes the stack if it was not, and writes a JSON report
 * to *out (caller frees; also written, as far as it got, on a partial
 * failure). Snapshot names and labels: doc/backups.md.
 */

typedef struct drover_backup_opts {
  unsigned version;     /* DROVER_BACKUP_OPTS_VERSION */
  long long now;        /* Unix seconds; 0: the clock (tests pass a fake one) */
  int dry_run;          /* prune: report only */
  int force;            /* restore: also over a running instance */
  double timeout;       /* seconds per cloud operation; 0: 600 */
  /* version >= 2: restore from an export, and where restores and drills go */
  const char *from_export; /* restore: the policy whose export to restore
                              (opts->snapshot names the slot; NULL: newest) */
  const char *new_name;    /* restore: the new instance's name; NULL: the
                              exported instance's own (then it becomes the
                              stack's resource again) */
  const char *project;     /* restore, verify: the LXD project to create in;
                              NULL: the stack's */
  const char *remote;      /* restore, verify: a JSON file of provider
                              settings for another server; NULL: the stack's */
  const char *tmpdir;      /* where exports are staged; NULL: $TMPDIR or /var/tmp */
} drover_backup_opts;

#define DROVER_BACKUP_OPTS_VERSION 2
#define DROVER_BACKUP_OPTS_INIT {DROVER_BACKUP_OPTS_VERSION, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL}

/* Takes the current slot's snapshot of each target, with the pre and
 * post hooks around it; a snapshot that already exists for the slot is
 * kept ("exists"), never duplicated. DROVER_E_PARTIAL when some targets
 * failed. policy: the resource name or address. */
drover_code drover_backup_run(char **out, drover_stack *stack, const char *policy,
                              const drover_backup_opts *opts, drover_error *err);
/* Applies the retention to the policy's own snapshots (others are never
 * touched); opts->dry_run reports what would go and which rule keeps the
 * rest. */
drover_code drover_backup_prune(char **out, drover_stack *stack, const char *policy,
                                const drover_backup_opts *opts, drover_error *err);
/* Lists the policy's snapshots; policy NULL: every policy of the stack,
 * each entry naming its policy. */
drover_code drover_backup_list(char **out, drover_stack *stack, const char *policy,
                               drover_error *err);
/* A DR drill: for each target, copies the policy's newest snapshot into
 * a scratch instance, starts it, runs the policy's hooks.check command in
 * it, and deletes it. DROVER_E_PROVIDER when a target fails. (Exports are
 * not drilled yet.) */
drover_code drover_backup_verify(char **out, drover_stack *stack, const char *policy,
                                 const drover_backup_opts *opts, drover_error *err);
/* Restores instance `address` in place from snapshot; refuses a running
 * instance unless opts->force. */
drover_code drover_backup_restore(char **out, drover_stack *stack, const char *address,
                                  const char *snapshot, const drover_backup_opts *opts,
                                  drover_error *err);

/* ------------------------------------------------------------------------
 * Drift checks (drift.c): drift.policy resources of an open stack
 */

typedef struct drover_drift_opts {
  unsigned version;     /* DROVER_DRIFT_OPTS_VERSION */
  int no_repair;        /* report only, even when the policy has auto_repair */
  double lock_timeout;  /* seconds to wait for each target stack's lock */
  double op_timeout;    /* repair: seconds per cloud operation; 0: apply's */
} drover_drift_opts;
#define DROVER_DRIFT_OPTS_VERSION 1
#define DROVER_DRIFT_OPTS_INIT {DROVER_DRIFT_OPTS_VERSION, 0, 0, 0}

/*
 * Plans every stack the policy targets (its template STACK.json and vars
 * STACK.vars.json from the policy's templates directory) and writes a
 * JSON report to *out (caller frees; also on failure, as far as it got):
 * per stack the drifted resources with the plan's reason and a "why"
 * ("stopped out of band", "deleted out of band ...", "changed out of
 * band: config"); with auto_repair the plan is applied unless it deletes.
 * A stack whose template, vars or plan fails is reported ("error") and
 * left alone. DROVER_E_PARTIAL (or _PROVIDER when all failed) then; drift
 * alone is not an error.
 */
drover_code drover_drift_run(char **out, drover_stack *stack, const char *policy,
                             const drover_drift_opts *opts, drover_error *err);

/* ------------------------------------------------------------------------
 * Scheduled policy runs (schedule_slot.c, metrics.c, webhook.c)
 */

/* The scheduled policy named policy (address or name) of an open stack, as
 * JSON text {"address","type","schedule","timezone"}: type is the
 * resource type ("backup.policy", "scale.policy", "drift.policy"),
 * schedule and timezone its members when they are strings (a policy
 * without a cron schedule has none). Caller frees. DROVER_E_ARG when the
 * stack has no such policy. */
drover_code drover_policy_describe(char **out, const drover_stack *stack, const char *policy,
                                   drover_error *err);

/* What one scheduled run at time now does. */
typedef struct drover_slot_plan {
  long long slot;    /* the slot this run is for: the last one at or before now */
  long long next;    /* the first slot after now: where the next job begins */
  long long missed;  /* slots after last_slot and before slot, coalesced into this
                        run (counted up to 1000) */
  int run;           /* 0: slot was already run (last_slot >= slot) */
} drover_slot_plan;

/* For a cron expression in zone tz (NULL: "UTC"), last_slot the slot the
 * policy last ran for (0: never) and now (Unix seconds). Slots missed while
 * the cluster was down are run once, not once each. */
drover_code drover_schedule_plan(drover_slot_plan *out, const char *cron, const char *tz,
                                 long long last_slot, long long now, drover_error *err);

/* One run's outcome: what the metrics file and the webhook say. A count
 * that does not apply to the policy's kind is -1 (not exported). Strings
 * borrowed. */
typedef struct drover_run_metrics {
  const char *stack;
  const char *policy;
  const char *kind;          /* "backup", "scale" or "drift" */
  int ok;                    /* the run succeeded */
  long long started;         /* Unix seconds */
  double duration;           /* seconds */
  long long slot;            /* the schedule slot run for */
  long long last_success;    /* Unix seconds of the last successful run; 0: never */
  long long missed;          /* slots coalesced into this run */
  long long bytes;           /* backup: bytes exported, -1 when unknown */
  long long kept, deleted;   /* backup prune: snapshots kept / deleted */
  long long current, desired; /* scale: counts */
  long long drifted;         /* drift: drifted resources */
  long long repaired;        /* drift: stacks repaired */
  const char *error;         /* one line, or NULL */
} drover_run_metrics;
#define DROVER_RUN_METRICS_INIT {NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, NULL}

/* The Prometheus text exposition of m (HELP, TYPE and one sample per
 * metric, labelled stack, policy and kind). Caller frees. */
drover_code drover_metrics_format(char **out, const drover_run_metrics *m, drover_error *err);
/* Writes it atomically (a temporary file in dir, fsync, rename) to
 * dir/drover_<stack>_<policy>.prom, creating dir (0755) if missing, so
 * node_exporter's textfile collector never reads half a file. */
drover_code drover_metrics_write(const char *dir, const drover_run_metrics *m,
                                 drover_error *err);

typedef struct drover_webhook {
  unsigned version;     /* DROVER_WEBHOOK_VERSION */
  const char *url;      /* http(s)://...; may carry a token: never logged or sent */
  double timeout;       /* seconds per attempt; 0: 10 */
  unsigned retries;     /* on connection errors, 429 and 5xx; 0: 3 */
  const char *ca_file;  /* verify the server against this; NULL: system store */
} drover_webhook;
#define DROVER_WEBHOOK_VERSION 1
#define DROVER_WEBHOOK_INIT {DROVER_WEBHOOK_VERSION, NULL, 0, 0, NULL}

/* The JSON body for a run (event "failure" or "drift"): stack, policy,
 * kind, ok, slot, started_at, duration_seconds, the counts that apply and
 * the error line with registered secrets and URL credentials and queries
 * removed. Never the webhook URL, vars or provider settings. Caller
 * frees. */
drover_code drover_webhook_body(char **out, const char *event, const drover_run_metrics *m,
                                drover_error *err);
/* POSTs body (application/json) with retries and backoff; a non-2xx answer
 * after them is DROVER_E_PROVIDER. Error texts never carry the URL. */
drover_code drover_webhook_send(const drover_webhook *w, const char *body, drover_error *err);

/* ------------------------------------------------------------------------
 * Scale policies (scale.c): scale.policy resources of an open stack
 * (doc/scale.md). A policy targets a counted resource of its stack and
 * asks for a count by schedule windows, an optional Slurm queue rule,
 * min, max and a cooldown. Its last decision is kept as a label on the
 * policy's own cloud object, never in a local file.
 */

/* Pending jobs in a Slurm partition, for the queue rule: the command
 * reads them with libslurm (libdrover does not link it). */
typedef drover_code (*drover_pending_fn)(void *userdata, const char *partition,
                                         long *pending, drover_error *err);

typedef struct drover_scale_opts {
  unsigned version;          /* DROVER_SCALE_OPTS_VERSION */
  long long now;             /* Unix seconds; 0: the clock (tests pass a fake one) */
  int dry_run;               /* decide and report; apply and record nothing */
  double lock_wait;          /* seconds to wait for the stack lock */
  drover_pending_fn pending; /* NULL: a policy with a queue rule fails */
  void *pending_userdata;
  const drover_apply_opts *apply; /* NULL: the defaults */
} drover_scale_opts;
#define DROVER_SCALE_OPTS_VERSION 1
#define DROVER_SCALE_OPTS_INIT {DROVER_SCALE_OPTS_VERSION, 0, 0, 0, NULL, NULL, NULL}

/*
 * Runs scale.policy `policy` (resource name or address): locks and
 * refreshes the stack, decides the count, and when it differs from the
 * live count (and no cooldown holds it) plans and applies the stack with
 * the target's count overridden (drover_vars_count_set), then records the
 * decision on the policy's object. *out (caller frees; also set on most
 * failures, with "ok": false) is the JSON report described in
 * doc/scale.md. DROVER_E_PARTIAL when the apply partly failed.
 */
drover_code drover_scale_run(char **out, drover_stack *stack, const char *policy,
                             const drover_scale_opts *opts, drover_error *err);

/*
 * After a refresh: adds to vars the count each scale.policy of the stack
 * last left its target at (its recorded decision), where that differs
 * from the count the stack was opened with, and sets *changed. A plain
 * plan or apply reopens the stack with these vars, so it keeps the scale
 * the policy set instead of undoing it (drover plan and apply do).
 */
drover_code drover_scale_counts(drover_vars *vars, const drover_stack *stack, int *changed,
                                drover_error *err);

/* After a refresh: what every scale.policy of the stack asks for now, as
 * a JSON array text of {"policy","target","current","desired","rule",
 * "reason",...} (caller frees). For drover plan. */
drover_code drover_scale_asks(char **out, drover_stack *stack,
                              const drover_scale_opts *opts, drover_error *err);

/* --------------------------------------------------------------------------
 * Provider modules (registry.c)
 *
 * Providers are built in or loaded from <name>.so modules (configure
 * --enable-<name>=dl). A template naming an unknown provider loads its
 * module from the search directories: those added here, in order, then
 * $(pkglibdir)/providers. A module must be root's, not group/world
 * writable, not a symlink, in a directory chain of the same kind; one that
 * is refused is an error saying why, never loaded. Call these from one
 * thread before apply starts its workers.
 */

/* Adds an absolute directory to search before $(pkglibdir)/providers. */
drover_code drover_provider_dir_add(const char *dir, drover_error *err);

/* Loads the module at the absolute path. *name (may be NULL) is the
 * provider's name, borrowed for the process's life. */
drover_code drover_provider_load(const char *path, const char **name,
                                 drover_error *err);

/* Loads every module in the search directories whose provider is not
 * known yet: `drover gc` and the SPANK epilog must ask every provider that
 * may hold labelled objects. */
drover_code drover_providers_load_all(drover_error *err);

/* Every known provider (built in, loaded) as a JSON object text with
 * empty settings, {"lxd":{}}: the providers argument of
 * drover_stack_open_bare() and drover_stacks_list() when nothing more
 * specific is known. Caller frees *out with free(). */
drover_code drover_providers_json(char **out, drover_error *err);

/* --------------------------------------------------------------------------
 * Stacks known only by name (destroy.c) and Slurm job stacks (jobstack.c)
 */

typedef struct drover_destroy_opts {
  unsigned version;          /* DROVER_DESTROY_OPTS_VERSION */
  double lock_wait;          /* seconds to wait for the stack lock (0: try once) */
  int dry_run;               /* plan only; result->planned says what would go */
  const drover_apply_opts *apply; /* NULL: the defaults */
} drover_destroy_opts;
#define DROVER_DESTROY_OPTS_VERSION 1
#define DROVER_DESTROY_OPTS_INIT {DROVER_DESTROY_OPTS_VERSION, 0, 0, NULL}

typedef struct drover_destroy_result {
  size_t planned;            /* objects the destroy plan would delete */
  size_t deleted;            /* objects deleted */
} drover_destroy_result;

/*
 * Destroys everything labelled with stack name: opens it bare
 * (providers_json as for drover_stack_open_bare(), NULL for every
 * provider), takes its lock, refreshes, plans the destroy and applies it.
 * What the SPANK epilog and `drover gc` do. DROVER_E_LOCKED when someone
 * holds the lock past dopts->lock_wait. result may be NULL.
 */
drover_code drover_stack_destroy_bare(const char *name, const char *providers_json,
                                      const drover_options *opts,
                                      const drover_destroy_opts *dopts,
                                      drover_destroy_result *result, drover_error *err);

/* Longest job stack name, and longest template name it is built from. */
#define DROVER_JOB_STACK_MAX 40
#define DROVER_JOB_TEMPLATE_MAX 32

/* A template name a job may ask for: [a-z0-9_-], 1..32 bytes. */
int drover_job_template_name_ok(const char *name);

/*
 * The stack name for a Slurm job: "job-<jobid>-<name>", '_' mapped to
 * '-'. When that is longer than DROVER_JOB_STACK_MAX, the name part is cut
 * and an 8-hex-digit hash of the full name appended, so the result is
 * deterministic (the epilog recomputes it) and still unique per job.
 * Returns 0, or -1 for a bad name or a buf smaller than
 * DROVER_JOB_STACK_MAX + 1.
 */
int drover_job_stack_name(char *buf, size_t size, uint32_t jobid, const char *name);

/* Parses "job-<digits>-..." into *jobid. Returns 0, or -1 if stack is not
 * a job stack. */
int drover_job_stack_jobid(const char *stack, uint32_t *jobid);


/* --------------------------------------------------------------------------
 * Node stacks: elastic (Slurm cloud) nodes (nodes.c, reconcile.c)
 *
 * Each cloud node is its own stack, named DROVER_NODE_STACK_PREFIX + the
 * node's name ("node-cloud1"), built from one node template whose param
 * "node" (when declared) receives the node's name. `drover gc` only
 * judges job-<id>-* stacks, so it never touches these. A node set holds
 * many node stacks: they share one instance of each provider, and one
 * refresh lists each resource type once for all of them.
 */
#define DROVER_NODE_STACK_PREFIX "node-"

/* Writes "node-<node>" into buf (size bytes). DROVER_E_ARG when node
 * holds anything but lowercase letters, digits and '-', or the name would
 * pass 63 characters. */
drover_code drover_node_stack_name(char *buf, size_t size, const char *node,
                                   drover_error *err);
/* The node of a node stack's name ("node-x" -> "x"), or NULL when stack is
 * not one. Borrowed from stack. */
const char *drover_node_of_stack(const char *stack);

typedef struct drover_nodeset drover_nodeset;

/* tpl (the node template) must outlive the set; opts is copied, its
 * strings borrowed; opts->stack_name is ignored. Touches no cloud.
 * *out: drover_nodeset_free(). */
drover_code drover_nodeset_new(drover_nodeset **out, const drover_template *tpl,
                               const drover_options *opts, drover_error *err);
void drover_nodeset_free(drover_nodeset *set);
/* Opens node's stack from the template with vars (may be NULL; read
 * during the call only), "node" added when the template declares it and
 * vars do not set it. */
drover_code drover_nodeset_add(drover_nodeset *set, const char *node,
                               const drover_vars *vars, drover_error *err);
size_t drover_nodeset_count(const drover_nodeset *set);
/* Borrowed; NULL past the end. */
const char *drover_nodeset_node(const drover_nodeset *set, size_t i);
drover_stack *drover_nodeset_stack(drover_nodeset *set, size_t i);
/* Non-zero for a node refresh added (DROVER_NODESET_ADOPT). */
int drover_nodeset_adopted(const drover_nodeset *set, size_t i);

/* refresh: also add every node stack found in the cloud that the set does
 * not hold (from the template when it accepts the node, else bare). */
#define DROVER_NODESET_ADOPT 0x1u
/* One list per resource type (no stack filter), every object handed to
 * its node stack, which is then refreshed from it without a cloud call. */
drover_code drover_nodeset_refresh(drover_nodeset *set, unsigned flags,
                                   drover_error *err);

/* What the last refresh found for node i. */
typedef struct drover_node_live {
  size_t objects;  /* live objects its stack owns */
  int complete;    /* every resource exists and matches the template */
  double age;      /* seconds since its newest object was created; -1 unknown */
} drover_node_live;
drover_code drover_nodeset_live(drover_node_live *out, drover_nodeset *set, size_t i,
                                drover_error *err);

/* Called once per node applied, from worker threads, one at a time. */
typedef void (*drover_node_done_fn)(void *userdata, size_t i, drover_code rc,
                                    const drover_error *err);

typedef struct drover_nodeset_opts {
  unsigned version;        /* DROVER_NODESET_OPTS_VERSION */
  unsigned parallelism;    /* nodes worked on at once; 0: 16 */
  double rate;             /* nodes started per second; 0: no limit */
  double lock_wait;        /* seconds to wait for a busy node's lock (then
                              refresh it again); 0: fail it as locked */
  drover_apply_opts apply; /* each node's apply (retries, timeouts, cancel) */
  drover_node_done_fn done;
  void *userdata;
} drover_nodeset_opts;
#define DROVER_NODESET_OPTS_VERSION 1
#define DROVER_NODESET_OPTS_INIT {DROVER_NODESET_OPTS_VERSION, 0, 0, 0, \
                                  DROVER_APPLY_OPTS_INIT, NULL, NULL}

/*
 * Plans (plan_flags: 0 to build, DROVER_PLAN_DESTROY to delete) and
 * applies each node whose which[i] is non-zero (which NULL: every node),
 * in parallel, each under its stack lock. DROVER_E_PARTIAL when some
 * node failed (err: the first); drover_nodeset_result() tells each.
 */
drover_code drover_nodeset_apply(drover_nodeset *set, const unsigned char *which,
                                 unsigned plan_flags, const drover_nodeset_opts *o,
                                 drover_error *err);
/* Node i's outcome of the last apply; err gets its error. */
drover_code drover_nodeset_result(const drover_nodeset *set, size_t i,
                                  drover_apply_result *res, drover_error *err);

/*
 * The repair loop's decisions, a pure function: what to do for each node
 * given Slurm's view, the cloud's view and the policy.
 */
typedef struct drover_rc_node {
  const char *name;
  int in_slurm;        /* Slurm knows the node (0: only its stack exists) */
  int powered_down;    /* POWERED_DOWN ("~") */
  int powering_up;     /* POWERING_UP ("#") */
  int powering_down;   /* POWERING_DOWN ("%") or POWER_DOWN pending ("!") */
  int down;            /* base state DOWN */
  int drained;         /* DRAIN flag */
  const char *reason;  /* Slurm's reason, or NULL */
  double reason_age;   /* seconds since the reason was set; -1 unknown */
  int busy;            /* a power-save program holds the node's stack lock */
  size_t objects;      /* live objects its stack owns */
  int complete;        /* the instance exists and matches the template */
  double age;          /* seconds since its newest object was created; -1 unknown */
} drover_rc_node;

#define DROVER_RC_DELETE 0x1u   /* delete the node's instance */
#define DROVER_RC_CREATE 0x2u   /* (re)build the instance and tell Slurm its address */
#define DROVER_RC_RESET 0x4u    /* return the node to service (state RESUME) */

typedef struct drover_rc_policy {
  double grace;        /* seconds an instance of a powered-down node may live
                          (still booting, being suspended) */
  double retry_after;  /* seconds before a node drover set DOWN is tried again */
} drover_rc_policy;

/* actions (what to do) and why (a short static phrase) for one node. */
void drover_reconcile_decide(unsigned *actions, const char **why,
                             const drover_rc_node *node, const drover_rc_policy *p);

#ifdef __cplusplus
}
#endif

#endif /* DROVER_H */
