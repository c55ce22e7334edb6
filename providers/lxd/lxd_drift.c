/* lxd_drift.c - drift.policy, served by the LXD provider of the stack that
 * declares it, recorded like backup.policy (lxd_policy.c) as an unused
 * profile of kind "drift.policy". The checks themselves are
 * drover_drift_run (plugin/lib/drift.c): they plan other stacks. */
#include "lxd.h"

static const drover_prop drift_props[] = {
  {"targets", DROVER_T_ARRAY, 0, NULL, NULL, "names of the stacks checked"},
  {"selector", DROVER_T_STRING_MAP, 0, NULL, NULL,
   "instead of targets: a glob on the stack label, key stack"},
  {"templates", DROVER_T_STRING, 0, NULL, NULL,
   "directory of each target's template STACK.json (and STACK.vars.json); default: "
   "the policy template's"},
  {"template", DROVER_T_STRING, 0, NULL, NULL,
   "instead of templates: one template file for every target"},
  {"vars", DROVER_T_OBJECT, 0, NULL, NULL, "params given to every target's template"},
  {"schedule", DROVER_T_STRING, DROVER_PROP_REQUIRED, NULL, NULL,
   "5-field cron or @hourly/@daily/@weekly/@monthly/@yearly"},
  {"timezone", DROVER_T_STRING, 0, "\"UTC\"", NULL, "IANA zone the schedule is read in"},
  {"auto_repair", DROVER_T_BOOLEAN, 0, "false", NULL,
   "apply the plan that repairs the drift (never one that deletes)"},
  {NULL, DROVER_T_ANY, 0, NULL, NULL, NULL}
};

static const char *const drift_exports[] = {NULL};

const drover_rtype lxd_drift_type = {
  "drift.policy", drift_props, 2,
  "a drift check: plans target stacks on a schedule, optionally repairs (doc/schedule.md)",
  drift_exports, NULL, lxd_name_object, 0
};

/* A drift policy owns nothing but its record. */
const lxd_type_ops lxd_drift_ops = {.del = lxd_record_del, .kind = LXD_KIND_DRIFT};
