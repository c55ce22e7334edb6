/* cmd_apply.c - drover apply and drover destroy.
 *
 * Both run lock -> refresh -> plan -> render -> confirm -> apply. apply
 * can instead take a saved plan, which it applies as saved (the engine
 * refuses it when the live state moved since). destroy can also work from
 * a stack name alone.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

static const char apply_usage[] =
  "Usage: drover apply [options] [-t] TEMPLATE\n"
  "       drover apply [options] FILE.plan\n"
  "\n"
  "Makes the cloud match the template: refreshes the stack, shows the plan,\n"
  "asks for confirmation and applies it. Given a plan saved by\n"
  "'drover plan -o FILE', applies exactly that plan without asking, and\n"
  "refuses it if a resource changed since it was made.\n"
  "\n"
  "Options:\n"
  CLI_HELP_TEMPLATE
  "      --stack NAME            override the stack name\n"
  "      --provider-config FILE  provider settings merged over the template's\n"
  "  -y, --yes, --auto-approve   do not ask for confirmation\n"
  "      --parallelism N         at most N cloud actions at once (default 10)\n"
  "      --max-retries N         retries of a transient failure (default 5; 0: none)\n"
  "      --op-timeout SECONDS    deadline per cloud operation (default 300)\n"
  "      --lock-timeout SECONDS  wait this long for the stack lock (default 60)\n"
  "      --json                  print a JSON result document on stdout\n"
  "  -v, --verbose / --quiet / --no-color / --log-json\n"
  "\n"
  "Without a terminal on stdin, apply needs --yes. SIGINT or SIGTERM stops\n"
  "starting new actions, lets the running ones finish and exits 130.\n"
  "\n"
  "Exit status: 0 applied, 1 error, 3 stack locked, 130 interrupted.\n";

static const char destroy_usage[] =
  "Usage: drover destroy [options] [-t] TEMPLATE\n"
  "       drover destroy [options] --stack NAME\n"
  "\n"
  "Deletes every object the stack owns, dependents first. With --stack and\n"
  "no template, finds the stack's objects by their labels in every provider,\n"
  "with its settings from --provider-config or its defaults.\n"
  "\n"
  "Options:\n"
  CLI_HELP_TEMPLATE
  "      --stack NAME            the stack (overrides the template's)\n"
  "      --provider-config FILE  provider settings\n"
  "  -y, --yes, --auto-approve   do not ask for confirmation\n"
  "      --parallelism N         at most N cloud actions at once (default 10)\n"
  "      --max-retries N         retries of a transient failure (default 5; 0: none)\n"
  "      --op-timeout SECONDS    deadline per cloud operation (default 300)\n"
  "      --lock-timeout SECONDS  wait this long for the stack lock (default 60)\n"
  "      --json                  print a JSON result document on stdout\n"
  "  -v, --verbose / --quiet / --no-color / --log-json\n"
  "\n"
  "Exit status: 0 destroyed, 1 error, 3 stack locked, 130 interrupted.\n";

#define APPLY_ACCEPTS (CLI_OPT_YES | CLI_OPT_PARALLEL | CLI_OPT_LOCK | CLI_OPT_RETRIES)

/* 1 when path holds a saved plan rather than a template: a JSON object
 * with a "drover_plan" member (see drover_plan_save). Anything else counts
 * as a template, so the loader reports it with file:line:col. */
static int is_saved_plan(const char *path)
{
  json_error_t jerr;
  json_t *root = json_load_file(path, 0, &jerr);
  int plan;

  plan = root && json_is_object(root) && json_object_get(root, "drover_plan");
  json_decref(root);
  return plan;
}

/* Asks, or refuses without a terminal. Returns -1 to go on, else an exit
 * code. */
