/* main.c - the drover command: subcommand dispatch, help and version.
 *
 * Every subcommand lives in its own cmd_*.c and runs the same engine
 * pipeline through drover.h; this file only picks one.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"

#ifdef HAVE_SLURM
/* plugin/cli/gc.c: removes stacks of finished Slurm jobs. */
int drover_cli_gc(int argc, char **argv);
/* plugin/cli/slurm_cmd.c: elastic cloud nodes (power-save programs). */
int drover_cli_slurm(int argc, char **argv);
int drover_cli_slurm_as(const char *prog, int argc, char **argv);
#endif

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

struct subcommand {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
};

static const struct subcommand commands[] = {
  {"validate", cli_cmd_validate, "check a template and its vars (no cloud)"},
  {"plan", cli_cmd_plan, "show what apply would change"},
  {"apply", cli_cmd_apply, "make the cloud match a template or a saved plan"},
  {"destroy", cli_cmd_destroy, "delete everything a stack owns"},
  {"show", cli_cmd_show, "list the stack's live resources"},
  {"output", cli_cmd_output, "print the stack's outputs"},
  {"graph", cli_cmd_graph, "print the dependency graph as Graphviz DOT"},
  {"backup", cli_cmd_backup, "run, prune or list a backup policy's snapshots"},
  {"restore", cli_cmd_restore, "restore an instance in place from a snapshot"},
  {"drift", cli_cmd_drift, "plan a drift policy's stacks, report and repair drift"},
  {"schedule", cli_cmd_schedule, "run policies on their schedule as Slurm jobs or from cron"},
  {"scale", cli_cmd_scale, "run a scale policy: decide the count and apply it"},
#ifdef DROVER_WITH_S3
  {"s3", cli_cmd_s3, "S3 transfers: ls, cp, rm, presign"},
#endif
#ifdef HAVE_SLURM
  {"gc", drover_cli_gc, "delete stacks left behind by finished Slurm jobs"},
  {"slurm", drover_cli_slurm, "Slurm cloud nodes: resume, suspend, resume-fail, reconcile"},
#endif
  {"version", cmd_version, "print the version"},
  {"help", cmd_help, "show help for drover or a subcommand"},
  {NULL, NULL, NULL}
};

static void usage(FILE *f)
{
  size_t i;

  fputs("Usage: drover <command> [options] [TEMPLATE]\n"
        "\n"
        "Commands:\n", f);
  for(i = 0; commands[i].name; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fputs("\n"
        "Common options:\n"
        "  -t, --template FILE        the template (or give the path as an argument)\n"
        "      --var NAME=VALUE       set a param (repeatable)\n"
        "      --var-file FILE        params from a JSON object (repeatable)\n"
        "      --stack NAME           override the template's stack name\n"
        "      --provider-config FILE provider settings merged over the template's\n"
        "      --json                 machine-readable output on stdout\n"
        "      --no-color             no colours (also: NO_COLOR set)\n"
        "  -v, --verbose              debug logging\n"
        "      --quiet                errors only\n"
        "      --log-json             log as JSON lines on stderr\n"
        "  -h, --help                 help for a command\n"
        "\n"
        "Exit codes: 0 success, 1 error, 2 changes present (plan --detailed-exitcode),\n"
        "3 stack locked, 130 interrupted. See drover(1).\n", f);
}

static int cmd_version(int argc, char **argv)
{
  (void)argv;
  if(argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    fputs("Usage: drover version [--json]\n", stdout);
    return CLI_EXIT_OK;
  }
  if(argc > 1 && !strcmp(argv[1], "--json"))
    printf("{\"version\":\"%s\",\"jansson\":\"%s\"}\n", DROVER_VERSION, JANSSON_VERSION);
  else
    printf("drover %s\n", DROVER_VERSION);
  return CLI_EXIT_OK;
}

static const struct subcommand *find(const char *name)
{
  size_t i;

  for(i = 0; commands[i].name; i++)
    if(!strcmp(commands[i].name, name))
      return &commands[i];
  return NULL;
}

static int cmd_help(int argc, char **argv)
{
  const struct subcommand *sc;
  char *sub_argv[3];

  if(argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(stdout);
    return CLI_EXIT_OK;
  }
  sc = find(argv[1]);
  if(!sc || sc->run == cmd_help) {
    if(!sc)
      cli_errorf("help: no such command '%s'", argv[1]);
    usage(sc ? stdout : stderr);
    return sc ? CLI_EXIT_OK : CLI_EXIT_ERROR;
  }
  sub_argv[0] = argv[1];
  sub_argv[1] = (char *)"--help";
  sub_argv[2] = NULL;
  return sc->run(2, sub_argv);
}

int main(int argc, char **argv)
{
  const struct subcommand *sc;
  drover_code rc;
  int ret;

  rc = drover_global_init();
  if(rc) {
    fprintf(stderr, "drover: initialisation failed: %s\n", drover_strerror(rc));
    return CLI_EXIT_ERROR;
  }
  /* Provider modules outside $(pkglibdir)/providers: a colon-separated
   * list of absolute directories, searched first. */
  if(getenv("DROVER_PROVIDER_PATH")) {
    char *list = strdup(getenv("DROVER_PROVIDER_PATH")), *save = NULL, *d;
    drover_error err;
    drover_error_clear(&err);
    if(!list) {
      fprintf(stderr, "drover: out of memory\n");
      ret = CLI_EXIT_ERROR;
      goto out;
    }
    for(d = strtok_r(list, ":", &save); d && !err.code;
        d = strtok_r(NULL, ":", &save))
      drover_provider_dir_add(d, &err);
    free(list);
    if(err.code) {
      fprintf(stderr, "drover: DROVER_PROVIDER_PATH: %s\n", err.text);
      ret = CLI_EXIT_ERROR;
      goto out;
    }
  }
#ifdef HAVE_SLURM
  /* slurm.conf runs the power-save programs through symlinks named
   * drover-slurm-resume etc., with the hostlist as the only argument. */
  if(argc > 0 && argv[0]) {
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    if(!strncmp(base, "drover-slurm-", 13)) {
      ret = drover_cli_slurm_as(base, argc, argv);
      if(ret >= 0)
        goto out;
    }
  }
#endif
  if(argc < 2) {
    usage(stderr);
    ret = CLI_EXIT_ERROR;
    goto out;
  }
  if(!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(stdout);
    ret = CLI_EXIT_OK;
    goto out;
  }
  if(!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
    ret = cmd_version(1, argv + 1);
    goto out;
  }
  sc = find(argv[1]);
  if(!sc) {
    fprintf(stderr, "drover: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    ret = CLI_EXIT_ERROR;
    goto out;
  }
  ret = sc->run(argc - 1, argv + 1);
out:
  if(fflush(stdout) && !ret) {
    perror("drover: stdout");
    ret = CLI_EXIT_ERROR;
  }
  drover_global_cleanup();
  return ret;
}
