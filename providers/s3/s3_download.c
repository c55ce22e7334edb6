/* s3_download.c - GET of an object into a file, streamed to
 * FILE.drover-part and renamed into place when whole; resumable after any
 * stop. An object larger than download_threshold (when there is one: not
 * by default with a loopback endpoint) comes in ranged GETs,
 * up to st->concurrency at once, each written at its own offset: S3
 * serves each connection at a bounded rate, so one GET gets one
 * connection's share (the AWS tools and rclone download in parallel
 * ranges for the same reason).
 *
 * The files of an unfinished download of FILE:
 *   FILE.drover-part        the bytes got so far;
 *   FILE.drover-part.etag   a one-GET download's: a line with the ETag of
 *                           the object the part is a prefix of, and a
 *                           line with the boot ID;
 *   FILE.drover-part.parts  a ranged download's: the line "drover-parts 3
 *                           SIZE FIRST PART BOOT", a line with the ETag,
 *                           then "I" for each part I written whole (part 0
 *                           is the first FIRST bytes, part I >= 1 the PART
 *                           bytes from FIRST + (I - 1) * PART, the last
 *                           shorter; FIRST is PART as drover writes it).
 * With .parts the next cp fetches the parts not listed. A part file with
 * .etag holds a prefix: the next cp continues it with one ranged GET. A
 * ranged download writes no .etag, so its part file (holes where parts
 * are missing) is never taken for a prefix: not when .parts is deleted by
 * hand, and not by a drover whose lists were version 1 (no ETag line;
 * it resumes only with .etag). Either way a part of another object (the
 * ETag changed) is thrown away and the download starts over; a list with
 * every part done is checked too, by the object's last byte.
 *
 * Both record the kernel's boot ID, and are trusted only in the boot that
 * wrote them. Nothing is fsynced: what write() gave the page cache is what
 * the next reader sees after kill -9 or a time limit, at no cost. After a
 * crash of the machine a listed part may never have reached the disk (a
 * hole, or zeros), so a download from another boot starts over: it
 * survives any stop of drover, not a reboot.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "s3.h"

#define MAP_MAGIC "drover-parts 3"
#define BOOT_LEN 36            /* a boot ID: a UUID, 8-4-4-4-12 hex digits */

/* This boot's ID into boot (BOOT_LEN + 1 bytes); "unknown" when it cannot
 * be read, which matches no file's, so nothing is resumed. */
static void boot_id(char *boot)
{
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
  size_t i;
  int ok = 0;

  if(f) {
    ok = fgets(boot, BOOT_LEN + 1, f) && strlen(boot) == BOOT_LEN;
    fclose(f);
  }
  for(i = 0; ok && i < BOOT_LEN; i++)
    ok = (boot[i] >= '0' && boot[i] <= '9') || (boot[i] >= 'a' && boot[i] <= 'f') ||
         boot[i] == '-';
  if(!ok)
    strcpy(boot, "unknown");
}

/* Whether line is this boot's ID, boot, and a newline, and nothing more
 * (never when boot is "unknown"): the boot line of a part list or an
 * .etag file, read whole. */
static int boot_line_is(const char *line, const char *boot)
{
  return strcmp(boot, "unknown") && strlen(line) == BOOT_LEN + 1 &&
         line[BOOT_LEN] == '\n' && !strncmp(line, boot, BOOT_LEN);
}

/* Appends the file at from to the open fd. */
static drover_code append_file(int fd, const char *from, drover_error *err)
{
  int in = open(from, O_RDONLY | O_CLOEXEC);
  char *buf = malloc(1u << 20);
  drover_code rc = DROVER_OK;
  ssize_t n;

  if(in < 0 || !buf) {
    rc = s3_fail(err, in < 0 ? DROVER_E_IO : DROVER_E_NOMEM, NULL, "%s: %s", from,
                 in < 0 ? strerror(errno) : "out of memory");
    goto out;
  }
  while((n = read(in, buf, 1u << 20)) > 0) {
    ssize_t off = 0;
    while(off < n) {
      ssize_t w = write(fd, buf + off, (size_t)(n - off));
      if(w < 0) {
        rc = s3_fail(err, DROVER_E_IO, NULL, "write: %s", strerror(errno));
        goto out;
      }
      off += w;
    }
  }
  if(n < 0)
    rc = s3_fail(err, DROVER_E_IO, NULL, "%s: %s", from, strerror(errno));
out:
  if(in >= 0)
    close(in);
  free(buf);
  return rc;
}

