/* log.c - the one log sink, and secret redaction.
 *
 * Secrets (sensitive params, credentials read from config) are registered
 * once when they are loaded; every log line and error text is scrubbed of
 * them at the sink. The registry is process-wide on purpose: an error text
 * built deep inside a provider does not know which stack it serves, and a
 * secret must never escape whichever stack it came from.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"

#define REDACTED "(sensitive)"
/* Secrets shorter than this are matched only as whole tokens (not next to
 * a letter, digit or '_'), so a secret "ab" does not turn "table" into
 * "t(sensitive)le". Plans and `show` do not depend on this: they redact
 * sensitive values by structure (sensitive.c). */
#define SHORT_SECRET 4

static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static char **secrets;
static size_t nsecrets, cap;
static int sorted = 1;   /* secrets are in longer_first order */
/* The same strings as a hash set, so registering the derived values of
 * every instance stays linear in the number of instances. */
static json_t *seen;

static void add_one(const char *value)
{
  char **grown, *copy;

  if(!value || !*value)
    return;
  if(!seen && !(seen = json_object()))
    return;
  if(json_object_get(seen, value))
    return;
  if(nsecrets == cap) {
    size_t ncap = cap ? cap * 2 : 16;
    grown = realloc(secrets, ncap * sizeof(*secrets));
    if(!grown)
      return;
    secrets = grown;
    cap = ncap;
  }
  copy = strdup(value);
  if(!copy || json_object_set_new(seen, value, json_true())) {
    free(copy);
    return;
  }
  secrets[nsecrets++] = copy;
  sorted = 0;
}

void dv_secret_add(const char *value)
{
  json_t *j;
  char *esc = NULL;
  size_t n;

  if(!value || !*value)
    return;
  /* Error texts often quote values as JSON: register that spelling too
   * (a secret holding a quote, backslash or control character). */
  j = json_string(value);
  if(j)
    esc = json_dumps(j, JSON_ENCODE_ANY);
  json_decref(j);
  pthread_mutex_lock(&secrets_lock);
  add_one(value);
  if(esc && (n = strlen(esc)) > 2) {
    esc[n - 1] = '\0';
    if(strcmp(esc + 1, value))
      add_one(esc + 1);
  }
  pthread_mutex_unlock(&secrets_lock);
  free(esc);
}

/* The public name providers use (drover_provider.h). */
void drover_secret_add(const char *value)
{
  dv_secret_add(value);
}

static int word_byte(unsigned char c)
{
  return c >= 0x80 || isalnum(c) || c == '_';
}

/* Whether needle (nlen bytes) at p inside text may be replaced. */
static int match_ok(const char *text, const char *p, size_t nlen)
{
  if(nlen >= SHORT_SECRET)
    return 1;
  if(p > text && word_byte((unsigned char)p[-1]))
    return 0;
  return !word_byte((unsigned char)p[nlen]);
}

/* Replaces every occurrence of needle in *cur (malloc'ed), reallocating
 * it only when there is one. 0, or -1 on OOM (then *cur is freed and
 * NULL). */
static int redact_one(char **cur, const char *needle)
{
  size_t nlen = strlen(needle), rlen = strlen(REDACTED), hits = 0;
  const char *in = *cur, *p, *q;
  char *out, *o;

  for(p = in; (q = strstr(p, needle)) != NULL; p = q + nlen)
    if(match_ok(in, q, nlen))
      hits++;
  if(!hits)
    return 0;
  out = malloc(strlen(in) + hits * rlen + 1);
  if(!out) {
    free(*cur);
    *cur = NULL;
    return -1;
  }
  o = out;
  for(p = in; (q = strstr(p, needle)) != NULL; p = q + nlen) {
    memcpy(o, p, (size_t)(q - p));
    o += q - p;
    if(match_ok(in, q, nlen)) {
      memcpy(o, REDACTED, rlen);
      o += rlen;
    }
    else {
      memcpy(o, q, nlen);
      o += nlen;
    }
  }
  strcpy(o, p);
  free(*cur);
  *cur = out;
  return 0;
}

static int longer_first(const void *a, const void *b)
{
  size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

  return la < lb ? 1 : la > lb ? -1 : 0;
}

/* Longer secrets go first, so a secret inside another is not replaced
 * piecemeal. The list is sorted when it changed since the last use. */
static char *redact_dup(const char *in, int short_too)
{
  char *cur = strdup(in);
  size_t i;

  pthread_mutex_lock(&secrets_lock);
  if(!sorted) {
    qsort(secrets, nsecrets, sizeof(*secrets), longer_first);
    sorted = 1;
  }
  for(i = 0; cur && i < nsecrets; i++) {
    if(!short_too && strlen(secrets[i]) < SHORT_SECRET)
      break; /* sorted: only shorter ones follow */
    if(redact_one(&cur, secrets[i]))
      break;
  }
  pthread_mutex_unlock(&secrets_lock);
  return cur;
}

char *dv_redact_dup(const char *in)
{
  return redact_dup(in, 1);
}

char *dv_redact_display(const char *in)
{
  return redact_dup(in, 0);
}

void dv_redact(char *buf, size_t size)
{
  char *r;

  if(!buf || !size)
    return;
  r = dv_redact_dup(buf);
  if(!r) {
    /* No memory: say nothing rather than risk a secret. */
    snprintf(buf, size, "%s", REDACTED);
    return;
  }
  /* Redacted before the cut, so the cut cannot leave part of a secret. */
  snprintf(buf, size, "%s", r);
  free(r);
}

void dv_vformat_redacted(char *dst, size_t size, const char *fmt, va_list ap)
{
  char *full = NULL, *nl, *r;

  if(!dst || !size)
    return;
  if(vasprintf(&full, fmt, ap) < 0) {
    snprintf(dst, size, "%s", REDACTED);
    return;
  }
  /* One line; other control characters (a terminal escape in a hostile
   * name) become '?'. */
  for(nl = full; *nl; nl++) {
    if(*nl == '\r' || *nl == '\n')
      *nl = ' ';
    else if((unsigned char)*nl < 0x20 || *nl == 0x7f)
      *nl = '?';
  }
  /* Redact the whole text, then cut: cutting first could leave the start
   * of a secret at the end of dst, where no needle matches it. */
  r = dv_redact_dup(full);
  snprintf(dst, size, "%s", r ? r : REDACTED);
  free(r);
  free(full);
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
