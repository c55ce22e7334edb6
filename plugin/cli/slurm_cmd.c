/* slurm_cmd.c - `drover slurm resume|suspend|resume-fail|reconcile`, and
 * the same programs under the names drover-slurm-resume,
 * drover-slurm-suspend and drover-slurm-resume-fail (symlinks to drover),
 * which is how slurm.conf names them: slurmctld runs a program path with
 * the hostlist as its only argument, SLURM_CONF (and for resume
 * SLURM_RESUME_FILE) as its whole environment, stdin/stdout/stderr closed,
 * and does not wait. So a program checks its input, forks a worker into
 * its own session and returns; the worker builds or deletes the nodes'
 * stacks (each under its stack lock) and tells Slurm the outcome.
 * `drover slurm reconcile` finishes whatever a worker could not.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <slurm/slurm.h>
#include "cli.h"
#include "slurm_nodes.h"

#define SL_DEFAULT_LOG "/var/log/slurm/drover-power.log"

int drover_cli_slurm(int argc, char **argv);
int drover_cli_slurm_as(const char *prog, int argc, char **argv);

enum sl_kind { SL_RESUME, SL_SUSPEND, SL_RESUME_FAIL };

static const char *const kind_names[] = {"resume", "suspend", "resume-fail"};

static const char slurm_usage[] =
  "Usage: drover slurm resume|suspend|resume-fail [options] HOSTLIST\n"
  "       drover slurm reconcile [--json] [--dry-run] [options]\n"
  "\n"
  "Elastic Slurm cloud nodes. Each node is the stack node-<nodename>, built\n"
  "from the node template named in the config file.\n"
  "  resume       build the nodes' instances and give Slurm their addresses;\n"
  "               a node that cannot be built is set DOWN (\"drover: <error>\")\n"
  "  suspend      delete the nodes' instances\n"
  "  resume-fail  delete what a failed resume left\n"
  "  reconcile    compare Slurm's node states with the instances and repair\n"
  "slurm.conf runs them as ResumeProgram=/usr/sbin/drover-slurm-resume,\n"
  "SuspendProgram=...-suspend, ResumeFailProgram=...-resume-fail (symlinks\n"
  "to drover). They return at once and finish in the background.\n"
  "\n"
  "Options:\n"
  "  -c, --config FILE   the config (default " DROVER_SYSCONFDIR "/drover/slurm.json)\n"
  "  -f, --foreground    do the work before returning (tests, by hand)\n"
  "  -v, --verbose / -q, --quiet\n"
  "\n"
  "Exit status: 0 accepted (foreground: every node done), 1 bad input or a\n"
  "node failed.\n";

/* slurmctld closes every descriptor before exec: give 0, 1 and 2 a home
 * so no file we open lands on them. */
