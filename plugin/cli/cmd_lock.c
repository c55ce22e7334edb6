/* cmd_lock.c - drover force-unlock: removes a stack's lease from the
 * cloud, given its lock id (doc/locks.md). */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static const char usage[] =
  "Usage: drover force-unlock LOCK_ID [options] [-t] TEMPLATE\n"
  "       drover force-unlock LOCK_ID [options] --stack NAME\n"
  "\n"
  "Removes the stack's lease from the cloud when its holder will not come\n"
  "back (a host that died) and waiting for the lease to run out is not an\n"
  "option. LOCK_ID is the id a locked apply or destroy names (\"locked in\n"
  "lxd by lock 5f0c...\"); a lease with another id is left alone. A holder\n"
  "that is still running notices at its next renewal and starts nothing\n"
  "more. The lock file on this machine is never touched: the kernel\n"
  "releases it when its holder exits.\n"
  "\n"
  "Options:\n"
  CLI_HELP_TEMPLATE
  "      --stack NAME            the stack (without a template: by name)\n"
  "      --provider-config FILE  provider settings merged over the template's\n"
  "  -v, --verbose / --quiet / --log-json\n"
  "\n"
  "Exit status: 0 unlocked, 1 error (no lease, or one with another id).\n";

int cli_cmd_force_unlock(int argc, char **argv)
{
  struct cli cli;
  struct cli_stack cs;
  drover_error err;
  drover_code rc;
  const char *id;
  int ret;

  memset(&cs, 0, sizeof(cs));
  if(argc < 2 || argv[1][0] == '-') {
    if(argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
      fputs(usage, stdout);
      return CLI_EXIT_OK;
    }
    cli_errorf("force-unlock: the lock id comes first (see 'drover force-unlock "
               "--help')");
    return CLI_EXIT_ERROR;
  }
  id = argv[1];
  argv[1] = argv[0]; /* the rest parses like any subcommand's */
  ret = cli_parse(&cli, argc - 1, argv + 1, 0, usage, 1);
  if(ret >= 0)
    return ret;
  if(!cli.template_path && cli.stack_name)
    ret = cli_stack_open_bare(&cs, &cli);
  else
    ret = cli_stack_open(&cs, &cli);
  if(ret)
    goto out;
  drover_error_clear(&err);
  rc = drover_stack_force_unlock(cs.stack, id, &err);
  if(rc) {
    if(!err.code)
      err.code = rc;
    ret = cli_fail(&err);
    goto out;
  }
  if(!cli.quiet)
    printf("Stack \"%s\" unlocked (lock %s removed).\n", drover_stack_name(cs.stack), id);
out:
  cli_stack_close(&cs);
  return ret;
}
