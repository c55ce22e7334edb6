/* fuzz_refs.c - libFuzzer: the reference language. The input is used as a
 * string in a fixed template (a property of a counted resource, a property
 * of a resource that depends on it, and an output), so every byte reaches
 * the ${...} scanner, the checks and evaluation. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "fake_provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int registered;
  drover_template *tpl = NULL;
  drover_stack *st = NULL;
  drover_error err;
  json_t *root, *s;
  char *text = NULL, *outs = NULL;

  if(!registered) {
    fake_register();
    registered = 1;
  }
  /* Invalid UTF-8 cannot be a template string; the template harness
   * covers it at the parser. */
  s = json_stringn((const char *)data, size);
  if(!s)
    return 0;
  root = json_pack("{s:s, s:{s:{s:s, s:s}, s:{s:s, s:i}, s:{s:s, s:b, s:s}},"
                   " s:{s:{s:s, s:i, s:{s:s, s:{s:O}}}, s:{s:s, s:{s:{s:O}}}},"
                   " s:{s:{s:O}}}",
                   "stack", "fz",
                   "params", "p", "type", "string", "default", "x",
                   "n", "type", "integer", "default", 2,
                   "pw", "type", "string", "sensitive", 1, "default", "ab",
                   "resources",
                   "web", "type", "fake.thing", "count", 2, "properties", "image", "x",
                   "tags", "t", s,
                   "lb", "type", "fake.group", "properties", "config", "k", s,
                   "outputs", "o", "value", s);
  json_decref(s);
  if(root)
    text = json_dumps(root, 0);
  json_decref(root);
  drover_error_clear(&err);
  if(text && drover_template_load_buffer(&tpl, text, strlen(text), "fuzz.json", &err) ==
     DROVER_OK &&
     drover_stack_open(&st, tpl, NULL, NULL, &err) == DROVER_OK)
    (void)drover_stack_outputs_json(&outs, st, 0, &err);
  free(outs);
  drover_stack_free(st);
  drover_template_free(tpl);
  free(text);
  return 0;
}
