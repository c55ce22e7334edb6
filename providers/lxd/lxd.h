/*
 * lxd.h - internals of the LXD provider. Only providers/lxd/ includes
 * this; the engine sees nothing but the exported table dv_provider_lxd.
 *
 * Names shared between the provider's files carry the lxd_ prefix and
 * hidden visibility; everything else is static to its file.
 */
#ifndef DROVER_LXD_H
#define DROVER_LXD_H

#include <pthread.h>
#include <jansson.h>
#include "drover_provider.h"

#if defined(__GNUC__)
#define LXD_HIDDEN __attribute__((visibility("hidden")))
#define LXD_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LXD_HIDDEN
#define LXD_PRINTF(a, b)
#endif

/* Labels live in config keys "user.drover.<label>". */
#define LXD_LABEL(l) "user.drover." l
#define LXD_LABEL_PREFIX "user.drover."
/* The image alias/fingerprint the instance was made from: LXD keeps only
 * the fingerprint, so drover records what the template said. */
#define LXD_LABEL_IMAGE LXD_LABEL("image")

/* Provider state: the engine allocates sizeof(lxd_state) zeroed bytes. */
typedef struct lxd_state {
  drover_http *http;
  char *project;           /* LXD project name */
  char *where;             /* socket path or URL, for messages */
  double op_timeout;       /* seconds per async operation */
  double wait_chunk;       /* longest single /wait call (below the HTTP timeout) */
  drover_provider_env env; /* copy; strings borrowed from the engine */
  pthread_mutex_t lock;    /* guards pools */
  int lock_ready;
  char **pools;            /* storage pool names, cached at first volume list */
  size_t npools;
  int pools_known;
} lxd_state;

/* --------------------------------------------------------------------------
 * API calls (lxd_api.c)
 */

typedef struct lxd_result {
  long status;       /* HTTP status; 0 when there was no response */
  json_t *meta;      /* the response's "metadata" (owned), or NULL */
  char *etag;        /* owned, or NULL */
  char *op;          /* async: operation path (owned), or NULL */
  char *message;     /* LXD's "error" text for a failed call (owned), or NULL */
} lxd_result;

LXD_HIDDEN void lxd_result_free(lxd_result *r);

/* Outcomes a caller handles itself: lxd_call then returns DROVER_OK with
 * res->status telling which one happened, and records no error. */
#define LXD_ALLOW_404 0x1u    /* not found */
#define LXD_ALLOW_EXISTS 0x2u /* 409, or any error saying "already exists" */
/* Not an outcome but a parse option: drop every "expanded_config" and
 * "expanded_devices" member from the response text before parsing it.
 * LXD 5.0 has no fields= parameter, and those two are about half of an
 * instance list that never reads them. */
#define LXD_DROP_EXPANDED 0x4u
/* Shape checks of a successful reply: its "metadata" must be an object
 * (one object read, an operation) or an array (a listing). Anything else
 * is an error, never an empty list or an absent object. */
#define LXD_META_OBJECT 0x8u
#define LXD_META_ARRAY 0x10u

/* One REST call. body (may be NULL) is sent as compact JSON. address
 * (may be NULL) names the resource in error texts. A status >= 400 not
 * allowed by allow is recorded in err as "lxd: <address>: <LXD's message>"
 * with 404 on GET/DELETE -> DROVER_E_NOT_FOUND, 412 -> DROVER_E_CONFLICT, transient-
 * looking messages and exhausted retries -> DROVER_E_TRANSIENT, other 4xx
 * -> DROVER_E_PROVIDER. A successful status whose body is not an LXD
 * sync/async envelope (invalid or truncated JSON, an error envelope, a
 * missing type) is an error, as is an allowed 404 that is not LXD's own
 * not-found envelope. res is always initialised; free it with
 * lxd_result_free(). */
LXD_HIDDEN drover_code lxd_call(lxd_state *st, const char *method, const char *path,
                                const char *if_match, const json_t *body,
                                const char *address, unsigned allow,
                                lxd_result *res, drover_error *err);

/* Removes, in place, every member named in keys (NULL-terminated) from
 * the objects of a list response text; returns the new length (lxd_api.c). */
LXD_HIDDEN size_t lxd_drop_members(char *buf, size_t len, const char *const *keys);

