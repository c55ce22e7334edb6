/*
 * drover_provider.h - what a cloud provider implements (the implementer's
 * side of the boundary, like curl's vtls_int.h or libgit2's git2/sys/).
 *
 * A provider is one `const struct drover_provider` with everything else in
 * its folder `static`. The engine calls it only through this table and
 * never includes a provider's own headers. New members are only ever
 * appended; bump DROVER_PROVIDER_VERSION when they are.
 *
 * Threading: apply calls list/create/update/delete from several worker
 * threads at once on the same state. A provider must be safe for that
 * (e.g. one curl easy handle per call, no shared mutable buffers).
 */
#ifndef DROVER_PROVIDER_H
#define DROVER_PROVIDER_H

#include <jansson.h>
#include "drover.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 2: drover_rtype gained exports, rules and name_check; drover_provider
 * gained settings, then the check, snapshot and exec ops; drover_res_req
 * and drover_live gained sensitive (and drover_live delete_note). The
 * engine reads those members only from tables that say version >= 2. */
/* 3: drover_provider gained table_size, drover_rtype flags and
 * drover_res_req idempotency_token. Modules built against an older
 * header are still accepted (DROVER_PROVIDER_VERSION_MIN); their tables
 * are copied into a full-size struct, so members they lack read as zero. */
/* 4: drover_provider gained label_set. */
/* 5: drover_provider gained backup_export and backup_import. */
/* 6: drover_provider gained the lock ops (lock_read, lock_create,
 * lock_write, lock_delete); older tables load with them NULL. */
/* 7: drover_provider gained backup_live_begin and backup_live_end. */
/* 8: drover_provider gained del_many, drover_rtype the flag
 * DROVER_RTYPE_DELETE_MANY. */
#define DROVER_PROVIDER_VERSION 8
#define DROVER_PROVIDER_VERSION_MIN 1

/* Ownership label keys. Each provider stores them in its cloud's own
 * label mechanism (LXD: config "user.drover.<key>"). */
#define DROVER_LABEL_STACK "stack"     /* stack name */
#define DROVER_LABEL_ADDRESS "address" /* resource address, "web[0]" */
#define DROVER_LABEL_HASH "hash"       /* hash of the desired properties */
#define DROVER_LABEL_VERSION "version" /* drover version that wrote it */
#define DROVER_LABEL_DEPS "deps"       /* comma-separated addresses it depends on;
                                          "NAME[*]": every instance of counted
                                          block NAME (older labels list each) */
#define DROVER_LABEL_SENSITIVE "sensitive" /* comma-separated property pointers that
                                               held secrets ("/config/user.token") */

/* --------------------------------------------------------------------------
 * Schema
 */

typedef enum {
  DROVER_T_ANY = 0,
  DROVER_T_STRING = 1,
  DROVER_T_INTEGER = 2,
  DROVER_T_NUMBER = 3,
  DROVER_T_BOOLEAN = 4,
  DROVER_T_ARRAY = 5,      /* array of strings */
  DROVER_T_OBJECT = 6,     /* object of anything */
  DROVER_T_STRING_MAP = 7, /* object whose values are strings (LXD config) */
  DROVER_T_OBJECT_MAP = 8, /* object whose values are string maps (LXD devices) */
  DROVER_T_OBJECT_ARRAY = 9, /* array of objects (EC2 block device mappings,
                                network interfaces); plans show changes per
                                element path, "disks[1].size" */
  DROVER_T_MAP_OF_OBJECTS = 10 /* object whose values are objects of anything
                                  (nested maps, lists) */
} drover_ptype;

#define DROVER_PROP_REQUIRED 0x01u  /* must be set in the template */
#define DROVER_PROP_FORCE_NEW 0x02u /* a change forces replacement */
#define DROVER_PROP_NO_DIFF 0x04u   /* never compared with live state */
#define DROVER_PROP_SENSITIVE 0x08u /* always holds secrets: shown as (sensitive) */
/* Strings too large to read back at every refresh (an S3 object's inline
 * content): the provider may report the live value as {"sha256": "<hex>"},
 * the SHA-256 it stored with the object, and the diff compares that with
 * the desired string's. */
#define DROVER_PROP_DIGEST 0x10u

typedef struct drover_prop {
  const char *name;
  drover_ptype type;
  unsigned flags;              /* DROVER_PROP_* */
  const char *default_json;    /* JSON text of the default, NULL for none */
  const char *const *enum_values; /* NULL-terminated, for strings; NULL for any */
  const char *doc;             /* one line, for errors and docs */
} drover_prop;

/* Value rules, checked at validate on literal values and at plan on
 * evaluated ones, so a template that can only fail at apply fails early. */
