/* engine_scale.c - bench/engine-scale: the engine's own cost at 1k, 10k
 * and 100k resources, with an in-process fake cloud that costs next to
 * nothing, so every second measured is the engine's.
 *
 * Built by `make`, never run in CI (bench/README.md). For each shape and
 * size a child process loads a generated template, opens the stack
 * (count expansion, graph, evaluation), refreshes against a cloud that
 * already holds every object, plans (no changes), drifts 10% of the
 * objects, refreshes and plans again, applies those updates and renders
 * the outputs. The parent reads the child's peak RSS from wait4(), so
 * each row has its own peak.
 *
 *   bench/engine-scale [--sizes 1000,10000,100000] [--shapes flat,count,chain,fanin]
 *                      [--reps N] [--timeout SECONDS]
 *
 * Each case runs once untimed (a warm-up) and then --reps times (default
 * 3); every figure is the median of the runs (plan and total the median
 * of each run's own sum), so one disturbed run on a shared machine moves
 * it neither way. Peak RSS is the largest of the runs.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "engine.h"

/* Targets from issue 8. */
#define TARGET_N 100000
#define TARGET_PLAN_S 1.0      /* load + open + refresh + plan, no changes */
#define TARGET_RSS_MB 300.0
#define TARGET_EXPONENT 1.15   /* between 10k and 100k */
#define MAX_REPS 15

/* ------------------------------------------------------------------------
 * The fake cloud: one type, objects in an array, a name index (the
 * engine's own dv_index), one mutex. Every op is O(1). Objects are kept
 * as plain fields rather than JSON, so the cloud's share of the peak RSS
 * stays small (about 150 bytes an object) and the figure is the engine's.
 */

typedef struct bobj {
  char *name, *address, *deps, *value;
  char hash[17];
  long long size;
  unsigned long etag;
  int alive;
} bobj;

static struct {
  pthread_mutex_t mu;
  bobj *objs;
  size_t n, cap;
  dv_index byname; /* name -> index into objs */
  unsigned long etag;
} cloud = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, {NULL, 0, 0}, 0};

static const drover_prop bench_props[] = {
  {"name", DROVER_T_STRING, DROVER_PROP_FORCE_NEW, NULL, NULL, "cloud name"},
  {"value", DROVER_T_STRING, 0, NULL, NULL, "any text"},
  {"size", DROVER_T_INTEGER, 0, "1", NULL, "a number"},
  {NULL, 0, 0, NULL, NULL, NULL}};
static const drover_rtype bench_item = {"bench.item", bench_props, 1, "a bench object",
                                        NULL, NULL, NULL, 0};
static const drover_rtype *const bench_types[] = {&bench_item, NULL};

static drover_live *obj_live(const bobj *o, const char *stack)
{
  drover_live *l = drover_live_new();
  char etag[32];

  if(!l)
    return NULL;
  snprintf(etag, sizeof(etag), "e%lu", o->etag);
  l->name = dv_strdup(o->name);
  l->address = dv_strdup(o->address);
  l->hash = dv_strdup(o->hash);
  l->deps = dv_strdup(o->deps);
  l->etag = dv_strdup(etag);
  l->stack = dv_strdup(stack);
  /* Filled member by member: json_pack parses its format on every call,
   * which would make the fake cloud's list cost more than the engine. */
  if(json_object_set_new_nocheck(l->properties, "name", json_string_nocheck(o->name)) ||
     (o->value &&
      json_object_set_new_nocheck(l->properties, "value", json_string_nocheck(o->value))) ||
     json_object_set_new_nocheck(l->properties, "size", json_integer(o->size)) ||
     json_object_set_new_nocheck(l->attributes, "name", json_string_nocheck(o->name)) ||
     json_object_set_new_nocheck(l->attributes, "id", json_string_nocheck(etag))) {
    drover_live_free(l);
    return NULL;
  }
  if(!l->name || !l->properties || !l->attributes) {
    drover_live_free(l);
    return NULL;
  }
  return l;
}

