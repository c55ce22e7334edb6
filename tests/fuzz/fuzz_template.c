/* fuzz_template.c - libFuzzer: template loading, then opening the stack
 * (params bound with defaults, count expanded, references evaluated).
 * Input: template text. Any result is fine; a crash, leak or sanitizer
 * report is not. Build and run: tests/fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>
#include "engine.h"
#include "fake_provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int registered;
  drover_template *tpl = NULL;
  drover_stack *st = NULL;
  drover_error err;

  if(!registered) {
    fake_register();
    registered = 1;
  }
  drover_error_clear(&err);
  if(drover_template_load_buffer(&tpl, (const char *)data, size, "fuzz.json", &err) ==
     DROVER_OK)
    (void)drover_stack_open(&st, tpl, NULL, NULL, &err);
  drover_stack_free(st);
  drover_template_free(tpl);
  return 0;
}
