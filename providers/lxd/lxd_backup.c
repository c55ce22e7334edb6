/* lxd_backup.c - portable backups through LXD's instance backup API:
 * export an instance or one of its snapshots to a tarball on disk, import
 * a tarball as a new instance. The table ops backup_export,
 * backup_live_begin/backup_live_end and backup_import.
 *
 * LXD 5.0 backs up instances, not snapshots. backup_live_* back up the
 * instance as it is (the engine takes the slot's snapshot alongside,
 * between the policy's hooks), so no copy is made; backup_export exports
 * a snapshot by copying it into a stopped scratch instance first (on dir
 * a full file copy, on ZFS/btrfs a clone): used when the slot's snapshot
 * was taken by an earlier run. An archive of the live instance carries
 * its drover labels; an import replaces them with the ones it is given.
 * The tarball goes straight from LXD to a file and back from a file to
 * LXD; memory does not grow with the instance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "lxd.h"

#define EXPORT_BACKUP "drover-export"

/* Waits for every running LXD operation on instance name: a run killed
 * mid-export leaves its copy or backup operation running, and LXD
 * refuses to delete an instance that is busy. */
static drover_code settle(lxd_state *st, const char *name, double deadline,
                          drover_error *err)
{
  char *path = lxd_path(st, "/1.0/operations?recursion=1"), *want = NULL;
  lxd_result res;
  json_t *op, *inst;
  size_t i, j;
  drover_error le;
  drover_code rc;

  memset(&res, 0, sizeof(res));
  drover_error_clear(&le);
  if(!path || asprintf(&want, "/1.0/instances/%s", name) < 0) {
    want = NULL;
    rc = lxd_fail(&le, DROVER_E_NOMEM, name, "out of memory");
    goto out;
  }
  rc = lxd_call(st, "GET", path, NULL, NULL, name, LXD_META_OBJECT, &res, &le);
  json_array_foreach(json_object_get(res.meta, "running"), i, op) {
    const char *id = json_string_value(json_object_get(op, "id"));
    json_array_foreach(json_object_get(json_object_get(op, "resources"), "instances"), j, inst) {
      const char *r = json_string_value(inst);
      char *oppath = NULL;
      /* "/1.0/instances/<name>" or with "?project=..." */
      if(rc || !id || !r || strncmp(r, want, strlen(want)) ||
         (r[strlen(want)] && r[strlen(want)] != '?'))
        continue;
      if(asprintf(&oppath, "/1.0/operations/%s", id) < 0)
        rc = lxd_fail(&le, DROVER_E_NOMEM, name, "out of memory");
      else
        rc = lxd_wait(st, oppath, deadline, name, 0, NULL, &le);
      free(oppath);
      break;
    }
  }
out:
  /* An operation that failed (a killed copy) is no reason not to delete;
   * running out of time or memory is. */
  if(rc == DROVER_E_NOMEM || rc == DROVER_E_TIMEOUT) {
    if(err && !err->code)
      *err = le;
  }
  else
    rc = DROVER_OK;
  lxd_result_free(&res);
  free(want);
  free(path);
  return rc;
}

/* Deletes instance name (stopping it first) once nothing runs on it;
 * one already gone is fine. */
drover_code lxd_drop_instance(lxd_state *st, const char *name, double deadline,
                              drover_error *err)
{
  drover_live l;
  drover_code rc = settle(st, name, deadline, err);

  memset(&l, 0, sizeof(l));
  l.name = (char *)name;
  return rc ? rc : lxd_instance_ops.del(st, &l, deadline, err);
}

/* An LXD reply whose body is not JSON (a file transfer) or an error
 * envelope: "lxd: <address>: <LXD's message>". */
drover_code lxd_transfer_fail(drover_error *err, const drover_http_response *resp,
                              const char *address, const char *what)
{
  json_t *root = resp->body ? json_loadb(resp->body, resp->len, 0, NULL) : NULL;
  const char *msg = json_string_value(json_object_get(root, "error"));
  drover_code rc = lxd_fail(err, resp->status == 404 ? DROVER_E_NOT_FOUND : DROVER_E_PROVIDER,
                            address, "%s: %s", what,
                            msg && *msg ? msg : "unexpected HTTP status");

  json_decref(root);
  return rc;
}

