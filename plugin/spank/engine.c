/*
 * engine.c - drover_spank_engine.so: the part of the drover SPANK plugin
 * that needs libdrover (and so libcurl, jansson, libcrypto). drover.so,
 * the shim Slurm loads everywhere, dlopen()s this module only for a job
 * that asked for --drover (see spank_engine.h and drover_spank.c):
 *  - precheck: the submit side's template and params check;
 *  - prolog: applies the template as stack job-<jobid>-<NAME> and writes
 *    the outputs file (the shim reports a failure to the job);
 *  - epilog: destroys the stack, retrying;
 *  - export_outputs: the outputs file into the task's environment.
 *
 * Only dvs_engine() leaves this object (-export-symbols-regex).
 */
#include <errno.h>
#include <fcntl.h>
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
#include "spank_engine.h"

#define MAX_TEMPLATE_BYTES (1024 * 1024)
#define MAX_CONFIG_BYTES (256 * 1024)

/* The shim's configuration, copied at every entry (it only calls us with
 * a configuration that parsed). */
static dvs_config cfg;

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

  if(!cfg.template_dir[0])
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
  int config_fd;
} job_ctx;

/* Opens the admin's provider config (credentials) after the trust checks.
 * Every provider is asked for a job's objects (providers NULL in the
 * library calls), each with its settings from this file or its own
 * defaults; nothing here names a provider. */
static int job_ctx_config(job_ctx *jc, char *msg, size_t msglen)
{
  struct stat st;

  jc->config_fd = -1;
  if(!cfg.provider_config[0])
    return 0;
  jc->config_fd = dvs_open_secret_file(cfg.provider_config, 0, msg, msglen);
  if(jc->config_fd < 0)
    return -1;
  if(fstat(jc->config_fd, &st) || st.st_size > MAX_CONFIG_BYTES) {
    snprintf(msg, msglen, "drover: config %s is larger than %d bytes",
             cfg.provider_config, MAX_CONFIG_BYTES);
    return -1;
  }
  snprintf(jc->providers_path, sizeof(jc->providers_path), "/proc/self/fd/%d",
           jc->config_fd);
  return 0;
}

static void job_ctx_free(job_ctx *jc)
{
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
 * have changed or may not load): the library's bare-stack destroy. */
static drover_code destroy_stack(job_ctx *jc, drover_error *err)
{
  drover_options opts;
  drover_apply_opts ao;
  drover_destroy_opts dopts = DROVER_DESTROY_OPTS_INIT;
  drover_destroy_result res;
  drover_code rc;

  job_opts(&opts, jc);
  job_apply_opts(&ao, jc);
  dopts.lock_wait = cfg.lock_wait;
  dopts.apply = &ao;
  rc = drover_stack_destroy_bare(jc->stack, NULL, &opts, &dopts, &res, err);
  if(!rc && res.planned)
    slurm_info("drover: %s: destroyed (%zu deleted)", jc->stack, res.deleted);
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
  if(drover_stacks_list(&names, NULL, &opts, &err)) {
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
      if(drover_stack_open_bare(&stack, names[i], NULL, &opts, &err) ||
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


/* ------------------------------------------------------------------------
 * Entry points
 */

/* Copies the shim's configuration and adds the admin's provider module
 * directory (plugstack provider_dir=) to the library's search path. */
static int engine_setup(const dvs_config *c, char *msg, size_t msglen)
{
  drover_error err;

  cfg = *c;
  drover_error_clear(&err);
  if(cfg.provider_dir[0] && drover_provider_dir_add(cfg.provider_dir, &err)) {
    snprintf(msg, msglen, "drover: provider_dir: %s", err.text);
    return -1;
  }
  return 0;
}

static int engine_precheck(const dvs_config *c, const dvs_request *req, char *msg,
                           size_t msglen)
{
  if(engine_setup(c, msg, msglen))
    return -1;
  return precheck_template(req, msg, msglen);
}

/* A job context for job, with no config file open yet. */
static void job_ctx_init(job_ctx *jc, const dvs_job *job)
{
  memset(jc, 0, sizeof(*jc));
  jc->config_fd = -1;
  jc->jobid = job->jobid;
  jc->uid = job->uid;
  jc->gid = job->gid;
  snprintf(jc->stack, sizeof(jc->stack), "%s", job->stack);
}

static int engine_prolog(const dvs_config *c, const dvs_job *job, const dvs_request *req,
                         char *msg, size_t msglen)
{
  job_ctx jc;
  int rc;

  if(engine_setup(c, msg, msglen))
    return -1;
  job_ctx_init(&jc, job);
  if(drover_global_init()) {
    snprintf(msg, msglen, "drover: library initialisation failed");
    return -1;
  }
  slurm_info("drover: job %u uid %u: applying template \"%s\" as stack %s",
             (unsigned)jc.jobid, (unsigned)jc.uid, req->name, jc.stack);
  rc = prolog_apply(&jc, req, msg, msglen);
  job_ctx_free(&jc);
  drover_global_cleanup();
  return rc;
}

static void engine_epilog(const dvs_config *c, const dvs_job *job)
{
  char msg[2048];
  job_ctx jc;
  unsigned attempt;

  if(engine_setup(c, msg, sizeof(msg))) {
    slurm_error("%s; drover gc will remove the job's stack", msg);
    return;
  }
  job_ctx_init(&jc, job);
  if(job_ctx_config(&jc, msg, sizeof(msg))) {
    slurm_error("drover: %s: cannot destroy: %s", jc.stack, msg);
    job_ctx_free(&jc);
    return;
  }
  if(drover_global_init()) {
    slurm_error("drover: %s: library initialisation failed; drover gc will remove it",
                jc.stack);
    job_ctx_free(&jc);
    return;
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
}

static int engine_export_outputs(spank_t sp, const dvs_config *c, const char *path,
                                 const char *text)
{
  cfg = *c;
  return export_outputs(sp, path, text);
}

static const dvs_engine_ops ops = {
  DVS_ENGINE_VERSION, engine_precheck, engine_prolog, engine_epilog,
  engine_export_outputs
};

const dvs_engine_ops *dvs_engine(unsigned version)
{
  return version == DVS_ENGINE_VERSION ? &ops : NULL;
}
