/*
 * drover_spank.c - the Slurm SPANK shell over libdrover (Slurm 22.05).
 *
 *   sbatch/srun/salloc --drover=NAME[:key=value,...] [--drover-keep]
 *
 * Where each part runs (see doc/drover-spank.8):
 *  - init, local/allocator context (the user's srun/sbatch/salloc):
 *    registers the options; the option callback checks the syntax, and the
 *    template and params when the template is readable there, so a bad
 *    request fails before the job is queued.
 *  - job_prolog, S_CTX_JOB_SCRIPT, root, in slurmd's environment: reads
 *    only SPANK__SLURM_SPANK_OPTION_drover_drover, checks it all again,
 *    and on the allocation's first node applies the template as stack
 *    job-<jobid>-<NAME>, then writes the outputs file for the job's user.
 *    A failure never fails the prolog (22.05 drains the node for that):
 *    the stack is rolled back and the message is written to the job's
 *    error file instead.
 *  - task_init, remote context, as the user: fails the task with that
 *    message, or exports DROVER_<OUTPUT> and DROVER_OUTPUTS_FILE.
 *  - job_epilog, S_CTX_JOB_SCRIPT, root: destroys the stack (retrying),
 *    unless --drover-keep was given and allow_keep=yes.
 *
 * Only the SPANK symbols leave this object (-export-symbols-regex).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <slurm/slurm.h>
#include <slurm/spank.h>
#include "spank_int.h"

SPANK_PLUGIN(drover, 1);

#define OPT_ENV "SPANK__SLURM_SPANK_OPTION_drover_drover"
#define KEEP_ENV "SPANK__SLURM_SPANK_OPTION_drover_drover_keep"
#define DEFAULT_PROVIDERS "{\"lxd\": {}}"
#define MAX_TEMPLATE_BYTES (1024 * 1024)
#define MAX_CONFIG_BYTES (256 * 1024)

/* Plugin state. One process runs one context, single threaded at the
 * points where SPANK calls us. */
static dvs_config cfg;
static int cfg_ok;
static char cfg_err[512];
static char opt_value[DVS_REQUEST_MAX + 1];
static int opt_set;
static int keep_set;

static int opt_cb(int val, const char *arg, int remote);

static struct spank_option opt_drover = {
  "drover", "NAME[:key=value,...]",
  "Create cloud resources from the admin template NAME for this job (drover)",
  1, 0, opt_cb
};
static struct spank_option opt_keep = {
  "drover-keep", NULL,
  "Keep the job's drover stack after the job ends (if the admin allows it)",
  0, 1, opt_cb
};

static int cfg_loaded;

/* Parses the plugstack arguments once per process. Every entry point
 * calls it: in 22.05 the job script context (prolog/epilog) runs the
 * plugin without calling slurm_spank_init first. */
static void config_load(int ac, char **av)
{
  if(cfg_loaded)
    return;
  cfg_loaded = 1;
  dvs_config_init(&cfg);
  cfg_ok = dvs_config_parse(&cfg, ac, av, cfg_err, sizeof(cfg_err)) == 0;
}

/* ------------------------------------------------------------------------
 * Logging: the engine's one sink, routed to Slurm's log.
 */

static void log_sink(void *ud, drover_log_level level, const char *msg)
{
  const char *stack = ud;

  if(level > cfg.log_level)
    return;
  switch(level) {
  case DROVER_LOG_ERROR:
    slurm_error("drover: %s: %s", stack, msg);
    break;
  case DROVER_LOG_WARN:
  case DROVER_LOG_INFO:
    slurm_info("drover: %s: %s", stack, msg);
    break;
  default:
    slurm_debug("drover: %s: %s", stack, msg);
    break;
  }
}