/* The GET that starts a download (fresh, or a prefix's tail resume). */
typedef struct dl_get {
  s3_state *st;
  const char *tagf;            /* a fresh one-GET download's ETag goes here */
  const char *boot;            /* ... with this boot ID (boot_id) */
  const char *want;            /* a resume: the part's ETag; NULL: fresh */
  const char *what;
  unsigned long long from;     /* a resume: the part's length */
  unsigned long long size;     /* out: the object's length */
  unsigned long long len;      /* out: a fresh GET's length (its range's) */
  char etag[256];              /* out: a fresh GET's ETag ("" when none) */
  int stale;                   /* out: the object is not the part's */
  int empty;                   /* out: a fresh ranged GET found it empty */
  int large;                   /* out: ... or larger than its range */
  int refused;                 /* out: so its GET stopped at the head */
} dl_get;

/* The decimal number of [p, end); 0 when that is not one. */
static int parse_ull(const char *p, const char *end, unsigned long long *out)
{
  unsigned long long v = 0;

  if(p == end)
    return 0;
  for(; p < end; p++) {
    if(*p < '0' || *p > '9' || v > (~0ull - 9) / 10)
      return 0;
    v = v * 10 + (unsigned long long)(*p - '0');
  }
  *out = v;
  return 1;
}

/* "bytes FIRST-LAST/SIZE" (Content-Range) into its three numbers. */
static int parse_range(const char *v, unsigned long long *first, unsigned long long *last,
                       unsigned long long *size)
{
  const char *dash, *slash;

  if(strncmp(v, "bytes ", 6))
    return 0;
  v += 6;
  dash = strchr(v, '-');
  slash = dash ? strchr(dash, '/') : NULL;
  return slash && parse_ull(v, dash, first) && parse_ull(dash + 1, slash, last) &&
         parse_ull(slash + 1, slash + strlen(slash), size);
}

/* Writes etag and the boot ID boot, a line each, as the file at tagf. */
static drover_code tag_write(const char *tagf, const char *etag, const char *boot,
                             drover_error *err)
{
  FILE *f = fopen(tagf, "w");
  int bad;

  if(!f)
    return s3_fail(err, DROVER_E_IO, NULL, "%s: %s", tagf, strerror(errno));
  bad = fprintf(f, "%s\n%s\n", etag, boot) < 0;
  if(fclose(f) != 0 || bad)
    return s3_fail(err, DROVER_E_IO, NULL, "%s: %s", tagf, strerror(errno));
  return DROVER_OK;
}

/* The ETag at tagf into tag (tagsz bytes); 0 when there is none, or it is
 * not whole, or another boot than boot wrote it. */
static int tag_read(const char *tagf, char *tag, size_t tagsz, const char *boot)
{
  FILE *f = fopen(tagf, "r");
  char line[BOOT_LEN + 2];
  size_t len;
  int ok = 0;

  tag[0] = '\0';
  if(!f)
    return 0;
  if(fgets(tag, (int)tagsz, f) && (len = strlen(tag)) > 1 && tag[len - 1] == '\n' &&
     fgets(line, sizeof(line), f) && boot_line_is(line, boot)) {
    tag[len - 1] = '\0';
    ok = 1;
  }
  fclose(f);
  if(!ok)
    tag[0] = '\0';
  return ok;
}

