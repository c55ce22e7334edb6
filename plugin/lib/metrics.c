/* metrics.c - the Prometheus textfile of a scheduled policy run, for
 * node_exporter's textfile collector: one file per policy, replaced
 * atomically (temporary file in the same directory, fsync, rename). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "engine.h"

/* A label value with \, " and newline escaped (the text format's rule). */
static void put_label(FILE *f, const char *v)
{
  for(; v && *v; v++) {
    if(*v == '\\')
      fputs("\\\\", f);
    else if(*v == '"')
      fputs("\\\"", f);
    else if(*v == '\n')
      fputs("\\n", f);
    else
      fputc(*v, f);
  }
}

static void sample(FILE *b, const drover_run_metrics *m, const char *name, const char *help,
                   double value)
{
  fprintf(b, "# HELP drover_policy_%s %s\n# TYPE drover_policy_%s gauge\ndrover_policy_%s{stack=\"",
          name, help, name, name);
  put_label(b, m->stack);
  fputs("\",policy=\"", b);
  put_label(b, m->policy);
  fputs("\",kind=\"", b);
  put_label(b, m->kind);
  fprintf(b, "\"} %.17g\n", value);
}

drover_code drover_metrics_format(char **out, const drover_run_metrics *m, drover_error *err)
{
  char *text = NULL;
  size_t len = 0;
  int bad;
  FILE *b;

  *out = NULL;
  if(!m || !m->stack || !m->policy || !m->kind)
    return drover_error_set(err, DROVER_E_ARG, "metrics: stack, policy and kind are required");
  b = open_memstream(&text, &len);
  if(!b)
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  sample(b, m, "last_run_timestamp_seconds", "Start of the last run (Unix time).",
         (double)m->started);
  sample(b, m, "last_run_success", "1 if the last run succeeded, else 0.", m->ok ? 1 : 0);
  if(m->last_success > 0)
    sample(b, m, "last_success_timestamp_seconds", "Start of the last successful run.",
           (double)m->last_success);
  sample(b, m, "last_run_duration_seconds", "How long the last run took.", m->duration);
  sample(b, m, "last_slot_timestamp_seconds", "The schedule slot the last run was for.",
         (double)m->slot);
  sample(b, m, "missed_slots", "Slots missed before the last run, run once with it.",
         (double)m->missed);
  if(m->bytes >= 0)
    sample(b, m, "bytes", "Bytes the last backup run exported.", (double)m->bytes);
  if(m->kept >= 0)
    sample(b, m, "snapshots_kept", "Snapshots the last prune kept.", (double)m->kept);
  if(m->deleted >= 0)
    sample(b, m, "snapshots_deleted", "Snapshots the last prune deleted.", (double)m->deleted);
  if(m->current >= 0)
    sample(b, m, "current_count", "Instances before the last scale run.", (double)m->current);
  if(m->desired >= 0)
    sample(b, m, "desired_count", "Instances the last scale run asked for.",
           (double)m->desired);
  if(m->drifted >= 0)
    sample(b, m, "drifted_resources", "Resources the last drift check found drifted.",
           (double)m->drifted);
  if(m->repaired >= 0)
    sample(b, m, "repaired_stacks", "Stacks the last drift check repaired.",
           (double)m->repaired);
  bad = ferror(b);
  if(fclose(b) || bad) {
    free(text);
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  }
  *out = text;
  return DROVER_OK;
}

/* Keeps [A-Za-z0-9.-] of s in the file name, the rest as '_': no '/',
 * so a name cannot leave dir (and the "drover_" prefix keeps it visible). */
static void safe_part(char *dst, size_t size, const char *s)
{
  size_t i;

  for(i = 0; s[i] && i + 1 < size; i++)
    dst[i] = ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.') && s[i] != '/'
               ? s[i] : '_';
  dst[i] = '\0';
}

drover_code drover_metrics_write(const char *dir, const drover_run_metrics *m,
                                 drover_error *err)
{
  char stack[96], policy[96], *path = NULL, *tmp = NULL, *text = NULL;
  drover_code rc;
  int fd = -1;
  size_t len, off = 0;

  rc = drover_metrics_format(&text, m, err);
  if(rc)
    return rc;
  safe_part(stack, sizeof(stack), m->stack);
  safe_part(policy, sizeof(policy), m->policy);
  path = dv_aprintf("%s/drover_%s_%s.prom", dir, stack, policy);
  /* node_exporter reads only *.prom: the temporary name is not one. */
  tmp = dv_aprintf("%s/.drover_%s_%s.prom.%ld", dir, stack, policy, (long)getpid());
  if(!path || !tmp) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    goto out;
  }
  if(mkdir(dir, 0755) && errno != EEXIST) {
    rc = drover_error_set(err, DROVER_E_IO, "metrics: cannot create %s: %s", dir,
                          strerror(errno));
    goto out;
  }
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if(fd < 0) {
    rc = drover_error_set(err, DROVER_E_IO, "metrics: cannot write %s: %s", tmp,
                          strerror(errno));
    goto out;
  }
  len = strlen(text);
  while(off < len) {
    ssize_t n = write(fd, text + off, len - off);
    if(n < 0 && errno == EINTR)
      continue;
    if(n <= 0)
      break;
    off += (size_t)n;
  }
  if(off < len || fsync(fd) || close(fd)) {
    fd = -1;
    rc = drover_error_set(err, DROVER_E_IO, "metrics: writing %s failed: %s", tmp,
                          strerror(errno));
    unlink(tmp);
    goto out;
  }
  fd = -1;
  if(rename(tmp, path)) {
    rc = drover_error_set(err, DROVER_E_IO, "metrics: cannot rename to %s: %s", path,
                          strerror(errno));
    unlink(tmp);
  }
out:
  if(fd >= 0)
    close(fd);
  free(text);
  free(path);
  free(tmp);
  return rc;
}
