/* cmd_s3.c - drover s3 ls|cp|rm|presign: small S3 transfers for admins
 * (backups), on libdrover's S3 API (drover_s3.h) with the S3 provider's
 * settings and credentials. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "cli.h"
#include "drover_s3.h"

static const char usage_text[] =
  "Usage: drover s3 ls [s3://BUCKET[/PREFIX]]\n"
  "       drover s3 cp SRC DST        (one of them s3://BUCKET/KEY, the other a file)\n"
  "       drover s3 rm s3://BUCKET/KEY\n"
  "       drover s3 presign [--expires SECONDS] [--method GET|PUT] s3://BUCKET/KEY\n"
  "\n"
  "Options:\n"
  "      --provider-config FILE  S3 settings: {\"s3\": {...}} or the settings object\n"
  "                              (default: the environment; see doc/s3.md)\n"
  "      --content-type TYPE     cp upload: the object's Content-Type\n"
  "      --expires SECONDS       presign: lifetime, default 3600, at most 604800\n"
  "      --method METHOD         presign: GET (default) or PUT\n"
  "      --progress              cp: report progress when standard error is not a\n"
  "                              terminal too, a line at every tenth of the way\n"
  "      --no-progress           cp: no progress (a terminal shows a live line)\n"
  "      --json                  print a JSON result document on stdout (ls:\n"
  "                              streamed, its \"ok\" and \"error\" last)\n"
  "  -v, --verbose               debug lines on stderr (a multipart upload's part\n"
  "                              count, and its parts / complete / check times)\n"
  "  -h, --help                  this help\n"
  "\n"
  "cp uploads at or above the multipart threshold in checked parts; downloads\n"
  "stream to FILE.drover-part and resume a broken download of the same object\n"
  "(in the same boot: after a reboot a download starts over).\n";

/* "s3://b/k" -> bucket, key (key may be ""). Both owned by the caller. */
static int parse_url(const char *url, char **bucket, char **key)
{
  const char *b, *slash;

  *bucket = *key = NULL;
  if(strncmp(url, "s3://", 5))
    return 0;
  b = url + 5;
  slash = strchr(b, '/');
  *bucket = slash ? strndup(b, (size_t)(slash - b)) : strdup(b);
  *key = strdup(slash ? slash + 1 : "");
  if(!*bucket || !*key || !**bucket) {
    free(*bucket);
    free(*key);
    *bucket = *key = NULL;
    return 0;
  }
  return 1;
}

/* The settings JSON text from FILE: its "s3" member, or the whole object.
 * Caller frees; NULL with a message on failure. */
static char *load_settings(const char *path)
{
  json_error_t je;
  json_t *doc, *s3;
  char *text = NULL;

  memset(&je, 0, sizeof(je));
  doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if(!json_is_object(doc)) {
    fprintf(stderr, "drover: s3: %s:%d:%d: %s\n", path, je.line, je.column,
            doc ? "not a JSON object" : je.text);
    json_decref(doc);
    return NULL;
  }
  s3 = json_object_get(doc, "s3");
  text = json_dumps(json_is_object(s3) ? s3 : doc, JSON_COMPACT);
  json_decref(doc);
  return text;
}

/* What cli_log filters the handle's lines by: warnings, or with -v
 * debug lines too. */
static struct cli log_cli;

/* drover_s3_open, with the handle's warnings on stderr as the other
 * commands print theirs. */
static drover_code open_s3(drover_s3 **s3, const char *settings, drover_error *err)
{
  drover_code rc = drover_s3_open(s3, settings, err);

  if(!rc)
    drover_s3_set_log(*s3, cli_log, &log_cli);
  return rc;
}

static int fail(const drover_error *err)
{
  char buf[DROVER_ERROR_TEXT + 512];
  fprintf(stderr, "drover: %s\n", drover_error_format(err, buf, sizeof(buf)));
  return CLI_EXIT_ERROR;
}

/* What ls prints through: text lines, or a JSON document streamed a
 * member at a time, so a listing of millions of keys stays in constant
 * memory. */
typedef struct lister {
  int buckets;                 /* listing buckets, not objects */
  int json;
  size_t n;                    /* entries printed */
} lister;