static int confirm(const struct cli *cli, const char *what)
{
  FILE *f = cli->json ? stderr : stdout;

  if(cli->yes)
    return -1;
  if(!isatty(STDIN_FILENO)) {
    cli_errorf("%s: stdin is not a terminal, so there is nobody to ask; "
               "pass --yes to %s without confirmation", cli->cmd, cli->cmd);
    return CLI_EXIT_ERROR;
  }
  if(!cli_confirm(f, what)) {
    fprintf(f, "%s cancelled; nothing was changed.\n",
            !strcmp(cli->cmd, "destroy") ? "Destroy" : "Apply");
    /* ^C at the prompt is an interruption, not a "no". */
    return cli_cancelled() ? CLI_EXIT_INTERRUPTED : CLI_EXIT_ERROR;
  }
  if(cli_cancelled())
    return CLI_EXIT_INTERRUPTED;
  return -1;
}

static void print_result(const struct cli *cli, drover_stack *stack,
                         const drover_apply_result *res, drover_code rc,
                         const drover_error *err)
{
  const char *what = !strcmp(cli->cmd, "destroy") ? "Destroy" : "Apply";
  char *outputs = NULL;
  drover_error oerr;
  int ok = rc == DROVER_OK, interrupted = rc == DROVER_E_CANCELLED || cli_cancelled();

  drover_error_clear(&oerr);
  /* Outputs are a courtesy after a good apply; a failure here is a warning. */
  if(ok && strcmp(cli->cmd, "destroy") &&
     drover_stack_outputs_json(&outputs, stack, cli->reveal, &oerr)) {
    char buf[DROVER_ERROR_TEXT + 512];
    if(!cli->quiet)
      cli_log((void *)cli, DROVER_LOG_WARN,
              drover_error_format(&oerr, buf, sizeof(buf)));
    free(outputs);
    outputs = NULL;
  }
  if(cli->json) {
    char msg[DROVER_ERROR_TEXT + 512];
    json_t *doc, *out_obj = NULL, *jerr = json_null();
    json_error_t perr;
    char *text;

    if(outputs)
      out_obj = json_loads(outputs, 0, &perr);
    if(!ok && err->code)
      jerr = json_pack("{s:i, s:s, s:s, s:s}", "code", (int)err->code, "kind",
                       drover_strerror(err->code), "address", err->address, "message",
                       drover_error_format(err, msg, sizeof(msg)));
    doc = json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
                    "stack", drover_stack_name(stack),
                    "status", ok ? "applied" : interrupted ? "interrupted" : "failed",
                    "ok", ok,
                    "created", (json_int_t)res->created,
                    "updated", (json_int_t)res->updated,
                    "replaced", (json_int_t)res->replaced,
                    "deleted", (json_int_t)res->deleted,
                    "failed", (json_int_t)res->failed,
                    "skipped", (json_int_t)res->skipped,
                    "error", jerr ? jerr : json_null(),
                    "outputs", out_obj ? out_obj : json_object());
    text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    if(text)
      printf("%s\n", text);
    free(text);
    json_decref(doc);
  }
  else if(ok) {
    if(!cli->quiet) {
      if(!strcmp(cli->cmd, "destroy"))
        printf("%s%s complete:%s %zu deleted.\n", cli_c(cli->color, CLI_GREEN), what,
               cli_c(cli->color, CLI_RESET), res->deleted);
      else
        printf("%s%s complete:%s %zu created, %zu updated, %zu replaced, %zu deleted.\n",
               cli_c(cli->color, CLI_GREEN), what, cli_c(cli->color, CLI_RESET),
               res->created, res->updated, res->replaced, res->deleted);
      if(outputs)
        cli_outputs_print(stdout, outputs, "\nOutputs:\n");
    }
  }
  else {
    /* The failure summary is shown even with --quiet. */
    printf("%s%s %s:%s %zu created, %zu updated, %zu replaced, %zu deleted, "
           "%zu failed, %zu not attempted.\n",
           cli_c(cli->color, CLI_RED), what, interrupted ? "interrupted" : "failed",
           cli_c(cli->color, CLI_RESET), res->created, res->updated, res->replaced,
           res->deleted, res->failed, res->skipped);
  }
  fflush(stdout);
  free(outputs);
}

