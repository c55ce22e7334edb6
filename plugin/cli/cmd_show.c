/* cmd_show.c - drover show: the stack's live resources after a refresh. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static const char usage[] =
  "Usage: drover show [options] [-t] TEMPLATE\n"
  "       drover show [options] --stack NAME\n"
  "\n"
  "Refreshes the stack and lists the live objects labelled with it: address,\n"
  "type, cloud name and status. With --stack and no template, every provider\n"
  "is asked, with its settings from --provider-config or its defaults.\n"
  "\n"
  "Options:\n"
  CLI_HELP_TEMPLATE
  "      --stack NAME            the stack (overrides the template's)\n"
  "      --provider-config FILE  provider settings\n"
  "      --json                  the live resources as a JSON array\n"
  "  -v, --verbose / --quiet / --no-color / --log-json\n"
  "\n"
  "Exit status: 0 success, 1 error.\n";

static const char *field(json_t *o, const char *key)
{
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "-";
}

/* Prints the array as an aligned table. */
static int print_table(const char *text, const struct cli *cli)
{
  static const char *const cols[] = {"address", "type", "name", "status"};
  static const char *const heads[] = {"ADDRESS", "TYPE", "NAME", "STATUS"};
  json_error_t jerr;
  json_t *arr = json_loads(text, 0, &jerr), *o;
  size_t w[4], i, c;

  if(!json_is_array(arr)) {
    json_decref(arr);
    cli_errorf("show: the engine returned something that is not a JSON array");
    return CLI_EXIT_ERROR;
  }
  if(!json_array_size(arr)) {
    if(!cli->quiet)
      printf("The stack owns no live resources.\n");
    json_decref(arr);
    return CLI_EXIT_OK;
  }
  for(c = 0; c < 4; c++)
    w[c] = strlen(heads[c]);
  json_array_foreach(arr, i, o)
    for(c = 0; c < 4; c++)
      if(strlen(field(o, cols[c])) > w[c])
        w[c] = strlen(field(o, cols[c]));
  printf("%s%-*s  %-*s  %-*s  %s%s\n", cli_c(cli->color, CLI_BOLD), (int)w[0], heads[0],
         (int)w[1], heads[1], (int)w[2], heads[2], heads[3],
         cli_c(cli->color, CLI_RESET));
  json_array_foreach(arr, i, o)
    printf("%-*s  %-*s  %-*s  %s\n", (int)w[0], field(o, cols[0]), (int)w[1],
           field(o, cols[1]), (int)w[2], field(o, cols[2]), field(o, cols[3]));
  json_decref(arr);
  return CLI_EXIT_OK;
}

int cli_cmd_show(int argc, char **argv)
{
  struct cli cli;
  struct cli_stack cs;
  char *text = NULL;
  int ret;

  memset(&cs, 0, sizeof(cs));
  ret = cli_parse(&cli, argc, argv, 0, usage, 1);
  if(ret >= 0)
    return ret;
  ret = cli_stack_fetch(&text, &cs, &cli, 1, CLI_FETCH_SHOW);
  if(ret)
    goto out;
  if(cli.json)
    printf("%s\n", text);
  else
    ret = print_table(text, &cli);
out:
  free(text);
  cli_stack_close(&cs);
  return ret;
}
