/* fuzz_planfile.c - libFuzzer: loading a saved plan (drover apply FILE),
 * which rebuilds the stack from the embedded template and vars and checks
 * it against the fake cloud. Input: the plan file's bytes. A tampered or
 * truncated file must be an error, never a crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "engine.h"
#include "fake_provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int registered;
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_plan *plan = NULL;
  drover_stack *st = NULL;
  drover_error err;
  char path[512], *json = NULL;
  const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  FILE *f;

  if(!registered) {
    fake_register();
    registered = 1;
  }
  fake_reset();
  snprintf(path, sizeof(path), "%s/fuzz-planfile-%ld.json", dir, (long)getpid());
  f = fopen(path, "wb");
  if(!f)
    return 0;
  if(size)
    fwrite(data, 1, size, f);
  fclose(f);
  opts.lock_dir = dir;
  drover_error_clear(&err);
  if(drover_plan_load(&plan, &st, path, &opts, &err) == DROVER_OK)
    (void)drover_plan_to_json(&json, plan, &err);
  free(json);
  drover_plan_free(plan);
  unlink(path);
  return 0;
}
