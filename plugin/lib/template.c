/* template.c - loading a template and checking its structure.
 *
 * jansson parses (rejecting duplicate keys); posmap.c indexes positions;
 * this file walks the JSON once and fills struct drover_template, reporting
 * the first problem at file:line:column. Everything that does not need
 * param values is checked here, so `drover validate` needs no vars:
 * unknown keys (with did-you-mean), types, names, param declarations and
 * their defaults, resource types and properties against the provider's
 * schema, depends_on, lifecycle, outputs, and (eval.c) references.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "scale.h"

#define NAME_RE "^[a-z_][a-z0-9_-]{0,62}$"
#define STACK_RE "^[a-z][a-z0-9-]{0,39}$"
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------
 * Small helpers
 */

static char *ptr_index(const char *base, size_t i)
{
  return dv_aprintf("%s/%zu", base, i);
}

/* "a string", "an integer", ... for messages. Static. */
static const char *jtype(const json_t *v)
{
  switch(json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  case JSON_NULL: return "null";
  }
  return "a value";
}

static int name_ok(const char *s, int stack)
{
  size_t i, n = strlen(s);

  if(n == 0 || n > (stack ? 40u : 63u))
    return 0;
  if(!((s[0] >= 'a' && s[0] <= 'z') || (!stack && s[0] == '_')))
    return 0;
  for(i = 1; i < n; i++) {
    char c = s[i];
    if(!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         (!stack && c == '_')))
      return 0;
  }
  return 1;
}

/* Compact JSON of a scalar for messages, cut to fit; into buf. */
static const char *show(const json_t *v, char *buf, size_t size)
{
  char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

  snprintf(buf, size, "%s", s ? s : "?");
  if(s && strlen(s) >= size && size > 4)
    memcpy(buf + size - 4, "...", 4);
  free(s);
  return buf;
}

static void fmt_num(char *buf, size_t size, double d)
{
  /* Whole numbers print without a fraction; no libm needed. */
  if(d > -1e15 && d < 1e15 && d == (double)(long long)d)
    snprintf(buf, size, "%.0f", d);
  else
    snprintf(buf, size, "%g", d);
}

/* Characters (code points) in a UTF-8 string. */
static size_t utf8_len(const char *s)
{
  size_t n = 0;
  for(; *s; s++)
    if(((unsigned char)*s & 0xC0) != 0x80)
      n++;
  return n;
}

/* " (did you mean "x"?)" or "" into buf. */
static const char *suggest(char *buf, size_t size, const char *word,
                           const char *const *cands, size_t n)
{
  const char *m = dv_did_you_mean(word, cands, n);

  if(m)
    snprintf(buf, size, " (did you mean \"%s\"?)", m);
  else
    buf[0] = '\0';
  return buf;
}

/* " (did you mean "x"?)" naming a registered provider close to name, or "". */
static const char *suggest_provider(char *buf, size_t size, const char *name)
{
  const char *cands[16];
  const drover_provider *p;
  size_t n;

  for(n = 0; n < NELEM(cands) && (p = dv_provider_at(n)) != NULL; n++)
    cands[n] = p->name;
  return suggest(buf, size, name, cands, n);
}

/* Rejects keys of obj not in allowed[]; where is e.g. `resource "web"`,
 * NULL for the top level. */
static drover_code check_keys(const drover_template *tpl, const json_t *obj,
                              const char *pointer, const char *const *allowed,
                              size_t n, const char *where, drover_error *err)
{
  const char *key;
  json_t *v;
  drover_code rc = DROVER_OK;

  json_object_foreach((json_t *)obj, key, v) {
    size_t i;
    char sug[160], *p;
    for(i = 0; i < n; i++)
      if(!strcmp(key, allowed[i]))
        break;
    if(i < n)
      continue;
    suggest(sug, sizeof(sug), key, allowed, n);
    p = dv_ptr_join(pointer, key);
    if(!p)
      return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    if(where)
      rc = dv_tpl_error(err, tpl, p, 1, DROVER_E_TEMPLATE,
                        "unknown key \"%s\" in %s%s", key, where, sug);
    else
      rc = dv_tpl_error(err, tpl, p, 1, DROVER_E_TEMPLATE,
                        "unknown top-level key \"%s\"%s", key, sug);
    free(p);
    return rc;
  }
  return rc;
}

static drover_code nomem(drover_error *err)
{
  return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
}

/* ------------------------------------------------------------------------
 * Params
 */

static const char *const param_types[] = {"string", "integer", "number", "boolean"};
static const char *const type_phrase[] = {"a string", "an integer", "a number",
                                          "a boolean"};

static int param_type_ok(dv_param_type t, const json_t *v)
{
  switch(t) {
  case DV_PARAM_STRING: return json_is_string(v);
  case DV_PARAM_INTEGER: return json_is_integer(v);
  case DV_PARAM_NUMBER: return json_is_number(v);
  case DV_PARAM_BOOLEAN: return json_is_boolean(v);
  }
  return 0;
}

int dv_param_check(const dv_param *p, const json_t *v, char *msg, size_t size)
{
  char vb[128], a[64];
  const char *shown;

  if(!param_type_ok(p->type, v)) {
    snprintf(msg, size, "expected %s, got %s", type_phrase[p->type], jtype(v));
    return 1;
  }
  shown = p->sensitive ? "the value" : show(v, vb, sizeof(vb));
  if(p->enum_values) {
    size_t i, o;
    int found = 0;
    for(i = 0; i < json_array_size(p->enum_values); i++) {
      json_t *e = json_array_get(p->enum_values, i);
      /* 2 and 2.0 are the same number for a number param. */
      if(json_equal(e, (json_t *)v) ||
         (json_is_number(e) && json_is_number(v) &&
          json_number_value(e) == json_number_value(v)))
        found = 1;
    }
    if(!found) {
      o = (size_t)snprintf(msg, size, "%s is not one of ", shown);
      for(i = 0; i < json_array_size(p->enum_values) && o < size; i++)
        o += (size_t)snprintf(msg + o, size - o, "%s%s", i ? ", " : "",
                              show(json_array_get(p->enum_values, i), vb, sizeof(vb)));
      return 1;
    }
  }
  if(p->pattern && json_is_string(v) &&
     regexec(&p->re, json_string_value(v), 0, NULL, 0) != 0) {
    snprintf(msg, size, "%s does not match pattern \"%s\"", shown, p->pattern);
    return 1;
  }
  if(p->type == DV_PARAM_STRING && json_is_string(v)) {
    double n = (double)utf8_len(json_string_value(v));
    if(p->has_min && n < p->min) {
      fmt_num(a, sizeof(a), p->min);
      snprintf(msg, size, "length %.0f is below the minimum %s", n, a);
      return 1;
    }
    if(p->has_max && n > p->max) {
      fmt_num(a, sizeof(a), p->max);
      snprintf(msg, size, "length %.0f is above the maximum %s", n, a);
      return 1;
    }
  }
  else if(json_is_number(v)) {
    double d = json_number_value(v);
    if(p->has_min && d < p->min) {
      fmt_num(a, sizeof(a), p->min);
      snprintf(msg, size, "%s is below the minimum %s", shown, a);
      return 1;
    }
    if(p->has_max && d > p->max) {
      fmt_num(a, sizeof(a), p->max);
      snprintf(msg, size, "%s is above the maximum %s", shown, a);
      return 1;
    }
  }
  return 0;
}