#define DROVER_RULE_NONEMPTY 0x01u /* strings: not "" */
#define DROVER_RULE_MIN 0x02u      /* numbers: >= min; strings: >= min characters */
#define DROVER_RULE_MAX 0x04u      /* numbers: <= max; strings: <= max characters */
#define DROVER_RULE_ABOVE_MIN 0x08u /* numbers: > min (with DROVER_RULE_MIN) */

typedef struct drover_rule {
  const char *prop;            /* property (or setting) name; NULL ends a list */
  unsigned flags;              /* DROVER_RULE_* */
  double min, max;
  const char *pattern;         /* POSIX ERE a string must match wholly, or NULL */
  const char *pattern_doc;     /* what the pattern means, for errors */
} drover_rule;

/* A cloud-name rule: 0 when name is acceptable; otherwise writes a phrase
 * such as `must start with a letter` to why (size bytes) and returns 1.
 * Pure: no I/O, callable before init. */
typedef int (*drover_name_check_fn)(const char *name, char *why, size_t size);

/* Identity of a type's objects (drover_rtype.flags). Without
 * DROVER_RTYPE_SERVER_ID drover chooses the name (req->name, deterministic
 * from stack and address; LXD). With it the cloud assigns an ID when it
 * creates the object (EC2 instances, volumes, snapshots): req->name is
 * only a display name the provider may set as a tag, drover_live.name is
 * the ID, and attributes carry it as "id" (the engine adds it if the
 * provider did not), so `${resource.x.id}` resolves after create.
 * Ownership is then the labels alone, so create must set them in the
 * request that creates the object, and should pass req->idempotency_token
 * where the cloud takes one (EC2 ClientToken): a create whose response was
 * lost and is retried then returns the first object, and one interrupted
 * by a crash is found by its labels on the next refresh and adopted. */
#define DROVER_RTYPE_SERVER_ID 0x01u
/* The provider's del_many (version >= 8) takes objects of this type: the
 * engine hands it the deletes of the type that are ready at once. */
#define DROVER_RTYPE_DELETE_MANY 0x02u
/* The type's objects may be targets of a backup.policy: the provider's
 * snapshot ops accept their cloud names as `instance` (EBS volumes, and
 * EC2 instances for all their volumes at once). A provider's instance type
 * ("<name>.instance") is a target without the flag, as before. */
#define DROVER_RTYPE_BACKUP 0x04u

typedef struct drover_rtype {
  const char *name;            /* "lxd.instance" */
  const drover_prop *props;    /* terminated by an entry with name == NULL */
  /* Orphans (no longer in the template) are deleted in decreasing
   * delete_order, so dependents (instances: 1) go before what they use
   * (profiles, volumes: 0). Dependency labels refine this. */
  int delete_order;
  const char *doc;
  /* ---- version >= 2 (members below are read only from such tables) ---- */
  /* Attributes references may read besides the properties and "name"
   * ("status"), NULL-terminated. NULL: not declared, any attribute is
   * accepted; an empty list declares there are none. */
  const char *const *exports;
  /* Value rules per property; NULL or terminated by prop == NULL. */
  const drover_rule *rules;
  /* Rule for the cloud name (given or derived); NULL: any. */
  drover_name_check_fn name_check;
  /* ---- version >= 3 ---- */
  unsigned flags;              /* DROVER_RTYPE_* */
} drover_rtype;

/* --------------------------------------------------------------------------
 * Live objects
 */

/* One object read from the cloud. Every member is owned by the struct. */
typedef struct drover_live {
  char *name;          /* cloud name */
  char *address;       /* ownership label; NULL when missing */
  char *hash;          /* hash label; NULL when missing */
  char *deps;          /* deps label; NULL when missing */
  char *etag;          /* for If-Match; NULL when the API has none */
  char *status;        /* free text for `drover show` ("Running"); may be NULL */
  json_t *properties;  /* observed, normalised to the template's shape,
                          without labels or server-owned keys */
  json_t *attributes;  /* referenceable attributes; includes "name" */
  char *stack;         /* stack label; NULL when missing (appended member) */
  char *sensitive;     /* sensitive label (DROVER_LABEL_SENSITIVE); NULL when
                          missing (version >= 2) */
  char *delete_note;   /* what deleting it also does, for the plan ("its 3
                          snapshots are deleted"); NULL: nothing (appended) */
} drover_live;

/* Returns a zeroed object (properties and attributes are empty objects);
 * NULL on allocation failure. Free with drover_live_free(). */
drover_live *drover_live_new(void);
void drover_live_free(drover_live *live);

/* A growable array of live objects. Owns its items. */
typedef struct drover_live_list {
  drover_live **items;
  size_t count, cap;
} drover_live_list;