static void obj_set(bobj *o, const drover_res_req *req)
{
  const json_t *v = json_object_get(req->properties, "value");

  free(o->deps);
  free(o->value);
  snprintf(o->hash, sizeof(o->hash), "%s", req->hash);
  o->deps = dv_strdup(req->deps);
  o->value = json_is_string(v) ? dv_strdup(json_string_value(v)) : NULL;
  o->size = json_integer_value(json_object_get(req->properties, "size"));
  o->etag = ++cloud.etag;
  o->alive = 1;
}

static drover_code b_init(void *state, const json_t *config,
                          const drover_provider_env *env, drover_error *err)
{
  (void)state, (void)config, (void)env, (void)err;
  return DROVER_OK;
}

static drover_code b_list(void *state, const drover_rtype *type, const char *stack,
                          drover_live_list *out, drover_error *err)
{
  drover_code rc = DROVER_OK;
  size_t i;

  (void)state, (void)type;
  pthread_mutex_lock(&cloud.mu);
  for(i = 0; i < cloud.n && !rc; i++) {
    drover_live *l;
    if(!cloud.objs[i].alive)
      continue;
    l = obj_live(&cloud.objs[i], stack);
    rc = l ? drover_live_list_push(out, l) : DROVER_E_NOMEM;
  }
  pthread_mutex_unlock(&cloud.mu);
  return rc ? drover_error_set(err, rc, "bench: out of memory") : DROVER_OK;
}

static bobj *find_or_add(const char *name)
{
  size_t ix = dv_index_get(&cloud.byname, name);
  bobj *o;

  if(ix != (size_t)-1)
    return &cloud.objs[ix];
  if(cloud.n == cloud.cap) {
    size_t cap = cloud.cap ? cloud.cap * 2 : 1024;
    bobj *g = realloc(cloud.objs, cap * sizeof(*g));
    if(!g)
      return NULL;
    cloud.objs = g;
    cloud.cap = cap;
  }
  o = &cloud.objs[cloud.n];
  memset(o, 0, sizeof(*o));
  o->name = dv_strdup(name);
  if(!o->name || dv_index_put(&cloud.byname, o->name, cloud.n))
    return NULL;
  cloud.n++;
  return o;
}

static drover_code b_put(const drover_res_req *req, drover_live **out, drover_error *err)
{
  bobj *o;

  pthread_mutex_lock(&cloud.mu);
  o = find_or_add(req->name);
  if(o) {
    free(o->address);
    o->address = dv_strdup(req->address);
    obj_set(o, req);
    *out = obj_live(o, req->stack);
  }
  pthread_mutex_unlock(&cloud.mu);
  if(!o || !*out)
    return drover_error_set(err, DROVER_E_NOMEM, "bench: out of memory");
  return DROVER_OK;
}

static drover_code b_create(void *state, const drover_rtype *type,
                            const drover_res_req *req, drover_live **out,
                            drover_error *err)
{
  (void)state, (void)type;
  return b_put(req, out, err);
}

static drover_code b_update(void *state, const drover_rtype *type,
                            const drover_res_req *req, const drover_live *cur,
                            drover_live **out, drover_error *err)
{
  (void)state, (void)type, (void)cur;
  return b_put(req, out, err);
}

static drover_code b_del(void *state, const drover_rtype *type, const drover_live *cur,
                         double deadline, drover_error *err)
{
  size_t ix;

  (void)state, (void)type, (void)deadline, (void)err;
  pthread_mutex_lock(&cloud.mu);
  ix = dv_index_get(&cloud.byname, cur->name);
  if(ix != (size_t)-1)
    cloud.objs[ix].alive = 0;
  pthread_mutex_unlock(&cloud.mu);
  return DROVER_OK;
}

static const drover_provider bench_provider = {
  .version = DROVER_PROVIDER_VERSION,
  .name = "bench",
  .state_size = 1,
  .types = bench_types,
  .init = b_init,
  .list = b_list,
  .create = b_create,
  .update = b_update,
  .del = b_del,
  .table_size = sizeof(drover_provider),
};

/* Puts every instance of the stack into the cloud as drover would have
 * created it, so the first plan finds nothing to do. */
