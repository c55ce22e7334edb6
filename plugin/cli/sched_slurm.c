/* sched_slurm.c - subprocesses and the Slurm commands behind drover
 * schedule. The commands (not libslurm) are used so that the job is
 * exactly what an admin would submit by hand, and so that begin times are
 * read in the same local time sbatch parses them in. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "sched.h"

/* Appends what fd has to *buf (grown); returns 0 at EOF, 1 for more, -1. */
static int drain(int fd, char **buf, size_t *len, size_t *cap)
{
  char tmp[4096];
  ssize_t n = read(fd, tmp, sizeof(tmp));

  if(n < 0)
    return errno == EINTR || errno == EAGAIN ? 1 : -1;
  if(n == 0)
    return 0;
  if(*len + (size_t)n + 1 > *cap) {
    size_t c = (*cap ? *cap * 2 : 8192) + (size_t)n;
    char *b = realloc(*buf, c);
    if(!b)
      return -1;
    *buf = b;
    *cap = c;
  }
  memcpy(*buf + *len, tmp, (size_t)n);
  *len += (size_t)n;
  (*buf)[*len] = '\0';
  return 1;
}

int cli_sched_capture(char *const argv[], char **out, char **errout, int *status)
{
  int po[2] = {-1, -1}, pe[2] = {-1, -1}, ws = 0, open_fds;
  char *b[2] = {NULL, NULL};
  size_t len[2] = {0, 0}, cap[2] = {0, 0};
  pid_t pid;

  *status = -1;
  if((out && pipe(po)) || (errout && pipe(pe)))
    return -1;
  pid = fork();
  if(pid < 0)
    return -1;
  if(pid == 0) {
    int dn = open("/dev/null", O_RDONLY);
    if(dn >= 0)
      dup2(dn, 0);
    if(out)
      dup2(po[1], 1);
    if(errout)
      dup2(pe[1], 2);
    execv(argv[0], argv);
    fprintf(stderr, "drover: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  if(out)
    close(po[1]);
  if(errout)
    close(pe[1]);
  open_fds = !!out + !!errout;
  while(open_fds > 0) {
    struct pollfd pf[2];
    int n = 0, i, r;
    if(out && po[0] >= 0)
      pf[n++] = (struct pollfd){po[0], POLLIN, 0};
    if(errout && pe[0] >= 0)
      pf[n++] = (struct pollfd){pe[0], POLLIN, 0};
    if(poll(pf, (nfds_t)n, -1) < 0 && errno != EINTR)
      break;
    for(i = 0; i < n; i++) {
      int which = pf[i].fd == po[0] ? 0 : 1;
      if(!pf[i].revents)
        continue;
      r = drain(pf[i].fd, &b[which], &len[which], &cap[which]);
      if(r <= 0) {
        close(pf[i].fd);
        if(which == 0)
          po[0] = -1;
        else
          pe[0] = -1;
        open_fds--;
      }
    }
  }
  if(po[0] >= 0)
    close(po[0]);
  if(pe[0] >= 0)
    close(pe[0]);
  while(waitpid(pid, &ws, 0) < 0 && errno == EINTR)
    ;
  *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : -1;
  if(out)
    *out = b[0] ? b[0] : strdup("");
  else
    free(b[0]);
  if(errout)
    *errout = b[1] ? b[1] : strdup("");
  else
    free(b[1]);
  return 0;
}

char *cli_sched_job_name(const char *stack, const char *policy)
{
  size_t n = strlen(stack) + strlen(policy) + 9;
  char *s = malloc(n);

  if(s)
    snprintf(s, n, "drover:%s:%s", stack, policy);
  return s;
}

/* A Slurm command in $DROVER_SLURM_BINDIR, else /usr/bin (never PATH: jobs
 * run with the submitter's environment). */
static const char *slurm_bin(const char *cmd, char *buf, size_t size)
{
  const char *dir = getenv("DROVER_SLURM_BINDIR");

  snprintf(buf, size, "%s/%s", dir && *dir ? dir : "/usr/bin", cmd);
  return buf;
}

json_t *cli_sched_jobs(const char *name, const char *states)
{
  char bin[256], nameopt[512], stopt[128], *out = NULL, *err = NULL, *line, *save = NULL;
  char *argv[] = {NULL, (char *)"-h", (char *)"-o", (char *)"%i|%T|%S|%j", nameopt, stopt, NULL};
  json_t *arr;
  int st;

  argv[0] = (char *)slurm_bin("squeue", bin, sizeof(bin));
  snprintf(nameopt, sizeof(nameopt), "--name=%s", name);
  snprintf(stopt, sizeof(stopt), "--states=%s", states);
  if(cli_sched_capture(argv, &out, &err, &st) || st) {
    cli_errorf("schedule: squeue failed (%d): %s", st, err ? err : strerror(errno));
    free(out);
    free(err);
    return NULL;
  }
  arr = json_array();
  for(line = strtok_r(out, "\n", &save); arr && line; line = strtok_r(NULL, "\n", &save)) {
    char *f[4] = {line, NULL, NULL, NULL};
    int k;
    for(k = 1; k < 4 && f[k - 1]; k++)
      if((f[k] = strchr(f[k - 1], '|')) != NULL)
        *f[k]++ = '\0';
    /* squeue --name matches exactly, but keep only our names anyway. */
    if(f[3] && !strcmp(f[3], name))
      json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "id", f[0], "state", f[1],
                                           "begin", f[2]));
  }
  free(out);
  free(err);
  return arr;
}