/* Takes ownership of live, also on failure. */
drover_code drover_live_list_push(drover_live_list *list, drover_live *live);
/* Frees the items and the array; leaves an empty list. */
void drover_live_list_clear(drover_live_list *list);

/* One instance snapshot as listed (version 2). labels holds what the
 * provider stored with the snapshot (for LXD: the "user.drover.backup.*"
 * keys of the instance config the snapshot captured), name -> string. */
typedef struct drover_snapshot {
  char *instance;       /* owned */
  char *name;           /* owned */
  long long created;    /* Unix seconds */
  json_t *labels;       /* owned object */
} drover_snapshot;

typedef struct drover_snapshot_list {
  drover_snapshot *items;
  size_t count, cap;
} drover_snapshot_list;

/* Copies instance and name; takes labels (a new reference, may be NULL
 * for none), also on failure. */
drover_code drover_snapshot_list_push(drover_snapshot_list *list, const char *instance,
                                      const char *name, long long created,
                                      json_t *labels);
void drover_snapshot_list_clear(drover_snapshot_list *list);

/* --------------------------------------------------------------------------
 * Requests
 */

typedef struct drover_res_req {
  const char *stack;
  const char *address;
  const char *name;            /* cloud name, deterministic from stack+address */
  const char *hash;
  const char *deps;            /* comma-separated addresses, "" for none */
  const json_t *properties;    /* desired, every reference resolved, defaults filled */
  const char *if_match;        /* update: ETag the plan read, NULL for none */
  const char *const *changed;  /* update: NULL-terminated changed property names */
  double deadline;             /* absolute CLOCK_MONOTONIC seconds for waits */
  /* version >= 2: comma-separated property pointers that hold secrets, ""
   * for none. Stored as the DROVER_LABEL_SENSITIVE label so a later run
   * redacts the old values even after the template stopped marking them. */
  const char *sensitive;
  /* version >= 3. create: a token the same for every try of one create, also
   * in a later run after a crash ("drover-" and 16 hex digits, from
   * stack, address, the desired hash and, for a replacement, the replaced
   * object's name), different for the next generation of the resource.
   * Pass it to clouds that deduplicate creates (EC2 ClientToken). */
  const char *idempotency_token;
} drover_res_req;

/* What the engine lends a provider at init. */
typedef struct drover_provider_env {
  drover_log_fn log;           /* thread safe; redacts secrets */
  void *log_userdata;
  const char *user_agent;      /* "drover/0.1.0" */
} drover_provider_env;

/* --------------------------------------------------------------------------
 * The table
 */

#define DROVER_CAP_ETAG 0x01u  /* live objects carry ETags; update honours If-Match */
#define DROVER_CAP_WAIT 0x02u  /* create/update/delete wait for async ops */

