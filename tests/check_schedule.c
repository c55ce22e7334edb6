/* check_schedule.c - scheduled runs: the slot a run is for and the next
 * one, missed slots coalesced into one run, the Prometheus textfile
 * (checked by a small parser of the text exposition format, not by
 * comparing strings), its atomic write, and a webhook body that carries no
 * secret. */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "run_suite.h"
#include "schedule.h"
#include "scripted_server.h"

static long long utc(int y, int mo, int d, int h, int mi, int s)
{
  return (long long)dv_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static drover_slot_plan plan(const char *cron, const char *tz, long long last, long long now)
{
  drover_slot_plan p;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_msg(drover_schedule_plan(&p, cron, tz, last, now, &err) == DROVER_OK, "%s: %s",
                cron, err.text);
  return p;
}

START_TEST(next_slot)
{
  drover_slot_plan p = plan("*/5 * * * *", NULL, 0, utc(2026, 11, 30, 12, 3, 10));

  ck_assert_int_eq(p.slot, utc(2026, 11, 30, 12, 0, 0));
  ck_assert_int_eq(p.next, utc(2026, 11, 30, 12, 5, 0));
  ck_assert_int_eq(p.run, 1);
  ck_assert_int_eq(p.missed, 0);
  /* Exactly at a slot: that slot is this run's, the next is 5 min on. */
  p = plan("*/5 * * * *", NULL, 0, utc(2026, 11, 30, 12, 5, 0));
  ck_assert_int_eq(p.slot, utc(2026, 11, 30, 12, 5, 0));
  ck_assert_int_eq(p.next, utc(2026, 11, 30, 12, 10, 0));
  /* Nightly at 01:30 Berlin: 00:30 UTC in winter, 23:30 UTC the day
   * before in summer. */
  p = plan("30 1 * * *", "Europe/Berlin", 0, utc(2026, 1, 10, 12, 0, 0));
  ck_assert_int_eq(p.next, utc(2026, 1, 11, 0, 30, 0));
  p = plan("30 1 * * *", "Europe/Berlin", 0, utc(2026, 7, 10, 12, 0, 0));
  ck_assert_int_eq(p.next, utc(2026, 7, 10, 23, 30, 0));
  /* 02:30 does not exist on 2026-03-29 in Berlin: moved to 03:30 CEST. */
  p = plan("30 2 * * *", "Europe/Berlin", 0, utc(2026, 3, 28, 23, 0, 0));
  ck_assert_int_eq(p.next, utc(2026, 3, 29, 1, 30, 0));
}
END_TEST

START_TEST(missed_slots_coalesce)
{
  long long last = utc(2026, 11, 30, 12, 0, 0);
  /* Down from 12:00 to 12:17:30 with an every-minute schedule: one run for
   * 12:17, and 12:01..12:16 (16 slots) are counted as missed, not run. */
  drover_slot_plan p = plan("* * * * *", NULL, last, utc(2026, 11, 30, 12, 17, 30));

  ck_assert_int_eq(p.run, 1);
  ck_assert_int_eq(p.slot, utc(2026, 11, 30, 12, 17, 0));
  ck_assert_int_eq(p.missed, 16);
  ck_assert_int_eq(p.next, utc(2026, 11, 30, 12, 18, 0));
  /* The same slot again (a second job, a cron call): not run twice. */
  p = plan("* * * * *", NULL, utc(2026, 11, 30, 12, 17, 0), utc(2026, 11, 30, 12, 17, 50));
  ck_assert_int_eq(p.run, 0);
  /* The slot right after the last: nothing missed. */
  p = plan("* * * * *", NULL, last, utc(2026, 11, 30, 12, 1, 2));
  ck_assert_int_eq(p.run, 1);
  ck_assert_int_eq(p.missed, 0);
  /* A nightly job down for three nights runs once, two missed. */
  p = plan("0 1 * * *", NULL, utc(2026, 11, 26, 1, 0, 0), utc(2026, 11, 29, 9, 0, 0));
  ck_assert_int_eq(p.run, 1);
  ck_assert_int_eq(p.slot, utc(2026, 11, 29, 1, 0, 0));
  ck_assert_int_eq(p.missed, 2);
  /* Bounded: a per-minute job down for a year. */
  p = plan("* * * * *", NULL, utc(2025, 1, 1, 0, 0, 0), utc(2026, 1, 1, 0, 0, 0));
  ck_assert_int_eq(p.missed, 1000);
}
END_TEST

START_TEST(bad_schedule)
{
  drover_slot_plan p;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_ne(drover_schedule_plan(&p, "61 * * * *", NULL, 0, 0, &err), DROVER_OK);
  ck_assert_ptr_nonnull(strstr(err.text, "minute"));
}
END_TEST

/* ------------------------------------------------------------------------
 * A parser of the Prometheus text exposition format (0.0.4), enough to
 * hold the textfile to its rules: metric and label names, label value
 * escapes, float values, HELP/TYPE at most once per family and before its
 * samples, no duplicate series. Returns NULL when valid, else why. */

typedef struct sample {
  char name[128];
  char labels[512]; /* raw, for duplicate detection */
  char stack[256], policy[256], kind[256];
  double value;
} sample;

static int name_ok(const char *s, size_t n, int colon)
{
  size_t i;

  if(!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || (colon && s[0] == ':')))
    return 0;
  for(i = 1; i < n; i++)
    if(!(isalnum((unsigned char)s[i]) || s[i] == '_' || (colon && s[i] == ':')))
      return 0;
  return 1;
}

