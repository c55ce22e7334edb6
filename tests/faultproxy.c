/* faultproxy.c - a fault-injecting HTTP proxy between drover and LXD, for
 * the live tests (tests/live/t_faults.sh). Loopback only: it listens on a
 * unix socket and forwards to LXD's.
 *
 *   faultproxy -l LISTEN.sock -u UPSTREAM.sock [-o LOG] [-s STALL] RULE...
 *
 * RULE is PHASE:KIND:METHOD:PREFIX[:COUNT[:SKIP]]
 *   PHASE   before  answer without forwarding (LXD never sees the request)
 *           after   forward, let LXD act, then spoil the reply
 *   KIND    500 | 503 | 429 (with Retry-After: 1) | reset (TCP-style abort,
 *           SO_LINGER 0) | stall (hold the connection STALL seconds, then
 *           close, no reply) | truncate (Content-Length of the whole body,
 *           half of it sent) | badjson (half the body with a matching
 *           length) | errenv (200 carrying an LXD error envelope) |
 *           nometa (200 sync envelope without metadata)
 *   METHOD  GET, POST, PUT, DELETE, PATCH or * for any
 *   PREFIX  start of the request path ("/1.0/instances?" is a listing)
 *   COUNT   how many matching requests get the fault (default 1)
 *   SKIP    matching requests let through before the first fault (default 0)
 * The first rule that fires wins. Every fault injected is logged as one
 * line "PHASE KIND METHOD PATH" (to LOG, default stderr), so a test can
 * tell that it landed.
 *
 * One request per connection (replies say Connection: close). Upstream
 * requests go out as HTTP/1.0 so the reply ends at EOF, unchunked.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_RULES 32
#define MAX_HEAD 65536

typedef struct rule {
  int after;
  char kind[16];
  char method[16];
  char prefix[256];
  unsigned count, skip;
  unsigned seen, fired;
} rule;

static rule rules[MAX_RULES];
static size_t nrules;
static const char *upstream;
static double stall_seconds = 8;
static FILE *logf_;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------------------
 * Small I/O helpers
 */

typedef struct buf {
  char *p;
  size_t len, cap;
} buf;

