/* ui.c - terminal side of the command: colour, log sink, errors, prompt,
 * signals and the apply progress display.
 *
 * Log lines (stderr) and progress (stdout or stderr) can come from the
 * engine's worker threads at once; one mutex serialises them so a log line
 * never lands in the middle of the live progress line.
 */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"

static pthread_mutex_t ui_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_json;  /* --log-json: errors from the command are JSON lines too */
static struct cli_progress *live_progress; /* drawn live line, under ui_lock */

static void live_clear_locked(void);
static void live_draw_locked(void);

/* ------------------------------------------------------------------------
 * Colour
 */

int cli_want_color(FILE *f, int no_color)
{
  const char *nc = getenv("NO_COLOR");
  const char *term = getenv("TERM");

  if(no_color || (nc && nc[0]))
    return 0;
  if(term && !strcmp(term, "dumb"))
    return 0;
  return isatty(fileno(f));
}

const char *cli_c(int color, const char *code)
{
  return color ? code : "";
}

/* ------------------------------------------------------------------------
 * Log sink and errors
 */

static const char *level_name(drover_log_level level)
{
  switch(level) {
  case DROVER_LOG_ERROR: return "error";
  case DROVER_LOG_WARN: return "warning";
  case DROVER_LOG_INFO: return "info";
  case DROVER_LOG_DEBUG: return "debug";
  }
  return "info";
}

/* One JSON log object on stderr. Call with ui_lock held. */
static void json_line_locked(drover_log_level level, const char *msg)
{
  char stamp[96];
  struct timespec ts;
  struct tm tm;
  json_t *line;
  char *text;

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
           tm.tm_sec, ts.tv_nsec / 1000000L);
  line = json_pack("{s:s, s:s, s:s}", "time", stamp, "level", level_name(level),
                   "msg", msg ? msg : "");
  text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
  if(text)
    fprintf(stderr, "%s\n", text);
  free(text);
  json_decref(line);
}

void cli_set_log_json(int on)
{
  log_json = on;
}

void cli_log(void *userdata, drover_log_level level, const char *msg)
{
  const struct cli *cli = userdata;
  drover_log_level max = !cli ? DROVER_LOG_WARN
                         : cli->verbose ? DROVER_LOG_DEBUG
                         : cli->quiet ? DROVER_LOG_ERROR : DROVER_LOG_WARN;

  /* Filter here too: not every emitter checks the level it was given. */
  if(level > max)
    return;
  pthread_mutex_lock(&ui_lock);
  live_clear_locked();
  if(cli && cli->log_json)
    json_line_locked(level, msg);
  else
    fprintf(stderr, "drover: %s: %s\n", level_name(level), msg ? msg : "");
  fflush(stderr);
  live_draw_locked();
  pthread_mutex_unlock(&ui_lock);
}

void cli_errorf(const char *fmt, ...)
{
  char line[2048];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&ui_lock);
  live_clear_locked();
  if(log_json)
    json_line_locked(DROVER_LOG_ERROR, line);
  else
    fprintf(stderr, "drover: %s\n", line);
  fflush(stderr);
  live_draw_locked();
  pthread_mutex_unlock(&ui_lock);
}

int cli_exit_code(drover_code code)
{
  switch(code) {
  case DROVER_OK: return CLI_EXIT_OK;
  case DROVER_E_LOCKED: return CLI_EXIT_LOCKED;
  case DROVER_E_CANCELLED: return CLI_EXIT_INTERRUPTED;
  default: return CLI_EXIT_ERROR;
  }
}

int cli_fail(const drover_error *err)
{
  char buf[DROVER_ERROR_TEXT + 512];

  drover_error_format(err, buf, sizeof(buf));
  cli_errorf("%s", buf);
  return cli_exit_code(err->code);
}

/* ------------------------------------------------------------------------
 * Prompt
 */

int cli_confirm(FILE *f, const char *question)
{
  char answer[64];

  fprintf(f, "%s [y/N] ", question);
  fflush(f);
  if(!fgets(answer, sizeof(answer), stdin)) {
    fputc('\n', f);
    return 0;
  }
  answer[strcspn(answer, "\r\n")] = '\0';
  return !strcmp(answer, "y") || !strcmp(answer, "Y") || !strcmp(answer, "yes") ||
         !strcmp(answer, "YES") || !strcmp(answer, "Yes");
}