static const char *parse_prom(const char *text, sample *out, size_t *n, size_t max)
{
  static char why[256];
  char typed[32][128], helped[32][128];
  size_t nt = 0, nh = 0, i;
  const char *line = text;

  *n = 0;
  while(*line) {
    const char *end = strchr(line, '\n');
    size_t len;
    if(!end)
      return "the last line has no newline";
    len = (size_t)(end - line);
    if(len >= 2 && line[0] == '#' && line[1] == ' ') {
      const char *p = line + 2, *nm, *q;
      int help = !strncmp(p, "HELP ", 5), type = !strncmp(p, "TYPE ", 5);
      if(help || type) {
        nm = p + 5;
        q = nm;
        while(q < end && *q != ' ')
          q++;
        if(!name_ok(nm, (size_t)(q - nm), 1) || q >= end)
          return "a HELP/TYPE line with a bad metric name";
        if(type) {
          if(strncmp(q + 1, "gauge", 5) || q + 6 != end)
            return "TYPE is not gauge";
          for(i = 0; i < nt; i++)
            if(!strncmp(typed[i], nm, (size_t)(q - nm)) && !typed[i][q - nm])
              return "a second TYPE line for one metric";
          for(i = 0; i < *n; i++)
            if(!strncmp(out[i].name, nm, (size_t)(q - nm)) && !out[i].name[q - nm])
              return "TYPE after a sample of its metric";
          snprintf(typed[nt++], sizeof(typed[0]), "%.*s", (int)(q - nm), nm);
        }
        else {
          for(i = 0; i < nh; i++)
            if(!strncmp(helped[i], nm, (size_t)(q - nm)) && !helped[i][q - nm])
              return "a second HELP line for one metric";
          snprintf(helped[nh++], sizeof(helped[0]), "%.*s", (int)(q - nm), nm);
        }
      }
    }
    else if(len) {
      sample *s = &out[*n];
      const char *p = line, *q;
      char *vend;
      if(*n >= max)
        return "too many samples";
      memset(s, 0, sizeof(*s));
      while(p < end && *p != '{' && *p != ' ')
        p++;
      if(!name_ok(line, (size_t)(p - line), 1))
        return "a bad metric name";
      snprintf(s->name, sizeof(s->name), "%.*s", (int)(p - line), line);
      for(i = 0; i < nt && strcmp(typed[i], s->name); i++)
        ;
      if(i == nt)
        return "a sample without a TYPE line before it";
      if(*p == '{') {
        const char *lstart = p + 1;
        p++;
        while(p < end && *p != '}') {
          char val[256];
          size_t vl = 0;
          q = p;
          while(q < end && *q != '=')
            q++;
          if(!name_ok(p, (size_t)(q - p), 0) || q + 1 >= end || q[1] != '"')
            return "a bad label name or a value without quotes";
          {
            const char *ln = p;
            size_t lnl = (size_t)(q - p);
            p = q + 2;
            while(p < end && *p != '"') {
              if(*p == '\\') {
                if(p + 1 >= end || !strchr("\\\"n", p[1]))
                  return "a bad escape in a label value";
                val[vl++] = p[1] == 'n' ? '\n' : p[1];
                p += 2;
              }
              else if(*p == '\n')
                return "a raw newline in a label value";
              else
                val[vl++] = *p++;
              if(vl >= sizeof(val) - 1)
                return "a label value too long";
            }
            if(p >= end)
              return "an unterminated label value";
            val[vl] = '\0';
            if(lnl == 5 && !strncmp(ln, "stack", 5))
              snprintf(s->stack, sizeof(s->stack), "%s", val);
            else if(lnl == 6 && !strncmp(ln, "policy", 6))
              snprintf(s->policy, sizeof(s->policy), "%s", val);
            else if(lnl == 4 && !strncmp(ln, "kind", 4))
              snprintf(s->kind, sizeof(s->kind), "%s", val);
          }
          p++;
          if(*p == ',')
            p++;
          else if(*p != '}')
            return "labels not separated by commas";
        }
        if(p >= end)
          return "unterminated labels";
        snprintf(s->labels, sizeof(s->labels), "%.*s", (int)(p - lstart), lstart);
        p++;
      }
      if(*p != ' ')
        return "no blank before the value";
      s->value = strtod(p + 1, &vend);
      if(vend == p + 1 || vend != end)
        return "the value is not a float (or a timestamp follows)";
      for(i = 0; i < *n; i++)
        if(!strcmp(out[i].name, s->name) && !strcmp(out[i].labels, s->labels)) {
          snprintf(why, sizeof(why), "duplicate series %s", s->name);
          return why;
        }
      (*n)++;
    }
    line = end + 1;
  }
  return NULL;
}