static void fix_std_fds(void)
{
  int fd;

  while((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
    ;
  if(fd > 2)
    close(fd);
}

/* Sends stdout and stderr to the log file. */
static void log_to(const char *path)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

  if(fd < 0)
    return;
  dup2(fd, 1);
  dup2(fd, 2);
  close(fd);
}

/* Monotonic seconds, for the timings in the log. */
static double sl_now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct power_ctx {
  enum sl_kind kind;
  const sl_conf *conf;
  drover_nodeset *set;
  size_t ok, failed;
  double t0;
} power_ctx;

/* The string value of output name in the stack's outputs, or NULL.
 * Caller frees. */
static char *output_value(drover_stack *stack, const char *name)
{
  char *text = NULL, *res = NULL;
  json_t *root, *v;
  drover_error err;

  drover_error_clear(&err);
  if(drover_stack_outputs_json(&text, stack, 0, &err))
    return NULL;
  root = json_loads(text, 0, NULL);
  v = json_object_get(json_object_get(root, name), "value");
  if(json_is_string(v) && *json_string_value(v))
    res = strdup(json_string_value(v));
  json_decref(root);
  free(text);
  return res;
}

/* Tells Slurm a resumed node's address, or that it failed. */
static void resume_done(void *ud, size_t i, drover_code rc, const drover_error *err)
{
  power_ctx *c = ud;
  const char *node = drover_nodeset_node(c->set, i);
  char line[DROVER_ERROR_TEXT + 300], msg[512];

  if(c->kind != SL_RESUME) {
    if(rc) {
      c->failed++;
      sl_logf(DROVER_LOG_ERROR, "%s %s: %s", kind_names[c->kind], node,
              drover_error_format(err, line, sizeof(line)));
    }
    else {
      c->ok++;
      sl_logf(DROVER_LOG_INFO, "%s %s: done after %.2fs", kind_names[c->kind], node,
              sl_now() - c->t0);
    }
    return;
  }
  if(!rc) {
    drover_stack *st = drover_nodeset_stack(c->set, i);
    char *addr = output_value(st, c->conf->address_output);
    char *host = output_value(st, c->conf->hostname_output);
    if(addr || host) {
      if(sl_set_addr(node, addr, host, msg, sizeof(msg))) {
        sl_logf(DROVER_LOG_ERROR, "resume %s: %s", node, msg);
        rc = DROVER_E_PROVIDER;
      }
    }
    if(!rc) {
      c->ok++;
      sl_logf(DROVER_LOG_INFO, "resume %s: instance ready after %.2fs (addr %s)", node,
              sl_now() - c->t0, addr ? addr : "unchanged");
    }
    else if(sl_set_down(node, msg, msg, sizeof(msg)))
      sl_logf(DROVER_LOG_ERROR, "resume %s: %s", node, msg);
    free(addr);
    free(host);
    if(!rc)
      return;
    c->failed++;
    return;
  }
  c->failed++;
  drover_error_format(err, line, sizeof(line));
  sl_logf(DROVER_LOG_ERROR, "resume %s: %s; setting it DOWN", node, line);
  if(sl_set_down(node, line, msg, sizeof(msg)))
    sl_logf(DROVER_LOG_ERROR, "resume %s: %s", node, msg);
}

/* A failed create may leave a half-made instance (LXD keeps the record
 * of a container whose image it could not find): delete what the failed
 * nodes own, so a DOWN node has no instance. One more list per type. */
static void resume_cleanup(drover_nodeset *set, const drover_nodeset_opts *base)
{
  drover_nodeset_opts no = *base;
  drover_error err;
  unsigned char *failed;
  size_t i, n = drover_nodeset_count(set);
  char line[DROVER_ERROR_TEXT + 300];

  failed = calloc(n ? n : 1, 1);
  if(!failed)
    return;
  for(i = 0; i < n; i++)
    failed[i] = drover_nodeset_result(set, i, NULL, NULL) != DROVER_OK;
  no.done = NULL;
  drover_error_clear(&err);
  if(drover_nodeset_refresh(set, 0, &err) ||
     drover_nodeset_apply(set, failed, DROVER_PLAN_DESTROY, &no, &err))
    sl_logf(DROVER_LOG_ERROR, "resume: cleaning up failed nodes: %s (reconcile will)",
            drover_error_format(&err, line, sizeof(line)));
  free(failed);
}

/* Marks every node of names DOWN (resume only) after a failure that
 * stopped the whole batch. */
static void all_down(enum sl_kind kind, char **names, const char *why)
{
  char msg[512];
  size_t i;

  for(i = 0; names[i]; i++) {
    sl_logf(DROVER_LOG_ERROR, "%s %s: %s", kind_names[kind], names[i], why);
    if(kind == SL_RESUME && sl_set_down(names[i], why, msg, sizeof(msg)))
      sl_logf(DROVER_LOG_ERROR, "resume %s: %s", names[i], msg);
  }
}

/* The work itself: in the forked worker, or in the foreground. */
static int power_work(enum sl_kind kind, const sl_conf *conf, char **names)
{
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_nodeset_opts no = DROVER_NODESET_OPTS_INIT;
  drover_template *tpl = NULL;
  drover_nodeset *set = NULL;
  drover_error err;
  sl_nodes facts;
  power_ctx c;
  char line[DROVER_ERROR_TEXT + 300], msg[512];
  size_t i, n = 0;
  int ret = 1, have_facts;
  double t0 = sl_now();

  memset(&c, 0, sizeof(c));
  memset(&facts, 0, sizeof(facts));
  for(n = 0; names[n]; n++)
    ;
  sl_logf(DROVER_LOG_INFO, "%s: %zu node(s), template %s", kind_names[kind], n, conf->tpl);
  drover_error_clear(&err);
  opts.log = sl_log;
  opts.log_level = sl_log_level;
  opts.provider_config = conf->provider_config;
  opts.lock_dir = conf->lock_dir;
  have_facts = sl_nodes_load(&facts, msg, sizeof(msg)) == 0;
  if(!have_facts)
    sl_logf(DROVER_LOG_WARN, "%s: %s", kind_names[kind], msg);
  if(drover_template_load_file(&tpl, conf->tpl, &err) ||
     drover_nodeset_new(&set, tpl, &opts, &err)) {
    all_down(kind, names, drover_error_format(&err, line, sizeof(line)));
    goto out;
  }
  c.kind = kind;
  c.conf = conf;
  c.set = set;
  c.t0 = t0;
  for(i = 0; names[i]; i++) {
    const sl_node *f = have_facts ? sl_nodes_find(&facts, names[i]) : NULL;
    drover_vars *vars = sl_node_vars(tpl, conf, f, msg, sizeof(msg));
    drover_error_clear(&err);
    if(!vars || drover_nodeset_add(set, names[i], vars, &err)) {
      char *one[2];
      one[0] = names[i];
      one[1] = NULL;
      all_down(kind, one, vars ? drover_error_format(&err, line, sizeof(line)) : msg);
      c.failed++;
    }
    drover_vars_free(vars);
  }
  drover_error_clear(&err);
  if(drover_nodeset_refresh(set, 0, &err)) {
    char **left = calloc(drover_nodeset_count(set) + 1, sizeof(*left));
    for(i = 0; left && i < drover_nodeset_count(set); i++)
      left[i] = (char *)drover_nodeset_node(set, i);
    if(left)
      all_down(kind, left, drover_error_format(&err, line, sizeof(line)));
    free(left);
    goto out;
  }
  sl_logf(DROVER_LOG_INFO, "%s: refreshed %zu node stack(s) in %.2fs", kind_names[kind],
          drover_nodeset_count(set), sl_now() - t0);
  no.parallelism = conf->parallelism;
  no.rate = conf->rate;
  no.lock_wait = conf->lock_wait;
  no.apply.max_retries = conf->retries;
  no.done = resume_done;
  no.userdata = &c;
  drover_error_clear(&err);
  if(drover_nodeset_apply(set, NULL, kind == SL_RESUME ? 0 : DROVER_PLAN_DESTROY, &no,
                          &err) && kind == SL_RESUME)
    resume_cleanup(set, &no);
  sl_logf(c.failed ? DROVER_LOG_WARN : DROVER_LOG_INFO,
          "%s: %zu node(s): %zu done, %zu failed in %.2fs", kind_names[kind], n, c.ok,
          c.failed, sl_now() - t0);
  ret = c.failed ? 1 : 0;
out:
  drover_nodeset_free(set);
  drover_template_free(tpl);
  sl_nodes_clear(&facts);
  return ret;
}

static int power_main(enum sl_kind kind, int argc, char **argv)
{
  static const struct option longopts[] = {
    {"config", required_argument, NULL, 'c'},
    {"foreground", no_argument, NULL, 'f'},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}
  };
  const char *config = NULL, *resume_file;
  char msg[1024], *hosts = NULL, **names = NULL;
  int c, foreground = 0, ret = CLI_EXIT_ERROR;
  sl_conf conf;
  pid_t pid;

  memset(&conf, 0, sizeof(conf));
  fix_std_fds();
  optind = 1;
  opterr = 0;
  while((c = getopt_long(argc, argv, "c:fvqh", longopts, NULL)) != -1) {
    switch(c) {
    case 'c': config = optarg; break;
    case 'f': foreground = 1; break;
    case 'v': sl_log_level = DROVER_LOG_DEBUG; break;
    case 'q': sl_log_level = DROVER_LOG_ERROR; break;
    case 'h': fputs(slurm_usage, stdout); return CLI_EXIT_OK;
    default:
      cli_errorf("slurm %s: unknown option \"%s\"", kind_names[kind], argv[optind - 1]);
      return CLI_EXIT_ERROR;
    }
  }
  if(sl_conf_load(&conf, config, msg, sizeof(msg))) {
    /* Slurm shows us no stderr: leave the reason where the admin looks. */
    if(!foreground)
      log_to(SL_DEFAULT_LOG);
    sl_logf(DROVER_LOG_ERROR, "slurm %s: %s", kind_names[kind], msg);
    return CLI_EXIT_ERROR;
  }
  if(!foreground || conf.log)
    log_to(conf.log ? conf.log : SL_DEFAULT_LOG);
  /* The resume file lives only as long as slurmctld keeps it open: read
   * it now, before returning. */
  resume_file = kind == SL_RESUME ? getenv("SLURM_RESUME_FILE") : NULL;
  if(resume_file && *resume_file) {
    if(sl_resume_file_hosts(&hosts, resume_file, msg, sizeof(msg)))
      sl_logf(DROVER_LOG_WARN, "slurm resume: %s; using the argument", msg);
    else
      sl_logf(DROVER_LOG_INFO, "resume: nodes %s from SLURM_RESUME_FILE", hosts);
  }
  if(!hosts && optind < argc)
    hosts = strdup(argv[optind]);
  if(!hosts) {
    sl_logf(DROVER_LOG_ERROR, "slurm %s: no node list (HOSTLIST argument)", kind_names[kind]);
    goto out;
  }
  if(optind + 1 < argc) {
    sl_logf(DROVER_LOG_ERROR, "slurm %s: unexpected argument \"%s\"", kind_names[kind],
            argv[optind + 1]);
    goto out;
  }
  slurm_init(NULL);
  if(sl_hostlist_expand(&names, hosts, msg, sizeof(msg))) {
    sl_logf(DROVER_LOG_ERROR, "slurm %s: %s", kind_names[kind], msg);
    goto out;
  }
  if(foreground) {
    ret = power_work(kind, &conf, names) ? CLI_EXIT_ERROR : CLI_EXIT_OK;
    goto out;
  }
  fflush(NULL);
  pid = fork();
  if(pid < 0) {
    sl_logf(DROVER_LOG_ERROR, "slurm %s: fork: %s; working in the foreground",
            kind_names[kind], strerror(errno));
    ret = power_work(kind, &conf, names) ? CLI_EXIT_ERROR : CLI_EXIT_OK;
    goto out;
  }
  if(pid > 0) {
    ret = CLI_EXIT_OK; /* accepted; the worker finishes and reports */
    goto out;
  }
  /* The worker: its own session, so slurmctld's kill of our process
   * group (on its shutdown) does not cut a resume in half. */
  setsid();
  ret = power_work(kind, &conf, names) ? CLI_EXIT_ERROR : CLI_EXIT_OK;
  drover_strv_free(names);
  free(hosts);
  sl_conf_clear(&conf);
  slurm_fini();
  drover_global_cleanup();
  _exit(ret);
out:
  drover_strv_free(names);
  free(hosts);
  sl_conf_clear(&conf);
  return ret;
}

