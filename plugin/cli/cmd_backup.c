/* cmd_backup.c - drover backup run|prune|list and drover restore: thin
 * shells over drover_backup_* (drover.h) that print the engine's JSON
 * report as a table, or as is with --json. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"

static const char backup_usage[] =
  "Usage: drover backup run   [options] [-t] TEMPLATE POLICY\n"
  "       drover backup prune [options] [-t] TEMPLATE POLICY [--dry-run]\n"
  "       drover backup list  [options] [-t] TEMPLATE [POLICY]\n"
  "       drover backup verify [options] [-t] TEMPLATE POLICY\n"
  "\n"
  "run    takes this schedule slot's snapshot of each target of the\n"
  "       backup.policy POLICY, running its pre and post hooks inside the\n"
  "       instance; a snapshot already taken for the slot is kept, never\n"
  "       duplicated. Snapshots are named drover-<key>-<YYYYMMDDTHHMMZ>.\n"
  "prune  applies the policy's retention to the snapshots it made (never to\n"
  "       others); --dry-run lists each as kept (and by which rule) or not.\n"
  "list   lists the policy's snapshots (without POLICY: every policy's).\n"
  "verify a DR drill: copies each target's newest snapshot into a scratch\n"
  "       instance, runs the policy's hooks.check command in it, deletes it.\n"
  "       A policy with an export drills the newest export instead: download,\n"
  "       checksum, import (--project P / --remote FILE: elsewhere), check.\n"
  "\n"
  "With an export (\"export\": \"s3://bucket/prefix\"), run also exports each\n"
  "snapshot to S3 with its SHA-256; list and prune cover the exports too.\n"
  "\n"
  "Options:\n"
  "  -t, --template FILE, --var, --var-file, --stack, --provider-config\n"
  "      --dry-run               prune: report only\n"
  "      --project P, --remote FILE  verify: where the scratch instance goes\n"
  "      --now TIME              the time to act at (Unix seconds or\n"
  "                              YYYY-MM-DDTHH:MM:SSZ; default: now)\n"
  "      --lock-timeout SECONDS  wait for the stack lock\n"
  "      --json                  the report as JSON\n"
  "  -v, --verbose / --quiet / --no-color / --log-json\n"
  "\n"
  "Exit status: 0 success, 1 error (also when some targets failed: the\n"
  "report says which), 3 stack locked.\n";

static const char restore_usage[] =
  "Usage: drover restore [options] [-t] TEMPLATE INSTANCE --snapshot NAME [--force]\n"
  "       drover restore [options] [-t] TEMPLATE INSTANCE --from-export POLICY\n"
  "                      [--snapshot NAME] [--name NEW] [--project P] [--remote FILE]\n"
  "                      [--force]\n"
  "\n"
  "Restores the instance resource INSTANCE (an address such as db or web[0])\n"
  "in place from snapshot NAME (see drover backup list). A running instance\n"
  "is refused unless --force is given. INSTANCE may also be a volume a policy\n"
  "backs up (aws.volume: a new volume from the snapshot takes its place); one\n"
  "attached to a running instance is refused unless --force is given.\n"
  "\n"
  "With --from-export, creates the instance from POLICY's export (the newest,\n"
  "or the one of slot snapshot NAME), after checking its SHA-256: a corrupt\n"
  "export is refused and nothing is created. INSTANCE is the exported\n"
  "instance's address or name. Under its own name in the stack's project it\n"
  "becomes the stack's resource again; with --name, --project or --remote it\n"
  "is a copy no stack owns. An existing instance is replaced only with --force.\n"
  "\n"
  "Options:\n"
  "  -t, --template FILE, --var, --var-file, --stack, --provider-config\n"
  "      --snapshot NAME         the snapshot (or export slot) to restore\n"
  "      --from-export POLICY    restore from the policy's export in S3\n"
  "      --name NEW              the restored instance's name\n"
  "      --project P             the LXD project to restore into\n"
  "      --remote FILE           another LXD server: a JSON object of\n"
  "                              providers.lxd settings (url, client_cert, ...)\n"
  "      --force                 restore over a running (or existing) instance\n"
  "      --lock-timeout SECONDS  wait for the stack lock\n"
  "      --json                  the result as JSON\n"
  "\n"
  "Exit status: 0 restored, 1 error, 3 stack locked.\n";

/* Options only these commands take, removed from argv before the common
 * parser sees it. */
struct own {
  int dry_run, force;
  const char *snapshot, *now, *from_export, *name, *project, *remote;
};

/* "--opt" or "--opt=VALUE" matches opt. */
static int is_opt(const char *a, const char *opt)
{
  size_t n = strlen(opt);
  return !strncmp(a, opt, n) && (!a[n] || a[n] == '=');
}

/* Takes our options out of argv (in place); returns the new argc, or -1
 * after printing a usage error. */