static int seed_cloud(const drover_stack *st)
{
  size_t i;

  if(dv_index_init(&cloud.byname, st->ninsts))
    return -1;
  for(i = 0; i < st->ninsts; i++) {
    const dv_inst *in = &st->insts[i];
    drover_res_req req;
    drover_live *l = NULL;
    drover_error e;
    memset(&req, 0, sizeof(req));
    drover_error_clear(&e);
    req.stack = st->name;
    req.address = in->address;
    req.name = in->name;
    req.hash = in->hash;
    req.deps = in->deps ? in->deps : "";
    req.properties = in->desired;
    if(b_put(&req, &l, &e))
      return -1;
    drover_live_free(l);
  }
  return 0;
}

/* Out-of-band change of every tenth object: the next plan updates them. */
static size_t drift(void)
{
  size_t i, n = 0;

  for(i = 0; i < cloud.n; i += 10, n++) {
    free(cloud.objs[i].value);
    cloud.objs[i].value = dv_strdup("drifted");
    cloud.objs[i].etag = ++cloud.etag;
  }
  return n;
}

/* ------------------------------------------------------------------------
 * Templates
 */

typedef struct sbuf {
  char *p;
  size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_add(sbuf *b, const char *fmt, ...)
{
  va_list ap;
  int n;

  for(;;) {
    va_start(ap, fmt);
    n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if(n < 0) {
      fprintf(stderr, "engine-scale: format failed\n");
      exit(2);
    }
    if(b->p && b->len + (size_t)n < b->cap) {
      b->len += (size_t)n;
      return;
    }
    b->cap = (b->cap ? b->cap * 2 : 1 << 16) + (size_t)n;
    b->p = realloc(b->p, b->cap);
    if(!b->p) {
      fprintf(stderr, "engine-scale: out of memory\n");
      exit(2);
    }
  }
}

/* flat: n blocks; count: one block with count n; chain: n blocks, each
 * referencing the previous one's name; fanin: one counted block and an
 * output listing every instance's name. */
static char *make_template(const char *shape, size_t n)
{
  sbuf b = {NULL, 0, 0};
  size_t i;

  sb_add(&b, "{\"drover\": 1, \"stack\": \"bench\", \"resources\": {\n");
  if(!strcmp(shape, "flat") || !strcmp(shape, "chain")) {
    for(i = 0; i < n; i++) {
      if(!strcmp(shape, "chain") && i)
        sb_add(&b, "%s\"r%zu\": {\"type\": \"bench.item\", \"properties\": "
               "{\"value\": \"after-${resources.r%zu.name}\"}}\n",
               i ? "," : "", i, i - 1);
      else
        sb_add(&b, "%s\"r%zu\": {\"type\": \"bench.item\", \"properties\": "
               "{\"value\": \"v%zu\", \"size\": %zu}}\n", i ? "," : "", i, i, i % 7);
    }
    sb_add(&b, "}, \"outputs\": {\"last\": {\"value\": \"${resources.r%zu.name}\"}}}\n",
           n - 1);
  }
  else {
    sb_add(&b, "\"r\": {\"type\": \"bench.item\", \"count\": %zu, \"properties\": "
           "{\"value\": \"v-${count.index}\"}}}", n);
    if(!strcmp(shape, "fanin"))
      sb_add(&b, ", \"outputs\": {\"all\": {\"value\": \"${resources.r[*].name}\"}}}\n");
    else
      sb_add(&b, ", \"outputs\": {\"first\": {\"value\": \"${resources.r[0].name}\"}}}\n");
  }
  return b.p;
}

/* ------------------------------------------------------------------------
 * One run (in a child)
 */

enum { P_LOAD, P_OPEN, P_REFRESH, P_PLAN0, P_PLAN10, P_APPLY, P_OUTPUTS, P_N };
static const char *const phase_names[P_N] = {"load", "open", "refresh", "plan0",
                                             "plan10", "apply", "outputs"};

/* Seconds of CPU this process has used: beside the wall-clock figures,
 * what a phase cost on a machine shared with other work. */
static double cpu_now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what, const drover_error *e)
{
  fprintf(stderr, "engine-scale: %s: %s\n", what, e->text);
  exit(3);
}