/* Parses a list reply body (as lxd_call and lxd_list_owned would) for type
 * "instance", "profile" or "volume" and appends the objects labelled with
 * stack to out. No HTTP: the entry point of tests/fuzz/fuzz_lxd.c. buf is
 * modified. Exported only from libdrover_core (tests). */
drover_code lxd_parse_list_reply(const char *type, char *buf, size_t len,
                                 const char *stack, drover_live_list *out,
                                 drover_error *err);

/* LXD's refusal of a create because something already exists: whether
 * it said so, and its words (cut to fit), for a message when the object
 * it meant is not the one asked for. */
typedef struct lxd_exists {
  int yes;
  char said[256];
} lxd_exists;

/* Waits for the async operation op until deadline (absolute monotonic
 * seconds). A failed operation is recorded with LXD's error text, unless
 * allow has LXD_ALLOW_EXISTS and the text says "already exists": then
 * *exists (if not NULL) is filled in and DROVER_OK returned. An operation
 * LXD has already forgotten (404) is DROVER_E_TRANSIENT, never success:
 * the caller reads the object back to learn what happened. */
LXD_HIDDEN drover_code lxd_wait(lxd_state *st, const char *op, double deadline,
                                const char *address, unsigned allow, lxd_exists *exists,
                                drover_error *err);

/* lxd_wait that also hands back the finished operation's "metadata"
 * (new reference in *meta when not NULL; NULL when LXD had already
 * forgotten the operation). */
LXD_HIDDEN drover_code lxd_wait_meta(lxd_state *st, const char *op, double deadline,
                                     const char *address, unsigned allow, lxd_exists *exists,
                                     json_t **meta, drover_error *err);

/* A call that may answer with an operation: waits for it when it does. */
LXD_HIDDEN drover_code lxd_call_wait(lxd_state *st, const char *method,
                                     const char *path, const char *if_match,
                                     const json_t *body, const char *address,
                                     double deadline, drover_error *err);

/* A request path with the project parameter appended. printf-style; the
 * caller escapes names with lxd_esc(). Caller frees; NULL on OOM. */
LXD_HIDDEN char *lxd_path(const lxd_state *st, const char *fmt, ...) LXD_PRINTF(2, 3);

/* A URL-escaped copy of s. Caller frees; NULL on OOM. */
LXD_HIDDEN char *lxd_esc(const char *s);

/* Records "lxd: <address>: <text>" (or "lxd: <text>" without address) and
 * locates the error at source "lxd" and address. Returns code. */
#define lxd_fail(err, code, address, ...) \
  drover_error_fail((err), (code), "lxd", (address), __VA_ARGS__)

/* An update's result, reclassified: when drover read the ETag itself a
 * moment before (req->if_match NULL), a 412 means LXD changed the object in
 * between (e.g. a killed run's create still finishing), so it is transient
 * and the retry reads a fresh ETag. Only a saved plan's ETag is a conflict. */
LXD_HIDDEN drover_code lxd_etag_race(drover_code rc, const drover_res_req *req,
                                     drover_error *err);

/* Whether an LXD error text describes a fault worth retrying. */
LXD_HIDDEN int lxd_transient_text(const char *msg);

/* deadline, or now + the operation timeout when deadline is 0. */
LXD_HIDDEN double lxd_deadline(const lxd_state *st, double deadline);

/* --------------------------------------------------------------------------
 * Shared object helpers (lxd_object.c)
 */

/* The desired config (a string map; non-string scalars are written as
 * text) plus, from cur_config (may be NULL), the server-owned volatile.*
 * and image.* keys, plus every drover label of req. image may be NULL.
 * New reference in *out. */
LXD_HIDDEN drover_code lxd_config_build(json_t **out, const drover_res_req *req,
                                        const json_t *desired, const json_t *cur_config,
                                        const char *image, drover_error *err);

/* A copy of config without user.drover.*, volatile.* and image.* keys.
 * New reference; NULL on OOM. */
LXD_HIDDEN json_t *lxd_config_clean(const json_t *config);

/* True when obj's config carries the stack label (any stack when stack is
 * NULL). */
LXD_HIDDEN int lxd_owned(const json_t *obj, const char *stack);

/* True when obj carries both this stack's and this address's labels: an
 * object drover made for exactly this resource (adoption check). */
LXD_HIDDEN int lxd_owned_at(const json_t *obj, const char *stack, const char *address);