/* ------------------------------------------------------------------------
 * Signals: the first SIGINT/SIGTERM asks the engine to stop starting new
 * actions; in-flight ones finish. A second one leaves at once.
 */

static volatile int cancel_flag;

static void on_signal(int sig)
{
  static const char msg[] =
    "\ndrover: interrupted: finishing in-flight actions (again to quit now)\n";
  ssize_t w;

  (void)sig;
  if(cancel_flag)
    _exit(CLI_EXIT_INTERRUPTED);
  cancel_flag = 1;
  w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
  (void)w;
}

void cli_signals_install(void)
{
  struct sigaction sa;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

volatile int *cli_cancel_flag(void)
{
  return &cancel_flag;
}

int cli_cancelled(void)
{
  return cancel_flag != 0;
}

/* ------------------------------------------------------------------------
 * Progress
 */

struct inflight {
  char *address;
  drover_action action;
};

struct cli_progress {
  FILE *out;
  int tty, color, quiet;
  int drawn;                 /* the live line is on screen */
  size_t done, total;
  struct inflight *busy;
  size_t nbusy, capbusy;
  char text[256];            /* cli_progress_text's line, drawn instead */
};

/* Caller frees with cli_progress_free(). NULL on allocation failure. */
struct cli_progress *cli_progress_new(FILE *out, int tty, int color, int quiet)
{
  struct cli_progress *p = calloc(1, sizeof(*p));

  if(!p)
    return NULL;
  p->out = out;
  p->tty = tty;
  p->color = color;
  p->quiet = quiet;
  if(tty && !quiet) {
    pthread_mutex_lock(&ui_lock);
    live_progress = p;
    pthread_mutex_unlock(&ui_lock);
  }
  return p;
}

void cli_progress_finish(struct cli_progress *p)
{
  if(!p)
    return;
  pthread_mutex_lock(&ui_lock);
  live_clear_locked();
  if(live_progress == p)
    live_progress = NULL;
  pthread_mutex_unlock(&ui_lock);
}

void cli_progress_text(struct cli_progress *p, const char *text)
{
  if(!p || !p->tty || p->quiet)
    return;
  pthread_mutex_lock(&ui_lock);
  snprintf(p->text, sizeof(p->text), "%s", text);
  if(live_progress == p) {
    live_clear_locked();
    live_draw_locked();
  }
  pthread_mutex_unlock(&ui_lock);
}

void cli_progress_free(struct cli_progress *p)
{
  size_t i;

  if(!p)
    return;
  cli_progress_finish(p);
  for(i = 0; i < p->nbusy; i++)
    free(p->busy[i].address);
  free(p->busy);
  free(p);
}

static const char *verb(drover_action a)
{
  switch(a) {
  case DROVER_ACTION_CREATE: return "creating";
  case DROVER_ACTION_UPDATE: return "updating";
  case DROVER_ACTION_REPLACE: return "replacing";
  case DROVER_ACTION_DELETE: return "deleting";
  case DROVER_ACTION_NOOP: return "checking";
  }
  return "working on";
}

static int term_width(FILE *f)
{
  struct winsize ws;

  if(ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
    return ws.ws_col;
  return 80;
}

static void live_clear_locked(void)
{
  struct cli_progress *p = live_progress;

  if(!p || !p->drawn)
    return;
  fputs("\r\033[K", p->out);
  fflush(p->out);
  p->drawn = 0;
}

/* One line: "[3/8] creating web[3], web[4] ...", or the caller's text,
 * cut to the terminal. */
static void live_draw_locked(void)
{
  struct cli_progress *p = live_progress;
  char line[512];
  size_t i, len;
  int width, n;

  if(!p || (!p->nbusy && !p->text[0]))
    return;
  width = term_width(p->out) - 1;
  if(p->text[0])
    n = snprintf(line, sizeof(line), "%s", p->text);
  else
    n = snprintf(line, sizeof(line), "[%zu/%zu] %s", p->done, p->total,
                 verb(p->busy[0].action));
  len = n > 0 ? (size_t)n : 0;
  for(i = 0; !p->text[0] && i < p->nbusy && len < sizeof(line) - 1; i++) {
    n = snprintf(line + len, sizeof(line) - len, "%s %s", i ? "," : "",
                 p->busy[i].address);
    if(n < 0)
      break;
    len += (size_t)n;
  }
  if(len >= sizeof(line))
    len = sizeof(line) - 1;
  if(width > 3 && len > (size_t)width) {
    memcpy(line + width - 3, "...", 4);
    len = (size_t)width;
  }
  line[len] = '\0';
  fprintf(p->out, "%s%s%s", cli_c(p->color, CLI_BOLD), line,
          cli_c(p->color, CLI_RESET));
  fflush(p->out);
  p->drawn = 1;
}

static void busy_add(struct cli_progress *p, const drover_event *ev)
{
  struct inflight *grown;
  char *copy;

  if(p->nbusy == p->capbusy) {
    size_t cap = p->capbusy ? p->capbusy * 2 : 16;
    grown = realloc(p->busy, cap * sizeof(*grown));
    if(!grown)
      return; /* the live line is a nicety; never fail the apply for it */
    p->busy = grown;
    p->capbusy = cap;
  }
  copy = strdup(ev->address ? ev->address : "?");
  if(!copy)
    return;
  p->busy[p->nbusy].address = copy;
  p->busy[p->nbusy].action = ev->action;
  p->nbusy++;
}

static void busy_remove(struct cli_progress *p, const char *address)
{
  size_t i;

  for(i = 0; i < p->nbusy; i++)
    if(!strcmp(p->busy[i].address, address ? address : "?")) {
      free(p->busy[i].address);
      memmove(&p->busy[i], &p->busy[i + 1], (p->nbusy - i - 1) * sizeof(*p->busy));
      p->nbusy--;
      return;
    }
}

void cli_progress_event(void *userdata, const drover_event *ev)
{
  struct cli_progress *p = userdata;
  const char *addr = ev->address ? ev->address : "?";
  const char *msg = ev->message;

  if(!p)
    return;
  pthread_mutex_lock(&ui_lock);
  live_clear_locked();
  /* Some events may carry a stale count (START before any DONE): the
   * counter only goes up. */
  if(ev->done > p->done)
    p->done = ev->done;
  if(ev->total)
    p->total = ev->total;
  switch(ev->kind) {
  case DROVER_EVENT_START:
    if(p->tty)
      busy_add(p, ev);
    break;
  case DROVER_EVENT_DONE:
    busy_remove(p, addr);
    if(!p->quiet)
      fprintf(p->out, "%s: %s... %sdone%s (%.1fs%s%s)\n", addr, verb(ev->action),
              cli_c(p->color, CLI_GREEN), cli_c(p->color, CLI_RESET), ev->elapsed,
              ev->message ? ", " : "", ev->message ? ev->message : "");
    break;
  case DROVER_EVENT_RETRY:
    if(!p->quiet)
      fprintf(p->out, "%s: %s... %sretrying%s%s%s\n", addr, verb(ev->action),
              cli_c(p->color, CLI_YELLOW), cli_c(p->color, CLI_RESET),
              msg ? ": " : "", msg ? msg : "");
    break;
  case DROVER_EVENT_FAILED:
    busy_remove(p, addr);
    /* Failures are shown even with --quiet. */
    fprintf(p->out, "%s: %s... %sfailed%s (%.1fs)%s%s\n", addr, verb(ev->action),
            cli_c(p->color, CLI_RED), cli_c(p->color, CLI_RESET), ev->elapsed,
            msg ? ": " : "", msg ? msg : "");
    break;
  case DROVER_EVENT_SKIPPED:
    busy_remove(p, addr);
    if(!p->quiet)
      fprintf(p->out, "%s: %s skipped%s%s\n", addr, verb(ev->action),
              msg ? ": " : " (a dependency failed)", msg ? msg : "");
    break;
  }
  fflush(p->out);
  live_draw_locked();
  pthread_mutex_unlock(&ui_lock);
}
