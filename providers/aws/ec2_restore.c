/* ec2_restore.c - drover restore and backup verify on EBS snapshots
 * (drover_provider.h's snapshot_restore and snapshot_clone) for aws.volume
 * targets. doc/aws.md ("Restoring a volume").
 *
 * EBS cannot roll a volume back, so a restore makes a new volume from the
 * snapshot and swaps it in, in steps that are each safe to repeat:
 *  1. CreateVolume from the snapshot in the old volume's zone, with its
 *     type, size and every tag (the ownership labels included, so the next
 *     plan adopts it unchanged), plus drover:restore-from = the old ID
 *     (what a re-run looks the new volume up by) and drover:restore (the
 *     record: old ID, snapshot, instance, device);
 *  2. wait until it is available ("error": the snapshot did not restore);
 *  3. if the old volume was attached: detach it, attach the new one at the
 *     same device of the same instance (taken from the record, since the
 *     old one may be detached already);
 *  4. the old volume's backups follow the new one (drover:target retagged),
 *     so retention and prune go on;
 *  5. delete the old volume;
 *  6. remove the restore tags.
 * Killed anywhere, running the restore again (on the old volume or, once
 * the refresh picks it, on the new one) finds the record and carries on
 * from where it stopped: never a second new volume, and the old one is
 * deleted only after the new one is in its place.
 *
 * An instance target (i-...: its snapshots are one per volume) is refused:
 * restoring it means replacing its root volume as well, which EC2 does
 * only through a replace-root-volume task on a running instance.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "ec2.h"

/* What drover:restore holds; "-" for no instance or device. */
typedef struct restore_rec {
  char old[64], snapshot[256], inst[64], dev[64];
} restore_rec;

static drover_code refuse_instance(const char *target, const char *what, drover_error *err)
{
  return ec2_fail(err, DROVER_E_UNSUPPORTED, target,
                  "%s from the EBS snapshots of an instance is not supported: it would "
                  "replace its root volume too. Make the data volumes (aws.volume) the "
                  "policy's targets and restore those",
                  what);
}

static const char *pstr(const drover_live *l, const char *key)
{
  const char *v = json_string_value(json_object_get(l->properties, key));
  return v ? v : "";
}

static const char *astr(const drover_live *l, const char *key)
{
  return json_string_value(json_object_get(l->attributes, key));
}

static int rec_read(const drover_live *nv, restore_rec *r)
{
  const char *t = astr(nv, "restore");

  memset(r, 0, sizeof(*r));
  return !t || sscanf(t, "%63s %255s %63s %63s", r->old, r->snapshot, r->inst, r->dev) != 4;
}

/* The completed snapshot of target that the backup named snapshot took,
 * into id (size bytes). */
static drover_code snapshot_id(ec2_state *st, const char *target, const char *snapshot,
                               char *id, size_t size, drover_error *err)
{
  drover_live_list found = {NULL, 0, 0};
  drover_code rc = ec2_backup_find(st, target, snapshot, &found, err);
  size_t i;

  for(i = 0; !rc && i < found.count; i++)
    if(!strcmp(found.items[i]->status, "completed")) {
      snprintf(id, size, "%s", found.items[i]->name);
      break;
    }
  if(!rc && i == found.count)
    rc = ec2_fail(err, DROVER_E_NOT_FOUND, target,
                  "no completed snapshot %s of %s (see drover backup list)", snapshot, target);
  drover_live_list_clear(&found);
  return rc;
}

/* The new volume an earlier run of restoring old from snapshot made, or
 * *out NULL. One made for another snapshot is an unfinished restore the
 * caller must finish first (CONFLICT). */
static drover_code find_new(ec2_state *st, const char *old, const char *snapshot,
                            drover_live **out, drover_error *err)
{
  drover_live_list found = {NULL, 0, 0};
  restore_rec r;
  drover_code rc = ec2_volume_find(st, EC2_TAG_RESTORE_FROM, old, NULL, NULL, &found, err);

  *out = NULL;
  if(!rc && found.count) {
    if(rec_read(found.items[0], &r) || strcmp(r.snapshot, snapshot))
      rc = ec2_fail(err, DROVER_E_CONFLICT, old,
                    "volume %s is the new volume of an unfinished restore of %s from %s: "
                    "run that restore again (--snapshot %s) to finish it first",
                    found.items[0]->name, old, r.snapshot[0] ? r.snapshot : "?",
                    r.snapshot[0] ? r.snapshot : "?");
    else {
      *out = found.items[0];
      found.items[0] = NULL;
    }
  }
  drover_live_list_clear(&found);
  return rc;
}

typedef struct made_ctx {
  ec2_state *st;
  const char *old, *snapshot;
} made_ctx;

/* Before a retry of the CreateVolume: did the try whose answer was lost
 * make the volume? Then stop (CONFLICT) and adopt it. */
static drover_code made_before(void *ud, drover_error *err)
{
  made_ctx *m = ud;
  drover_live *l = NULL;
  drover_code rc = find_new(m->st, m->old, m->snapshot, &l, err);

  if(!rc && l)
    rc = ec2_fail(err, DROVER_E_CONFLICT, m->old, "volume %s was made by the first try",
                  l->name);
  drover_live_free(l);
  return rc;
}