static void progress_sink(void *ud, const drover_event *ev)
{
  const char *stack = ud;
  static const char *const kinds[] = {"start", "done", "retry", "failed", "skipped"};
  const char *kind = (unsigned)ev->kind < 5 ? kinds[ev->kind] : "?";

  if(ev->kind == DROVER_EVENT_FAILED)
    slurm_error("drover: %s: %s %s %s: %s", stack, drover_action_name(ev->action),
                ev->address ? ev->address : "", kind, ev->message ? ev->message : "");
  else if(ev->kind == DROVER_EVENT_START)
    slurm_debug("drover: %s: %s %s %s", stack, drover_action_name(ev->action),
                ev->address ? ev->address : "", kind);
  else
    slurm_info("drover: %s: %s %s %s (%.2fs) [%zu/%zu]", stack,
               drover_action_name(ev->action), ev->address ? ev->address : "", kind,
               ev->elapsed, ev->done, ev->total);
}

/* ------------------------------------------------------------------------
 * Submit side: option callback
 */

/* Loads and checks the template and params the way the prolog will, but
 * with no provider config (the user cannot read it) and no cloud.
 * Returns 0 if fine or if the template cannot be read here (the prolog
 * decides then), -1 with a message when the request is certainly bad. */
static int precheck_template(const dvs_request *req, char *msg, size_t msglen);

static int opt_cb(int val, const char *arg, int remote)
{
  char msg[1024];
  dvs_request req;

  if(val == 1) {
    keep_set = 1;
    if(!remote && cfg_ok && !cfg.allow_keep) {
      slurm_error("drover: --drover-keep is not allowed on this cluster (allow_keep=no)");
      return -1;
    }
    return 0;
  }
  if(!arg || strlen(arg) > DVS_REQUEST_MAX) {
    slurm_error("drover: --drover value missing or longer than %d bytes", DVS_REQUEST_MAX);
    return -1;
  }
  if(dvs_request_parse(&req, arg, msg, sizeof(msg))) {
    slurm_error("%s", msg);
    return -1;
  }
  if(!remote && precheck_template(&req, msg, sizeof(msg))) {
    slurm_error("%s", msg);
    return -1;
  }
  memcpy(opt_value, arg, strlen(arg) + 1);
  opt_set = 1;
  return 0;
}

/* ------------------------------------------------------------------------
 * Template, vars, stack
 */

/* Opens and loads the template NAME from the trusted directory. *tpl is
 * owned by the caller: drover_template_free(). */
static int load_template(drover_template **tpl, const char *name, char *msg, size_t msglen)
{
  char *buf = NULL, source[600];
  size_t len = 0;
  int dfd = -1, fd = -1, rc = -1;
  drover_error err;

  *tpl = NULL;
  dfd = dvs_open_trusted_dir(cfg.template_dir, 0, msg, msglen);
  if(dfd < 0)
    goto out;
  fd = dvs_open_template(dfd, name, 0, msg, msglen);
  if(fd < 0)
    goto out;
  if(dvs_read_fd(&buf, &len, fd, MAX_TEMPLATE_BYTES, msg, msglen))
    goto out;
  snprintf(source, sizeof(source), "%s/%s.json", cfg.template_dir, name);
  drover_error_clear(&err);
  if(drover_template_load_buffer(tpl, buf, len, source, &err)) {
    char line[DROVER_ERROR_TEXT + 300];
    snprintf(msg, msglen, "drover: template \"%s\" is broken: %s", name,
             drover_error_format(&err, line, sizeof(line)));
    goto out;
  }
  rc = 0;
out:
  free(buf);
  if(fd >= 0)
    close(fd);
  if(dfd >= 0)
    close(dfd);
  return rc;
}

/* Every param must be declared by the template. */
static int check_param_names(const drover_template *tpl, const dvs_request *req,
                             char *msg, size_t msglen)
{
  size_t i, j, n = drover_template_param_count(tpl);

  for(i = 0; i < req->nparams; i++) {
    int found = 0;
    for(j = 0; j < n && !found; j++) {
      const char *pn = drover_template_param_name(tpl, j);
      found = pn && !strcmp(pn, req->params[i].key);
    }
    if(!found) {
      size_t o = (size_t)snprintf(msg, msglen,
                                  "drover: template \"%s\" has no param \"%s\" (params:",
                                  req->name, req->params[i].key);
      for(j = 0; j < n && o < msglen; j++)
        o += (size_t)snprintf(msg + o, msglen - o, " %s", drover_template_param_name(tpl, j));
      if(o < msglen)
        snprintf(msg + o, msglen - o, "%s)", n ? "" : " none");
      return -1;
    }
  }
  return 0;
}