static drover_code dl_body_start(void *ud, const drover_http_response *head,
                                 drover_error *err)
{
  dl_get *g = ud;
  const char *etag = head->etag ? head->etag : "";
  const char *v;
  unsigned long long first, last;

  if(g->want) {
    /* The rest of the very object the part is of, from the part's end. */
    v = drover_http_response_header(head, "content-range");
    if(head->status != 206 || strcmp(etag, g->want) || !v ||
       !parse_range(v, &first, &last, &g->size) || first != g->from || last + 1 != g->size) {
      g->stale = 1;
      return s3_fail(err, DROVER_E_CONFLICT, NULL, "%s: not the object the part is of",
                     g->what);
    }
  }
  else {
    if(head->status == 206) {
      /* The first part's range; the object's size after the slash. */
      v = drover_http_response_header(head, "content-range");
      if(!v || !parse_range(v, &first, &last, &g->size) || first != 0 ||
         (last >= g->size && g->size))
        return s3_fail(err, DROVER_E_PROVIDER, NULL, "%s: Content-Range \"%s\" is not "
                       "of the range asked for", g->what, v ? v : "");
      if(!g->size) {
        /* An empty object has no byte 0: S3 answers 416, s3rver 206
         * "bytes 0-0/0" with a body it never sends. Ask again, plainly. */
        g->empty = 1;
        return s3_fail(err, DROVER_E_CONFLICT, NULL, "%s: empty", g->what);
      }
      g->len = last + 1;
      g->large = g->size > g->len;
    }
    else {
      /* The whole object: the Range was not asked for, or not honoured. */
      v = drover_http_response_header(head, "content-length");
      if(!v || !parse_ull(v, v + strlen(v), &g->size))
        return s3_fail(err, DROVER_E_PROVIDER, NULL, "%s: the answer has no Content-Length",
                       g->what);
      g->len = g->size;
    }
    if(strlen(etag) >= sizeof(g->etag))
      return s3_fail(err, DROVER_E_PROVIDER, NULL, "%s: an ETag of %zu bytes", g->what,
                     strlen(etag));
    strcpy(g->etag, etag);
    /* No ETag, no resume: the part is then never taken for this object.
     * A ranged download keeps its ETag in its list instead (see top). */
    if(etag[0] && !g->large && tag_write(g->tagf, etag, g->boot, err))
      return DROVER_E_IO;
    /* Larger than the range: the GET stops here, before its body, and the
     * object comes in parts, held to g->etag (which goes into their list).
     * An .etag an earlier attempt of this GET wrote (a smaller object
     * then) goes: a ranged part file must never have one. */
    if(g->large) {
      unlink(g->tagf);
      g->refused = 1;
      return s3_fail(err, DROVER_E_CONFLICT, NULL, "%s: larger than one range", g->what);
    }
  }
  s3_progress_start(g->st, g->from, g->size);
  return DROVER_OK;
}

/* A download's GET of bucket/key into path, its head seen by g. */
static void dl_req(s3_req *r, dl_get *g, const char *bucket, const char *key, const char *path)
{
  s3_req_init(r, "GET", bucket, key, g->what);
  r->response_path = path;
  r->on_body_start = dl_body_start;
  r->body_start_userdata = g;
}

/* The rest of the object after part's from bytes, if it is still the one
 * whose ETag is tag, appended to part. *stale: it is not (or the part is
 * already whole), so the caller starts over; err is then untouched. */
