/* lxd_exec.c - runs a command inside an instance for backup hooks.
 *
 * POST /1.0/instances/<name>/exec with wait-for-websocket and interactive
 * off and record-output on: LXD runs the command as a background
 * operation and writes stdout and stderr to log files of the instance,
 * whose paths the finished operation names ("output": {"1": ..., "2": ...})
 * with the exit status ("return"). */
#include <stdlib.h>
#include <string.h>
#include "lxd.h"

#define OUTPUT_MAX (64 * 1024)

/* Appends the log file at path (plain text, not JSON) to *buf, then
 * deletes it from the instance. */
static drover_code fetch_log(lxd_state *st, const char *path, const char *instance,
                             char **buf, size_t *len, drover_error *err)
{
  drover_http_response resp;
  drover_code rc;
  char *full = lxd_path(st, "%s", path);

  memset(&resp, 0, sizeof(resp));
  if(!full)
    return lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
  rc = drover_http_request(st->http, "GET", full, NULL, NULL, 0, &resp, err);
  if(!rc && resp.status == 200 && resp.len && *len < OUTPUT_MAX) {
    size_t take = resp.len < OUTPUT_MAX - *len ? resp.len : OUTPUT_MAX - *len;
    char *grown = realloc(*buf, *len + take + 1);
    if(!grown)
      rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
    else {
      memcpy(grown + *len, resp.body, take);
      *len += take;
      grown[*len] = '\0';
      *buf = grown;
    }
  }
  drover_http_response_free(&resp);
  if(!rc) {
    /* Best effort: a leftover log file is harmless. */
    drover_error ignore;
    memset(&resp, 0, sizeof(resp));
    drover_error_clear(&ignore);
    drover_http_request(st->http, "DELETE", full, NULL, NULL, 0, &resp, &ignore);
    drover_http_response_free(&resp);
  }
  free(full);
  return rc;
}

drover_code lxd_exec(void *state, const char *instance, const char *const *argv,
                     double deadline, int *exit_status, char **output, drover_error *err)
{
  lxd_state *st = state;
  char *path = lxd_name_path(st, "/1.0/instances/", instance, "/exec");
  json_t *cmd = json_array(), *body = NULL, *meta = NULL, *out;
  lxd_result res;
  char *buf = NULL;
  size_t len = 0, i;
  drover_code rc;
  const char *fd;

  memset(&res, 0, sizeof(res));
  *exit_status = -1;
  if(output)
    *output = NULL;
  if(!path || !cmd) {
    rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
    goto out;
  }
  for(i = 0; argv[i]; i++)
    if(json_array_append_new(cmd, json_string(argv[i]))) {
      rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
      goto out;
    }
  body = json_pack("{s:O, s:{}, s:b, s:b, s:b}", "command", cmd, "environment",
                   "wait-for-websocket", 0, "interactive", 0, "record-output", 1);
  if(!body) {
    rc = lxd_fail(err, DROVER_E_NOMEM, instance, "out of memory");
    goto out;
  }
  rc = lxd_call(st, "POST", path, NULL, body, instance, 0, &res, err);
  if(rc)
    goto out;
  if(!res.op) {
    rc = lxd_fail(err, DROVER_E_PROVIDER, instance, "exec answered without an operation");
    goto out;
  }
  rc = lxd_wait_meta(st, res.op, lxd_deadline(st, deadline), instance, 0, NULL, &meta, err);
  if(rc)
    goto out;
  if(!json_is_integer(json_object_get(meta, "return"))) {
    rc = lxd_fail(err, DROVER_E_PROVIDER, instance,
                  "exec finished without an exit status (operation already forgotten?)");
    goto out;
  }
  *exit_status = (int)json_integer_value(json_object_get(meta, "return"));
  out = json_object_get(meta, "output");
  for(fd = "1"; output; fd = "2") {
    const char *log = json_string_value(json_object_get(out, fd));
    if(log) {
      rc = fetch_log(st, log, instance, &buf, &len, err);
      if(rc)
        goto out;
    }
    if(!strcmp(fd, "2"))
      break;
  }
  if(output) {
    *output = buf;
    buf = NULL;
  }
out:
  lxd_result_free(&res);
  json_decref(meta);
  json_decref(body);
  json_decref(cmd);
  free(buf);
  free(path);
  return rc;
}
