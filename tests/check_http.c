/* check_http.c - the shared HTTP module against a scripted local server.
 *
 * The server is a thread with a listening socket (TCP on 127.0.0.1, or
 * AF_UNIX in a temp dir). It answers connection n with script[n] (the last
 * entry repeats) and closes, so every request is one connection and the
 * number of connections counts the attempts. Three entries misbehave
 * instead of answering: SRV_RESET (a TCP reset), SRV_CLOSE (closes with
 * no reply) and SRV_STALL (reads the request and never answers; the
 * connection is closed once the client gives up on it).
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include "engine.h"

/* --------------------------------------------------------------------------
 * The scripted server
 */

typedef struct srv {
  int fd;
  char dir[64];                 /* AF_UNIX: temp dir holding the socket */
  char sock[128];
  int port;
  const char *const *script;
  size_t nscript;
  atomic_int served;
  atomic_int stop;
  pthread_mutex_t mu;
  char last[16384];             /* last request: head and body */
  pthread_t th;
} srv;

/* Reads one request (head, then Content-Length bytes of body) into buf.
 * Gives up quietly after a short receive timeout (a TLS hello never ends
 * with a blank line). */
static void read_request(int c, char *buf, size_t size)
{
  size_t len = 0;
  long want = -1;
  struct timeval tv = {0, 300000};

  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  buf[0] = '\0';
  while(len + 1 < size) {
    ssize_t n = recv(c, buf + len, size - 1 - len, 0);
    char *end;
    if(n <= 0)
      break;
    len += (size_t)n;
    buf[len] = '\0';
    end = strstr(buf, "\r\n\r\n");
    if(end && want < 0) {
      char *cl = strcasestr(buf, "\r\nContent-Length:");
      want = (long)(end + 4 - buf) + (cl && cl < end ? strtol(cl + 17, NULL, 10) : 0);
    }
    if(want >= 0 && (long)len >= want)
      break;
  }
}

#define SRV_RESET "!reset"
#define SRV_CLOSE "!close"
#define SRV_STALL "!stall"

/* SRV_STALL: waits (at most 60 s) until the client closes its end. */
static void stall_until_client_closes(int c)
{
  char b[256];
  int i;

  for(i = 0; i < 1200; i++) {
    struct pollfd p = {c, POLLIN, 0};
    if(poll(&p, 1, 50) > 0 && recv(c, b, sizeof(b), MSG_DONTWAIT) <= 0)
      return;
  }
}

static void *srv_main(void *arg)
{
  srv *s = arg;
  char req[sizeof(s->last)];

  while(!atomic_load(&s->stop)) {
    struct pollfd p = {s->fd, POLLIN, 0};
    int c, n;
    const char *r;

    if(poll(&p, 1, 50) <= 0)
      continue;
    c = accept(s->fd, NULL, NULL);
    if(c < 0)
      continue;
    read_request(c, req, sizeof(req));
    pthread_mutex_lock(&s->mu);
    memcpy(s->last, req, sizeof(s->last));
    pthread_mutex_unlock(&s->mu);
    n = atomic_fetch_add(&s->served, 1);
    r = s->script[(size_t)n < s->nscript ? (size_t)n : s->nscript - 1];
    if(!strcmp(r, SRV_RESET)) {
      struct linger lg = {1, 0}; /* close() then sends RST */
      setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
      close(c);
      continue;
    }
    if(!strcmp(r, SRV_STALL))
      stall_until_client_closes(c);
    else if(strcmp(r, SRV_CLOSE) && send(c, r, strlen(r), MSG_NOSIGNAL) < 0)
      perror("send");
    shutdown(c, SHUT_WR);
    close(c);
  }
  return NULL;
}