static drover_code parse_param(drover_template *tpl, dv_param *p, const char *name,
                               json_t *decl, const char *pointer, drover_error *err)
{
  static const char *const keys[] = {"type", "default", "description", "enum",
                                     "pattern", "min", "max", "sensitive"};
  char where[160], sug[160], msg[512];
  drover_code rc;
  json_t *t, *v;
  char *sub = NULL;
  size_t i;

  p->name = dv_strdup(name);
  p->pointer = dv_strdup(pointer);
  if(!p->name || !p->pointer)
    return nomem(err);
  if(!name_ok(name, 0))
    return dv_tpl_error(err, tpl, pointer, 1, DROVER_E_TEMPLATE,
                        "invalid param name \"%s\": names match %s", name, NAME_RE);
  if(!json_is_object(decl))
    return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_TEMPLATE,
                        "param \"%s\" must be an object, not %s", name, jtype(decl));
  snprintf(where, sizeof(where), "param \"%s\"", name);
  rc = check_keys(tpl, decl, pointer, keys, NELEM(keys), where, err);
  if(rc)
    return rc;

#define SUB(k) (free(sub), sub = dv_ptr_join(pointer, k))
  t = json_object_get(decl, "type");
  if(!t)
    return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_TEMPLATE,
                        "param \"%s\" has no \"type\"", name);
  SUB("type");
  if(!sub)
    return nomem(err);
  if(!json_is_string(t)) {
    rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                      "\"type\" of param \"%s\" must be a string, not %s", name, jtype(t));
    goto out;
  }
  for(i = 0; i < NELEM(param_types); i++)
    if(!strcmp(json_string_value(t), param_types[i]))
      break;
  if(i == NELEM(param_types)) {
    suggest(sug, sizeof(sug), json_string_value(t), param_types, NELEM(param_types));
    rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                      "param \"%s\" has unknown type \"%s\"%s", name,
                      json_string_value(t),
                      sug[0] ? sug : " (expected string, integer, number or boolean)");
    goto out;
  }
  p->type = (dv_param_type)i;

  if((v = json_object_get(decl, "description")) != NULL) {
    SUB("description");
    if(!json_is_string(v)) {
      rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                        "\"description\" of param \"%s\" must be a string, not %s",
                        name, jtype(v));
      goto out;
    }
    p->description = dv_strdup(json_string_value(v));
  }
  if((v = json_object_get(decl, "sensitive")) != NULL) {
    SUB("sensitive");
    if(!json_is_boolean(v)) {
      rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                        "\"sensitive\" of param \"%s\" must be a boolean, not %s",
                        name, jtype(v));
      goto out;
    }
    p->sensitive = json_is_true(v);
  }
  if((v = json_object_get(decl, "enum")) != NULL) {
    SUB("enum");
    if(!json_is_array(v) || json_array_size(v) == 0) {
      rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                        "\"enum\" of param \"%s\" must be a non-empty array", name);
      goto out;
    }
    for(i = 0; i < json_array_size(v); i++) {
      json_t *e = json_array_get(v, i);
      if(!param_type_ok(p->type, e)) {
        char *ep = ptr_index(sub, i);
        rc = dv_tpl_error(err, tpl, ep, 0, DROVER_E_TEMPLATE,
                          "\"enum\" of param \"%s\" holds %s; expected %s values",
                          name, jtype(e), param_types[p->type]);
        free(ep);
        goto out;
      }
    }
    p->enum_values = v;
  }
  if((v = json_object_get(decl, "pattern")) != NULL) {
    int r;
    SUB("pattern");
    if(p->type != DV_PARAM_STRING) {
      rc = dv_tpl_error(err, tpl, sub, 1, DROVER_E_TEMPLATE,
                        "\"pattern\" of param \"%s\" applies to strings only", name);
      goto out;
    }
    if(!json_is_string(v)) {
      rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                        "\"pattern\" of param \"%s\" must be a string, not %s",
                        name, jtype(v));
      goto out;
    }
    r = regcomp(&p->re, json_string_value(v), REG_EXTENDED | REG_NOSUB);
    if(r) {
      char rbuf[256];
      regerror(r, &p->re, rbuf, sizeof(rbuf));
      rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                        "bad \"pattern\" of param \"%s\": %s", name, rbuf);
      goto out;
    }
    p->pattern = dv_strdup(json_string_value(v));
    if(!p->pattern) {
      regfree(&p->re);
      rc = nomem(err);
      goto out;
    }
  }
  for(i = 0; i < 2; i++) {
    const char *k = i ? "max" : "min";
    if((v = json_object_get(decl, k)) == NULL)
      continue;
    SUB(k);
    if(p->type == DV_PARAM_BOOLEAN) {
      rc = dv_tpl_error(err, tpl, sub, 1, DROVER_E_TEMPLATE,
                        "\"%s\" of param \"%s\" does not apply to booleans", k, name);
      goto out;
    }
    if(!json_is_number(v)) {
      rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                        "\"%s\" of param \"%s\" must be a number, not %s", k, name,
                        jtype(v));
      goto out;
    }
    /* Integers are bounded by integers, string lengths count characters. */
    if(p->type != DV_PARAM_NUMBER && !json_is_integer(v)) {
      char nb[64];
      fmt_num(nb, sizeof(nb), json_number_value(v));
      rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                        "\"%s\" of %s param \"%s\" must be an integer, not %s", k,
                        param_types[p->type], name, nb);
      goto out;
    }
    if(i) {
      p->has_max = 1;
      p->max = json_number_value(v);
    }
    else {
      p->has_min = 1;
      p->min = json_number_value(v);
    }
  }
  if(p->has_min && p->has_max && p->min > p->max) {
    char a[64], b[64];
    SUB("max");
    fmt_num(a, sizeof(a), p->min);
    fmt_num(b, sizeof(b), p->max);
    rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                      "param \"%s\" has \"min\" %s above \"max\" %s", name, a, b);
    goto out;
  }
  if((v = json_object_get(decl, "default")) != NULL) {
    SUB("default");
    if(dv_param_check(p, v, msg, sizeof(msg))) {
      rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                        "default of param \"%s\": %s", name, msg);
      goto out;
    }
    p->def = v;
  }
  rc = DROVER_OK;
out:
#undef SUB
  free(sub);
  return rc;
}

/* ------------------------------------------------------------------------
 * Properties
 */

static int str_has_ref(const json_t *v)
{
  return json_is_string(v) && dv_has_ref(json_string_value(v));
}

/* Unknowns, and before evaluation strings with references, stand for any
 * value. */
static int wildcard(const json_t *v, int evaluated)
{
  return dv_is_unknown(v) || (!evaluated && str_has_ref(v));
}

