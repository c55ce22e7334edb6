/* backup_export.c - backup exports to S3: run (capture the instance
 * between the policy's hooks, or export a slot's snapshot, through the
 * provider's backup API and upload it with its checksum),
 * list and prune them, restore from one (checksum first, then import,
 * also into another project or server) and drill them (verify).
 *
 * Object layout and the manifest: backup.h. The archive is staged on
 * disk (stage.h: what a killed run staged, the next run removes; streamed
 * both ways: memory does not grow with it), its
 * SHA-256 is recorded as object metadata and in the manifest, and the
 * manifest is written last, so an export is visible only when whole. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "config.h"
#include "engine.h"
#include "backup.h"
#include "stage.h"
#ifdef DROVER_WITH_S3
#include "drover_s3.h"
#endif

#define MANIFEST_MAX (256u * 1024u)

struct dv_export_store {
  dv_export_loc loc;
#ifdef DROVER_WITH_S3
  drover_s3 *s3;
#endif
};

void dv_export_store_close(struct dv_export_store *s)
{
  if(!s)
    return;
#ifdef DROVER_WITH_S3
  drover_s3_close(s->s3);
#endif
  dv_export_loc_free(&s->loc);
  free(s);
}

/* The policy's export location, with the stack's S3 settings
 * (providers.s3 of the template, overlaid by the admin file). */
static drover_code store_open(dv_bctx *c, drover_error *err)
{
  struct dv_export_store *s;
  drover_code rc;

  if(c->store)
    return DROVER_OK;
  if(!c->p.export_url)
    return drover_error_set(err, DROVER_E_ARG, "backup: policy \"%s\" has no export",
                            c->pol->address);
  s = calloc(1, sizeof(*s));
  if(!s)
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  rc = dv_export_loc_parse(&s->loc, c->p.export_url, err);
#ifdef DROVER_WITH_S3
  if(!rc) {
    json_t *cfg = NULL;
    char *text = NULL;
    rc = dv_provider_config(&cfg, "s3", dv_template_providers(c->stack),
                            c->stack->opts.provider_config, err);
    if(!rc && !(text = json_dumps(cfg, JSON_COMPACT)))
      rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    if(!rc)
      rc = drover_s3_open(&s->s3, text, err);
    if(!rc)
      drover_s3_set_log(s->s3, c->stack->opts.log, c->stack->opts.log_userdata);
    json_decref(cfg);
    free(text);
  }
#else
  if(!rc)
    rc = drover_error_set(err, DROVER_E_UNSUPPORTED,
                          "backup: this drover is built without the S3 provider "
                          "(--enable-s3=yes): exports are not available");
#endif
  if(rc) {
    dv_export_store_close(s);
    return rc;
  }
  c->store = s;
  return DROVER_OK;
}

#ifdef DROVER_WITH_S3
/* "s3://bucket/object". Caller frees. */
static char *object_url(const struct dv_export_store *s, const char *object)
{
  return dv_aprintf("s3://%s/%s", s->loc.bucket, object);
}

/* A new stage for an archive, under the options' tmpdir, $TMPDIR or
 * /var/tmp; the leftovers of killed runs there are removed first. Caller
 * closes it (dv_stage_close). */
static drover_code stage_open(dv_stage *st, const dv_bctx *c, drover_error *err)
{
  const char *dir = c->opts && c->opts->tmpdir ? c->opts->tmpdir : getenv("TMPDIR");
  size_t swept = 0;
  drover_code rc;

  if(!dir || !*dir)
    dir = "/var/tmp"; /* archives are big: not a tmpfs /tmp */
  rc = dv_stage_open(st, dir, &swept, err);
  if(swept)
    dv_log(c->stack, DROVER_LOG_INFO, "backup: removed %zu staged archive%s left in %s by "
           "killed runs", swept, swept == 1 ? "" : "s", dir);
  return rc;
}

/* --------------------------------------------------------------------------
 * Listing: the policy's objects, grouped per instance and slot
 */

typedef struct ex_obj {
  char instance[96];
  long long slot;
  int kind;                    /* 1 archive, 2 manifest */
  unsigned long long size;
} ex_obj;

typedef dv_export_item ex_item;

typedef struct ex_scan {
  const dv_export_loc *loc;
  const char *key;
  ex_obj *v;
  size_t n, cap;
  int nomem;
} ex_scan;