/* Step 1: the new volume from old's snapshot, tagged as old is, plus the
 * restore tags. *out (caller frees) is the volume as described. No
 * ClientToken: a new volume that a plan deleted in the middle of a restore
 * must be made again by the re-run, which a reused token would refuse; a
 * lost answer is found by its tags before each retry instead. */
static drover_code create_new(ec2_state *st, const drover_live *old, const char *snapshot,
                              drover_live **out, drover_error *err)
{
  drover_live_list made = {NULL, 0, 0};
  made_ctx m = {st, old->name, snapshot};
  char snap[64], *next = NULL;
  xmlDoc *doc = NULL;
  ec2_form f;
  drover_code rc;

  *out = NULL;
  if(!old->stack || !old->address)
    return ec2_fail(err, DROVER_E_ARG, old->name, "volume %s carries no drover labels",
                    old->name);
  rc = snapshot_id(st, old->name, snapshot, snap, sizeof(snap), err);
  if(rc)
    return rc;
  ec2_form_restore(&f, old, snap, snapshot);
  f.before_retry = made_before;
  f.retry_ud = &m;
  rc = ec2_call(st, &f, old->address, &doc, NULL, err);
  ec2_form_free(&f);
  if(rc == DROVER_E_CONFLICT) {
    /* The lost first answer made it. */
    drover_error_clear(err);
    rc = find_new(st, old->name, snapshot, out, err);
    if(!rc && !*out)
      rc = ec2_fail(err, DROVER_E_PROVIDER, old->address, "the restored volume vanished");
    goto out;
  }
  if(!rc)
    rc = ec2_parse_volumes(doc, &made, &next, err);
  if(!rc && made.count != 1)
    rc = ec2_fail(err, DROVER_E_PROVIDER, old->address, "CreateVolume answered no volume");
  if(!rc) {
    *out = made.items[0];
    made.items[0] = NULL;
  }
out:
  aws_xml_free(doc);
  drover_live_list_clear(&made);
  free(next);
  return rc;
}

/* Step 4: every snapshot with drover:target = from gets to. */
static drover_code move_backups(ec2_state *st, const char *from, const char *to,
                                const char *address, drover_error *err)
{
  drover_live_list found = {NULL, 0, 0};
  drover_code rc = ec2_backup_find(st, from, NULL, &found, err);
  size_t i = 0;

  while(!rc && i < found.count) {
    ec2_form f;
    unsigned k;
    ec2_form_init(&f, "CreateTags");
    /* CreateTags takes up to 1000 resources per call. */
    for(k = 1; i < found.count && k <= 1000; i++, k++)
      ec2_form_addf(&f, found.items[i]->name, "ResourceId.%u", k);
    ec2_form_add(&f, "Tag.1.Key", "drover:target");
    ec2_form_add(&f, "Tag.1.Value", to);
    rc = ec2_do(st, &f, address, NULL, err);
  }
  drover_live_list_clear(&found);
  return rc;
}

/* Step 3: the new volume where the old one was. */
static drover_code swap_attachment(ec2_state *st, const drover_live *nv, const restore_rec *r,
                                   double deadline, drover_error *err)
{
  drover_live *o = NULL, *cur = NULL;
  drover_error e;
  drover_code rc;

  if(!strcmp(r->inst, "-"))
    return DROVER_OK; /* the old one was not attached */
  drover_error_clear(&e);
  rc = ec2_volume_read(st, r->old, nv->address, &o, &e);
  if(rc == DROVER_E_NOT_FOUND)
    rc = DROVER_OK;
  else if(rc)
    drover_error_set(err, rc, "%s", e.text);
  if(!rc && o && *pstr(o, "instance"))
    rc = ec2_volume_detach(st, r->old, deadline, nv->address, err);
  if(!rc)
    rc = ec2_volume_read(st, nv->name, nv->address, &cur, err);
  if(!rc && !*pstr(cur, "instance"))
    rc = ec2_volume_attach(st, nv->name, r->inst, r->dev, deadline, nv->address, err);
  else if(!rc) /* attached by the killed run: wait for it */
    rc = ec2_volume_wait(st, nv->name, "in-use", "attached", deadline, nv->address, err);
  drover_live_free(o);
  drover_live_free(cur);
  return rc;
}

