/* cmd_schedule.c - drover schedule install|run|list|remove: policies run
 * on their schedule as Slurm batch jobs (Debian's Slurm has no scrontab),
 * or from cron on hosts without Slurm.
 *
 * install writes the job's settings (STATE_DIR/STACK_POLICY.job.json,
 * 0600: a webhook URL may hold a token, so it never goes on a command
 * line squeue shows) and submits one job named drover:STACK:POLICY with
 * --begin at the next slot. The job runs `drover schedule run --job FILE`,
 * which first submits the job for the following slot (so a job killed
 * mid-run still leaves the next one pending), then runs the policy once
 * for the latest slot (slots missed while the cluster was down are run
 * once), writes the metrics textfile, logs one line and calls the webhook
 * on failure or drift. The last slot run and the last result are kept in
 * STATE_DIR/STACK_POLICY.state.json. doc/schedule.md has the details. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "sched.h"

static const char usage[] =
  "Usage: drover schedule install [options] [-t] TEMPLATE POLICY\n"
  "       drover schedule run     [options] [-t] TEMPLATE POLICY\n"
  "       drover schedule run     --job FILE\n"
  "       drover schedule list    [--state-dir DIR] [--json]\n"
  "       drover schedule remove  [--state-dir DIR] STACK:POLICY|POLICY\n"
  "\n"
  "install  submits a Slurm batch job named drover:STACK:POLICY that begins at\n"
  "         the policy's next schedule slot; installing again leaves one job.\n"
  "run      runs the policy (backup.policy: backup run and prune; scale.policy:\n"
  "         scale run; drift.policy: drift run) once for the latest slot, writes\n"
  "         the metrics textfile, logs one line, calls the webhook on failure\n"
  "         or drift. Inside an installed job it first submits the next slot.\n"
  "         A slot already run is skipped, so cron may call it at every slot.\n"
  "list     installed policies: next run, last result.\n"
  "remove   cancels a policy's jobs and forgets its settings.\n"
  "\n"
  "Options:\n"
  "  -t, --template FILE, --var, --var-file, --stack, --provider-config\n"
  "      --schedule CRON         override (or give) the policy's schedule\n"
  "      --state-dir DIR         job settings, last results and job logs\n"
  "                              (default $DROVER_STATE_DIR or /var/lib/drover/schedule)\n"
  "      --metrics-dir DIR       Prometheus textfiles (default $DROVER_METRICS_DIR\n"
  "                              or /var/lib/node_exporter/textfile_collector)\n"
  "      --webhook URL           POSTed a JSON body on failure or drift\n"
  "      --webhook-timeout SECONDS, --webhook-retries N\n"
  "      --partition NAME        the Slurm partition of the jobs\n"
  "      --now TIME              run: the time to act at (Unix seconds)\n"
  "      --json                  machine-readable output\n"
  "\n"
  "Exit status: 0 success, 1 error (run: the policy failed).\n";

/* Options only schedule takes, removed from argv before cli_parse. */
enum { O_SCHEDULE, O_STATE, O_METRICS, O_WEBHOOK, O_WTIMEOUT, O_WRETRIES, O_PARTITION,
       O_JOB, O_NOW, O_COUNT };
static const char *const own_names[O_COUNT] = {
  "--schedule", "--state-dir", "--metrics-dir", "--webhook", "--webhook-timeout",
  "--webhook-retries", "--partition", "--job", "--now"
};

static int take_own(int argc, char **argv, const char *own[O_COUNT])
{
  int i, n = 0, k;

  memset(own, 0, O_COUNT * sizeof(*own));
  for(i = 0; i < argc; i++) {
    for(k = 0; i > 0 && k < O_COUNT; k++) {
      size_t l = strlen(own_names[k]);
      if(!strncmp(argv[i], own_names[k], l) && (argv[i][l] == '=' || !argv[i][l]))
        break;
    }
    if(i == 0 || k == O_COUNT) {
      argv[n++] = argv[i];
      continue;
    }
    if(argv[i][strlen(own_names[k])] == '=')
      own[k] = argv[i] + strlen(own_names[k]) + 1;
    else if(i + 1 < argc)
      own[k] = argv[++i];
    else {
      cli_errorf("%s: %s needs a value", argv[0], own_names[k]);
      return -1;
    }
  }
  argv[n] = NULL;
  return n;
}