/* *vars is owned by the caller: drover_vars_free(). */
static int build_vars(drover_vars **vars, const dvs_request *req, char *msg, size_t msglen)
{
  drover_error err;
  size_t i;

  *vars = drover_vars_new();
  if(!*vars) {
    snprintf(msg, msglen, "drover: out of memory");
    return -1;
  }
  drover_error_clear(&err);
  for(i = 0; i < req->nparams; i++) {
    if(drover_vars_set(*vars, req->params[i].key, req->params[i].value, &err)) {
      char line[DROVER_ERROR_TEXT + 300];
      snprintf(msg, msglen, "drover: param \"%s\": %s", req->params[i].key,
               drover_error_format(&err, line, sizeof(line)));
      drover_vars_free(*vars);
      *vars = NULL;
      return -1;
    }
  }
  return 0;
}

static void err_msg(char *msg, size_t msglen, const char *what, const drover_error *err)
{
  char line[DROVER_ERROR_TEXT + 300];

  snprintf(msg, msglen, "drover: %s: %s", what, drover_error_format(err, line, sizeof(line)));
}

static int precheck_template(const dvs_request *req, char *msg, size_t msglen)
{
  drover_template *tpl = NULL;
  drover_vars *vars = NULL;
  drover_stack *stack = NULL;
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_error err;
  char stack_name[DVS_STACK_MAX + 1];
  int rc = 0;

  if(!cfg_ok || !cfg.template_dir[0])
    return 0;
  if(load_template(&tpl, req->name, msg, msglen)) {
    /* "No such template" is certain; anything else (unreadable here, a
     * directory that only exists on the compute nodes) is the prolog's. */
    rc = strstr(msg, "no template named") ? -1 : 0;
    goto out;
  }
  if(check_param_names(tpl, req, msg, msglen) || build_vars(&vars, req, msg, msglen)) {
    rc = -1;
    goto out;
  }
  /* Constraints and count; no provider config and no cloud here. */
  dvs_stack_name(stack_name, sizeof(stack_name), 0, req->name);
  opts.stack_name = stack_name;
  drover_error_clear(&err);
  if(drover_stack_open(&stack, tpl, vars, &opts, &err)) {
    if(err.code == DROVER_E_PARAM || err.code == DROVER_E_REFERENCE ||
       err.code == DROVER_E_TEMPLATE) {
      err_msg(msg, msglen, req->name, &err);
      rc = -1;
    }
    goto out;
  }
  /* The instance limits need the plan (and so the cloud): prolog only. */
out:
  drover_stack_free(stack);
  drover_vars_free(vars);
  drover_template_free(tpl);
  return rc;
}

/* Engine options for the job script contexts. provider_config points at
 * an fd we already checked (/proc/self/fd/N), so the file the engine reads
 * is the one that passed the ownership and mode checks. */
typedef struct job_ctx {
  uint32_t jobid;
  uid_t uid;
  gid_t gid;
  char stack[DVS_STACK_MAX + 1];
  char providers_path[64];
  char *providers_json;  /* owned */
  int config_fd;
} job_ctx;

static int job_ctx_config(job_ctx *jc, char *msg, size_t msglen)
{
  jc->config_fd = -1;
  jc->providers_json = NULL;
  if(!cfg.provider_config[0]) {
    jc->providers_json = strdup(DEFAULT_PROVIDERS);
    return jc->providers_json ? 0 : -1;
  }
  jc->config_fd = dvs_open_secret_file(cfg.provider_config, 0, msg, msglen);
  if(jc->config_fd < 0)
    return -1;
  if(dvs_read_fd(&jc->providers_json, NULL, jc->config_fd, MAX_CONFIG_BYTES, msg, msglen))
    return -1;
  lseek(jc->config_fd, 0, SEEK_SET);
  snprintf(jc->providers_path, sizeof(jc->providers_path), "/proc/self/fd/%d",
           jc->config_fd);
  return 0;
}

static void job_ctx_free(job_ctx *jc)
{
  free(jc->providers_json);
  jc->providers_json = NULL;
  if(jc->config_fd >= 0)
    close(jc->config_fd);
  jc->config_fd = -1;
}