typedef struct drover_provider {
  unsigned version;            /* DROVER_PROVIDER_VERSION */
  const char *name;            /* "lxd": the template's providers key and type prefix */
  unsigned caps;               /* DROVER_CAP_* */
  size_t state_size;           /* bytes the engine allocates (zeroed) for state */
  const drover_rtype *const *types; /* NULL-terminated */

  /* Reads the provider's settings (template "providers.<name>" merged
   * with the admin config) and connects. A missing project/namespace is an
   * error (DROVER_E_NOT_FOUND), never "create everything". "Not configured
   * here" is DROVER_E_CONFIG; DROVER_E_NOT_SET_UP says the settings
   * themselves point at nothing (AWS: instance role off, no credentials),
   * and a bare stack skips the provider even when the admin file names
   * it (doc/providers.md). */
  drover_code (*init)(void *state, const json_t *config,
                      const drover_provider_env *env, drover_error *err);

  /* Releases what init acquired. Called once, also after a failed init. */
  void (*cleanup)(void *state);

  /* Appends to out every object of type labelled with stack, in as few
   * API calls as the cloud allows (one for LXD). stack NULL: every object
   * that carries a drover stack label (for `drover gc`). Required. */
  drover_code (*list)(void *state, const drover_rtype *type, const char *stack,
                      drover_live_list *out, drover_error *err);

  /* Creates req->name with all labels set in the first request, waits
   * until it is usable or req->deadline, and returns it as listed.
   * If an object of that name already exists with this stack's labels
   * (a retry after a lost response), adopt it instead of failing.
   * *out is owned by the caller. Required. */
  drover_code (*create)(void *state, const drover_rtype *type,
                        const drover_res_req *req, drover_live **out,
                        drover_error *err);

  /* Changes cur in place to req->properties and rewrites the labels.
   * Uses req->if_match when set; a mismatch is DROVER_E_CONFLICT.
   * *out is owned by the caller. NULL when every change forces
   * replacement. */
  drover_code (*update)(void *state, const drover_rtype *type,
                        const drover_res_req *req, const drover_live *cur,
                        drover_live **out, drover_error *err);

  /* Deletes cur (stopping it first if needed) and waits until deadline.
   * An object already gone is success. Required. */
  drover_code (*del)(void *state, const drover_rtype *type,
                     const drover_live *cur, double deadline, drover_error *err);

  /* Optional: reads one object by cloud name; DROVER_E_NOT_FOUND if
   * absent. *out is owned by the caller. */
  drover_code (*read)(void *state, const drover_rtype *type, const char *name,
                      drover_live **out, drover_error *err);

  /* ---- version >= 2 ---- */
  /* The settings init accepts ("providers.<name>" keys), terminated by an
   * entry with name == NULL, and their rules (drover_setting.rule.prop is
   * unused). NULL: not declared (any key reaches init). validate checks
   * the template's settings against it with file:line:col. */
  const struct drover_setting *settings;

  /* Optional: checks what a type's schema cannot express (a cron
   * expression, a time zone, one of two properties) on properties that
   * hold no ${...} reference, at template load. On a violation it writes
   * the RFC 6901 pointer of the bad value, relative to the properties
   * ("/retention/keep_daily"), to where and returns DROVER_E_TEMPLATE
   * with err->text saying what is wrong (the loader adds file:line:col);
   * err->column, when set, is a 1-based column inside that string value. */
  drover_code (*check)(const drover_rtype *type, const json_t *properties, char *where,
                       size_t where_size, drover_error *err);

  /* Backups. All optional; the engine answers
   * DROVER_E_UNSUPPORTED when one is NULL. instance is a cloud name of
   * an object of the provider's instance type. Thread safe like the rest. */

  /* Appends every snapshot of instance to out. */
  drover_code (*snapshot_list)(void *state, const char *instance,
                               drover_snapshot_list *out, drover_error *err);
  /* Stores label (key -> text) so that the snapshot carries it, then takes
   * snapshot `snapshot` of instance and waits until deadline. A snapshot
   * of that name that already exists (a retry after a kill) is adopted:
   * *existed = 1 and success. */
  drover_code (*snapshot_create)(void *state, const char *instance, const char *snapshot,
                                 const char *label_key, const char *label_text,
                                 double deadline, int *existed, drover_error *err);
  /* Deletes a snapshot; one already gone is success. */
  drover_code (*snapshot_delete)(void *state, const char *instance, const char *snapshot,
                                 double deadline, drover_error *err);
  /* Restores instance in place from snapshot (the instance must be
   * stopped, or the provider stops nothing itself: the caller decides). */
  drover_code (*snapshot_restore)(void *state, const char *instance,
                                  const char *snapshot, double deadline,
                                  drover_error *err);
  /* Runs argv (NULL-terminated) inside the running instance without a
   * terminal and waits until deadline. *exit_status gets its exit status;
   * *output (caller frees, may be NULL) its stdout then stderr, cut to
   * 64 KiB. A command that runs and fails is DROVER_OK with a non-zero
   * status; failing to run it at all is an error. */
  drover_code (*exec)(void *state, const char *instance, const char *const *argv,
                      double deadline, int *exit_status, char **output,
                      drover_error *err);
  /* Creates instance new_name from instance's snapshot with the
   * ownership labels in labels (label name -> string, DROVER_LABEL_*)
   * replacing the copied ones, starts it and waits until deadline (a DR
   * drill's scratch instance; deleted with del() on the instance type). */
  drover_code (*snapshot_clone)(void *state, const char *instance, const char *snapshot,
                                const char *new_name, const json_t *labels,
                                double deadline, drover_error *err);

  /* ---- version >= 3 ---- */
  /* sizeof(drover_provider) as the provider was built, so the engine never
   * reads past the end of a table from an older module. */
  size_t table_size;

  /* ---- version >= 4 ---- */
  /* Optional: sets the run label key ([a-z_], 1..32 bytes, not an
   * ownership label) of the object called name of type to text (not
   * NULL, at most 4 KiB), leaving its properties and other labels as
   * they are, also through later updates (LXD: config
   * "user.drover.<key>"). list and read then report the text as the
   * string attribute "label_<key>". Used for what a run decided (a
   * scale.policy's last decision), which is not desired state: it never
   * changes the hash label, so plans ignore it. DROVER_E_ARG for a bad
   * key or text, DROVER_E_UNSUPPORTED for a type that cannot carry one,
   * an error when the object is gone. Thread safe. */
  drover_code (*label_set)(void *state, const drover_rtype *type, const char *name,
                           const char *key, const char *text, drover_error *err);

  /* ---- version >= 5 ---- */
  /* Portable backups (export to object storage, restore elsewhere). Both
   * optional.
   *
   * backup_export writes instance's snapshot as the cloud's own backup
   * archive (LXD: an instance backup tarball) to the file path (created
   * 0600), streamed: memory does not grow with the size. The archive holds
   * no drover ownership labels, so importing it under another name never
   * claims a resource of the stack; the labels the snapshot carried go to
   * *info instead ({"labels": {label: text}, ...: what the provider wants
   * recorded}; new reference, caller frees; NULL on failure). scratch is a
   * name the provider may use for a temporary object on the way (LXD: an
   * instance copied from the snapshot); one a killed run left is deleted
   * first, and nothing is left behind on success or failure. */
  drover_code (*backup_export)(void *state, const char *instance, const char *snapshot,
                               const char *scratch, const char *path, double deadline,
                               json_t **info, drover_error *err);
  /* Creates instance name from the archive at path (made by
   * backup_export or backup_live_end), streamed, then replaces every
   * drover label the archive carried with labels (label -> text, may be
   * NULL or empty) and, when start is non-zero, starts it; waits until
   * deadline. An instance of that name that exists is an error (the
   * caller decides about overwriting). On failure nothing is left: an
   * instance created on the way is deleted. */
  drover_code (*backup_import)(void *state, const char *path, const char *name,
                               const json_t *labels, int start, double deadline,
                               drover_error *err);

  /* ---- version >= 6 ---- */
  /* The stack lease (plugin/lib/lease.c, doc/locks.md): one small record
   * per stack, kept in the cloud and changed only by compare-and-swap, so
   * drover processes on different machines exclude each other. Optional:
   * all four or none; DROVER_E_UNSUPPORTED from lock_read (e.g. a setting
   * turned it off) also means "no lease here". stack is a valid stack
   * name. record is an object of string values that the engine writes
   * (lock id, owner, times) and the provider stores and gives back
   * unchanged; it never holds secrets. etag is the record's version: every
   * write changes it (*etag owned by the caller). The object is drover's
   * own and carries no stack label, so list() never returns it. Called
   * from a renewal thread while apply runs: thread safe like the rest. */
  /* Reads the record; DROVER_E_NOT_FOUND when there is none. */
  drover_code (*lock_read)(void *state, const char *stack, json_t **record,
                           char **etag, drover_error *err);
  /* Creates the record only if there is none: DROVER_E_CONFLICT when one
   * exists (also when an earlier try of this very call made it). */
  drover_code (*lock_create)(void *state, const char *stack, const json_t *record,
                             char **etag, drover_error *err);
  /* Replaces the record only if its version is still if_match:
   * DROVER_E_CONFLICT when it changed, DROVER_E_NOT_FOUND when it is gone. */
  drover_code (*lock_write)(void *state, const char *stack, const json_t *record,
                            const char *if_match, char **etag, drover_error *err);
  /* Deletes the record only if its version is still if_match (same
   * errors). Where the cloud's delete is not conditional the provider
   * compares first; the engine deletes only a record it holds, whose
   * lease has not run out, so nobody else may write it in between. */
  drover_code (*lock_delete)(void *state, const char *stack, const char *if_match,
                             drover_error *err);

  /* ---- version >= 7 ---- */
  /* Optional, both or neither: backup_export of instance as it is now,
   * not of a snapshot, so no copy of the snapshot is made, in two steps
   * so that the slot's snapshot is taken while the archive is made.
   * backup run calls begin after the pre hook, then snapshot_create, then
   * end, then post: archive and snapshot both capture what pre made
   * consistent. The archive keeps the instance's labels (backup_import
   * replaces them).
   *
   * backup_live_begin starts the backup and returns once a snapshot of
   * instance may be taken alongside without either capturing something
   * half-written (LXD: once its backup reports progress, or is done).
   * tag names the provider's temporary cloud-side object (LXD: the
   * instance backup); one a killed run left is deleted first (also by
   * backup_export given the same name as scratch). *handle (caller frees
   * with free()) goes to end; on failure it is NULL and nothing is left.
   *
   * backup_live_end waits for it, writes the archive to path (created
   * 0600, streamed) and *info as backup_export does, and deletes the
   * temporary whatever happened. path and info NULL: only wait and
   * delete (the snapshot failed). Call it exactly once per handle. */
  drover_code (*backup_live_begin)(void *state, const char *instance, const char *tag,
                                   double deadline, char **handle, drover_error *err);
  drover_code (*backup_live_end)(void *state, const char *instance, const char *tag,
                                 const char *handle, const char *path, double deadline,
                                 json_t **info, drover_error *err);

  /* ---- version >= 8 ---- */
  /* Optional, for types flagged DROVER_RTYPE_DELETE_MANY: deletes the n
   * objects curs[0..n) of type, each as del() would (stopped first if
   * needed; one already gone is success), in as few API calls as the cloud
   * allows (EC2: one TerminateInstances per 1000 IDs, then one describe per
   * poll for all of them), and waits until deadline. Results are per
   * object: rcs[i] and errs[i] (both arrays n long, errs cleared by the
   * caller) say how curs[i] ended, so one failure never fails the others.
   * Returns DROVER_OK when every object was deleted, else the code of the
   * first failure. The engine calls it when two or more deletes of one
   * type are ready at the same moment (a destroy, orphans) and retries a
   * failure it may retry through del(), one object at a time. curs and
   * the objects are borrowed for the call. Thread safe like del(). */
  drover_code (*del_many)(void *state, const drover_rtype *type,
                          const drover_live *const *curs, size_t n, double deadline,
                          drover_code *rcs, drover_error *errs);
} drover_provider;

