/* backup_provider.c - which provider holds each backup.policy of a
 * template, decided at load (template.c, after every block is parsed).
 *
 * backup.policy is cloud-neutral: every provider that can record a policy
 * declares the type (LXD as an unused profile, AWS as an empty placement
 * group). The policy goes to the provider of its targets: the blocks its
 * "targets" name (a resource name, an address "db[0]", or a reference
 * ${resources.db.id}), or the selector's "provider". A policy whose
 * targets belong to two providers is refused at file:line:col, so each
 * policy's snapshots, retention and on_delete live in one cloud: write
 * one policy per provider (doc/backups.md). With nothing to go by (a
 * selector without a provider, targets given as cloud names) the type's
 * first provider holds it, as before. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "backup.h"

#define POLICY_TYPE "backup.policy"

/* The block a target string names, or (size_t)-1 (a cloud name). */
static size_t target_block(const drover_template *tpl, const char *s)
{
  const char *ref = strstr(s, "${resources.");
  char name[128];
  size_t n;

  if(ref) {
    s = ref + strlen("${resources.");
    n = strcspn(s, ".[}");
  }
  else
    n = strcspn(s, "[");
  if(n == 0 || n >= sizeof(name))
    return (size_t)-1;
  memcpy(name, s, n);
  name[n] = '\0';
  return dv_block_find(tpl, name);
}

/* provider's own backup.policy type, or NULL when it serves none. */
static const drover_rtype *policy_type_of(const drover_provider *p)
{
  size_t i;

  for(i = 0; p->types[i]; i++)
    if(!strcmp(p->types[i]->name, POLICY_TYPE))
      return p->types[i];
  return NULL;
}

/* Sets *chosen from the targets of props (pointer: the block's); an error
 * at the first target of a second provider. */
static drover_code by_targets(const drover_template *tpl, const dv_block *b,
                              const json_t *props, const drover_provider **chosen,
                              size_t *first, drover_error *err)
{
  const json_t *targets = json_object_get(props, "targets"), *v;
  size_t i;

  json_array_foreach(targets, i, v) {
    const char *s = json_string_value(v);
    size_t t = s ? target_block(tpl, s) : (size_t)-1;
    const drover_provider *p;
    char *ptr;
    drover_code rc;
    if(t == (size_t)-1 || !(p = tpl->blocks[t].provider))
      continue;
    if(!*chosen) {
      *chosen = p;
      *first = t;
      continue;
    }
    if(p == *chosen)
      continue;
    ptr = dv_aprintf("%s/properties/targets/%zu", b->pointer, i);
    if(!ptr)
      return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    rc = dv_tpl_error(err, tpl, ptr, 0, DROVER_E_TEMPLATE,
                      "resource \"%s\" (backup.policy): target \"%s\" is a %s resource "
                      "but \"%s\" is a %s one; a policy is held by one provider, so "
                      "write one policy per provider",
                      b->name, s, p->name, tpl->blocks[*first].name, (*chosen)->name);
    free(ptr);
    return rc;
  }
  return DROVER_OK;
}

/* What the holder cannot do, refused where the template asks for it:
 * hooks need an exec API (EC2 has none), export the provider's backup
 * archive (EBS snapshots have no such export). References in props do
 * not hide these keys, so this runs where the provider's check cannot. */
static drover_code capable(const drover_template *tpl, const dv_block *b,
                           const json_t *props, drover_error *err)
{
  static const char *const hooks[] = {"pre", "post", "check"};
  const drover_provider *p = b->provider;
  const json_t *h = json_object_get(props, "hooks");
  const char *what = NULL, *key = NULL;
  char *ptr;
  drover_code rc;
  size_t i;

  for(i = 0; !p->exec && i < sizeof(hooks) / sizeof(hooks[0]); i++)
    if(json_object_get(h, hooks[i])) {
      key = hooks[i];
      what = "has no API to run commands inside its instances, so hooks cannot run "
             "(back up without hooks, or make the data consistent another way; "
             "doc/backups.md)";
      break;
    }
  if(!what && !p->backup_export && json_object_get(props, "export")) {
    what = "has no backup archive to export: its snapshots stay in the cloud "
           "(doc/backups.md)";
  }
  if(!what)
    return DROVER_OK;
  ptr = key ? dv_aprintf("%s/properties/hooks/%s", b->pointer, key)
            : dv_aprintf("%s/properties/export", b->pointer);
  if(!ptr)
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  rc = dv_tpl_error(err, tpl, ptr, 0, DROVER_E_TEMPLATE,
                    "resource \"%s\" (backup.policy): provider %s %s", b->name, p->name,
                    what);
  free(ptr);
  return rc;
}

drover_code dv_policy_providers_choose(drover_template *tpl, dv_recheck_fn recheck,
                                       drover_error *err)
{
  drover_code rc = DROVER_OK;
  size_t i;

  for(i = 0; !rc && i < tpl->nblocks; i++) {
    dv_block *b = &tpl->blocks[i];
    const drover_provider *chosen = NULL;
    const drover_rtype *rt;
    const char *sp;
    const json_t *props;
    size_t first = 0;
    if(!b->type_name || strcmp(b->type_name, POLICY_TYPE))
      continue;
    /* The parsed tree: blocks are compacted only after load. */
    props = b->properties;
    sp = json_string_value(json_object_get(json_object_get(props, "selector"), "provider"));
    if(sp && !(chosen = dv_provider_find(sp))) {
      char *ptr = dv_aprintf("%s/properties/selector/provider", b->pointer);
      rc = ptr ? dv_tpl_error(err, tpl, ptr, 0, DROVER_E_TEMPLATE,
                              "resource \"%s\" (backup.policy): no provider \"%s\"",
                              b->name, sp)
               : drover_error_set(err, DROVER_E_NOMEM, "out of memory");
      free(ptr);
    }
    else if(!sp)
      rc = by_targets(tpl, b, props, &chosen, &first, err);
    if(!rc && chosen && chosen != b->provider) {
      char *ptr = dv_aprintf("%s/properties/%s", b->pointer,
                             sp ? "selector/provider" : "targets");
      rt = policy_type_of(chosen);
      if(!ptr)
        rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
      else if(!rt)
        rc = dv_tpl_error(err, tpl, ptr, 0, DROVER_E_TEMPLATE,
                          "resource \"%s\" (backup.policy): provider %s cannot hold a "
                          "backup policy",
                          b->name, chosen->name);
      else {
        b->provider = chosen;
        b->rtype = rt;
        /* The new holder's own check (template.c's, passed down so this
         * file never calls back into the loader). */
        rc = recheck(tpl, b, err);
      }
      free(ptr);
    }
    if(!rc && b->provider)
      rc = capable(tpl, b, props, err);
  }
  return rc;
}