static void run_case(const char *shape, size_t n, const char *lockdir, int fd)
{
  drover_options o = DROVER_OPTIONS_INIT;
  drover_apply_opts ao = DROVER_APPLY_OPTS_INIT;
  drover_apply_result res;
  drover_template *tpl = NULL;
  drover_stack *st = NULL;
  drover_plan *plan = NULL;
  drover_error e;
  double t[P_N], t0, c0, plan_cpu;
  char *text = make_template(shape, n), *outs = NULL, line[512];
  size_t changes, want, o_len;
  int len, i;

  drover_error_clear(&e);
  if(dv_provider_register(&bench_provider, &e))
    fail("register", &e);
  o.lock_dir = lockdir;

  c0 = cpu_now();
  t0 = drover_now();
  if(drover_template_load_buffer(&tpl, text, strlen(text), "bench.json", &e))
    fail("load", &e);
  t[P_LOAD] = drover_now() - t0;
  free(text);

  t0 = drover_now();
  if(drover_stack_open(&st, tpl, NULL, &o, &e))
    fail("open", &e);
  t[P_OPEN] = drover_now() - t0;
  plan_cpu = cpu_now() - c0;
  if(st->ninsts != n) {
    fprintf(stderr, "engine-scale: %zu instances, expected %zu\n", st->ninsts, n);
    exit(3);
  }
  if(seed_cloud(st)) {
    fprintf(stderr, "engine-scale: cannot seed the cloud\n");
    exit(3);
  }

  c0 = cpu_now();
  t0 = drover_now();
  if(drover_stack_refresh(st, &e))
    fail("refresh", &e);
  t[P_REFRESH] = drover_now() - t0;

  t0 = drover_now();
  if(drover_plan_new(&plan, st, 0, &e))
    fail("plan", &e);
  t[P_PLAN0] = drover_now() - t0;
  plan_cpu += cpu_now() - c0;
  if((changes = drover_plan_changes(plan)) != 0) {
    fprintf(stderr, "engine-scale: the first plan has %zu change(s), expected none\n",
            changes);
    exit(3);
  }
  drover_plan_free(plan);
  plan = NULL;

  want = drift();
  if(drover_stack_refresh(st, &e))
    fail("refresh", &e);
  t0 = drover_now();
  if(drover_plan_new(&plan, st, 0, &e))
    fail("plan", &e);
  t[P_PLAN10] = drover_now() - t0;
  if((changes = drover_plan_changes(plan)) != want) {
    fprintf(stderr, "engine-scale: the drift plan has %zu change(s), expected %zu\n",
            changes, want);
    exit(3);
  }

  ao.parallelism = 8;
  t0 = drover_now();
  if(drover_apply(plan, &ao, &res, &e))
    fail("apply", &e);
  t[P_APPLY] = drover_now() - t0;
  if(res.updated != want) {
    fprintf(stderr, "engine-scale: apply updated %zu, expected %zu\n", res.updated,
            want);
    exit(3);
  }
  drover_plan_free(plan);

  t0 = drover_now();
  if(drover_stack_outputs_json(&outs, st, 0, &e))
    fail("outputs", &e);
  t[P_OUTPUTS] = drover_now() - t0;
  o_len = strlen(outs);
  free(outs);
  (void)o_len;

  len = 0;
  for(i = 0; i < P_N; i++)
    len += snprintf(line + len, sizeof(line) - (size_t)len, "%s%.6f", i ? " " : "", t[i]);
  len += snprintf(line + len, sizeof(line) - (size_t)len, " %.6f\n", plan_cpu);
  if(write(fd, line, (size_t)len) != len)
    exit(4);
  drover_stack_free(st);
  drover_template_free(tpl);
  exit(0);
}

/* An empty cloud: load, open, refresh, plan N creates and apply them all.
 * Writes the seconds of plan + apply (the scheduler's share of a large
 * first apply; the fake's creates cost next to nothing). */
