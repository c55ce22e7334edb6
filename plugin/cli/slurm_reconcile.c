/* slurm_reconcile.c - drover slurm reconcile: the repair loop.
 *
 * One node RPC to slurmctld, one list per resource type to the cloud
 * (drover_nodeset_refresh with ADOPT, so instances of nodes Slurm does not
 * know are found too), one decision per node (drover_reconcile_decide, a
 * pure function), then the fixes: deletes and rebuilds in parallel
 * through the node set, state changes through libslurm. Run every minute
 * from cron or a self-renewing Slurm job.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <slurm/slurm.h>
#include "cli.h"
#include "slurm_nodes.h"

typedef struct rnode {
  drover_rc_node in;
  unsigned actions;
  const char *why;
  char state[128];
  const char *result;    /* "ok", "failed", "dry-run", "" */
  char detail[DROVER_ERROR_TEXT + 300];
} rnode;

/* Which Slurm nodes reconcile watches: the config's hostlist, else every
 * CLOUD node. *names: drover_strv_free(). */
static int watched(char ***names, const sl_conf *conf, const sl_nodes *facts, char *msg,
                   size_t size)
{
  char **v;
  size_t i, k = 0;

  if(conf->nodes)
    return sl_hostlist_expand(names, conf->nodes, msg, size);
  v = calloc(facts->n + 1, sizeof(*v));
  if(!v) {
    snprintf(msg, size, "out of memory");
    return -1;
  }
  for(i = 0; i < facts->n; i++)
    if(facts->v[i].cloud && !(v[k++] = strdup(facts->v[i].name))) {
      drover_strv_free(v);
      snprintf(msg, size, "out of memory");
      return -1;
    }
  *names = v;
  return 0;
}

static void print_json(rnode *r, size_t n, drover_nodeset *set)
{
  json_t *arr = json_array();
  char *text;
  size_t i;

  for(i = 0; arr && i < n; i++) {
    json_t *acts = json_array();
    if(r[i].actions & DROVER_RC_DELETE)
      json_array_append_new(acts, json_string("delete"));
    if(r[i].actions & DROVER_RC_CREATE)
      json_array_append_new(acts, json_string("create"));
    if(r[i].actions & DROVER_RC_RESET)
      json_array_append_new(acts, json_string("reset"));
    json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:s?, s:I, s:b, s:o, s:s, s:s, s:s}",
      "node", drover_nodeset_node(set, i), "slurm_state", r[i].in.in_slurm ? r[i].state : "",
      "in_slurm", r[i].in.in_slurm, "reason", r[i].in.reason,
      "objects", (json_int_t)r[i].in.objects, "complete", r[i].in.complete,
      "actions", acts, "why", r[i].why, "result", r[i].result, "detail", r[i].detail));
  }
  text = arr ? json_dumps(arr, JSON_INDENT(2)) : NULL;
  if(text)
    printf("%s\n", text);
  free(text);
  json_decref(arr);
}

