/* util.c - small string helpers and the monotonic clock. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "engine.h"

int dv_hexval(int c)
{
  if(c >= '0' && c <= '9')
    return c - '0';
  if(c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if(c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

char *dv_strdup(const char *s)
{
  return s ? strdup(s) : NULL;
}

char *dv_aprintf(const char *fmt, ...)
{
  va_list ap;
  char *out = NULL;
  int n;

  va_start(ap, fmt);
  n = vasprintf(&out, fmt, ap);
  va_end(ap);
  return n < 0 ? NULL : out;
}

double drover_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and transpositions of two adjacent characters ("tgas" -> "tags") each
 * count as one edit. (size_t)-1 for words of 64 bytes or more. */
static size_t edit_distance(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b), i, j;
  size_t rows[3][64];
  size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];

  if(lb >= sizeof(rows[0]) / sizeof(rows[0][0]) || la >= 64)
    return (size_t)-1;
  for(j = 0; j <= lb; j++)
    prev[j] = j;
  for(i = 1; i <= la; i++) {
    size_t *t;
    cur[0] = i;
    for(j = 1; j <= lb; j++) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t best = prev[j - 1] + cost;
      if(prev[j] + 1 < best)
        best = prev[j] + 1;
      if(cur[j - 1] + 1 < best)
        best = cur[j - 1] + 1;
      if(i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
         pp[j - 2] + 1 < best)
        best = pp[j - 2] + 1;
      cur[j] = best;
    }
    t = pp;
    pp = prev;
    prev = cur;
    cur = t;
  }
  return prev[lb];
}

const char *dv_did_you_mean(const char *word, const char *const *candidates, size_t n)
{
  const char *best = NULL;
  size_t best_d = (size_t)-1, i;
  /* Allow about one edit per three characters, at least one, at most three. */
  size_t limit = strlen(word) / 3;

  if(limit < 1)
    limit = 1;
  if(limit > 3)
    limit = 3;
  for(i = 0; i < n; i++) {
    size_t d;
    if(!candidates[i])
      continue;
    d = edit_distance(word, candidates[i]);
    if(d <= limit && d < best_d) {
      best = candidates[i];
      best_d = d;
    }
  }
  return best;
}

size_t dv_ptr_join_size(const char *base, const char *seg)
{
  return strlen(base) + 1 + 2 * strlen(seg) + 1;
}

char *dv_ptr_join_to(char *out, const char *base, const char *seg)
{
  size_t bl = strlen(base), i, o;

  memcpy(out, base, bl);
  o = bl;
  out[o++] = '/';
  for(i = 0; seg[i]; i++) {
    if(seg[i] == '~') {
      out[o++] = '~';
      out[o++] = '0';
    }
    else if(seg[i] == '/') {
      out[o++] = '~';
      out[o++] = '1';
    }
    else
      out[o++] = seg[i];
  }
  out[o] = '\0';
  return out;
}

char *dv_ptr_join(const char *base, const char *seg)
{
  char *out = malloc(dv_ptr_join_size(base, seg));

  return out ? dv_ptr_join_to(out, base, seg) : NULL;
}
