/* forge_submit.c - submit a batch job with a hand-made SPANK job control
 * environment, as any user can through libslurm, bypassing every check
 * the plugin makes in sbatch. The attack tests use it to show that the
 * prolog re-checks the request on its own.
 *
 * usage: forge_submit OUTFILE 'SCRIPT' [NAME=VALUE...]
 *   NAME=VALUE pairs go to spank_job_env as given; the plugin option is
 *   _SLURM_SPANK_OPTION_drover_drover=REQUEST. Prints the job id.
 * Built by the tests: gcc -o forge_submit forge_submit.c -lslurm
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

int main(int argc, char **argv)
{
  job_desc_msg_t desc;
  submit_response_msg_t *resp = NULL;
  char script[4096], cwd[1024];
  char *env[] = {"PATH=/usr/bin:/bin", NULL};
  int i;

  if(argc < 3) {
    fprintf(stderr, "usage: forge_submit OUTFILE SCRIPT [NAME=VALUE...]\n");
    return 2;
  }
  slurm_init(NULL);
  slurm_init_job_desc_msg(&desc);
  snprintf(script, sizeof(script), "#!/bin/sh\n%s\n", argv[2]);
  if(!getcwd(cwd, sizeof(cwd)))
    return 2;
  desc.name = "forged";
  desc.script = script;
  desc.std_out = argv[1];
  desc.std_err = argv[1];
  desc.work_dir = cwd;
  desc.user_id = getuid();
  desc.group_id = getgid();
  desc.min_nodes = 1;
  desc.environment = env;
  desc.env_size = 1;
  desc.spank_job_env = argv + 3;
  desc.spank_job_env_size = (uint32_t)(argc - 3);
  if(slurm_submit_batch_job(&desc, &resp) != SLURM_SUCCESS) {
    fprintf(stderr, "forge_submit: %s\n", slurm_strerror(slurm_get_errno()));
    return 1;
  }
  printf("%u\n", resp->job_id);
  slurm_free_submit_response_response_msg(resp);
  slurm_fini();
  return 0;
  (void)i;
}
