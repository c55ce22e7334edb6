/* ec2_fail.c - the provider's error texts ("aws: <address>: ...") and the
 * copy helper every file uses. Their own file so the unit tests link the
 * pure parts without the transport, and no two files call each other. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ec2.h"

drover_code ec2_fail(drover_error *err, drover_code code, const char *address,
                     const char *fmt, ...)
{
  char msg[768];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if(address)
    drover_error_set(err, code, "aws: %s: %s", address, msg);
  else
    drover_error_set(err, code, "aws: %s", msg);
  drover_error_locate(err, "aws", address);
  return code;
}

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