static drover_code dl_resume(s3_state *st, const char *bucket, const char *key,
                             const char *part, const char *range, dl_get *g, int *stale,
                             drover_error *err)
{
  s3_req r;
  drover_http_response resp;
  drover_error mine;
  char rangehdr[64];
  const char *hdrs[2] = {rangehdr, NULL};
  drover_code rc;
  int fd;

  *stale = 0;
  memset(&resp, 0, sizeof(resp));
  drover_error_clear(&mine);
  snprintf(rangehdr, sizeof(rangehdr), "Range: bytes=%llu-", g->from);
  dl_req(&r, g, bucket, key, range);
  r.headers = hdrs;
  r.if_match = g->want;        /* S3 answers 412 when it changed; s3rver ignores it */
  r.allow = S3_ALLOW_STALE;
  rc = s3_call(st, &r, &resp, &mine);
  if(g->stale || (!rc && (resp.status == 412 || resp.status == 416))) {
    *stale = 1;
    drover_http_response_free(&resp);
    unlink(range);
    return DROVER_OK;
  }
  drover_http_response_free(&resp);
  if(rc) {
    if(err && !err->code)
      *err = mine;
    return rc;
  }
  fd = open(part, O_WRONLY | O_APPEND | O_CLOEXEC);
  if(fd < 0)
    return s3_fail(err, DROVER_E_IO, NULL, "%s: %s", part, strerror(errno));
  rc = append_file(fd, range, err);
  if(close(fd) != 0 && !rc)
    rc = s3_fail(err, DROVER_E_IO, NULL, "%s: %s", part, strerror(errno));
  unlink(range);
  return rc;
}

/* --------------------------------------------------------------------------
 * Ranged parts
 */

/* The parts after the first of one download, fetched in parallel. */
typedef struct dl_parts {
  s3_state *st;
  const char *bucket, *key, *what;
  const char *want;            /* the ETag every part must come with */
  const char *boot;            /* the boot ID the list is of (boot_id) */
  int fd;                      /* the part file, written with pwrite */
  int mapfd;                   /* FILE.drover-part.parts, O_APPEND */
  unsigned long long size, first, psize;
  size_t *todo;                /* part numbers to fetch */
  size_t ntodo;
  atomic_int stale;            /* a part came from another object */
} dl_parts;

/* One part's GET. */
typedef struct dl_part {
  dl_parts *d;
  unsigned long long off, len;
} dl_part;

/* How many parts a download of size bytes has, the first of first bytes
 * and the others of psize (the last shorter). */
static size_t parts_count(unsigned long long size, unsigned long long first,
                          unsigned long long psize)
{
  return 1 + (size_t)((size - first + psize - 1) / psize);
}

/* Part i: its offset and length. */
static void part_span(const dl_parts *d, size_t i, unsigned long long *off,
                      unsigned long long *len)
{
  unsigned long long most = i ? d->psize : d->first;

  *off = i ? d->first + (unsigned long long)(i - 1) * d->psize : 0;
  *len = d->size - *off < most ? d->size - *off : most;
}

/* Each part must be the very bytes asked for, of the object the download
 * began with: the ETag (If-Match too, which S3 answers with 412 and
 * s3rver ignores) and the Content-Range, its size included. */
static drover_code part_body_start(void *ud, const drover_http_response *head,
                                   drover_error *err)
{
  dl_part *p = ud;
  dl_parts *d = p->d;
  const char *v = drover_http_response_header(head, "content-range");
  unsigned long long first, last, size;

  if(head->status != 206 || strcmp(head->etag ? head->etag : "", d->want) || !v ||
     !parse_range(v, &first, &last, &size) || first != p->off ||
     last + 1 != p->off + p->len || size != d->size) {
    atomic_store(&d->stale, 1);
    return s3_fail(err, DROVER_E_CONFLICT, NULL, "%s: bytes %llu-%llu: not of the object "
                   "the download began with", d->what, p->off, p->off + p->len - 1);
  }
  return DROVER_OK;
}

