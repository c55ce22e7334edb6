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
 * This file is the shim: it and options.c, config.c and the libc-only
 * part of outputs.c are all drover.so holds, so loading it costs a job
 * that does not use drover next to nothing. The engine (libdrover,
 * libcurl, jansson) is drover_spank_engine.so, dlopen()ed from the
 * directory drover.so was loaded from (or plugstack engine=PATH) only
 * when the job asked for --drover: see spank_engine.h and engine_get().
 *
 * Only the SPANK symbols leave this object (-export-symbols-regex).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <slurm/slurm.h>
#include <slurm/spank.h>
#include "spank_engine.h"

SPANK_PLUGIN(drover, 1);

#define OPT_ENV "SPANK__SLURM_SPANK_OPTION_drover_drover"
#define KEEP_ENV "SPANK__SLURM_SPANK_OPTION_drover_drover_keep"

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
 * The engine module, loaded on first use
 */

static const dvs_engine_ops *engine;

/*
 * Finds, checks and loads drover_spank_engine.so: plugstack engine=PATH,
 * else the file of that name in the directory this object was loaded
 * from. It runs with root's rights in the prolog and epilog, so it must be
 * a regular file owned by root, not group/world writable, in a directory
 * chain nobody else can write (config.c's trusted-file checks). Returns
 * the ops, or NULL with a message. Loaded once per process, never closed.
 */
static const dvs_engine_ops *engine_get(char *msg, size_t msglen)
{
  char path[1024];
  char e[512];
  Dl_info info;
  void *h;
  union { void *p; dvs_engine_fn fn; } sym;
  int fd;

  if(engine)
    return engine;
  if(cfg.engine[0])
    snprintf(path, sizeof(path), "%s", cfg.engine);
  else {
    const char *slash;
    if(!dladdr((const void *)&cfg, &info) || !info.dli_fname ||
       !(slash = strrchr(info.dli_fname, '/')) || info.dli_fname[0] != '/' ||
       (size_t)(slash - info.dli_fname) + sizeof(DVS_ENGINE_FILE) + 1 > sizeof(path)) {
      snprintf(msg, msglen, "drover: cannot find the directory drover.so was loaded from;"
               " set engine=PATH in plugstack.conf");
      return NULL;
    }
    snprintf(path, sizeof(path), "%.*s/" DVS_ENGINE_FILE, (int)(slash - info.dli_fname),
             info.dli_fname);
  }
  fd = dvs_open_trusted_file(path, 0, e, sizeof(e));
  if(fd < 0) {
    snprintf(msg, msglen, "drover: engine module refused: %.500s",
             strncmp(e, "drover: ", 8) ? e : e + 8);
    return NULL;
  }
  close(fd);
  h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if(!h) {
    const char *de = dlerror();
    snprintf(msg, msglen, "drover: cannot load the engine module: %.700s",
             de ? de : path);
    return NULL;
  }
  sym.p = dlsym(h, DVS_ENGINE_SYMBOL);
  engine = sym.p ? sym.fn(DVS_ENGINE_VERSION) : NULL;
  if(!engine) {
    snprintf(msg, msglen, "drover: %.700s is not a version %u drover engine module"
             " (rebuild drover.so and it together)", path, DVS_ENGINE_VERSION);
    dlclose(h);
    return NULL;
  }
  return engine;
}

/* ------------------------------------------------------------------------
 * Submit side: option callback
 */

static int opt_cb(int val, const char *arg, int remote)
{
  char msg[1024];
  dvs_request req;
  const dvs_engine_ops *ops;

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
  /* The template check needs the engine: only on the submit side, and
   * only when there is a template directory to check against. */
  if(!remote && cfg_ok && cfg.template_dir[0]) {
    ops = engine_get(msg, sizeof(msg));
    if(!ops || ops->precheck(&cfg, &req, msg, sizeof(msg))) {
      slurm_error("%s", msg);
      return -1;
    }
  }
  memcpy(opt_value, arg, strlen(arg) + 1);
  opt_set = 1;
  return 0;
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

static int get_job_ids(spank_t sp, dvs_job *jc)
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
static void report_job_error(const dvs_job *jc, const char *msg)
{
  char e[256];

  slurm_error("drover: job %u: %s", (unsigned)jc->jobid, msg);
  if(dvs_job_file_write(cfg.outputs_dir, jc->jobid, DVS_ERROR_FILE, msg, jc->uid,
                        jc->gid, e, sizeof(e)))
    slurm_error("drover: job %u: cannot record the error for the job: %s",
                (unsigned)jc->jobid, e);
}
int slurm_spank_job_prolog(spank_t sp, int ac, char **av)
{
  const char *v = getenv(OPT_ENV);
  char value[DVS_REQUEST_MAX + 1], nodelist[8192], self[256], msg[2048];
  dvs_request req;
  dvs_job jc;
  const dvs_engine_ops *ops;

  config_load(ac, av);

  if(!v)
    return 0; /* the job did not ask for drover */
  memset(&jc, 0, sizeof(jc));
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
  ops = engine_get(msg, sizeof(msg));
  if(!ops) {
    report_job_error(&jc, msg);
    return 0;
  }
  if(ops->prolog(&cfg, &jc, &req, msg, sizeof(msg)))
    report_job_error(&jc, msg);
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
  dvs_job jc;
  const dvs_engine_ops *ops;

  config_load(ac, av);

  if(!v)
    return 0;
  memset(&jc, 0, sizeof(jc));
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
  ops = engine_get(msg, sizeof(msg));
  if(!ops) {
    slurm_error("drover: %s: cannot destroy (drover gc will): %s", jc.stack, msg);
    return 0;
  }
  ops->epilog(&cfg, &jc);
  /* Never non-zero: a failing epilog drains the node too. */
  return 0;
}

/* ------------------------------------------------------------------------
 * Remote side: task_init, as the user, in slurmstepd
 */
int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
  char path[700], msg[2048], *text = NULL, nodelist[8192], self[256];
  uint32_t jobid;
  int fd, rc = 0;
  const dvs_engine_ops *ops;

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
  else if(!(ops = engine_get(msg, sizeof(msg)))) {
    slurm_error("%s", msg);
    rc = -1;
  }
  else
    rc = ops->export_outputs(sp, &cfg, path, text);
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
