/*
 * drift.h - drift policies inside libdrover: the parsed form of a
 * drift.policy resource. Cross-file names use the dv_ prefix; the
 * command's public API (drover_drift_run) is in drover.h.
 */
#ifndef DROVER_DRIFT_H
#define DROVER_DRIFT_H

#include <jansson.h>
#include "drover.h"
#include "schedule.h"

typedef struct dv_drift_policy {
  char **targets;          /* stack names */
  size_t ntargets;
  char *sel_stack;         /* glob (fnmatch) on the stack label, NULL: none */
  char *templates;         /* directory of STACK.json, NULL: the policy's */
  char *tpl;               /* or: one template for every target, NULL: none */
  json_t *vars;            /* vars for every target (owned), NULL: none */
  dv_cron cron;            /* schedule, read in tz */
  char tz[64];
  int auto_repair;
} dv_drift_policy;

/* Parses evaluated drift.policy properties. On a bad value writes its
 * JSON pointer relative to props to where (may be NULL) and returns
 * DROVER_E_TEMPLATE. Free with dv_drift_policy_free() in every case. */
drover_code dv_drift_policy_parse(dv_drift_policy *out, const json_t *props, char *where,
                                  size_t where_size, drover_error *err);
void dv_drift_policy_free(dv_drift_policy *p);

/* The "schedule" and "timezone" (default "UTC") members every scheduled
 * policy has: a cron expression read in a checked IANA zone, copied to tz.
 * On error as dv_drift_policy_parse (drift_policy.c). */
drover_code dv_sched_props_parse(dv_cron *cron, char *tz, size_t tz_size, const json_t *props,
                                 char *where, size_t where_size, drover_error *err);

/* t as "2026-03-29T01:00:00Z" in buf; returns buf (schedule_slot.c). */
char *dv_iso_utc(long long t, char *buf, size_t size);

#endif /* DROVER_DRIFT_H */