/* The len bytes at off of d's object, written at off in the part file. */
static drover_code part_get(dl_parts *d, unsigned long long off, unsigned long long len,
                            drover_error *err)
{
  dl_part p;
  s3_req r;
  drover_http_response resp;
  char rangehdr[64];
  const char *hdrs[2] = {rangehdr, NULL};
  drover_code rc;

  p.d = d;
  p.off = off;
  p.len = len;
  snprintf(rangehdr, sizeof(rangehdr), "Range: bytes=%llu-%llu", p.off, p.off + p.len - 1);
  s3_req_init(&r, "GET", d->bucket, d->key, d->what);
  r.headers = hdrs;
  r.if_match = d->want[0] ? d->want : NULL;
  r.allow = S3_ALLOW_STALE;
  r.response_to_fd = 1;
  r.response_fd = d->fd;
  r.response_offset = p.off;
  r.on_body_start = part_body_start;
  r.body_start_userdata = &p;
  rc = s3_call(d->st, &r, &resp, err);
  if(!rc && (resp.status == 412 || resp.status == 416)) {
    atomic_store(&d->stale, 1);
    rc = s3_fail(err, DROVER_E_CONFLICT, NULL, "%s: bytes %llu-%llu: the object changed "
                 "(HTTP %ld)", d->what, p.off, p.off + p.len - 1, resp.status);
  }
  else if(!rc && resp.written != p.len)
    rc = s3_fail(err, DROVER_E_PROVIDER, NULL, "%s: bytes %llu-%llu: got %llu bytes",
                 d->what, p.off, p.off + p.len - 1, resp.written);
  drover_http_response_free(&resp);
  return rc;
}

/* An s3_job_fn: part d->todo[j], then its line in the map. */
static drover_code part_job(void *ud, size_t j, drover_error *err)
{
  dl_parts *d = ud;
  unsigned long long off, len;
  char line[32];
  drover_code rc;
  ssize_t w;
  int n;

  part_span(d, d->todo[j], &off, &len);
  if((rc = part_get(d, off, len, err)))
    return rc;
  /* Only now is the part whole: one append, whole or not at all. */
  n = snprintf(line, sizeof(line), "%zu\n", d->todo[j]);
  w = write(d->mapfd, line, (size_t)n);
  if(w != n)
    return s3_fail(err, DROVER_E_IO, NULL, "%s: writing the part list: %s", d->what,
                   w < 0 ? strerror(errno) : "short write");
  return DROVER_OK;
}

/* Reads the map at mapf into d (size, first, psize), its ETag into etag
 * (etagsz bytes) and the parts it lists as done into *done (calloc'd, one
 * byte a part; caller frees). 0 when it is not one this code wrote, names
 * no ETag, or is of another boot than d->boot (then the download starts
 * over). */
static int map_read(const char *mapf, dl_parts *d, char *etag, size_t etagsz,
                    unsigned char **done, size_t *nparts)
{
  FILE *f = fopen(mapf, "r");
  char line[320];
  unsigned long long i;
  size_t len;
  int ok = 0, at = -1;

  *done = NULL;
  if(!f)
    return 0;
  /* at: where the boot ID starts, after the numbers and their blank. */
  if(!fgets(line, sizeof(line), f) ||
     sscanf(line, MAP_MAGIC " %llu %llu %llu %n", &d->size, &d->first, &d->psize,
            &at) != 3 || at < 0 || !boot_line_is(line + at, d->boot) ||
     !d->first || d->psize < (1ull << 20) || d->first >= d->size || d->psize > d->size)
    goto out;
  /* The ETag line, whole: a torn one is no ETag. */
  if(!fgets(line, sizeof(line), f) || (len = strlen(line)) < 2 || line[len - 1] != '\n' ||
     len > etagsz)
    goto out;
  memcpy(etag, line, len - 1);
  etag[len - 1] = '\0';
  *nparts = parts_count(d->size, d->first, d->psize);
  if(!(*done = calloc(*nparts, 1)))
    goto out;
  while(fgets(line, sizeof(line), f)) {
    char *end;
    errno = 0;
    i = strtoull(line, &end, 10);
    if(errno || end == line || *end != '\n' || i >= *nparts)
      break;                   /* a torn last line: that part is fetched again */
    (*done)[i] = 1;
  }
  ok = 1;
out:
  fclose(f);
  if(!ok) {
    free(*done);
    *done = NULL;
  }
  return ok;
}

