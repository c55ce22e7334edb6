/* cmd_s3.c - drover s3 ls|cp|rm|presign: small S3 transfers for admins
 * (backups), on libdrover's S3 API (drover_s3.h) with the S3 provider's
 * settings and credentials. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
  "  -h, --help                  this help\n"
  "\n"
  "cp uploads at or above the multipart threshold in checked parts; downloads\n"
  "stream to FILE.drover-part and resume a broken download of the same object.\n";

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

/* drover_s3_open, with the handle's warnings on stderr as the other
 * commands print theirs. */
static drover_code open_s3(drover_s3 **s3, const char *settings, drover_error *err)
{
  drover_code rc = drover_s3_open(s3, settings, err);

  if(!rc)
    drover_s3_set_log(*s3, cli_log, NULL);
  return rc;
}

static int fail(const drover_error *err)
{
  char buf[DROVER_ERROR_TEXT + 512];
  fprintf(stderr, "drover: %s\n", drover_error_format(err, buf, sizeof(buf)));
  return CLI_EXIT_ERROR;
}

static int print_entry(void *ud, const drover_s3_entry *e)
{
  int buckets = *(int *)ud;
  if(buckets)
    printf("%s\n", e->name);
  else
    printf("%-24s %14llu  %s\n", e->modified, e->size, e->name);
  return 0;
}

int cli_cmd_s3(int argc, char **argv)
{
  static const struct option opts[] = {
    {"provider-config", required_argument, NULL, 'p'},
    {"content-type", required_argument, NULL, 'c'},
    {"expires", required_argument, NULL, 'e'},
    {"method", required_argument, NULL, 'm'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}
  };
  const char *config_path = NULL, *ctype = NULL, *method = "GET", *verb;
  long expires = 3600;
  char *settings = NULL, *bucket = NULL, *key = NULL, *url = NULL, *end;
  drover_s3 *s3 = NULL;
  drover_error err;
  int c, rc = CLI_EXIT_ERROR, n;

  drover_error_clear(&err);
  optind = 1;
  while((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch(c) {
    case 'p': config_path = optarg; break;
    case 'c': ctype = optarg; break;
    case 'm': method = optarg; break;
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
    int buckets = n == 1;
    if(!buckets && !parse_url(argv[optind + 1], &bucket, &key)) {
      fprintf(stderr, "drover: s3: ls wants s3://BUCKET[/PREFIX], not \"%s\"\n",
              argv[optind + 1]);
      goto out;
    }
    if(open_s3(&s3, settings, &err) ||
       drover_s3_list(s3, bucket, key, print_entry, &buckets, &err))
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
      fprintf(stderr, "uploaded %s to s3://%s/%s\n", src, bucket, key);
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
      if(from)
        fprintf(stderr, "resumed at byte %llu\n", from);
      fprintf(stderr, "downloaded s3://%s/%s to %s\n", bucket, key, target);
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
    printf("%s\n", url);
  }
  else {
    fputs(usage_text, stderr);
    goto out;
  }
  rc = CLI_EXIT_OK;
  goto out;
failed:
  rc = fail(&err);
out:
  drover_s3_close(s3);
  free(settings);
  free(bucket);
  free(key);
  free(url);
  return rc;
}