static void job_opts(drover_options *opts, job_ctx *jc)
{
  drover_options init = DROVER_OPTIONS_INIT;

  *opts = init;
  opts->stack_name = jc->stack;
  opts->log = log_sink;
  opts->log_userdata = jc->stack;
  opts->log_level = cfg.log_level;
  opts->provider_config = jc->config_fd >= 0 ? jc->providers_path : NULL;
  opts->lock_dir = cfg.lock_dir[0] ? cfg.lock_dir : NULL;
}

static void job_apply_opts(drover_apply_opts *ao, job_ctx *jc)
{
  drover_apply_opts init = DROVER_APPLY_OPTS_INIT;

  *ao = init;
  ao->op_timeout = cfg.apply_timeout;
  ao->progress = progress_sink;
  ao->progress_userdata = jc->stack;
}

/* Destroys everything the stack owns, found by its label (the template may
 * have changed or may not load). */
static drover_code destroy_stack(job_ctx *jc, drover_error *err)
{
  drover_stack *stack = NULL;
  drover_plan *plan = NULL;
  drover_options opts;
  drover_apply_opts ao;
  drover_apply_result res;
  drover_code rc;

  job_opts(&opts, jc);
  job_apply_opts(&ao, jc);
  rc = drover_stack_open_bare(&stack, jc->stack, jc->providers_json, &opts, err);
  if(rc)
    goto out;
  rc = drover_stack_lock(stack, cfg.lock_wait, err);
  if(rc)
    goto out;
  rc = drover_stack_refresh(stack, err);
  if(rc)
    goto out;
  rc = drover_plan_new(&plan, stack, DROVER_PLAN_DESTROY, err);
  if(rc)
    goto out;
  if(drover_plan_changes(plan) == 0)
    goto out;
  memset(&res, 0, sizeof(res));
  rc = drover_apply(plan, &ao, &res, err);
  if(!rc)
    slurm_info("drover: %s: destroyed (%zu deleted)", jc->stack, res.deleted);
out:
  drover_plan_free(plan);
  drover_stack_free(stack);
  return rc;
}

/* ------------------------------------------------------------------------
 * The per-user limit: instances in the user's other live job stacks.
 */

static long user_instances(job_ctx *jc, char *msg, size_t msglen)
{
  char **names = NULL;
  job_info_msg_t *jobs = NULL;
  drover_options opts;
  drover_error err;
  long total = 0;
  size_t i, j;

  job_opts(&opts, jc);
  drover_error_clear(&err);
  if(drover_stacks_list(&names, jc->providers_json, &opts, &err)) {
    err_msg(msg, msglen, "listing stacks for max_instances_per_user", &err);
    return -1;
  }
  if(slurm_load_job_user(&jobs, jc->uid, SHOW_ALL)) {
    snprintf(msg, msglen, "drover: asking slurmctld for the user's jobs: %s",
             slurm_strerror(slurm_get_errno()));
    drover_strv_free(names);
    return -1;
  }
  for(i = 0; names && names[i]; i++) {
    uint32_t id;
    int mine = 0;
    if(dvs_stack_jobid(names[i], &id) || id == jc->jobid)
      continue;
    for(j = 0; j < jobs->record_count && !mine; j++)
      mine = jobs->job_array[j].job_id == id &&
             (jobs->job_array[j].job_state & JOB_STATE_BASE) <= JOB_SUSPENDED;
    if(mine) {
      job_ctx other = *jc;
      drover_stack *stack = NULL;
      char *show = NULL;
      long n;
      snprintf(other.stack, sizeof(other.stack), "%s", names[i]);
      job_opts(&opts, &other);
      drover_error_clear(&err);
      if(drover_stack_open_bare(&stack, names[i], jc->providers_json, &opts, &err) ||
         drover_stack_refresh(stack, &err) ||
         drover_stack_show_json(&show, stack, &err)) {
        err_msg(msg, msglen, names[i], &err);
        drover_stack_free(stack);
        total = -1;
        break;
      }
      n = dvs_count_instances_json(show);
      free(show);
      drover_stack_free(stack);
      if(n > 0)
        total += n;
    }
  }
  slurm_free_job_info_msg(jobs);
  drover_strv_free(names);
  return total;
}

