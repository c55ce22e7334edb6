/*
 * sched.h - what the drover schedule files share (not installed): the
 * installed job's settings, subprocesses with captured output, and the
 * Slurm commands (sbatch, squeue, scancel) a scheduled job is driven by.
 * Cross-file names use the cli_sched_ prefix.
 */
#ifndef DROVER_CLI_SCHED_H
#define DROVER_CLI_SCHED_H

#include <jansson.h>

/* Runs argv (argv[0] a path) with stdin from /dev/null, capturing stdout
 * into *out and stderr into *errout (both NUL-terminated, caller frees;
 * either may be NULL to inherit). *status is the exit status, or 128 +
 * signal. Returns 0, or -1 when it could not run (errno set). */
int cli_sched_capture(char *const argv[], char **out, char **errout, int *status);

/* The Slurm job name of a policy: "drover:STACK:POLICY". Caller frees. */
char *cli_sched_job_name(const char *stack, const char *policy);

/* Job ids (a JSON array of {"id","state","begin"}) of the jobs named name
 * in the given squeue states ("PENDING", "PENDING,RUNNING"); NULL on
 * error (message printed). Caller decrefs. */
json_t *cli_sched_jobs(const char *name, const char *states);

/* Submits the job that runs `EXE schedule run --job JOBFILE` at begin
 * (Unix seconds) named name, output to logdir, in partition (NULL: the
 * default). Prints the id on success. Returns 0, or -1 (message printed). */
int cli_sched_submit(const char *name, long long begin, const char *exe,
                     const char *jobfile, const char *logdir, const char *partition,
                     char *id, size_t idsize);

/* Whether squeue is there: a host without Slurm runs policies from cron
 * and has no jobs to show. */
int cli_sched_have_slurm(void);

/* scancel every job named name. 0 or -1 (message printed). */
int cli_sched_cancel(const char *name);

#endif /* DROVER_CLI_SCHED_H */