static void run_create(const char *shape, size_t n, const char *lockdir, int fd)
{
  drover_options o = DROVER_OPTIONS_INIT;
  drover_apply_opts ao = DROVER_APPLY_OPTS_INIT;
  drover_apply_result res;
  drover_template *tpl = NULL;
  drover_stack *st = NULL;
  drover_plan *plan = NULL;
  drover_error e;
  char *text = make_template(shape, n), line[64];
  double t0;
  int len;

  drover_error_clear(&e);
  if(dv_provider_register(&bench_provider, &e))
    fail("register", &e);
  o.lock_dir = lockdir;
  if(dv_index_init(&cloud.byname, n))
    exit(3);
  if(drover_template_load_buffer(&tpl, text, strlen(text), "bench.json", &e))
    fail("load", &e);
  free(text);
  if(drover_stack_open(&st, tpl, NULL, &o, &e))
    fail("open", &e);
  if(drover_stack_refresh(st, &e))
    fail("refresh", &e);
  t0 = drover_now();
  if(drover_plan_new(&plan, st, 0, &e))
    fail("plan", &e);
  ao.parallelism = 8;
  if(drover_apply(plan, &ao, &res, &e))
    fail("apply", &e);
  if(res.created != n || cloud.n != n) {
    fprintf(stderr, "engine-scale: created %zu (cloud %zu), expected %zu\n", res.created,
            cloud.n, n);
    exit(3);
  }
  len = snprintf(line, sizeof(line), "%.6f\n", drover_now() - t0);
  if(write(fd, line, (size_t)len) != len)
    exit(4);
  drover_plan_free(plan);
  drover_stack_free(st);
  drover_template_free(tpl);
  exit(0);
}

/* ------------------------------------------------------------------------
 * Driver
 */

typedef struct result {
  int ok;
  double t[P_N];
  double plan_cpu; /* CPU seconds of load+open+refresh+plan0 */
  double plan, total; /* medians over the reps of each run's own sums */
  double rss_mb;
  double create, create_rss_mb; /* run_create's figures; create < 0: failed */
} result;

static pid_t child;

static void on_alarm(int sig)
{
  (void)sig;
  if(child > 0)
    kill(child, SIGKILL);
}

/* Runs run_case (create 0) or run_create (create 1) in a child. */
static result run_child(const char *shape, size_t n, const char *lockdir, unsigned timeout,
                        int create)
{
  result r;
  struct rusage ru;
  int fds[2], status = 0;
  char buf[512];
  ssize_t got;
  size_t have = 0;

  memset(&r, 0, sizeof(r));
  if(pipe(fds))
    return r;
  fflush(NULL);
  child = fork();
  if(child < 0)
    return r;
  if(child == 0) {
    close(fds[0]);
    if(create)
      run_create(shape, n, lockdir, fds[1]);
    run_case(shape, n, lockdir, fds[1]);
  }
  close(fds[1]);
  alarm(timeout);
  while(have + 1 < sizeof(buf) &&
        ((got = read(fds[0], buf + have, sizeof(buf) - 1 - have)) > 0 ||
         (got < 0 && errno == EINTR)))
    if(got > 0)
      have += (size_t)got;
  buf[have] = '\0';
  close(fds[0]);
  while(wait4(child, &status, 0, &ru) < 0 && errno == EINTR)
    ;
  alarm(0);
  child = 0;
  r.rss_mb = (double)ru.ru_maxrss / 1024.0;
  if(create) {
    r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
           sscanf(buf, "%lf", &r.create) == 1;
    r.create_rss_mb = r.rss_mb;
    return r;
  }
  if(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
     sscanf(buf, "%lf %lf %lf %lf %lf %lf %lf %lf", &r.t[0], &r.t[1], &r.t[2], &r.t[3],
            &r.t[4], &r.t[5], &r.t[6], &r.plan_cpu) == P_N + 1)
    r.ok = 1;
  return r;
}

static double total(const result *r)
{
  double s = 0;
  int i;

  for(i = 0; i < P_N; i++)
    s += r->t[i];
  return s;
}