static const sample *find(const sample *s, size_t n, const char *name)
{
  size_t i;
  for(i = 0; i < n; i++)
    if(!strcmp(s[i].name, name))
      return &s[i];
  return NULL;
}

START_TEST(metrics_format_parses)
{
  drover_run_metrics m = DROVER_RUN_METRICS_INIT;
  drover_error err;
  sample s[64];
  size_t n;
  char *text = NULL;
  const char *why;
  const sample *x;

  drover_error_clear(&err);
  m.stack = "web \"prod\"\\eu";   /* escapes in a label value */
  m.policy = "nightly\nbackup";
  m.kind = "backup";
  m.ok = 1;
  m.started = 1764504000;
  m.duration = 12.25;
  m.slot = 1764504000;
  m.last_success = 1764504000;
  m.kept = 3;
  m.deleted = 2;
  m.missed = 1;
  ck_assert_int_eq(drover_metrics_format(&text, &m, &err), DROVER_OK);
  why = parse_prom(text, s, &n, 64);
  ck_assert_msg(why == NULL, "%s in:\n%s", why, text);
  x = find(s, n, "drover_policy_snapshots_kept");
  ck_assert_ptr_nonnull(x);
  ck_assert(x->value == 3);
  ck_assert_str_eq(x->stack, "web \"prod\"\\eu");
  ck_assert_str_eq(x->policy, "nightly\nbackup");
  ck_assert_str_eq(x->kind, "backup");
  ck_assert(find(s, n, "drover_policy_snapshots_deleted")->value == 2);
  ck_assert(find(s, n, "drover_policy_last_run_duration_seconds")->value == 12.25);
  ck_assert(find(s, n, "drover_policy_last_success_timestamp_seconds")->value == 1764504000);
  ck_assert(find(s, n, "drover_policy_last_run_success")->value == 1);
  ck_assert(find(s, n, "drover_policy_missed_slots")->value == 1);
  /* Counts that do not apply to a backup are not exported at all. */
  ck_assert_ptr_null(find(s, n, "drover_policy_desired_count"));
  ck_assert_ptr_null(find(s, n, "drover_policy_drifted_resources"));
  ck_assert_ptr_null(find(s, n, "drover_policy_bytes"));
  free(text);

  /* A failed drift run that never succeeded: no last-success sample. */
  m = (drover_run_metrics)DROVER_RUN_METRICS_INIT;
  m.stack = "ops";
  m.policy = "check";
  m.kind = "drift";
  m.drifted = 2;
  m.current = 5;
  m.desired = 6;
  ck_assert_int_eq(drover_metrics_format(&text, &m, &err), DROVER_OK);
  why = parse_prom(text, s, &n, 64);
  ck_assert_msg(why == NULL, "%s in:\n%s", why, text);
  ck_assert_ptr_null(find(s, n, "drover_policy_last_success_timestamp_seconds"));
  ck_assert(find(s, n, "drover_policy_last_run_success")->value == 0);
  ck_assert(find(s, n, "drover_policy_drifted_resources")->value == 2);
  ck_assert(find(s, n, "drover_policy_current_count")->value == 5);
  ck_assert(find(s, n, "drover_policy_desired_count")->value == 6);
  free(text);
}
END_TEST