static void srv_start(srv *s, int unix_socket, const char *const *script, size_t n)
{
  memset(s, 0, sizeof(*s));
  s->script = script;
  s->nscript = n;
  pthread_mutex_init(&s->mu, NULL);
  if(unix_socket) {
    struct sockaddr_un sa;
    strcpy(s->dir, "/tmp/check_http.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s->dir));
    snprintf(s->sock, sizeof(s->sock), "%s/http.sock", s->dir);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    ck_assert_uint_lt(strlen(s->sock), sizeof(sa.sun_path));
    memcpy(sa.sun_path, s->sock, strlen(s->sock) + 1);
    s->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(s->fd, 0);
    ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  }
  else {
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s->fd, 0);
    ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(s->fd, (struct sockaddr *)&sa, &len), 0);
    s->port = ntohs(sa.sin_port);
  }
  ck_assert_int_eq(listen(s->fd, 16), 0);
  ck_assert_int_eq(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(srv *s)
{
  atomic_store(&s->stop, 1);
  pthread_join(s->th, NULL);
  close(s->fd);
  if(s->sock[0])
    unlink(s->sock);
  if(s->dir[0])
    rmdir(s->dir);
  pthread_mutex_destroy(&s->mu);
}

/* A copy of the last request the server saw; caller frees. */
static char *srv_last(srv *s)
{
  char *copy;
  pthread_mutex_lock(&s->mu);
  copy = strdup(s->last);
  pthread_mutex_unlock(&s->mu);
  return copy;
}

/* Seconds a request may take; the stall tests lower it so that each
 * stalled attempt ends soon. */
static double client_timeout = 5;

/* An HTTP handle for s; fast backoff so the tests stay quick. */
static drover_http *client(srv *s, const char *scheme, unsigned max_retries,
                           unsigned budget)
{
  drover_http_config cfg;
  drover_http *h = NULL;
  drover_error err;
  char url[64];

  memset(&cfg, 0, sizeof(cfg));
  drover_error_clear(&err);
  if(s->sock[0]) {
    cfg.base_url = "http://lxd";
    cfg.unix_socket = s->sock;
  }
  else {
    snprintf(url, sizeof(url), "%s://127.0.0.1:%d", scheme, s->port);
    cfg.base_url = url;
  }
  cfg.connect_timeout = 2;
  cfg.timeout = client_timeout;
  cfg.max_retries = max_retries;
  cfg.retry_base = 0.01;
  cfg.retry_max = 4;
  cfg.retry_budget = budget;
  ck_assert_int_eq(drover_http_new(&h, &cfg, &err), DROVER_OK);
  ck_assert_ptr_nonnull(h);
  return h;
}

#define R503 "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define R200 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n" \
             "Connection: close\r\n\r\n{\"ok\":true}"

/* --------------------------------------------------------------------------
 * Tests
 */

START_TEST(retry_503_then_200)
{
  static const char *const script[] = {R503, R200};
  srv s;
  drover_http *h;
  drover_http_response resp;
  drover_error err;

  drover_error_clear(&err);
  srv_start(&s, 0, script, 2);
  h = client(&s, "http", 4, 100);
  ck_assert_int_eq(drover_http_request(h, "GET", "/x", NULL, NULL, 0, &resp, &err),
                   DROVER_OK);
  ck_assert_int_eq(resp.status, 200);
  ck_assert_str_eq(resp.body, "{\"ok\":true}");
  ck_assert_uint_eq(resp.len, 11);
  ck_assert_int_eq(atomic_load(&s.served), 2);
  drover_http_response_free(&resp);
  drover_http_free(h);
  srv_stop(&s);
}
END_TEST

START_TEST(retry_after_honoured)
{
  static const char *const script[] = {
    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
    "Connection: close\r\n\r\n",
    R200};
  srv s;
  drover_http *h;
  drover_http_response resp;
  drover_error err;
  double t0, elapsed;

  drover_error_clear(&err);
  srv_start(&s, 0, script, 2);
  h = client(&s, "http", 4, 100);
  t0 = drover_now();
  ck_assert_int_eq(drover_http_request(h, "GET", "/x", NULL, NULL, 0, &resp, &err),
                   DROVER_OK);
  elapsed = drover_now() - t0;
  ck_assert_int_eq(resp.status, 200);
  ck_assert_int_eq(atomic_load(&s.served), 2);
  /* The backoff alone would be at most 0.01 s: waiting at least the
   * second LXD asked for is what counts. The upper bound only catches a
   * wait far beyond it (retry_max is 4 s), generous for valgrind. */
  ck_assert_double_ge(elapsed, 1.0);
  ck_assert_double_lt(elapsed, 30.0);
  drover_http_response_free(&resp);
  drover_http_free(h);
  srv_stop(&s);
}
END_TEST

START_TEST(not_found_not_retried)
{
  static const char *const script[] = {
    "HTTP/1.1 404 Not Found\r\nContent-Length: 21\r\nConnection: close\r\n\r\n"
    "{\"error\":\"not found\"}",
    R200};
  srv s;
  drover_http *h;
  drover_http_response resp;
  drover_error err;

  drover_error_clear(&err);
  srv_start(&s, 0, script, 2);
  h = client(&s, "http", 4, 100);
  ck_assert_int_eq(drover_http_request(h, "DELETE", "/1.0/x", NULL, NULL, 0, &resp, &err),
                   DROVER_OK);
  ck_assert_int_eq(resp.status, 404);
  ck_assert_str_eq(resp.body, "{\"error\":\"not found\"}");
  ck_assert_int_eq(err.code, DROVER_OK);
  /* served counts before the reply is sent: final once we have it. */
  ck_assert_int_eq(atomic_load(&s.served), 1);
  {
    char *last = srv_last(&s);
    ck_assert_ptr_nonnull(strstr(last, "DELETE /1.0/x HTTP/1.1\r\n"));
    free(last);
  }
  drover_http_response_free(&resp);
  drover_http_free(h);
  srv_stop(&s);
}
END_TEST

START_TEST(budget_exhausted)
{
  static const char *const script[] = {R503};
  static const char secret[] = "{\"password\":\"hunter2-very-secret\"}";
  srv s;
  drover_http *h;
  drover_http_response resp;
  drover_error err;

  drover_error_clear(&err);
  srv_start(&s, 0, script, 1);
  /* 4 retries per request allowed, but only 2 over the handle's life. */
  h = client(&s, "http", 4, 2);
  ck_assert_int_eq(drover_http_request(h, "POST", "/x", NULL, secret, strlen(secret),
                                       &resp, &err), DROVER_E_TRANSIENT);
  ck_assert_int_eq(err.code, DROVER_E_TRANSIENT);
  ck_assert_int_eq(atomic_load(&s.served), 3);
  ck_assert_int_eq(resp.status, 503);
  ck_assert_ptr_nonnull(strstr(err.text, "budget"));
  ck_assert_ptr_null(strstr(err.text, "hunter2"));
  drover_http_response_free(&resp);

  /* The budget is spent: the next request is not retried at all. */
  drover_error_clear(&err);
  ck_assert_int_eq(drover_http_request(h, "GET", "/y", NULL, NULL, 0, &resp, &err),
                   DROVER_E_TRANSIENT);
  ck_assert_int_eq(atomic_load(&s.served), 4);
  drover_http_response_free(&resp);
  drover_http_free(h);
  srv_stop(&s);
}
END_TEST

START_TEST(max_retries_exhausted)
{
  static const char *const script[] = {R503};
  srv s;
  drover_http *h;
  drover_http_response resp;
  drover_error err;

  drover_error_clear(&err);
  srv_start(&s, 0, script, 1);
  h = client(&s, "http", 3, 100);
  ck_assert_int_eq(drover_http_request(h, "GET", "/x", NULL, NULL, 0, &resp, &err),
                   DROVER_E_TRANSIENT);
  ck_assert_int_eq(atomic_load(&s.served), 4);
  ck_assert_ptr_nonnull(strstr(err.text, "HTTP 503"));
  drover_http_response_free(&resp);
  drover_http_free(h);
  srv_stop(&s);
}
END_TEST

START_TEST(connection_refused_transient)
{
  drover_http_config cfg;
  drover_http *h = NULL;
  drover_http_response resp;
  drover_error err;
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  char url[64];
  int fd;

  /* A port that was free a moment ago and has no listener now. */
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  close(fd);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
  memset(&cfg, 0, sizeof(cfg));
  cfg.base_url = url;
  cfg.max_retries = 2;
  cfg.retry_base = 0.01;
  drover_error_clear(&err);
  ck_assert_int_eq(drover_http_new(&h, &cfg, &err), DROVER_OK);
  ck_assert_int_eq(drover_http_request(h, "GET", "/x", NULL, NULL, 0, &resp, &err),
                   DROVER_E_TRANSIENT);
  ck_assert_int_eq(err.code, DROVER_E_TRANSIENT);
  ck_assert_ptr_nonnull(strstr(err.text, "GET /x"));
  /* Nothing listens, so no server counts the attempts: the module's own
   * account must say both retries were made. */
  ck_assert_msg(strstr(err.text, "gave up after 2 retries") != NULL, "text: %s", err.text);
  ck_assert_int_eq(resp.status, 0);
  ck_assert_ptr_null(resp.body);
  drover_http_response_free(&resp);
  drover_http_free(h);
}
END_TEST

/* A reset, a close without a reply and a stalled server are transient:
 * retried (the server counts the attempts) until a real answer comes. */
START_TEST(reset_close_stall_retried)
{
  static const char *const script[] = {SRV_RESET, SRV_CLOSE, SRV_STALL, R200};
  srv s;
  drover_http *h;
  drover_http_response resp;
  drover_error err;

  drover_error_clear(&err);
  srv_start(&s, 0, script, 4);
  client_timeout = 1;
  h = client(&s, "http", 4, 100);
  client_timeout = 5;
  ck_assert_msg(drover_http_request(h, "GET", "/x", NULL, NULL, 0, &resp, &err) == DROVER_OK,
                "request: %s", err.text);
  ck_assert_int_eq(resp.status, 200);
  ck_assert_str_eq(resp.body, "{\"ok\":true}");
  ck_assert_int_eq(atomic_load(&s.served), 4);
  drover_http_response_free(&resp);
  drover_http_free(h);
  srv_stop(&s);
}
END_TEST

/* Each failure alone, until the retries run out: DROVER_E_TRANSIENT after
 * exactly 1 + max_retries attempts. Also over the unix socket LXD uses. */
START_TEST(reset_close_stall_exhaust)
{
  static const char *const resets[] = {SRV_RESET};
  static const char *const closes[] = {SRV_CLOSE};
  static const char *const stalls[] = {SRV_STALL};
  const char *const *scripts[] = {resets, closes, stalls, resets, stalls};
  int unix_sock[] = {0, 0, 0, 1, 1};
  size_t i;

  for(i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
    srv s;
    drover_http *h;
    drover_http_response resp;
    drover_error err;

    drover_error_clear(&err);
    srv_start(&s, unix_sock[i], scripts[i], 1);
    client_timeout = 1;
    h = client(&s, "http", 2, 100);
    client_timeout = 5;
    ck_assert_int_eq(drover_http_request(h, "GET", "/x", NULL, NULL, 0, &resp, &err),
                     DROVER_E_TRANSIENT);
    ck_assert_msg(atomic_load(&s.served) == 3, "case %zu: %d attempts", i,
                  atomic_load(&s.served));
    ck_assert_msg(strstr(err.text, "gave up after 2 retries") != NULL, "text: %s", err.text);
    drover_http_response_free(&resp);
    drover_http_free(h);
    srv_stop(&s);
  }
}
END_TEST

START_TEST(etag_and_if_match)
{
  static const char *const script[] = {
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\netag: \"v2\"\r\nConnection: close\r\n\r\n{}"};
  static const char body[] = "{\"config\":{}}";
  srv s;
  drover_http *h;
  drover_http_response resp;
  drover_error err;
  char *last;

  drover_error_clear(&err);
  srv_start(&s, 0, script, 1);
  h = client(&s, "http", 4, 100);
  ck_assert_int_eq(drover_http_request(h, "PUT", "/1.0/instances/a", "\"v1\"", body,
                                       strlen(body), &resp, &err), DROVER_OK);
  ck_assert_int_eq(resp.status, 200);
  ck_assert_ptr_nonnull(resp.etag);
  ck_assert_str_eq(resp.etag, "\"v2\"");
  last = srv_last(&s);
  ck_assert_ptr_nonnull(strstr(last, "PUT /1.0/instances/a HTTP/1.1\r\n"));
  ck_assert_ptr_nonnull(strstr(last, "\r\nIf-Match: \"v1\"\r\n"));
  ck_assert_ptr_nonnull(strstr(last, "\r\nContent-Type: application/json\r\n"));
  ck_assert_ptr_nonnull(strstr(last, "\r\n\r\n{\"config\":{}}"));
  free(last);
  drover_http_response_free(&resp);

  /* Without if_match no If-Match goes out, and a GET has no body type. */
  ck_assert_int_eq(drover_http_request(h, "GET", "/1.0/instances/a", NULL, NULL, 0,
                                       &resp, &err), DROVER_OK);
  last = srv_last(&s);
  ck_assert_ptr_null(strcasestr(last, "If-Match"));
  ck_assert_ptr_null(strcasestr(last, "Content-Type"));
  free(last);
  drover_http_response_free(&resp);
  drover_http_free(h);
  srv_stop(&s);
}
END_TEST

START_TEST(unix_socket)
{
  static const char *const script[] = {R503, R200};
  srv s;
  drover_http *h;
  drover_http_response resp;
  drover_error err;
  char *last;

  drover_error_clear(&err);
  srv_start(&s, 1, script, 2);
  h = client(&s, "http", 4, 100);
  ck_assert_int_eq(drover_http_request(h, "GET", "/1.0", NULL, NULL, 0, &resp, &err),
                   DROVER_OK);
  ck_assert_int_eq(resp.status, 200);
  ck_assert_int_eq(atomic_load(&s.served), 2);
  last = srv_last(&s);
  ck_assert_ptr_nonnull(strstr(last, "GET /1.0 HTTP/1.1\r\nHost: lxd\r\n"));
  free(last);
  drover_http_response_free(&resp);
  drover_http_free(h);
  srv_stop(&s);
}
END_TEST

START_TEST(tls_failure_not_retried)
{
  static const char *const script[] = {R200};
  srv s;
  drover_http *h;
  drover_http_response resp;
  drover_error err;

  /* https to a plain-HTTP server: the handshake fails; that is a TLS
   * error, not something to retry. */
  drover_error_clear(&err);
  srv_start(&s, 0, script, 1);
  h = client(&s, "https", 4, 100);
  ck_assert_int_eq(drover_http_request(h, "GET", "/x", NULL, NULL, 0, &resp, &err),
                   DROVER_E_TLS);
  ck_assert_int_eq(atomic_load(&s.served), 1);
  drover_http_response_free(&resp);
  drover_http_free(h);
  srv_stop(&s);
}
END_TEST

typedef struct par_arg {
  drover_http *h;
  int ok;
} par_arg;

static void *par_worker(void *p)
{
  par_arg *a = p;
  int i;

  for(i = 0; i < 5; i++) {
    drover_http_response resp;
    drover_error err;
    drover_error_clear(&err);
    if(drover_http_request(a->h, "GET", "/p", NULL, NULL, 0, &resp, &err) == DROVER_OK &&
       resp.status == 200)
      a->ok++;
    drover_http_response_free(&resp);
  }
  return NULL;
}

START_TEST(threads_share_handle)
{
  static const char *const script[] = {R200};
  srv s;
  drover_http *h;
  pthread_t th[4];
  par_arg args[4];
  int i;

  srv_start(&s, 0, script, 1);
  h = client(&s, "http", 4, 100);
  for(i = 0; i < 4; i++) {
    args[i].h = h;
    args[i].ok = 0;
    ck_assert_int_eq(pthread_create(&th[i], NULL, par_worker, &args[i]), 0);
  }
  for(i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    ck_assert_int_eq(args[i].ok, 5);
  }
  ck_assert_int_eq(atomic_load(&s.served), 20);
  drover_http_free(h);
  srv_stop(&s);
}
END_TEST

START_TEST(global_init_refcounted)
{
  ck_assert_int_eq(drover_global_init(), DROVER_OK);
  ck_assert_int_eq(drover_global_init(), DROVER_OK);
  drover_global_cleanup();
  drover_global_cleanup();
}
END_TEST

static Suite *http_suite(void)
{
  Suite *s = suite_create("http");
  TCase *tc = tcase_create("core");

  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, retry_503_then_200);
  tcase_add_test(tc, retry_after_honoured);
  tcase_add_test(tc, not_found_not_retried);
  tcase_add_test(tc, budget_exhausted);
  tcase_add_test(tc, max_retries_exhausted);
  tcase_add_test(tc, connection_refused_transient);
  tcase_add_test(tc, reset_close_stall_retried);
  tcase_add_test(tc, reset_close_stall_exhaust);
  tcase_add_test(tc, etag_and_if_match);
  tcase_add_test(tc, unix_socket);
  tcase_add_test(tc, tls_failure_not_retried);
  tcase_add_test(tc, threads_share_handle);
  tcase_add_test(tc, global_init_refcounted);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr;
  int failed;

  if(drover_global_init())
    return 99;
  sr = srunner_create(http_suite());
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  drover_global_cleanup();
  return failed ? 1 : 0;
}
