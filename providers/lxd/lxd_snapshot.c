/* lxd_snapshot.c - instance snapshots for backups: list, create (labels
 * first, so the snapshot's captured config carries them), delete and
 * restore in place.
 *
 * LXD snapshots have no description or labels of their own (POST takes
 * name, stateful and expires_at only), but each keeps a copy of the
 * instance config as it was: drover writes its label key into the
 * instance config right before the snapshot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lxd.h"

/* "2026-11-30T10:02:09.123456789Z" or "...+01:00" to Unix seconds; 0 when
 * unreadable. */
static long long parse_rfc3339(const char *s)
{
  struct tm tm;
  int y, mo, d, h, mi, sec, n = 0;
  long long t;
  const char *p;

  if(!s || sscanf(s, "%d-%d-%dT%d:%d:%d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
    return 0;
  memset(&tm, 0, sizeof(tm));
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  t = (long long)timegm(&tm);
  p = s + n;
  if(*p == '.')
    for(p++; *p >= '0' && *p <= '9'; p++)
      ;
  if(*p == '+' || *p == '-') {
    int oh = 0, om = 0;
    if(sscanf(p + 1, "%d:%d", &oh, &om) >= 1)
      t -= (*p == '+' ? 1 : -1) * (oh * 3600LL + om * 60LL);
  }
  return t;
}

drover_code lxd_snapshot_list(void *state, const char *instance,
                              drover_snapshot_list *out, drover_error *err)
{
  lxd_state *st = state;
  char *path = lxd_name_path(st, "/1.0/instances/", instance, "/snapshots");
  char *full = NULL;
  lxd_result res;
  drover_code rc;
  size_t i;
  json_t *snap;

  memset(&res, 0, sizeof(res));
  if(!path || asprintf(&full, "%s&recursion=1", path) < 0) {
    full = NULL;
    rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
    goto out;
  }
  rc = lxd_call(st, "GET", full, NULL, NULL, instance, 0, &res, err);
  if(rc)
    goto out;
  json_array_foreach(res.meta, i, snap) {
    const char *name = json_string_value(json_object_get(snap, "name"));
    const char *slash = name ? strrchr(name, '/') : NULL;
    json_t *labels = json_object(), *v;
    const char *key;

    if(!name || !labels) {
      json_decref(labels);
      continue;
    }
    json_object_foreach(json_object_get(snap, "config"), key, v) {
      if(!strncmp(key, LXD_BACKUP_PREFIX, strlen(LXD_BACKUP_PREFIX)) && json_is_string(v) &&
         lxd_set(labels, key + strlen(LXD_BACKUP_PREFIX), json_incref(v))) {
        json_decref(labels);
        rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
        goto out;
      }
    }
    rc = drover_snapshot_list_push(out, instance, slash ? slash + 1 : name,
                                   parse_rfc3339(json_string_value(
                                       json_object_get(snap, "created_at"))),
                                   labels);
    if(rc) {
      rc = lxd_fail(err, rc, instance, "out of memory");
      goto out;
    }
  }
out:
  lxd_result_free(&res);
  free(full);
  free(path);
  return rc;
}

drover_code lxd_snapshot_create(void *state, const char *instance, const char *snapshot,
                                const char *label_key, const char *label_text,
                                double deadline, int *existed, drover_error *err)
{
  lxd_state *st = state;
  char *ipath = lxd_name_path(st, "/1.0/instances/", instance, NULL);
  char *spath = lxd_name_path(st, "/1.0/instances/", instance, "/snapshots");
  char *key = NULL;
  json_t *body = NULL;
  lxd_exists ex;
  drover_code rc;

  *existed = 0;
  deadline = lxd_deadline(st, deadline);
  if(!ipath || !spath || asprintf(&key, LXD_BACKUP_PREFIX "%s", label_key) < 0) {
    key = NULL;
    rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
    goto out;
  }
  /* PATCH merges config keys: only the label changes. */
  body = json_pack("{s:{s:s}}", "config", key, label_text);
  if(!body) {
    rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
    goto out;
  }
  rc = lxd_call_wait(st, "PATCH", ipath, NULL, body, instance, deadline, err);
  if(rc)
    goto out;
  json_decref(body);
  body = json_pack("{s:s, s:b}", "name", snapshot, "stateful", 0);
  if(!body) {
    rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
    goto out;
  }
  rc = lxd_post_create(st, spath, body, instance, deadline, &ex, err);
  *existed = !rc && ex.yes;
out:
  json_decref(body);
  free(key);
  free(spath);
  free(ipath);
  return rc;
}

/* "/1.0/instances/<i>/snapshots/<s>?project=..." Caller frees. */
static char *snap_path(lxd_state *st, const char *instance, const char *snapshot)
{
  char *ei = lxd_esc(instance), *es = lxd_esc(snapshot), *p = NULL;

  if(ei && es)
    p = lxd_path(st, "/1.0/instances/%s/snapshots/%s", ei, es);
  free(ei);
  free(es);
  return p;
}

drover_code lxd_snapshot_delete(void *state, const char *instance, const char *snapshot,
                                double deadline, drover_error *err)
{
  lxd_state *st = state;
  char *path = snap_path(st, instance, snapshot);
  lxd_result res;
  drover_code rc;

  memset(&res, 0, sizeof(res));
  if(!path)
    return lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
  rc = lxd_call(st, "DELETE", path, NULL, NULL, instance, LXD_ALLOW_404, &res, err);
  if(!rc && res.op)
    rc = lxd_wait(st, res.op, lxd_deadline(st, deadline), instance, 0, NULL, err);
  lxd_result_free(&res);
  free(path);
  return rc;
}

drover_code lxd_snapshot_restore(void *state, const char *instance, const char *snapshot,
                                 double deadline, drover_error *err)
{
  lxd_state *st = state;
  char *path = lxd_name_path(st, "/1.0/instances/", instance, NULL);
  json_t *body = json_pack("{s:s}", "restore", snapshot);
  drover_code rc;

  if(!path || !body)
    rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
  else
    rc = lxd_call_wait(st, "PUT", path, NULL, body, instance, lxd_deadline(st, deadline),
                       err);
  json_decref(body);
  free(path);
  return rc;
}

drover_code lxd_snapshot_clone(void *state, const char *instance, const char *snapshot,
                               const char *new_name, const json_t *labels, double deadline,
                               drover_error *err)
{
  lxd_state *st = state;
  json_t *cfg = NULL, *v, *snap = NULL;
  const char *key;
  char *spath2 = NULL;
  char *path = lxd_path(st, "/1.0/instances");
  char *spath = lxd_name_path(st, "/1.0/instances/", new_name, "/state");
  char *src = NULL;
  json_t *body = NULL, *start = NULL;
  drover_code rc;

  deadline = lxd_deadline(st, deadline);
  if(!path || !spath || asprintf(&src, "%s/%s", instance, snapshot) < 0) {
    src = NULL;
    rc = lxd_fail(err, DROVER_E_NOMEM, new_name, "out of memory");
    goto out;
  }
  /* LXD copies the source's config; the request's keys win. */
  cfg = json_object();
  json_object_foreach((json_t *)labels, key, v) {
    char *k = NULL;
    if(!cfg || asprintf(&k, LXD_LABEL_PREFIX "%s", key) < 0 ||
       json_object_set(cfg, k, v)) {
      free(k);
      rc = lxd_fail(err, DROVER_E_NOMEM, new_name, "out of memory");
      goto out;
    }
    free(k);
  }
  /* LXD 5.0 gives a copy made from a snapshot no profiles unless asked
   * (then: no root disk): name the snapshot's own. */
  spath2 = snap_path(st, instance, snapshot);
  rc = lxd_get(st, spath2, new_name, &snap, NULL, err);
  if(rc)
    goto out;
  if(!snap) {
    rc = lxd_fail(err, DROVER_E_NOT_FOUND, new_name, "snapshot %s/%s not found", instance,
                  snapshot);
    goto out;
  }
  body = json_pack("{s:s, s:{s:s, s:s}, s:O, s:O}", "name", new_name, "source", "type",
                   "copy", "source", src, "config", cfg, "profiles",
                   json_object_get(snap, "profiles") ? json_object_get(snap, "profiles")
                                                     : json_null());
  start = json_pack("{s:s, s:i}", "action", "start", "timeout", 30);
  if(!body || !start) {
    rc = lxd_fail(err, DROVER_E_NOMEM, new_name, "out of memory");
    goto out;
  }
  rc = lxd_call_wait(st, "POST", path, NULL, body, new_name, deadline, err);
  if(!rc)
    rc = lxd_call_wait(st, "PUT", spath, NULL, start, new_name, deadline, err);
out:
  json_decref(body);
  json_decref(start);
  json_decref(cfg);
  json_decref(snap);
  free(spath2);
  free(src);
  free(spath);
  free(path);
  return rc;
}
