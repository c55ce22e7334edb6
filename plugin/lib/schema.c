/* schema.c - what a provider's tables say about values, checked at
 * validate: the attributes a type exports (references), value rules
 * (non-empty, bounds, patterns), the cloud-name rule and the provider's
 * settings. The loader calls these with the type's tables; it has no
 * per-type or per-property checks of its own.
 *
 * Members appended in table version 2 are read only from tables that
 * declare it, so an older provider still loads (with fewer checks).
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"

/* Whether s may hold a reference. Over-approximates dv_has_ref ("$${"
 * escapes count too: such a string is then checked only once evaluated)
 * so this file does not call back into ref.c, which calls it. */
static int may_hold_ref(const char *s)
{
  return strstr(s, "${") != NULL;
}

static int v2(const drover_provider *vt)
{
  return vt && vt->version >= 2;
}

static const char *jtype(const json_t *v)
{
  switch(json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a real number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  case JSON_NULL: return "null";
  }
  return "a value";
}

static void fmt_num(char *buf, size_t size, double d)
{
  if(d > -1e15 && d < 1e15 && d == (double)(long long)d)
    snprintf(buf, size, "%.0f", d);
  else
    snprintf(buf, size, "%g", d);
}

static size_t utf8_len(const char *s)
{
  size_t n = 0;

  for(; *s; s++)
    if(((unsigned char)*s & 0xC0) != 0x80)
      n++;
  return n;
}

/* ------------------------------------------------------------------------
 * Rules
 */

/* 1 with a phrase in why when v breaks r; 0 otherwise. */
static int rule_broken(const drover_rule *r, const json_t *v, char *why, size_t size)
{
  char a[64];
  double d;

  if(json_is_string(v)) {
    const char *s = json_string_value(v);
    size_t n = utf8_len(s);
    if((r->flags & DROVER_RULE_NONEMPTY) && !*s) {
      snprintf(why, size, "must not be empty");
      return 1;
    }
    if((r->flags & DROVER_RULE_MIN) && (double)n < r->min) {
      fmt_num(a, sizeof(a), r->min);
      snprintf(why, size, "must be at least %s characters long", a);
      return 1;
    }
    if((r->flags & DROVER_RULE_MAX) && (double)n > r->max) {
      fmt_num(a, sizeof(a), r->max);
      snprintf(why, size, "must be at most %s characters long, not %zu", a, n);
      return 1;
    }
    if(r->pattern) {
      regex_t re;
      char *anchored = dv_aprintf("^(%s)$", r->pattern);
      int bad = 1;
      if(anchored && !regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB)) {
        bad = regexec(&re, s, 0, NULL, 0) != 0;
        regfree(&re);
      }
      free(anchored);
      if(bad) {
        snprintf(why, size, "must be %s", r->pattern_doc ? r->pattern_doc : r->pattern);
        return 1;
      }
    }
    return 0;
  }
  if(!json_is_number(v))
    return 0;
  d = json_number_value(v);
  if((r->flags & DROVER_RULE_MIN) &&
     ((r->flags & DROVER_RULE_ABOVE_MIN) ? !(d > r->min) : !(d >= r->min))) {
    fmt_num(a, sizeof(a), r->min);
    snprintf(why, size, "must be %s %s", (r->flags & DROVER_RULE_ABOVE_MIN) ?
             "above" : "at least", a);
    return 1;
  }
  if((r->flags & DROVER_RULE_MAX) && !(d <= r->max)) {
    fmt_num(a, sizeof(a), r->max);
    snprintf(why, size, "must be at most %s", a);
    return 1;
  }
  return 0;
}

drover_code dv_rules_check(const drover_template *tpl, const char *what,
                           const dv_block *b, const json_t *props, const char *pointer,
                           int evaluated, drover_error *err)
{
  const drover_rule *r;
  const json_t *v;
  char why[256], *p = NULL;
  drover_code rc = DROVER_OK;

  if(!v2(b->provider) || !json_is_object(props))
    return DROVER_OK;
  for(r = b->rtype->rules; r && r->prop && !rc; r++) {
    v = json_object_get(props, r->prop);
    if(!v || dv_is_unknown(v) || (!evaluated && json_is_string(v) &&
                                  may_hold_ref(json_string_value(v))))
      continue;
    if(!rule_broken(r, v, why, sizeof(why)))
      continue;
    p = dv_ptr_join(pointer, r->prop);
    rc = dv_tpl_error(err, tpl, p ? p : pointer, 0, DROVER_E_TEMPLATE,
                      "property \"%s\" of %s %s", r->prop, what, why);
    free(p);
  }
  v = json_object_get(props, "name");
  if(!rc && b->rtype->name_check && json_is_string(v) &&
     (evaluated || !may_hold_ref(json_string_value(v))) &&
     b->rtype->name_check(json_string_value(v), why, sizeof(why))) {
    p = dv_ptr_join(pointer, "name");
    rc = dv_tpl_error(err, tpl, p ? p : pointer, 0, DROVER_E_TEMPLATE,
                      "name \"%s\" of %s is not a valid %s name: %s",
                      json_string_value(v), what, b->type_name, why);
    free(p);
  }
  return rc;
}