int cli_sched_submit(const char *name, long long begin, const char *exe, const char *jobfile,
                     const char *logdir, const char *partition, char *id, size_t idsize)
{
  char bin[256], nameopt[512], beginopt[64], outopt[1024], partopt[256], wrap[4096];
  char *argv[12], *out = NULL, *err = NULL;
  time_t t = (time_t)begin;
  struct tm tm;
  int n = 0, st, ret = -1;

  if(strchr(exe, '\'') || strchr(jobfile, '\'')) {
    cli_errorf("schedule: paths with a single quote are not supported");
    return -1;
  }
  /* sbatch reads --begin in local time, like this process. */
  localtime_r(&t, &tm);
  strftime(beginopt, sizeof(beginopt), "--begin=%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(nameopt, sizeof(nameopt), "--job-name=%s", name);
  snprintf(outopt, sizeof(outopt), "--output=%s/%%x-%%j.out", logdir);
  snprintf(wrap, sizeof(wrap), "exec '%s' schedule run --job '%s'", exe, jobfile);
  argv[n++] = (char *)slurm_bin("sbatch", bin, sizeof(bin));
  argv[n++] = (char *)"--parsable";
  argv[n++] = nameopt;
  argv[n++] = beginopt;
  argv[n++] = outopt;
  argv[n++] = (char *)"--export=ALL";
  if(partition && *partition) {
    snprintf(partopt, sizeof(partopt), "--partition=%s", partition);
    argv[n++] = partopt;
  }
  argv[n++] = (char *)"--wrap";
  argv[n++] = wrap;
  argv[n] = NULL;
  if(cli_sched_capture(argv, &out, &err, &st) || st) {
    cli_errorf("schedule: sbatch failed (%d): %s", st, err ? err : strerror(errno));
    goto out;
  }
  out[strcspn(out, ";\n")] = '\0';
  snprintf(id, idsize, "%s", out);
  ret = 0;
out:
  free(out);
  free(err);
  return ret;
}

int cli_sched_have_slurm(void)
{
  char bin[256];
  return access(slurm_bin("squeue", bin, sizeof(bin)), X_OK) == 0;
}

int cli_sched_cancel(const char *name)
{
  char bin[256], nameopt[512], *err = NULL;
  char *argv[] = {NULL, nameopt, NULL};
  int st, ret = 0;

  argv[0] = (char *)slurm_bin("scancel", bin, sizeof(bin));
  snprintf(nameopt, sizeof(nameopt), "--name=%s", name);
  if(cli_sched_capture(argv, NULL, &err, &st) || st) {
    cli_errorf("schedule: scancel failed (%d): %s", st, err ? err : strerror(errno));
    ret = -1;
  }
  free(err);
  return ret;
}