/* A live object with name and labels filled from obj ("name", "config");
 * properties and attributes are left empty. Caller frees. */
LXD_HIDDEN drover_code lxd_live_base(drover_live **out, const json_t *obj,
                                     const char *etag, drover_error *err);

/* Borrowed member of props, or NULL. */
LXD_HIDDEN const char *lxd_prop_str(const json_t *props, const char *key);

/* Deep copy of src, or an empty object when src is not an object. New
 * reference; NULL on OOM. */
LXD_HIDDEN json_t *lxd_obj_or_empty(const json_t *src);

/* Sets key on obj to a new reference (stolen); returns -1 on failure. */
LXD_HIDDEN int lxd_set(json_t *obj, const char *key, json_t *value);

/* prefix + the URL-escaped name + suffix, with the project parameter
 * ("/1.0/instances/", "web-0", "/state"). Caller frees; NULL on OOM. */
LXD_HIDDEN char *lxd_name_path(const lxd_state *st, const char *prefix, const char *name,
                               const char *suffix);

/* GET one object at path. *obj (new reference) is NULL when it does not
 * exist (404); *etag (owned; may be NULL, then not asked for) is its ETag.
 * Other failures are recorded as by lxd_call(). */
LXD_HIDDEN drover_code lxd_get(lxd_state *st, const char *path, const char *address,
                               json_t **obj, char **etag, drover_error *err);

/* Turns one listed LXD object into a live object (*out owned by the
 * caller), or leaves *out NULL to skip an object of another drover type. ctx is what lxd_list_owned was given; etag may be NULL. */
typedef drover_code (*lxd_live_fn)(drover_live **out, const json_t *obj,
                                   const void *ctx, const char *etag,
                                   drover_error *err);

/* GET the collection at path (recursion=1) in one call and appends to out
 * every object labelled with stack (any stack when NULL), converted by fn.
 * allow may hold LXD_ALLOW_404 (then a missing collection lists nothing)
 * and LXD_DROP_EXPANDED (when fn reads neither expanded_* member). */
LXD_HIDDEN drover_code lxd_list_owned(lxd_state *st, const char *path, const char *stack,
                                      unsigned allow, lxd_live_fn fn, const void *ctx,
                                      drover_live_list *out, drover_error *err);

/* Cloud-name rules (drover_name_check_fn). Instances are host names:
 * 1-63 ASCII letters, digits and '-', starting with a letter, not ending
 * with '-'. Profiles and volumes: not empty, no '/', not "." or "..". */
LXD_HIDDEN int lxd_name_instance(const char *name, char *why, size_t size);
LXD_HIDDEN int lxd_name_object(const char *name, char *why, size_t size);

/* --------------------------------------------------------------------------
 * Create-then-adopt (lxd_adopt.c)
 */

/* POSTs body to path (a collection) and waits for LXD's operation, if it
 * answers with one, until deadline (0: the operation timeout from then).
 * *exists is filled in when LXD says the object already exists (409, or
 * an operation failing so); that is not an error. */
LXD_HIDDEN drover_code lxd_post_create(lxd_state *st, const char *path, const json_t *body,
                                       const char *address, double deadline,
                                       lxd_exists *exists, drover_error *err);

/* One type's part in lxd_create_adopt. */
typedef struct lxd_adopt_type {
  const char *noun; /* "instance", "profile", "storage volume": for messages */
  /* Reads req's object: *obj (new reference) NULL when absent, *etag owned.
   * An error here ends the create. */
  drover_code (*get)(lxd_state *st, const drover_res_req *req, json_t **obj,
                     char **etag, drover_error *err);
  /* Writes req's desired state over obj, read with etag; *out owned by the
   * caller. */
  drover_code (*put)(lxd_state *st, const drover_res_req *req, const json_t *obj,
                     const char *etag, drover_live **out, drover_error *err);
  /* The pool the conflict message names (volumes), or NULL. */
  const char *(*pool)(const drover_res_req *req);
  /* Read before the POST, and adopt without one when the object is there
   * (profiles: LXD 5.0 answers a duplicate with a 500, which the HTTP
   * layer would retry with backoff; a race is still caught by the POST). */
  int read_first;
} lxd_adopt_type;

