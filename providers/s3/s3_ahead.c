/* s3_ahead.c - a request body read ahead of the sender by a thread of its
 * own, which also computes the body's MD5: a single PUT is one curl
 * thread, and hashing on it (as s3_md5_body does) puts the MD5's CPU time
 * in series with the send. Here the reader thread preads and hashes into
 * a fixed ring of slots while the curl thread only copies out of it, so a
 * second core does the hashing. Memory is the ring's, whatever the size.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "s3.h"

#define SLOTS 32
#define SLOT_SIZE S3_READ_SIZE   /* 2 MiB in all; curl asks for as much at a time */

struct s3_ahead {
  int fd;
  unsigned long long off, len;  /* the body: len bytes of fd from off */
  char *ring;                   /* SLOTS * SLOT_SIZE */
  size_t fill[SLOTS];           /* bytes in each filled slot */
  EVP_MD_CTX *md;               /* the reader's alone until it ends */

  pthread_mutex_t lock;
  pthread_cond_t filled, freed;
  unsigned long long made, used; /* slots filled and slots emptied, ever */
  int stop, ended;               /* under lock */
  drover_code rc;                /* the reader's failure, under lock */
  drover_error err;

  pthread_t th;
  int running;                  /* the reader thread exists (to join) */
  unsigned long long pos;       /* the sender's offset in the body */
  size_t in_slot;               /* bytes already taken from slot used % SLOTS */
};

static void *reader_main(void *arg)
{
  s3_ahead *a = arg;
  unsigned long long at = 0;
  drover_code rc = DROVER_OK;
  drover_error err;

  drover_error_clear(&err);
  while(at < a->len) {
    unsigned long long slot;
    size_t want, got = 0;
    char *buf;
    int stop;

    pthread_mutex_lock(&a->lock);
    while(!a->stop && a->made - a->used == SLOTS)
      pthread_cond_wait(&a->freed, &a->lock);
    slot = a->made;
    stop = a->stop;
    pthread_mutex_unlock(&a->lock);
    if(stop)
      break;
    /* The slot is free: the sender reads only slots below made. */
    buf = a->ring + (slot % SLOTS) * SLOT_SIZE;
    want = a->len - at < SLOT_SIZE ? (size_t)(a->len - at) : SLOT_SIZE;
    while(got < want) {
      ssize_t n = pread(a->fd, buf + got, want - got, (off_t)(a->off + at + got));
      if(n < 0 && errno == EINTR)
        continue;
      if(n <= 0) {
        rc = s3_fail(&err, DROVER_E_IO, NULL, "read for upload failed: %s",
                     n < 0 ? strerror(errno) : "file shrank");
        break;
      }
      got += (size_t)n;
    }
    if(rc)
      break;
    EVP_DigestUpdate(a->md, buf, got);
    at += got;
    pthread_mutex_lock(&a->lock);
    a->fill[slot % SLOTS] = got;
    a->made++;
    pthread_cond_signal(&a->filled);
    pthread_mutex_unlock(&a->lock);
  }
  pthread_mutex_lock(&a->lock);
  if(rc) {
    a->rc = rc;
    a->err = err;
  }
  a->ended = 1;
  pthread_cond_signal(&a->filled);
  pthread_mutex_unlock(&a->lock);
  return NULL;
}

/* Ends the reader thread, wherever it is. */
static void reader_stop(s3_ahead *a)
{
  if(!a->running)
    return;
  pthread_mutex_lock(&a->lock);
  a->stop = 1;
  pthread_cond_signal(&a->freed);
  pthread_mutex_unlock(&a->lock);
  pthread_join(a->th, NULL);
  a->running = 0;
}

/* (Re)starts the reader at the body's first byte, with a fresh MD5. */
static drover_code reader_start(s3_ahead *a, drover_error *err)
{
  reader_stop(a);
  a->made = a->used = 0;
  a->stop = a->ended = 0;
  a->rc = DROVER_OK;
  drover_error_clear(&a->err);
  a->pos = 0;
  a->in_slot = 0;
  if(!EVP_DigestInit_ex(a->md, EVP_md5(), NULL))
    return s3_fail(err, DROVER_E_INTERNAL, NULL, "MD5 init failed");
  if(pthread_create(&a->th, NULL, reader_main, a) != 0)
    return s3_fail(err, DROVER_E_NOMEM, NULL, "cannot start the upload's reader thread");
  a->running = 1;
  return DROVER_OK;
}

