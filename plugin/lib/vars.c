/* vars.c - param values given by the caller (--var, --var-file, SPANK).
 *
 * Values are kept as given: strings from "k=v", typed JSON values from a
 * var file. drover_stack_open() converts strings to the declared param
 * type and checks every value against the declaration, so a string "3"
 * from either source is accepted for an integer param.
 */
#include <stdlib.h>
#include <string.h>
#include "engine.h"

drover_vars *drover_vars_new(void)
{
  drover_vars *v = calloc(1, sizeof(*v));

  if(!v)
    return NULL;
  v->values = json_object();
  if(!v->values) {
    free(v);
    return NULL;
  }
  return v;
}

void drover_vars_free(drover_vars *vars)
{
  if(!vars)
    return;
  json_decref(vars->values);
  json_decref(vars->counts);
  free(vars);
}

/* Whether s is valid UTF-8 as jansson checks it (no overlong forms, no
 * surrogates, nothing above U+10FFFF), so that a NULL from json_string()
 * can be told apart: bad input, or the allocator. */
static int utf8_valid(const char *s)
{
  const unsigned char *p = (const unsigned char *)s;

  while(*p) {
    unsigned long cp;
    int n, i;
    if(*p < 0x80) {
      p++;
      continue;
    }
    if(*p >= 0xC2 && *p <= 0xDF) {
      n = 1;
      cp = *p & 0x1F;
    }
    else if((*p & 0xF0) == 0xE0) {
      n = 2;
      cp = *p & 0x0F;
    }
    else if(*p >= 0xF0 && *p <= 0xF4) {
      n = 3;
      cp = *p & 0x07;
    }
    else
      return 0;
    for(i = 1; i <= n; i++) {
      if((p[i] & 0xC0) != 0x80)
        return 0;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
       (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    p += n + 1;
  }
  return 1;
}

drover_code drover_vars_set(drover_vars *vars, const char *name, const char *value,
                            drover_error *err)
{
  json_t *s;

  if(!vars || !name || !value)
    return drover_error_set(err, DROVER_E_ARG, "vars: missing name or value");
  if(!name[0])
    return drover_error_set(err, DROVER_E_ARG, "vars: empty var name");
  if(!utf8_valid(value))
    return drover_error_set(err, DROVER_E_ARG,
                            "var \"%s\": value is not valid UTF-8", name);
  s = json_string(value);
  if(!s)
    return drover_error_set(err, DROVER_E_NOMEM, "vars: out of memory");
  if(json_object_set_new(vars->values, name, s))
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  return DROVER_OK;
}

drover_code drover_vars_set_kv(drover_vars *vars, const char *kv, drover_error *err)
{
  const char *eq;
  char *name;
  drover_code rc;

  if(!vars || !kv)
    return drover_error_set(err, DROVER_E_ARG, "vars: missing argument");
  eq = strchr(kv, '=');
  if(!eq || eq == kv)
    return drover_error_set(err, DROVER_E_ARG, "bad var \"%s\": expected NAME=VALUE",
                            kv);
  name = strndup(kv, (size_t)(eq - kv));
  if(!name)
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  rc = drover_vars_set(vars, name, eq + 1, err);
  free(name);
  return rc;
}

drover_code drover_vars_load_file(drover_vars *vars, const char *path, drover_error *err)
{
  json_error_t je;
  json_t *root, *v;
  const char *key;
  drover_code rc = DROVER_OK;

  if(!vars || !path)
    return drover_error_set(err, DROVER_E_ARG, "vars: no file");
  root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if(!root) {
    /* jansson says "unable to open" for I/O problems; line 0 then. */
    rc = drover_error_set(err, je.line > 0 ? DROVER_E_SYNTAX : DROVER_E_IO, "%s",
                          je.text);
    drover_error_locate(err, path, NULL);
    if(err && err->code == rc && je.line > 0) {
      err->line = je.line;
      err->column = je.column > 0 ? je.column : 1;
    }
    return rc;
  }
  if(!json_is_object(root)) {
    rc = drover_error_set(err, DROVER_E_PARAM, "var file must hold a JSON object");
    drover_error_locate(err, path, NULL);
    goto out;
  }
  json_object_foreach(root, key, v) {
    if(!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v)) {
      rc = drover_error_set(err, DROVER_E_PARAM,
                            "var \"%s\" must be a string, number or boolean", key);
      drover_error_locate(err, path, NULL);
      goto out;
    }
    if(json_object_set(vars->values, key, v)) {
      rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
      goto out;
    }
  }
out:
  json_decref(root);
  return rc;
}

drover_code drover_vars_count_set(drover_vars *vars, const char *name, long n,
                                  drover_error *err)
{
  if(!vars || !name || !*name || n < 0)
    return drover_error_set(err, DROVER_E_ARG, "vars: bad count override");
  if(!vars->counts && !(vars->counts = json_object()))
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  if(json_object_set_new(vars->counts, name, json_integer(n)))
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  return DROVER_OK;
}