/* Creates req's object by lxd_post_create(path, body, deadline). When LXD
 * says it already exists, adopts it if it carries this stack's labels for
 * req's address: type->put writes the desired state over it, matching the
 * ETag just read (not the plan's), and *out (owned by the caller) is the
 * result. An object without those labels is a DROVER_E_PROVIDER conflict
 * naming it; one gone when read back after the POST (deleted meanwhile) is
 * DROVER_E_TRANSIENT, so that the engine's retry creates it again.
 * *created is 1 when the POST made the object: *out is then left NULL for
 * the caller to finish and read back. */
LXD_HIDDEN drover_code lxd_create_adopt(lxd_state *st, const lxd_adopt_type *type,
                                        const drover_res_req *req, const char *path,
                                        const json_t *body, double deadline, int *created,
                                        drover_live **out, drover_error *err);

/* --------------------------------------------------------------------------
 * Types (lxd_instance.c, lxd_profile.c, lxd_volume.c)
 */

/* A policy record type (kind set) has no list/create/update/read of its
 * own: lxd.c calls lxd_record_*() with its kind, so each kind is one
 * table, not four wrappers. */
typedef struct lxd_type_ops {
  drover_code (*list)(lxd_state *st, const char *stack, drover_live_list *out,
                      drover_error *err);
  drover_code (*create)(lxd_state *st, const drover_res_req *req, drover_live **out,
                        drover_error *err);
  drover_code (*update)(lxd_state *st, const drover_res_req *req,
                        const drover_live *cur, drover_live **out, drover_error *err);
  drover_code (*del)(lxd_state *st, const drover_live *cur, double deadline,
                     drover_error *err);
  drover_code (*read)(lxd_state *st, const char *name, drover_live **out,
                      drover_error *err);
  lxd_live_fn live;  /* one listed object -> drover_live */
  const char *kind;  /* policy records: LXD_KIND_*; NULL otherwise */
} lxd_type_ops;

LXD_HIDDEN extern const drover_rtype lxd_instance_type;
LXD_HIDDEN extern const lxd_type_ops lxd_instance_ops;
LXD_HIDDEN extern const drover_rtype lxd_profile_type;
LXD_HIDDEN extern const lxd_type_ops lxd_profile_ops;
LXD_HIDDEN extern const drover_rtype lxd_volume_type;
LXD_HIDDEN extern const lxd_type_ops lxd_volume_ops;
LXD_HIDDEN extern const drover_rtype lxd_policy_type;
LXD_HIDDEN extern const lxd_type_ops lxd_policy_ops;
/* A profile that records a backup.policy (lxd.profile skips it): its
 * config holds LXD_KIND_KEY = LXD_KIND_POLICY. In lxd_profile.c, so the
 * profile type does not call into lxd_policy.c, which builds on it. */
#define LXD_KIND_KEY "user.drover_kind"
#define LXD_KIND_POLICY "backup.policy"
#define LXD_KIND_SCALE "scale.policy"
#define LXD_KIND_DRIFT "drift.policy"
/* A record of any of these kinds. */
LXD_HIDDEN int lxd_is_policy(const json_t *obj);

/* Policy records of kind (LXD_KIND_*) as live objects (lxd_policy.c);
 * the lxd_type_ops contract, called by lxd.c for every table with a kind.
 * lxd_record_del deletes the record alone, for kinds that own nothing
 * else (scale.policy, drift.policy). */
LXD_HIDDEN drover_code lxd_record_list(lxd_state *st, const char *kind, const char *stack,
                                       drover_live_list *out, drover_error *err);
LXD_HIDDEN drover_code lxd_record_create(lxd_state *st, const char *kind,
                                         const drover_res_req *req, drover_live **out,
                                         drover_error *err);
LXD_HIDDEN drover_code lxd_record_update(lxd_state *st, const char *kind,
                                         const drover_res_req *req, const drover_live *cur,
                                         drover_live **out, drover_error *err);
LXD_HIDDEN drover_code lxd_record_read(lxd_state *st, const char *kind, const char *name,
                                       drover_live **out, drover_error *err);
LXD_HIDDEN drover_code lxd_record_del(lxd_state *st, const drover_live *cur, double deadline,
                                      drover_error *err);
LXD_HIDDEN extern const drover_rtype lxd_scale_type;
LXD_HIDDEN extern const lxd_type_ops lxd_scale_ops;
/* drift.policy (lxd_drift.c), recorded the same way. */
LXD_HIDDEN extern const drover_rtype lxd_drift_type;
LXD_HIDDEN extern const lxd_type_ops lxd_drift_ops;