/* The parser itself rejects what the format forbids. */
START_TEST(parser_rejects)
{
  sample s[8];
  size_t n;

  ck_assert_ptr_nonnull(parse_prom("a 1\n", s, &n, 8));                      /* no TYPE */
  ck_assert_ptr_nonnull(parse_prom("# TYPE a gauge\na{x=\"\\q\"} 1\n", s, &n, 8));
  ck_assert_ptr_nonnull(parse_prom("# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n", s, &n, 8));
  ck_assert_ptr_nonnull(parse_prom("# TYPE a gauge\na one\n", s, &n, 8));
  ck_assert_ptr_nonnull(parse_prom("# TYPE 1a gauge\n", s, &n, 8));
  ck_assert_ptr_null(parse_prom("# TYPE a gauge\na{x=\"1\",y=\"\\\"\"} 2.5\n", s, &n, 8));
}
END_TEST

START_TEST(metrics_write_atomic)
{
  char dir[] = "/tmp/check_schedule.XXXXXX", path[256], buf[8192], *text = NULL;
  drover_run_metrics m = DROVER_RUN_METRICS_INIT;
  drover_error err;
  FILE *f;
  size_t len;
  DIR *d;
  struct dirent *de;
  int files = 0;

  drover_error_clear(&err);
  ck_assert_ptr_nonnull(mkdtemp(dir));
  m.stack = "../../etc";  /* cannot leave the directory */
  m.policy = "p/q";
  m.kind = "scale";
  m.desired = 4;
  snprintf(path, sizeof(path), "%s/sub", dir);
  ck_assert_int_eq(drover_metrics_write(path, &m, &err), DROVER_OK);
  ck_assert_int_eq(drover_metrics_write(path, &m, &err), DROVER_OK); /* replaces */
  d = opendir(path);
  ck_assert_ptr_nonnull(d);
  while((de = readdir(d)) != NULL) {
    if(de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
      continue;
    files++;
    ck_assert_str_eq(de->d_name, "drover_.._.._etc_p_q.prom");
  }
  closedir(d);
  ck_assert_int_eq(files, 1); /* no temporary file left */
  snprintf(buf, sizeof(buf), "%s/drover_.._.._etc_p_q.prom", path);
  f = fopen(buf, "r");
  ck_assert_ptr_nonnull(f);
  len = fread(buf, 1, sizeof(buf) - 1, f);
  buf[len] = '\0';
  fclose(f);
  ck_assert_int_eq(drover_metrics_format(&text, &m, &err), DROVER_OK);
  ck_assert_str_eq(buf, text);
  free(text);
  snprintf(buf, sizeof(buf), "rm -rf '%s'", dir);
  ck_assert_int_eq(system(buf), 0);
}
END_TEST

START_TEST(webhook_body_no_secrets)
{
  drover_run_metrics m = DROVER_RUN_METRICS_INIT;
  drover_error err;
  char *body = NULL;
  json_t *o;

  drover_error_clear(&err);
  dv_secret_add("pa55w0rd-of-the-db");
  m.stack = "web";
  m.policy = "nightly";
  m.kind = "backup";
  m.started = 1764504000;
  m.slot = 1764504000;
  m.kept = 1;
  m.error = "backup run: lxd: https://admin:s3cret@lxd.example:8443/1.0?token=t0ken failed; "
            "password pa55w0rd-of-the-db rejected";
  ck_assert_int_eq(drover_webhook_body(&body, "failure", &m, &err), DROVER_OK);
  ck_assert_ptr_null(strstr(body, "s3cret"));
  ck_assert_ptr_null(strstr(body, "admin:"));
  ck_assert_ptr_null(strstr(body, "t0ken"));
  ck_assert_ptr_null(strstr(body, "pa55w0rd"));
  o = json_loads(body, 0, NULL);
  ck_assert_ptr_nonnull(o);
  ck_assert_str_eq(json_string_value(json_object_get(o, "event")), "failure");
  ck_assert_str_eq(json_string_value(json_object_get(o, "stack")), "web");
  ck_assert_str_eq(json_string_value(json_object_get(o, "policy")), "nightly");
  ck_assert_str_eq(json_string_value(json_object_get(o, "slot")), "2025-11-30T12:00:00Z");
  ck_assert_int_eq(json_integer_value(json_object_get(o, "snapshots_kept")), 1);
  ck_assert_ptr_null(json_object_get(o, "drifted"));
  /* The error keeps its meaning without the secrets. */
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(o, "error")),
                               "https://lxd.example:8443/1.0 failed"));
  json_decref(o);
  free(body);
}
END_TEST

