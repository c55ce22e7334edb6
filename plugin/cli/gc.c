/*
 * gc.c - drover gc: destroy the stacks of Slurm jobs that are over.
 *
 * The SPANK epilog destroys a job's stack (job-<jobid>-<name>) when the
 * job ends. gc is the safety net for every way that can fail to happen: a
 * slurmd killed or a node rebooted before the epilog, a cloud outage that
 * outlasted the epilog's retries, plugstack epilog=skip, --drover-keep.
 * It lists every stack the providers know (one bulk list per type), asks
 * slurmctld about each job-<id>-* stack's job, and destroys the stack when
 * the job is unknown to slurmctld or finished (and not still completing,
 * which is the epilog's turn). Anything else, including "slurmctld did
 * not answer", leaves the stack alone.
 *
 * Only built with libslurm (HAVE_SLURM); main.c dispatches "drover gc"
 * here. Uses the public API (drover.h) and the command's own helpers.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>
#include "cli.h"

int drover_cli_gc(int argc, char **argv);

static const char gc_usage[] =
  "Usage: drover gc [options]\n"
  "\n"
  "Destroys the stacks of Slurm jobs that are over. The SPANK plugin names a\n"
  "job's stack job-<jobid>-<template>; gc lists every stack, asks slurmctld\n"
  "about each job, and destroys the stack when the job is finished or no\n"
  "longer known. Running, pending, suspended and completing jobs are left\n"
  "alone, and so is everything when slurmctld cannot be asked. Run it as\n"
  "root, periodically (cron or scrontab), with the plugin's provider config.\n"
  "\n"
  "Options:\n"
  "      --provider-config FILE  provider settings and credentials (the plugin's\n"
  "                              config=); every provider is asked, built in or\n"
  "                              a module, with these settings or its defaults\n"
  "  -n, --dry-run               only say what would be destroyed\n"
  "      --min-age SECONDS       spare stacks of jobs that ended less than this\n"
  "                              long ago (e.g. kept with --drover-keep); default 0\n"
  "      --lock-timeout SECONDS  wait this long for a stack's lock (default 0:\n"
  "                              skip a stack someone is working on)\n"
  "      --lock-dir DIR          where stack locks live (the plugin's lock_dir=)\n"
  "  -v, --verbose / -q, --quiet\n"
  "\n"
  "Exit status: 0 nothing failed, 1 a stack could not be destroyed or the\n"
  "stacks could not be listed.\n";

struct gc_opts {
  const char *provider_config;
  const char *lock_dir;
  int dry_run;
  int verbose;
  int quiet;
  double min_age;
  double lock_timeout;
};

static drover_log_level gc_level = DROVER_LOG_WARN;

/* cli_log, filtered to the level gc was asked for. */
static void gc_log(void *ud, drover_log_level level, const char *msg)
{
  if(level <= gc_level)
    cli_log(ud, level, msg);
}

enum verdict { GC_KEEP, GC_DESTROY, GC_UNKNOWN };

/* libslurm's own state names are not in its public header. */
static const char *gc_state_name(uint32_t base)
{
  static const char *const names[] = {
    "PENDING", "RUNNING", "SUSPENDED", "COMPLETED", "CANCELLED", "FAILED",
    "TIMEOUT", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY"
  };
  return base < sizeof(names) / sizeof(names[0]) ? names[base] : "ENDED";
}

/* Asks slurmctld about the job. why receives a short reason. */
static enum verdict gc_judge(uint32_t jobid, const struct gc_opts *o, char *why,
                             size_t len)
{
  job_info_msg_t *msg = NULL;
  enum verdict v = GC_KEEP;
  uint32_t i;

  if(slurm_load_job(&msg, jobid, SHOW_ALL) != SLURM_SUCCESS) {
    int e = slurm_get_errno();
    if(e == ESLURM_INVALID_JOB_ID) {
      snprintf(why, len, "job %u is no longer known to slurmctld", (unsigned)jobid);
      return GC_DESTROY;
    }
    snprintf(why, len, "cannot ask slurmctld about job %u: %s", (unsigned)jobid,
             slurm_strerror(e));
    return GC_UNKNOWN;
  }
  snprintf(why, len, "job %u is no longer known to slurmctld", (unsigned)jobid);
  v = GC_DESTROY;
  for(i = 0; i < msg->record_count; i++) {
    slurm_job_info_t *j = &msg->job_array[i];
    uint32_t base = j->job_state & JOB_STATE_BASE;
    if(j->job_id != jobid)
      continue;
    if(base <= JOB_SUSPENDED || (j->job_state & JOB_COMPLETING)) {
      snprintf(why, len, "job %u is %s%s", (unsigned)jobid, gc_state_name(base),
               (j->job_state & JOB_COMPLETING) ? " (completing)" : "");
      v = GC_KEEP;
    }
    else if(o->min_age > 0 && j->end_time > 0 &&
            difftime(time(NULL), j->end_time) < o->min_age) {
      snprintf(why, len, "job %u ended %.0fs ago (--min-age %.0f)", (unsigned)jobid,
               difftime(time(NULL), j->end_time), o->min_age);
      v = GC_KEEP;
    }
    else {
      snprintf(why, len, "job %u is %s", (unsigned)jobid, gc_state_name(base));
      v = GC_DESTROY;
    }
    break;
  }
  slurm_free_job_info_msg(msg);
  return v;
}

