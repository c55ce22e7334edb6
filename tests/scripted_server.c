/* scripted_server.c - a scripted HTTP server for the unit tests (see the
 * header). */
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include "scripted_server.h"

unsigned long long fnv(unsigned long long h, const char *p, size_t n)
{
  size_t i;

  for(i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/* Reads one request (head, then Content-Length bytes of body): the start
 * into buf, the whole body counted and hashed into *bytes and *hash, so a
 * body of any size is drained in a fixed buffer. Stops at once on a TLS
 * handshake (it never ends with a blank line), and after 2 s without
 * data. */
static void read_request(int c, char *buf, size_t size, unsigned long long *bytes,
                         unsigned long long *hash)
{
  size_t len = 0;
  long long want = -1, total = 0, body_at = -1;
  struct timeval tv = {2, 0};
  char scratch[65536];

  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  buf[0] = '\0';
  *bytes = 0;
  *hash = FNV_INIT;
  for(;;) {
    int into_buf = len + 1 < size;
    char *dst = into_buf ? buf + len : scratch;
    size_t room = into_buf ? size - 1 - len : sizeof(scratch);
    ssize_t n;
    char *end;

    if(want >= 0 && (long long)room > want - total)
      room = (size_t)(want - total);
    if(want >= 0 && total >= want)
      break;
    n = recv(c, dst, room, 0);
    if(n <= 0)
      break;
    if(into_buf) {
      len += (size_t)n;
      buf[len] = '\0';
    }
    if(total == 0 && dst[0] == 0x16)  /* a TLS record: handshake */
      break;
    /* Body bytes seen in this chunk. */
    if(body_at >= 0) {
      *bytes += (unsigned long long)n;
      *hash = fnv(*hash, dst, (size_t)n);
    }
    total += n;
    if(body_at < 0 && (end = strstr(buf, "\r\n\r\n")) != NULL) {
      char *cl = strcasestr(buf, "\r\nContent-Length:");
      body_at = (long long)(end + 4 - buf);
      want = body_at + (cl && cl < end ? strtoll(cl + 17, NULL, 10) : 0);
      *bytes = (unsigned long long)(total - body_at);
      *hash = fnv(*hash, buf + body_at, (size_t)(total - body_at));
      /* A client that waits for leave to send its body gets it, as from
       * a real server (else it waits a second and sends anyway). */
      if(want > total) {
        char *ex = strcasestr(buf, "\r\nExpect: 100-continue\r\n");
        if(ex && ex < end)
          send(c, "HTTP/1.1 100 Continue\r\n\r\n", 25, MSG_NOSIGNAL);
      }
    }
  }
}

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

static void send_all(int c, const char *p, size_t n)
{
  if(send(c, p, n, MSG_NOSIGNAL) < 0)
    perror("scripted server: send");
}

/* The route's answer to req as response text; caller frees. */
static char *route_reply(srv *s, const char *req)
{
  srv_route *r = NULL;
  const char *body;
  char *text = NULL;
  size_t i;
  int status = 404;
  long claim = -1;
  const char *etag = NULL, *extra = NULL;

  for(i = 0; i < s->nroutes && !r; i++)
    if(!strncmp(req, s->routes[i].prefix, strlen(s->routes[i].prefix)))
      r = &s->routes[i];
  if(r) {
    int later = r->first > 0 && r->hits++ >= r->first;

    body = later ? r->later : r->body;
    status = later && r->later_status ? r->later_status : r->status;
    claim = r->claim;
    etag = r->etag;
    extra = r->header;
  }
  else {
    fprintf(stderr, "scripted server: no route for %.80s\n", req);
    body = s->unrouted ? s->unrouted : "";
  }
  if(asprintf(&text, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                     "%s%s%s%s%sContent-Length: %ld\r\nConnection: close\r\n\r\n%s",
              status, etag ? "ETag: " : "", etag ? etag : "", etag ? "\r\n" : "",
              extra ? extra : "", extra ? "\r\n" : "", claim >= 0 ? claim : (long)strlen(body), body) < 0)
    text = NULL;
  return text;
}

/* SRV_RANGE: "ETAG:OBJECT" answered as S3 answers a GET of it: the
 * request's "Range: bytes=A-B" (or A-) as 206 with its Content-Range,
 * else the whole object as 200. */
static void range_reply(int c, const char *spec, const char *req)
{
  const char *obj = strchr(spec, ':'), *rh = strcasestr(req, "\r\nRange: bytes=");
  unsigned long long size, a = 0, b;
  char head[512];
  int n;

  ck_assert_ptr_nonnull(obj);
  obj++;
  size = strlen(obj);
  b = size ? size - 1 : 0;
  if(rh) {
    char *end;
    a = strtoull(rh + 15, &end, 10);
    if(*end == '-' && end[1] >= '0' && end[1] <= '9')
      b = strtoull(end + 1, NULL, 10);
    if(b >= size)
      b = size - 1;
  }
  if(rh)
    n = snprintf(head, sizeof(head), "HTTP/1.1 206 Partial Content\r\nETag: \"%.*s\"\r\n"
                 "Content-Range: bytes %llu-%llu/%llu\r\nContent-Length: %llu\r\n"
                 "Connection: close\r\n\r\n", (int)(obj - 1 - spec), spec, a, b, size,
                 b - a + 1);
  else
    n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nETag: \"%.*s\"\r\n"
                 "Content-Length: %llu\r\nConnection: close\r\n\r\n",
                 (int)(obj - 1 - spec), spec, size);
  send_all(c, head, (size_t)n);
  send_all(c, obj + (rh ? a : 0), (size_t)(rh ? b - a + 1 : size));
}

/* Answers connection c, the n-th (0-based), from the script. Returns 1
 * when c is to be reset (closed at once) rather than shut down. */
static int script_reply(srv *s, int c, int n, const char *req)
{
  const char *r = s->script[(size_t)n < s->nscript ? (size_t)n : s->nscript - 1];

  if(!strcmp(r, SRV_RESET)) {
    struct linger lg = {1, 0}; /* close() then sends RST */
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    return 1;
  }
  if(!strcmp(r, SRV_STALL))
    stall_until_client_closes(c);
  else if(!strncmp(r, "TRICKLE:", 8)) {
    /* A slow server: the reply in 4 pieces, 0.6 s apart. */
    size_t len = strlen(r + 8), k;
    for(k = 0; k < 4; k++) {
      size_t a = len * k / 4, b = len * (k + 1) / 4;
      if(k)
        usleep(600000);
      send_all(c, r + 8 + a, b - a);
    }
  }
  else if(!strncmp(r, "HOLD:", 5)) {
    /* A stalled server: part of the reply, then silence for 6 s (or
     * until the test stops the server). */
    int waited;
    send_all(c, r + 5, strlen(r + 5));
    for(waited = 0; waited < 120 && !atomic_load(&s->stop); waited++)
      usleep(50000);
  }
  else if(!strncmp(r, "RANGE:", 6))
    range_reply(c, r + 6, req);
  else if(strcmp(r, SRV_CLOSE))
    send_all(c, r, strlen(r));
  return 0;
}

static void *srv_main(void *arg)
{
  srv *s = arg;
  char req[SRV_REQSIZE];
  unsigned long long bytes, hash;

  while(!atomic_load(&s->stop)) {
    struct pollfd p = {s->fd, POLLIN, 0};
    int c, n, reset = 0;

    if(poll(&p, 1, 50) <= 0)
      continue;
    c = accept(s->fd, NULL, NULL);
    if(c < 0)
      continue;
    read_request(c, req, sizeof(req), &bytes, &hash);
    if(!strncmp(req, "DELETE ", 7))
      atomic_fetch_add(&s->deletes, 1);
    if(!strncmp(req, "PUT ", 4))
      atomic_fetch_add(&s->puts, 1);
    pthread_mutex_lock(&s->mu);
    memcpy(s->last, req, sizeof(s->last));
    s->body_bytes = bytes;
    s->body_hash = hash;
    pthread_mutex_unlock(&s->mu);
    n = atomic_fetch_add(&s->served, 1);
    if(n < SRV_MAXREQ)
      memcpy(s->req[n], req, sizeof(req));
    if(s->hook)
      s->hook(s->hook_ud, n, req);
    if(s->nroutes) {
      char *text = route_reply(s, req);
      if(text)
        send_all(c, text, strlen(text));
      free(text);
    }
    else
      reset = script_reply(s, c, n, req);
    if(!reset)
      shutdown(c, SHUT_WR);
    close(c);
  }
  return NULL;
}

void srv_listen(srv *s, int unix_socket, const char *const *script, size_t n)
{
  memset(s, 0, sizeof(*s));
  s->script = script;
  s->nscript = n;
  pthread_mutex_init(&s->mu, NULL);
  if(unix_socket) {
    struct sockaddr_un sa;
    strcpy(s->dir, "/tmp/check_srv.XXXXXX");
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
}

void srv_route_add(srv *s, const char *prefix, int status, const char *body, long claim)
{
  srv_route *r;

  ck_assert_uint_lt(s->nroutes, SRV_MAXROUTES);
  r = &s->routes[s->nroutes++];
  r->prefix = prefix;
  r->status = status;
  r->body = body;
  r->claim = claim;
}

void srv_run(srv *s)
{
  ck_assert_msg(s->nroutes || s->nscript, "scripted server: neither routes nor a script");
  ck_assert_int_eq(pthread_create(&s->th, NULL, srv_main, s), 0);
}

void srv_stop(srv *s)
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

char *srv_last(srv *s)
{
  char *copy;

  pthread_mutex_lock(&s->mu);
  copy = strdup(s->last);
  pthread_mutex_unlock(&s->mu);
  return copy;
}