/* Run labels (drover_provider.label_set, lxd_label.c): config
 * "user.drover.<key>" ([a-z_], 1..32) other than the ownership labels.
 * Updates keep them (lxd_config_build). lxd_run_label: whether a config
 * key is one (lxd_object.c). */
LXD_HIDDEN int lxd_run_label(const char *config_key);
/* Adds attribute "label_<key>" for each run label of obj's config; -1 on OOM
 * (lxd_object.c: instances and policy records both use it). */
LXD_HIDDEN int lxd_labels_to_attributes(json_t *attributes, const json_t *obj);
LXD_HIDDEN drover_code lxd_label_set(void *state, const drover_rtype *type,
                                     const char *name, const char *key, const char *text,
                                     drover_error *err);

/* --------------------------------------------------------------------------
 * Backups (lxd_snapshot.c, lxd_exec.c: the version 2 table ops;
 * lxd_backup.c: the version 5 and 7 ones)
 */

/* Snapshot labels live in instance config keys with this prefix, set just
 * before the snapshot so that its captured config carries them. */
#define LXD_BACKUP_PREFIX "user.drover.backup."

LXD_HIDDEN drover_code lxd_snapshot_list(void *state, const char *instance,
                                         drover_snapshot_list *out, drover_error *err);
LXD_HIDDEN drover_code lxd_snapshot_create(void *state, const char *instance,
                                           const char *snapshot, const char *label_key,
                                           const char *label_text, double deadline,
                                           int *existed, drover_error *err);
LXD_HIDDEN drover_code lxd_snapshot_delete(void *state, const char *instance,
                                           const char *snapshot, double deadline,
                                           drover_error *err);
LXD_HIDDEN drover_code lxd_snapshot_restore(void *state, const char *instance,
                                            const char *snapshot, double deadline,
                                            drover_error *err);
LXD_HIDDEN drover_code lxd_snapshot_clone(void *state, const char *instance,
                                          const char *snapshot, const char *new_name,
                                          const json_t *labels, double deadline,
                                          drover_error *err);
LXD_HIDDEN drover_code lxd_backup_export(void *state, const char *instance,
                                         const char *snapshot, const char *scratch,
                                         const char *path, double deadline, json_t **info,
                                         drover_error *err);
LXD_HIDDEN drover_code lxd_backup_live_begin(void *state, const char *instance,
                                             const char *tag, double deadline,
                                             char **handle, drover_error *err);
LXD_HIDDEN drover_code lxd_backup_live_end(void *state, const char *instance,
                                           const char *tag, const char *handle,
                                           const char *path, double deadline,
                                           json_t **info, drover_error *err);
/* Deletes instance name (stopping it first) once no LXD operation runs on
 * it; one already gone is fine (lxd_backup.c). */
LXD_HIDDEN drover_code lxd_drop_instance(lxd_state *st, const char *name, double deadline,
                                         drover_error *err);
/* An LXD reply to a file transfer that failed: "lxd: <address>: <what>:
 * <LXD's message>" (lxd_backup.c). */
LXD_HIDDEN drover_code lxd_transfer_fail(drover_error *err, const drover_http_response *resp,
                                         const char *address, const char *what);
/* lxd_import.c */
LXD_HIDDEN drover_code lxd_backup_import(void *state, const char *path, const char *name,
                                         const json_t *labels, int start, double deadline,
                                         drover_error *err);
LXD_HIDDEN drover_code lxd_exec(void *state, const char *instance,
                                const char *const *argv, double deadline,
                                int *exit_status, char **output, drover_error *err);

/* --------------------------------------------------------------------------
 * The stack lease (lxd_lease.c): the version 5 lock ops
 */

LXD_HIDDEN drover_code lxd_lock_read(void *state, const char *stack, json_t **record,
                                     char **etag, drover_error *err);
LXD_HIDDEN drover_code lxd_lock_create(void *state, const char *stack,
                                       const json_t *record, char **etag,
                                       drover_error *err);
LXD_HIDDEN drover_code lxd_lock_write(void *state, const char *stack,
                                      const json_t *record, const char *if_match,
                                      char **etag, drover_error *err);
LXD_HIDDEN drover_code lxd_lock_delete(void *state, const char *stack,
                                       const char *if_match, drover_error *err);

#endif /* DROVER_LXD_H */