/* What the manifest records of an archive besides labels: the profiles
 * of profiles_of and the architecture of arch_of. -1 on OOM. */
static int info_add(json_t *info, const json_t *profiles_of, const json_t *arch_of)
{
  json_t *p = json_object_get(profiles_of, "profiles");
  json_t *a = json_object_get(arch_of, "architecture");

  return lxd_set(info, "profiles", p ? json_incref(p) : json_null()) ||
         lxd_set(info, "architecture", a ? json_incref(a) : json_null());
}

/* Copies instance/snapshot into the stopped instance scratch and takes
 * every user.drover.* key out of its config; the labels the snapshot
 * carried (without the prefix, backup labels left out) go to labels.
 * A scratch copy a killed run left is unlabelled; the next export of the
 * instance deletes it first. */
static drover_code make_scratch(lxd_state *st, const char *instance, const char *snapshot,
                                const char *scratch, json_t *labels, json_t *info,
                                double deadline, drover_error *err)
{
  char *ipath = lxd_path(st, "/1.0/instances");
  char *spath = lxd_name_path(st, "/1.0/instances/", scratch, NULL);
  char *snpath = NULL, *src = NULL, *etag = NULL, *ei = NULL, *es = NULL;
  json_t *snap = NULL, *body = NULL, *obj = NULL, *cfg = NULL, *v;
  const char *key;
  drover_code rc;

  ei = lxd_esc(instance);
  es = lxd_esc(snapshot);
  if(!ipath || !spath || !ei || !es ||
     !(snpath = lxd_path(st, "/1.0/instances/%s/snapshots/%s", ei, es)) ||
     asprintf(&src, "%s/%s", instance, snapshot) < 0) {
    src = NULL;
    rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
    goto out;
  }
  rc = lxd_get(st, snpath, instance, &snap, NULL, err);
  if(rc)
    goto out;
  if(!snap) {
    rc = lxd_fail(err, DROVER_E_NOT_FOUND, instance, "snapshot %s not found", snapshot);
    goto out;
  }
  /* The labels the snapshot carried go to the caller; in the copy they
   * are blanked from its first request on, so a run killed before the
   * clean-up below leaves no second claimant of the stack's resource. */
  cfg = json_object();
  json_object_foreach(json_object_get(snap, "config"), key, v) {
    size_t pl = strlen(LXD_LABEL_PREFIX);
    if(!cfg || strncmp(key, LXD_LABEL_PREFIX, pl) ||
       !strncmp(key, LXD_BACKUP_PREFIX, strlen(LXD_BACKUP_PREFIX)))
      continue;
    if(json_object_set(labels, key + pl, v) || lxd_set(cfg, key, json_string(""))) {
      rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
      goto out;
    }
  }
  /* LXD 5.0 gives a copy made from a snapshot no profiles unless asked. */
  body = cfg ? json_pack("{s:s, s:{s:s, s:s, s:b}, s:O, s:O}", "name", scratch, "source",
                         "type", "copy", "source", src, "instance_only", 1, "config", cfg,
                         "profiles",
                         json_object_get(snap, "profiles") ? json_object_get(snap, "profiles")
                                                           : json_null())
             : NULL;
  json_decref(cfg);
  cfg = NULL;
  if(!body) {
    rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
    goto out;
  }
  rc = lxd_call_wait(st, "POST", ipath, NULL, body, scratch, deadline, err);
  if(rc)
    goto out;
  rc = lxd_get(st, spath, scratch, &obj, &etag, err);
  if(!rc && !obj)
    rc = lxd_fail(err, DROVER_E_NOT_FOUND, scratch, "the copy of %s vanished", src);
  if(rc)
    goto out;
  cfg = json_object();
  if(!cfg) {
    rc = lxd_fail(err, DROVER_E_NOMEM, scratch, "out of memory");
    goto out;
  }
  json_object_foreach(json_object_get(obj, "config"), key, v) {
    if(!strncmp(key, LXD_LABEL_PREFIX, strlen(LXD_LABEL_PREFIX)))
      continue;
    if(json_object_set(cfg, key, v)) {
      rc = lxd_fail(err, DROVER_E_NOMEM, scratch, "out of memory");
      goto out;
    }
  }
  if(lxd_set(obj, "config", json_incref(cfg)) || info_add(info, snap, obj)) {
    rc = lxd_fail(err, DROVER_E_NOMEM, scratch, "out of memory");
    goto out;
  }
  /* PUT takes the writable fields and ignores the rest of what GET gave. */
  rc = lxd_call_wait(st, "PUT", spath, etag, obj, scratch, deadline, err);
out:
  json_decref(snap);
  json_decref(body);
  json_decref(obj);
  json_decref(cfg);
  free(etag);
  free(src);
  free(ei);
  free(es);
  free(snpath);
  free(spath);
  free(ipath);
  return rc;
}