static int scan_one(void *ud, const drover_s3_entry *e)
{
  ex_scan *s = ud;
  ex_obj o;

  memset(&o, 0, sizeof(o));
  o.kind = dv_export_object_parse(s->loc, e->name, s->key, &o.slot, o.instance,
                                  sizeof(o.instance));
  if(!o.kind)
    return 0;
  o.size = e->size;
  if(s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 32;
    ex_obj *v = realloc(s->v, cap * sizeof(*v));
    if(!v) {
      s->nomem = 1;
      return 1;
    }
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = o;
  return 0;
}

static int obj_cmp(const void *a, const void *b)
{
  const ex_obj *x = a, *y = b;
  int r = strcmp(x->instance, y->instance);

  if(r)
    return r;
  return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Every export of the policy, sorted by instance then slot: one listing
 * (paged by the S3 client), sorted once, merged. *items caller frees. */
static drover_code scan(dv_bctx *c, ex_item **items, size_t *n, drover_error *err)
{
  ex_scan s;
  char *prefix = NULL;
  drover_code rc;
  size_t i;

  *items = NULL;
  *n = 0;
  memset(&s, 0, sizeof(s));
  s.loc = &c->store->loc;
  s.key = c->key;
  prefix = dv_aprintf("%s" DV_SNAP_PREFIX "%s-", c->store->loc.prefix, c->key);
  if(!prefix)
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  rc = drover_s3_list(c->store->s3, c->store->loc.bucket, prefix, scan_one, &s, err);
  free(prefix);
  if(s.nomem)
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  if(!rc && s.n) {
    qsort(s.v, s.n, sizeof(*s.v), obj_cmp);
    *items = calloc(s.n, sizeof(**items));
    if(!*items)
      rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  }
  for(i = 0; !rc && i < s.n; i++) {
    ex_item *it = *n ? &(*items)[*n - 1] : NULL;
    if(!it || strcmp(it->instance, s.v[i].instance) || it->slot != s.v[i].slot) {
      it = &(*items)[(*n)++];
      snprintf(it->instance, sizeof(it->instance), "%s", s.v[i].instance);
      it->slot = s.v[i].slot;
    }
    if(s.v[i].kind == 1) {
      it->archive = 1;
      it->size = s.v[i].size;
    }
    else
      it->manifest = 1;
  }
  free(s.v);
  if(rc) {
    free(*items);
    *items = NULL;
    *n = 0;
  }
  return rc;
}

/* The manifest of (instance, snapshot), checked to be this policy's.
 * New reference in *m. */
static drover_code manifest_get(json_t **m, dv_bctx *c, const char *snap,
                                const char *instance, drover_error *err)
{
  char *key = dv_export_object(&c->store->loc, snap, instance, DV_EXPORT_MANIFEST);
  char *text = NULL;
  size_t len = 0;
  json_error_t je;
  drover_code rc;

  *m = NULL;
  if(!key)
    return drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  rc = drover_s3_get(c->store->s3, c->store->loc.bucket, key, MANIFEST_MAX, &text, &len, err);
  if(!rc) {
    *m = json_loadb(text, len, 0, &je);
    if(!*m)
      rc = drover_error_set(err, DROVER_E_CORRUPT, "export manifest s3://%s/%s: %s",
                            c->store->loc.bucket, key, je.text);
  }
  if(!rc)
    rc = dv_manifest_check(*m, c->stack->name, c->pol->address, err);
  if(rc) {
    json_decref(*m);
    *m = NULL;
  }
  free(text);
  free(key);
  return rc;
}

/* --------------------------------------------------------------------------
 * run
 */

/* Uploads the archive staged at stage (made of t's snapshot snap, or of
 * t between the hooks of that snapshot) with its checksum, the manifest
 * last; info is what the provider told (labels, project, profiles). On
 * failure whatever of this export reached S3 is deleted again. */
static drover_code publish(dv_bctx *c, const dv_btarget *t, const char *snap,
                           long long slot, const char *stage, json_t *info, json_t *x,
                           drover_error *e)
{
  struct dv_export_store *s = c->store;
  char *akey = NULL, *mkey = NULL, *mtext = NULL, *url = NULL;
  char sha[65], slotbuf[24];
  const char *meta[9];
  json_t *man = NULL, *labels;
  unsigned long long size = 0;
  struct stat sb;
  int uploaded = 0;
  drover_code rc;

  snprintf(slotbuf, sizeof(slotbuf), "%lld", slot);
  akey = dv_export_object(&s->loc, snap, t->name, DV_EXPORT_ARCHIVE);
  mkey = dv_export_object(&s->loc, snap, t->name, DV_EXPORT_MANIFEST);
  url = akey ? object_url(s, akey) : NULL;
  if(!akey || !mkey || !url) {
    rc = drover_error_set(e, DROVER_E_NOMEM, "out of memory");
    goto out;
  }
  meta[0] = "stack";
  meta[1] = c->stack->name;
  meta[2] = "policy";
  meta[3] = c->pol->address;
  meta[4] = "instance";
  meta[5] = t->name;
  meta[6] = "slot";
  meta[7] = slotbuf;
  meta[8] = NULL;
  uploaded = 1; /* from here on, a failure may have left an object */
  rc = drover_s3_upload_checked(s->s3, stage, s->loc.bucket, akey, "application/gzip", meta,
                                sha, e);
  if(rc)
    goto out;
  if(stat(stage, &sb) != 0) {
    rc = drover_error_set(e, DROVER_E_IO, "%s: %s", stage, strerror(errno));
    goto out;
  }
  size = (unsigned long long)sb.st_size;
  /* The labels the snapshot carried, for a restore in place; the rest of
   * what the provider told (project, profiles) as "info". */
  labels = json_object_get(info, "labels") ? json_incref(json_object_get(info, "labels"))
                                           : json_object();
  json_object_del(info, "labels");
  man = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:O, s:o}",
                  "format", DV_EXPORT_FORMAT, "stack", c->stack->name, "policy",
                  c->pol->address, "instance", t->name, "address", t->address, "snapshot",
                  snap, "slot", (json_int_t)slot, "object", akey, "sha256", sha, "size",
                  (json_int_t)size, "provider", t->vt->name, "info", info, "labels", labels);
  mtext = man ? json_dumps(man, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
  if(!mtext) {
    rc = drover_error_set(e, DROVER_E_NOMEM, "out of memory");
    goto out;
  }
  rc = drover_s3_put(s->s3, s->loc.bucket, mkey, mtext, strlen(mtext), "application/json", e);
  if(rc)
    goto out;
  uploaded = 0;
  json_object_set_new(x, "object", json_string(url));
  json_object_set_new(x, "sha256", json_string(sha));
  json_object_set_new(x, "size", json_integer((json_int_t)size));
out:
  if(rc && uploaded) {
    drover_error e2;
    drover_error_clear(&e2);
    drover_s3_delete(s->s3, s->loc.bucket, mkey, &e2);
    drover_s3_delete(s->s3, s->loc.bucket, akey, &e2);
  }
  json_decref(man);
  free(mtext);
  free(url);
  free(akey);
  free(mkey);
  return rc;
}

/* One target's export for one slot, from the probe before the hooks to
 * the manifest after them. */
struct dv_export_job {
  dv_bctx *c;
  size_t i;
  char snap[96];
  char tag[64];           /* the provider's temporary (scratch copy, backup) */
  json_t *manifest;       /* the slot's, when its export exists already */
  drover_error probe;     /* why the probe failed, when it did */
  char *live;             /* the provider's handle of a capture under way */
  dv_stage stage;         /* the archive captured between the hooks (.dir NULL: none) */
  json_t *info;           /* what the provider told with it */
  drover_error capture;   /* why the capture failed, when it did */
};

void dv_export_job_free(dv_export_job *job)
{
  if(!job)
    return;
  dv_export_capture_end(job, 0);
  dv_stage_close(&job->stage);
  json_decref(job->info);
  json_decref(job->manifest);
  free(job);
}

dv_export_job *dv_export_begin(dv_bctx *c, size_t i, const char *snap)
{
  dv_export_job *job = calloc(1, sizeof(*job));
  const dv_btarget *t = &c->t[i];

  if(!job)
    return NULL;
  job->c = c;
  job->i = i;
  snprintf(job->snap, sizeof(job->snap), "%s", snap);
  snprintf(job->tag, sizeof(job->tag), "drover-export-%s-%zu", c->key, i);
  drover_error_clear(&job->probe);
  drover_error_clear(&job->capture);
  if(!t->vt->backup_export)
    drover_error_set(&job->probe, DROVER_E_UNSUPPORTED, "provider %s cannot export backups",
                     t->vt->name);
  else if(!store_open(c, &job->probe)) {
    /* One export per slot, like snapshots: a complete one is kept. */
    drover_error pe;
    drover_error_clear(&pe);
    if(manifest_get(&job->manifest, c, snap, t->name, &pe) != DROVER_E_NOT_FOUND &&
       !job->manifest)
      job->probe = pe;
  }
  return job;
}

void dv_export_capture_begin(dv_export_job *job)
{
  dv_bctx *c = job->c;
  const dv_btarget *t = &c->t[job->i];

  if(job->probe.code || job->manifest || !t->vt->backup_live_begin || !t->vt->backup_live_end)
    return;
  if(t->vt->backup_live_begin(t->state, t->name, job->tag, drover_now() + c->timeout,
                              &job->live, &job->capture) == DROVER_E_UNSUPPORTED)
    /* Not this instance: dv_export_finish exports the snapshot. */
    drover_error_clear(&job->capture);
}

void dv_export_capture_end(dv_export_job *job, int keep)
{
  dv_bctx *c = job->c;
  const dv_btarget *t = &c->t[job->i];
  drover_error e;

  if(!job->live)
    return;
  drover_error_clear(&e);
  if(keep && !stage_open(&job->stage, c, &job->capture) &&
     t->vt->backup_live_end(t->state, t->name, job->tag, job->live, job->stage.path,
                            drover_now() + c->timeout, &job->info, &job->capture)) {
    dv_stage_close(&job->stage);
  }
  else if(!keep || !job->stage.dir)
    t->vt->backup_live_end(t->state, t->name, job->tag, job->live, NULL,
                           drover_now() + c->timeout, NULL, &e);
  free(job->live);
  job->live = NULL;
}

drover_code dv_export_finish(dv_export_job *job, long long slot, json_t *entry,
                             drover_error *e)
{
  dv_bctx *c = job->c;
  const dv_btarget *t = &c->t[job->i];
  json_t *x = json_object(), *m = job->manifest;
  const char *result = "failed";
  char *url;
  drover_code rc = DROVER_OK;

  if(!x || json_object_set_new(entry, "export", x))
    return drover_error_set(e, DROVER_E_NOMEM, "out of memory");
  if(job->probe.code) {
    *e = job->probe;
    rc = e->code;
  }
  else if(m) {
    result = "exists";
    json_object_set(x, "sha256", json_object_get(m, "sha256"));
    json_object_set(x, "size", json_object_get(m, "size"));
    url = object_url(c->store, json_string_value(json_object_get(m, "object")));
    json_object_set_new(x, "object", json_string(url ? url : ""));
    free(url);
  }
  else if(job->capture.code) {
    *e = job->capture;
    rc = e->code;
  }
  else {
    if(!job->stage.dir) {
      /* Nothing captured between the hooks (the snapshot is an earlier
       * run's, or the provider cannot): export the snapshot itself. */
      rc = stage_open(&job->stage, c, e);
      if(!rc)
        rc = t->vt->backup_export(t->state, t->name, job->snap, job->tag, job->stage.path,
                                  drover_now() + c->timeout, &job->info, e);
    }
    if(!rc)
      rc = publish(c, t, job->snap, slot, job->stage.path, job->info, x, e);
    if(!rc)
      result = "created";
  }
  json_object_set_new(x, "result", json_string(result));
  if(rc && e->code)
    json_object_set_new(x, "error", json_string(e->text));
  return rc;
}

drover_code dv_export_run(dv_bctx *c, size_t i, const char *snap, long long slot,
                          json_t *entry, drover_error *e)
{
  dv_export_job *job = dv_export_begin(c, i, snap);
  drover_code rc;

  if(!job)
    return drover_error_set(e, DROVER_E_NOMEM, "out of memory");
  rc = dv_export_finish(job, slot, entry, e);
  dv_export_job_free(job);
  return rc;
}

/* --------------------------------------------------------------------------
 * list and prune
 */

static drover_code delete_export(dv_bctx *c, const ex_item *it, drover_error *e)
{
  char snap[96], *akey, *mkey;
  drover_code rc;

  dv_snap_name(snap, sizeof(snap), c->key, it->slot);
  akey = dv_export_object(&c->store->loc, snap, it->instance, DV_EXPORT_ARCHIVE);
  mkey = dv_export_object(&c->store->loc, snap, it->instance, DV_EXPORT_MANIFEST);
  if(!akey || !mkey)
    rc = drover_error_set(e, DROVER_E_NOMEM, "out of memory");
  else {
    /* The manifest first: the export stops existing in one step. */
    rc = drover_s3_delete(c->store->s3, c->store->loc.bucket, mkey, e);
    if(!rc)
      rc = drover_s3_delete(c->store->s3, c->store->loc.bucket, akey, e);
  }
  free(akey);
  free(mkey);
  return rc;
}

/* Reports (and with prune applies) the retention over items[0..n). */
static drover_code prune_items(dv_bctx *c, const ex_item *items, size_t n, int prune,
                               int dry, json_t *arr, size_t *failed, drover_error *err)
{
  unsigned *kept = calloc(n + 1, sizeof(*kept));
  int *del = calloc(n + 1, sizeof(*del));
  drover_code rc = DROVER_OK;
  size_t k;

  if(!kept || !del)
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  if(!rc && prune)
    rc = dv_export_retention(&c->p.ret, items, n, (time_t)c->now, kept, del, err);
  for(k = 0; !rc && k < n; k++) {
    const ex_item *it = &items[k];
    char snap[96], when[32], why[128], *akey, *url;
    const char *action = "listed", *state;
    int complete = it->manifest && it->archive;
    json_t *entry;
    time_t tt = (time_t)it->slot;
    struct tm tm;

    state = complete ? "complete" : it->archive ? "incomplete" : "manifest without archive";
    if(prune) {
      action = !del[k] ? "keep" : dry ? "would delete" : "delete";
      if(del[k] && !dry) {
        drover_error e;
        drover_error_clear(&e);
        if(delete_export(c, it, &e)) {
          action = "failed";
          (*failed)++;
          dv_log(c->stack, DROVER_LOG_ERROR, "backup prune: export %s: %s", it->instance,
                 e.text);
        }
        else
          action = "deleted";
      }
    }
    dv_snap_name(snap, sizeof(snap), c->key, it->slot);
    gmtime_r(&tt, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    akey = dv_export_object(&c->store->loc, snap, it->instance, DV_EXPORT_ARCHIVE);
    url = akey ? object_url(c->store, akey) : NULL;
    entry = url ? json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "instance", it->instance,
                            "snapshot", snap, "slot", when, "object", url, "size",
                            (json_int_t)it->size, "state", state, "action", action)
                : NULL;
    free(akey);
    free(url);
    if(entry && prune && !del[k] && complete) {
      dv_retention_reasons(kept[k], why, sizeof(why));
      json_object_set_new(entry, "kept_by", json_string(why));
    }
    if(!entry || json_array_append_new(arr, entry))
      rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  }
  free(kept);
  free(del);
  return rc;
}

drover_code dv_export_prune(dv_bctx *c, int prune, int dry, json_t *arr, size_t *failed,
                            drover_error *err)
{
  ex_item *items = NULL;
  size_t n = 0;
  drover_code rc = store_open(c, err);

  if(!rc)
    rc = scan(c, &items, &n, err);
  if(!rc)
    rc = prune_items(c, items, n, prune, dry, arr, failed, err);
  free(items);
  return rc;
}

/* --------------------------------------------------------------------------
 * restore and verify
 */

/* The export to restore: the newest complete one of instance-or-address
 * who (or the one of snapshot snap when not NULL). New reference in *m. */
static drover_code find_export(json_t **m, dv_bctx *c, const char *who, const char *snap,
                               drover_error *err)
{
  ex_item *items = NULL;
  size_t n = 0, k;
  drover_code rc;

  *m = NULL;
  rc = scan(c, &items, &n, err);
  /* Newest first; a manifest is read only for a candidate slot. */
  for(k = n; !rc && k-- > 0;) {
    char name[96];
    json_t *one = NULL;
    if(!items[k].manifest || !items[k].archive)
      continue;
    dv_snap_name(name, sizeof(name), c->key, items[k].slot);
    if(snap && strcmp(snap, name))
      continue;
    rc = manifest_get(&one, c, name, items[k].instance, err);
    if(rc)
      break;
    if(!strcmp(json_string_value(json_object_get(one, "instance")), who) ||
       (json_string_value(json_object_get(one, "address")) &&
        !strcmp(json_string_value(json_object_get(one, "address")), who))) {
      *m = one;
      break;
    }
    json_decref(one);
  }
  free(items);
  if(!rc && !*m)
    rc = drover_error_set(err, DROVER_E_NOT_FOUND,
                          "backup: policy \"%s\" has no complete export of \"%s\"%s%s "
                          "(see drover backup list)",
                          c->pol->address, who, snap ? " for " : "", snap ? snap : "");
  return rc;
}

/* Downloads the export of manifest m to a staged file and checks its
 * SHA-256 against the manifest and the object's metadata before anything
 * is created from it. The caller closes *st. */
static drover_code fetch_checked(dv_stage *st, dv_bctx *c, const json_t *m, drover_error *err)
{
  const char *object = json_string_value(json_object_get(m, "object"));
  const char *want = json_string_value(json_object_get(m, "sha256"));
  char sha[65], *meta = NULL;
  unsigned long long size = 0, hsize = 0;
  drover_code rc;

  rc = drover_s3_head(c->store->s3, c->store->loc.bucket, object, &hsize, &meta, err);
  if(!rc)
    rc = stage_open(st, c, err);
  if(!rc)
    rc = drover_s3_download(c->store->s3, c->store->loc.bucket, object, st->path, NULL, err);
  if(!rc)
    rc = dv_file_sha256(st->path, sha, &size, err);
  if(!rc && (strcmp(sha, want) || (meta && strcmp(meta, want))))
    rc = drover_error_set(err, DROVER_E_CORRUPT,
                          "backup: export s3://%s/%s is corrupt: its SHA-256 is %s, the "
                          "manifest recorded %s%s%s; refusing to restore it",
                          c->store->loc.bucket, object, sha, want,
                          meta && strcmp(meta, want) ? " and the object's metadata " : "",
                          meta && strcmp(meta, want) ? meta : "");
  if(!rc && size != (unsigned long long)json_integer_value(json_object_get(m, "size")))
    rc = drover_error_set(err, DROVER_E_CORRUPT,
                          "backup: export s3://%s/%s is corrupt: %llu bytes, the manifest "
                          "recorded %lld; refusing to restore it",
                          c->store->loc.bucket, object, size,
                          (long long)json_integer_value(json_object_get(m, "size")));
  free(meta);
  if(rc)
    dv_stage_close(st);
  return rc;
}
/* The provider a restore or drill creates in: the stack's, or one made
 * for opts->remote (a settings file of another server) and/or
 * opts->project. *use points at own (release it) or the stack's. */
static drover_code target_provider(dv_pinst *own, dv_pinst **use, dv_bctx *c,
                                   drover_error *err)
{
  const drover_provider *vt = c->stack->tpl->blocks[c->pol->block].provider;
  const drover_backup_opts *o = c->opts;
  drover_options opts2 = c->stack->opts;
  json_t *cfg = NULL, *tpl = NULL;
  json_error_t je;
  drover_code rc = DROVER_OK;

  memset(own, 0, sizeof(*own));
  *use = NULL;
  if(!o || (!o->project && !o->remote))
    return dv_stack_provider(use, c->stack, vt, err);
  if(o->remote) {
    /* Another server: its own connection settings, not the stack's. */
    cfg = json_load_file(o->remote, JSON_REJECT_DUPLICATES, &je);
    if(!json_is_object(cfg))
      rc = drover_error_set(err, DROVER_E_CONFIG, "restore: %s:%d:%d: %s", o->remote,
                            je.line, je.column,
                            cfg ? "expected an object of provider settings" : je.text);
  }
  else
    rc = dv_provider_config(&cfg, vt->name, dv_template_providers(c->stack),
                            c->stack->opts.provider_config, err);
  if(!rc && o->project && json_object_set_new(cfg, "project", json_string(o->project)))
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  if(!rc && !(tpl = json_pack("{s:O}", vt->name, cfg)))
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  opts2.provider_config = NULL;
  if(!rc)
    rc = dv_pinst_init(own, vt, tpl, &opts2, &c->stack->env, err);
  if(!rc)
    *use = own;
  json_decref(cfg);
  json_decref(tpl);
  return rc;
}

/* The run label a restore sets on what it imports (text: the export's
 * SHA-256) and clears once the instance is up: an instance that still
 * carries it for this export is a killed restore's, which the next
 * restore of that export replaces without --force. */
#define RESTORING_LABEL "restoring"

/* Whether instance name exists at the target; *running when it runs;
 * *half when it carries RESTORING_LABEL with text sha (may be NULL). */
static drover_code probe_instance(const dv_pinst *p, const char *name, const char *sha,
                                  int *exists, int *running, int *half, drover_error *err)
{
  const drover_rtype *it = dv_instance_type(p->vt);
  drover_live *l = NULL;
  drover_error e;
  drover_code rc;
  const char *mark;

  *exists = *running = *half = 0;
  if(!it || !p->vt->read)
    return drover_error_set(err, DROVER_E_UNSUPPORTED, "provider %s cannot read instances",
                            p->vt->name);
  drover_error_clear(&e);
  rc = p->vt->read(p->state, it, name, &l, &e);
  if(rc == DROVER_E_NOT_FOUND)
    return DROVER_OK;
  if(rc) {
    if(err && !err->code)
      *err = e;
    return rc;
  }
  *exists = 1;
  *running = l->status && !strcmp(l->status, "Running");
  mark = json_string_value(json_object_get(l->attributes, "label_" RESTORING_LABEL));
  *half = sha && mark && !strcmp(mark, sha);
  drover_live_free(l);
  return DROVER_OK;
}

static drover_code drop(const dv_pinst *p, const char *name, double deadline,
                        drover_error *err)
{
  drover_live l;

  memset(&l, 0, sizeof(l));
  l.name = (char *)name;
  return p->vt->del(p->state, dv_instance_type(p->vt), &l, deadline, err);
}

drover_code dv_export_restore(char **out, dv_bctx *c, const char *address,
                              const char *snapshot, drover_error *err)
{
  const drover_backup_opts *o = c->opts;
  dv_pinst own, *use = NULL;
  json_t *m = NULL, *report = NULL, *labels = NULL;
  dv_stage stage = {NULL, NULL, -1};
  char *url = NULL;
  const char *name, *sha;
  int exists = 0, running = 0, half = 0, in_place;
  drover_code rc;

  *out = NULL;
  memset(&own, 0, sizeof(own));
  rc = store_open(c, err);
  if(!rc)
    rc = find_export(&m, c, address, snapshot, err);
  if(rc)
    goto out;
  if(!c->stack->tpl->blocks[c->pol->block].provider->backup_import) {
    rc = drover_error_set(err, DROVER_E_UNSUPPORTED, "provider %s cannot import backups",
                          c->stack->tpl->blocks[c->pol->block].provider->name);
    goto out;
  }
  /* The checksum before anything is created. */
  rc = fetch_checked(&stage, c, m, err);
  if(rc)
    goto out;
  rc = target_provider(&own, &use, c, err);
  if(rc)
    goto out;
  /* Under its own name in its own place it is the stack's resource
   * again (labels back, so the next plan adopts it); anywhere else a
   * plain copy that no stack claims. */
  in_place = !o || (!o->new_name && !o->project && !o->remote);
  name = o && o->new_name ? o->new_name : json_string_value(json_object_get(m, "instance"));
  labels = in_place ? json_deep_copy(json_object_get(m, "labels")) : json_object();
  sha = json_string_value(json_object_get(m, "sha256"));
  /* Marked while it is being restored (a provider that can clear a run
   * label again): a killed restore's instance is known as such. */
  if(labels && use->vt->label_set &&
     json_object_set_new(labels, RESTORING_LABEL, json_string(sha)))
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  if(!rc && !labels)
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
  if(!rc)
    rc = probe_instance(use, name, use->vt->label_set ? sha : NULL, &exists, &running, &half,
                        err);
  if(rc)
    goto out;
  if(exists && !half && !(o && o->force)) {
    rc = drover_error_set(err, DROVER_E_ARG,
                          "restore: instance %s exists%s; restoring the export would "
                          "replace it. Delete it, choose another --name, or pass --force",
                          name, running ? " and is running" : "");
    goto out;
  }
  if(exists)
    rc = drop(use, name, drover_now() + c->timeout, err);
  if(!rc)
    rc = use->vt->backup_import(use->state, stage.path, name, labels, 1,
                                drover_now() + c->timeout, err);
  /* Up and whole: no longer a restore in progress. */
  if(!rc && use->vt->label_set)
    rc = use->vt->label_set(use->state, dv_instance_type(use->vt), name, RESTORING_LABEL, "",
                            err);
  if(rc)
    goto out;
  url = object_url(c->store, json_string_value(json_object_get(m, "object")));
  report = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b}", "instance", name, "address",
                     address, "snapshot", json_string_value(json_object_get(m, "snapshot")),
                     "export", url ? url : "", "sha256", sha, "result", "restored",
                     "replaced", exists && !half, "resumed", half);
  if(report && o && o->project)
    json_object_set_new(report, "project", json_string(o->project));
  *out = report ? json_dumps(report, JSON_COMPACT) : NULL;
  if(!*out)
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
out:
  dv_stage_close(&stage);
  json_decref(report);
  json_decref(labels);
  json_decref(m);
  free(url);
  dv_pinst_release(&own);
  return rc;
}