static int take_own(int argc, char **argv, struct own *o)
{
  int i, n = 0;

  memset(o, 0, sizeof(*o));
  for(i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char **slot = is_opt(a, "--snapshot") ? &o->snapshot
                        : is_opt(a, "--now") ? &o->now
                        : is_opt(a, "--from-export") ? &o->from_export
                        : is_opt(a, "--name") ? &o->name
                        : is_opt(a, "--project") ? &o->project
                        : is_opt(a, "--remote") ? &o->remote : NULL;
    if(i > 0 && !strcmp(a, "--dry-run"))
      o->dry_run = 1;
    else if(i > 0 && !strcmp(a, "--force"))
      o->force = 1;
    else if(i > 0 && slot) {
      const char *eq = strchr(a, '=');
      if(eq)
        *slot = eq + 1;
      else if(i + 1 < argc)
        *slot = argv[++i];
      else {
        cli_errorf("%s: %s needs a value", argv[0], a);
        return -1;
      }
    }
    else
      argv[n++] = argv[i];
  }
  argv[n] = NULL;
  return n;
}

static const char *field(json_t *o, const char *key)
{
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "-";
}

/* Prints the report's array `member` as columns cols (headers heads). */
static void table(json_t *report, const char *member, const char *const *cols,
                  const char *const *heads, size_t nc, const struct cli *cli)
{
  json_t *arr = json_object_get(report, member), *o;
  size_t w[8], i, c;

  for(c = 0; c < nc; c++)
    w[c] = strlen(heads[c]);
  json_array_foreach(arr, i, o)
    for(c = 0; c < nc; c++)
      if(strlen(field(o, cols[c])) > w[c])
        w[c] = strlen(field(o, cols[c]));
  fputs(cli_c(cli->color, CLI_BOLD), stdout);
  for(c = 0; c < nc; c++)
    printf("%-*s%s", c + 1 < nc ? (int)w[c] : 0, heads[c], c + 1 < nc ? "  " : "");
  printf("%s\n", cli_c(cli->color, CLI_RESET));
  json_array_foreach(arr, i, o) {
    for(c = 0; c < nc; c++)
      printf("%-*s%s", c + 1 < nc ? (int)w[c] : 0, field(o, cols[c]), c + 1 < nc ? "  " : "");
    putchar('\n');
    if(json_object_get(o, "error"))
      printf("  %s\n", field(o, "error"));
  }
}

static void print_report(const char *verb, const char *text, const struct cli *cli)
{
  json_t *r;

  if(cli->json) {
    printf("%s\n", text);
    return;
  }
  r = json_loads(text, 0, NULL);
  if(!r)
    return;
  if(!strcmp(verb, "run")) {
    static const char *const cols[] = {"address", "instance", "result"};
    static const char *const heads[] = {"ADDRESS", "INSTANCE", "RESULT"};
    printf("Policy %s, slot %s, snapshot %s\n", field(r, "policy"), field(r, "slot"),
           field(r, "snapshot"));
    json_t *t;
    size_t i;
    table(r, "targets", cols, heads, 3, cli);
    json_array_foreach(json_object_get(r, "targets"), i, t) {
      json_t *x = json_object_get(t, "export");
      if(x)
        printf("export of %s: %s %s%s%s\n", field(t, "instance"), field(x, "result"),
               field(x, "object"), json_object_get(x, "error") ? ": " : "",
               json_object_get(x, "error") ? field(x, "error") : "");
    }
  }
  else if(!strcmp(verb, "prune")) {
    static const char *const cols[] = {"instance", "snapshot", "slot", "action", "kept_by"};
    static const char *const heads[] = {"INSTANCE", "SNAPSHOT", "SLOT", "ACTION", "KEPT BY"};
    static const char *const xheads[] = {"INSTANCE", "EXPORT", "SLOT", "ACTION", "KEPT BY"};
    table(r, "snapshots", cols, heads, 5, cli);
    if(json_object_get(r, "exports")) {
      putchar('\n');
      table(r, "exports", cols, xheads, 5, cli);
    }
  }
  else if(!strcmp(verb, "verify")) {
    static const char *const cols[] = {"address", "snapshot", "result"};
    static const char *const heads[] = {"ADDRESS", "SNAPSHOT", "RESULT"};
    static const char *const xcols[] = {"address", "export", "checksum", "result"};
    static const char *const xheads[] = {"ADDRESS", "EXPORT", "CHECKSUM", "RESULT"};
    if(!strcmp(field(r, "source"), "export"))
      table(r, "targets", xcols, xheads, 4, cli);
    else
      table(r, "targets", cols, heads, 3, cli);
  }
  else if(!strcmp(verb, "list")) {
    static const char *const cols[] = {"policy", "instance", "snapshot", "slot", "created"};
    static const char *const heads[] = {"POLICY", "INSTANCE", "SNAPSHOT", "SLOT", "CREATED"};
    static const char *const xcols[] = {"policy", "instance", "snapshot", "state", "object"};
    static const char *const xheads[] = {"POLICY", "INSTANCE", "EXPORT", "STATE", "OBJECT"};
    int one = !!json_object_get(r, "policy");
    table(r, "snapshots", cols + one, heads + one, 5 - one, cli);
    if(json_object_get(r, "exports")) {
      putchar('\n');
      table(r, "exports", xcols + one, xheads + one, 5 - one, cli);
    }
  }
  else if(json_object_get(r, "export"))
    printf("Restored %s as %s from export %s (sha256 %s verified)\n", field(r, "address"),
           field(r, "instance"), field(r, "export"), field(r, "sha256"));
  else
    printf("Restored %s (%s) from %s\n", field(r, "address"), field(r, "instance"),
           field(r, "snapshot"));
  json_decref(r);
}

