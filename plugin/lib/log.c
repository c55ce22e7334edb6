/* log.c - the one log sink, and secret redaction.
 *
 * Secrets (sensitive params, credentials read from config) are registered
 * once when they are loaded; every log line and error text is scrubbed of
 * them at the sink. The registry is process-wide on purpose: an error text
 * built deep inside a provider does not know which stack it serves, and a
 * secret must never escape whichever stack it came from.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"

#define REDACTED "(sensitive)"

static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static char **secrets;
static size_t nsecrets;

void dv_secret_add(const char *value)
{
  char **grown, *copy;
  size_t i;

  if(!value || strlen(value) < 4)
    return;
  pthread_mutex_lock(&secrets_lock);
  for(i = 0; i < nsecrets; i++)
    if(!strcmp(secrets[i], value))
      goto out;
  copy = strdup(value);
  grown = copy ? realloc(secrets, (nsecrets + 1) * sizeof(*secrets)) : NULL;
  if(!grown) {
    free(copy);
    goto out;
  }
  secrets = grown;
  secrets[nsecrets++] = copy;
out:
  pthread_mutex_unlock(&secrets_lock);
}

void drover_secret_add(const char *value)
{
  dv_secret_add(value);
}

/* Replace one needle everywhere in buf, truncating if the result grows. */
static void redact_one(char *buf, size_t size, const char *needle)
{
  size_t nlen = strlen(needle), rlen = strlen(REDACTED);
  char *p = buf;

  while((p = strstr(p, needle)) != NULL) {
    size_t tail = strlen(p + nlen);
    size_t off = (size_t)(p - buf);
    if(off + rlen + tail + 1 > size) {
      /* No room: cut the line rather than leak part of the secret. */
      if(off + rlen + 1 <= size) {
        memcpy(p, REDACTED, rlen);
        p[rlen] = '\0';
      }
      else
        *p = '\0';
      return;
    }
    memmove(p + rlen, p + nlen, tail + 1);
    memcpy(p, REDACTED, rlen);
    p += rlen;
  }
}

void dv_redact(char *buf, size_t size)
{
  size_t i;

  if(!buf || !size)
    return;
  pthread_mutex_lock(&secrets_lock);
  for(i = 0; i < nsecrets; i++)
    redact_one(buf, size, secrets[i]);
  pthread_mutex_unlock(&secrets_lock);
}

void dv_vformat_redacted(char *dst, size_t size, const char *fmt, va_list ap)
{
  va_list aq;
  char *full = NULL, *nl;
  int len;
  size_t cap = 0;

  if(!dst || !size)
    return;
  /* Redact the whole text, then cut: cutting first could leave the start
   * of a secret at the end of dst, where no needle matches it. A secret
   * (4 characters or more) grows to at most 11, so 3x is room enough. */
  va_copy(aq, ap);
  len = vsnprintf(NULL, 0, fmt, aq);
  va_end(aq);
  if(len >= 0 && (size_t)len < ((size_t)-1 - 64) / 3) {
    cap = 3 * (size_t)len + 64;
    full = malloc(cap);
  }
  if(!full) {
    /* No memory: cut, then drop the last 64 characters in case a secret
     * started there. */
    vsnprintf(dst, size, fmt, ap);
    if(len >= 0 && (size_t)len >= size)
      dst[size > 64 ? size - 64 : 0] = '\0';
    full = dst;
    cap = size;
  }
  else
    vsnprintf(full, cap, fmt, ap);
  while((nl = strpbrk(full, "\r\n")) != NULL)
    *nl = ' ';
  dv_redact(full, cap);
  if(full != dst) {
    snprintf(dst, size, "%s", full);
    free(full);
  }
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 0)))
#endif
static void emit(drover_log_fn fn, void *ud, drover_log_level level,
                 const char *fmt, va_list ap)
{
  char line[2048];

  if(!fn)
    return;
  dv_vformat_redacted(line, sizeof(line), fmt, ap);
  fn(ud, level, line);
}

void dv_log(const drover_stack *stack, drover_log_level level, const char *fmt, ...)
{
  va_list ap;

  if(!stack || !stack->opts.log || level > stack->opts.log_level)
    return;
  va_start(ap, fmt);
  emit(stack->opts.log, stack->opts.log_userdata, level, fmt, ap);
  va_end(ap);
}

void drover_logf(const drover_provider_env *env, drover_log_level level,
                 const char *fmt, ...)
{
  va_list ap;

  if(!env || !env->log)
    return;
  va_start(ap, fmt);
  emit(env->log, env->log_userdata, level, fmt, ap);
  va_end(ap);
}