/* "/1.0/instances/<owner>/backups/<bname><suffix>" with the project.
 * Caller frees; NULL on OOM. */
static char *backup_path(const lxd_state *st, const char *owner, const char *bname,
                         const char *suffix)
{
  char *eo = lxd_esc(owner), *eb = lxd_esc(bname), *path = NULL;

  if(eo && eb)
    path = lxd_path(st, "/1.0/instances/%s/backups/%s%s", eo, eb, suffix);
  free(eb);
  free(eo);
  return path;
}

/* Deletes LXD backup bname of instance; one already gone is fine. */
static drover_code drop_backup(lxd_state *st, const char *instance, const char *bname,
                               double deadline, drover_error *err)
{
  char *path = backup_path(st, instance, bname, "");
  lxd_result res;
  drover_code rc;

  memset(&res, 0, sizeof(res));
  if(!path)
    rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
  else
    rc = lxd_call(st, "DELETE", path, NULL, NULL, instance, LXD_ALLOW_404, &res, err);
  if(!rc && res.op)
    rc = lxd_wait(st, res.op, deadline, instance, 0, NULL, err);
  lxd_result_free(&res);
  free(path);
  return rc;
}

/* POST /1.0/instances/<owner>/backups (instance_only, gzip: what `lxc
 * export --instance-only --compression gzip` asks for), not waited for:
 * *op gets the operation path (owned). It expires after a day, so even
 * one a killed run left goes away. */
static drover_code start_backup(lxd_state *st, const char *owner, const char *bname,
                                char **op, drover_error *err)
{
  char *bpath = lxd_name_path(st, "/1.0/instances/", owner, "/backups");
  char expires[32];
  time_t tt = time(NULL) + 86400;
  struct tm tm;
  json_t *body;
  lxd_result res;
  drover_code rc;

  *op = NULL;
  memset(&res, 0, sizeof(res));
  gmtime_r(&tt, &tm);
  strftime(expires, sizeof(expires), "%Y-%m-%dT%H:%M:%SZ", &tm);
  body = json_pack("{s:s, s:s, s:b, s:b, s:s}", "name", bname, "expires_at", expires,
                   "instance_only", 1, "optimized_storage", 0, "compression_algorithm",
                   "gzip");
  if(!bpath || !body)
    rc = lxd_fail(err, DROVER_E_NOMEM, owner, "out of memory");
  else
    rc = lxd_call(st, "POST", bpath, NULL, body, owner, 0, &res, err);
  if(!rc && !res.op)
    rc = lxd_fail(err, DROVER_E_PROVIDER, owner, "the backup request gave no operation");
  if(!rc) {
    *op = res.op;
    res.op = NULL;
  }
  lxd_result_free(&res);
  json_decref(body);
  free(bpath);
  return rc;
}

/* GET /1.0/instances/<owner>/backups/<bname>/export into path. */
static drover_code download_backup(lxd_state *st, const char *owner, const char *bname,
                                   const char *path, drover_error *err)
{
  char *xpath = backup_path(st, owner, bname, "/export");
  drover_http_req req;
  drover_http_response resp;
  drover_error herr;
  drover_code rc;

  memset(&resp, 0, sizeof(resp));
  if(!xpath) {
    rc = lxd_fail(err, DROVER_E_NOMEM, owner, "out of memory");
    goto out;
  }
  memset(&req, 0, sizeof(req));
  req.version = DROVER_HTTP_REQ_VERSION;
  req.method = "GET";
  req.path = xpath;
  req.response_path = path;
  drover_error_clear(&herr);
  rc = drover_http_perform(st->http, &req, &resp, &herr);
  if(rc && !resp.status) {
    rc = lxd_fail(err, rc, owner, "%s: %s", st->where, herr.text);
    goto out;
  }
  if(rc || resp.status != 200) {
    rc = lxd_transfer_fail(err, &resp, owner, "download of the backup");
    goto out;
  }
  drover_logf(&st->env, DROVER_LOG_DEBUG, "lxd: %s: backup of %llu bytes downloaded",
              owner, resp.written);
out:
  drover_http_response_free(&resp);
  free(xpath);
  return rc;
}