/* Serialises the per-user check-and-apply of one user's prologs on this
 * node. The fd is returned; closing it unlocks. */
static int user_lock(const job_ctx *jc)
{
  char path[600];
  const char *dir = cfg.lock_dir[0] ? cfg.lock_dir : "/run/drover";
  int fd;

  mkdir(dir, 0755);
  snprintf(path, sizeof(path), "%s/user-%u.lock", dir, (unsigned)jc->uid);
  fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if(fd >= 0 && flock(fd, LOCK_EX) != 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

/* ------------------------------------------------------------------------
 * job_prolog
 */

/* Names whose presence in the prolog's environment could change what the
 * engine or its libraries do. The prolog keeps only what it needs. */
static void scrub_environment(void)
{
  clearenv();
  setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
}

/* Is this node the allocation's first? nodelist and self come from
 * slurmd (SLURM_JOB_NODELIST, SLURMD_NODENAME), which user-supplied job
 * control variables cannot override (slurmd prefixes those SPANK_). */
static int first_node(const char *nodelist, const char *self)
{
  hostlist_t hl;
  char *first;
  int yes;

  if(!nodelist || !nodelist[0] || !self || !self[0])
    return 1; /* single node, or unknown: do the work here */
  hl = slurm_hostlist_create(nodelist);
  if(!hl)
    return 1;
  first = slurm_hostlist_shift(hl);
  yes = !first || !strcmp(first, self);
  free(first);
  slurm_hostlist_destroy(hl);
  return yes;
}

static int get_job_ids(spank_t sp, job_ctx *jc)
{
  struct passwd *pw;

  if(spank_get_item(sp, S_JOB_ID, &jc->jobid) != ESPANK_SUCCESS ||
     spank_get_item(sp, S_JOB_UID, &jc->uid) != ESPANK_SUCCESS)
    return -1;
  if(spank_get_item(sp, S_JOB_GID, &jc->gid) != ESPANK_SUCCESS) {
    pw = getpwuid(jc->uid);
    if(!pw)
      return -1;
    jc->gid = pw->pw_gid;
  }
  return 0;
}

/* Tells the job why it has no stack: the error file, read by task_init. */
static void report_job_error(const job_ctx *jc, const char *msg)
{
  char e[256];

  slurm_error("drover: job %u: %s", (unsigned)jc->jobid, msg);
  if(dvs_job_file_write(cfg.outputs_dir, jc->jobid, DVS_ERROR_FILE, msg, jc->uid,
                        jc->gid, e, sizeof(e)))
    slurm_error("drover: job %u: cannot record the error for the job: %s",
                (unsigned)jc->jobid, e);
}

static int count_plan_instances(const drover_plan *plan)
{
  size_t i, n = drover_plan_count(plan);
  int total = 0;

  for(i = 0; i < n; i++) {
    const char *t = drover_plan_type(plan, i);
    size_t tl = t ? strlen(t) : 0;
    if(tl >= 9 && !strcmp(t + tl - 9, ".instance") &&
       drover_plan_action(plan, i) != DROVER_ACTION_DELETE)
      total++;
  }
  return total;
}

static int prolog_apply(job_ctx *jc, const dvs_request *req, char *msg, size_t msglen)
{
  drover_template *tpl = NULL;
  drover_vars *vars = NULL;
  drover_stack *stack = NULL;
  drover_plan *plan = NULL;
  drover_options opts;
  drover_apply_opts ao;
  drover_apply_result res;
  drover_error err;
  char *outputs = NULL;
  int rc = -1, touched = 0, ulock = -1;
  double t0 = 0;
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  t0 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
  drover_error_clear(&err);
  if(load_template(&tpl, req->name, msg, msglen) ||
     check_param_names(tpl, req, msg, msglen) || build_vars(&vars, req, msg, msglen) ||
     job_ctx_config(jc, msg, msglen))
    goto out;
  job_opts(&opts, jc);
  job_apply_opts(&ao, jc);
  if(drover_stack_open(&stack, tpl, vars, &opts, &err)) {
    err_msg(msg, msglen, req->name, &err);
    goto out;
  }
  if(drover_stack_lock(stack, cfg.lock_wait, &err) || drover_stack_refresh(stack, &err) ||
     drover_plan_new(&plan, stack, 0, &err)) {
    err_msg(msg, msglen, jc->stack, &err);
    goto out;
  }
  if(cfg.max_instances_per_job > 0 &&
     count_plan_instances(plan) > cfg.max_instances_per_job) {
    snprintf(msg, msglen, "drover: %s: %d instances, more than this cluster allows per job (%ld)",
             req->name, count_plan_instances(plan), cfg.max_instances_per_job);
    goto out;
  }
  if(cfg.max_instances_per_user > 0) {
    long others;
    ulock = user_lock(jc);
    others = user_instances(jc, msg, msglen);
    if(others < 0)
      goto out;
    if(others + count_plan_instances(plan) > cfg.max_instances_per_user) {
      snprintf(msg, msglen,
               "drover: %s: %d instances plus %ld in your other running jobs is more than"
               " this cluster allows per user (%ld)",
               req->name, count_plan_instances(plan), others, cfg.max_instances_per_user);
      goto out;
    }
  }
  touched = 1;
  memset(&res, 0, sizeof(res));
  if(drover_apply(plan, &ao, &res, &err)) {
    err_msg(msg, msglen, jc->stack, &err);
    goto out;
  }
  if(drover_stack_outputs_json(&outputs, stack, 0, &err)) {
    err_msg(msg, msglen, "outputs", &err);
    goto out;
  }
  if(dvs_job_file_write(cfg.outputs_dir, jc->jobid, DVS_OUTPUTS_FILE, outputs, jc->uid,
                        jc->gid, msg, msglen))
    goto out;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  slurm_info("drover: %s: applied %zu created, %zu updated, %zu replaced in %.3fs",
             jc->stack, res.created, res.updated, res.replaced,
             (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - t0);
  rc = 0;
out:
  if(ulock >= 0)
    close(ulock);
  free(outputs);
  drover_plan_free(plan);
  drover_stack_free(stack); /* releases the stack lock */
  if(rc && touched) {
    /* Roll back whatever the apply created before the job hears of it. */
    drover_error derr;
    drover_error_clear(&derr);
    if(destroy_stack(jc, &derr)) {
      char line[DROVER_ERROR_TEXT + 300];
      slurm_error("drover: %s: rollback failed (drover gc will retry): %s", jc->stack,
                  drover_error_format(&derr, line, sizeof(line)));
    }
  }
  drover_vars_free(vars);
  drover_template_free(tpl);
  return rc;
}

int slurm_spank_job_prolog(spank_t sp, int ac, char **av)
{
  const char *v = getenv(OPT_ENV);
  char value[DVS_REQUEST_MAX + 1], nodelist[8192], self[256], msg[2048];
  dvs_request req;
  job_ctx jc;

  config_load(ac, av);

  if(!v)
    return 0; /* the job did not ask for drover */
  memset(&jc, 0, sizeof(jc));
  jc.config_fd = -1;
  snprintf(value, sizeof(value), "%s", v);
  if(strlen(v) > DVS_REQUEST_MAX)
    value[0] = '\x01'; /* refused by the parser below */
  v = getenv("SLURM_NODELIST");
  snprintf(nodelist, sizeof(nodelist), "%s", v ? v : "");
  v = getenv("SLURMD_NODENAME");
  snprintf(self, sizeof(self), "%s", v ? v : "");
  /* From here on nothing from any environment. */
  scrub_environment();

  if(get_job_ids(sp, &jc)) {
    slurm_error("drover: prolog: cannot get the job id and user from Slurm");
    return 0;
  }
  if(!first_node(nodelist, self)) {
    slurm_debug("drover: job %u: not the first node; nothing to do here", (unsigned)jc.jobid);
    return 0;
  }
  /* An old outputs or error file from an earlier run of this job id
   * (requeue) must not be mistaken for this run's. */
  dvs_job_dir_remove(cfg.outputs_dir, jc.jobid, msg, sizeof(msg));

  if(!cfg_ok) {
    slurm_error("drover: plugstack.conf: %s", cfg_err);
    report_job_error(&jc, "drover: the drover plugin is misconfigured on this node;"
                     " ask the administrator (see the slurmd log)");
    return 0;
  }
  if(dvs_request_parse(&req, value, msg, sizeof(msg))) {
    report_job_error(&jc, msg);
    return 0;
  }
  if(dvs_stack_name(jc.stack, sizeof(jc.stack), jc.jobid, req.name)) {
    report_job_error(&jc, "drover: cannot build the stack name");
    return 0;
  }
  if(drover_global_init()) {
    report_job_error(&jc, "drover: library initialisation failed");
    return 0;
  }
  slurm_info("drover: job %u uid %u: applying template \"%s\" as stack %s",
             (unsigned)jc.jobid, (unsigned)jc.uid, req.name, jc.stack);
  if(prolog_apply(&jc, &req, msg, sizeof(msg)))
    report_job_error(&jc, msg);
  job_ctx_free(&jc);
  drover_global_cleanup();
  /* Never non-zero: Slurm 22.05 drains the node when a prolog fails. The
   * job is failed in task_init instead. */
  return 0;
}

/* ------------------------------------------------------------------------
 * job_epilog
 */

int slurm_spank_job_epilog(spank_t sp, int ac, char **av)
{
  const char *v = getenv(OPT_ENV);
  int keep = getenv(KEEP_ENV) != NULL;
  char value[DVS_REQUEST_MAX + 1], nodelist[8192], self[256], msg[2048];
  dvs_request req;
  job_ctx jc;
  unsigned attempt;

  config_load(ac, av);

  if(!v)
    return 0;
  memset(&jc, 0, sizeof(jc));
  jc.config_fd = -1;
  snprintf(value, sizeof(value), "%s", v);
  v = getenv("SLURM_NODELIST");
  snprintf(nodelist, sizeof(nodelist), "%s", v ? v : "");
  v = getenv("SLURMD_NODENAME");
  snprintf(self, sizeof(self), "%s", v ? v : "");
  scrub_environment();

  if(get_job_ids(sp, &jc)) {
    slurm_error("drover: epilog: cannot get the job id from Slurm");
    return 0;
  }
  if(!first_node(nodelist, self))
    return 0;
  if(dvs_job_dir_remove(cfg.outputs_dir, jc.jobid, msg, sizeof(msg)))
    slurm_error("drover: job %u: %s", (unsigned)jc.jobid, msg);
  /* A request that does not parse never made a stack. */
  if(!cfg_ok || dvs_request_parse(&req, value, msg, sizeof(msg)) ||
     dvs_stack_name(jc.stack, sizeof(jc.stack), jc.jobid, req.name))
    return 0;
  if(keep && cfg.allow_keep) {
    slurm_info("drover: %s: kept after the job (--drover-keep); drover gc removes it later",
               jc.stack);
    return 0;
  }
  if(cfg.epilog == DVS_EPILOG_SKIP) {
    slurm_info("drover: %s: epilog=skip: left for drover gc", jc.stack);
    return 0;
  }
  if(job_ctx_config(&jc, msg, sizeof(msg))) {
    slurm_error("drover: %s: cannot destroy: %s", jc.stack, msg);
    job_ctx_free(&jc);
    return 0;
  }
  if(drover_global_init()) {
    job_ctx_free(&jc);
    return 0;
  }
  for(attempt = 1; attempt <= cfg.epilog_retries; attempt++) {
    drover_error err;
    char line[DROVER_ERROR_TEXT + 300];
    drover_error_clear(&err);
    if(!destroy_stack(&jc, &err))
      break;
    slurm_error("drover: %s: destroy attempt %u/%u failed: %s", jc.stack, attempt,
                cfg.epilog_retries, drover_error_format(&err, line, sizeof(line)));
    if(attempt < cfg.epilog_retries)
      sleep(attempt * 2);
  }
  if(attempt > cfg.epilog_retries)
    slurm_error("drover: %s: left behind; drover gc will remove it", jc.stack);
  job_ctx_free(&jc);
  drover_global_cleanup();
  /* Never non-zero: a failing epilog drains the node too. */
  return 0;
}

/* ------------------------------------------------------------------------
 * Remote side: task_init, as the user, in slurmstepd
 */

static int export_outputs(spank_t sp, const char *path, const char *text)
{
  json_t *root, *o;
  json_error_t jerr;
  const char *name;

  root = json_loads(text, 0, &jerr);
  if(!json_is_object(root)) {
    json_decref(root);
    slurm_error("drover: %s is not a JSON object", path);
    return -1;
  }
  json_object_foreach(root, name, o) {
    char env[128], *val = NULL;
    json_t *value = json_is_object(o) ? json_object_get(o, "value") : NULL;
    if(!value || json_is_true(json_object_get(o, "sensitive")))
      continue; /* sensitive values are not revealed into the job */
    if(dvs_output_env_name(env, sizeof(env), name)) {
      slurm_info("drover: output \"%s\" has no usable variable name; skipped", name);
      continue;
    }
    if(dvs_output_env_value(&val, value) == 0)
      spank_setenv(sp, env, val, 1);
    free(val);
  }
  json_decref(root);
  spank_setenv(sp, DVS_ENV_OUTPUTS_FILE, path, 1);
  return 0;
}

int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
  char path[700], msg[2048], *text = NULL, nodelist[8192], self[256];
  uint32_t jobid;
  int fd, rc = 0;

  config_load(ac, av);

  if(spank_get_item(sp, S_JOB_ID, &jobid) != ESPANK_SUCCESS)
    return 0;

  /* The prolog's error: fail the task with it (the job's stderr). One
   * open() that fails with ENOENT for every job that did not ask. */
  dvs_job_file_path(path, sizeof(path), cfg.outputs_dir, jobid, DVS_ERROR_FILE);
  fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if(fd >= 0) {
    if(dvs_read_fd(&text, NULL, fd, 4096, msg, sizeof(msg)))
      text = NULL;
    close(fd);
    slurm_error("%s", text && text[0] ? text : "drover: the job's stack was not created");
    free(text);
    return -1;
  }

  /* A request that did not come through our option (a forged job control
   * variable) still gets its error above, and nothing else. */
  if(!opt_set)
    return 0;
  dvs_job_file_path(path, sizeof(path), cfg.outputs_dir, jobid, DVS_OUTPUTS_FILE);
  fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if(fd < 0) {
    /* Only the allocation's first node holds the file (unless outputs_dir
     * is shared); elsewhere there is nothing to export. */
    if(spank_getenv(sp, "SLURM_JOB_NODELIST", nodelist, sizeof(nodelist)) != ESPANK_SUCCESS)
      nodelist[0] = '\0';
    if(spank_getenv(sp, "SLURMD_NODENAME", self, sizeof(self)) != ESPANK_SUCCESS &&
       gethostname(self, sizeof(self)))
      self[0] = '\0';
    if(first_node(nodelist, self)) {
      slurm_error("drover: job %u: no outputs (%s): the prolog did not create the stack;"
                  " see the slurmd log", (unsigned)jobid, strerror(errno));
      return -1;
    }
    return 0;
  }
  if(dvs_read_fd(&text, NULL, fd, 1024 * 1024, msg, sizeof(msg))) {
    slurm_error("%s", msg);
    rc = -1;
  }
  else
    rc = export_outputs(sp, path, text);
  close(fd);
  free(text);
  return rc;
}

/* ------------------------------------------------------------------------
 * init
 */

int slurm_spank_init(spank_t sp, int ac, char **av)
{
  spank_context_t ctx = spank_context();

  config_load(ac, av);
  if(!cfg_ok && (ctx == S_CTX_SLURMD || ctx == S_CTX_JOB_SCRIPT))
    slurm_error("drover: plugstack.conf: %s", cfg_err);
  if(ctx == S_CTX_LOCAL || ctx == S_CTX_ALLOCATOR || ctx == S_CTX_REMOTE) {
    if(spank_option_register(sp, &opt_drover) != ESPANK_SUCCESS ||
       spank_option_register(sp, &opt_keep) != ESPANK_SUCCESS)
      slurm_error("drover: cannot register the --drover options");
  }
  return 0;
}
