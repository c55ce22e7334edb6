/* cmd_drift.c - drover drift run: a thin shell over drover_drift_run()
 * (drover.h) that prints the report as a table, or as is with --json. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static const char usage[] =
  "Usage: drover drift run [options] [-t] TEMPLATE POLICY [--no-repair]\n"
  "\n"
  "Plans every stack the drift.policy POLICY targets (by name, or by a glob\n"
  "on the stack label) from its template STACK.json in the policy's\n"
  "templates directory, and reports what drifted and why: instances stopped\n"
  "or deleted out of band, changed config. With auto_repair the repair is\n"
  "applied, unless the plan would delete something. A stack whose template\n"
  "cannot be loaded is reported and left alone.\n"
  "\n"
  "Options:\n"
  "  -t, --template FILE, --var, --var-file, --stack, --provider-config\n"
  "      --no-repair             report only, even with auto_repair\n"
  "      --lock-timeout SECONDS  wait for each target stack's lock\n"
  "      --json                  the report as JSON\n"
  "  -v, --verbose / --quiet / --no-color / --log-json\n"
  "\n"
  "Exit status: 0 checked (drifted or not), 1 error (also when a target\n"
  "could not be checked or repaired: the report says which).\n";

static void print_report(const char *text, const struct cli *cli)
{
  json_t *r = json_loads(text, 0, NULL), *s, *d;
  size_t i, k;

  if(cli->json || !r) {
    printf("%s\n", text);
    json_decref(r);
    return;
  }
  printf("Policy %s: %lld drifted, %lld stacks repaired\n",
         json_string_value(json_object_get(r, "policy")),
         (long long)json_integer_value(json_object_get(r, "drifted")),
         (long long)json_integer_value(json_object_get(r, "repaired")));
  json_array_foreach(json_object_get(r, "stacks"), i, s) {
    printf("%s%s%s  %s\n", cli_c(cli->color, CLI_BOLD),
           json_string_value(json_object_get(s, "stack")), cli_c(cli->color, CLI_RESET),
           json_string_value(json_object_get(s, "result")));
    if(json_object_get(s, "error"))
      printf("  %s\n", json_string_value(json_object_get(s, "error")));
    json_array_foreach(json_object_get(s, "resources"), k, d)
      printf("  %s %s: %s\n", json_string_value(json_object_get(d, "action")),
             json_string_value(json_object_get(d, "address")),
             json_string_value(json_object_get(d, "why")));
  }
  json_decref(r);
}

int cli_cmd_drift(int argc, char **argv)
{
  struct cli cli;
  struct cli_stack cs;
  drover_drift_opts o = DROVER_DRIFT_OPTS_INIT;
  drover_error err;
  drover_code rc;
  char *text = NULL;
  int ret, i, n = 1;

  if(argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
     strcmp(argv[1], "run")) {
    if(argc >= 2 && strcmp(argv[1], "--help") && strcmp(argv[1], "-h"))
      cli_errorf("drift: unknown action '%s' (run)", argv[1]);
    fputs(usage, argc == 2 && argv[1][0] == '-' ? stdout : stderr);
    return argc == 2 && argv[1][0] == '-' ? CLI_EXIT_OK : CLI_EXIT_ERROR;
  }
  argv[1] = (char *)"drift run";
  argv++;
  argc--;
  for(i = 1; i < argc; i++)
    if(!strcmp(argv[i], "--no-repair"))
      o.no_repair = 1;
    else
      argv[n++] = argv[i];
  argv[n] = NULL;
  argc = n;
  memset(&cs, 0, sizeof(cs));
  drover_error_clear(&err);
  ret = cli_parse(&cli, argc, argv, CLI_OPT_LOCK, usage, 2);
  if(ret >= 0)
    return ret;
  if(!cli.template_path || !cli.output_name) {
    cli_errorf("drift run: needs a template and a policy name");
    return CLI_EXIT_ERROR;
  }
  o.lock_timeout = cli.lock_timeout;
  ret = cli_stack_open(&cs, &cli);
  if(ret)
    goto out;
  rc = drover_drift_run(&text, cs.stack, cli.output_name, &o, &err);
  if(text)
    print_report(text, &cli);
  if(rc) {
    if(!err.code)
      err.code = rc;
    ret = cli_fail(&err);
  }
out:
  free(text);
  cli_stack_close(&cs);
  return ret;
}