typedef struct drover_setting {
  const char *name;
  drover_ptype type;           /* DROVER_T_STRING, _NUMBER, _INTEGER or _BOOLEAN */
  drover_rule rule;            /* value rules (flags 0: none) */
  const char *doc;
} drover_setting;

/* --------------------------------------------------------------------------
 * Loadable modules
 *
 * A provider built as a module (configure --enable-<name>=dl) is
 * <name>.so in $(pkglibdir)/providers or in a directory given to
 * drover_provider_dir_add(). It exports exactly one symbol,
 * DROVER_PROVIDER_ENTRY, a drover_provider_entry_fn. The engine calls it
 * with its own DROVER_PROVIDER_VERSION; the module returns its table (or
 * NULL if it cannot serve that engine), and the engine accepts it only
 * when the table's version is in [DROVER_PROVIDER_VERSION_MIN, engine's]
 * and table_size covers that version's members. The module links
 * libdrover.so for the helpers below, so it shares the engine's secret
 * list and log sink. Modules must be root's files, not group/world
 * writable, not symlinks, in a directory chain of the same kind.
 */
#define DROVER_PROVIDER_ENTRY "drover_provider_entry"
typedef const drover_provider *(*drover_provider_entry_fn)(unsigned engine_version);

/* --------------------------------------------------------------------------
 * Helpers for providers (implemented in libdrover)
 */

