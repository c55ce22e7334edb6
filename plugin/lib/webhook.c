/* webhook.c - the optional webhook a scheduled run calls on failure or
 * drift: a small JSON body POSTed through the shared HTTP transport
 * (timeout, retries with backoff). The URL may carry a token, so it is
 * registered as a secret and never appears in a body, a log line or an
 * error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine.h"
#include "drift.h"

/* A copy of s with every URL's credentials ("user:pass@") and query
 * ("?...") cut and registered secrets redacted. Caller frees. */
static char *scrub(const char *s)
{
  char *red = dv_redact_dup(s), *p, *q;

  for(p = red; p && (p = strstr(p, "://")) != NULL;) {
    char *auth = p + 3, *end = auth + strcspn(auth, " \t\"'/?#"), *at = NULL;
    for(q = auth; q < end; q++)
      if(*q == '@')
        at = q;
    if(at) {
      memmove(auth, at + 1, strlen(at + 1) + 1);
      end -= at + 1 - auth;
    }
    end += strcspn(end, " \t\"'?#");
    if(*end == '?' || *end == '#') {
      size_t cut = strcspn(end, " \t\"'");
      memmove(end, end + cut, strlen(end + cut) + 1);
    }
    p = end;
  }
  return red;
}

drover_code drover_webhook_body(char **out, const char *event, const drover_run_metrics *m,
                                drover_error *err)
{
  char when[32], host[256];
  char *error = m->error ? scrub(m->error) : NULL;
  json_t *o;

  *out = NULL;
  if(gethostname(host, sizeof(host)))
    snprintf(host, sizeof(host), "unknown");
  host[sizeof(host) - 1] = '\0';
  o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:f, s:I, s:s?}", "event",
                event, "stack", m->stack, "policy", m->policy, "kind", m->kind, "ok", m->ok,
                "host", host, "started_at", dv_iso_utc(m->started, when, sizeof(when)),
                "duration_seconds", m->duration, "missed_slots", (json_int_t)m->missed,
                "error", error);
  if(o && m->slot > 0) {
    char slot[32];
    json_object_set_new(o, "slot", json_string(dv_iso_utc(m->slot, slot, sizeof(slot))));
  }
#define COUNT(k, v) if(o && (v) >= 0) json_object_set_new(o, k, json_integer((json_int_t)(v)))
  COUNT("drifted", m->drifted);
  COUNT("repaired", m->repaired);
  COUNT("current", m->current);
  COUNT("desired", m->desired);
  COUNT("snapshots_kept", m->kept);
  COUNT("snapshots_deleted", m->deleted);
#undef COUNT
  *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  free(error);
  return *out ? DROVER_OK : drover_error_set(err, DROVER_E_NOMEM, "out of memory");
}

drover_code drover_webhook_send(const drover_webhook *w, const char *body, drover_error *err)
{
  drover_http_config cfg;
  drover_http_req req;
  drover_http_response resp;
  drover_http *http = NULL;
  drover_error e;
  char *base = NULL, *path = NULL, *query;
  const char *auth, *rest;
  drover_code rc;

  memset(&resp, 0, sizeof(resp));
  drover_error_clear(&e);
  if(!w || !w->url || (strncmp(w->url, "http://", 7) && strncmp(w->url, "https://", 8)))
    return drover_error_set(err, DROVER_E_ARG, "webhook: the URL must be http:// or https://");
  dv_secret_add(w->url);
  auth = strstr(w->url, "://") + 3;
  rest = auth + strcspn(auth, "/?#");
  base = strndup(w->url, (size_t)(rest - w->url));
  path = dv_aprintf("%s%s", *rest == '/' ? "" : "/", rest);
  if(!base || !path) {
    rc = drover_error_set(err, DROVER_E_NOMEM, "out of memory");
    goto out;
  }
  if((query = strchr(path, '#')) != NULL)
    *query = '\0';
  if((query = strchr(path, '?')) != NULL)
    *query++ = '\0';
  memset(&cfg, 0, sizeof(cfg));
  cfg.version = DROVER_HTTP_CONFIG_VERSION;
  cfg.base_url = base;
  cfg.ca_file = w->ca_file;
  cfg.timeout = w->timeout > 0 ? w->timeout : 10;
  cfg.connect_timeout = cfg.timeout;
  cfg.max_retries = w->retries ? w->retries : 3;
  cfg.retry_base = 0.5;
  cfg.retry_max = 5;
  memset(&req, 0, sizeof(req));
  req.version = DROVER_HTTP_REQ_VERSION;
  req.method = "POST";
  req.path = path;
  req.query = query;
  req.content_type = "application/json";
  req.body = body;
  req.body_len = strlen(body);
  rc = drover_http_new(&http, &cfg, &e);
  if(!rc)
    rc = drover_http_perform(http, &req, &resp, &e);
  /* The transport's texts name the URL: say what happened without it. */
  if(rc && resp.status)
    rc = drover_error_set(err, rc, "webhook: delivery failed: %s, last answer HTTP %ld",
                          drover_strerror(rc), resp.status);
  else if(rc)
    rc = drover_error_set(err, rc, "webhook: delivery failed: %s", drover_strerror(rc));
  else if(resp.status < 200 || resp.status > 299)
    rc = drover_error_set(err, DROVER_E_PROVIDER, "webhook: the receiver answered HTTP %ld",
                          resp.status);
out:
  drover_http_response_free(&resp);
  drover_http_free(http);
  free(base);
  free(path);
  return rc;
}