START_TEST(webhook_url_refused)
{
  drover_webhook w = DROVER_WEBHOOK_INIT;
  drover_error err;

  drover_error_clear(&err);
  w.url = "ftp://x/y";
  ck_assert_int_eq(drover_webhook_send(&w, "{}", &err), DROVER_E_ARG);
}
END_TEST


static const char busy[] = "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

/* Sends body with `retries` to path (with a token query) on a loopback
 * server answering script[0..n-1] (the last repeating); s is stopped on
 * return, what it saw still readable. */
static drover_code send_to(srv *s, const char *const *script, size_t n, unsigned retries,
                           const char *path, const char *body, drover_error *err)
{
  drover_webhook w = DROVER_WEBHOOK_INIT;
  char url[128];
  drover_code rc;

  drover_error_clear(err);
  srv_listen(s, 0, script, n);
  srv_run(s);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
  w.url = url;
  w.timeout = 5;
  w.retries = retries;
  rc = drover_webhook_send(&w, body, err);
  srv_stop(s);
  return rc;
}

START_TEST(webhook_delivered_after_retry)
{
  static const char *const script[] = {busy, ok};
  drover_error err;
  static srv s;

  ck_assert_msg(send_to(&s, script, 2, 3, "/hooks/drover?token=tok-123456",
                        "{\"event\":\"drift\"}", &err) == DROVER_OK, "%s", err.text);
  ck_assert_int_eq(atomic_load(&s.served), 2); /* the 503 was retried */
  ck_assert_ptr_nonnull(strstr(s.last, "POST /hooks/drover?token=tok-123456 HTTP/1.1\r\n"));
  ck_assert_ptr_nonnull(strcasestr(s.last, "content-type: application/json\r\n"));
  ck_assert_ptr_nonnull(strstr(s.last, "\r\n\r\n{\"event\":\"drift\"}"));
}
END_TEST

START_TEST(webhook_failure_hides_url)
{
  static const char *const script[] = {busy};
  drover_error err;
  static srv s;

  ck_assert_int_ne(send_to(&s, script, 1, 2, "/h?token=tok-abcdef", "{}", &err), DROVER_OK);
  ck_assert_int_eq(atomic_load(&s.served), 3); /* one try and two retries */
  ck_assert_ptr_nonnull(strstr(err.text, "webhook: delivery failed"));
  ck_assert_ptr_null(strstr(err.text, "tok-abcdef"));
  ck_assert_ptr_null(strstr(err.text, "/h"));
}
END_TEST

static Suite *suite(void)
{
  Suite *s = suite_create("schedule");
  TCase *tc = tcase_create("schedule");

  tcase_add_test(tc, next_slot);
  tcase_add_test(tc, missed_slots_coalesce);
  tcase_add_test(tc, bad_schedule);
  tcase_add_test(tc, metrics_format_parses);
  tcase_add_test(tc, parser_rejects);
  tcase_add_test(tc, metrics_write_atomic);
  tcase_add_test(tc, webhook_body_no_secrets);
  tcase_add_test(tc, webhook_url_refused);
  tcase_add_test(tc, webhook_delivered_after_retry);
  tcase_add_test(tc, webhook_failure_hides_url);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return run_suite(suite());
}