/* Fetches the parts of d not marked in done (NULL: all) into the part
 * file, st->concurrency at a time. *already: the bytes there before. */
static drover_code parts_fetch(dl_parts *d, const unsigned char *done, size_t nparts,
                               unsigned long long *already, drover_error *err)
{
  unsigned long long off, len;
  double t0;
  size_t i;
  drover_code rc;

  d->todo = calloc(nparts, sizeof(*d->todo));
  if(!d->todo)
    return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  d->ntodo = 0;
  *already = 0;
  for(i = 0; i < nparts; i++) {
    part_span(d, i, &off, &len);
    if(done && done[i])
      *already += len;
    else
      d->todo[d->ntodo++] = i;
  }
  atomic_init(&d->stale, 0);
  s3_progress_start(d->st, *already, d->size);
  drover_logf(&d->st->env, DROVER_LOG_DEBUG,
              "s3: %s: ranged download of %llu bytes, %zu of %zu parts to get (%llu bytes "
              "each after the first %llu), %u at a time", d->what, d->size, d->ntodo,
              nparts, d->psize, d->first, d->st->concurrency);
  t0 = drover_now();
  if(d->ntodo)
    rc = s3_parallel(d->st, d->ntodo, part_job, d, err);
  else {
    /* Every part listed (stopped before the rename): no GET would hold the
     * object to the list's ETag and size, and the bytes might be of
     * another key or an older version. Its last byte, rewritten in place,
     * checks both. */
    rc = part_get(d, d->size - 1, 1, err);
    if(!rc)
      drover_logf(&d->st->env, DROVER_LOG_DEBUG, "s3: %s: every part was here; the "
                  "object's last byte holds it to the list's ETag and size", d->what);
  }
  if(!rc)
    drover_logf(&d->st->env, DROVER_LOG_DEBUG, "s3: %s: parts %.2f s", d->what,
                drover_now() - t0);
  free(d->todo);
  d->todo = NULL;
  return rc;
}

/* Opens the part file and the map for d's parts; with create both are
 * created (the map with its plan and ETag lines), the part file first. */
static drover_code parts_open(dl_parts *d, const char *part, const char *mapf, int create,
                              drover_error *err)
{
  char line[400];
  ssize_t w;
  int n;

  d->fd = open(part, O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0600);
  if(d->fd < 0)
    return s3_fail(err, DROVER_E_IO, NULL, "%s: %s", part, strerror(errno));
  d->mapfd = open(mapf, O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0),
                  0600);
  if(d->mapfd < 0)
    return s3_fail(err, DROVER_E_IO, NULL, "%s: %s", mapf, strerror(errno));
  if(!create)
    return DROVER_OK;
  /* One write: a list is read only with its ETag line whole. The line
   * fits: an ETag is under 256 bytes (dl_body_start). */
  n = snprintf(line, sizeof(line), MAP_MAGIC " %llu %llu %llu %s\n%s\n", d->size, d->first,
               d->psize, d->boot, d->want);
  w = write(d->mapfd, line, (size_t)n);
  if(w != n)
    return s3_fail(err, DROVER_E_IO, NULL, "%s: %s", mapf,
                   w < 0 ? strerror(errno) : "short write");
  return DROVER_OK;
}

static void parts_close(dl_parts *d)
{
  if(d->fd >= 0)
    close(d->fd);
  if(d->mapfd >= 0)
    close(d->mapfd);
  d->fd = d->mapfd = -1;
}

/* --------------------------------------------------------------------------
 * The download
 */

/* Removes the files of an unfinished download; the first that will not
 * go is returned (NULL: all gone). */
static const char *dl_forget(const char *part, const char *tagf, const char *mapf)
{
  if(unlink(part) && errno != ENOENT)
    return part;
  if(unlink(tagf) && errno != ENOENT)
    return tagf;
  if(unlink(mapf) && errno != ENOENT)
    return mapf;
  return NULL;
}

