/* cmd_plan.c - drover plan, and the lock-refresh-plan step that apply and
 * destroy share. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static const char usage[] =
  "Usage: drover plan [options] [-t] TEMPLATE\n"
  "\n"
  "Refreshes the stack's live state and shows what apply would create,\n"
  "update, replace or delete, with the reason for each.\n"
  "\n"
  "Options:\n"
  CLI_HELP_TEMPLATE
  "      --stack NAME            override the stack name\n"
  "      --provider-config FILE  provider settings merged over the template's\n"
  "  -o, --out FILE              save the plan for 'drover apply FILE'\n"
  "      --destroy               plan to delete everything the stack owns\n"
  "      --detailed-exitcode     exit 0 no changes, 2 changes, 1 error\n"
  "                              (also -detailed-exitcode)\n"
  "      --lock-timeout SECONDS  wait this long for the stack lock (default 60)\n"
  "      --json                  the plan as JSON on stdout\n"
  "  -v, --verbose / --quiet / --no-color / --log-json\n"
  "\n"
  "A scale.policy in the stack adds a line saying which count it asks for\n"
  "now (\"scale\" in --json; the time comes from $DROVER_NOW when set).\n"
  "\n"
  "Exit status: 0 success (with --detailed-exitcode: no changes), 1 error,\n"
  "2 changes present (--detailed-exitcode), 3 stack locked, 130 interrupted.\n";

int cli_make_plan(drover_plan **plan, struct cli_stack *cs, const struct cli *cli,
                  unsigned flags)
{
  drover_error err;
  drover_code rc;

  *plan = NULL;
  drover_error_clear(&err);
  rc = drover_stack_lock(cs->stack, cli->lock_timeout, &err);
  if(rc)
    goto out;
  if(cli_cancelled()) {
    rc = DROVER_E_CANCELLED;
    goto out;
  }
  rc = drover_stack_refresh(cs->stack, &err);
  if(rc)
    goto out;
  /* A scale.policy's last decision holds over the template's count:
   * reopen with the counts it recorded, so apply does not undo it. */
  if(!(flags & DROVER_PLAN_DESTROY) && cs->tpl && cs->vars) {
    int changed = 0;
    rc = drover_scale_counts(cs->vars, cs->stack, &changed, &err);
    if(!rc && changed) {
      drover_stack_free(cs->stack);
      cs->stack = NULL;
      rc = drover_stack_open(&cs->stack, cs->tpl, cs->vars, &cs->opts, &err);
      if(!rc)
        rc = drover_stack_lock(cs->stack, cli->lock_timeout, &err);
      if(!rc)
        rc = drover_stack_refresh(cs->stack, &err);
    }
    if(rc)
      goto out;
  }
  if(cli_cancelled()) {
    rc = DROVER_E_CANCELLED;
    goto out;
  }
  rc = drover_plan_new(plan, cs->stack, flags, &err);
out:
  if(rc) {
    if(!err.code)
      err.code = rc;
    if(rc == DROVER_E_CANCELLED && !err.text[0])
      cli_errorf("interrupted");
    else
      cli_fail(&err);
    return cli_exit_code(rc);
  }
  return 0;
}

void cli_plan_show(const drover_plan *plan, const struct cli *cli)
{
  if(cli->quiet)
    return;
  /* The engine's renderer prints the diff and the "Plan: ..." line, or
   * "No changes." */
  drover_plan_render(plan, stdout, cli->color);
  fflush(stdout);
}

int cli_cmd_plan(int argc, char **argv)
{
  struct cli cli;
  struct cli_stack cs;
  drover_plan *plan = NULL;
  drover_error err;
  drover_code rc;
  char *asks = NULL;
  int ret;

  ret = cli_parse(&cli, argc, argv,
                  CLI_OPT_PLANFILE | CLI_OPT_DETAILED | CLI_OPT_LOCK | CLI_OPT_DESTROY,
                  usage, 1);
  if(ret >= 0)
    return ret;
  cli_signals_install();
  drover_error_clear(&err);
  ret = cli_stack_open(&cs, &cli);
  if(ret)
    goto out;
  ret = cli_make_plan(&plan, &cs, &cli, cli.destroy ? DROVER_PLAN_DESTROY : 0);
  if(ret)
    goto out;
  /* What each scale.policy asks for now (after the refresh the plan read). */
  if(!cli.destroy) {
    drover_scale_opts so;
    cli_scale_opts(&so);
    so.now = cli_now(NULL, cli.cmd);
    rc = so.now < 0 ? DROVER_E_ARG : drover_scale_asks(&asks, cs.stack, &so, &err);
    if(rc) {
      ret = so.now < 0 ? CLI_EXIT_ERROR : cli_fail(&err);
      goto out;
    }
  }
  if(cli.json) {
    char *text = NULL;
    json_t *root;
    rc = drover_plan_to_json(&text, plan, &err);
    if(rc) {
      if(!err.code)
        err.code = rc;
      ret = cli_fail(&err);
      goto out;
    }
    root = asks ? json_loads(text, 0, NULL) : NULL;
    if(root && !json_object_set_new(root, "scale", json_loads(asks, 0, NULL))) {
      free(text);
      text = json_dumps(root, JSON_INDENT(2));
    }
    json_decref(root);
    printf("%s\n", text ? text : "{}");
    free(text);
  }
  else {
    if(asks && !cli.quiet)
      cli_scale_print_asks(stdout, asks);
    cli_plan_show(plan, &cli);
  }
  if(cli.out_path) {
    rc = drover_plan_save(plan, cli.out_path, &err);
    if(rc) {
      if(!err.code)
        err.code = rc;
      ret = cli_fail(&err);
      goto out;
    }
    if(!cli.quiet && !cli.json)
      printf("Saved the plan to %s; run 'drover apply %s' to apply exactly it.\n",
             cli.out_path, cli.out_path);
  }
  if(cli_cancelled())
    ret = CLI_EXIT_INTERRUPTED;
  else if(cli.detailed && drover_plan_changes(plan))
    ret = CLI_EXIT_CHANGES;
  else
    ret = CLI_EXIT_OK;
out:
  free(asks);
  drover_plan_free(plan);
  cli_stack_close(&cs);
  return ret;
}