/* Records an error unless err already holds one (first error wins).
 * Printf-style; the text is one line. Returns code. */
drover_code drover_error_set(drover_error *err, drover_code code,
                             const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Sets err->source (e.g. "lxd") and err->address if they are empty. */
void drover_error_locate(drover_error *err, const char *source, const char *address);

/* A provider's error in the house form: records "<source>: <address>:
 * <text>" ("<source>: <text>" when address is NULL or empty) unless err
 * already holds one, then locates it at source and address as
 * drover_error_locate() does. One helper so every provider words its
 * errors alike. Returns code. */
drover_code drover_error_fail(drover_error *err, drover_code code, const char *source,
                              const char *address, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Monotonic seconds. */
double drover_now(void);

/* Registers a credential a provider loaded (a secret key, a token): from
 * now on it is replaced by "(sensitive)" in every log line and error
 * text of the process. Values shorter than 4 bytes are ignored. */
void drover_secret_add(const char *value);

/* The provider table called name: built in, or its module loaded on first
 * use (drover_provider_dir_add() in drover.h). *out is borrowed for the
 * process's life. DROVER_E_NOT_FOUND when there is none, DROVER_E_CONFIG
 * (saying why) when its module was refused. For tools and tests that
 * drive a provider's table directly. */
drover_code drover_provider_get(const drover_provider **out, const char *name,
                                drover_error *err);

/* Logs through env with printf formatting. */
void drover_logf(const drover_provider_env *env, drover_log_level level,
                 const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Checks the properties of a backup.policy (schedule, timezone,
 * retention, targets or selector, export, hooks) for a provider's check
 * op; same contract as drover_provider.check. */
drover_code drover_backup_policy_check(const json_t *properties, char *where,
                                       size_t where_size, drover_error *err);
/* Checks the properties of a drift.policy (targets or selector,
 * templates, schedule, timezone, auto_repair); as above. */
drover_code drover_drift_policy_check(const json_t *properties, char *where,
                                      size_t where_size, drover_error *err);
/* Checks the properties of a scale.policy (target, timezone, schedule
 * windows, default, queue, min, max, cooldown); same contract as
 * drover_provider.check. The target's existence is checked by the engine. */
drover_code drover_scale_policy_check(const json_t *properties, char *where,
                                      size_t where_size, drover_error *err);
/* The properties of the cloud-neutral type backup.policy, terminated by
 * an entry with name == NULL: every provider that serves the type
 * declares these, so a policy means the same wherever it is recorded. */
extern const drover_prop drover_backup_policy_props[];
/* The 8-hex-digit key of a policy (stack, address) that its snapshot
 * names and labels carry, into out[9]. */
drover_code drover_backup_key(char out[9], const char *stack, const char *address);
/* Non-zero when snapshot is named as a snapshot of the policy with key
 * ("drover-<key>-<YYYYMMDDTHHMMZ>"). */
int drover_backup_is_snapshot_of(const char *snapshot, const char *key);

/* --------------------------------------------------------------------------
 * HTTP (one shared module on libcurl, plugin/lib/http.c)
 *
 * One handle per endpoint (drover_http_new), shared by every thread of a
 * provider. A request is one struct (drover_http_req) performed with
 * drover_http_perform(): each attempt uses its own curl easy handle, so
 * retries re-send the body from its start and call the per-attempt hook
 * again (a request signer such as SigV4 needs a fresh date per try).
 * drover_http_request() is the JSON convenience on top of it.
 */

typedef struct drover_http drover_http;

#define DROVER_HTTP_CONFIG_VERSION 1

typedef struct drover_http_config {
  unsigned version;            /* DROVER_HTTP_CONFIG_VERSION (appended members
                                  are read only when version says so) */
  const char *base_url;        /* "http://lxd" over a socket, "https://h:8443" */
  const char *unix_socket;     /* path, or NULL for TCP */
  const char *ca_file;         /* verify the server against this CA/cert; NULL: system store */
  const char *pinned_pubkey;   /* curl CURLOPT_PINNEDPUBLICKEY form, or NULL */
  const char *client_cert;     /* PEM paths for TLS client auth, or NULL */
  const char *client_key;
  double connect_timeout;      /* seconds; 0: 10 */
  double timeout;              /* seconds per attempt; 0: 60. Not applied to
                                  streamed transfers (body_path, body_read,
                                  response_path), which may take hours:
                                  they fail on stall_timeout instead */
  unsigned max_retries;        /* per request; 0: 4 */
  double retry_base;           /* seconds; 0: 0.25, doubled per try, full jitter */
  double retry_max;            /* cap on one backoff sleep; 0: 8 */
  unsigned retry_budget;       /* retries allowed over the handle's life; 0: 100 */
  double stall_timeout;        /* streamed transfers: seconds without a byte
                                  moving before an attempt fails (transient,
                                  retried); 0: 30 */
} drover_http_config;

typedef struct drover_http_response {
  long status;                 /* HTTP status */
  char *body;                  /* NUL-terminated, owned; "" when the body went
                                  to drover_http_req.response_path */
  size_t len;
  char *etag;                  /* owned; NULL when absent */
  /* Appended: every response header, owned, as name/value pairs
   * (headers[2*i], headers[2*i+1]); look them up with
   * drover_http_response_header(). */
  char **headers;
  size_t nheaders;
  unsigned long long written;  /* bytes written to response_path */
} drover_http_response;

/* Headers the per-attempt hook adds (opaque; see drover_http_headers_add). */
typedef struct drover_http_headers drover_http_headers;
struct drover_http_req;

/* What the hook learns about the attempt it is about to sign. */
typedef struct drover_http_attempt {
  unsigned number;             /* 0 for the first try, 1 for the first retry */
  const char *url;             /* full URL, with the query */
  const char *host;            /* the Host header curl sends ("h:8443") */
} drover_http_attempt;

/* Called before every attempt, retries included, from the calling thread.
 * May add headers (they replace same-named ones of the request). A
 * non-zero return stops the request with that error (no retry). */
typedef drover_code (*drover_http_attempt_fn)(void *userdata,
                                              const struct drover_http_req *req,
                                              const drover_http_attempt *attempt,
                                              drover_http_headers *add,
                                              drover_error *err);

/* Reads up to size bytes of a streamed body starting at offset into buf
 * and sets *nread (0 only at the end). A retry starts again at offset 0,
 * so a source that cannot go back must fail then. */
typedef drover_code (*drover_http_read_fn)(void *userdata, unsigned long long offset,
                                           char *buf, size_t size, size_t *nread,
                                           drover_error *err);

/* 2: final_answer appended. 3: on_progress. 4: on_body_start.
 * 5: response_to_fd. */
#define DROVER_HTTP_REQ_VERSION 5

/* One request. Only method and path are required; every pointer is
 * borrowed for the duration of drover_http_perform(). At most one body
 * source is set: body, body_path or body_read. */
typedef struct drover_http_req {
  unsigned version;            /* DROVER_HTTP_REQ_VERSION */
  const char *method;          /* "GET", "PUT", ... */
  const char *path;            /* appended to the base URL; already escaped */
  const char *query;           /* "a=1&b=x%20y", already escaped, no '?'; or NULL */
  const char *const *headers;  /* NULL-terminated "Name: value" lines, or NULL */
  const char *accept;          /* Accept header, or NULL for none */
  const char *content_type;    /* sent with a body; NULL: none */
  const char *if_match;        /* If-Match header, or NULL */
  const void *body;            /* body in memory, body_len bytes */
  const char *body_path;       /* or: the first body_len bytes of this file */
  drover_http_read_fn body_read; /* or: a stream of body_len bytes */
  void *body_userdata;
  unsigned long long body_len; /* known length of any body source */
  const char *payload_hash;    /* hex SHA-256 of the body if known, for the hook
                                  (not checked by the transport); or NULL */
  drover_http_attempt_fn on_attempt; /* or NULL */
  void *attempt_userdata;
  const char *response_path;   /* a 2xx body is written to this file (created
                                  0600 or truncated, per attempt) instead of
                                  memory; other bodies stay in memory */
  /* ---- version >= 2 ---- */
  /* Or NULL. Called with an answer the transport would retry (429, 5xx)
   * and its body; non-zero makes it final: handed to the caller at once,
   * not retried (EC2 sends InsufficientInstanceCapacity as a 500, and no
   * retry brings capacity back). userdata is attempt_userdata. */
  int (*final_answer)(void *userdata, long status, const char *body, size_t len);
  /* ---- version >= 3 ---- */
  /* Or NULL. Streamed transfers only (body_path, body_read or
   * response_path): called on the performing thread with the body bytes
   * sent plus received since the previous call, as they move (a retried
   * attempt moves its bytes again). */
  void (*on_progress)(void *userdata, unsigned long long moved);
  void *progress_userdata;
  /* ---- version >= 4 ---- */
  /* Or NULL. With response_path: called on the performing thread once
   * per attempt when a 2xx answer's headers are in (the blank line that
   * ends them), before response_path is opened. head
   * borrows the status, ETag and headers for the call; its body is "".
   * What a download must record before its bytes land (the ETag a
   * resume is checked against) is recorded here, so the transfer needs
   * no HEAD first. DROVER_OK lets the body be written; any other code
   * fails the request with err, not retried, and nothing is written. */
  drover_code (*on_body_start)(void *userdata, const struct drover_http_response *head,
                               drover_error *err);
  void *body_start_userdata;
  /* ---- version >= 5 ---- */
  /* Set, with response_path NULL: a 2xx body is written with pwrite to
   * response_fd (borrowed, left open) from byte response_offset on, each
   * attempt from there again; everything else is as with response_path
   * (on_body_start included). Several requests can so fill one file at
   * once, each its own range (a download's parallel ranged GETs). */
  int response_to_fd;
  int response_fd;
  unsigned long long response_offset;
} drover_http_req;

/* Copies what it needs from cfg. *out is owned by the caller:
 * drover_http_free(). Thread safe to share between threads. */
drover_code drover_http_new(drover_http **out, const drover_http_config *cfg,
                            drover_error *err);
void drover_http_free(drover_http *http);

/*
 * Performs req, retried on connection errors, 429 and 5xx with the shared
 * backoff (exponential, full jitter, Retry-After) within the retry budget.
 * Any other status is returned to the caller in resp (the caller maps 4xx
 * to its own message). Transport failure after the retries is
 * DROVER_E_TRANSIENT; resp then holds the last response, if any. resp is
 * always initialised; free it with drover_http_response_free().
 */
drover_code drover_http_perform(drover_http *http, const drover_http_req *req,
                                drover_http_response *resp, drover_error *err);

/* Adds "name: value" to the attempt's headers (for the hook). A name
 * with ':' or space, or CR/LF in either, is refused (DROVER_E_ARG): no
 * header injection. */
drover_code drover_http_headers_add(drover_http_headers *add, const char *name,
                                    const char *value, drover_error *err);

/* First response header called name (case-insensitive), borrowed from
 * resp; NULL when absent. */
const char *drover_http_response_header(const drover_http_response *resp,
                                        const char *name);

/*
 * JSON convenience: Accept and (with a body) Content-Type are
 * application/json. body may be NULL; if_match may be NULL. Otherwise as
 * drover_http_perform().
 */
drover_code drover_http_request(drover_http *http, const char *method,
                                const char *path, const char *if_match,
                                const char *body, size_t body_len,
                                drover_http_response *resp, drover_error *err);
void drover_http_response_free(drover_http_response *resp);

#ifdef __cplusplus
}
#endif

#endif /* DROVER_PROVIDER_H */