/* Applies plan with progress; prints the result. Returns an exit code. */
static int run_apply(const struct cli *cli, drover_plan *plan, drover_stack *stack)
{
  drover_apply_opts aopts = DROVER_APPLY_OPTS_INIT;
  drover_apply_result res;
  struct cli_progress *prog;
  drover_error err;
  drover_code rc;
  FILE *pout = cli->json ? stderr : stdout;
  int ret;

  memset(&res, 0, sizeof(res));
  drover_error_clear(&err);
  prog = cli_progress_new(pout, isatty(fileno(pout)),
                          cli_want_color(pout, cli->no_color), cli->quiet);
  aopts.parallelism = cli->parallelism;
  aopts.max_retries = cli->max_retries;
  aopts.op_timeout = cli->op_timeout;
  aopts.progress = prog ? cli_progress_event : NULL;
  aopts.progress_userdata = prog;
  aopts.cancel = cli_cancel_flag();
  rc = drover_apply(plan, &aopts, &res, &err);
  cli_progress_finish(prog);
  cli_progress_free(prog);
  if(rc && !err.code)
    err.code = rc;
  if(!rc && cli_cancelled())
    rc = DROVER_E_CANCELLED; /* nothing failed, but not everything ran */
  print_result(cli, stack, &res, rc, &err);
  if(rc == DROVER_E_CANCELLED || cli_cancelled())
    ret = CLI_EXIT_INTERRUPTED;
  else if(rc) {
    cli_fail(&err);
    ret = cli_exit_code(rc);
  }
  else
    ret = CLI_EXIT_OK;
  return ret;
}

static int apply_saved(const struct cli *cli)
{
  drover_options opts;
  drover_plan *plan = NULL;
  drover_stack *stack = NULL;
  drover_error err;
  drover_code rc;
  int ret;

  drover_error_clear(&err);
  cli_options(&opts, cli);
  rc = drover_plan_load(&plan, &stack, cli->template_path, &opts, &err);
  if(!rc)
    rc = drover_stack_lock(stack, cli->lock_timeout, &err);
  if(rc) {
    if(!err.code)
      err.code = rc;
    ret = cli_fail(&err);
    goto out;
  }
  if(!cli->json)
    cli_plan_show(plan, cli);
  ret = run_apply(cli, plan, stack);
out:
  drover_plan_free(plan); /* owns the stack */
  return ret;
}

static int apply_or_destroy(int argc, char **argv, int destroy)
{
  struct cli cli;
  struct cli_stack cs;
  drover_plan *plan = NULL;
  int ret;

  memset(&cs, 0, sizeof(cs));
  ret = cli_parse(&cli, argc, argv, APPLY_ACCEPTS, destroy ? destroy_usage : apply_usage,
                  1);
  if(ret >= 0)
    return ret;
  cli_signals_install();
  if(!destroy && cli.template_path && !cli.path_from_t &&
     is_saved_plan(cli.template_path))
    return apply_saved(&cli);
  if(destroy && !cli.template_path) {
    if(!cli.stack_name) {
      cli_errorf("destroy: give a template or --stack NAME (see 'drover destroy --help')");
      return CLI_EXIT_ERROR;
    }
    ret = cli_stack_open_bare(&cs, &cli);
  }
  else
    ret = cli_stack_open(&cs, &cli);
  if(ret)
    goto out;
  ret = cli_make_plan(&plan, &cs, &cli, destroy ? DROVER_PLAN_DESTROY : 0);
  if(ret)
    goto out;
  if(!cli.json)
    cli_plan_show(plan, &cli);
  if(cli_cancelled()) {
    ret = CLI_EXIT_INTERRUPTED;
    goto out;
  }
  if(drover_plan_changes(plan)) {
    ret = confirm(&cli, destroy ? "Destroy these resources?" : "Apply these changes?");
    if(ret >= 0)
      goto out;
  }
  ret = run_apply(&cli, plan, cs.stack);
out:
  drover_plan_free(plan);
  cli_stack_close(&cs);
  return ret;
}

int cli_cmd_apply(int argc, char **argv)
{
  return apply_or_destroy(argc, argv, 0);
}

int cli_cmd_destroy(int argc, char **argv)
{
  return apply_or_destroy(argc, argv, 1);
}
