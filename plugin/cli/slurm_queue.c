/* slurm_queue.c - the queue rule's input: how many jobs are pending in a
 * partition, read from slurmctld with libslurm (only built with it). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>
#include "cli.h"

/* Whether partition is one of the job's comma-separated partitions (a job
 * submitted to "a,b" waits in both). */
static int in_partition(const char *list, const char *partition)
{
  size_t n = strlen(partition);
  const char *p = list;

  while(p && *p) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if(len == n && !strncmp(p, partition, n))
      return 1;
    p = e ? e + 1 : NULL;
  }
  return 0;
}

drover_code cli_slurm_pending(void *userdata, const char *partition, long *pending,
                              drover_error *err)
{
  static int inited;
  job_info_msg_t *msg = NULL;
  uint32_t i;
  long n = 0;

  (void)userdata;
  *pending = -1;
  if(!inited) {
    /* libslurm exits the process when it finds no configuration: ask
     * first, so a host without Slurm gets an error, not an exit. */
    const char *conf = getenv("SLURM_CONF");
    if(access(conf && *conf ? conf : "/etc/slurm/slurm.conf", R_OK)) {
      if(!err->code) {
        err->code = DROVER_E_CONFIG;
        snprintf(err->text, sizeof(err->text), "slurm: no readable slurm.conf (%s)",
                 conf && *conf ? conf : "/etc/slurm/slurm.conf");
      }
      return DROVER_E_CONFIG;
    }
    slurm_init(NULL);
    inited = 1;
  }
  if(slurm_load_jobs((time_t)0, &msg, SHOW_ALL) != SLURM_SUCCESS) {
    /* The CLI sees only drover.h: fill the caller's error directly. */
    if(!err->code) {
      err->code = DROVER_E_TRANSIENT;
      snprintf(err->text, sizeof(err->text), "slurm: cannot list jobs: %s",
               slurm_strerror(slurm_get_errno()));
    }
    return DROVER_E_TRANSIENT;
  }
  for(i = 0; i < msg->record_count; i++) {
    const slurm_job_info_t *j = &msg->job_array[i];
    if((j->job_state & JOB_STATE_BASE) == JOB_PENDING && j->partition &&
       in_partition(j->partition, partition))
      n++;
  }
  slurm_free_job_info_msg(msg);
  *pending = n;
  return DROVER_OK;
}