static double plan_cost(const result *r)
{
  return r->t[P_LOAD] + r->t[P_OPEN] + r->t[P_REFRESH] + r->t[P_PLAN0];
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

/* The median of v[0..n), n >= 1; sorts v. */
static double median(double *v, size_t n)
{
  qsort(v, n, sizeof(*v), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static size_t parse_list(const char *s, char items[][16], size_t max)
{
  size_t n = 0;

  while(*s && n < max) {
    size_t l = strcspn(s, ",");
    snprintf(items[n++], 16, "%.*s", (int)(l < 15 ? l : 15), s);
    s += l;
    if(*s == ',')
      s++;
  }
  return n;
}

int main(int argc, char **argv)
{
  char shapes[8][16], sizes_s[8][16], lockdir[] = "/tmp/drover-engine-scale-XXXXXX";
  size_t nshapes, nsizes, sizes[8], s, z;
  unsigned timeout = 300, reps = 3, rep;
  int i, all_met = 1, judged = 0;
  struct sigaction sa;

  nshapes = parse_list("flat,count,chain,fanin", shapes, 8);
  nsizes = parse_list("1000,10000,100000", sizes_s, 8);
  for(i = 1; i < argc; i++) {
    if(!strcmp(argv[i], "--shapes") && i + 1 < argc)
      nshapes = parse_list(argv[++i], shapes, 8);
    else if(!strcmp(argv[i], "--sizes") && i + 1 < argc)
      nsizes = parse_list(argv[++i], sizes_s, 8);
    else if(!strcmp(argv[i], "--timeout") && i + 1 < argc)
      timeout = (unsigned)strtoul(argv[++i], NULL, 10);
    else if(!strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = (unsigned)strtoul(argv[++i], NULL, 10);
      if(reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "engine-scale: --reps must be 1 to %d\n", MAX_REPS);
        return 2;
      }
    }
    else {
      fprintf(stderr, "usage: %s [--shapes flat,count,chain,fanin] "
              "[--sizes 1000,10000,100000] [--reps N] [--timeout SECONDS]\n", argv[0]);
      return 2;
    }
  }
  for(z = 0; z < nsizes; z++)
    sizes[z] = strtoul(sizes_s[z], NULL, 10);
  if(!mkdtemp(lockdir)) {
    perror("engine-scale: mkdtemp");
    return 2;
  }
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);

  printf("engine-scale: seconds per phase (median of %u runs after a warm-up run); plan = "
         "load+open+refresh+plan0 (what `drover plan` costs with no changes)\n", reps);
  printf("create = plan + apply of N creates into an empty cloud (a separate run, "
         "peak RSS crMB); plancpu = CPU seconds of plan (information only: the "
         "machine may be shared)\n");
  printf("%-6s %7s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s\n", "shape", "N",
         phase_names[0], phase_names[1], phase_names[2], phase_names[3],
         phase_names[4], phase_names[5], phase_names[6], "plan", "plancpu", "total",
         "rssMB", "create", "crMB");
  for(s = 0; s < nshapes; s++) {
    result rs[8];
    double lo[8], hi[8]; /* range of plan over the reps */
    for(z = 0; z < nsizes; z++) {
      result runs[MAX_REPS];
      double v[MAX_REPS];
      size_t got = 0, k;
      int p;
      /* A warm-up run, not counted: the first child after a pause pays
       * for cold caches and page tables the later ones do not. */
      (void)run_child(shapes[s], sizes[z], lockdir, timeout, 0);
      memset(&rs[z], 0, sizeof(rs[z]));
      for(rep = 0; rep < reps; rep++) {
        runs[got] = run_child(shapes[s], sizes[z], lockdir, timeout, 0);
        if(!runs[got].ok) {
          rs[z] = runs[got];
          got = 0;
          break;
        }
        got++;
      }
      if(got) {
        rs[z].ok = 1;
        for(p = 0; p < P_N; p++) {
          for(k = 0; k < got; k++)
            v[k] = runs[k].t[p];
          rs[z].t[p] = median(v, got);
        }
        for(k = 0; k < got; k++)
          v[k] = runs[k].plan_cpu;
        rs[z].plan_cpu = median(v, got);
        for(k = 0; k < got; k++)
          v[k] = plan_cost(&runs[k]);
        rs[z].plan = median(v, got);
        lo[z] = v[0], hi[z] = v[got - 1]; /* median() sorted them */
        for(k = 0; k < got; k++)
          v[k] = total(&runs[k]);
        rs[z].total = median(v, got);
        for(k = 0; k < got; k++)
          if(runs[k].rss_mb > rs[z].rss_mb)
            rs[z].rss_mb = runs[k].rss_mb;
      }
      rs[z].create = -1;
      for(rep = 0, got = 0; rs[z].ok && rep < reps; rep++) {
        result c = run_child(shapes[s], sizes[z], lockdir, timeout, 1);
        if(!c.ok) {
          got = 0;
          break;
        }
        v[got++] = c.create;
        if(c.create_rss_mb > rs[z].create_rss_mb)
          rs[z].create_rss_mb = c.create_rss_mb;
      }
      if(got)
        rs[z].create = median(v, got);
      printf("%-6s %7zu", shapes[s], sizes[z]);
      if(!rs[z].ok) {
        printf("  failed or over %us (peak RSS %.1f MB)\n", timeout, rs[z].rss_mb);
        continue;
      }
      for(k = 0; k < P_N; k++)
        printf(" %8.3f", rs[z].t[k]);
      printf(" %8.3f %8.3f %8.3f %8.1f", rs[z].plan, rs[z].plan_cpu, rs[z].total,
             rs[z].rss_mb);
      if(rs[z].create < 0)
        printf("  create failed\n");
      else
        printf(" %8.3f %8.1f\n", rs[z].create, rs[z].create_rss_mb);
      fflush(stdout);
    }
    for(z = 1; z < nsizes; z++) {
      double ratio = (double)sizes[z] / (double)sizes[z - 1];
      if(!rs[z].ok || !rs[z - 1].ok || ratio <= 1)
        continue;
      printf("%-6s growth exponent %zu -> %zu: total %.2f, plan %.2f, plancpu %.2f, rss %.2f",
             shapes[s], sizes[z - 1], sizes[z],
             log(rs[z].total / rs[z - 1].total) / log(ratio),
             log(rs[z].plan / rs[z - 1].plan) / log(ratio),
             log(rs[z].plan_cpu / rs[z - 1].plan_cpu) / log(ratio),
             log(rs[z].rss_mb / rs[z - 1].rss_mb) / log(ratio));
      if(rs[z].create > 0 && rs[z - 1].create > 0)
        printf(", create %.2f", log(rs[z].create / rs[z - 1].create) / log(ratio));
      printf("\n");
    }
    /* Targets at 100k, exponent from the size before it. */
    for(z = 0; z < nsizes; z++) {
      double ex = 0;
      int met_plan, met_rss, met_ex;
      if(sizes[z] != TARGET_N)
        continue;
      judged = 1;
      if(!rs[z].ok) {
        printf("%-6s target at %d: NOT MET (the run failed)\n", shapes[s], TARGET_N);
        all_met = 0;
        continue;
      }
      met_plan = rs[z].plan < TARGET_PLAN_S;
      met_rss = rs[z].rss_mb < TARGET_RSS_MB;
      met_ex = 1;
      if(z > 0 && rs[z - 1].ok && sizes[z - 1] == TARGET_N / 10) {
        ex = log(rs[z].total / rs[z - 1].total) / log(10.0);
        met_ex = ex <= TARGET_EXPONENT;
      }
      printf("%-6s target load+plan(no changes) < %.1f s at %d: %.3f s %s (median; "
             "runs %.3f-%.3f; CPU %.3f s)\n", shapes[s], TARGET_PLAN_S, TARGET_N,
             rs[z].plan, met_plan ? "MET" : "NOT MET", lo[z], hi[z], rs[z].plan_cpu);
      printf("%-6s target peak RSS < %.0f MB at %d: %.1f MB %s\n", shapes[s],
             TARGET_RSS_MB, TARGET_N, rs[z].rss_mb, met_rss ? "MET" : "NOT MET");
      if(z > 0 && sizes[z - 1] == TARGET_N / 10)
        printf("%-6s target growth exponent <= %.2f (10k -> 100k, total): %.2f %s\n",
               shapes[s], TARGET_EXPONENT, ex, met_ex ? "MET" : "NOT MET");
      all_met = all_met && met_plan && met_rss && met_ex;
    }
  }
  if(judged)
    printf("engine-scale: overall %s\n", all_met ? "MET" : "NOT MET");
  else
    printf("engine-scale: targets are judged at N=%d, which was not run\n", TARGET_N);
  {
    char lockfile[sizeof(lockdir) + 16];
    snprintf(lockfile, sizeof(lockfile), "%s/bench.lock", lockdir);
    unlink(lockfile);
  }
  rmdir(lockdir);
  return 0;
}
