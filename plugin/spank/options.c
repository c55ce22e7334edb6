/*
 * options.c - the user's --drover=NAME[:key=value[,key=value]...] request.
 *
 * Everything here judges untrusted input and so stays pure: no I/O, no
 * allocation, no locale. The same code runs at submit time (in the user's
 * sbatch/srun/salloc, to fail before the job queues) and again in the
 * prolog as root (the submit-time check runs in the user's process and
 * proves nothing).
 */
#include <stdio.h>
#include <string.h>
#include "spank_int.h"

static int is_lower(int c) { return c >= 'a' && c <= 'z'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

int dvs_name_valid(const char *name)
{
  size_t i;

  if(!name || !name[0])
    return 0;
  for(i = 0; name[i]; i++) {
    int c = (unsigned char)name[i];
    if(i >= DVS_NAME_MAX)
      return 0;
    if(!is_lower(c) && !is_digit(c) && c != '_' && c != '-')
      return 0;
  }
  return 1;
}

int dvs_key_valid(const char *key)
{
  size_t i;

  if(!key || !(is_lower((unsigned char)key[0]) || key[0] == '_'))
    return 0;
  for(i = 1; key[i]; i++) {
    int c = (unsigned char)key[i];
    if(i >= DVS_KEY_MAX)
      return 0;
    if(!is_lower(c) && !is_digit(c) && c != '_')
      return 0;
  }
  return 1;
}

/*
 * Values are never passed to a shell or used as paths by the plugin, but
 * templates splice them into cloud object properties, so the plugin only
 * lets through a conservative set: letters, digits and . _ - + : / @ % =
 * Shell metacharacters, quotes, whitespace, control and non-ASCII bytes
 * are refused, and so is ',' (the separator). A template's own pattern,
 * enum and bounds are checked later by the engine.
 */
static int value_char_ok(int c)
{
  if(is_lower(c) || is_digit(c) || (c >= 'A' && c <= 'Z'))
    return 1;
  return c && strchr("._-+:/@%=", c) != NULL;
}

size_t dvs_value_check(const char *value)
{
  size_t i;

  for(i = 0; value[i]; i++) {
    if(i >= DVS_VALUE_MAX)
      return DVS_VALUE_MAX + 1;
    if(!value_char_ok((unsigned char)value[i]))
      return i + 1;
  }
  return 0;
}

/* A short printable rendering of untrusted bytes for a message. */
static void quote(char *dst, size_t size, const char *src, size_t len)
{
  size_t i, o = 0;

  if(!size)
    return;
  for(i = 0; i < len && src[i] && o + 5 < size; i++) {
    unsigned char c = (unsigned char)src[i];
    if(c >= 0x20 && c < 0x7f && c != '\\')
      dst[o++] = (char)c;
    else
      o += (size_t)snprintf(dst + o, size - o, "\\x%02x", c);
  }
  if(i < len && src[i] && o + 4 < size) {
    memcpy(dst + o, "...", 3);
    o += 3;
  }
  dst[o] = '\0';
}

int dvs_request_parse(dvs_request *out, const char *arg, char *errbuf, size_t errlen)
{
  const char *p, *colon, *end;
  char q[96], what[160];
  size_t len, i;

  memset(out, 0, sizeof(*out));
  if(!arg || !arg[0])
    return dv_trust_fail(errbuf, errlen,
                "drover: --drover needs a template name: --drover=NAME[:key=value,...]");
  len = strnlen(arg, DVS_REQUEST_MAX + 1);
  if(len > DVS_REQUEST_MAX)
    return dv_trust_fail(errbuf, errlen, "drover: --drover value is longer than 4096 bytes");
  end = arg + len;

  /* NAME */
  colon = memchr(arg, ':', len);
  p = colon ? colon : end;
  if((size_t)(p - arg) > DVS_NAME_MAX) {
    quote(q, sizeof(q), arg, 40);
    return dv_trust_fail(errbuf, errlen,
                "drover: template name \"%s\" is too long (at most 32 characters)", q);
  }
  memcpy(out->name, arg, (size_t)(p - arg));
  out->name[p - arg] = '\0';
  if(!dvs_name_valid(out->name) || strlen(out->name) != (size_t)(p - arg)) {
    quote(q, sizeof(q), arg, (size_t)(p - arg));
    return dv_trust_fail(errbuf, errlen,
                "drover: bad template name \"%s\": use 1-32 of a-z 0-9 _ -", q);
  }
  if(!colon)
    return 0;

  /* key=value[,key=value]... */
  p = colon + 1;
  if(p == end)
    return dv_trust_fail(errbuf, errlen, "drover: nothing after ':' in --drover=%s:", out->name);
  while(p < end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *item_end = comma ? comma : end;
    const char *eq = memchr(p, '=', (size_t)(item_end - p));
    dvs_param *prm;
    size_t klen, vlen, bad;

    if(out->nparams == DVS_PARAMS_MAX)
      return dv_trust_fail(errbuf, errlen, "drover: more than 32 params");
    if(!eq) {
      quote(q, sizeof(q), p, (size_t)(item_end - p));
      return dv_trust_fail(errbuf, errlen, "drover: param \"%s\" is not key=value", q);
    }
    klen = (size_t)(eq - p);
    vlen = (size_t)(item_end - eq - 1);
    prm = &out->params[out->nparams];
    if(klen == 0 || klen > DVS_KEY_MAX) {
      quote(q, sizeof(q), p, klen);
      return dv_trust_fail(errbuf, errlen,
                  "drover: bad param name \"%s\": use [a-z_][a-z0-9_]{0,62}", q);
    }
    memcpy(prm->key, p, klen);
    prm->key[klen] = '\0';
    if(!dvs_key_valid(prm->key) || strlen(prm->key) != klen) {
      quote(q, sizeof(q), p, klen);
      return dv_trust_fail(errbuf, errlen,
                  "drover: bad param name \"%s\": use [a-z_][a-z0-9_]{0,62}", q);
    }
    for(i = 0; i < out->nparams; i++)
      if(!strcmp(out->params[i].key, prm->key))
        return dv_trust_fail(errbuf, errlen, "drover: param \"%s\" given twice", prm->key);
    if(vlen > DVS_VALUE_MAX) {
      snprintf(what, sizeof(what), "%zu", vlen);
      return dv_trust_fail(errbuf, errlen,
                  "drover: value of param \"%s\" is %s bytes long (at most 256)",
                  prm->key, what);
    }
    memcpy(prm->value, eq + 1, vlen);
    prm->value[vlen] = '\0';
    if(strlen(prm->value) != vlen)
      bad = strlen(prm->value) + 1;
    else
      bad = dvs_value_check(prm->value);
    if(bad) {
      quote(q, sizeof(q), eq + 1 + bad - 1, 1);
      snprintf(what, sizeof(what), "\"%s\" at position %zu", q, bad);
      return dv_trust_fail(errbuf, errlen,
                  "drover: value of param \"%s\" has a character that is not allowed: %s"
                  " (allowed: letters, digits and . _ - + : / @ %% =)",
                  prm->key, what);
    }
    out->nparams++;
    if(!comma)
      break;
    p = comma + 1;
    if(p == end)
      return dv_trust_fail(errbuf, errlen, "drover: trailing ',' in --drover value");
  }
  return 0;
}

/* Job stack names are the library's (plugin/lib/jobstack.c, libc only,
 * compiled into the shim too), so the shim, the engine and `drover gc`
 * agree by construction. */
int dvs_stack_name(char *buf, size_t size, uint32_t jobid, const char *name)
{
  return dvs_name_valid(name) ? drover_job_stack_name(buf, size, jobid, name) : -1;
}

int dvs_stack_jobid(const char *stack, uint32_t *jobid)
{
  return drover_job_stack_jobid(stack, jobid);
}