static drover_code member_error(const drover_template *tpl, const char *pointer,
                                const char *seg, drover_error *err, const char *fmt,
                                ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* An error at pointer + "/" + seg. */
static drover_code member_error(const drover_template *tpl, const char *pointer,
                                const char *seg, drover_error *err, const char *fmt,
                                ...)
{
  char *p = dv_ptr_join(pointer, seg);
  char text[DROVER_ERROR_TEXT];
  drover_code rc;
  va_list ap;

  if(!p)
    return nomem(err);
  va_start(ap, fmt);
  vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  rc = dv_tpl_error(err, tpl, p, 0, DROVER_E_TEMPLATE, "%s", text);
  free(p);
  return rc;
}

drover_code dv_prop_check(const drover_template *tpl, const char *what,
                          const drover_prop *prop, const json_t *v,
                          const char *pointer, int evaluated, drover_error *err)
{
  const char *want = NULL, *key;
  json_t *m;
  char idx[32], vb[128];
  size_t i;

  if(wildcard(v, evaluated))
    return DROVER_OK;
  switch(prop->type) {
  case DROVER_T_ANY:
    return DROVER_OK;
  case DROVER_T_STRING:
    if(!json_is_string(v))
      want = "a string";
    break;
  case DROVER_T_INTEGER:
    if(!json_is_integer(v))
      want = "an integer";
    break;
  case DROVER_T_NUMBER:
    if(!json_is_number(v))
      want = "a number";
    break;
  case DROVER_T_BOOLEAN:
    if(!json_is_boolean(v))
      want = "a boolean";
    break;
  case DROVER_T_ARRAY:
    if(!json_is_array(v)) {
      want = "an array of strings";
      break;
    }
    for(i = 0; i < json_array_size(v); i++) {
      json_t *e = json_array_get(v, i);
      if(json_is_string(e) || dv_is_unknown(e))
        continue;
      snprintf(idx, sizeof(idx), "%zu", i);
      return member_error(tpl, pointer, idx, err,
                          "property \"%s\" of %s must be an array of strings, "
                          "but holds %s",
                          prop->name, what, jtype(e));
    }
    break;
  case DROVER_T_OBJECT:
    if(!json_is_object(v))
      want = "an object";
    break;
  case DROVER_T_OBJECT_ARRAY:
    if(!json_is_array(v)) {
      want = "an array of objects";
      break;
    }
    for(i = 0; i < json_array_size(v); i++) {
      json_t *e = json_array_get(v, i);
      if(json_is_object(e) || dv_is_unknown(e))
        continue;
      snprintf(idx, sizeof(idx), "%zu", i);
      return member_error(tpl, pointer, idx, err,
                          "property \"%s\" of %s must be an array of objects, "
                          "but element %zu is %s",
                          prop->name, what, i, jtype(e));
    }
    break;
  case DROVER_T_MAP_OF_OBJECTS:
    if(!json_is_object(v)) {
      want = "an object of objects";
      break;
    }
    json_object_foreach((json_t *)v, key, m) {
      if(json_is_object(m) || dv_is_unknown(m))
        continue;
      return member_error(tpl, pointer, key, err,
                          "property \"%s\" of %s maps \"%s\" to %s; values must "
                          "be objects",
                          prop->name, what, key, jtype(m));
    }
    break;
  case DROVER_T_STRING_MAP:
  case DROVER_T_OBJECT_MAP:
    if(!json_is_object(v)) {
      want = prop->type == DROVER_T_STRING_MAP ? "an object of strings"
                                               : "an object of string maps";
      break;
    }
    json_object_foreach((json_t *)v, key, m) {
      if(dv_is_unknown(m))
        continue;
      if(prop->type == DROVER_T_STRING_MAP) {
        if(json_is_string(m))
          continue;
        return member_error(tpl, pointer, key, err,
                            "property \"%s\" of %s maps \"%s\" to %s; values must be "
                            "strings",
                            prop->name, what, key, jtype(m));
      }
      else {
        const char *k2;
        json_t *m2;
        char *sub;
        drover_code rc = DROVER_OK;
        if(!json_is_object(m))
          return member_error(tpl, pointer, key, err,
                              "property \"%s\" of %s maps \"%s\" to %s; values must "
                              "be objects of strings",
                              prop->name, what, key, jtype(m));
        sub = dv_ptr_join(pointer, key);
        if(!sub)
          return nomem(err);
        json_object_foreach(m, k2, m2) {
          if(json_is_string(m2) || dv_is_unknown(m2))
            continue;
          rc = member_error(tpl, sub, k2, err,
                            "property \"%s\" of %s maps \"%s\" to a non-string; "
                            "values must be objects of strings",
                            prop->name, what, key);
          break;
        }
        free(sub);
        if(rc)
          return rc;
      }
    }
    break;
  }
  if(want)
    return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_TEMPLATE,
                        "property \"%s\" of %s must be %s, not %s", prop->name,
                        what, want, jtype(v));
  if(prop->enum_values && json_is_string(v)) {
    const char *s = json_string_value(v);
    char list[512], sug[160];
    size_t o = 0, n = 0;
    for(i = 0; prop->enum_values[i]; i++)
      if(!strcmp(prop->enum_values[i], s))
        return DROVER_OK;
    list[0] = '\0';
    for(i = 0; prop->enum_values[i] && o < sizeof(list); i++, n++)
      o += (size_t)snprintf(list + o, sizeof(list) - o, "%s\"%s\"", i ? ", " : "",
                            prop->enum_values[i]);
    suggest(sug, sizeof(sug), s, prop->enum_values, n);
    return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_TEMPLATE,
                        "property \"%s\" of %s must be one of %s, not %s%s",
                        prop->name, what, list, show(v, vb, sizeof(vb)), sug);
  }
  return DROVER_OK;
}

static const drover_prop *prop_find(const drover_rtype *rt, const char *name)
{
  const drover_prop *p;

  for(p = rt->props; p && p->name; p++)
    if(!strcmp(p->name, name))
      return p;
  return NULL;
}

/* NULL-terminated-free list of property names; caller frees the array. */
static const char **prop_names(const drover_rtype *rt, size_t *n)
{
  const drover_prop *p;
  const char **v;
  size_t k = 0;

  for(p = rt->props; p && p->name; p++)
    k++;
  v = calloc(k + 1, sizeof(*v));
  if(!v)
    return NULL;
  k = 0;
  for(p = rt->props; p && p->name; p++)
    v[k++] = p->name;
  *n = k;
  return v;
}

/* ------------------------------------------------------------------------
 * Resources
 */

static drover_code parse_type(drover_template *tpl, dv_block *b, json_t *t,
                              drover_error *err)
{
  char *sub = dv_ptr_join(b->pointer, "type");
  drover_code rc = DROVER_OK;
  const drover_provider *prov = NULL;
  const char *name;

  if(!sub)
    return nomem(err);
  if(!json_is_string(t)) {
    rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                      "\"type\" of resource \"%s\" must be a string, not %s", b->name,
                      jtype(t));
    goto out;
  }
  name = json_string_value(t);
  b->rtype = dv_rtype_find(name, &prov);
  if(!b->rtype) {
    const char *dot = strchr(name, '.');
    char pname[64];
    size_t plen = dot ? (size_t)(dot - name) : strlen(name);
    snprintf(pname, sizeof(pname), "%.*s", (int)plen, name);
    prov = dot ? dv_provider_find(pname) : NULL;
    if(prov) {
      const char *cands[64];
      char sug[160], list[512];
      size_t n = 0, o = 0;
      list[0] = '\0';
      for(n = 0; prov->types[n] && n < NELEM(cands); n++) {
        cands[n] = prov->types[n]->name;
        if(o < sizeof(list))
          o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", n ? ", " : "",
                                cands[n]);
      }
      suggest(sug, sizeof(sug), name, cands, n);
      if(sug[0])
        rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                          "unknown resource type \"%s\" in resource \"%s\"%s", name,
                          b->name, sug);
      else
        rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                          "unknown resource type \"%s\" in resource \"%s\" "
                          "(provider %s has %s)",
                          name, b->name, prov->name, list);
    }
    else if(dot && dv_provider_refusal(pname))
      rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_CONFIG,
                        "resource \"%s\": provider \"%s\": %s", b->name, pname,
                        dv_provider_refusal(pname));
    else if(dot) {
      char sug[160];
      rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                        "unknown resource type \"%s\" in resource \"%s\": no provider "
                        "\"%s\"%s",
                        name, b->name, pname,
                        suggest_provider(sug, sizeof(sug), pname));
    }
    else
      rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                        "unknown resource type \"%s\" in resource \"%s\" (types are "
                        "written PROVIDER.TYPE, e.g. \"lxd.instance\")",
                        name, b->name);
    goto out;
  }
  b->provider = prov;
  /* The type's own name (equal to name): provider tables live for the
   * process, so the block borrows it rather than keeping a copy each. */
  b->type_name = b->rtype->name;
out:
  free(sub);
  return rc;
}