/* Newest complete export of each target: checksum, import into a scratch
 * instance, check, delete. */
drover_code dv_export_verify(dv_bctx *c, json_t *arr, size_t *failed, drover_error *err)
{
  dv_pinst own, *use = NULL;
  int labelled = !c->opts || (!c->opts->project && !c->opts->remote);
  drover_code rc;
  size_t i;

  memset(&own, 0, sizeof(own));
  rc = store_open(c, err);
  if(!rc)
    rc = target_provider(&own, &use, c, err);
  for(i = 0; !rc && i < c->nt; i++) {
    const dv_btarget *t = &c->t[i];
    char scratch[64], address[160];
    dv_stage stage = {NULL, NULL, -1};
    json_t *entry = json_pack("{s:s, s:s}", "instance", t->name, "address", t->address);
    json_t *m = NULL, *labels = NULL;
    const char *result = "failed";
    drover_error e;

    drover_error_clear(&e);
    snprintf(scratch, sizeof(scratch), "drover-verify-%s-%zu", c->key, i);
    snprintf(address, sizeof(address), "%s.verify[%zu]", c->pol->address, i);
    /* Labelled as the policy's own resource (in the stack's project): a
     * drill killed midway leaves an orphan that the next apply deletes. */
    labels = labelled ? json_pack("{s:s, s:s, s:s, s:s}", DROVER_LABEL_STACK,
                                  c->stack->name, DROVER_LABEL_ADDRESS, address,
                                  DROVER_LABEL_HASH, "", DROVER_LABEL_DEPS, "")
                      : json_object();
    if(!entry || !labels || json_array_append_new(arr, entry)) {
      json_decref(labels);
      rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
      break;
    }
    json_object_set_new(entry, "scratch", json_string(scratch));
    if(!find_export(&m, c, t->name, NULL, &e) && !fetch_checked(&stage, c, m, &e)) {
      json_object_set_new(entry, "export", json_string(json_string_value(
                                              json_object_get(m, "snapshot"))));
      json_object_set_new(entry, "checksum", json_string("ok"));
      if(!drop(use, scratch, drover_now() + c->timeout, &e) &&
         !use->vt->backup_import(use->state, stage.path, scratch, labels, 1,
                                 drover_now() + c->timeout, &e)) {
        dv_btarget s = *t;
        s.name = scratch;
        s.vt = use->vt;
        s.state = use->state;
        if(c->p.check && dv_backup_hook(c, &s, c->p.check, "check", entry))
          drover_error_set(&e, DROVER_E_PROVIDER, "check failed in the restored export of %s",
                           t->name);
        else
          result = "passed";
      }
      {
        drover_error e2;
        drover_error_clear(&e2);
        if(drop(use, scratch, drover_now() + c->timeout, &e2)) {
          drover_error_set(&e, e2.code, "%s", e2.text);
          result = "failed";
        }
      }
    }
    else if(m)
      json_object_set_new(entry, "export", json_string(json_string_value(
                                              json_object_get(m, "snapshot"))));
    if(e.code == DROVER_E_CORRUPT)
      json_object_set_new(entry, "checksum", json_string("mismatch"));
    json_object_set_new(entry, "result", json_string(result));
    if(e.code) {
      json_object_set_new(entry, "error", json_string(e.text));
      (*failed)++;
    }
    dv_stage_close(&stage);
    json_decref(m);
    json_decref(labels);
  }
  dv_pinst_release(&own);
  return rc;
}
#else /* !DROVER_WITH_S3 */
struct dv_export_job {
  dv_bctx *c;
};

