/* cmd_validate.c - drover validate: load the template, bind the vars and
 * open the stack. No cloud is contacted. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static const char usage[] =
  "Usage: drover validate [options] [-t] TEMPLATE\n"
  "\n"
  "Checks a template and its vars without contacting any cloud: JSON syntax,\n"
  "keys, param values, references and dependency cycles. Errors are printed\n"
  "as FILE:LINE:COLUMN: MESSAGE.\n"
  "\n"
  "Options:\n"
  "  -t, --template FILE   the template\n"
  "      --var NAME=VALUE  set a param (repeatable)\n"
  "      --var-file FILE   params from a JSON object (repeatable)\n"
  "      --stack NAME      override the stack name\n"
  "      --json            print {\"valid\":...} on stdout\n"
  "  -v, --verbose / --quiet / --no-color / --log-json\n"
  "\n"
  "Exit status: 0 valid, 1 invalid or error.\n";

/* Loads and opens without printing, so --json can report the error. */
static drover_code check(struct cli_stack *cs, const struct cli *cli, drover_error *err)
{
  drover_code rc;
  size_t i;

  memset(cs, 0, sizeof(*cs));
  cli_options(&cs->opts, cli);
  rc = drover_template_load_file(&cs->tpl, cli->template_path, err);
  if(rc)
    return rc;
  cs->vars = drover_vars_new();
  if(!cs->vars) {
    err->code = DROVER_E_NOMEM;
    return DROVER_E_NOMEM;
  }
  for(i = 0; i < cli->nvar_files && !rc; i++)
    rc = drover_vars_load_file(cs->vars, cli->var_files[i], err);
  for(i = 0; i < cli->nvars && !rc; i++)
    rc = drover_vars_set_kv(cs->vars, cli->vars[i], err);
  if(rc)
    return rc;
  return drover_stack_open(&cs->stack, cs->tpl, cs->vars, &cs->opts, err);
}

int cli_cmd_validate(int argc, char **argv)
{
  struct cli cli;
  struct cli_stack cs;
  drover_error err;
  drover_code rc;
  char msg[DROVER_ERROR_TEXT + 512];
  int ret;

  ret = cli_parse(&cli, argc, argv, 0, usage, 1);
  if(ret >= 0)
    return ret;
  if(!cli.template_path) {
    cli_errorf("validate: no template given (see 'drover validate --help')");
    return CLI_EXIT_ERROR;
  }
  drover_error_clear(&err);
  rc = check(&cs, &cli, &err);
  if(rc && !err.code)
    err.code = rc;
  if(cli.json) {
    json_t *doc;
    char *text;

    if(rc)
      doc = json_pack("{s:b, s:{s:i, s:s, s:s, s:i, s:i, s:s, s:s}}", "valid", 0,
                      "error", "code", (int)err.code, "kind", drover_strerror(err.code),
                      "source", err.source, "line", err.line, "column", err.column,
                      "address", err.address, "message",
                      drover_error_format(&err, msg, sizeof(msg)));
    else
      doc = json_pack("{s:b, s:s, s:I}", "valid", 1, "stack",
                      drover_stack_name(cs.stack),
                      "resources", (json_int_t)drover_stack_resource_count(cs.stack));
    text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    if(text)
      printf("%s\n", text);
    free(text);
    json_decref(doc);
    if(rc)
      ret = cli_exit_code(rc);
    else
      ret = CLI_EXIT_OK;
    /* The message also goes to stderr so scripts that only look there see it. */
    if(rc)
      cli_fail(&err);
  }
  else if(rc)
    ret = cli_fail(&err);
  else {
    if(!cli.quiet)
      printf("%s: valid (stack %s, %zu resource%s)\n", cli.template_path,
             drover_stack_name(cs.stack), drover_stack_resource_count(cs.stack),
             drover_stack_resource_count(cs.stack) == 1 ? "" : "s");
    ret = CLI_EXIT_OK;
  }
  cli_stack_close(&cs);
  return ret;
}
