/* args.c - option parsing and stack setup shared by the subcommands. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"

enum {
  OPT_VAR = 256,
  OPT_VAR_FILE,
  OPT_STACK,
  OPT_PROVIDER_CONFIG,
  OPT_JSON,
  OPT_NO_COLOR,
  OPT_QUIET,
  OPT_LOG_JSON,
  OPT_DETAILED,
  OPT_PARALLELISM,
  OPT_REVEAL,
  OPT_GRAPHPLAN,
  OPT_LOCK_TIMEOUT,
  OPT_DESTROY,
  OPT_MAX_RETRIES,
  OPT_OP_TIMEOUT
};

static const struct option long_opts[] = {
  {"help", no_argument, NULL, 'h'},
  {"template", required_argument, NULL, 't'},
  {"var", required_argument, NULL, OPT_VAR},
  {"var-file", required_argument, NULL, OPT_VAR_FILE},
  {"stack", required_argument, NULL, OPT_STACK},
  {"provider-config", required_argument, NULL, OPT_PROVIDER_CONFIG},
  {"json", no_argument, NULL, OPT_JSON},
  {"no-color", no_argument, NULL, OPT_NO_COLOR},
  {"verbose", no_argument, NULL, 'v'},
  {"quiet", no_argument, NULL, OPT_QUIET},
  {"log-json", no_argument, NULL, OPT_LOG_JSON},
  {"out", required_argument, NULL, 'o'},
  {"detailed-exitcode", no_argument, NULL, OPT_DETAILED},
  {"yes", no_argument, NULL, 'y'},
  {"auto-approve", no_argument, NULL, 'y'},
  {"parallelism", required_argument, NULL, OPT_PARALLELISM},
  {"reveal", no_argument, NULL, OPT_REVEAL},
  {"plan", no_argument, NULL, OPT_GRAPHPLAN},
  {"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
  {"destroy", no_argument, NULL, OPT_DESTROY},
  {"max-retries", required_argument, NULL, OPT_MAX_RETRIES},
  {"op-timeout", required_argument, NULL, OPT_OP_TIMEOUT},
  {NULL, 0, NULL, 0}
};

/* Which CLI_OPT_* bit an option needs; 0 for the common ones. */
static unsigned opt_needs(int c)
{
  switch(c) {
  case 'o': return CLI_OPT_PLANFILE;
  case OPT_DETAILED: return CLI_OPT_DETAILED;
  case 'y': return CLI_OPT_YES;
  case OPT_PARALLELISM: return CLI_OPT_PARALLEL;
  case OPT_REVEAL: return CLI_OPT_REVEAL;
  case OPT_GRAPHPLAN: return CLI_OPT_GRAPHPLAN;
  case OPT_LOCK_TIMEOUT: return CLI_OPT_LOCK;
  case OPT_DESTROY: return CLI_OPT_DESTROY;
  case OPT_MAX_RETRIES:
  case OPT_OP_TIMEOUT: return CLI_OPT_RETRIES;
  default: return 0;
  }
}

static const char *opt_name(int c)
{
  size_t i;
  for(i = 0; long_opts[i].name; i++)
    if(long_opts[i].val == c)
      return long_opts[i].name;
  return "?";
}

static int parse_uint(unsigned *out, const char *s, unsigned min, unsigned max)
{
  char *end;
  unsigned long v;

  errno = 0;
  v = strtoul(s, &end, 10);
  if(errno || end == s || *end || s[0] == '-' || v < min || v > max)
    return -1;
  *out = (unsigned)v;
  return 0;
}

static int parse_seconds(double *out, const char *s)
{
  char *end;
  double v;

  errno = 0;
  v = strtod(s, &end);
  if(errno || end == s || *end || v < 0 || v > 86400.0 * 7)
    return -1;
  *out = v;
  return 0;
}

