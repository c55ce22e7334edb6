/* cmd_graph.c - drover graph: the dependency graph as Graphviz DOT. */
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static const char usage[] =
  "Usage: drover graph [options] [-t] TEMPLATE\n"
  "\n"
  "Prints the stack's dependency graph in Graphviz DOT on stdout, e.g.\n"
  "'drover graph web.json | dot -Tsvg > web.svg'. Without --plan no cloud\n"
  "is contacted; with --plan the stack is refreshed and each node shows\n"
  "its planned action.\n"
  "\n"
  "Options:\n"
  CLI_HELP_TEMPLATE
  "      --stack NAME            override the stack name\n"
  "      --provider-config FILE  provider settings merged over the template's\n"
  "      --plan                  refresh and include the planned actions\n"
  "      --destroy               with --plan: the destroy plan\n"
  "      --lock-timeout SECONDS  wait this long for the stack lock (default 60)\n"
  "  -v, --verbose / --quiet / --log-json\n"
  "\n"
  "Exit status: 0 success, 1 error, 3 stack locked.\n";

int cli_cmd_graph(int argc, char **argv)
{
  struct cli cli;
  struct cli_stack cs;
  drover_plan *plan = NULL;
  drover_error err;
  drover_code rc;
  char *dot = NULL;
  int ret;

  memset(&cs, 0, sizeof(cs));
  ret = cli_parse(&cli, argc, argv, CLI_OPT_GRAPHPLAN | CLI_OPT_LOCK | CLI_OPT_DESTROY,
                  usage, 1);
  if(ret >= 0)
    return ret;
  drover_error_clear(&err);
  ret = cli_stack_open(&cs, &cli);
  if(ret)
    goto out;
  if(cli.graph_plan) {
    ret = cli_make_plan(&plan, &cs, &cli, cli.destroy ? DROVER_PLAN_DESTROY : 0);
    if(ret)
      goto out;
    drover_stack_unlock(cs.stack);
  }
  rc = drover_graph_dot(&dot, cs.stack, plan, &err);
  if(rc) {
    if(!err.code)
      err.code = rc;
    ret = cli_fail(&err);
    goto out;
  }
  fputs(dot, stdout);
  if(dot[0] && dot[strlen(dot) - 1] != '\n')
    putchar('\n');
out:
  free(dot);
  drover_plan_free(plan);
  cli_stack_close(&cs);
  return ret;
}
