/* fuzz_plan.c - libFuzzer: the whole pipeline against the in-process fake
 * provider: load, open, refresh, plan (rendered as text and JSON), apply,
 * plan again (must be converged or fail cleanly), destroy. Input: template
 * text. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "fake_provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One plan of flags: made, shown both ways, applied. */
static void plan_apply(drover_stack *st, unsigned flags, FILE *sink)
{
  drover_apply_opts ao = DROVER_APPLY_OPTS_INIT;
  drover_plan *plan = NULL;
  drover_error err;
  char *json = NULL;

  drover_error_clear(&err);
  ao.parallelism = 2;
  ao.max_retries = 1;
  ao.retry_base = 0.001;
  if(drover_stack_refresh(st, &err) || drover_plan_new(&plan, st, flags, &err))
    goto out;
  (void)drover_plan_render(plan, sink, 0);
  (void)drover_plan_to_json(&json, plan, &err);
  (void)drover_apply(plan, &ao, NULL, &err);
out:
  free(json);
  drover_plan_free(plan);
}

/* Only templates whose every provider is the fake one: refresh would
 * otherwise connect to a real LXD (or any URL the input names). */
static int fake_only(const drover_template *tpl)
{
  const char *key;
  json_t *v;
  size_t i;

  for(i = 0; i < tpl->nblocks; i++)
    if(tpl->blocks[i].provider != &fake_provider)
      return 0;
  json_object_foreach(tpl->providers, key, v)
    if(strcmp(key, "fake"))
      return 0;
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int registered;
  static FILE *sink;
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_template *tpl = NULL;
  drover_stack *st = NULL;
  drover_error err;

  if(!registered) {
    fake_register();
    sink = fopen("/dev/null", "w");
    registered = 1;
  }
  fake_reset();
  opts.lock_dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  drover_error_clear(&err);
  if(drover_template_load_buffer(&tpl, (const char *)data, size, "fuzz.json", &err) ||
     !fake_only(tpl) || drover_stack_open(&st, tpl, NULL, &opts, &err))
    goto out;
  /* Large counts are slow here, not wrong: a 10,000-instance count took
   * 19 s per input (2,500: 1.9 s) under this instrumentation. Bound the
   * size so the time goes to finding crashes; scale is bench/'s. */
  if(st->ninsts > 256)
    goto out;
  plan_apply(st, 0, sink);
  plan_apply(st, 0, sink);
  plan_apply(st, DROVER_PLAN_DESTROY, sink);
out:
  drover_stack_free(st);
  drover_template_free(tpl);
  return 0;
}
