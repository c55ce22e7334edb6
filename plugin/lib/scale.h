/*
 * scale.h - scale policies inside libdrover: the parsed form of a
 * scale.policy resource and the pure decision (which count, which rule,
 * min/max, cooldown). Cross-file names use the dv_ prefix; the command's
 * public API is drover_scale_* in drover.h. Nothing here talks to a cloud
 * or to Slurm: the pending job count is an input.
 */
#ifndef DROVER_SCALE_H
#define DROVER_SCALE_H

#include <jansson.h>
#include <time.h>
#include "drover.h"
#include "schedule.h"

#define DV_SCALE_TYPE "scale.policy"
/* Label (DROVER_LABEL_* style key) on the policy's own object holding the
 * last decision as compact JSON (doc/scale.md). */
#define DV_SCALE_LABEL "scale_decision"
#define DV_SCALE_MAX_RULES 32
#define DV_SCALE_NAME_MAX 64

/* One schedule window: the local minutes its cron expression matches. */
typedef struct dv_scale_rule {
  char name[DV_SCALE_NAME_MAX];
  dv_cron when;
  long count;
} dv_scale_rule;

typedef struct dv_scale_policy {
  char target[128];            /* the counted resource block of the stack */
  char tz[64];
  dv_scale_rule rules[DV_SCALE_MAX_RULES];
  size_t nrules;
  long dflt;                   /* "default": no window matches */
  int has_queue;
  char partition[128];         /* queue rule: Slurm partition */
  long jobs_per_instance;
  long min, max;
  long long cooldown;          /* seconds; 0: none */
} dv_scale_policy;

/* Parses evaluated policy properties. On a bad value writes its JSON
 * pointer relative to props to where (may be NULL) and returns
 * DROVER_E_TEMPLATE (err->column: a column inside a cron string). */
drover_code dv_scale_parse(dv_scale_policy *out, const json_t *props, char *where,
                           size_t where_size, drover_error *err);

/* What the decision starts from. */
typedef struct dv_scale_input {
  time_t now;
  long current;                /* live instances of the target */
  long pending;                /* pending jobs in the queue partition; -1: not read */
  time_t last_change;          /* when the count was last changed by the policy;
                                  0: never */
} dv_scale_input;

typedef struct dv_scale_decision {
  long asked;                  /* the deciding rule's count, before min/max */
  long desired;                /* asked within [min, max]: what the policy wants */
  long schedule_count;         /* the schedule's count (window or default) */
  long queue_count;            /* ceil(pending / jobs_per_instance); -1: no queue rule */
  char rule[DV_SCALE_NAME_MAX];/* the window's name, "default" or "queue" */
  const char *clamped;         /* "min", "max" or NULL */
  int held;                    /* desired != current but the cooldown holds it */
  time_t cooldown_until;       /* last_change + cooldown; 0: no cooldown running */
  char reason[384];            /* one line for humans */
  char local[40];              /* now in the policy's zone, ISO 8601 */
} dv_scale_decision;

/* Decides the count at in->now (pure but for the time zone lock). The
 * schedule's count is the first window whose expression matches the local
 * minute, else the default; with a queue rule the larger of that and the
 * queue's count wins (ties go to the schedule); the result is clamped to
 * [min, max]. A change while now < last_change + cooldown is held. */
drover_code dv_scale_decide(dv_scale_decision *out, const dv_scale_policy *p,
                            const dv_scale_input *in, drover_error *err);

/* Load-time check (template.c): each scale.policy's literal target names
 * a resource block of the template that has a count. file:line:col. */
struct drover_template;
drover_code dv_scale_targets_check(const struct drover_template *tpl, drover_error *err);

#endif /* DROVER_SCALE_H */