/* Waits for the backup operation op of owner's backup bname. LXD forgets
 * a finished operation after a few seconds (the snapshot taken alongside
 * may outlast that): then the backup's record says it was made, since a
 * failed one is removed again. */
static drover_code finish_backup(lxd_state *st, const char *owner, const char *bname,
                                 const char *op, double deadline, drover_error *err)
{
  char *path = NULL;
  json_t *obj = NULL;
  drover_error we;
  drover_code rc;

  drover_error_clear(&we);
  rc = lxd_wait(st, op, deadline, owner, 0, NULL, &we);
  if(rc == DROVER_E_TRANSIENT) {
    if(!(path = backup_path(st, owner, bname, "")))
      rc = lxd_fail(err, DROVER_E_NOMEM, owner, "out of memory");
    else if(!(rc = lxd_get(st, path, owner, &obj, NULL, err)) && !obj)
      rc = lxd_fail(err, DROVER_E_PROVIDER, owner, "the backup failed (LXD no longer "
                    "knows why)");
  }
  else if(rc && err && !err->code)
    *err = we;
  json_decref(obj);
  free(path);
  return rc;
}

/* The backup of the scratch copy: start, wait, download, then delete it
 * whatever happened. */
static drover_code backup_to_file(lxd_state *st, const char *owner, const char *bname,
                                  const char *path, double deadline, drover_error *err)
{
  char *op = NULL;
  drover_error e2;
  drover_code rc = start_backup(st, owner, bname, &op, err);

  if(!rc)
    rc = finish_backup(st, owner, bname, op, deadline, err);
  if(!rc)
    rc = download_backup(st, owner, bname, path, err);
  /* Also after a failed start: LXD may have made it before failing. */
  drover_error_clear(&e2);
  if(drop_backup(st, owner, bname, deadline, &e2) && !rc) {
    rc = e2.code;
    if(err && !err->code)
      *err = e2;
  }
  free(op);
  return rc;
}

drover_code lxd_backup_export(void *state, const char *instance, const char *snapshot,
                              const char *scratch, const char *path, double deadline,
                              json_t **info, drover_error *err)
{
  lxd_state *st = state;
  json_t *inf = json_pack("{s:{}, s:s, s:s}", "labels", "project", st->project,
                          "compression", "gzip");
  drover_error e2;
  drover_code rc;

  *info = NULL;
  deadline = lxd_deadline(st, deadline);
  if(!inf)
    return lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
  /* What a killed run left goes first: its scratch copy, and the backup
   * of a live export (named like the scratch) on the instance. */
  rc = lxd_drop_instance(st, scratch, deadline, err);
  if(!rc)
    rc = drop_backup(st, instance, scratch, deadline, err);
  if(!rc)
    rc = make_scratch(st, instance, snapshot, scratch, json_object_get(inf, "labels"), inf,
                      deadline, err);
  if(!rc)
    rc = backup_to_file(st, scratch, EXPORT_BACKUP, path, deadline, err);
  /* The scratch instance takes its backups with it. */
  drover_error_clear(&e2);
  if(lxd_drop_instance(st, scratch, deadline, &e2) && !rc) {
    rc = e2.code;
    if(err && !err->code)
      *err = e2;
  }
  if(rc)
    json_decref(inf);
  else
    *info = inf;
  return rc;
}

/* The progress LXD reports on a running backup: it appears once the
 * compressed archive has been written for a second. */
#define LXD_BACKUP_PROGRESS "create_backup_progress"
#define LIVE_POLL 0.25 /* seconds between looks at the operation */

