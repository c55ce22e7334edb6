/*
 * cli.h - internals shared by the drover command's files (not installed).
 *
 * The command is a thin shell over the public API in drover.h: it parses
 * options, loads the template and vars, opens the stack and hands the
 * pipeline's results to the terminal. It never includes engine.h.
 * Cross-file names use the cli_ prefix.
 */
#ifndef DROVER_CLI_H
#define DROVER_CLI_H

#include <stdio.h>
#include "drover.h"

/* Exit codes, documented in doc/drover.1. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_ERROR 1
#define CLI_EXIT_CHANGES 2     /* plan --detailed-exitcode only */
#define CLI_EXIT_LOCKED 3
#define CLI_EXIT_INTERRUPTED 130

/* Which options a subcommand accepts, beyond the common ones. */
#define CLI_OPT_PLANFILE 0x001u   /* -o/--out FILE */
#define CLI_OPT_DETAILED 0x002u   /* --detailed-exitcode */
#define CLI_OPT_YES 0x004u        /* -y/--yes */
#define CLI_OPT_PARALLEL 0x008u   /* --parallelism N */
#define CLI_OPT_REVEAL 0x010u     /* --reveal */
#define CLI_OPT_GRAPHPLAN 0x020u  /* --plan (graph) */
#define CLI_OPT_LOCK 0x040u       /* --lock-timeout */
#define CLI_OPT_DESTROY 0x080u    /* --destroy (plan) */
#define CLI_OPT_RETRIES 0x100u    /* --max-retries, --op-timeout */

#define CLI_MAX_VARS 256

/* Everything the command line said; strings borrowed from argv. */
struct cli {
  const char *cmd;              /* subcommand name */
  const char *template_path;    /* -t or the positional path */
  int path_from_t;              /* template_path came from -t/--template */
  const char *vars[CLI_MAX_VARS]; /* --var k=v in order */
  size_t nvars;
  const char *var_files[CLI_MAX_VARS];
  size_t nvar_files;
  const char *stack_name;       /* --stack */
  const char *provider_config;  /* --provider-config */
  const char *out_path;         /* -o */
  const char *plan_path;        /* apply: a saved plan */
  const char *output_name;      /* output NAME */
  int json;
  int color;                    /* resolved: stdout is a TTY, no NO_COLOR, no --no-color */
  int no_color;
  int verbose;
  int quiet;
  int log_json;
  int yes;
  int detailed;
  int reveal;
  int graph_plan;
  int destroy;
  unsigned parallelism;
  unsigned max_retries;
  double op_timeout;
  double lock_timeout;
  unsigned accepts;             /* CLI_OPT_* for this subcommand */
};

/* A loaded template with vars bound: what most subcommands start from. */
struct cli_stack {
  drover_template *tpl;
  drover_vars *vars;
  drover_stack *stack;
  drover_options opts;
};

/* ---- args.c ---- */

/* The help lines of the template options cli_parse takes, one text for
 * every command's usage. */
#define CLI_HELP_VARS \
  "      --var NAME=VALUE        set a param (repeatable)\n" \
  "      --var-file FILE         params from a JSON object (repeatable)\n"
#define CLI_HELP_TEMPLATE "  -t, --template FILE         the template\n" CLI_HELP_VARS

/* Parses argv (argv[0] is the subcommand) into cli. usage is the
 * subcommand's help text, printed for --help. Returns -1 to go on, or an
 * exit code (0 after --help, 1 on a usage error). */
int cli_parse(struct cli *cli, int argc, char **argv, unsigned accepts,
              const char *usage, int max_positional);

/* Fills opts from cli (log sink, level, stack name, provider config). */
void cli_options(drover_options *opts, const struct cli *cli);

/* Loads the template and vars and opens the stack. On failure prints the
 * error and returns the exit code; 0 on success. cs is released with
 * cli_stack_close() either way. */
int cli_stack_open(struct cli_stack *cs, const struct cli *cli);

/* Opens the stack named by --stack with no template (bare): providers
 * from --provider-config, else {"lxd":{}}. Returns an exit code. */
int cli_stack_open_bare(struct cli_stack *cs, const struct cli *cli);
void cli_stack_close(struct cli_stack *cs);

/* What cli_stack_fetch() fetches. */
enum cli_fetch {
  CLI_FETCH_SHOW,   /* drover_stack_show_json(): the live resources */
  CLI_FETCH_OUTPUTS /* drover_stack_outputs_json(), values per --reveal */
};
/* show and output: opens the stack (bare, as cli_stack_open_bare(), when
 * allow_bare and only --stack names it), refreshes it and fetches what as
 * JSON text into *text (caller frees). On failure prints the error and
 * returns the exit code, *text NULL; 0 on success. cs is released with
 * cli_stack_close() either way. */
int cli_stack_fetch(char **text, struct cli_stack *cs, const struct cli *cli,
                    int allow_bare, enum cli_fetch what);

