/* fuzz_planfile.c - libFuzzer: loading a saved plan (drover apply FILE),
 * which rebuilds the stack from the embedded template and vars and checks
 * it against the fake cloud. Input: the plan file's bytes. A tampered or
 * truncated file must be an error, never a crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine.h"
#include "fake_provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the plan's embedded template uses the fake provider only:
 * loading a plan refreshes, which would otherwise connect to a real LXD
 * (or any URL the input names). */
static int fake_only_plan(const uint8_t *data, size_t size)
{
  json_t *root = json_loadb((const char *)data, size, 0, NULL);
  const char *text = json_string_value(json_object_get(root, "template"));
  drover_template *tpl = NULL;
  drover_error err;
  const char *key;
  json_t *v;
  size_t i;
  int ok = 0;

  drover_error_clear(&err);
  if(text && !drover_template_load_buffer(&tpl, text, strlen(text), "t.json", &err)) {
    ok = 1;
    for(i = 0; i < tpl->nblocks; i++)
      if(tpl->blocks[i].provider != &fake_provider)
        ok = 0;
    json_object_foreach(tpl->providers, key, v)
      if(strcmp(key, "fake"))
        ok = 0;
  }
  else if(text)
    ok = 1; /* a template that does not load never reaches a provider */
  drover_template_free(tpl);
  json_decref(root);
  return ok || !text;
}

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
  if(!fake_only_plan(data, size))
    return 0;
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