/* The fresh start. With more than one lane and a download_threshold the
 * first GET asks for the first download_threshold bytes: an object that
 * fits comes whole in that one answer, and a larger one's answer says its
 * size and ETag (before any body byte: the GET stops there) and it comes
 * in parts. So no HEAD comes first. */
static drover_code dl_fresh(s3_state *st, const char *bucket, const char *key,
                            const char *part, const char *mapf, dl_get *g, drover_error *err)
{
  unsigned long long got;
  long status;
  char rangehdr[64];
  const char *hdrs[2] = {rangehdr, NULL};
  drover_http_response resp;
  drover_error mine;
  dl_parts d;
  s3_req r;
  drover_code rc;

  g->want = NULL;
  g->from = 0;
  dl_req(&r, g, bucket, key, part);
  if(st->concurrency > 1 && st->dl_threshold) {
    snprintf(rangehdr, sizeof(rangehdr), "Range: bytes=0-%llu", st->dl_threshold - 1);
    r.headers = hdrs;
    r.allow = S3_ALLOW_STALE;  /* 416: an empty object has no byte 0 */
  }
  drover_error_clear(&mine);
  rc = s3_call(st, &r, &resp, &mine);
  status = resp.status;
  drover_http_response_free(&resp);
  if((!rc && status == 416) || (rc && g->empty)) {
    r.headers = NULL;
    r.allow = 0;
    rc = s3_call(st, &r, &resp, err);
    drover_http_response_free(&resp);
  }
  else if(rc && g->refused)
    goto parts;
  else if(rc && err && !err->code)
    *err = mine;
  /* Whole in this answer (its length is the object's): the caller
   * checks the part file's length, as after every path. */
  return rc;

parts:
  memset(&d, 0, sizeof(d));
  d.fd = d.mapfd = -1;
  d.st = st;
  d.bucket = bucket;
  d.key = key;
  d.what = g->what;
  d.want = g->etag;
  d.boot = g->boot;
  d.size = g->size;
  d.psize = s3_part_size(st->part_size, st->concurrency, g->size);
  if(!d.psize || d.psize >= d.size) {
    /* A part_size set as large as the object: one part a lane instead,
     * in whole MiB (the map wants parts smaller than the object). */
    d.psize = s3_whole_mib(s3_div_up(d.size, st->concurrency));
  }
  d.first = d.psize;
  rc = parts_open(&d, part, mapf, 1, err);
  if(!rc)
    rc = parts_fetch(&d, NULL, parts_count(d.size, d.first, d.psize), &got, err);
  parts_close(&d);
  return rc;
}

/* Resumes a ranged download from its map: *already, the bytes there
 * before; *size, the object's. *stale: the map is not one to trust, or the
 * object changed since; the caller starts over (err is then untouched). */
static drover_code dl_parts_resume(s3_state *st, const char *bucket, const char *key,
                                   const char *part, const char *mapf, const char *what,
                                   const char *boot, unsigned long long *already,
                                   unsigned long long *size, int *stale, drover_error *err)
{
  char etag[256];
  unsigned char *done = NULL;
  unsigned long long off, len;
  size_t nparts = 0, i;
  drover_error mine;
  dl_parts d;
  struct stat sb;
  drover_code rc;

  *stale = 1;
  memset(&d, 0, sizeof(d));
  d.fd = d.mapfd = -1;
  d.boot = boot;
  if(!map_read(mapf, &d, etag, sizeof(etag), &done, &nparts) || stat(part, &sb) != 0 ||
     !S_ISREG(sb.st_mode) || (unsigned long long)sb.st_size > d.size)
    goto out;
  d.st = st;
  d.bucket = bucket;
  d.key = key;
  d.what = what;
  d.want = etag;
  /* A listed part the file does not reach (the file cut short since) is
   * fetched again, or the download could never end whole. */
  for(i = 0; i < nparts; i++) {
    part_span(&d, i, &off, &len);
    if(done[i] && off + len > (unsigned long long)sb.st_size)
      done[i] = 0;
  }
  drover_error_clear(&mine);
  rc = parts_open(&d, part, mapf, 0, &mine);
  if(!rc)
    rc = parts_fetch(&d, done, nparts, already, &mine);
  parts_close(&d);
  if(rc && atomic_load(&d.stale))
    goto out;                  /* another object now: start over */
  *stale = 0;
  *size = d.size;
  if(rc && err && !err->code)
    *err = mine;
  free(done);
  return rc;
out:
  free(done);
  return DROVER_OK;
}

