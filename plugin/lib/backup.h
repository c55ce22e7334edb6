/*
 * backup.h - backup policies inside libdrover: the parsed form of a
 * backup.policy resource and the snapshot naming rules. Cross-file names
 * use the dv_ prefix. The commands' public API is in drover.h.
 */
#ifndef DROVER_BACKUP_H
#define DROVER_BACKUP_H

#include <jansson.h>
#include "drover.h"
#include "schedule.h"

typedef struct dv_policy {
  char **targets;          /* resource names or addresses of the stack */
  size_t ntargets;
  char *sel_stack;         /* selector globs (fnmatch), NULL: any */
  char *sel_address;
  char *sel_provider;      /* selector "provider": whose instances; NULL: any */
  int has_selector;
  dv_cron cron;            /* schedule, read in tz */
  char tz[64];
  dv_retention ret;        /* ret.tz points at tz */
  char *export_url;        /* "s3://b/p"; NULL: none */
  char **pre, **post;      /* NULL-terminated argv, or NULL */
  char **check;            /* verify: run in the scratch instance, or NULL */
  double hook_timeout;     /* seconds per hook */
  int delete_on_remove;    /* on_delete == "delete" */
} dv_policy;

/* Parses evaluated policy properties. On a bad value writes its JSON
 * pointer relative to props to where (may be NULL) and returns
 * DROVER_E_TEMPLATE. *out is filled on success; free with
 * dv_policy_free() in every case. */
drover_code dv_policy_parse(dv_policy *out, const json_t *props, char *where,
                            size_t where_size, drover_error *err);
void dv_policy_free(dv_policy *p);

/* Seconds from "90s", "15m", "36h", "30d", "2w", "1y" (365 days); -1 when
 * malformed. */
long long dv_duration_parse(const char *s);

/*
 * Snapshot names: "drover-<key>-<slot>" where key is 8 hex digits of
 * SHA-256("<stack>\n<policy address>") and slot the UTC time of the
 * schedule slot as YYYYMMDDTHHMMZ, e.g. drover-1a2b3c4d-20260330T0130Z.
 * One name per policy and slot, so a re-run (or a retry after kill -9)
 * for the same slot finds its snapshot instead of taking another.
 */
#define DV_SNAP_PREFIX "drover-"
drover_code dv_policy_key(char out[9], const char *stack, const char *address);
void dv_snap_name(char *buf, size_t size, const char *key, long long slot);
/* The slot of a name made by dv_snap_name with this key; -1 if the name
 * is not one. */
long long dv_snap_slot(const char *name, const char *key);

/* ------------------------------------------------------------------------
 * The commands' context (backup.c; instance type and hooks: backup_target.c),
 * shared with the export code
 */

/* One instance a policy backs up. */
typedef struct dv_btarget {
  char *name;             /* cloud name */
  char *address;          /* resource address, with the stack for selectors */
  char *status;           /* "Running", or NULL */
  const drover_provider *vt;
  void *state;            /* the provider's, borrowed from the stack */
  const drover_rtype *type; /* its type: a verify drill's scratch copy is one */
} dv_btarget;

struct dv_export_store;

typedef struct dv_bctx {
  drover_stack *stack;
  const struct dv_inst *pol; /* the policy's inst */
  dv_policy p;
  char key[9];
  dv_btarget *t;
  size_t nt;
  long long now;
  double timeout;
  const drover_backup_opts *opts; /* borrowed; may be NULL */
  struct dv_export_store *store;  /* opened on first use (backup_export.c) */
  int skip_missing;               /* targets that do not exist are left out */
} dv_bctx;

/* Opens the policy of stack (refreshing the stack when it was not) and,
 * when targets is non-zero, resolves its targets (1: each must exist;
 * 2: those that do not are left out).
 * Free with dv_bctx_free() in every case. */
drover_code dv_bctx_open(dv_bctx *c, drover_stack *stack, const char *policy,
                         const drover_backup_opts *o, int targets, drover_error *err);
void dv_bctx_free(dv_bctx *c);
/* The instance type of provider vt ("<name>.instance"), or NULL. */
const drover_rtype *dv_instance_type(const drover_provider *vt);
/* Whether a policy may target objects of type t of provider vt: its
 * instance type, or one flagged DROVER_RTYPE_BACKUP. */
int dv_backup_target_type(const drover_provider *vt, const drover_rtype *t);
/* Runs hook argv in t; fills entry["<which>"]. Non-zero when it failed. */
int dv_backup_hook(const dv_bctx *c, const dv_btarget *t, char **argv, const char *which,
                   json_t *entry);

/* ------------------------------------------------------------------------
 * Exports (backup_export.c, export_key.c)
 *
 * An export of one target for one slot is two objects under the policy's
 * export location s3://bucket/prefix:
 *   <prefix>/<snapshot>/<instance>.tar.gz   the provider's backup archive,
 *                                           metadata drover-sha256
 *   <prefix>/<snapshot>/<instance>.json     the manifest, written last
 * where <snapshot> is the slot's snapshot name (drover-<key>-<slot>). An
 * export exists only when its manifest does: a run killed before it
 * leaves at most an archive without one, which list shows as incomplete
 * and prune deletes once a later slot of that instance is complete.
 */

