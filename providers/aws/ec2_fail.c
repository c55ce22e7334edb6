/* ec2_fail.c - the provider's error texts ("aws: <address>: ..."). Its
 * own file so the unit tests link the pure parts without the transport. */
#include <stdarg.h>
#include <stdio.h>
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
