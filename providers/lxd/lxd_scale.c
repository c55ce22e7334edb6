/* lxd_scale.c - scale.policy, served by the LXD provider that holds its
 * target, recorded like backup.policy (lxd_policy.c) as an unused profile
 * of kind "scale.policy". Its decisions are run labels (lxd_label.c). */
#include "lxd.h"

static const drover_prop scale_props[] = {
  {"target", DROVER_T_STRING, DROVER_PROP_REQUIRED, NULL, NULL,
   "the resource of this stack (with a count) whose count the policy sets"},
  {"timezone", DROVER_T_STRING, 0, "\"UTC\"", NULL,
   "IANA zone the windows are read in"},
  {"schedule", DROVER_T_OBJECT_ARRAY, 0, NULL, NULL,
   "windows {name, when (5-field cron of the minutes covered), count}; first match wins"},
  {"default", DROVER_T_INTEGER, DROVER_PROP_REQUIRED, NULL, NULL,
   "the count when no window matches"},
  {"queue", DROVER_T_OBJECT, 0, NULL, NULL,
   "{partition, jobs_per_instance}: pending Slurm jobs per instance"},
  {"min", DROVER_T_INTEGER, 0, "0", NULL, "lowest count"},
  {"max", DROVER_T_INTEGER, DROVER_PROP_REQUIRED, NULL, NULL, "highest count"},
  {"cooldown", DROVER_T_ANY, 0, NULL, NULL,
   "seconds or a duration (\"10m\") after a change before the next"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

static const drover_rule scale_rules[] = {
  {"min", DROVER_RULE_MIN | DROVER_RULE_MAX, 0, 100000, NULL, NULL},
  {"max", DROVER_RULE_MIN | DROVER_RULE_MAX, 0, 100000, NULL, NULL},
  {"default", DROVER_RULE_MIN | DROVER_RULE_MAX, 0, 100000, NULL, NULL},
  {"target", DROVER_RULE_NONEMPTY, 0, 0, NULL, NULL},
  {NULL, 0, 0, 0, NULL, NULL}
};

static const char *const scale_exports[] = {NULL};

const drover_rtype lxd_scale_type = {
  "scale.policy", scale_props, 2,
  "a scale policy: the count of a resource by schedule and queue (doc/scale.md)",
  scale_exports, scale_rules, lxd_name_object, 0
};

/* A scale policy owns nothing but its record. */
const lxd_type_ops lxd_scale_ops = {.del = lxd_record_del, .kind = LXD_KIND_SCALE};
