/* error.c - error codes, the detail struct, first-error-wins recording. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "engine.h"

const char *drover_strerror(drover_code code)
{
  switch(code) {
  case DROVER_OK: return "no error";
  case DROVER_E_NOMEM: return "out of memory";
  case DROVER_E_ARG: return "bad argument";
  case DROVER_E_IO: return "I/O error";
  case DROVER_E_SYNTAX: return "JSON syntax error";
  case DROVER_E_TEMPLATE: return "invalid template";
  case DROVER_E_PARAM: return "invalid param value";
  case DROVER_E_REFERENCE: return "bad reference";
  case DROVER_E_CYCLE: return "dependency cycle";
  case DROVER_E_PROVIDER: return "provider error";
  case DROVER_E_TRANSIENT: return "transient provider error, retries exhausted";
  case DROVER_E_NOT_FOUND: return "not found";
  case DROVER_E_CONFLICT: return "changed concurrently";
  case DROVER_E_STALE_PLAN: return "saved plan is stale";
  case DROVER_E_LOCKED: return "stack is locked";
  case DROVER_E_TIMEOUT: return "timed out";
  case DROVER_E_PREVENT_DESTROY: return "resource has prevent_destroy";
  case DROVER_E_UNSUPPORTED: return "operation not supported";
  case DROVER_E_CANCELLED: return "cancelled";
  case DROVER_E_PARTIAL: return "apply partly failed";
  case DROVER_E_CONFIG: return "bad configuration";
  case DROVER_E_TLS: return "TLS error";
  case DROVER_E_INTERNAL: return "internal error";
  case DROVER_E_CORRUPT: return "checksum mismatch";
  case DROVER_E_CAPACITY: return "no capacity in the cloud now";
  case DROVER_E_NOT_SET_UP: return "provider not set up here";
  }
  return "unknown error";
}

void drover_error_clear(drover_error *err)
{
  if(err)
    memset(err, 0, sizeof(*err));
}

static void copy_str(char *dst, size_t size, const char *src)
{
  size_t n = strlen(src);
  if(n >= size)
    n = size - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

drover_code drover_error_set(drover_error *err, drover_code code, const char *fmt, ...)
{
  va_list ap;

  if(!err || err->code != DROVER_OK)
    return code;
  err->code = code;
  /* One line (curl's failf() rule), secrets redacted. */
  va_start(ap, fmt);
  dv_vformat_redacted(err->text, sizeof(err->text), fmt, ap);
  va_end(ap);
  return code;
}

void drover_error_locate(drover_error *err, const char *source, const char *address)
{
  if(!err)
    return;
  if(source && !err->source[0])
    copy_str(err->source, sizeof(err->source), source);
  if(address && !err->address[0])
    copy_str(err->address, sizeof(err->address), address);
}

drover_code drover_error_fail(drover_error *err, drover_code code, const char *source,
                              const char *address, const char *fmt, ...)
{
  char msg[DROVER_ERROR_TEXT];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if(address && *address)
    drover_error_set(err, code, "%s: %s: %s", source, address, msg);
  else
    drover_error_set(err, code, "%s: %s", source, msg);
  drover_error_locate(err, source, address);
  return code;
}

/* text past "p:" and the blanks after it when text starts so; else NULL. */
static const char *after_prefix(const char *text, const char *p)
{
  size_t n = strlen(p);

  if(strncmp(text, p, n) || text[n] != ':')
    return NULL;
  text += n + 1;
  while(*text == ' ')
    text++;
  return text;
}

/* Whether text holds "addr:" anywhere. */
static int mentions(const char *text, const char *addr)
{
  size_t n = strlen(addr);
  const char *p;

  for(p = strstr(text, addr); p; p = strstr(p + 1, addr))
    if(p[n] == ':')
      return 1;
  return 0;
}

const char *drover_error_format(const drover_error *err, char *buf, size_t size)
{
  if(!buf || !size)
    return buf;
  if(!err || err->code == DROVER_OK) {
    snprintf(buf, size, "no error");
    return buf;
  }
  if(err->line > 0)
    snprintf(buf, size, "%s:%d:%d: %s", err->source, err->line, err->column, err->text);
  else if((err->address[0] || err->source[0]) && err->text[0]) {
    /* "source: address: text", without repeating what the text already
     * says: a provider writes its own "lxd: web[0]: ..." (or, before the
     * engine located the error, "lxd: instance ... not found"). */
    const char *t = err->text, *rest;
    const char *src = err->source, *addr = err->address;
    if(src[0] && (rest = after_prefix(t, src)) != NULL)
      t = rest;
    if(addr[0] && (rest = after_prefix(t, addr)) != NULL)
      t = rest;
    else if(addr[0] && mentions(t, addr))
      addr = ""; /* "apply: web[0]: ..." names it already */
    snprintf(buf, size, "%s%s%s%s%s", src, src[0] ? ": " : "", addr, addr[0] ? ": " : "",
             t);
  }
  else
    snprintf(buf, size, "%s", err->text[0] ? err->text : drover_strerror(err->code));
  return buf;
}