/* Prints v compactly (no newline); a value jansson cannot dump prints as
 * null, keeping the document well formed. Steals v. */
static void put_json(json_t *v)
{
  if(!v || json_dumpf(v, stdout, JSON_COMPACT | JSON_ENCODE_ANY))
    fputs("null", stdout);
  json_decref(v);
}

static int print_entry(void *ud, const drover_s3_entry *e)
{
  lister *l = ud;

  if(l->json) {
    fputs(l->n ? ",\n    " : "\n    ", stdout);
    /* A date the server left out is null, not "". */
    json_t *when = e->modified && *e->modified ? json_string(e->modified) : json_null();
    if(l->buckets)
      put_json(json_pack("{s:s, s:o}", "name", e->name, "created", when));
    else
      put_json(json_pack("{s:s, s:I, s:o}", "key", e->name, "size", (json_int_t)e->size,
                         "last_modified", when));
  }
  else if(l->buckets)
    printf("%s\n", e->name);
  else
    printf("%-24s %14llu  %s\n", e->modified, e->size, e->name);
  l->n++;
  return 0;
}

/* cp's progress: a live line on a terminal (redrawn at most five times a
 * second), or with --progress elsewhere a line at every tenth of the way,
 * for logs. drover_s3 calls on_xfer from every thread moving bytes. */
typedef struct xfer {
  struct cli_progress *live;   /* a terminal's line, or NULL */
  int lines;                   /* --progress without a terminal */
  char what[128];              /* "upload of up.bin" */
  pthread_mutex_t lock;
  double start, drawn;
  unsigned long long first;    /* done at the first call (a resumed download) */
  int tenth;                   /* the last tenth printed as a line */
} xfer;

static double mono_now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n bytes as "12.3 MiB". */
static void human(char *buf, size_t size, double n)
{
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  size_t u = 0;

  while(n >= 1024 && u < 4) {
    n /= 1024;
    u++;
  }
  snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", n, unit[u]);
}

static void on_xfer(void *ud, unsigned long long done, unsigned long long total)
{
  xfer *x = ud;
  double now = mono_now();
  int pct = total ? (int)(done * 100 / total) : 100;
  char d[32], t[32], r[32], line[300];

  pthread_mutex_lock(&x->lock);
  if(x->start == 0) {
    x->start = now;
    x->first = done;
  }
  /* Called for every piece curl moves: format only what is printed. */
  if(x->live && (now - x->drawn >= 0.2 || done == total)) {
    human(d, sizeof(d), (double)done);
    human(t, sizeof(t), (double)total);
    human(r, sizeof(r), now > x->start ? (double)(done - x->first) / (now - x->start) : 0);
    snprintf(line, sizeof(line), "%s: %s of %s (%d%%), %s/s", x->what, d, t, pct, r);
    cli_progress_text(x->live, line);
    x->drawn = now;
  }
  else if(x->lines && pct / 10 > x->tenth) {
    human(d, sizeof(d), (double)done);
    human(t, sizeof(t), (double)total);
    x->tenth = pct / 10;
    fprintf(stderr, "%s: %s of %s (%d%%)\n", x->what, d, t, pct);
  }
  pthread_mutex_unlock(&x->lock);
}

/* The error member of a --json document: null, or the error as the
 * other commands give it. New reference. */
static json_t *error_json(const drover_error *err)
{
  char msg[DROVER_ERROR_TEXT + 512];

  if(!err || !err->code)
    return json_null();
  return json_pack("{s:i, s:s, s:s}", "code", (int)err->code, "kind",
                   drover_strerror(err->code), "message",
                   drover_error_format(err, msg, sizeof(msg)));
}

/* Prints doc (stolen) with "ok" and "error" set from err, on one line. */
static void print_doc(json_t *doc, const drover_error *err)
{
  if(doc) {
    json_object_set_new(doc, "ok", json_boolean(!err || !err->code));
    json_object_set_new(doc, "error", error_json(err));
  }
  put_json(doc);
  fputc('\n', stdout);
}