int drover_cli_gc(int argc, char **argv)
{
  static const struct option longopts[] = {
    {"provider-config", required_argument, NULL, 'c'},
    {"dry-run", no_argument, NULL, 'n'},
    {"min-age", required_argument, NULL, 'a'},
    {"lock-timeout", required_argument, NULL, 'l'},
    {"lock-dir", required_argument, NULL, 'L'},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}
  };
  struct gc_opts o;
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_error err;
  drover_destroy_opts dopts = DROVER_DESTROY_OPTS_INIT;
  char **names = NULL, why[256];
  size_t i, seen = 0, destroyed = 0, failed = 0;
  int c, ret = CLI_EXIT_OK;

  memset(&o, 0, sizeof(o));
  optind = 1;
  opterr = 0;
  while((c = getopt_long(argc, argv, "nvqh", longopts, NULL)) != -1) {
    char *end = NULL;
    switch(c) {
    case 'c': o.provider_config = optarg; break;
    case 'L': o.lock_dir = optarg; break;
    case 'n': o.dry_run = 1; break;
    case 'v': o.verbose = 1; break;
    case 'q': o.quiet = 1; break;
    case 'a':
    case 'l': {
      double d = strtod(optarg, &end);
      if(!optarg[0] || *end || d < 0) {
        cli_errorf("gc: bad number \"%s\"", optarg);
        return CLI_EXIT_ERROR;
      }
      if(c == 'a')
        o.min_age = d;
      else
        o.lock_timeout = d;
      break;
    }
    case 'h':
      fputs(gc_usage, stdout);
      return CLI_EXIT_OK;
    default:
      cli_errorf("gc: unknown option \"%s\" (see drover gc --help)", argv[optind - 1]);
      return CLI_EXIT_ERROR;
    }
  }
  if(optind < argc) {
    cli_errorf("gc: unexpected argument \"%s\"", argv[optind]);
    return CLI_EXIT_ERROR;
  }

  gc_level = o.verbose ? DROVER_LOG_DEBUG : o.quiet ? DROVER_LOG_ERROR : DROVER_LOG_WARN;
  opts.log = gc_log;
  opts.log_level = gc_level;
  opts.provider_config = o.provider_config;
  opts.lock_dir = o.lock_dir;

  drover_error_clear(&err);
  if(drover_global_init()) {
    cli_errorf("gc: library initialisation failed");
    return CLI_EXIT_ERROR;
  }
  dopts.lock_wait = o.lock_timeout;
  dopts.dry_run = o.dry_run;
  /* Every provider (built in and modules): any may hold a job's objects. */
  if(drover_stacks_list(&names, NULL, &opts, &err)) {
    ret = cli_fail(&err);
    goto out;
  }
  for(i = 0; names && names[i]; i++) {
    uint32_t jobid;
    enum verdict v;
    drover_destroy_result res;
    drover_options sopts = opts;

    if(drover_job_stack_jobid(names[i], &jobid))
      continue; /* not a job stack: not ours to judge */
    seen++;
    v = gc_judge(jobid, &o, why, sizeof(why));
    if(v == GC_UNKNOWN) {
      cli_errorf("gc: %s: skipped: %s", names[i], why);
      failed++;
      continue;
    }
    if(v == GC_KEEP) {
      if(o.verbose)
        printf("%s: kept: %s\n", names[i], why);
      continue;
    }
    drover_error_clear(&err);
    sopts.stack_name = names[i];
    if(drover_stack_destroy_bare(names[i], NULL, &sopts, &dopts, &res, &err)) {
      char line[DROVER_ERROR_TEXT + 300];
      if(err.code == DROVER_E_LOCKED)
        cli_errorf("gc: %s: skipped: someone holds its lock (%s)", names[i],
                   drover_error_format(&err, line, sizeof(line)));
      else
        cli_errorf("gc: %s: %s", names[i], drover_error_format(&err, line, sizeof(line)));
      failed++;
      continue;
    }
    destroyed++;
    if(!o.quiet)
      printf("%s: %s %zu object%s: %s\n", names[i], o.dry_run ? "would destroy" : "destroyed",
             o.dry_run ? res.planned : res.deleted,
             (o.dry_run ? res.planned : res.deleted) == 1 ? "" : "s", why);
  }
  if(!o.quiet)
    printf("gc: %zu job stack%s, %zu %s, %zu failed\n", seen, seen == 1 ? "" : "s", destroyed,
           o.dry_run ? "to destroy" : "destroyed", failed);
  ret = failed ? CLI_EXIT_ERROR : CLI_EXIT_OK;
out:
  drover_strv_free(names);
  drover_global_cleanup();
  return ret;
}