#define DV_EXPORT_FORMAT "drover-export/1"
#define DV_EXPORT_ARCHIVE ".tar.gz"
#define DV_EXPORT_MANIFEST ".json"

typedef struct dv_export_loc {
  char *bucket;
  char *prefix;           /* "" or ending in '/' */
} dv_export_loc;

/* Parses "s3://bucket[/prefix]". Free with dv_export_loc_free(). */
drover_code dv_export_loc_parse(dv_export_loc *out, const char *url, drover_error *err);
void dv_export_loc_free(dv_export_loc *loc);
/* "<prefix><snapshot>/<instance><ext>". Caller frees; NULL on OOM. */
char *dv_export_object(const dv_export_loc *loc, const char *snapshot,
                       const char *instance, const char *ext);
/* Reads an object key listed under loc: 1 for an archive, 2 for a
 * manifest of the policy with key, with its slot and instance (into
 * instance, size bytes); 0 for anything else. */
int dv_export_object_parse(const dv_export_loc *loc, const char *object, const char *key,
                           long long *slot, char *instance, size_t size);

/* One (instance, slot) of a policy's export objects as listed. */
typedef struct dv_export_item {
  char instance[96];
  long long slot;
  int archive, manifest;       /* which of the two objects exist */
  unsigned long long size;     /* of the archive */
} dv_export_item;

/* The retention over exports, per instance: items sorted by instance then
 * slot (n of them). kept[i] gets the DV_KEEP_* bits of a complete export
 * (archive and manifest) the rules keep; del[i] is set for a complete
 * export they do not keep, and for the leftover of a killed run (one
 * object of the two) older than the instance's newest complete export. */
drover_code dv_export_retention(const dv_retention *r, const dv_export_item *items, size_t n,
                                time_t now, unsigned *kept, int *del, drover_error *err);

/* Checks a manifest's shape and that it belongs to stack and policy
 * (NULL: any). Writes what is wrong to err (DROVER_E_CORRUPT). */
drover_code dv_manifest_check(const json_t *m, const char *stack, const char *policy,
                              drover_error *err);

/* SHA-256 of the file at path as 64 hex digits; *size its length. */
drover_code dv_file_sha256(const char *path, char out[65], unsigned long long *size,
                           drover_error *err);

void dv_export_store_close(struct dv_export_store *s);

/* backup run: one target's export for the slot of snapshot snap, in
 * three steps around the hooks (doc/backups.md "Export"):
 *   dv_export_begin    before pre: checks whether the slot's export
 *                      exists (its manifest); NULL only on OOM;
 *   dv_export_capture_begin  after pre, before the snapshot: starts the
 *                      provider's backup of the instance as it is now
 *                      (backup_live_begin), when it has one and the export
 *                      does not exist;
 *   dv_export_capture_end  after the snapshot, before post: waits for it
 *                      and stages the archive in a file (keep non-zero),
 *                      or only cleans up (keep 0: the snapshot failed). A
 *                      failure is kept for finish. The archive and the
 *                      snapshot both capture what pre made consistent;
 *   dv_export_finish   after post: uploads what was captured, or exports
 *                      the snapshot itself when nothing was (an earlier
 *                      run's snapshot, or a provider without the live op),
 *                      then the manifest; fills entry["export"]. Non-zero
 *                      (with e set) on failure.
 * Free the job with dv_export_job_free() in every case. */
typedef struct dv_export_job dv_export_job;
dv_export_job *dv_export_begin(dv_bctx *c, size_t i, const char *snap);
void dv_export_capture_begin(dv_export_job *job);
void dv_export_capture_end(dv_export_job *job, int keep);
drover_code dv_export_finish(dv_export_job *job, long long slot, json_t *entry,
                             drover_error *e);
void dv_export_job_free(dv_export_job *job);
/* backup run of a target whose slot snapshot exists: begin, then finish
 * (the snapshot is exported unless the slot's export exists). */
drover_code dv_export_run(dv_bctx *c, size_t i, const char *snap, long long slot,
                          json_t *entry, drover_error *e);
/* list/prune: the policy's exports as entries appended to arr; with
 * prune, the retention applied to them (per instance). *failed counts
 * failed deletions. */
drover_code dv_export_prune(dv_bctx *c, int prune, int dry, json_t *arr, size_t *failed,
                            drover_error *err);
/* restore --from-export: c opened without targets. */
drover_code dv_export_restore(char **out, dv_bctx *c, const char *address,
                              const char *snapshot, drover_error *err);
/* verify: drills each target's newest export. */
drover_code dv_export_verify(dv_bctx *c, json_t *arr, size_t *failed, drover_error *err);

#endif /* DROVER_BACKUP_H */
