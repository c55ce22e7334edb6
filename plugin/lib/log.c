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

static void emit(drover_log_fn fn, void *ud, drover_log_level level,
                 const char *fmt, va_list ap)
{
  char line[2048];
  char *nl;

  if(!fn)
    return;
  vsnprintf(line, sizeof(line), fmt, ap);
  while((nl = strpbrk(line, "\r\n")) != NULL)
    *nl = ' ';
  dv_redact(line, sizeof(line));
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
