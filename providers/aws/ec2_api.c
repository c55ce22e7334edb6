/* ec2_api.c - signed EC2 Query calls on the shared transport, and the
 * error mapping: client errors surface at once with the AWS code and
 * message; throttling, 5xx and connection errors are the transport's to
 * retry (backoff.c: capped exponential, full jitter, a shared budget). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include "drover_sigv4.h"
#include "aws_sign.h"
#include "ec2.h"

/* --------------------------------------------------------------------------
 * Signing: the transport calls this before every attempt
 */

typedef struct sign_ctx {
  ec2_state *st;
  const char *payload_hash;
  const ec2_form *form;
} sign_ctx;

static drover_code sign_attempt(void *ud, const drover_http_req *req,
                                const drover_http_attempt *attempt,
                                drover_http_headers *add, drover_error *err)
{
  sign_ctx *sc = ud;
  drover_sigv4_header hdr[2];
  drover_sigv4_request sr;
  drover_sigv4_params p;
  ec2_cred c;
  drover_code rc;

  memset(&c, 0, sizeof(c));
  if(attempt->number > 0 && sc->form->before_retry) {
    rc = sc->form->before_retry(sc->form->retry_ud, err);
    if(rc)
      return rc;
  }
  /* Per attempt: role credentials may have been refreshed meanwhile. */
  rc = ec2_cred_get(sc->st, &c, err);
  if(rc)
    goto out;
  hdr[0].name = "host";
  hdr[0].value = attempt->host;
  hdr[1].name = "content-type";
  hdr[1].value = req->content_type;
  memset(&sr, 0, sizeof(sr));
  sr.method = req->method;
  sr.path = req->path;
  sr.query = req->query;
  sr.headers = hdr;
  sr.nheaders = 2;
  sr.payload_hash = sc->payload_hash;
  memset(&p, 0, sizeof(p));
  p.access_key_id = c.akid;
  p.secret_access_key = c.secret;
  p.session_token = c.token;
  p.region = sc->st->region;
  p.service = "ec2";
  p.when = time(NULL);          /* the signer is pure; the clock is read here */
  p.flags = DROVER_SIGV4_SERVICE_FLAGS;
  rc = aws_sign_into(add, &sr, &p, err);
out:
  ec2_cred_free(&c);
  return rc;
}

/* --------------------------------------------------------------------------
 * One call
 */

/* RequestLimitExceeded in an answer the transport does not retry: EC2
 * documents throttling by its code, and servers send it with 503 or 400. */
static int throttled_4xx(const drover_http_response *r)
{
  aws_error e;

  return r->status >= 400 && r->status < 500 && r->status != 429 &&
         aws_error_parse(&e, r->body, r->len) && !strcmp(e.code, "RequestLimitExceeded");
}

/* Takes one retry from the provider's budget; 0 when it is spent. */
static int budget_take(ec2_state *st)
{
  unsigned n = atomic_load(&st->retries_used);

  while(n < st->retry_budget)
    if(atomic_compare_exchange_weak(&st->retries_used, &n, n + 1))
      return 1;
  return 0;
}

/* Capped exponential backoff with full jitter before retry number try. */
static void backoff(const ec2_state *st, unsigned try, unsigned *seed)
{
  double ceiling = st->retry_base, d;
  struct timespec ts;
  unsigned i;

  for(i = 0; i < try && ceiling < 8.0; i++)
    ceiling *= 2;
  if(ceiling > 8.0)
    ceiling = 8.0;
  d = ceiling * ((double)rand_r(seed) / ((double)RAND_MAX + 1.0));
  ts.tv_sec = (time_t)d;
  ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
  while(nanosleep(&ts, &ts) == -1 && errno == EINTR)
    ;
}

/* The transport's final_answer: a capacity error sent as a 5xx is not
 * retried (ec2_error_class). */
static int capacity_answer(void *ud, long status, const char *body, size_t len)
{
  aws_error e;

  (void)ud;
  return aws_error_parse(&e, body, len) && ec2_error_class(status, &e) == DROVER_E_CAPACITY;
}