/* verb: run, prune, list or restore. argv[0] is the command's name. */
static int run_verb(const char *verb, int argc, char **argv, const char *usage)
{
  struct cli cli;
  struct cli_stack cs;
  struct own own;
  drover_backup_opts bo = DROVER_BACKUP_OPTS_INIT;
  drover_error err;
  drover_code rc = DROVER_OK;
  char *text = NULL;
  int ret;

  memset(&cs, 0, sizeof(cs));
  drover_error_clear(&err);
  argc = take_own(argc, argv, &own);
  if(argc < 0)
    return CLI_EXIT_ERROR;
  ret = cli_parse(&cli, argc, argv, CLI_OPT_LOCK, usage, 2);
  if(ret >= 0)
    return ret;
  if(!cli.template_path || (!cli.output_name && strcmp(verb, "list"))) {
    cli_errorf("%s: needs a template and %s", cli.cmd,
               strcmp(verb, "restore") ? "a policy name" : "an instance");
    return CLI_EXIT_ERROR;
  }
  if(!strcmp(verb, "restore") && !own.snapshot && !own.from_export) {
    cli_errorf("restore: which snapshot? (--snapshot NAME, or --from-export POLICY; see "
               "drover backup list)");
    return CLI_EXIT_ERROR;
  }
  if(((own.from_export || own.name) && strcmp(verb, "restore")) ||
     ((own.project || own.remote) && strcmp(verb, "restore") && strcmp(verb, "verify"))) {
    cli_errorf("%s: --from-export, --name, --project and --remote do not apply here", cli.cmd);
    return CLI_EXIT_ERROR;
  }
  if(!strcmp(verb, "restore") && !own.from_export && (own.name || own.project || own.remote)) {
    cli_errorf("restore: --name, --project and --remote need --from-export (a snapshot "
               "restores in place)");
    return CLI_EXIT_ERROR;
  }
  if((own.dry_run && strcmp(verb, "prune")) || (own.force && strcmp(verb, "restore"))) {
    cli_errorf("%s: %s does not apply here", cli.cmd, own.dry_run ? "--dry-run" : "--force");
    return CLI_EXIT_ERROR;
  }
  if(own.now && (bo.now = cli_parse_time(own.now)) < 0) {
    cli_errorf("%s: --now '%s' is neither Unix seconds nor YYYY-MM-DDTHH:MM:SSZ", cli.cmd,
               own.now);
    return CLI_EXIT_ERROR;
  }
  bo.dry_run = own.dry_run;
  bo.force = own.force;
  bo.from_export = own.from_export;
  bo.new_name = own.name;
  bo.project = own.project;
  bo.remote = own.remote;
  ret = cli_stack_open(&cs, &cli);
  if(ret)
    goto out;
  if(!own.dry_run && strcmp(verb, "list"))
    rc = drover_stack_lock(cs.stack, cli.lock_timeout, &err);
  if(!rc) {
    if(!strcmp(verb, "run"))
      rc = drover_backup_run(&text, cs.stack, cli.output_name, &bo, &err);
    else if(!strcmp(verb, "prune"))
      rc = drover_backup_prune(&text, cs.stack, cli.output_name, &bo, &err);
    else if(!strcmp(verb, "list"))
      rc = drover_backup_list(&text, cs.stack, cli.output_name, &err);
    else if(!strcmp(verb, "verify"))
      rc = drover_backup_verify(&text, cs.stack, cli.output_name, &bo, &err);
    else
      rc = drover_backup_restore(&text, cs.stack, cli.output_name, own.snapshot, &bo, &err);
  }
  if(text)
    print_report(verb, text, &cli);
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

int cli_cmd_backup(int argc, char **argv)
{
  static const char *const verbs[] = {"run", "prune", "list", "verify"};
  char name[32];
  size_t i;

  if(argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fputs(backup_usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
  }
  for(i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
    if(strcmp(argv[1], verbs[i]))
      continue;
    snprintf(name, sizeof(name), "backup %s", verbs[i]);
    argv[1] = name;
    return run_verb(verbs[i], argc - 1, argv + 1, backup_usage);
  }
  cli_errorf("backup: unknown action '%s' (run, prune, list, verify)", argv[1]);
  return CLI_EXIT_ERROR;
}

int cli_cmd_restore(int argc, char **argv)
{
  return run_verb("restore", argc, argv, restore_usage);
}