drover_code lxd_backup_live_begin(void *state, const char *instance, const char *tag,
                                  double deadline, char **handle, drover_error *err)
{
  lxd_state *st = state;
  char *op = NULL, *opath = NULL;
  lxd_result res;
  drover_code rc;

  *handle = NULL;
  memset(&res, 0, sizeof(res));
  deadline = lxd_deadline(st, deadline);
  /* A backup of this name a killed run left goes first. */
  rc = drop_backup(st, instance, tag, deadline, err);
  if(!rc)
    rc = start_backup(st, instance, tag, &op, err);
  /* LXD 5.0 rewrites the instance's backup.yaml in place (truncate, then
   * write) when a snapshot completes, and the backup reads that file
   * first, before any of the data, right after writing it itself. Once
   * the compressed archive has grown for a second, both are long past:
   * a snapshot may then be taken alongside without either capturing a
   * half-written file. Until then (or until it is done), wait. */
  if(!rc && !(opath = strchr(op, '?') ? strdup(op) : lxd_path(st, "%s", op)))
    rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
  while(!rc) {
    long code;
    lxd_result_free(&res);
    rc = lxd_call(st, "GET", opath, NULL, NULL, instance, LXD_ALLOW_404 | LXD_META_OBJECT,
                  &res, err);
    if(rc || res.status == 404)
      break; /* finished and forgotten: backup_live_end reads what became of it */
    code = (long)json_integer_value(json_object_get(res.meta, "status_code"));
    if(code >= 200 || json_object_get(json_object_get(res.meta, "metadata"),
                                      LXD_BACKUP_PROGRESS))
      break;
    if(drover_now() + LIVE_POLL > deadline) {
      rc = lxd_fail(err, DROVER_E_TIMEOUT, instance,
                    "backup %s did not get under way before the deadline", tag);
      break;
    }
    {
      struct timespec ts = {0, (long)(LIVE_POLL * 1e9)};
      nanosleep(&ts, NULL); /* an early wake-up only looks sooner */
    }
  }
  lxd_result_free(&res);
  free(opath);
  if(rc && op) {
    /* Not handed over: nothing may be left behind. */
    drover_error e2;
    drover_error_clear(&e2);
    lxd_wait(st, op, deadline, instance, 0, NULL, &e2);
    drop_backup(st, instance, tag, deadline, &e2);
    free(op);
    op = NULL;
  }
  *handle = op;
  return rc;
}

drover_code lxd_backup_live_end(void *state, const char *instance, const char *tag,
                                const char *handle, const char *path, double deadline,
                                json_t **info, drover_error *err)
{
  lxd_state *st = state;
  char *ipath = lxd_name_path(st, "/1.0/instances/", instance, NULL);
  json_t *inf = json_pack("{s:{}, s:s, s:s}", "labels", "project", st->project,
                          "compression", "gzip");
  json_t *obj = NULL, *v;
  const char *key;
  size_t pl = strlen(LXD_LABEL_PREFIX);
  drover_error e2;
  drover_code rc;

  if(info)
    *info = NULL;
  deadline = lxd_deadline(st, deadline);
  if(!ipath || !inf) {
    rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
    goto out;
  }
  rc = finish_backup(st, instance, tag, handle, deadline, err);
  if(rc || !path)
    goto out;
  rc = download_backup(st, instance, tag, path, err);
  if(!rc)
    rc = lxd_get(st, ipath, instance, &obj, NULL, err);
  if(!rc && !obj)
    rc = lxd_fail(err, DROVER_E_NOT_FOUND, instance, "instance %s not found", instance);
  if(rc)
    goto out;
  /* The manifest records the instance's drover labels (the archive was
   * made of it with them). */
  json_object_foreach(json_object_get(obj, "config"), key, v) {
    if(strncmp(key, LXD_LABEL_PREFIX, pl) ||
       !strncmp(key, LXD_BACKUP_PREFIX, strlen(LXD_BACKUP_PREFIX)))
      continue;
    if(json_object_set(json_object_get(inf, "labels"), key + pl, v)) {
      rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
      goto out;
    }
  }
  if(info_add(inf, obj, obj))
    rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
out:
  /* The LXD backup goes whatever happened. */
  drover_error_clear(&e2);
  if(drop_backup(st, instance, tag, deadline, &e2) && !rc) {
    rc = e2.code;
    if(err && !err->code)
      *err = e2;
  }
  if(rc || !info)
    json_decref(inf);
  else
    *info = inf;
  json_decref(obj);
  free(ipath);
  return rc;
}