drover_code ec2_call(ec2_state *st, const ec2_form *f, const char *address, xmlDoc **doc,
                     char *code, drover_error *err)
{
  drover_http_response resp;
  drover_http_req hr;
  sign_ctx sc;
  char hash[65];
  unsigned try, seed = (unsigned)(unsigned long long)(drover_now() * 1e6) ^ (unsigned)(uintptr_t)f;
  drover_code rc;

  *doc = NULL;
  if(code)
    code[0] = '\0';
  memset(&resp, 0, sizeof(resp));
  if(ec2_form_done(f))
    return ec2_fail(err, DROVER_E_NOMEM, address, "out of memory");
  drover_sigv4_sha256_hex(hash, f->buf, f->len);
  memset(&hr, 0, sizeof(hr));
  hr.version = DROVER_HTTP_REQ_VERSION;
  hr.method = "POST";
  hr.path = "/";
  hr.content_type = "application/x-www-form-urlencoded; charset=utf-8";
  hr.body = f->buf;
  hr.body_len = f->len;
  hr.payload_hash = hash;
  sc.st = st;
  sc.payload_hash = hash;
  sc.form = f;
  hr.on_attempt = sign_attempt;
  hr.attempt_userdata = &sc;
  hr.final_answer = capacity_answer;
  for(try = 0;; try++) {
    rc = drover_http_perform(st->http, &hr, &resp, err);
    if(rc || !throttled_4xx(&resp) || try >= st->max_retries || !budget_take(st))
      break;
    drover_http_response_free(&resp);
    backoff(st, try, &seed);
  }
  if(rc == DROVER_E_CONFLICT && f->before_retry)
    goto out;                   /* the first try took effect: the caller adopts */
  if(rc && !resp.status) {
    /* No answer at all (connection errors after the retries). */
    drover_error_locate(err, "aws", address);
    goto out;
  }
  if(resp.status >= 300) {
    aws_error e;
    drover_code c;
    int auth;
    aws_error_parse(&e, resp.body, resp.len);
    c = ec2_error_class(resp.status, &e);
    if(code)
      snprintf(code, 64, "%s", e.code);
    auth = !strcmp(e.code, "AuthFailure") || !strcmp(e.code, "SignatureDoesNotMatch") ||
           !strcmp(e.code, "InvalidClientTokenId") || !strcmp(e.code, "ExpiredToken");
    char gave_up[96] = "";
    /* A final 503 after the retries: the AWS code and message say why,
     * the transport's text how many retries it made. */
    if(rc) {
      const char *g = strstr(err->text, "(gave up");
      snprintf(gave_up, sizeof(gave_up), " %.*s", g ? (int)strcspn(g, "\n") : 0, g ? g : "");
      drover_error_clear(err);
    }
    if(!e.code[0])
      rc = ec2_fail(err, c, address, "%s: HTTP %ld%s", f->action, resp.status,
                    gave_up[1] ? gave_up : "");
    else
      rc = ec2_fail(err, c, address, "%s: HTTP %ld %s: %s%s%s%s%s%s%s%s", f->action,
                    resp.status, e.code, e.message[0] ? e.message : "no message",
                    e.request_id[0] ? " (request id " : "", e.request_id,
                    e.request_id[0] ? ")" : "",
                    auth ? " (check the credentials from " : "",
                    auth ? st->cred.source : "", auth ? ")" : "",
                    gave_up[1] ? gave_up : "");
    goto out;
  }
  if(rc)
    goto out;
  rc = aws_xml_parse(doc, resp.body, resp.len, f->action, err);
  if(rc)
    drover_error_locate(err, "aws", address);
out:
  drover_http_response_free(&resp);
  return rc;
}

drover_code ec2_do(ec2_state *st, ec2_form *f, const char *address, char *code,
                   drover_error *err)
{
  xmlDoc *doc = NULL;
  drover_code rc = ec2_call(st, f, address, &doc, code, err);

  aws_xml_free(doc);
  ec2_form_free(f);
  return rc;
}

/* A copy of base's body with NextToken=token appended. */
static void form_page(ec2_form *f, const ec2_form *base, const char *token)
{
  memset(f, 0, sizeof(*f));
  f->action = base->action;
  if(base->oom || !base->buf) {
    f->oom = 1;
    return;
  }
  f->buf = strdup(base->buf);
  f->len = base->len;
  f->cap = f->len + 1;
  if(!f->buf)
    f->oom = 1;
  if(token)
    ec2_form_add(f, "NextToken", token);
}

