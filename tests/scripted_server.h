/*
 * scripted_server.h - a scripted HTTP server for the unit tests.
 *
 * A thread with a listening socket (TCP on 127.0.0.1, or AF_UNIX in a temp
 * dir) that reads one request per connection, answers and closes, so the
 * number of connections counts the attempts. A request with "Expect:
 * 100-continue" and a body gets "100 Continue" before the body is read. It answers from routes when
 * any are set (the first route whose "METHOD /path" prefix starts the
 * request line gives the status and a JSON body), else from the script:
 * connection n gets script[n], the last entry repeating, as raw response
 * text or as one of the misbehaviours below.
 *
 * What it was sent is kept: the first SRV_MAXREQ requests in req[] and the
 * last one in last (head and start of body, NUL-terminated), the last
 * body's whole length and FNV-1a hash, and counts of DELETE and PUT
 * requests. Read them once the client has its answer, or through
 * srv_last while the server may still be serving.
 */
#ifndef DROVER_TEST_SCRIPTED_SERVER_H
#define DROVER_TEST_SCRIPTED_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#define SRV_MAXREQ 16
#define SRV_REQSIZE 16384
#define SRV_MAXROUTES 16

/* Script entries that misbehave instead of answering: a TCP reset, a
 * close with no reply, and a read of the request with no answer ever
 * (the connection closes once the client gives up on it, at most 60 s).
 * "TRICKLE:<reply>" sends the reply in 4 pieces 0.6 s apart; "HOLD:<part>"
 * sends part of a reply, then nothing for 6 s or until srv_stop.
 * "RANGE:<etag>:<object>" answers a GET of the object as S3 does: its
 * "Range: bytes=A-B" as 206 with Content-Range, else all of it as 200. */
#define SRV_RESET "!reset"
#define SRV_CLOSE "!close"
#define SRV_STALL "!stall"

#define FNV_INIT 0xcbf29ce484222325ull

typedef struct srv_route {
  const char *prefix;   /* "GET /1.0/instances?" */
  int status;
  const char *body;
  long claim;           /* Content-Length to announce; < 0: the body's length */
  int first;            /* > 0: body answers the first `first` hits, then later */
  const char *later;
  int later_status;     /* the status that goes with later; 0: status */
  const char *etag;     /* ETag header to send, or NULL */
  const char *header;   /* one more header line ("Name: value"), or NULL */
  int hits;             /* touched by the server thread only */
} srv_route;

/* Called on the server thread with each request (n: 0-based; req: its
 * head and start of body, borrowed) once it is read and before it is
 * answered: the client is still waiting, so what the hook does (change a
 * file the client uploads) happens at that exact point of its work. */
typedef void (*srv_hook_fn)(void *ud, int n, const char *req);

typedef struct srv {
  int fd;
  int port;                     /* TCP: the port it listens on */
  char dir[64];                 /* AF_UNIX: temp dir holding the socket */
  char sock[128];               /* AF_UNIX: the socket's path */
  const char *const *script;
  size_t nscript;
  srv_route routes[SRV_MAXROUTES];
  size_t nroutes;
  const char *unrouted;         /* body of the 404 for a request no route takes */
  srv_hook_fn hook;             /* set before srv_run, or NULL */
  void *hook_ud;
  atomic_int served;            /* requests read */
  atomic_int stop;
  atomic_int deletes;           /* DELETE requests seen */
  atomic_int puts;              /* PUT requests seen */
  pthread_mutex_t mu;           /* guards last, body_bytes, body_hash */
  char req[SRV_MAXREQ][SRV_REQSIZE];
  char last[SRV_REQSIZE];
  unsigned long long body_bytes; /* last request's whole body: length */
  unsigned long long body_hash;  /* and FNV-1a hash */
  pthread_t th;
} srv;

/* Clears s, binds and listens (AF_UNIX when unix_socket), to answer from
 * script[0..n-1] (may be NULL when routes answer); no thread yet, so a
 * test may fork or add routes before srv_run. */
void srv_listen(srv *s, int unix_socket, const char *const *script, size_t n);
/* Adds a route answering prefix with status and body (claim: see
 * srv_route); before srv_run only. */
void srv_route_add(srv *s, const char *prefix, int status, const char *body, long claim);
/* Starts the serving thread. */
void srv_run(srv *s);
/* Stops the thread and removes the socket (and its temp dir). */
void srv_stop(srv *s);
/* A copy of the last request the server saw; caller frees. */
char *srv_last(srv *s);

/* FNV-1a of n bytes at p, continuing from h (FNV_INIT to start). */
unsigned long long fnv(unsigned long long h, const char *p, size_t n);

#endif /* DROVER_TEST_SCRIPTED_SERVER_H */