static const char *dflt(const char *given, const char *env, const char *fallback)
{
  const char *e = getenv(env);
  return given ? given : e && *e ? e : fallback;
}

/* [A-Za-z0-9_.-] of s, the rest '_': a file name part. */
static void safe(char *dst, size_t size, const char *s)
{
  size_t i;

  for(i = 0; s[i] && i + 1 < size; i++)
    dst[i] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.", s[i]) &&
                 !(i == 0 && s[i] == '.')
               ? s[i] : '_';
  dst[i] = '\0';
}

static char *iso(long long t, char *buf, size_t size)
{
  time_t tt = (time_t)t;
  struct tm tm;

  gmtime_r(&tt, &tm);
  strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

static const char *jstr(const json_t *o, const char *k)
{
  return json_string_value(json_object_get(o, k));
}

/* STATE_DIR/STACK_POLICY<suffix>. Caller frees. */
static char *state_path(const json_t *job, const char *suffix)
{
  char a[128], b[128];
  size_t n;
  char *p;

  safe(a, sizeof(a), jstr(job, "stack"));
  safe(b, sizeof(b), jstr(job, "policy"));
  n = strlen(jstr(job, "state_dir")) + strlen(a) + strlen(b) + strlen(suffix) + 3;
  if((p = malloc(n)) != NULL)
    snprintf(p, n, "%s/%s_%s%s", jstr(job, "state_dir"), a, b, suffix);
  return p;
}

static int mkdirs(const char *dir)
{
  char buf[PATH_MAX], *p;

  snprintf(buf, sizeof(buf), "%s", dir);
  for(p = buf + 1; *p; p++)
    if(*p == '/') {
      *p = '\0';
      if(mkdir(buf, 0755) && errno != EEXIST)
        return -1;
      *p = '/';
    }
  return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

/* Replaces path atomically with o's text, mode 0600. 0 or -1 (printed). */
static int write_json(const char *path, const json_t *o)
{
  char tmp[PATH_MAX + 16];
  int fd, ok;

  snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ok = fd >= 0 && !json_dumpfd(o, fd, JSON_INDENT(1)) && write(fd, "\n", 1) == 1 &&
       !fsync(fd);
  if(fd >= 0 && close(fd))
    ok = 0;
  if(!ok || rename(tmp, path)) {
    cli_errorf("schedule: cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------------
 * The job's settings
 */

/* Builds the job object from the command line: opens the stack to find
 * the policy, its type and schedule. NULL after printing an error. */
static json_t *job_from_cli(const struct cli *cli, const char *own[O_COUNT])
{
  struct cli_stack cs;
  drover_error err;
  char *desc = NULL, tpl[PATH_MAX], exe[PATH_MAX];
  json_t *d = NULL, *job = NULL, *vars, *files;
  const char *type, *kind, *cron, *e;
  size_t i;

  memset(&cs, 0, sizeof(cs));
  drover_error_clear(&err);
  if(!cli->template_path || !cli->output_name) {
    cli_errorf("%s: needs a template and a policy name", cli->cmd);
    return NULL;
  }
  if(!realpath(cli->template_path, tpl)) {
    cli_errorf("%s: %s: %s", cli->cmd, cli->template_path, strerror(errno));
    return NULL;
  }
  if(cli_stack_open(&cs, cli))
    goto out;
  if(drover_policy_describe(&desc, cs.stack, cli->output_name, &err)) {
    cli_fail(&err);
    goto out;
  }
  d = json_loads(desc, 0, NULL);
  type = jstr(d, "type");
  kind = !type ? NULL : !strcmp(type, "backup.policy") ? "backup"
         : !strcmp(type, "scale.policy") ? "scale" : !strcmp(type, "drift.policy") ? "drift"
         : NULL;
  if(!kind) {
    cli_errorf("%s: %s is a %s; only backup, scale and drift policies run on a schedule",
               cli->cmd, cli->output_name, type ? type : "?");
    goto out;
  }
  cron = own[O_SCHEDULE] ? own[O_SCHEDULE] : jstr(d, "schedule");
  /* A scale policy's schedule is its windows of counts, not when to run:
   * it is checked every 5 minutes unless told (its cooldown rules how
   * often the count may change). */
  if(!cron && !strcmp(kind, "scale"))
    cron = "*/5 * * * *";
  if(!cron) {
    cli_errorf("%s: policy %s has no cron schedule; give one with --schedule", cli->cmd,
               cli->output_name);
    goto out;
  }
  {
    drover_slot_plan sp;
    if(drover_schedule_plan(&sp, cron, jstr(d, "timezone"), 0, (long long)time(NULL), &err)) {
      cli_fail(&err);
      goto out;
    }
  }
  e = getenv("DROVER_EXE");
  if(e && *e)
    snprintf(exe, sizeof(exe), "%s", e);
  else {
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
  }
  vars = json_array();
  files = json_array();
  for(i = 0; i < cli->nvars; i++)
    json_array_append_new(vars, json_string(cli->vars[i]));
  for(i = 0; i < cli->nvar_files; i++) {
    char p[PATH_MAX];
    json_array_append_new(files, json_string(realpath(cli->var_files[i], p) ? p
                                                                           : cli->var_files[i]));
  }
  job = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:o, s:o, s:s, s:s, s:s, s:s?, s:s?, s:s?}",
                  "template", tpl, "policy", jstr(d, "address"), "stack",
                  drover_stack_name(cs.stack), "kind", kind, "schedule", cron, "timezone",
                  jstr(d, "timezone"), "vars", vars, "var_files", files, "exe", exe,
                  "state_dir", dflt(own[O_STATE], "DROVER_STATE_DIR", "/var/lib/drover/schedule"),
                  "metrics_dir",
                  dflt(own[O_METRICS], "DROVER_METRICS_DIR",
                       "/var/lib/node_exporter/textfile_collector"),
                  "provider_config", cli->provider_config, "webhook", own[O_WEBHOOK],
                  "partition", own[O_PARTITION]);
  if(job && own[O_WTIMEOUT])
    json_object_set_new(job, "webhook_timeout", json_real(atof(own[O_WTIMEOUT])));
  if(job && own[O_WRETRIES])
    json_object_set_new(job, "webhook_retries", json_integer(atoi(own[O_WRETRIES])));
  if(job) {
    char *name = cli_sched_job_name(jstr(job, "stack"), jstr(job, "policy"));
    json_object_set_new(job, "name", json_string(name ? name : ""));
    free(name);
  }
out:
  json_decref(d);
  free(desc);
  cli_stack_close(&cs);
  return job;
}

/* The job file's object, or NULL (printed). */
static json_t *job_load(const char *path)
{
  json_error_t je;
  json_t *job = json_load_file(path, 0, &je);

  const char *kind = jstr(job, "kind");

  if(!job || !jstr(job, "template") || !jstr(job, "policy") || !jstr(job, "stack") ||
     !kind || (strcmp(kind, "backup") && strcmp(kind, "scale") && strcmp(kind, "drift")) ||
     !jstr(job, "schedule") || !jstr(job, "state_dir") || !jstr(job, "name") ||
     !jstr(job, "exe")) {
    cli_errorf("schedule: %s: not a drover schedule job file%s%s", path, job ? "" : ": ",
               job ? "" : je.text);
    json_decref(job);
    return NULL;
  }
  return job;
}

/* ------------------------------------------------------------------------
 * Submitting
 */

/* Makes sure one job of this policy is pending: submits one at the next
 * slot unless one already is. Under a lock, so two installs at once
 * leave one. Sets *created. 0 or -1 (printed). */
static int ensure_pending(const json_t *job, const char *jobfile, long long now, char *id,
                          size_t idsize, char *begin, size_t bsize, int *created)
{
  char *lockp = state_path(job, ".lock"), *logdir = NULL;
  drover_slot_plan sp;
  drover_error err;
  json_t *pend = NULL;
  int fd = -1, ret = -1;

  *created = 0;
  drover_error_clear(&err);
  fd = lockp ? open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
  if(fd < 0 || flock(fd, LOCK_EX)) {
    cli_errorf("schedule: cannot lock %s: %s", lockp ? lockp : "?", strerror(errno));
    goto out;
  }
  pend = cli_sched_jobs(jstr(job, "name"), "PENDING");
  if(!pend)
    goto out;
  if(json_array_size(pend)) {
    snprintf(id, idsize, "%s", jstr(json_array_get(pend, 0), "id"));
    snprintf(begin, bsize, "%s", jstr(json_array_get(pend, 0), "begin"));
    ret = 0;
    goto out;
  }
  if(drover_schedule_plan(&sp, jstr(job, "schedule"), jstr(job, "timezone"), 0, now, &err)) {
    cli_fail(&err);
    goto out;
  }
  logdir = malloc(strlen(jstr(job, "state_dir")) + 6);
  if(!logdir)
    goto out;
  sprintf(logdir, "%s/logs", jstr(job, "state_dir"));
  if(mkdirs(logdir)) {
    cli_errorf("schedule: cannot create %s: %s", logdir, strerror(errno));
    goto out;
  }
  if(cli_sched_submit(jstr(job, "name"), sp.next, jstr(job, "exe"), jobfile, logdir,
                      jstr(job, "partition"), id, idsize))
    goto out;
  {
    time_t t = (time_t)sp.next;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(begin, bsize, "%Y-%m-%dT%H:%M:%S", &tm);
  }
  *created = 1;
  ret = 0;
out:
  json_decref(pend);
  if(fd >= 0)
    close(fd);
  free(lockp);
  free(logdir);
  return ret;
}

static int cmd_install(const struct cli *cli, const char *own[O_COUNT])
{
  json_t *job = job_from_cli(cli, own);
  char *jobfile = NULL, id[64] = "", begin[64] = "";
  int created = 0, ret = CLI_EXIT_ERROR;

  if(!job)
    return CLI_EXIT_ERROR;
  jobfile = state_path(job, ".job.json");
  if(!jobfile || mkdirs(jstr(job, "state_dir")) || write_json(jobfile, job))
    goto out;
  if(ensure_pending(job, jobfile, (long long)time(NULL), id, sizeof(id), begin,
                    sizeof(begin), &created))
    goto out;
  if(cli->json)
    printf("{\"name\":\"%s\",\"job_id\":\"%s\",\"begin\":\"%s\",\"submitted\":%s}\n",
           jstr(job, "name"), id, begin, created ? "true" : "false");
  else
    printf("%s %s: job %s begins %s\n", created ? "Scheduled" : "Already scheduled",
           jstr(job, "name"), id, begin);
  ret = CLI_EXIT_OK;
out:
  free(jobfile);
  json_decref(job);
  return ret;
}

/* ------------------------------------------------------------------------
 * Running once
 */

/* argv for `EXE <verb...> -t TEMPLATE POLICY --json --stack S ...`.
 * Strings borrowed from job; the array is the caller's (free). */
static char **sub_argv(const json_t *job, const char *a, const char *b)
{
  size_t n = 0, i, max = 16 + 2 * json_array_size(json_object_get(job, "var_files"));
  char **v = calloc(max, sizeof(*v));
  json_t *x;

  if(!v)
    return NULL;
  v[n++] = (char *)jstr(job, "exe");
  v[n++] = (char *)a;
  v[n++] = (char *)b;
  v[n++] = (char *)"-t";
  v[n++] = (char *)jstr(job, "template");
  v[n++] = (char *)jstr(job, "policy");
  v[n++] = (char *)"--json";
  v[n++] = (char *)"--stack";
  v[n++] = (char *)jstr(job, "stack");
  json_array_foreach(json_object_get(job, "var_files"), i, x) {
    v[n++] = (char *)"--var-file";
    v[n++] = (char *)json_string_value(x);
  }
  /* The --var values go in a 0600 file (run_policy), never on a command
   * line other users can read; last, so they win over the var files as
   * --var would. */
  if(jstr(job, "vars_file")) {
    v[n++] = (char *)"--var-file";
    v[n++] = (char *)jstr(job, "vars_file");
  }
  if(jstr(job, "provider_config")) {
    v[n++] = (char *)"--provider-config";
    v[n++] = (char *)jstr(job, "provider_config");
  }
  return v;
}

/* Runs one step; its JSON report in *report (NULL if none), its error
 * line (the report's, else stderr's last line) appended to errbuf.
 * Returns 1 when it succeeded. */
static int step(const json_t *job, const char *a, const char *b, json_t **report,
                char *errbuf, size_t esize)
{
  char **argv = sub_argv(job, a, b), *out = NULL, *err = NULL;
  int st = -1, ok;
  const char *e;

  *report = NULL;
  if(!argv || cli_sched_capture(argv, &out, &err, &st)) {
    snprintf(errbuf, esize, "%s %s could not run: %s", a, b, strerror(errno));
    free(argv);
    return 0;
  }
  if(err && *err)
    fputs(err, stderr); /* the job log keeps the step's own messages */
  *report = out ? json_loads(out, 0, NULL) : NULL;
  ok = st == 0 && *report && !json_is_false(json_object_get(*report, "ok"));
  if(!ok && !errbuf[0]) {
    e = jstr(*report, "error");
    if(!e && err) {
      /* The last non-empty stderr line: "drover: ..." */
      char *end = err + strlen(err);
      while(end > err && end[-1] == '\n')
        *--end = '\0';
      e = strrchr(err, '\n') ? strrchr(err, '\n') + 1 : err;
    }
    snprintf(errbuf, esize, "%s %s: %s", a, b, e && *e ? e : "failed");
  }
  free(argv);
  free(out);
  free(err);
  return ok;
}

static long long count_action(const json_t *arr, const char *field, const char *value)
{
  const json_t *x;
  size_t i;
  long long n = 0;

  json_array_foreach(arr, i, x)
    n += jstr(x, field) && !strcmp(jstr(x, field), value);
  return n;
}

/* Writes the job's "k=v" vars as a JSON object to a 0600 file and records
 * its path as job's "vars_file". 0, or -1 (errbuf says why). */
static int vars_file(json_t *job, char *errbuf, size_t esize)
{
  json_t *o = json_object(), *x;
  char *path = state_path(job, ".vars.json");
  const char *kv, *eq;
  size_t i;
  int ret = -1;

  json_array_foreach(json_object_get(job, "vars"), i, x)
    if((kv = json_string_value(x)) != NULL && (eq = strchr(kv, '=')) != NULL) {
      char *k = strndup(kv, (size_t)(eq - kv));
      if(k)
        json_object_set_new(o, k, json_string(eq + 1));
      free(k);
    }
  if(o && path && !write_json(path, o) &&
     !json_object_set_new(job, "vars_file", json_string(path)))
    ret = 0;
  else
    snprintf(errbuf, esize, "cannot write the vars file %s", path ? path : "");
  json_decref(o);
  free(path);
  return ret;
}

/* Runs the policy's steps and fills m (strings in m point into errbuf). */
static void run_policy(json_t *job, drover_run_metrics *m, char *errbuf, size_t esize)
{
  const char *kind = jstr(job, "kind");
  json_t *r = NULL, *r2 = NULL, *x;
  size_t i;

  if(json_array_size(json_object_get(job, "vars")) && vars_file(job, errbuf, esize)) {
    m->ok = 0;
    m->error = errbuf;
    return;
  }

  if(!strcmp(kind, "backup")) {
    int ok1 = step(job, "backup", "run", &r, errbuf, esize);
    /* Prune even after a partial run: retention is about what exists. */
    int ok2 = step(job, "backup", "prune", &r2, errbuf, esize);
    m->ok = ok1 && ok2;
    m->kept = r2 ? count_action(json_object_get(r2, "snapshots"), "action", "keep") : -1;
    m->deleted = r2 ? count_action(json_object_get(r2, "snapshots"), "action", "deleted") : -1;
    json_array_foreach(json_object_get(r, "targets"), i, x)
      if(json_is_integer(json_object_get(x, "bytes")))
        m->bytes = (m->bytes < 0 ? 0 : m->bytes) + json_integer_value(json_object_get(x, "bytes"));
  }
  else if(!strcmp(kind, "scale")) {
    m->ok = step(job, "scale", "run", &r, errbuf, esize);
    if(json_is_integer(json_object_get(r, "current")))
      m->current = json_integer_value(json_object_get(r, "current"));
    if(json_is_integer(json_object_get(r, "desired")))
      m->desired = json_integer_value(json_object_get(r, "desired"));
  }
  else {
    m->ok = step(job, "drift", "run", &r, errbuf, esize);
    if(json_is_integer(json_object_get(r, "drifted")))
      m->drifted = json_integer_value(json_object_get(r, "drifted"));
    if(json_is_integer(json_object_get(r, "repaired")))
      m->repaired = json_integer_value(json_object_get(r, "repaired"));
  }
  m->error = errbuf[0] ? errbuf : NULL;
  if(jstr(job, "vars_file"))
    unlink(jstr(job, "vars_file"));
  json_decref(r);
  json_decref(r2);
}

static double mono(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmd_run(const struct cli *cli, const char *own[O_COUNT])
{
  json_t *job = own[O_JOB] ? job_load(own[O_JOB]) : job_from_cli(cli, own);
  json_t *state = NULL;
  char *statep = NULL, *lockp = NULL, errbuf[1200] = "", when[32];
  drover_run_metrics m = DROVER_RUN_METRICS_INIT;
  drover_slot_plan sp;
  drover_error err;
  long long now = own[O_NOW] ? atoll(own[O_NOW]) : (long long)time(NULL);
  int fd = -1, ret = CLI_EXIT_ERROR;
  double t0;

  drover_error_clear(&err);
  if(!job)
    return CLI_EXIT_ERROR;
  if((own[O_JOB] && own[O_METRICS]) || !jstr(job, "metrics_dir"))
    json_object_set_new(job, "metrics_dir",
                        json_string(dflt(own[O_METRICS], "DROVER_METRICS_DIR",
                                         "/var/lib/node_exporter/textfile_collector")));
  statep = state_path(job, ".state.json");
  lockp = state_path(job, ".run.lock");
  if(!statep || !lockp || mkdirs(jstr(job, "state_dir")))
    goto out;
  /* Inside the installed job: the next slot's job goes in first, so a kill
   * from here on cannot break the chain. A removed policy has no job file
   * any more and stops resubmitting. */
  if(own[O_JOB] && getenv("SLURM_JOB_ID") && access(own[O_JOB], F_OK) == 0) {
    char id[64], begin[64];
    int created;
    if(ensure_pending(job, own[O_JOB], now, id, sizeof(id), begin, sizeof(begin), &created))
      cli_errorf("schedule: %s: the next slot could not be submitted", jstr(job, "name"));
  }
  fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if(fd < 0 || flock(fd, LOCK_EX | LOCK_NB)) {
    fprintf(stderr, "drover schedule: %s: another run is in progress; nothing done\n",
            jstr(job, "name"));
    ret = fd < 0 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
    goto out;
  }
  state = json_load_file(statep, 0, NULL);
  if(!json_is_object(state)) {
    json_decref(state);
    state = json_object();
  }
  if(drover_schedule_plan(&sp, jstr(job, "schedule"), jstr(job, "timezone"),
                          json_integer_value(json_object_get(state, "last_slot")), now, &err)) {
    ret = cli_fail(&err);
    goto out;
  }
  if(!sp.run) {
    fprintf(stderr, "drover schedule: %s: slot %s already run; nothing done\n",
            jstr(job, "name"), sp.slot ? iso(sp.slot, when, sizeof(when)) : "none");
    ret = CLI_EXIT_OK;
    goto out;
  }
  /* Claim the slot before running: a second job for it does nothing. */
  json_object_set_new(state, "last_slot", json_integer(sp.slot));
  json_object_set_new(state, "last_result", json_string("running"));
  if(write_json(statep, state))
    goto out;
  m.stack = jstr(job, "stack");
  m.policy = jstr(job, "policy");
  m.kind = jstr(job, "kind");
  m.started = now;
  m.slot = sp.slot;
  m.missed = sp.missed;
  t0 = mono();
  run_policy(job, &m, errbuf, sizeof(errbuf));
  m.duration = mono() - t0;
  if(m.ok)
    m.last_success = now;
  else
    m.last_success = json_integer_value(json_object_get(state, "last_success"));
  json_object_set_new(state, "last_result", json_string(m.ok ? "ok" : "failed"));
  json_object_set_new(state, "last_run", json_integer(now));
  json_object_set_new(state, "duration", json_real(m.duration));
  json_object_set_new(state, "last_success", json_integer(m.last_success));
  json_object_set_new(state, "error", m.error ? json_string(m.error) : json_null());
  if(m.drifted >= 0)
    json_object_set_new(state, "drifted", json_integer(m.drifted));
  if(write_json(statep, state))
    m.ok = 0;
  if(drover_metrics_write(jstr(job, "metrics_dir"), &m, &err)) {
    cli_fail(&err);
    drover_error_clear(&err);
  }
  /* The one line of result; counts that do not apply are left out. */
  {
    char counts[256] = "";
    size_t n = 0;
#define COUNT(label, v)                                                            \
    if((v) >= 0 && n < sizeof(counts))                                            \
      n += (size_t)snprintf(counts + n, sizeof(counts) - n, " %s=%lld", label, (v))
    COUNT("kept", m.kept);
    COUNT("deleted", m.deleted);
    COUNT("bytes", m.bytes);
    COUNT("current", m.current);
    COUNT("desired", m.desired);
    COUNT("drifted", m.drifted);
    COUNT("repaired", m.repaired);
#undef COUNT
    fprintf(stderr, "drover schedule: %s kind=%s slot=%s result=%s duration=%.1fs missed=%lld%s%s%s\n",
            jstr(job, "name"), m.kind, iso(sp.slot, when, sizeof(when)),
            m.ok ? "ok" : "failed", m.duration, m.missed, counts, m.error ? " error=" : "",
            m.error ? m.error : "");
  }
  if(jstr(job, "webhook") && (!m.ok || m.drifted > 0)) {
    drover_webhook w = DROVER_WEBHOOK_INIT;
    char *body = NULL;
    w.url = jstr(job, "webhook");
    w.timeout = json_number_value(json_object_get(job, "webhook_timeout"));
    w.retries = (unsigned)json_integer_value(json_object_get(job, "webhook_retries"));
    if(drover_webhook_body(&body, m.ok ? "drift" : "failure", &m, &err) ||
       drover_webhook_send(&w, body, &err)) {
      cli_fail(&err);
      drover_error_clear(&err);
    }
    free(body);
  }
  ret = m.ok ? CLI_EXIT_OK : CLI_EXIT_ERROR;
out:
  if(fd >= 0)
    close(fd);
  json_decref(state);
  json_decref(job);
  free(statep);
  free(lockp);
  return ret;
}

/* ------------------------------------------------------------------------
 * list and remove
 */

/* Every installed job file of state_dir, as objects with their state.
 * Caller decrefs. */
static json_t *installed(const char *state_dir)
{
  json_t *all = json_array();
  char pat[PATH_MAX];
  glob_t g;
  size_t i;

  snprintf(pat, sizeof(pat), "%s/*.job.json", state_dir);
  if(glob(pat, 0, NULL, &g))
    return all;
  for(i = 0; i < g.gl_pathc; i++) {
    json_t *job = job_load(g.gl_pathv[i]);
    char *sp;
    if(!job)
      continue;
    sp = state_path(job, ".state.json");
    json_object_set_new(job, "job_file", json_string(g.gl_pathv[i]));
    json_object_set_new(job, "state", sp ? json_load_file(sp, 0, NULL) : NULL);
    free(sp);
    json_array_append_new(all, job);
  }
  globfree(&g);
  return all;
}

static int cmd_list(const struct cli *cli, const char *own[O_COUNT])
{
  json_t *all = installed(dflt(own[O_STATE], "DROVER_STATE_DIR", "/var/lib/drover/schedule"));
  json_t *out = json_array(), *job;
  int slurm = cli_sched_have_slurm();
  size_t i;

  json_array_foreach(all, i, job) {
    json_t *jobs = slurm ? cli_sched_jobs(jstr(job, "name"), "PENDING,RUNNING,CONFIGURING")
                         : json_array();
    json_t *st = json_object_get(job, "state"), *pend = NULL, *x;
    drover_slot_plan sp;
    drover_error err;
    char when[32];
    size_t k;
    long long last = json_integer_value(json_object_get(st, "last_run"));

    drover_error_clear(&err);
    json_array_foreach(jobs, k, x)
      if(!pend && !strcmp(jstr(x, "state"), "PENDING"))
        pend = x;
    json_array_append_new(
      out, json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:O?, s:s?, s:s?, s:O?, s:O}",
                     "name", jstr(job, "name"), "stack", jstr(job, "stack"), "policy",
                     jstr(job, "policy"), "kind", jstr(job, "kind"), "schedule",
                     jstr(job, "schedule"), "next_run", jstr(pend, "begin"), "job_id",
                     jstr(pend, "id"), "last_result", json_object_get(st, "last_result"),
                     "last_run", last ? iso(last, when, sizeof(when)) : NULL, "template",
                     jstr(job, "template"), "error", json_object_get(st, "error"), "jobs",
                     jobs ? jobs : json_array()));
    /* The schedule's own next slot: what cron will run next. */
    if(!drover_schedule_plan(&sp, jstr(job, "schedule"), jstr(job, "timezone"), 0,
                             (long long)time(NULL), &err))
      json_object_set_new(json_array_get(out, json_array_size(out) - 1), "next_slot",
                          json_string(iso(sp.next, when, sizeof(when))));
    json_decref(jobs);
  }
  if(cli->json) {
    char *t = json_dumps(out, JSON_COMPACT);
    printf("%s\n", t ? t : "[]");
    free(t);
  }
  else {
    printf("%s%-32s %-7s %-14s %-20s %-8s %s%s\n", cli_c(cli->color, CLI_BOLD), "NAME", "KIND",
           "SCHEDULE", "NEXT RUN", "LAST", "LAST RUN", cli_c(cli->color, CLI_RESET));
    json_array_foreach(out, i, job) {
      printf("%-32s %-7s %-14s %-20s %-8s %s\n", jstr(job, "name"), jstr(job, "kind"),
             jstr(job, "schedule"), jstr(job, "next_run") ? jstr(job, "next_run") : "-",
             jstr(job, "last_result") ? jstr(job, "last_result") : "-",
             jstr(job, "last_run") ? jstr(job, "last_run") : "-");
      if(jstr(job, "error"))
        printf("  %s\n", jstr(job, "error"));
    }
  }
  json_decref(out);
  json_decref(all);
  return CLI_EXIT_OK;
}

static int cmd_remove(const char *which, const char *own[O_COUNT])
{
  json_t *all = installed(dflt(own[O_STATE], "DROVER_STATE_DIR", "/var/lib/drover/schedule"));
  json_t *job, *hit = NULL;
  size_t i, n = 0;
  int ret = CLI_EXIT_ERROR;

  json_array_foreach(all, i, job) {
    char *sp = cli_sched_job_name(jstr(job, "stack"), jstr(job, "policy"));
    if((sp && !strcmp(sp + 7, which)) || !strcmp(jstr(job, "policy"), which) ||
       !strcmp(jstr(job, "name"), which)) {
      hit = job;
      n++;
    }
    free(sp);
  }
  if(n != 1) {
    cli_errorf("schedule remove: %s %s", which,
               n ? "names several installed policies; give STACK:POLICY"
                 : "is not installed (see drover schedule list)");
    goto out;
  }
  /* The job file goes first: a job running now then stops resubmitting. */
  if(unlink(jstr(hit, "job_file")) && errno != ENOENT) {
    cli_errorf("schedule remove: %s: %s", jstr(hit, "job_file"), strerror(errno));
    goto out;
  }
  if(cli_sched_cancel(jstr(hit, "name")))
    goto out;
  printf("Removed %s\n", jstr(hit, "name"));
  ret = CLI_EXIT_OK;
out:
  json_decref(all);
  return ret;
}

int cli_cmd_schedule(int argc, char **argv)
{
  static const char *const verbs[] = {"install", "run", "list", "remove"};
  const char *own[O_COUNT];
  struct cli cli;
  char name[32];
  size_t v;
  int ret;

  if(argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
  }
  for(v = 0; v < 4 && strcmp(argv[1], verbs[v]); v++)
    ;
  if(v == 4) {
    cli_errorf("schedule: unknown action '%s' (install, run, list, remove)", argv[1]);
    return CLI_EXIT_ERROR;
  }
  snprintf(name, sizeof(name), "schedule %s", verbs[v]);
  argv[1] = name;
  argc = take_own(argc - 1, argv + 1, own);
  argv++;
  if(argc < 0)
    return CLI_EXIT_ERROR;
  if(v == 1 && own[O_JOB]) {
    memset(&cli, 0, sizeof(cli));
    cli.cmd = name;
    return cmd_run(&cli, own);
  }
  ret = cli_parse(&cli, argc, argv, 0, usage, 2);
  if(ret >= 0)
    return ret;
  switch(v) {
  case 0:
    return cmd_install(&cli, own);
  case 1:
    return cmd_run(&cli, own);
  case 2:
    return cmd_list(&cli, own);
  default:
    /* The one positional is the name (cli_parse took it as the template). */
    if(!cli.template_path || cli.output_name) {
      cli_errorf("schedule remove: which policy? (STACK:POLICY or POLICY)");
      return CLI_EXIT_ERROR;
    }
    return cmd_remove(cli.template_path, own);
  }
}
