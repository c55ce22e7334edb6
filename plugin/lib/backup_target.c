/* backup_target.c - what every backup command does to one target: find
 * its provider's instance type, run a hook inside it. Below backup.c and
 * backup_export.c, which both use it. */
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "backup.h"

/* The instance type of provider vt ("<name>.instance"), or NULL. */
const drover_rtype *dv_instance_type(const drover_provider *vt)
{
  size_t i, n = strlen(vt->name);

  for(i = 0; vt->types[i]; i++)
    if(!strncmp(vt->types[i]->name, vt->name, n) &&
       !strcmp(vt->types[i]->name + n, ".instance"))
      return vt->types[i];
  return NULL;
}

int dv_backup_target_type(const drover_provider *vt, const drover_rtype *t)
{
  return t && (t == dv_instance_type(vt) || (dv_rtype_flags(vt, t) & DROVER_RTYPE_BACKUP));
}

/* Runs one hook; fills the entry's "<which>" member. Returns non-zero
 * when it failed (a pre failure aborts the snapshot). */
int dv_backup_hook(const dv_bctx *c, const dv_btarget *t, char **argv, const char *which,
                   json_t *entry)
{
  drover_error e;
  char *output = NULL;
  int status = -1;
  drover_code rc;
  json_t *h;

  drover_error_clear(&e);
  if(!t->vt->exec)
    rc = drover_error_set(&e, DROVER_E_UNSUPPORTED, "provider %s cannot run commands",
                          t->vt->name);
  else
    rc = t->vt->exec(t->state, t->name, (const char *const *)argv,
                     drover_now() + c->p.hook_timeout, &status, &output, &e);
  if(output) {
    /* Hooks may print what the template marked sensitive: redact as the
     * log sink does (a secret of 4+ characters grows to at most 11). */
    size_t len = strlen(output), cap = 3 * len + 64;
    char *red = realloc(output, cap);
    if(red) {
      output = red;
      dv_redact(output, cap);
    }
    else {
      free(output);
      output = NULL;
    }
  }
  h = json_pack("{s:i, s:s}", "status", status, "output", output ? output : "");
  if(h && rc)
    json_object_set_new(h, "error", json_string(e.text));
  if(h)
    json_object_set_new(entry, which, h);
  if(rc)
    dv_log(c->stack, DROVER_LOG_ERROR, "backup: %s hook in %s could not run: %s", which,
           t->name, e.text);
  else if(status)
    dv_log(c->stack, DROVER_LOG_ERROR, "backup: %s hook in %s exited with %d", which,
           t->name, status);
  free(output);
  return rc || status;
}

