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
  int has_selector;
  dv_cron cron;            /* schedule, read in tz */
  char tz[64];
  dv_retention ret;        /* ret.tz points at tz */
  char *export_url;        /* "s3://b/p" or "file:///dir"; NULL: none */
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

#endif /* DROVER_BACKUP_H */