drover_code ec2_each_page(ec2_state *st, const ec2_form *base, const char *address,
                          ec2_page_fn fn, void *ud, drover_error *err)
{
  char *token = NULL;
  drover_code rc = DROVER_OK;

  do {
    ec2_form f;
    xmlDoc *doc = NULL;
    char *next = NULL;
    form_page(&f, base, token);
    rc = ec2_call(st, &f, address, &doc, NULL, err);
    if(!rc)
      rc = fn(doc, ud, &next, err);
    aws_xml_free(doc);
    ec2_form_free(&f);
    free(token);
    token = next;
  } while(!rc && token);
  free(token);
  return rc;
}

drover_code ec2_describe(ec2_state *st, ec2_form *f, int paged, const char *address,
                         ec2_page_fn fn, void *ud, drover_error *err)
{
  drover_code rc;

  if(paged) {
    char max[16];
    snprintf(max, sizeof(max), "%u", st->page_size);
    ec2_form_add(f, "MaxResults", max);
  }
  rc = ec2_each_page(st, f, address, fn, ud, err);
  ec2_form_free(f);
  return rc;
}

/* DescribeInstances pages: ec2_parse_instances with keep_gone. */
typedef struct page_ctx {
  int keep_gone;
  drover_live_list *out;
} page_ctx;

static drover_code inst_page(xmlDoc *doc, void *ud, char **next, drover_error *err)
{
  page_ctx *pc = ud;
  return ec2_parse_instances(doc, pc->keep_gone, pc->out, next, err);
}

drover_code ec2_describe_instances(ec2_state *st, ec2_form *f, int paged, const char *address,
                                   int keep_gone, drover_live_list *out, drover_error *err)
{
  page_ctx pc = {keep_gone, out};
  return ec2_describe(st, f, paged, address, inst_page, &pc, err);
}

drover_code ec2_retag(ec2_state *st, const char *id, const drover_res_req *req,
                      const json_t *had, int display_name, drover_error *err)
{
  const json_t *want = json_object_get(req->properties, "tags");
  const char *k;
  json_t *v;
  unsigned n = 0;
  ec2_form f;
  drover_code rc;

  ec2_form_init(&f, "CreateTags");
  ec2_form_add(&f, "ResourceId.1", id);
  ec2_form_tags(&f, "", &n, req, want, display_name);
  rc = ec2_do(st, &f, req->address, NULL, err);
  if(rc)
    return rc;
  n = 0;
  ec2_form_init(&f, "DeleteTags");
  ec2_form_add(&f, "ResourceId.1", id);
  json_object_foreach((json_t *)had, k, v)
    /* Name stays while drover sets it as the display name. */
    if(!json_object_get(want, k) && !(display_name && !strcmp(k, "Name")))
      ec2_form_addf(&f, k, "Tag.%u.Key", ++n);
  if(n)
    return ec2_do(st, &f, req->address, NULL, err);
  ec2_form_free(&f);
  return DROVER_OK;
}

int ec2_changed(const drover_res_req *req, const char *prop)
{
  size_t i;

  for(i = 0; req->changed && req->changed[i]; i++)
    if(!strcmp(req->changed[i], prop))
      return 1;
  return 0;
}

double ec2_deadline(double deadline, double fallback)
{
  return deadline > 0 ? deadline : drover_now() + fallback;
}

drover_code ec2_take_first(drover_code rc, drover_live_list *list, const char *what,
                           const char *id, const char *address, drover_live **out,
                           drover_error *err)
{
  *out = NULL;
  if(!rc && !list->count)
    rc = ec2_fail(err, DROVER_E_NOT_FOUND, address, "%s %s not found", what, id);
  if(!rc) {
    *out = list->items[0];
    list->items[0] = NULL;
  }
  drover_live_list_clear(list);
  return rc;
}

int ec2_pause(const ec2_state *st, double deadline)
{
  double left = deadline - drover_now(), d = st->poll_interval;
  struct timespec ts;

  if(left <= 0)
    return 1;
  if(d > left)
    d = left;
  ts.tv_sec = (time_t)d;
  ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
  while(nanosleep(&ts, &ts) == -1 && errno == EINTR)
    ;
  return 0;
}