/* Whether any string inside v holds a ${...} reference. */
static int any_ref(const json_t *v)
{
  const char *k;
  json_t *x;
  size_t i;

  if(json_is_string(v))
    return dv_has_ref(json_string_value(v));
  if(json_is_object(v)) {
    json_object_foreach((json_t *)v, k, x)
      if(any_ref(x))
        return 1;
  }
  if(json_is_array(v)) {
    json_array_foreach(v, i, x)
      if(any_ref(x))
        return 1;
  }
  return 0;
}

/* The provider's own check of a type (version 2 tables), on literal
 * properties; its relative pointer becomes file:line:col. */
static drover_code type_check(drover_template *tpl, const dv_block *b, json_t *props,
                              const char *sub, drover_error *err)
{
  char where[256], text[DROVER_ERROR_TEXT], *ptr;
  drover_error local;
  drover_code rc;
  int col;

  if(!b->provider || b->provider->version < 2 || !b->provider->check || !props ||
     any_ref(props))
    return DROVER_OK;
  drover_error_clear(&local);
  where[0] = '\0';
  rc = b->provider->check(b->rtype, props, where, sizeof(where), &local);
  if(!rc)
    return DROVER_OK;
  snprintf(text, sizeof(text), "resource \"%.100s\" (%.100s): %.700s", b->name, b->type_name,
           local.text);
  col = local.column;
  ptr = dv_aprintf("%s%s", sub, where);
  if(!ptr)
    return nomem(err);
  rc = dv_tpl_error(err, tpl, ptr, 0, rc == DROVER_E_NOMEM ? rc : DROVER_E_TEMPLATE,
                    "%s", text);
  /* A column inside a one-line string value: past its opening quote. */
  if(col > 0 && err && err->column > 0 && json_is_string(json_object_get(props, where + 1)))
    err->column += col;
  free(ptr);
  return rc;
}

static drover_code parse_properties(drover_template *tpl, dv_block *b, json_t *props,
                                    drover_error *err)
{
  char *sub = dv_ptr_join(b->pointer, "properties"), *pp = NULL;
  char what[160], sug[160];
  const char **names = NULL;
  size_t nnames = 0;
  const char *key;
  json_t *v;
  const drover_prop *dp;
  drover_code rc = DROVER_OK;

  if(!sub)
    return nomem(err);
  snprintf(what, sizeof(what), "resource \"%s\"", b->name);
  if(props && !json_is_object(props)) {
    rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                      "\"properties\" of resource \"%s\" must be an object, not %s",
                      b->name, jtype(props));
    goto out;
  }
  names = prop_names(b->rtype, &nnames);
  if(!names) {
    rc = nomem(err);
    goto out;
  }
  if(props) {
    json_object_foreach(props, key, v) {
      free(pp);
      pp = dv_ptr_join(sub, key);
      if(!pp) {
        rc = nomem(err);
        goto out;
      }
      dp = prop_find(b->rtype, key);
      if(!dp) {
        suggest(sug, sizeof(sug), key, names, nnames);
        rc = dv_tpl_error(err, tpl, pp, 1, DROVER_E_TEMPLATE,
                          "unknown property \"%s\" in resource \"%s\"%s", key, b->name,
                          sug);
        goto out;
      }
      rc = dv_prop_check(tpl, what, dp, v, pp, 0, err);
      if(rc)
        goto out;
    }
  }
  if(props && (rc = dv_rules_check(tpl, what, b, props, sub, 0, err)))
    goto out;
  for(dp = b->rtype->props; dp && dp->name; dp++) {
    if(!(dp->flags & DROVER_PROP_REQUIRED) || (props && json_object_get(props, dp->name)))
      continue;
    rc = dv_tpl_error(err, tpl, props ? sub : b->pointer, 0, DROVER_E_TEMPLATE,
                      "resource \"%s\" (%s) is missing required property \"%s\"",
                      b->name, b->type_name, dp->name);
    goto out;
  }
  rc = type_check(tpl, b, props, sub, err);
  if(rc)
    goto out;
  b->properties = json_incref(props);
out:
  free(names);
  free(pp);
  free(sub);
  return rc;
}

static drover_code parse_count(drover_template *tpl, dv_block *b, json_t *c,
                               drover_error *err)
{
  char *sub = dv_ptr_join(b->pointer, "count");
  char vb[128];
  drover_code rc = DROVER_OK;

  if(!sub)
    return nomem(err);
  if((json_is_integer(c) && json_integer_value(c) >= 0) || str_has_ref(c))
    b->count = json_incref(c);
  else
    rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                      "count of resource \"%s\" must be a non-negative integer or a "
                      "reference to a param, not %s",
                      b->name,
                      json_is_object(c) || json_is_array(c) ? jtype(c)
                                                            : show(c, vb, sizeof(vb)));
  free(sub);
  return rc;
}

/* Array of strings at pointer into a new char* vector. */
static drover_code string_list(drover_template *tpl, json_t *a, const char *pointer,
                               const char *what, char ***out, size_t *n,
                               drover_error *err)
{
  size_t i;

  if(!json_is_array(a))
    return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_TEMPLATE,
                        "%s must be an array of strings, not %s", what, jtype(a));
  *out = calloc(json_array_size(a) + 1, sizeof(char *));
  if(!*out)
    return nomem(err);
  for(i = 0; i < json_array_size(a); i++) {
    json_t *e = json_array_get(a, i);
    if(!json_is_string(e)) {
      char *p = ptr_index(pointer, i);
      drover_code rc = dv_tpl_error(err, tpl, p, 0, DROVER_E_TEMPLATE,
                                    "%s must be an array of strings, but holds %s",
                                    what, jtype(e));
      free(p);
      return rc;
    }
    (*out)[i] = dv_strdup(json_string_value(e));
    if(!(*out)[i])
      return nomem(err);
    (*n)++;
  }
  return DROVER_OK;
}

static drover_code parse_depends(drover_template *tpl, dv_block *b, json_t *d,
                                 drover_error *err)
{
  char *sub = dv_ptr_join(b->pointer, "depends_on"), *ep = NULL;
  char what[160], sug[160];
  const char **names = NULL;
  drover_code rc;
  size_t i;

  if(!sub)
    return nomem(err);
  snprintf(what, sizeof(what), "depends_on of resource \"%s\"", b->name);
  rc = string_list(tpl, d, sub, what, &b->depends_on, &b->n_depends_on, err);
  if(rc)
    goto out;
  for(i = 0; i < b->n_depends_on; i++) {
    const char *dn = b->depends_on[i];
    ep = ptr_index(sub, i);
    if(!ep) {
      rc = nomem(err);
      goto out;
    }
    if(!strcmp(dn, b->name)) {
      rc = dv_tpl_error(err, tpl, ep, 0, DROVER_E_TEMPLATE,
                        "resource \"%s\" depends on itself", b->name);
      goto out;
    }
    if(dv_block_find(tpl, dn) == (size_t)-1) {
      size_t j;
      /* The candidate list only on this error path: building it for
       * every block would cost blocks x blocks. */
      names = calloc(tpl->nblocks + 1, sizeof(*names));
      if(!names) {
        rc = nomem(err);
        goto out;
      }
      for(j = 0; j < tpl->nblocks; j++)
        names[j] = tpl->blocks[j].name;
      suggest(sug, sizeof(sug), dn, names, tpl->nblocks);
      rc = dv_tpl_error(err, tpl, ep, 0, DROVER_E_TEMPLATE,
                        "resource \"%s\" depends on unknown resource \"%s\"%s",
                        b->name, dn, sug);
      goto out;
    }
    free(ep);
    ep = NULL;
  }
out:
  free(ep);
  free(names);
  free(sub);
  return rc;
}

