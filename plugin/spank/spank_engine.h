/*
 * spank_engine.h - the interface between drover.so (the shim Slurm loads
 * into srun/sbatch/salloc, slurmd's prolog/epilog and every slurmstepd)
 * and drover_spank_engine.so (libdrover, libcurl, jansson).
 *
 * The shim is libc-only, so a job that does not use --drover pays for
 * nothing more. When a job does, the shim checks the engine module (root's,
 * not group/world writable, a regular file, in a trusted directory chain),
 * dlopen()s it RTLD_NOW | RTLD_LOCAL and calls its one export,
 * dvs_engine(DVS_ENGINE_VERSION). The engine's Slurm calls (slurm_error,
 * spank_setenv, slurm_load_job_user, ...) bind to the process's global
 * symbols, as the shim's do.
 */
#ifndef DROVER_SPANK_ENGINE_H
#define DROVER_SPANK_ENGINE_H

#include <slurm/spank.h>
#include "spank_int.h"

#define DVS_ENGINE_VERSION 1u
#define DVS_ENGINE_FILE "drover_spank_engine.so"
#define DVS_ENGINE_SYMBOL "dvs_engine"

/* One job as the job script contexts (prolog/epilog, root) see it. */
typedef struct dvs_job {
  uint32_t jobid;
  uid_t uid;
  gid_t gid;
  char stack[DVS_STACK_MAX + 1];
} dvs_job;

typedef struct dvs_engine_ops {
  unsigned version; /* DVS_ENGINE_VERSION */
  /* Submit side: checks the template and params the way the prolog will,
   * with no provider config and no cloud. 0 if fine or undecidable here,
   * -1 with a message for the user when the request is certainly bad. */
  int (*precheck)(const dvs_config *cfg, const dvs_request *req, char *msg,
                  size_t msglen);
  /* job_prolog on the first node, after the shim cleared the job's old
   * files and checked the request: applies the stack and writes the
   * outputs file. 0, or -1 with a message for the job (the shim writes
   * it to the job's error file). */
  int (*prolog)(const dvs_config *cfg, const dvs_job *job, const dvs_request *req,
                char *msg, size_t msglen);
  /* job_epilog on the first node: destroys the stack (retrying). Logs,
   * never fails. */
  void (*epilog)(const dvs_config *cfg, const dvs_job *job);
  /* task_init: exports the outputs file text as DROVER_* variables.
   * 0, or -1 (logged) to fail the task. */
  int (*export_outputs)(spank_t sp, const dvs_config *cfg, const char *path,
                        const char *text);
} dvs_engine_ops;

/* The engine module's only export. NULL if it does not speak version. */
typedef const dvs_engine_ops *(*dvs_engine_fn)(unsigned version);
const dvs_engine_ops *dvs_engine(unsigned version);

#endif /* DROVER_SPANK_ENGINE_H */