int cli_parse(struct cli *cli, int argc, char **argv, unsigned accepts,
              const char *usage, int max_positional)
{
  const char *positional[4];
  int npos = 0, c, i;

  memset(cli, 0, sizeof(*cli));
  cli->cmd = argv[0];
  cli->accepts = accepts;
  cli->lock_timeout = 60;
  /* Terraform spells it with one dash; accept both. */
  for(i = 1; i < argc; i++)
    if(!strcmp(argv[i], "-detailed-exitcode"))
      argv[i] = (char *)"--detailed-exitcode";
    else if(!strcmp(argv[i], "--"))
      break;

  optind = 0; /* GNU: full reinitialisation */
  opterr = 0;
  while((c = getopt_long(argc, argv, "-:ht:vo:y", long_opts, NULL)) != -1) {
    unsigned need = opt_needs(c);
    if(need && !(accepts & need)) {
      cli_errorf("%s: option --%s does not apply here (see 'drover %s --help')",
                 cli->cmd, opt_name(c), cli->cmd);
      return CLI_EXIT_ERROR;
    }
    switch(c) {
    case 1: /* a positional argument, in order */
      if(npos >= max_positional || npos >= 4) {
        cli_errorf("%s: unexpected argument '%s'", cli->cmd, optarg);
        return CLI_EXIT_ERROR;
      }
      positional[npos++] = optarg;
      break;
    case 'h':
      fputs(usage, stdout);
      return CLI_EXIT_OK;
    case 't':
      cli->template_path = optarg;
      cli->path_from_t = 1;
      break;
    case OPT_VAR:
      if(cli->nvars >= CLI_MAX_VARS) {
        cli_errorf("%s: too many --var options", cli->cmd);
        return CLI_EXIT_ERROR;
      }
      cli->vars[cli->nvars++] = optarg;
      break;
    case OPT_VAR_FILE:
      if(cli->nvar_files >= CLI_MAX_VARS) {
        cli_errorf("%s: too many --var-file options", cli->cmd);
        return CLI_EXIT_ERROR;
      }
      cli->var_files[cli->nvar_files++] = optarg;
      break;
    case OPT_STACK: cli->stack_name = optarg; break;
    case OPT_PROVIDER_CONFIG: cli->provider_config = optarg; break;
    case OPT_JSON: cli->json = 1; break;
    case OPT_NO_COLOR: cli->no_color = 1; break;
    case 'v': cli->verbose = 1; break;
    case OPT_QUIET: cli->quiet = 1; break;
    case OPT_LOG_JSON:
      cli->log_json = 1;
      cli_set_log_json(1);
      break;
    case 'o': cli->out_path = optarg; break;
    case OPT_DETAILED: cli->detailed = 1; break;
    case 'y': cli->yes = 1; break;
    case OPT_REVEAL: cli->reveal = 1; break;
    case OPT_GRAPHPLAN: cli->graph_plan = 1; break;
    case OPT_DESTROY: cli->destroy = 1; break;
    case OPT_PARALLELISM:
      if(parse_uint(&cli->parallelism, optarg, 1, 1024)) {
        cli_errorf("%s: --parallelism wants a number from 1 to 1024, not '%s'",
                   cli->cmd, optarg);
        return CLI_EXIT_ERROR;
      }
      break;
    case OPT_MAX_RETRIES:
      if(parse_uint(&cli->max_retries, optarg, 0, 100)) {
        cli_errorf("%s: --max-retries wants a number from 0 to 100, not '%s'",
                   cli->cmd, optarg);
        return CLI_EXIT_ERROR;
      }
      break;
    case OPT_OP_TIMEOUT:
      if(parse_seconds(&cli->op_timeout, optarg)) {
        cli_errorf("%s: --op-timeout wants seconds, not '%s'", cli->cmd, optarg);
        return CLI_EXIT_ERROR;
      }
      break;
    case OPT_LOCK_TIMEOUT:
      if(parse_seconds(&cli->lock_timeout, optarg)) {
        cli_errorf("%s: --lock-timeout wants seconds, not '%s'", cli->cmd, optarg);
        return CLI_EXIT_ERROR;
      }
      break;
    case ':':
      cli_errorf("%s: option %s needs a value", cli->cmd, argv[optind - 1]);
      return CLI_EXIT_ERROR;
    default:
      if(optopt)
        cli_errorf("%s: unknown option -%c (see 'drover %s --help')", cli->cmd,
                   optopt, cli->cmd);
      else
        cli_errorf("%s: unknown option %s (see 'drover %s --help')", cli->cmd,
                   argv[optind - 1], cli->cmd);
      return CLI_EXIT_ERROR;
    }
  }
  /* After "--" getopt stops; the rest are positional too. */
  for(; optind < argc; optind++) {
    if(npos >= max_positional || npos >= 4) {
      cli_errorf("%s: unexpected argument '%s'", cli->cmd, argv[optind]);
      return CLI_EXIT_ERROR;
    }
    positional[npos++] = argv[optind];
  }
  if(cli->verbose && cli->quiet) {
    cli_errorf("%s: --verbose and --quiet exclude each other", cli->cmd);
    return CLI_EXIT_ERROR;
  }
  /* The subcommand decides what positionals mean; here only the path. */
  for(i = 0; i < npos; i++) {
    /* output NAME, backup|drift|schedule ... POLICY, scale run POLICY,
     * restore INSTANCE: a second word. */
    if((!strcmp(cli->cmd, "output") || !strncmp(cli->cmd, "backup ", 7) ||
        !strncmp(cli->cmd, "drift ", 6) || !strncmp(cli->cmd, "schedule ", 9) ||
        !strncmp(cli->cmd, "scale ", 6) || !strcmp(cli->cmd, "restore")) &&
       (cli->template_path || i > 0)) {
      if(cli->output_name) {
        cli_errorf("%s: unexpected argument '%s'", cli->cmd, positional[i]);
        return CLI_EXIT_ERROR;
      }
      cli->output_name = positional[i];
    }
    else if(!cli->template_path)
      cli->template_path = positional[i];
    else {
      cli_errorf("%s: more than one template given ('%s' and '%s')", cli->cmd,
                 cli->template_path, positional[i]);
      return CLI_EXIT_ERROR;
    }
  }
  cli->color = cli_want_color(stdout, cli->no_color);
  return -1;
}