static drover_code parse_lifecycle(drover_template *tpl, dv_block *b, json_t *lc,
                                   drover_error *err)
{
  static const char *const keys[] = {"prevent_destroy", "create_before_destroy",
                                     "ignore_changes"};
  char *sub = dv_ptr_join(b->pointer, "lifecycle"), *kp = NULL;
  char where[160], sug[160];
  const char **names = NULL;
  size_t nnames = 0, i;
  drover_code rc;
  json_t *v;

  if(!sub)
    return nomem(err);
  if(!json_is_object(lc)) {
    rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                      "lifecycle of resource \"%s\" must be an object, not %s", b->name,
                      jtype(lc));
    goto out;
  }
  snprintf(where, sizeof(where), "lifecycle of resource \"%s\"", b->name);
  rc = check_keys(tpl, lc, sub, keys, NELEM(keys), where, err);
  if(rc)
    goto out;
  for(i = 0; i < 2; i++) {
    if((v = json_object_get(lc, keys[i])) == NULL)
      continue;
    free(kp);
    kp = dv_ptr_join(sub, keys[i]);
    if(!kp) {
      rc = nomem(err);
      goto out;
    }
    if(!json_is_boolean(v)) {
      rc = dv_tpl_error(err, tpl, kp, 0, DROVER_E_TEMPLATE,
                        "lifecycle.%s of resource \"%s\" must be a boolean, not %s",
                        keys[i], b->name, jtype(v));
      goto out;
    }
    if(json_is_true(v))
      b->lifecycle |= i ? DV_LC_CREATE_BEFORE_DESTROY : DV_LC_PREVENT_DESTROY;
  }
  if((v = json_object_get(lc, "ignore_changes")) != NULL) {
    free(kp);
    kp = dv_ptr_join(sub, "ignore_changes");
    if(!kp) {
      rc = nomem(err);
      goto out;
    }
    snprintf(where, sizeof(where), "lifecycle.ignore_changes of resource \"%s\"",
             b->name);
    rc = string_list(tpl, v, kp, where, &b->ignore_changes, &b->n_ignore_changes, err);
    if(rc)
      goto out;
    names = prop_names(b->rtype, &nnames);
    if(!names) {
      rc = nomem(err);
      goto out;
    }
    for(i = 0; i < b->n_ignore_changes; i++) {
      char *ep;
      if(prop_find(b->rtype, b->ignore_changes[i]))
        continue;
      suggest(sug, sizeof(sug), b->ignore_changes[i], names, nnames);
      ep = ptr_index(kp, i);
      rc = dv_tpl_error(err, tpl, ep, 0, DROVER_E_TEMPLATE,
                        "lifecycle.ignore_changes of resource \"%s\" names \"%s\", "
                        "which is not a property of %s%s",
                        b->name, b->ignore_changes[i], b->type_name, sug);
      free(ep);
      goto out;
    }
  }
out:
  free(names);
  free(kp);
  free(sub);
  return rc;
}

static drover_code parse_resource(drover_template *tpl, dv_block *b, json_t *decl,
                                  drover_error *err)
{
  static const char *const keys[] = {"type", "properties", "count", "depends_on",
                                     "lifecycle"};
  char where[160];
  drover_code rc;
  json_t *v;

  snprintf(where, sizeof(where), "resource \"%s\"", b->name);
  rc = check_keys(tpl, decl, b->pointer, keys, NELEM(keys), where, err);
  if(rc)
    return rc;
  v = json_object_get(decl, "type");
  if(!v)
    return dv_tpl_error(err, tpl, b->pointer, 0, DROVER_E_TEMPLATE,
                        "resource \"%s\" has no \"type\"", b->name);
  rc = parse_type(tpl, b, v, err);
  if(!rc)
    rc = parse_properties(tpl, b, json_object_get(decl, "properties"), err);
  if(!rc && (v = json_object_get(decl, "count")) != NULL)
    rc = parse_count(tpl, b, v, err);
  if(!rc && (v = json_object_get(decl, "depends_on")) != NULL)
    rc = parse_depends(tpl, b, v, err);
  if(!rc && (v = json_object_get(decl, "lifecycle")) != NULL)
    rc = parse_lifecycle(tpl, b, v, err);
  return rc;
}

/* ------------------------------------------------------------------------
 * Outputs and providers
 */

static drover_code parse_output(drover_template *tpl, dv_output *o, json_t *decl,
                                drover_error *err)
{
  static const char *const keys[] = {"value", "description", "sensitive"};
  char where[160];
  char *sub = NULL;
  drover_code rc;
  json_t *v;

  if(!name_ok(o->name, 0))
    return dv_tpl_error(err, tpl, o->pointer, 1, DROVER_E_TEMPLATE,
                        "invalid output name \"%s\": names match %s", o->name, NAME_RE);
  if(!json_is_object(decl))
    return dv_tpl_error(err, tpl, o->pointer, 0, DROVER_E_TEMPLATE,
                        "output \"%s\" must be an object, not %s", o->name, jtype(decl));
  snprintf(where, sizeof(where), "output \"%s\"", o->name);
  rc = check_keys(tpl, decl, o->pointer, keys, NELEM(keys), where, err);
  if(rc)
    return rc;
  o->value = json_object_get(decl, "value");
  if(!o->value)
    return dv_tpl_error(err, tpl, o->pointer, 0, DROVER_E_TEMPLATE,
                        "output \"%s\" has no \"value\"", o->name);
  if((v = json_object_get(decl, "description")) != NULL) {
    if(!json_is_string(v)) {
      sub = dv_ptr_join(o->pointer, "description");
      rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                        "\"description\" of output \"%s\" must be a string, not %s",
                        o->name, jtype(v));
      free(sub);
      return rc;
    }
    o->description = dv_strdup(json_string_value(v));
  }
  if((v = json_object_get(decl, "sensitive")) != NULL) {
    if(!json_is_boolean(v)) {
      sub = dv_ptr_join(o->pointer, "sensitive");
      rc = dv_tpl_error(err, tpl, sub, 0, DROVER_E_TEMPLATE,
                        "\"sensitive\" of output \"%s\" must be a boolean, not %s",
                        o->name, jtype(v));
      free(sub);
      return rc;
    }
    o->sensitive = json_is_true(v);
  }
  return DROVER_OK;
}

static drover_code parse_providers(drover_template *tpl, json_t *pv, drover_error *err)
{
  const char *key;
  json_t *v;
  drover_code rc = DROVER_OK;

  if(!json_is_object(pv))
    return dv_tpl_error(err, tpl, "/providers", 0, DROVER_E_TEMPLATE,
                        "\"providers\" must be an object, not %s", jtype(pv));
  json_object_foreach(pv, key, v) {
    char *p = dv_ptr_join("/providers", key);
    if(!p)
      return nomem(err);
    if(!dv_provider_find(key)) {
      char sug[160];
      const char *why = dv_provider_refusal(key);
      if(why)
        rc = dv_tpl_error(err, tpl, p, 1, DROVER_E_CONFIG, "provider \"%s\": %s", key,
                          why);
      else
        rc = dv_tpl_error(err, tpl, p, 1, DROVER_E_TEMPLATE, "unknown provider \"%s\"%s",
                          key, suggest_provider(sug, sizeof(sug), key));
    }
    else if(!json_is_object(v))
      rc = dv_tpl_error(err, tpl, p, 0, DROVER_E_TEMPLATE,
                        "settings of provider \"%s\" must be an object, not %s", key,
                        jtype(v));
    else
      rc = dv_settings_check(tpl, dv_provider_find(key), v, p, err);
    free(p);
    if(rc)
      return rc;
  }
  tpl->providers = pv;
  return DROVER_OK;
}

/* ------------------------------------------------------------------------
 * The template
 */

/* Indexes the named blocks, then parses each declaration. */
static drover_code index_blocks(drover_template *tpl, drover_error *err)
{
  drover_code rc = dv_index_init(&tpl->block_ix, tpl->nblocks);
  size_t i;

  for(i = 0; !rc && i < tpl->nblocks; i++)
    rc = dv_index_put(&tpl->block_ix, tpl->blocks[i].name, i);
  return rc ? nomem(err) : DROVER_OK;
}

