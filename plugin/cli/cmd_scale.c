/* cmd_scale.c - drover scale run: a thin shell over drover_scale_run()
 * (drover.h) that prints the decision as a sentence, or the engine's JSON
 * report with --json (the stable form scheduled jobs read; doc/scale.md).
 * Also the "asks" lines drover plan prints. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static const char scale_usage[] =
  "Usage: drover scale run [options] [-t] TEMPLATE POLICY [--dry-run] [--now TIME]\n"
  "\n"
  "Decides the count the scale.policy POLICY asks for now (its schedule\n"
  "windows, queue rule, min, max and cooldown), says which rule decided it,\n"
  "and when it differs from the live count applies the stack with the\n"
  "target's count overridden (the normal plan/apply pipeline; the template\n"
  "is not changed). The decision and its time are kept as a label on the\n"
  "policy's own cloud object.\n"
  "\n"
  "Options:\n"
  "  -t, --template FILE, --var, --var-file, --stack, --provider-config\n"
  "      --dry-run               decide and report only\n"
  "      --now TIME              the time to decide at (Unix seconds or\n"
  "                              YYYY-MM-DDTHH:MM:SSZ; default $DROVER_NOW, else now)\n"
  "      --parallelism N, --max-retries N, --op-timeout SECONDS\n"
  "      --lock-timeout SECONDS  wait for the stack lock\n"
  "      --json                  the report as JSON (fields: doc/scale.md)\n"
  "  -v, --verbose / --quiet / --no-color / --log-json\n"
  "\n"
  "Exit status: 0 success (also when nothing changed or a cooldown held the\n"
  "change), 1 error (the JSON report then says \"ok\": false), 3 stack locked.\n";

void cli_scale_opts(drover_scale_opts *o)
{
  static const drover_scale_opts init = DROVER_SCALE_OPTS_INIT;

  *o = init;
#ifdef HAVE_SLURM
  o->pending = cli_slurm_pending;
#endif
}

static const char *str(const json_t *o, const char *key)
{
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "-";
}

void cli_scale_print_asks(FILE *f, const char *asks_json)
{
  json_t *arr = json_loads(asks_json, 0, NULL), *a;
  size_t i;

  json_array_foreach(arr, i, a) {
    fprintf(f, "scale.policy %s asks %s count %" JSON_INTEGER_FORMAT " (rule %s; live %"
            JSON_INTEGER_FORMAT ")\n", str(a, "policy"), str(a, "target"),
            json_integer_value(json_object_get(a, "desired")), str(a, "rule"),
            json_integer_value(json_object_get(a, "current")));
    if(json_object_get(a, "queue_error"))
      fprintf(f, "  (%s)\n", str(a, "queue_error"));
  }
  json_decref(arr);
}

static void print_human(const char *text)
{
  json_t *r = json_loads(text, 0, NULL);
  json_int_t cur, want;

  if(!r)
    return;
  cur = json_integer_value(json_object_get(r, "current"));
  want = json_integer_value(json_object_get(r, "desired"));
  printf("scale.policy %s: %s count %" JSON_INTEGER_FORMAT " -> %" JSON_INTEGER_FORMAT
         " (rule %s)\n", str(r, "policy"), str(r, "target"), cur, want, str(r, "rule"));
  printf("  why: %s\n", str(r, "reason"));
  if(json_is_true(json_object_get(r, "applied")))
    printf("  applied at %s\n", str(r, "decided_at"));
  else if(json_is_true(json_object_get(r, "dry_run")))
    printf("  dry run: nothing applied or recorded\n");
  else if(json_is_true(json_object_get(r, "held")))
    printf("  held: cooldown until %s\n", str(r, "cooldown_until"));
  else if(cur == want)
    printf("  nothing to change\n");
  json_decref(r);
}

/* A report for a failure before the engine could make one, so --json
 * readers always get an object with ok and error. Caller frees. */
static char *error_report(const char *policy, const char *stack, const drover_error *err)
{
  char buf[DROVER_ERROR_TEXT + 300];
  json_t *r = json_pack("{s:s?, s:s?, s:b, s:b, s:s}", "policy", policy, "stack", stack,
                        "ok", 0, "applied", 0, "error",
                        drover_error_format(err, buf, sizeof(buf)));
  char *text = r ? json_dumps(r, JSON_SORT_KEYS | JSON_INDENT(2)) : NULL;

  json_decref(r);
  return text;
}

static int scale_run(int argc, char **argv)
{
  struct cli cli;
  struct cli_stack cs;
  drover_scale_opts so;
  drover_apply_opts ao = DROVER_APPLY_OPTS_INIT;
  drover_error err;
  drover_code rc = DROVER_OK;
  const char *now = NULL;
  char *text = NULL;
  int i, n = 0, dry = 0, ret;

  memset(&cs, 0, sizeof(cs));
  drover_error_clear(&err);
  /* Our own options out of argv before the common parser sees it. */
  for(i = 0; i < argc; i++) {
    if(i > 0 && !strcmp(argv[i], "--dry-run"))
      dry = 1;
    else if(i > 0 && !strncmp(argv[i], "--now=", 6))
      now = argv[i] + 6;
    else if(i > 0 && !strcmp(argv[i], "--now")) {
      if(i + 1 >= argc) {
        cli_errorf("%s: --now needs a value", argv[0]);
        return CLI_EXIT_ERROR;
      }
      now = argv[++i];
    }
    else
      argv[n++] = argv[i];
  }
  argv[n] = NULL;
  ret = cli_parse(&cli, n, argv, CLI_OPT_LOCK | CLI_OPT_PARALLEL | CLI_OPT_RETRIES,
                  scale_usage, 2);
  if(ret >= 0)
    return ret;
  if(!cli.template_path || !cli.output_name) {
    cli_errorf("%s: needs a template and a policy name", cli.cmd);
    return CLI_EXIT_ERROR;
  }
  cli_scale_opts(&so);
  so.now = cli_now(now, cli.cmd);
  if(so.now < 0)
    return CLI_EXIT_ERROR;
  so.dry_run = dry;
  so.lock_wait = cli.lock_timeout;
  ao.parallelism = cli.parallelism;
  ao.max_retries = cli.max_retries;
  ao.op_timeout = cli.op_timeout;
  ao.cancel = cli_cancel_flag();
  so.apply = &ao;
  cli_signals_install();
  ret = cli_stack_open(&cs, &cli);
  if(ret) {
    if(cli.json) {
      err.code = DROVER_E_TEMPLATE;
      snprintf(err.text, sizeof(err.text), "cannot open the stack (see stderr)");
      text = error_report(cli.output_name, NULL, &err);
      if(text)
        printf("%s\n", text);
    }
    goto out;
  }
  rc = drover_scale_run(&text, cs.stack, cli.output_name, &so, &err);
  if(!text && cli.json)
    text = error_report(cli.output_name, drover_stack_name(cs.stack), &err);
  if(text && cli.json)
    printf("%s\n", text);
  else if(text && !cli.quiet)
    print_human(text);
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

int cli_cmd_scale(int argc, char **argv)
{
  char name[] = "scale run";

  if(argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fputs(scale_usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
  }
  if(strcmp(argv[1], "run")) {
    cli_errorf("scale: unknown action '%s' (run)", argv[1]);
    return CLI_EXIT_ERROR;
  }
  argv[1] = name;
  return scale_run(argc - 1, argv + 1);
}
