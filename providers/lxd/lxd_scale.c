/* lxd_scale.c - scale.policy, served by the LXD provider that holds its
 * target, recorded like backup.policy (lxd_policy.c) as an unused profile
 * of kind "scale.policy". Its decisions are run labels (lxd_label.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static drover_code scale_list(lxd_state *st, const char *stack, drover_live_list *out,
                              drover_error *err)
{
  return lxd_record_list(st, LXD_KIND_SCALE, stack, out, err);
}

static drover_code scale_create(lxd_state *st, const drover_res_req *req,
                                drover_live **out, drover_error *err)
{
  return lxd_record_create(st, LXD_KIND_SCALE, req, out, err);
}

static drover_code scale_update(lxd_state *st, const drover_res_req *req,
                                const drover_live *cur, drover_live **out,
                                drover_error *err)
{
  return lxd_record_update(st, LXD_KIND_SCALE, req, cur, out, err);
}

static drover_code scale_read(lxd_state *st, const char *name, drover_live **out,
                              drover_error *err)
{
  return lxd_record_read(st, LXD_KIND_SCALE, name, out, err);
}

static drover_code scale_del(lxd_state *st, const drover_live *cur, double deadline,
                             drover_error *err)
{
  return lxd_profile_ops.del(st, cur, deadline, err);
}

const lxd_type_ops lxd_scale_ops = {
  scale_list, scale_create, scale_update, scale_del, scale_read, NULL
};