/* b's name and pointer. A valid name needs no escaping in a pointer, so
 * one allocation holds "/resources/<name>" and, after its NUL, the name
 * (about 30 bytes less a block); any other name gets the two apart, for
 * the message that rejects it. DROVER_E_NOMEM. */
static drover_code block_names(dv_block *b, const char *key, size_t klen)
{
  if(klen < 64 && memchr(key, '\0', klen) == NULL) {
    char tmp[64];
    memcpy(tmp, key, klen);
    tmp[klen] = '\0';
    if(name_ok(tmp, 0)) {
      b->pointer = malloc(11 + 2 * (klen + 1));
      if(!b->pointer)
        return DROVER_E_NOMEM;
      memcpy(b->pointer, "/resources/", 11);
      memcpy(b->pointer + 11, tmp, klen + 1);
      b->name = b->pointer + 11 + klen + 1;
      memcpy(b->name, tmp, klen + 1);
      return DROVER_OK;
    }
  }
  b->name = malloc(klen + 1);
  if(!b->name)
    return DROVER_E_NOMEM;
  memcpy(b->name, key, klen);
  b->name[klen] = '\0';
  b->pointer = dv_ptr_join("/resources", b->name);
  return b->pointer ? DROVER_OK : DROVER_E_NOMEM;
}

/* Whether b->name lives inside b->pointer's allocation (block_names). */
static int names_joined(const dv_block *b)
{
  return b->pointer && b->name == b->pointer + strlen(b->pointer) + 1;
}

static drover_code resources_from_tree(drover_template *tpl, json_t *res,
                                       drover_error *err)
{
  const char *key;
  json_t *v;
  drover_code rc;
  size_t i;

  tpl->blocks = calloc(json_object_size(res) + 1, sizeof(*tpl->blocks));
  if(!tpl->blocks)
    return nomem(err);
  /* Names first, so depends_on can name resources declared later. */
  json_object_foreach(res, key, v) {
    dv_block *b = &tpl->blocks[tpl->nblocks++];
    if(block_names(b, key, strlen(key)))
      return nomem(err);
    if(!name_ok(key, 0))
      return dv_tpl_error(err, tpl, b->pointer, 1, DROVER_E_TEMPLATE,
                          "invalid resource name \"%s\": names match %s", key, NAME_RE);
    if(!json_is_object(v))
      return dv_tpl_error(err, tpl, b->pointer, 0, DROVER_E_TEMPLATE,
                          "resource \"%s\" must be an object, not %s", key, jtype(v));
  }
  rc = index_blocks(tpl, err);
  for(i = 0; !rc && i < tpl->nblocks; i++)
    rc = parse_resource(tpl, &tpl->blocks[i], json_object_get(res, tpl->blocks[i].name),
                        err);
  return rc;
}

/* The fast load's resources: each declaration parsed on its own from its
 * bytes and dropped once its block is filled, so no tree of every
 * resource exists at once. Any problem (a bad name, a duplicate, a
 * declaration jansson refuses) returns an error, and load starts again
 * from the whole text, which reports it as it always did. */
static drover_code resources_from_text(drover_template *tpl, const dv_res_span *spans,
                                       size_t n, drover_error *err)
{
  drover_code rc;
  size_t i;

  tpl->blocks = calloc(n + 1, sizeof(*tpl->blocks));
  if(!tpl->blocks)
    return nomem(err);
  for(i = 0; i < n; i++) {
    dv_block *b = &tpl->blocks[tpl->nblocks++];
    if(block_names(b, tpl->text + spans[i].key_off, spans[i].key_len))
      return nomem(err);
    if(!name_ok(b->name, 0))
      return DROVER_E_TEMPLATE;
  }
  rc = index_blocks(tpl, err);
  if(!rc && tpl->block_ix.n != tpl->nblocks)
    rc = DROVER_E_TEMPLATE; /* a name declared twice */
  for(i = 0; !rc && i < n; i++) {
    json_t *decl = dv_json_load(tpl->text + spans[i].val_off, spans[i].val_len,
                                JSON_REJECT_DUPLICATES);
    if(!decl)
      return DROVER_E_SYNTAX;
    rc = parse_resource(tpl, &tpl->blocks[i], decl, err);
    json_decref(decl);
  }
  return rc;
}

/* spans: the declarations in the text (fast load), or NULL: from the tree. */
static drover_code validate(drover_template *tpl, const dv_res_span *spans,
                            size_t nspans, drover_error *err)
{
  static const char *const keys[] = {"drover", "stack", "description", "params",
                                     "providers", "resources", "outputs"};
  json_t *root = tpl->root, *v, *res;
  const char *key;
  drover_code rc;
  char vb[64];

  if(!json_is_object(root))
    return dv_tpl_error(err, tpl, "", 0, DROVER_E_TEMPLATE,
                        "a template must be a JSON object, not %s", jtype(root));
  rc = check_keys(tpl, root, "", keys, NELEM(keys), NULL, err);
  if(rc)
    return rc;

  if((v = json_object_get(root, "drover")) != NULL &&
     !(json_is_integer(v) && json_integer_value(v) == 1))
    return dv_tpl_error(err, tpl, "/drover", 0, DROVER_E_TEMPLATE,
                        "unsupported template format %s (\"drover\" must be 1)",
                        show(v, vb, sizeof(vb)));
  v = json_object_get(root, "stack");
  if(!v)
    return dv_tpl_error(err, tpl, "", 0, DROVER_E_TEMPLATE,
                        "missing \"stack\" (the stack name)");
  if(!json_is_string(v))
    return dv_tpl_error(err, tpl, "/stack", 0, DROVER_E_TEMPLATE,
                        "\"stack\" must be a string, not %s", jtype(v));
  if(!name_ok(json_string_value(v), 1))
    return dv_tpl_error(err, tpl, "/stack", 0, DROVER_E_TEMPLATE,
                        "invalid stack name \"%s\": stack names match %s",
                        json_string_value(v), STACK_RE);
  tpl->stack = dv_strdup(json_string_value(v));
  if(!tpl->stack)
    return nomem(err);
  if((v = json_object_get(root, "description")) != NULL) {
    if(!json_is_string(v))
      return dv_tpl_error(err, tpl, "/description", 0, DROVER_E_TEMPLATE,
                          "\"description\" must be a string, not %s", jtype(v));
    tpl->description = dv_strdup(json_string_value(v));
  }

  if((v = json_object_get(root, "params")) != NULL) {
    if(!json_is_object(v))
      return dv_tpl_error(err, tpl, "/params", 0, DROVER_E_TEMPLATE,
                          "\"params\" must be an object, not %s", jtype(v));
    tpl->params = calloc(json_object_size(v) + 1, sizeof(*tpl->params));
    if(!tpl->params)
      return nomem(err);
    json_object_foreach(v, key, res) {
      char *p = dv_ptr_join("/params", key);
      if(!p)
        return nomem(err);
      rc = parse_param(tpl, &tpl->params[tpl->nparams++], key, res, p, err);
      free(p);
      if(rc)
        return rc;
    }
  }

  if((v = json_object_get(root, "providers")) != NULL) {
    rc = parse_providers(tpl, v, err);
    if(rc)
      return rc;
  }

  res = json_object_get(root, "resources");
  if(!res)
    return dv_tpl_error(err, tpl, "", 0, DROVER_E_TEMPLATE, "missing \"resources\"");
  if(!json_is_object(res))
    return dv_tpl_error(err, tpl, "/resources", 0, DROVER_E_TEMPLATE,
                        "\"resources\" must be an object, not %s", jtype(res));
  if(spans)
    rc = resources_from_text(tpl, spans, nspans, err);
  else
    rc = resources_from_tree(tpl, res, err);
  if(rc)
    return rc;

  if((v = json_object_get(root, "outputs")) != NULL) {
    if(!json_is_object(v))
      return dv_tpl_error(err, tpl, "/outputs", 0, DROVER_E_TEMPLATE,
                          "\"outputs\" must be an object, not %s", jtype(v));
    tpl->outputs = calloc(json_object_size(v) + 1, sizeof(*tpl->outputs));
    if(!tpl->outputs)
      return nomem(err);
    json_object_foreach(v, key, res) {
      dv_output *o = &tpl->outputs[tpl->noutputs++];
      o->name = dv_strdup(key);
      o->pointer = dv_ptr_join("/outputs", key);
      if(!o->name || !o->pointer)
        return nomem(err);
      rc = parse_output(tpl, o, res, err);
      if(rc)
        return rc;
    }
  }
  rc = dv_refs_check(tpl, err);
  if(!rc)
    rc = dv_scale_targets_check(tpl, err);
  if(rc)
    return rc;
  return dv_taint_compute(tpl, err);
}

