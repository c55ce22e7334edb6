/* jobstack.c - the stack name of a Slurm job's stack, "job-<id>-<name>",
 * and its inverse.
 *
 * The SPANK shim names the stack when a job is submitted, the engine
 * names it again in the prolog and epilog, and `drover gc` parses job ids
 * back out of the names the providers list. libc only, so the libc-only
 * shim compiles this same file (plugin/spank/Makefile.include) instead of
 * keeping a copy.
 */
#include <stdio.h>
#include <string.h>
#include "drover.h"

/* FNV-1a, 32 bits: only to keep cut stack names unique and stable. */
static uint32_t fnv1a(const char *s)
{
  uint32_t h = 2166136261u;

  while(*s) {
    h ^= (unsigned char)*s++;
    h *= 16777619u;
  }
  return h;
}

int drover_job_template_name_ok(const char *name)
{
  size_t i;

  if(!name || !name[0])
    return 0;
  for(i = 0; name[i]; i++) {
    int c = (unsigned char)name[i];
    if(i >= DROVER_JOB_TEMPLATE_MAX)
      return 0;
    if(!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '_' && c != '-')
      return 0;
  }
  return 1;
}

int drover_job_stack_name(char *buf, size_t size, uint32_t jobid, const char *name)
{
  char prefix[32];
  size_t plen, nlen, room, i;
  int n;

  if(size < DROVER_JOB_STACK_MAX + 1 || !drover_job_template_name_ok(name))
    return -1;
  n = snprintf(prefix, sizeof(prefix), "job-%u-", (unsigned)jobid);
  if(n < 0 || (size_t)n >= sizeof(prefix))
    return -1;
  plen = (size_t)n;
  nlen = strlen(name);
  memcpy(buf, prefix, plen);
  if(plen + nlen <= DROVER_JOB_STACK_MAX) {
    for(i = 0; i < nlen; i++)
      buf[plen + i] = name[i] == '_' ? '-' : name[i];
    buf[plen + nlen] = '\0';
    return 0;
  }
  /* Cut: <prefix><head>-<8 hex>. */
  room = DROVER_JOB_STACK_MAX - plen - 9;
  for(i = 0; i < room; i++)
    buf[plen + i] = name[i] == '_' ? '-' : name[i];
  snprintf(buf + plen + room, size - plen - room, "-%08x", (unsigned)fnv1a(name));
  return 0;
}

int drover_job_stack_jobid(const char *stack, uint32_t *jobid)
{
  unsigned long long v = 0;
  const char *p;

  if(!stack || strncmp(stack, "job-", 4))
    return -1;
  p = stack + 4;
  if(*p < '0' || *p > '9')
    return -1;
  while(*p >= '0' && *p <= '9') {
    v = v * 10 + (unsigned)(*p - '0');
    if(v > 0xffffffffULL)
      return -1;
    p++;
  }
  if(*p != '-' || !p[1])
    return -1;
  *jobid = (uint32_t)v;
  return 0;
}