drover_code ec2_backup_restore(void *state, const char *target, const char *snapshot,
                               double deadline, drover_error *err)
{
  ec2_state *st = state;
  drover_live *x = NULL, *nv = NULL;
  restore_rec r;
  drover_code rc;

  if(!strncmp(target, "i-", 2))
    return refuse_instance(target, "restoring", err);
  deadline = ec2_deadline(deadline, 1800);
  rc = ec2_volume_read(st, target, NULL, &x, err);
  if(rc)
    goto out;
  if(astr(x, "restore")) {
    /* The refresh picked the new volume of a killed restore. */
    nv = x;
    x = NULL;
  }
  else {
    rc = find_new(st, target, snapshot, &nv, err);
    if(!rc && !nv)
      rc = create_new(st, x, snapshot, &nv, err);
    if(rc)
      goto out;
  }
  if(rec_read(nv, &r)) {
    rc = ec2_fail(err, DROVER_E_PROVIDER, nv->address, "volume %s: unreadable %s tag",
                  nv->name, EC2_TAG_RESTORE);
    goto out;
  }
  if(strcmp(r.snapshot, snapshot)) {
    rc = ec2_fail(err, DROVER_E_CONFLICT, nv->address,
                  "volume %s is the new volume of an unfinished restore of %s from %s: run "
                  "that restore again (--snapshot %s) to finish it first",
                  nv->name, r.old, r.snapshot, r.snapshot);
    goto out;
  }
  /* Step 2: waited for from any state a killed run left it in. */
  if(!strcmp(nv->status, "creating") || !strcmp(nv->status, "error"))
    rc = ec2_volume_wait(st, nv->name, "available", NULL, deadline, nv->address, err);
  if(rc == DROVER_E_PROVIDER) {
    /* State error: EBS could not restore the snapshot. The old volume is
     * untouched; the failed one goes, so it is not adopted again. */
    drover_live *cur = NULL;
    drover_error e;
    drover_error_clear(&e);
    if(!ec2_volume_read(st, nv->name, nv->address, &cur, &e) && !strcmp(cur->status, "error") &&
       ec2_volume_delete(st, nv->name, deadline, nv->address, &e))
      drover_logf(&st->env, DROVER_LOG_WARN, "aws: %s: %s", nv->address, e.text);
    drover_live_free(cur);
    goto out;
  }
  if(!rc)
    rc = swap_attachment(st, nv, &r, deadline, err);
  if(!rc)
    rc = move_backups(st, r.old, nv->name, nv->address, err);
  if(!rc)
    rc = ec2_volume_delete(st, r.old, deadline, nv->address, err); /* step 5 */
  if(!rc) {
    /* Step 6: now just the volume; a later restore starts afresh. */
    ec2_form f;
    ec2_form_init(&f, "DeleteTags");
    ec2_form_add(&f, "ResourceId.1", nv->name);
    ec2_form_add(&f, "Tag.1.Key", EC2_TAG_RESTORE_FROM);
    ec2_form_add(&f, "Tag.2.Key", EC2_TAG_RESTORE);
    rc = ec2_do(st, &f, nv->address, NULL, err);
  }
  if(!rc)
    drover_logf(&st->env, DROVER_LOG_INFO, "aws: %s: restored from %s as volume %s (was %s)",
                nv->address ? nv->address : nv->name, snapshot, nv->name, r.old);
out:
  drover_live_free(x);
  drover_live_free(nv);
  return rc;
}

/* The ClientToken of a drill's CreateVolume: the same for each retry of
 * the call, new for the next drill (EC2 answers a reused token with the
 * volume it made then, which the last drill deleted). 64 characters at
 * most. */
static void clone_token(char out[48], const char *scratch, const char *snap, double started)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0, i;
  char *text = NULL;

  if(asprintf(&text, "%s\n%s\n%.3f", scratch, snap, started) < 0)
    text = NULL;
  if(!text || !EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL))
    len = 0;
  strcpy(out, "drover-");
  for(i = 0; i < 20 && i < len; i++)
    snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
  free(text);
}

drover_code ec2_backup_clone(void *state, const char *target, const char *snapshot,
                             const char *new_name, const json_t *labels, double deadline,
                             drover_error *err)
{
  ec2_state *st = state;
  const char *address = json_string_value(json_object_get(labels, DROVER_LABEL_ADDRESS));
  drover_live *src = NULL;
  drover_live_list made = {NULL, 0, 0};
  char snap[64], token[48], *next = NULL;
  xmlDoc *doc = NULL;
  ec2_form f;
  drover_code rc;

  if(!strncmp(target, "i-", 2))
    return refuse_instance(target, "a verify drill", err);
  deadline = ec2_deadline(deadline, 1800);
  rc = ec2_volume_read(st, target, address, &src, err);
  if(!rc)
    rc = snapshot_id(st, target, snapshot, snap, sizeof(snap), err);
  if(rc)
    goto out;
  clone_token(token, new_name, snap, drover_now());
  /* Labelled in the request that makes it: never untagged, and a drill
   * killed midway leaves a volume the next plan shows as an orphan. */
  ec2_form_clone(&f, src, snap, token, labels, new_name);
  rc = ec2_call(st, &f, address, &doc, NULL, err);
  ec2_form_free(&f);
  if(!rc)
    rc = ec2_parse_volumes(doc, &made, &next, err);
  if(!rc && made.count != 1)
    rc = ec2_fail(err, DROVER_E_PROVIDER, address, "CreateVolume answered no volume");
  /* "available" proves EC2 restored the snapshot; "error" is a failed drill. */
  if(!rc)
    rc = ec2_volume_wait(st, made.items[0]->name, "available", NULL, deadline, address, err);
out:
  aws_xml_free(doc);
  drover_live_list_clear(&made);
  free(next);
  drover_live_free(src);
  return rc;
}