/* ------------------------------------------------------------------------
 * After load: what the engine keeps of each block
 */

typedef struct refs_ctx {
  drover_template *tpl;
  dv_block *b;
  size_t cap;         /* of tpl->refs */
} refs_ctx;

static drover_code keep_ref(void *ud, const dv_ref *ref, const char *pointer,
                            drover_error *err)
{
  refs_ctx *x = ud;
  drover_template *tpl = x->tpl;

  (void)pointer;
  if(ref->kind != DV_REF_RESOURCE)
    return DROVER_OK;
  if(tpl->nrefs == x->cap) {
    size_t cap = x->cap ? 2 * x->cap : 64;
    dv_bref *g = realloc(tpl->refs, cap * sizeof(*g));
    if(!g)
      return nomem(err);
    tpl->refs = g;
    x->cap = cap;
  }
  tpl->refs[tpl->nrefs].block = dv_block_find(tpl, ref->name);
  tpl->refs[tpl->nrefs++].index = ref->index;
  x->b->nrefs++;
  return DROVER_OK;
}

/* Records each block's resource references (the graph's edges), then
 * drops the properties tree of every block without count whose text
 * span is known: a block declared on its own is evaluated once per open,
 * and parsing its few bytes again then costs about what copying the tree
 * did, while the tree cost about 0.4 KB a block for as long as the
 * template lived (doc/dev/engine-scale.md). Counted blocks keep theirs:
 * they are evaluated once per instance. */
static drover_code compact_blocks(drover_template *tpl, const dv_res_span *given,
                                  size_t ngiven, drover_error *err)
{
  dv_res_span *found = NULL;
  const dv_res_span *spans = given;
  size_t i, n = ngiven, res_off, res_len;
  drover_code rc = DROVER_OK;

  refs_ctx x = {tpl, NULL, 0};

  /* Every block's references go into one buffer (no allocation per
   * block); the blocks point into it once it has stopped moving. */
  for(i = 0; i < tpl->nblocks && !rc; i++) {
    x.b = &tpl->blocks[i];
    if(tpl->blocks[i].properties)
      rc = dv_refs_each(tpl, tpl->blocks[i].properties, tpl->blocks[i].pointer, keep_ref,
                        &x, err);
  }
  for(i = 0, n = 0; !rc && i < tpl->nblocks; i++) {
    tpl->blocks[i].refs = tpl->blocks[i].nrefs ? tpl->refs + n : NULL;
    n += tpl->blocks[i].nrefs;
  }
  n = ngiven;
  if(rc || !tpl->nblocks)
    return rc;
  if(!spans && dv_scan_resources(tpl->text, tpl->len, &res_off, &res_len, &found, &n))
    return DROVER_OK; /* keys spelled with escapes: the trees stay */
  if(!spans)
    spans = found;
  for(i = 0; n == tpl->nblocks && i < n; i++) {
    dv_block *b = &tpl->blocks[i];
    /* Members come in declaration order, as jansson keeps them. */
    if(spans[i].key_len != strlen(b->name) ||
       memcmp(tpl->text + spans[i].key_off, b->name, spans[i].key_len))
      break;
    if(b->count || !b->properties || !spans[i].props_len)
      continue;
    json_decref(b->properties);
    b->properties = NULL;
    b->props_off = spans[i].props_off;
    b->props_len = spans[i].props_len;
  }
  free(found);
  return DROVER_OK;
}

drover_code dv_block_properties(const drover_template *tpl, const dv_block *b,
                                json_t **out)
{
  *out = NULL;
  if(b->properties) {
    *out = json_incref(b->properties);
    return DROVER_OK;
  }
  if(!b->props_len)
    return DROVER_OK;
  /* The text was accepted at load: only the allocator can fail here. */
  *out = dv_json_load(tpl->text + b->props_off, b->props_len, 0);
  return *out ? DROVER_OK : DROVER_E_NOMEM;
}

/* 1-based line:column of byte offset off in buf, counting characters. */
static void offset_pos(const char *buf, size_t len, size_t off, int *line, int *col)
{
  size_t i;

  *line = 1;
  *col = 1;
  for(i = 0; i < off && i < len; i++) {
    if(buf[i] == '\n') {
      (*line)++;
      *col = 1;
    }
    else if(((unsigned char)buf[i] & 0xC0) != 0x80)
      (*col)++;
  }
}

static drover_code syntax_error(const drover_template *tpl, const json_error_t *je,
                                drover_error *err)
{
  int line = je->line > 0 ? je->line : 1;
  int col = je->column > 0 ? je->column : 1;

  if(!strncmp(je->text, "duplicate object key", 20) && je->position >= 2 &&
     (size_t)je->position <= tpl->len && tpl->text[je->position - 1] == '"') {
    /* jansson points after the second key; point at its start and name it. */
    size_t end = (size_t)je->position - 1, j = end;
    while(j > 0) {
      size_t bs = 0;
      j--;
      while(j >= bs + 1 && tpl->text[j - bs - 1] == '\\')
        bs++;
      if(tpl->text[j] == '"' && bs % 2 == 0)
        break;
    }
    offset_pos(tpl->text, tpl->len, j, &line, &col);
    drover_error_set(err, DROVER_E_SYNTAX, "duplicate key \"%.*s\"",
                     (int)(end - j - 1), tpl->text + j + 1);
  }
  else {
    /* jansson's column is the last character of the token it names in
     * "near '<token>'"; point at the token's first character instead. */
    const char *near = strstr(je->text, "near '");
    size_t tl = near ? strlen(near + 6) : 0;
    if(tl >= 1 && near[6 + tl - 1] == '\'' && !memchr(near + 6, '\n', tl - 1)) {
      char tok[JSON_ERROR_TEXT_LENGTH];
      int chars;
      snprintf(tok, sizeof(tok), "%.*s", (int)(tl - 1), near + 6);
      chars = (int)utf8_len(tok);
      if(chars > 0 && col - chars + 1 >= 1)
        col = col - chars + 1;
    }
    drover_error_set(err, DROVER_E_SYNTAX, "%s", je->text);
  }
  drover_error_locate(err, tpl->source, NULL);
  if(err && err->code == DROVER_E_SYNTAX && !err->line) {
    err->line = line;
    err->column = col;
  }
  return DROVER_E_SYNTAX;
}

/* The whole text but the "resources" object, which becomes {}, parsed:
 * the fast load's root. Cut out rather than blanked, so its bytes are not
 * read again (jansson keeps no positions, and errors are located in
 * tpl->text). NULL when jansson refuses it or on OOM. */