/* ------------------------------------------------------------------------
 * References
 */

/* Whether references may read attr of type rt: a property, "name", or an
 * export. A type that does not declare its exports accepts anything. */
static int has_attr(const drover_provider *vt, const drover_rtype *rt, const char *attr,
                    const char **cands, size_t *n, size_t max)
{
  const drover_prop *p;
  const char *const *e;
  int found = !strcmp(attr, "name");

  if(!v2(vt) || !rt->exports)
    return 1;
  *n = 0;
  if(max)
    cands[(*n)++] = "name";
  for(p = rt->props; p && p->name; p++) {
    if(!strcmp(p->name, attr))
      found = 1;
    if(*n < max && strcmp(p->name, "name"))
      cands[(*n)++] = p->name;
  }
  for(e = rt->exports; *e; e++) {
    if(!strcmp(*e, attr))
      found = 1;
    if(*n < max)
      cands[(*n)++] = *e;
  }
  return found;
}

drover_code dv_attr_check(const drover_template *tpl, const dv_block *target,
                          const dv_ref *ref, const char *pointer, drover_error *err)
{
  const char *cands[64], *m;
  char list[512], sug[160];
  size_t n = 0, i, o = 0;

  if(!target->rtype || has_attr(target->provider, target->rtype, ref->attr, cands, &n,
                                sizeof(cands) / sizeof(cands[0])))
    return DROVER_OK;
  list[0] = '\0';
  for(i = 0; i < n && o < sizeof(list); i++)
    o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", cands[i]);
  sug[0] = '\0';
  if((m = dv_did_you_mean(ref->attr, cands, n)) != NULL)
    snprintf(sug, sizeof(sug), " (did you mean \"%s\"?)", m);
  return dv_tpl_error(err, tpl, pointer, 0, DROVER_E_REFERENCE,
                      "resource \"%s\" (%s) has no attribute \"%s\" in reference "
                      "\"%s\"%s; it has: %s",
                      target->name, target->type_name, ref->attr, ref->text,
                      sug, list);
}

/* ------------------------------------------------------------------------
 * Provider settings
 */

static int type_ok(drover_ptype t, const json_t *v)
{
  switch(t) {
  case DROVER_T_STRING: return json_is_string(v);
  case DROVER_T_INTEGER: return json_is_integer(v);
  case DROVER_T_NUMBER: return json_is_number(v);
  case DROVER_T_BOOLEAN: return json_is_boolean(v);
  default: return 1;
  }
}

static const char *type_phrase(drover_ptype t)
{
  switch(t) {
  case DROVER_T_STRING: return "a string";
  case DROVER_T_INTEGER: return "an integer";
  case DROVER_T_NUMBER: return "a number";
  case DROVER_T_BOOLEAN: return "a boolean";
  default: return "a value";
  }
}

drover_code dv_settings_check(const drover_template *tpl, const drover_provider *vt,
                              const json_t *settings, const char *pointer,
                              drover_error *err)
{
  const struct drover_setting *s;
  const char *key, *cands[64], *m;
  json_t *v;
  char why[256], sug[160], *p;
  drover_code rc = DROVER_OK;
  size_t n;

  if(!v2(vt) || !vt->settings || !json_is_object(settings))
    return DROVER_OK;
  json_object_foreach((json_t *)settings, key, v) {
    n = 0;
    for(s = vt->settings; s->name; s++) {
      if(!strcmp(s->name, key))
        break;
      if(n < sizeof(cands) / sizeof(cands[0]))
        cands[n++] = s->name;
    }
    p = dv_ptr_join(pointer, key);
    if(!p)
      return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    if(!s->name) {
      sug[0] = '\0';
      if((m = dv_did_you_mean(key, cands, n)) != NULL)
        snprintf(sug, sizeof(sug), " (did you mean \"%s\"?)", m);
      rc = dv_tpl_error(err, tpl, p, 1, DROVER_E_TEMPLATE,
                        "unknown setting \"%s\" of provider \"%s\"%s", key, vt->name,
                        sug);
    }
    else if(!type_ok(s->type, v))
      rc = dv_tpl_error(err, tpl, p, 0, DROVER_E_TEMPLATE,
                        "setting \"%s\" of provider \"%s\" must be %s, not %s", key,
                        vt->name, type_phrase(s->type), jtype(v));
    else if(rule_broken(&s->rule, v, why, sizeof(why)))
      rc = dv_tpl_error(err, tpl, p, 0, DROVER_E_TEMPLATE,
                        "setting \"%s\" of provider \"%s\" %s", key, vt->name, why);
    free(p);
    if(rc)
      return rc;
  }
  return DROVER_OK;
}
