/* cmd_output.c - drover output [NAME]: the stack's outputs against live
 * state. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static const char usage[] =
  "Usage: drover output [options] [-t] TEMPLATE [NAME]\n"
  "\n"
  "Refreshes the stack and prints its outputs: all of them as\n"
  "'name = value' lines, or one output's value alone (strings raw, other\n"
  "values as JSON), or --json. Sensitive outputs show as (sensitive)\n"
  "unless --reveal is given.\n"
  "\n"
  "Options:\n"
  "  -t, --template FILE         the template (then NAME may be the only argument)\n"
  CLI_HELP_VARS
  "      --stack NAME            override the stack name\n"
  "      --provider-config FILE  provider settings merged over the template's\n"
  "      --reveal                include sensitive values\n"
  "      --json                  {\"name\": {\"value\": ..., \"sensitive\": bool}}\n"
  "  -v, --verbose / --quiet / --no-color / --log-json\n"
  "\n"
  "Exit status: 0 success, 1 error (also: no such output, or a sensitive\n"
  "output asked for by name without --reveal).\n";

/* Prints v as an output value: strings raw, the rest compact JSON.
 * Returns 0, or -1 on allocation failure. */
static int print_value(FILE *f, json_t *v)
{
  char *text;

  if(json_is_string(v)) {
    fputs(json_string_value(v), f);
    return 0;
  }
  text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if(!text)
    return -1;
  fputs(text, f);
  free(text);
  return 0;
}

/* Lines of "name = value". Returns an exit code. */
int cli_outputs_print(FILE *f, const char *outputs_json, const char *heading)
{
  json_error_t jerr;
  json_t *all = json_loads(outputs_json, 0, &jerr), *o;
  const char *name;

  if(!json_is_object(all)) {
    json_decref(all);
    cli_errorf("output: the engine returned something that is not a JSON object");
    return CLI_EXIT_ERROR;
  }
  if(json_object_size(all) && heading)
    fputs(heading, f);
  json_object_foreach(all, name, o) {
    json_t *v = json_object_get(o, "value");
    fprintf(f, "%s = ", name);
    if(json_is_true(json_object_get(o, "sensitive")) && !v)
      fputs("(sensitive)", f);
    else if(v) {
      /* Quote strings here so "a" and ["a"] read differently. */
      char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
      fputs(text ? text : "?", f);
      free(text);
    }
    else
      fputs("null", f);
    fputc('\n', f);
  }
  json_decref(all);
  return CLI_EXIT_OK;
}

int cli_cmd_output(int argc, char **argv)
{
  struct cli cli;
  struct cli_stack cs;
  char *text = NULL;
  int ret;

  memset(&cs, 0, sizeof(cs));
  ret = cli_parse(&cli, argc, argv, CLI_OPT_REVEAL, usage, 2);
  if(ret >= 0)
    return ret;
  ret = cli_stack_fetch(&text, &cs, &cli, 0, CLI_FETCH_OUTPUTS);
  if(ret)
    goto out;
  if(cli.output_name) {
    json_error_t jerr;
    json_t *all = json_loads(text, 0, &jerr);
    json_t *o = json_object_get(all, cli.output_name), *v;

    if(!o) {
      cli_errorf("output: the template has no output \"%s\"", cli.output_name);
      ret = CLI_EXIT_ERROR;
    }
    else if(!(v = json_object_get(o, "value")) &&
            json_is_true(json_object_get(o, "sensitive"))) {
      cli_errorf("output: \"%s\" is sensitive; pass --reveal to print it",
                 cli.output_name);
      ret = CLI_EXIT_ERROR;
    }
    else if(cli.json) {
      char *one = json_dumps(o, JSON_INDENT(2));
      printf("%s\n", one ? one : "null");
      free(one);
    }
    else {
      print_value(stdout, v ? v : json_null());
      putchar('\n');
    }
    json_decref(all);
  }
  else if(cli.json)
    printf("%s\n", text);
  else
    ret = cli_outputs_print(stdout, text, NULL);
out:
  free(text);
  cli_stack_close(&cs);
  return ret;
}