drover_code s3_ahead_new(s3_ahead **out, int fd, unsigned long long off,
                         unsigned long long len, drover_error *err)
{
  s3_ahead *a = calloc(1, sizeof(*a));

  *out = NULL;
  if(!a)
    return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  a->fd = fd;
  a->off = off;
  a->len = len;
  a->ring = malloc((size_t)SLOTS * SLOT_SIZE);
  a->md = EVP_MD_CTX_new();
  if(!a->ring || !a->md || pthread_mutex_init(&a->lock, NULL) != 0) {
    EVP_MD_CTX_free(a->md);
    free(a->ring);
    free(a);
    return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  }
  pthread_cond_init(&a->filled, NULL);
  pthread_cond_init(&a->freed, NULL);
  *out = a;
  return DROVER_OK;
}

void s3_ahead_free(s3_ahead *a)
{
  if(!a)
    return;
  reader_stop(a);
  pthread_cond_destroy(&a->filled);
  pthread_cond_destroy(&a->freed);
  pthread_mutex_destroy(&a->lock);
  EVP_MD_CTX_free(a->md);
  free(a->ring);
  free(a);
}

drover_code s3_ahead_read(void *ud, unsigned long long offset, char *buf, size_t size,
                          size_t *nread, drover_error *err)
{
  s3_ahead *a = ud;
  unsigned long long slot;
  size_t n;
  drover_code rc;

  *nread = 0;
  /* The first read, or an attempt sending the body again from its start. */
  if(offset == 0 && (!a->running || a->pos != 0)) {
    rc = reader_start(a, err);
    if(rc)
      return rc;
  }
  if(offset != a->pos || !a->running)
    return s3_fail(err, DROVER_E_INTERNAL, NULL,
                   "upload body read at byte %llu, expected %llu", offset, a->pos);
  if(offset >= a->len)
    return DROVER_OK;
  pthread_mutex_lock(&a->lock);
  while(a->made == a->used && !a->ended)
    pthread_cond_wait(&a->filled, &a->lock);
  if(a->made == a->used) {
    /* Ended before this byte: only a failure does that. */
    rc = a->rc ? a->rc : DROVER_E_INTERNAL;
    if(err && !err->code)
      *err = a->err;
    pthread_mutex_unlock(&a->lock);
    return rc;
  }
  slot = a->used % SLOTS;
  n = a->fill[slot] - a->in_slot;
  pthread_mutex_unlock(&a->lock);
  /* A filled slot is the sender's until it is handed back below. */
  if(n > size)
    n = size;
  memcpy(buf, a->ring + slot * SLOT_SIZE + a->in_slot, n);
  a->in_slot += n;
  a->pos += n;
  if(a->in_slot == a->fill[slot]) {
    pthread_mutex_lock(&a->lock);
    a->used++;
    pthread_cond_signal(&a->freed);
    pthread_mutex_unlock(&a->lock);
    a->in_slot = 0;
  }
  *nread = n;
  return DROVER_OK;
}

drover_code s3_ahead_final(s3_ahead *a, unsigned char md5[16], drover_error *err)
{
  unsigned int mdlen = 0;

  if(!a->running && a->len == 0) {
    /* curl asks nothing of an empty body. */
    if(!EVP_DigestInit_ex(a->md, EVP_md5(), NULL))
      return s3_fail(err, DROVER_E_INTERNAL, NULL, "MD5 init failed");
  }
  else if(a->pos != a->len) {
    return s3_fail(err, DROVER_E_INTERNAL, NULL, "upload body sent %llu of %llu bytes",
                   a->pos, a->len);
  }
  /* Every byte was handed over, so the reader hashed them all and ends. */
  reader_stop(a);
  EVP_DigestFinal_ex(a->md, md5, &mdlen);
  return DROVER_OK;
}