void cli_options(drover_options *opts, const struct cli *cli)
{
  drover_options init = DROVER_OPTIONS_INIT;

  *opts = init;
  opts->stack_name = cli->stack_name;
  opts->log = cli_log;
  opts->log_userdata = (void *)cli;
  opts->log_level = cli->verbose ? DROVER_LOG_DEBUG
                    : cli->quiet ? DROVER_LOG_ERROR : DROVER_LOG_WARN;
  opts->provider_config = cli->provider_config;
}

/* Caller frees the result. */
char *cli_read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  char *buf = NULL, *grown;
  size_t n = 0, cap = 0, got;
  int saved;

  if(!f)
    return NULL;
  for(;;) {
    if(n + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 8192;
      grown = realloc(buf, cap);
      if(!grown) {
        saved = ENOMEM;
        goto fail;
      }
      buf = grown;
    }
    got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if(got == 0)
      break;
  }
  if(ferror(f)) {
    saved = EIO;
    goto fail;
  }
  fclose(f);
  buf[n] = '\0';
  if(len)
    *len = n;
  return buf;
fail:
  fclose(f);
  free(buf);
  errno = saved;
  return NULL;
}

int cli_stack_open(struct cli_stack *cs, const struct cli *cli)
{
  drover_error err;
  drover_code rc;
  size_t i;

  memset(cs, 0, sizeof(*cs));
  drover_error_clear(&err);
  cli_options(&cs->opts, cli);
  if(!cli->template_path) {
    cli_errorf("%s: no template given (use -t FILE or a path; see 'drover %s --help')",
               cli->cmd, cli->cmd);
    return CLI_EXIT_ERROR;
  }
  rc = drover_template_load_file(&cs->tpl, cli->template_path, &err);
  if(rc)
    goto out;
  cs->vars = drover_vars_new();
  if(!cs->vars) {
    rc = DROVER_E_NOMEM;
    err.code = rc;
    goto out;
  }
  /* Files first, then --var: the command line wins. */
  for(i = 0; i < cli->nvar_files && !rc; i++)
    rc = drover_vars_load_file(cs->vars, cli->var_files[i], &err);
  for(i = 0; i < cli->nvars && !rc; i++)
    rc = drover_vars_set_kv(cs->vars, cli->vars[i], &err);
  if(rc)
    goto out;
  rc = drover_stack_open(&cs->stack, cs->tpl, cs->vars, &cs->opts, &err);
out:
  if(rc) {
    if(!err.code)
      err.code = rc;
    return cli_fail(&err);
  }
  return 0;
}

int cli_stack_open_bare(struct cli_stack *cs, const struct cli *cli)
{
  drover_error err;
  drover_code rc;

  memset(cs, 0, sizeof(*cs));
  drover_error_clear(&err);
  cli_options(&cs->opts, cli);
  /* Every provider is asked (built in and modules), with the settings of
   * --provider-config (merged by the library) or its own defaults. */
  rc = drover_stack_open_bare(&cs->stack, cli->stack_name, NULL, &cs->opts, &err);
  if(rc) {
    if(!err.code)
      err.code = rc;
    return cli_fail(&err);
  }
  return 0;
}

/* *text: the JSON text (caller frees), NULL on failure. */
int cli_stack_fetch(char **text, struct cli_stack *cs, const struct cli *cli,
                    int allow_bare, enum cli_fetch what)
{
  drover_error err;
  drover_code rc;
  int ret;

  *text = NULL;
  drover_error_clear(&err);
  if(allow_bare && !cli->template_path && cli->stack_name)
    ret = cli_stack_open_bare(cs, cli);
  else
    ret = cli_stack_open(cs, cli);
  if(ret)
    return ret;
  rc = drover_stack_refresh(cs->stack, &err);
  if(!rc) {
    if(what == CLI_FETCH_OUTPUTS)
      rc = drover_stack_outputs_json(text, cs->stack, cli->reveal, &err);
    else
      rc = drover_stack_show_json(text, cs->stack, &err);
  }
  if(rc) {
    if(!err.code)
      err.code = rc;
    free(*text);
    *text = NULL;
    return cli_fail(&err);
  }
  return 0;
}

void cli_stack_close(struct cli_stack *cs)
{
  drover_stack_free(cs->stack);
  drover_vars_free(cs->vars);
  drover_template_free(cs->tpl);
  memset(cs, 0, sizeof(*cs));
}

long long cli_parse_time(const char *s)
{
  struct tm tm;
  char *end;
  long long v;

  if(!s || !*s)
    return -1;
  v = strtoll(s, &end, 10);
  if(!*end)
    return v > 0 ? v : -1;
  memset(&tm, 0, sizeof(tm));
  end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
  if(!end || *end)
    return -1;
  return (long long)timegm(&tm);
}

long long cli_now(const char *opt, const char *cmd)
{
  const char *s = opt ? opt : getenv("DROVER_NOW");
  long long t;

  if(!s || !*s)
    return 0;
  t = cli_parse_time(s);
  if(t < 0)
    cli_errorf("%s: %s '%s' is neither Unix seconds nor YYYY-MM-DDTHH:MM:SSZ", cmd,
               opt ? "--now" : "DROVER_NOW", s);
  return t;
}