dv_export_job *dv_export_begin(dv_bctx *c, size_t i, const char *snap)
{
  dv_export_job *job = calloc(1, sizeof(*job));

  (void)i, (void)snap;
  if(job)
    job->c = c;
  return job;
}

void dv_export_capture_begin(dv_export_job *job)
{
  (void)job;
}

void dv_export_capture_end(dv_export_job *job, int keep)
{
  (void)job, (void)keep;
}

drover_code dv_export_finish(dv_export_job *job, long long slot, json_t *entry,
                             drover_error *e)
{
  (void)slot, (void)entry;
  return store_open(job->c, e);
}

void dv_export_job_free(dv_export_job *job)
{
  free(job);
}

drover_code dv_export_run(dv_bctx *c, size_t i, const char *snap, long long slot,
                          json_t *entry, drover_error *e)
{
  (void)i, (void)snap, (void)slot, (void)entry;
  return store_open(c, e);
}

drover_code dv_export_prune(dv_bctx *c, int prune, int dry, json_t *arr, size_t *failed,
                            drover_error *err)
{
  (void)prune, (void)dry, (void)arr, (void)failed;
  return store_open(c, err);
}

drover_code dv_export_restore(char **out, dv_bctx *c, const char *address,
                              const char *snapshot, drover_error *err)
{
  (void)address, (void)snapshot;
  *out = NULL;
  return store_open(c, err);
}

drover_code dv_export_verify(dv_bctx *c, json_t *arr, size_t *failed, drover_error *err)
{
  (void)arr, (void)failed;
  return store_open(c, err);
}
#endif
