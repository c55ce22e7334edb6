/* fuzz_lxd.c - libFuzzer: the LXD provider's parsing of list replies
 * (instances, profiles, volumes) into drover_live objects, without HTTP.
 * The first input byte picks the type; the rest is the reply body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "drover_provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
drover_code lxd_parse_list_reply(const char *type, char *buf, size_t len,
                                 const char *stack, drover_live_list *out,
                                 drover_error *err);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const types[] = {"instance", "profile", "volume"};
  drover_live_list out = {NULL, 0, 0};
  drover_error err;
  char *buf;

  if(size < 1)
    return 0;
  buf = malloc(size); /* parsed in place, and without a NUL on purpose */
  if(!buf)
    return 0;
  memcpy(buf, data + 1, size - 1);
  drover_error_clear(&err);
  (void)lxd_parse_list_reply(types[data[0] % 3], buf, size - 1,
                             (data[0] & 4) ? NULL : "fz", &out, &err);
  drover_live_list_clear(&out);
  free(buf);
  return 0;
}