/* Unix seconds from "1774850400" or "2026-03-30T06:00:00Z"; -1 when
 * malformed. */
long long cli_parse_time(const char *s);
/* The time a policy command acts at: opt (--now), else $DROVER_NOW, else
 * 0 (the clock). -1 after printing an error naming cmd. */
long long cli_now(const char *opt, const char *cmd);

/* Reads a whole file; caller frees. NULL with errno set on failure. */
char *cli_read_file(const char *path, size_t *len);

/* ---- ui.c ---- */

/* Turns colour on only for a terminal, without NO_COLOR or --no-color. */
int cli_want_color(FILE *f, int no_color);

/* The log sink: "drover: warning: ..." lines or JSON lines on stderr.
 * Thread safe; clears a live progress line first. */
void cli_log(void *userdata, drover_log_level level, const char *msg);

/* --log-json: cli_errorf and cli_fail write JSON log lines too. */
void cli_set_log_json(int on);

/* Prints err as one line on stderr ("drover: file:line:col: text") and
 * returns the exit code it maps to. */
int cli_fail(const drover_error *err);
/* Prints "drover: <formatted message>" on stderr. */
void cli_errorf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Exit code for a drover_code (3 locked, 130 cancelled, else 1). */
int cli_exit_code(drover_code code);

/* Asks question on f (the terminal); 1 for yes. Only call when stdin is a
 * TTY. */
int cli_confirm(FILE *f, const char *question);

/* SIGINT/SIGTERM set *cli_cancel_flag(); a second signal exits at once. */
void cli_signals_install(void);
volatile int *cli_cancel_flag(void);
int cli_cancelled(void);

/* Apply progress. out is where plain lines go (stdout, or stderr when
 * stdout carries JSON); tty selects the live display. */
struct cli_progress;
struct cli_progress *cli_progress_new(FILE *out, int tty, int color, int quiet);
void cli_progress_free(struct cli_progress *p);
void cli_progress_event(void *userdata, const drover_event *ev);
/* Erases the live line (before printing the summary). */
void cli_progress_finish(struct cli_progress *p);
/* Sets the live line to text of the caller's own (a transfer's bytes)
 * instead of the apply display; nothing unless p draws on a terminal. */
void cli_progress_text(struct cli_progress *p, const char *text);

/* Colours, or "" when off. */
const char *cli_c(int color, const char *code);
#define CLI_RED "\033[31m"
#define CLI_GREEN "\033[32m"
#define CLI_YELLOW "\033[33m"
#define CLI_BOLD "\033[1m"
#define CLI_RESET "\033[0m"

/* ---- subcommands ---- */
/* cmd_s3.c (S3 provider built in only) */
int cli_cmd_s3(int argc, char **argv);
int cli_cmd_validate(int argc, char **argv);
int cli_cmd_plan(int argc, char **argv);
int cli_cmd_apply(int argc, char **argv);
int cli_cmd_destroy(int argc, char **argv);
int cli_cmd_show(int argc, char **argv);
int cli_cmd_output(int argc, char **argv);
int cli_cmd_graph(int argc, char **argv);
int cli_cmd_backup(int argc, char **argv);
int cli_cmd_restore(int argc, char **argv);
/* cmd_drift.c, cmd_schedule.c */
int cli_cmd_drift(int argc, char **argv);
int cli_cmd_schedule(int argc, char **argv);
int cli_cmd_scale(int argc, char **argv);
/* cmd_scale.c: the options drover plan passes to drover_scale_asks()
 * (the queue reader when built with libslurm, the time from DROVER_NOW). */
void cli_scale_opts(drover_scale_opts *o);
/* "scale.policy P asks T count N (rule R)" lines for a plan; asks_json is
 * drover_scale_asks()'s array text. */
void cli_scale_print_asks(FILE *f, const char *asks_json);
#ifdef HAVE_SLURM
/* slurm_queue.c: pending jobs of a partition (drover_pending_fn). */
drover_code cli_slurm_pending(void *userdata, const char *partition, long *pending,
                              drover_error *err);
#endif
/* cmd_lock.c */
int cli_cmd_force_unlock(int argc, char **argv);

/* Shared by plan, apply and destroy: lock, refresh, plan. On failure
 * prints the error and returns an exit code; 0 with *plan set. */
int cli_make_plan(drover_plan **plan, struct cli_stack *cs, const struct cli *cli,
                  unsigned flags);
/* Renders a plan for a human on stdout (diff and "Plan: ..." summary),
 * unless --quiet. */
void cli_plan_show(const drover_plan *plan, const struct cli *cli);

/* cmd_output.c: prints outputs (a drover_stack_outputs_json object text)
 * as "name = value" lines; sensitive ones without a value as (sensitive). */
int cli_outputs_print(FILE *f, const char *outputs_json, const char *heading);

#endif /* DROVER_CLI_H */