int drover_cli_slurm_as(const char *prog, int argc, char **argv)
{
  if(!strcmp(prog, "drover-slurm-resume"))
    return power_main(SL_RESUME, argc, argv);
  if(!strcmp(prog, "drover-slurm-suspend"))
    return power_main(SL_SUSPEND, argc, argv);
  if(!strcmp(prog, "drover-slurm-resume-fail"))
    return power_main(SL_RESUME_FAIL, argc, argv);
  return -1;
}

int drover_cli_slurm(int argc, char **argv)
{
  const char *sub = argc > 1 ? argv[1] : NULL;

  if(!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
    fputs(slurm_usage, sub ? stdout : stderr);
    return sub ? CLI_EXIT_OK : CLI_EXIT_ERROR;
  }
  if(!strcmp(sub, "resume"))
    return power_main(SL_RESUME, argc - 1, argv + 1);
  if(!strcmp(sub, "suspend"))
    return power_main(SL_SUSPEND, argc - 1, argv + 1);
  if(!strcmp(sub, "resume-fail"))
    return power_main(SL_RESUME_FAIL, argc - 1, argv + 1);
  if(!strcmp(sub, "reconcile"))
    return sl_cmd_reconcile(argc - 1, argv + 1);
  cli_errorf("slurm: unknown command \"%s\" (resume, suspend, resume-fail, reconcile)", sub);
  return CLI_EXIT_ERROR;
}