drover_code s3_download(s3_state *st, const char *bucket, const char *key, const char *path,
                        unsigned long long *resumed_from, drover_error *err)
{
  char *part = NULL, *tagf = NULL, *range = NULL, *mapf = NULL, what[1200], have_tag[258];
  char boot[BOOT_LEN + 1];
  unsigned long long already = 0;
  const char *gone;
  struct stat sb;
  dl_get g;
  drover_code rc = DROVER_OK;
  int stale = 1;

  if(resumed_from)
    *resumed_from = 0;
  if(asprintf(&part, "%s.drover-part", path) < 0 || asprintf(&tagf, "%s.etag", part) < 0 ||
     asprintf(&range, "%s.range", part) < 0 || asprintf(&mapf, "%s.parts", part) < 0) {
    rc = s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  snprintf(what, sizeof(what), "GET object \"%s/%s\"", bucket, key);
  memset(&g, 0, sizeof(g));
  g.st = st;
  g.tagf = tagf;
  g.what = what;
  boot_id(boot);
  g.boot = boot;
  if(!strcmp(boot, "unknown"))
    drover_logf(&st->env, DROVER_LOG_DEBUG, "s3: %s: no boot ID to read "
                "(/proc/sys/kernel/random/boot_id): what is downloaded is not resumed", what);

  /* A ranged download's list, or a prefix with its ETag: the rest of the
   * object, if it is still that one. */
  if(stat(mapf, &sb) == 0) {
    rc = dl_parts_resume(st, bucket, key, part, mapf, what, boot, &already, &g.size, &stale,
                         err);
    if(rc)
      goto out;
  }
  else if(tag_read(tagf, have_tag, sizeof(have_tag), boot) && stat(part, &sb) == 0 &&
          S_ISREG(sb.st_mode) && sb.st_size > 0) {
    g.want = have_tag;
    g.from = (unsigned long long)sb.st_size;
    rc = dl_resume(st, bucket, key, part, range, &g, &stale, err);
    if(rc)
      goto out;
  }
  if(stale) {
    /* From the start. The old files go first, so a stop between the new
     * ETag and the new part's first byte leaves no part of another object
     * behind that ETag. */
    if((gone = dl_forget(part, tagf, mapf))) {
      rc = s3_fail(err, DROVER_E_IO, NULL, "%s: %s", gone, strerror(errno));
      goto out;
    }
    rc = dl_fresh(st, bucket, key, part, mapf, &g, err);
    if(rc) {
      /* Parts of another object than the first GET named: nothing to keep. */
      if(rc == DROVER_E_CONFLICT)
        dl_forget(part, tagf, mapf);
      goto out;
    }
  }
  if(stat(part, &sb) != 0 || (unsigned long long)sb.st_size != g.size) {
    rc = s3_fail(err, DROVER_E_PROVIDER, NULL, "%s: got %lld of %llu bytes", what,
                 (long long)(stat(part, &sb) == 0 ? sb.st_size : -1), g.size);
    goto out;
  }
  if(rename(part, path) != 0) {
    rc = s3_fail(err, DROVER_E_IO, NULL, "rename to %s: %s", path, strerror(errno));
    goto out;
  }
  unlink(tagf);
  unlink(mapf);
  if(resumed_from)
    *resumed_from = stale ? 0 : g.want ? g.from : already;
out:
  free(part);
  free(tagf);
  free(range);
  free(mapf);
  return rc;
}