static json_t *parse_without_resources(const drover_template *tpl, size_t res_off,
                                       size_t res_len)
{
  size_t tail = tpl->len - res_off - res_len, len = res_off + 2 + tail;
  char *mod;
  json_t *root;

  if(res_len < 2 || res_off + res_len > tpl->len)
    return NULL;
  mod = malloc(len + 1);
  if(!mod)
    return NULL;
  memcpy(mod, tpl->text, res_off);
  memcpy(mod + res_off, "{}", 2);
  memcpy(mod + res_off + 2, tpl->text + res_off + res_len, tail + 1);
  root = dv_json_load(mod, len, JSON_REJECT_DUPLICATES);
  free(mod);
  return root;
}

/* One attempt at loading. fast: each declaration parsed on its own from
 * its bytes (span.c); it fails on any problem at all, and the caller then
 * loads again the ordinary way (fast 0: the whole text as one tree),
 * which reports problems with their positions as it always did. */
static drover_code load_attempt(drover_template **out, const char *buf, size_t len,
                                const char *source, int fast, drover_error *err)
{
  drover_template *tpl = NULL;
  dv_res_span *spans = NULL;
  size_t nspans = 0, res_off = 0, res_len = 0;
  json_error_t je;
  drover_code rc;

  tpl = calloc(1, sizeof(*tpl));
  if(!tpl)
    return nomem(err);
  tpl->source = dv_strdup(source ? source : "(template)");
  tpl->text = malloc(len + 1);
  if(!tpl->source || !tpl->text) {
    rc = nomem(err);
    goto out;
  }
  if(len)
    memcpy(tpl->text, buf, len);
  tpl->text[len] = '\0';
  tpl->len = len;
  if(fast) {
    rc = DROVER_E_SYNTAX;
    if(dv_scan_resources(tpl->text, len, &res_off, &res_len, &spans, &nspans) ||
       !(tpl->root = parse_without_resources(tpl, res_off, res_len)))
      goto out;
  }
  else {
    /* jansson may fail before it writes je (an early allocation). */
    memset(&je, 0, sizeof(je));
    tpl->root = json_loadb(tpl->text, len, JSON_REJECT_DUPLICATES, &je);
    if(!tpl->root) {
      /* jansson leaves the text empty when its parser's allocations fail. */
      if(json_error_code(&je) == json_error_out_of_memory || !je.text[0])
        rc = nomem(err);
      else
        rc = syntax_error(tpl, &je, err);
      goto out;
    }
  }
  /* Positions are indexed only when an error needs one (posmap.c). */
  if(pthread_mutex_init(&tpl->posmap_mu, NULL)) {
    rc = drover_error_set(err, DROVER_E_INTERNAL, "%s: cannot create a lock",
                          tpl->source);
    goto out;
  }
  tpl->posmap_mu_ok = 1;
  rc = validate(tpl, fast ? spans : NULL, nspans, err);
  if(!rc)
    rc = compact_blocks(tpl, fast ? spans : NULL, nspans, err);
  if(rc)
    goto out;
  /* What the engine needs of each declaration is now in its dv_block
   * (properties and count as references of their own); the declaration
   * objects and the resources table go, about half a KB a block
   * (doc/dev/engine-scale.md). The text stays for saved plans and
   * positions. */
  json_object_del(tpl->root, "resources");
  *out = tpl;
  tpl = NULL;
out:
  free(spans);
  drover_template_free(tpl);
  return rc;
}

drover_code drover_template_load_buffer(drover_template **out, const char *buf,
                                        size_t len, const char *source,
                                        drover_error *err)
{
  if(!out)
    return drover_error_set(err, DROVER_E_ARG, "template: no output pointer");
  *out = NULL;
  if(!buf && len)
    return drover_error_set(err, DROVER_E_ARG, "template: no buffer");
  /* The fast way first, recording nothing (no error detail, so no
   * position index either: the text beyond the declarations read so far
   * is not known to be JSON yet, and posmap.c assumes it is). On any
   * failure the ordinary way says what is wrong, with its position. */
  if(!load_attempt(out, buf, len, source, 1, NULL))
    return DROVER_OK;
  return load_attempt(out, buf, len, source, 0, err);
}

drover_code drover_template_load_file(drover_template **out, const char *path,
                                      drover_error *err)
{
  FILE *f = NULL;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  drover_code rc = DROVER_OK;

  if(!out || !path)
    return drover_error_set(err, DROVER_E_ARG, "template: no path");
  *out = NULL;
  f = fopen(path, "rb");
  if(!f) {
    rc = drover_error_set(err, DROVER_E_IO, "cannot open %s: %s", path, strerror(errno));
    goto out;
  }
  for(;;) {
    size_t got;
    if(len + 4096 > cap) {
      char *grown;
      cap = cap ? cap * 2 : 8192;
      grown = realloc(buf, cap);
      if(!grown) {
        rc = nomem(err);
        goto out;
      }
      buf = grown;
    }
    got = fread(buf + len, 1, cap - len, f);
    len += got;
    if(got == 0)
      break;
  }
  if(ferror(f)) {
    rc = drover_error_set(err, DROVER_E_IO, "cannot read %s: %s", path, strerror(errno));
    goto out;
  }
  rc = drover_template_load_buffer(out, buf, len, path, err);
out:
  if(f)
    fclose(f);
  free(buf);
  return rc;
}

void drover_template_free(drover_template *tpl)
{
  size_t i, j;

  if(!tpl)
    return;
  for(i = 0; i < tpl->nparams; i++) {
    dv_param *p = &tpl->params[i];
    free(p->name);
    if(p->pattern)
      regfree(&p->re);
    free(p->pattern);
    free(p->description);
    free(p->pointer);
  }
  free(tpl->params);
  for(i = 0; i < tpl->nblocks; i++) {
    dv_block *b = &tpl->blocks[i];
    if(!names_joined(b))
      free(b->name);
    for(j = 0; b->depends_on && b->depends_on[j]; j++)
      free(b->depends_on[j]);
    free(b->depends_on);
    for(j = 0; b->ignore_changes && b->ignore_changes[j]; j++)
      free(b->ignore_changes[j]);
    free(b->ignore_changes);
    free(b->pointer);
    for(j = 0; j < b->nsecret_ptrs; j++)
      free(b->secret_ptrs[j]);
    free(b->secret_ptrs);
    json_decref(b->properties);
    json_decref(b->count);
  }
  dv_index_free(&tpl->block_ix);
  free(tpl->refs);
  free(tpl->blocks);
  for(i = 0; i < tpl->noutputs; i++) {
    free(tpl->outputs[i].name);
    free(tpl->outputs[i].description);
    free(tpl->outputs[i].pointer);
  }
  free(tpl->outputs);
  dv_posmap_free(tpl->posmap);
  if(tpl->posmap_mu_ok)
    pthread_mutex_destroy(&tpl->posmap_mu);
  json_decref(tpl->root);
  free(tpl->stack);
  free(tpl->description);
  free(tpl->text);
  free(tpl->source);
  free(tpl);
}

const char *drover_template_stack(const drover_template *tpl)
{
  return tpl ? tpl->stack : NULL;
}

const char *drover_template_source(const drover_template *tpl)
{
  return tpl ? tpl->source : NULL;
}

size_t drover_template_param_count(const drover_template *tpl)
{
  return tpl ? tpl->nparams : 0;
}

const char *drover_template_param_name(const drover_template *tpl, size_t i)
{
  return tpl && i < tpl->nparams ? tpl->params[i].name : NULL;
}

int drover_template_param_sensitive(const drover_template *tpl, const char *name)
{
  size_t i;

  for(i = 0; tpl && name && i < tpl->nparams; i++)
    if(!strcmp(tpl->params[i].name, name))
      return tpl->params[i].sensitive;
  return 0;
}