int sl_cmd_reconcile(int argc, char **argv)
{
  static const struct option longopts[] = {
    {"config", required_argument, NULL, 'c'},
    {"json", no_argument, NULL, 'j'},
    {"dry-run", no_argument, NULL, 'n'},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}
  };
  const char *config = NULL;
  int c, json = 0, dry = 0, ret = CLI_EXIT_ERROR;
  sl_conf conf;
  sl_nodes facts;
  drover_template *tpl = NULL;
  drover_nodeset *set = NULL;
  drover_options opts = DROVER_OPTIONS_INIT;
  drover_nodeset_opts no = DROVER_NODESET_OPTS_INIT;
  drover_rc_policy pol;
  drover_error err;
  char **names = NULL, msg[1024], line[DROVER_ERROR_TEXT + 300];
  unsigned char *del = NULL, *mk = NULL;
  rnode *r = NULL;
  size_t i, n, fixed = 0, failed = 0;

  memset(&conf, 0, sizeof(conf));
  memset(&facts, 0, sizeof(facts));
  optind = 1;
  opterr = 0;
  sl_log_level = DROVER_LOG_WARN;
  while((c = getopt_long(argc, argv, "c:jnvqh", longopts, NULL)) != -1) {
    switch(c) {
    case 'c': config = optarg; break;
    case 'j': json = 1; break;
    case 'n': dry = 1; break;
    case 'v': sl_log_level = DROVER_LOG_DEBUG; break;
    case 'q': sl_log_level = DROVER_LOG_ERROR; break;
    case 'h':
      fputs("Usage: drover slurm reconcile [--config FILE] [--json] [--dry-run] [-v|-q]\n"
            "Compares Slurm's cloud node states with the node stacks' instances and\n"
            "repairs what differs (see drover(1)). Exit 1 when a fix failed.\n", stdout);
      return CLI_EXIT_OK;
    default:
      cli_errorf("slurm reconcile: unknown option \"%s\"", argv[optind - 1]);
      return CLI_EXIT_ERROR;
    }
  }
  if(optind < argc) {
    cli_errorf("slurm reconcile: unexpected argument \"%s\"", argv[optind]);
    return CLI_EXIT_ERROR;
  }
  if(sl_conf_load(&conf, config, msg, sizeof(msg))) {
    cli_errorf("slurm reconcile: %s", msg);
    return CLI_EXIT_ERROR;
  }
  slurm_init(NULL);
  /* Without Slurm's answer nothing is known to be wrong: change nothing. */
  if(sl_nodes_load(&facts, msg, sizeof(msg)) || watched(&names, &conf, &facts, msg, sizeof(msg))) {
    cli_errorf("slurm reconcile: %s", msg);
    goto out;
  }
  opts.log = sl_log;
  opts.log_level = sl_log_level;
  opts.provider_config = conf.provider_config;
  opts.lock_dir = conf.lock_dir;
  drover_error_clear(&err);
  if(drover_template_load_file(&tpl, conf.tpl, &err) ||
     drover_nodeset_new(&set, tpl, &opts, &err)) {
    cli_fail(&err);
    goto out;
  }
  for(i = 0; names[i]; i++) {
    const sl_node *f = sl_nodes_find(&facts, names[i]);
    drover_vars *vars = sl_node_vars(tpl, &conf, f, msg, sizeof(msg));
    drover_error_clear(&err);
    if(!vars || drover_nodeset_add(set, names[i], vars, &err)) {
      cli_errorf("slurm reconcile: %s: %s", names[i],
                 vars ? drover_error_format(&err, line, sizeof(line)) : msg);
      failed++;
    }
    drover_vars_free(vars);
  }
  drover_error_clear(&err);
  if(drover_nodeset_refresh(set, DROVER_NODESET_ADOPT, &err)) {
    cli_fail(&err);
    goto out;
  }
  n = drover_nodeset_count(set);
  r = calloc(n ? n : 1, sizeof(*r));
  del = calloc(n ? n : 1, 1);
  mk = calloc(n ? n : 1, 1);
  if(!r || !del || !mk) {
    cli_errorf("slurm reconcile: out of memory");
    goto out;
  }
  pol.grace = conf.grace;
  pol.retry_after = conf.retry_after;
  for(i = 0; i < n; i++) {
    const char *node = drover_nodeset_node(set, i);
    const sl_node *f = sl_nodes_find(&facts, node);
    drover_stack *st = drover_nodeset_stack(set, i);
    drover_node_live lv;
    drover_error lerr;

    r[i].in.name = node;
    r[i].result = "";
    if(f) {
      r[i].in.in_slurm = 1;
      r[i].in.powered_down = (f->state & NODE_STATE_POWERED_DOWN) != 0;
      r[i].in.powering_up = (f->state & NODE_STATE_POWERING_UP) != 0;
      r[i].in.powering_down = (f->state & (NODE_STATE_POWERING_DOWN |
                                           NODE_STATE_POWER_DOWN)) != 0;
      r[i].in.down = (f->state & NODE_STATE_BASE) == NODE_STATE_DOWN;
      r[i].in.drained = (f->state & NODE_STATE_DRAIN) != 0;
      r[i].in.reason = f->reason;
      r[i].in.reason_age = f->reason_age;
      sl_state_text(f->state, r[i].state, sizeof(r[i].state));
    }
    /* A node whose lock a power-save program holds is its business;
     * the grace period covers one that just let go. */
    drover_error_clear(&lerr);
    if(drover_stack_lock(st, 0, &lerr)) {
      r[i].in.busy = lerr.code == DROVER_E_LOCKED;
      if(!r[i].in.busy) {
        r[i].why = "cannot take its lock";
        r[i].result = "failed";
        drover_error_format(&lerr, r[i].detail, sizeof(r[i].detail));
        failed++;
        continue;
      }
    }
    drover_error_clear(&lerr);
    if(drover_nodeset_live(&lv, set, i, &lerr)) {
      r[i].why = "cannot read its instance";
      r[i].result = "failed";
      drover_error_format(&lerr, r[i].detail, sizeof(r[i].detail));
      failed++;
      continue;
    }
    r[i].in.objects = lv.objects;
    r[i].in.complete = lv.complete;
    r[i].in.age = lv.age;
    drover_reconcile_decide(&r[i].actions, &r[i].why, &r[i].in, &pol);
    if(r[i].actions && dry)
      r[i].result = "dry-run";
    del[i] = !dry && (r[i].actions & DROVER_RC_DELETE);
    mk[i] = !dry && (r[i].actions & DROVER_RC_CREATE);
  }
  /* The set's apply takes each lock itself: hand them back first. */
  for(i = 0; i < n; i++)
    drover_stack_unlock(drover_nodeset_stack(set, i));
  no.parallelism = conf.parallelism;
  no.rate = conf.rate;
  no.apply.max_retries = conf.retries;
  drover_error_clear(&err);
  drover_nodeset_apply(set, del, DROVER_PLAN_DESTROY, &no, &err);
  drover_error_clear(&err);
  drover_nodeset_apply(set, mk, 0, &no, &err);
  for(i = 0; i < n; i++) {
    const char *node = drover_nodeset_node(set, i);
    int bad = 0;
    if(!del[i] && !mk[i] && !(r[i].actions & DROVER_RC_RESET && !dry))
      continue;
    if(del[i] || mk[i]) {
      drover_error e;
      drover_error_clear(&e);
      if(drover_nodeset_result(set, i, NULL, &e)) {
        drover_error_format(&e, r[i].detail, sizeof(r[i].detail));
        bad = 1;
      }
    }
    if(!bad && mk[i]) {
      /* A rebuilt instance may have a new address. */
      drover_stack *st = drover_nodeset_stack(set, i);
      char *text = NULL;
      drover_error e;
      json_t *o;
      drover_error_clear(&e);
      if(!drover_stack_outputs_json(&text, st, 0, &e) && (o = json_loads(text, 0, NULL))) {
        const char *a = json_string_value(json_object_get(json_object_get(o, conf.address_output), "value"));
        const char *h = json_string_value(json_object_get(json_object_get(o, conf.hostname_output), "value"));
        if((a || h) && sl_set_addr(node, a, h, r[i].detail, sizeof(r[i].detail)))
          bad = 1;
        json_decref(o);
      }
      free(text);
    }
    if(!bad && (r[i].actions & DROVER_RC_RESET) &&
       sl_set_resume(node, r[i].detail, sizeof(r[i].detail)))
      bad = 1;
    r[i].result = bad ? "failed" : "ok";
    if(bad)
      failed++;
    else
      fixed++;
  }
  if(json)
    print_json(r, n, set);
  else {
    for(i = 0; i < n; i++) {
      if(!r[i].actions && sl_log_level < DROVER_LOG_DEBUG && !*r[i].result)
        continue;
      printf("%s: %s%s%s%s (%s)%s%s%s\n", drover_nodeset_node(set, i),
             r[i].actions & DROVER_RC_DELETE ? "delete " : "",
             r[i].actions & DROVER_RC_CREATE ? "create " : "",
             r[i].actions & DROVER_RC_RESET ? "reset " : "",
             r[i].actions ? (dry ? "[dry-run]" : r[i].result) : "nothing to do",
             r[i].why, r[i].detail[0] ? ": " : "", r[i].detail, "");
    }
    printf("reconcile: %zu node(s), %zu fixed, %zu failed%s\n", n, fixed, failed,
           dry ? " (dry run)" : "");
  }
  ret = failed ? CLI_EXIT_ERROR : CLI_EXIT_OK;
out:
  free(r);
  free(del);
  free(mk);
  drover_nodeset_free(set);
  drover_template_free(tpl);
  drover_strv_free(names);
  sl_nodes_clear(&facts);
  sl_conf_clear(&conf);
  return ret;
}