static int buf_add(buf *b, const char *data, size_t n)
{
  if(b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 8192;
    char *g;
    while(cap < b->len + n + 1)
      cap *= 2;
    g = realloc(b->p, cap);
    if(!g)
      return -1;
    b->p = g;
    b->cap = cap;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = '\0';
  return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
  while(n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if(w < 0 && errno == EINTR)
      continue;
    if(w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void sleep_s(double s)
{
  struct timespec ts;

  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  while(nanosleep(&ts, &ts) == -1 && errno == EINTR)
    ;
}

/* Content-Length of the head in b (0 when absent). */
static long content_length(const char *head, const char *end)
{
  const char *p = head;

  while(p && p < end) {
    const char *nl = strstr(p, "\r\n");
    if(!nl || nl >= end)
      break;
    if(!strncasecmp(p, "Content-Length:", 15))
      return strtol(p + 15, NULL, 10);
    p = nl + 2;
  }
  return 0;
}

/* Reads one request (head and Content-Length bytes of body). */
static int read_request(int fd, buf *b, size_t *head_len)
{
  char tmp[8192];
  char *end = NULL;
  long want = -1;

  for(;;) {
    ssize_t n;
    if(want >= 0 && (long)b->len >= want)
      return 0;
    n = recv(fd, tmp, sizeof(tmp), 0);
    if(n < 0 && errno == EINTR)
      continue;
    if(n <= 0)
      return -1;
    if(buf_add(b, tmp, (size_t)n) || b->len > MAX_HEAD * 64)
      return -1;
    if(want < 0 && (end = strstr(b->p, "\r\n\r\n")) != NULL) {
      *head_len = (size_t)(end + 4 - b->p);
      want = (long)*head_len + content_length(b->p, end + 2);
    }
  }
}

static void abort_conn(int fd)
{
  struct linger l = {1, 0};

  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(fd);
}

static void logf_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_line(const char *fmt, ...)
{
  va_list ap;

  pthread_mutex_lock(&mu);
  va_start(ap, fmt);
  vfprintf(logf_, fmt, ap);
  va_end(ap);
  fputc('\n', logf_);
  fflush(logf_);
  pthread_mutex_unlock(&mu);
}

/* ------------------------------------------------------------------------
 * Replies
 */

static void reply(int fd, int status, const char *reason, const char *extra,
                  const char *body, size_t blen, size_t claim)
{
  char head[512];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%s"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                   status, reason, extra ? extra : "", claim);

  if(send_all(fd, head, (size_t)n) == 0 && blen)
    send_all(fd, body, blen);
}

/* A fault whose reply does not depend on LXD's (or, after, replaces it).
 * Returns 1 when it handled (and closed) the connection. */
static int canned(int fd, const char *kind)
{
  static const char e500[] =
    "{\"type\":\"error\",\"error\":\"injected: internal server error\",\"error_code\":500}";
  static const char errenv[] =
    "{\"type\":\"error\",\"error\":\"injected: error envelope in a 200\",\"error_code\":500,"
    "\"metadata\":null}";
  static const char nometa[] = "{\"type\":\"sync\",\"status\":\"Success\",\"status_code\":200}";

  if(!strcmp(kind, "500"))
    reply(fd, 500, "Internal Server Error", NULL, e500, sizeof(e500) - 1, sizeof(e500) - 1);
  else if(!strcmp(kind, "503"))
    reply(fd, 503, "Service Unavailable", NULL, "", 0, 0);
  else if(!strcmp(kind, "429"))
    reply(fd, 429, "Too Many Requests", "Retry-After: 1\r\n", "", 0, 0);
  else if(!strcmp(kind, "errenv"))
    reply(fd, 200, "OK", NULL, errenv, sizeof(errenv) - 1, sizeof(errenv) - 1);
  else if(!strcmp(kind, "nometa"))
    reply(fd, 200, "OK", NULL, nometa, sizeof(nometa) - 1, sizeof(nometa) - 1);
  else if(!strcmp(kind, "reset")) {
    abort_conn(fd);
    return 1;
  }
  else if(!strcmp(kind, "stall")) {
    sleep_s(stall_seconds);
    close(fd);
    return 1;
  }
  else
    return 0;
  close(fd);
  return 1;
}

/* Sends LXD's reply resp (HTTP/1.0, body to EOF) to the client, rebuilt
 * with a Content-Length; kind "truncate"/"badjson" spoil the body. */
static void relay(int fd, const buf *resp, const char *kind)
{
  char *end = strstr(resp->p, "\r\n\r\n");
  const char *line, *body;
  size_t blen, send_len, claim;
  buf out = {NULL, 0, 0};

  if(!end) {
    abort_conn(fd);
    return;
  }
  body = end + 4;
  blen = resp->len - (size_t)(body - resp->p);
  send_len = claim = blen;
  if(kind && !strcmp(kind, "truncate"))
    send_len = blen / 2;
  else if(kind && !strcmp(kind, "badjson"))
    send_len = claim = blen / 2;
  /* Status line as HTTP/1.1, then LXD's headers but the framing ones. */
  line = strchr(resp->p, ' ');
  if(!line || buf_add(&out, "HTTP/1.1", 8) ||
     buf_add(&out, line, (size_t)(strstr(line, "\r\n") - line) + 2))
    goto fail;
  for(line = strstr(resp->p, "\r\n") + 2; line < end + 2;) {
    const char *nl = strstr(line, "\r\n");
    if(strncasecmp(line, "Content-Length:", 15) && strncasecmp(line, "Connection:", 11) &&
       strncasecmp(line, "Transfer-Encoding:", 18) && strncasecmp(line, "Keep-Alive:", 11) &&
       buf_add(&out, line, (size_t)(nl - line) + 2))
      goto fail;
    line = nl + 2;
  }
  {
    char tail[96];
    int n = snprintf(tail, sizeof(tail), "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     claim);
    if(buf_add(&out, tail, (size_t)n) || buf_add(&out, body, send_len))
      goto fail;
  }
  send_all(fd, out.p, out.len);
  free(out.p);
  close(fd);
  return;
fail:
  free(out.p);
  abort_conn(fd);
}

/* ------------------------------------------------------------------------
 * One connection
 */

/* The rule that fires for this request, counted; NULL for none. */
static rule *match(const char *method, const char *path)
{
  rule *hit = NULL;
  size_t i;

  pthread_mutex_lock(&mu);
  for(i = 0; i < nrules && !hit; i++) {
    rule *r = &rules[i];
    if(strcmp(r->method, "*") && strcmp(r->method, method))
      continue;
    if(strncmp(path, r->prefix, strlen(r->prefix)))
      continue;
    r->seen++;
    if(r->seen > r->skip && r->fired < r->count) {
      r->fired++;
      hit = r;
    }
  }
  pthread_mutex_unlock(&mu);
  return hit;
}

static int connect_upstream(void)
{
  struct sockaddr_un sa;
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);

  if(fd < 0)
    return -1;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", upstream);
  if(connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Forwards req to LXD as HTTP/1.0 and reads the whole reply into resp. */
static int forward(const buf *req, size_t head_len, buf *resp)
{
  const char *eol = strstr(req->p, "\r\n");
  const char *ver = eol ? eol - 8 : NULL;
  char tmp[16384];
  int up = -1, rc = -1;
  buf out = {NULL, 0, 0};

  if(!ver || ver < req->p || strncmp(ver, "HTTP/1.", 7))
    return -1;
  if(buf_add(&out, req->p, (size_t)(ver - req->p)) ||
     buf_add(&out, "HTTP/1.0\r\nConnection: close\r\n",
             strlen("HTTP/1.0\r\nConnection: close\r\n")) ||
     buf_add(&out, eol + 2, req->len - (size_t)(eol + 2 - req->p)))
    goto out;
  (void)head_len;
  up = connect_upstream();
  if(up < 0 || send_all(up, out.p, out.len))
    goto out;
  for(;;) {
    ssize_t n = recv(up, tmp, sizeof(tmp), 0);
    if(n < 0 && errno == EINTR)
      continue;
    if(n < 0)
      goto out;
    if(n == 0)
      break;
    if(buf_add(resp, tmp, (size_t)n))
      goto out;
  }
  rc = resp->len ? 0 : -1;
out:
  if(up >= 0)
    close(up);
  free(out.p);
  return rc;
}

static void *conn_main(void *arg)
{
  int fd = (int)(long)arg;
  buf req = {NULL, 0, 0}, resp = {NULL, 0, 0};
  size_t head_len = 0;
  char method[16] = "", path[1024] = "";
  rule *r;

  if(read_request(fd, &req, &head_len) ||
     sscanf(req.p, "%15s %1023s", method, path) != 2) {
    close(fd);
    goto out;
  }
  r = match(method, path);
  if(r && !r->after) {
    logf_line("before %s %s %s", r->kind, method, path);
    if(!canned(fd, r->kind)) {
      /* truncate/badjson before: the reply LXD would have sent is needed */
      if(forward(&req, head_len, &resp))
        abort_conn(fd);
      else
        relay(fd, &resp, r->kind);
    }
    goto out;
  }
  if(forward(&req, head_len, &resp)) {
    abort_conn(fd);
    goto out;
  }
  if(r) {
    logf_line("after %s %s %s", r->kind, method, path);
    if(canned(fd, r->kind))
      goto out;
  }
  relay(fd, &resp, r ? r->kind : NULL);
out:
  free(req.p);
  free(resp.p);
  return NULL;
}

/* ------------------------------------------------------------------------
 * main
 */

static int parse_rule(rule *r, char *text)
{
  static const char *const kinds[] = {"500", "503", "429", "reset", "stall", "truncate",
                                      "badjson", "errenv", "nometa", NULL};
  char *f[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
  size_t n = 0, i;
  char *save = NULL, *tok;

  for(tok = strtok_r(text, ":", &save); tok && n < 6; tok = strtok_r(NULL, ":", &save))
    f[n++] = tok;
  if(n < 4)
    return -1;
  if(!strcmp(f[0], "after"))
    r->after = 1;
  else if(strcmp(f[0], "before"))
    return -1;
  for(i = 0; kinds[i] && strcmp(kinds[i], f[1]); i++)
    ;
  if(!kinds[i] || strlen(f[2]) >= sizeof(r->method) || strlen(f[3]) >= sizeof(r->prefix))
    return -1;
  strcpy(r->kind, f[1]);
  strcpy(r->method, f[2]);
  strcpy(r->prefix, f[3]);
  r->count = f[4] ? (unsigned)strtoul(f[4], NULL, 10) : 1;
  r->skip = f[5] ? (unsigned)strtoul(f[5], NULL, 10) : 0;
  return 0;
}

static void usage(void)
{
  fprintf(stderr, "usage: faultproxy -l LISTEN.sock -u UPSTREAM.sock [-o LOG] [-s STALL] "
                  "PHASE:KIND:METHOD:PREFIX[:COUNT[:SKIP]]...\n");
  exit(2);
}

int main(int argc, char **argv)
{
  const char *listen_path = NULL, *log_path = NULL;
  struct sockaddr_un sa;
  int opt, lfd;

  while((opt = getopt(argc, argv, "l:u:o:s:")) != -1) {
    switch(opt) {
    case 'l': listen_path = optarg; break;
    case 'u': upstream = optarg; break;
    case 'o': log_path = optarg; break;
    case 's': stall_seconds = strtod(optarg, NULL); break;
    default: usage();
    }
  }
  if(!listen_path || !upstream || strlen(listen_path) >= sizeof(sa.sun_path))
    usage();
  for(; optind < argc; optind++) {
    if(nrules == MAX_RULES || parse_rule(&rules[nrules], argv[optind])) {
      fprintf(stderr, "faultproxy: bad rule \"%s\"\n", argv[optind]);
      usage();
    }
    nrules++;
  }
  logf_ = log_path ? fopen(log_path, "a") : stderr;
  if(!logf_) {
    perror(log_path);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  strcpy(sa.sun_path, listen_path);
  unlink(listen_path);
  lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  if(lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 64)) {
    perror("faultproxy: listen");
    return 1;
  }
  for(;;) {
    pthread_t th;
    int c = accept(lfd, NULL, NULL);
    if(c < 0) {
      if(errno == EINTR || errno == ECONNABORTED)
        continue;
      perror("faultproxy: accept");
      return 1;
    }
    if(pthread_create(&th, NULL, conn_main, (void *)(long)c)) {
      close(c);
      continue;
    }
    pthread_detach(th);
  }
}