int cli_cmd_s3(int argc, char **argv)
{
  static const struct option opts[] = {
    {"provider-config", required_argument, NULL, 'p'},
    {"content-type", required_argument, NULL, 'c'},
    {"expires", required_argument, NULL, 'e'},
    {"method", required_argument, NULL, 'm'},
    {"json", no_argument, NULL, 'j'},
    {"progress", no_argument, NULL, 'P'},
    {"no-progress", no_argument, NULL, 'N'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}
  };
  const char *config_path = NULL, *ctype = NULL, *method = "GET", *verb;
  long expires = 3600;
  char *settings = NULL, *bucket = NULL, *key = NULL, *url = NULL, *end;
  drover_s3 *s3 = NULL;
  drover_error err;
  json_t *doc = NULL;          /* --json: the result of cp, rm, presign */
  int c, rc = CLI_EXIT_ERROR, n, json = 0, listing = 0, progress = -1; /* -1: a terminal's */
  xfer x;

  drover_error_clear(&err);
  memset(&x, 0, sizeof(x));
  pthread_mutex_init(&x.lock, NULL);
  optind = 1;
  while((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
    switch(c) {
    case 'p': config_path = optarg; break;
    case 'c': ctype = optarg; break;
    case 'm': method = optarg; break;
    case 'j': json = 1; break;
    case 'P': progress = 1; break;
    case 'N': progress = 0; break;
    case 'v': log_cli.verbose = 1; break;
    case 'e':
      expires = strtol(optarg, &end, 10);
      if(*end || end == optarg) {
        fprintf(stderr, "drover: s3: --expires wants whole seconds, not \"%s\"\n", optarg);
        return CLI_EXIT_ERROR;
      }
      break;
    case 'h': fputs(usage_text, stdout); return CLI_EXIT_OK;
    default: fputs(usage_text, stderr); return CLI_EXIT_ERROR;
    }
  }
  n = argc - optind;
  if(n < 1) {
    fputs(usage_text, stderr);
    return CLI_EXIT_ERROR;
  }
  verb = argv[optind];
  if(config_path && !(settings = load_settings(config_path)))
    return CLI_EXIT_ERROR;

  if(!strcmp(verb, "ls") && n <= 2) {
    lister l = {n == 1, json, 0};
    if(!l.buckets && !parse_url(argv[optind + 1], &bucket, &key)) {
      fprintf(stderr, "drover: s3: ls wants s3://BUCKET[/PREFIX], not \"%s\"\n",
              argv[optind + 1]);
      goto out;
    }
    if(open_s3(&s3, settings, &err))
      goto failed;
    if(json) {
      /* Opened here, closed below with ok and error whatever happens. */
      listing = 1;
      if(l.buckets)
        fputs("{\"buckets\": [", stdout);
      else {
        fputs("{\"bucket\": ", stdout);
        put_json(json_string(bucket));
        fputs(", \"prefix\": ", stdout);
        put_json(json_string(key));
        fputs(", \"objects\": [", stdout);
      }
    }
    if(drover_s3_list(s3, bucket, key, print_entry, &l, &err))
      goto failed;
  }
  else if(!strcmp(verb, "cp") && n == 3) {
    const char *src = argv[optind + 1], *dst = argv[optind + 2];
    int up = !strncmp(dst, "s3://", 5), down = !strncmp(src, "s3://", 5);
    if(up == down) {
      fprintf(stderr, "drover: s3: cp wants one s3://BUCKET/KEY and one local file\n");
      goto out;
    }
    if(!parse_url(up ? dst : src, &bucket, &key)) {
      fprintf(stderr, "drover: s3: bad S3 URL \"%s\"\n", up ? dst : src);
      goto out;
    }
    if(open_s3(&s3, settings, &err))
      goto failed;
    if(progress != 0) {
      const char *name = strrchr(up ? src : key, '/');
      snprintf(x.what, sizeof(x.what), "%s of %s", up ? "upload" : "download",
               name ? name + 1 : up ? src : key);
      if(isatty(STDERR_FILENO))
        x.live = cli_progress_new(stderr, 1, 0, 0);
      else
        x.lines = progress == 1;
      if(x.live || x.lines)
        drover_s3_set_progress(s3, on_xfer, &x);
    }
    if(up) {
      const char *base = strrchr(src, '/');
      char *full = NULL;
      /* s3://b/dir/ means dir/<the file's name>. */
      if((!*key || key[strlen(key) - 1] == '/') &&
         asprintf(&full, "%s%s", key, base ? base + 1 : src) >= 0) {
        free(key);
        key = full;
      }
      if(drover_s3_upload(s3, src, bucket, key, ctype, &err))
        goto failed;
      cli_progress_free(x.live);
      x.live = NULL;
      fprintf(stderr, "uploaded %s to s3://%s/%s\n", src, bucket, key);
      if(json) {
        struct stat sb;
        doc = json_pack("{s:s, s:s, s:s, s:s, s:I}", "operation", "upload", "source", src,
                        "bucket", bucket, "key", key, "bytes",
                        (json_int_t)(stat(src, &sb) == 0 ? sb.st_size : -1));
      }
    }
    else {
      unsigned long long from = 0;
      struct stat sb;
      const char *target = dst;
      char *full = NULL;
      if(!*key) {
        fprintf(stderr, "drover: s3: cp needs a key to download\n");
        goto out;
      }
      if(stat(dst, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        const char *base = strrchr(key, '/');
        if(asprintf(&full, "%s/%s", dst, base ? base + 1 : key) < 0)
          full = NULL;
        target = full ? full : dst;
      }
      if(drover_s3_download(s3, bucket, key, target, &from, &err)) {
        free(full);
        goto failed;
      }
      cli_progress_free(x.live);
      x.live = NULL;
      if(from)
        fprintf(stderr, "resumed: %llu bytes were already here\n", from);
      fprintf(stderr, "downloaded s3://%s/%s to %s\n", bucket, key, target);
      if(json)
        doc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "operation", "download", "bucket",
                        bucket, "key", key, "target", target, "bytes",
                        (json_int_t)(stat(target, &sb) == 0 ? sb.st_size : -1),
                        "resumed_from", (json_int_t)from);
      free(full);
    }
  }
  else if(!strcmp(verb, "rm") && n == 2) {
    if(!parse_url(argv[optind + 1], &bucket, &key) || !*key) {
      fprintf(stderr, "drover: s3: rm wants s3://BUCKET/KEY\n");
      goto out;
    }
    if(open_s3(&s3, settings, &err) || drover_s3_delete(s3, bucket, key, &err))
      goto failed;
    if(json)
      doc = json_pack("{s:s, s:s, s:s}", "operation", "delete", "bucket", bucket, "key", key);
  }
  else if(!strcmp(verb, "presign") && n == 2) {
    if(!parse_url(argv[optind + 1], &bucket, &key) || !*key) {
      fprintf(stderr, "drover: s3: presign wants s3://BUCKET/KEY\n");
      goto out;
    }
    if(strcmp(method, "GET") && strcmp(method, "PUT")) {
      fprintf(stderr, "drover: s3: --method must be GET or PUT\n");
      goto out;
    }
    if(open_s3(&s3, settings, &err) ||
       drover_s3_presign(&url, s3, method, bucket, key, expires, &err))
      goto failed;
    if(json)
      doc = json_pack("{s:s, s:s, s:s, s:s, s:I}", "operation", "presign", "method", method,
                      "bucket", bucket, "key", key, "expires", (json_int_t)expires);
    if(doc)
      json_object_set_new(doc, "url", json_string(url));
    else
      printf("%s\n", url);
  }
  else {
    fputs(usage_text, stderr);
    goto out;
  }
  rc = CLI_EXIT_OK;
  goto out;
failed:
  cli_progress_free(x.live);   /* the line off the screen before the error */
  x.live = NULL;
  rc = fail(&err);
  if(json && !listing) {
    json_decref(doc);
    doc = json_object();
  }
out:
  if(listing) {
    fputs("\n  ], \"ok\": ", stdout);
    put_json(json_boolean(!err.code));
    fputs(", \"error\": ", stdout);
    put_json(error_json(&err));
    fputs("}\n", stdout);
  }
  else if(doc)
    print_doc(doc, &err);
  drover_s3_close(s3);
  cli_progress_free(x.live);
  pthread_mutex_destroy(&x.lock);
  free(settings);
  free(bucket);
  free(key);
  free(url);
  return rc;
}
