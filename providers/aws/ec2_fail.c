/* ec2_fail.c - the classes of EC2 error codes and the copy helper every
 * file uses (the error texts are drover_error_fail's, via ec2_fail in
 * ec2.h). Their own file so the unit tests link the pure parts without the
 * transport, and no two files call each other. */
#include <stdlib.h>
#include <string.h>
#include "ec2.h"

char *ec2_dup(const char *s, int *oom)
{
  char *d;

  if(!s)
    return NULL;
  d = strdup(s);
  if(!d)
    *oom = 1;
  return d;
}

static int ends_with(const char *s, const char *tail)
{
  size_t n = strlen(s), m = strlen(tail);
  return n >= m && !strcmp(s + n - m, tail);
}

drover_code ec2_error_class(long status, const aws_error *e)
{
  const char *c = e ? e->code : "";

  if(ends_with(c, ".NotFound") || ends_with(c, ".Malformed"))
    return DROVER_E_NOT_FOUND;
  /* InsufficientInstanceCapacity is a 500 in AWS's table, but no retry of
   * ours brings capacity back: the caller (an elastic-node program)
   * must see it at once. */
  if(!strcmp(c, "InsufficientInstanceCapacity") || !strcmp(c, "InstanceLimitExceeded"))
    return DROVER_E_PROVIDER;
  return aws_error_class(status, e);
}

