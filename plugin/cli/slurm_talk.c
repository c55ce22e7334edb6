/* slurm_talk.c - everything the power-save programs ask of libslurm:
 * hostlist expansion, node facts and states, node updates. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>
#include "slurm_nodes.h"

int sl_hostlist_expand(char ***names, const char *expr, char *msg, size_t size)
{
  hostlist_t hl;
  char **v = NULL, *h;
  size_t n = 0, cap = 0;
  int rc = 0;

  *names = NULL;
  if(!expr || !*expr)
    return sl_fail(msg, size, "empty node list");
  hl = slurm_hostlist_create(expr);
  if(!hl)
    return sl_fail(msg, size, "bad node list \"%s\"", expr);
  while((h = slurm_hostlist_shift(hl))) {
    if(n + 2 > cap) {
      char **g;
      cap = cap ? cap * 2 : 16;
      g = realloc(v, cap * sizeof(*g));
      if(!g) {
        free(h);
        rc = sl_fail(msg, size, "out of memory");
        break;
      }
      v = g;
    }
    v[n] = strdup(h);
    free(h);
    if(!v[n]) {
      rc = sl_fail(msg, size, "out of memory");
      break;
    }
    v[++n] = NULL;
  }
  slurm_hostlist_destroy(hl);
  if(!rc && !n)
    rc = sl_fail(msg, size, "bad node list \"%s\"", expr);
  if(rc) {
    drover_strv_free(v);
    return rc;
  }
  *names = v;
  return 0;
}

static int node_cmp(const void *a, const void *b)
{
  return strcmp(((const sl_node *)a)->name, ((const sl_node *)b)->name);
}

int sl_nodes_load(sl_nodes *out, char *msg, size_t size)
{
  node_info_msg_t *m = NULL;
  uint32_t i;
  size_t k = 0;
  time_t now = time(NULL);

  memset(out, 0, sizeof(*out));
  if(slurm_load_node((time_t)0, &m, SHOW_ALL) != SLURM_SUCCESS)
    return sl_fail(msg, size, "cannot ask slurmctld about nodes: %s",
                slurm_strerror(slurm_get_errno()));
  out->v = calloc(m->record_count ? m->record_count : 1, sizeof(*out->v));
  if(!out->v) {
    slurm_free_node_info_msg(m);
    return sl_fail(msg, size, "out of memory");
  }
  for(i = 0; i < m->record_count; i++) {
    node_info_t *ni = &m->node_array[i];
    sl_node *d = &out->v[k];
    if(!ni->name)
      continue;
    d->name = strdup(ni->name);
    d->reason = ni->reason && *ni->reason ? strdup(ni->reason) : NULL;
    if(!d->name || (ni->reason && *ni->reason && !d->reason)) {
      k++;
      sl_nodes_clear(out);
      slurm_free_node_info_msg(m);
      return sl_fail(msg, size, "out of memory");
    }
    d->state = ni->node_state;
    d->reason_age = ni->reason_time > 0 ? difftime(now, ni->reason_time) : -1;
    d->port = ni->port;
    d->cpus = ni->cpus;
    d->memory = (unsigned long long)ni->real_memory;
    d->cloud = (ni->node_state & NODE_STATE_CLOUD) != 0;
    k++;
  }
  out->n = k;
  slurm_free_node_info_msg(m);
  qsort(out->v, out->n, sizeof(*out->v), node_cmp);
  return 0;
}

void sl_nodes_clear(sl_nodes *nodes)
{
  size_t i;

  for(i = 0; nodes->v && i < nodes->n; i++) {
    free(nodes->v[i].name);
    free(nodes->v[i].reason);
  }
  free(nodes->v);
  memset(nodes, 0, sizeof(*nodes));
}

const sl_node *sl_nodes_find(const sl_nodes *nodes, const char *name)
{
  sl_node key;

  if(!nodes->n)
    return NULL;
  key.name = (char *)name;
  return bsearch(&key, nodes->v, nodes->n, sizeof(key), node_cmp);
}

/* One node update. slurmctld may be restarting (a resume outlives it):
 * anything but a refusal is tried again, for about 30 s in all. */
static int update(update_node_msg_t *u, char *msg, size_t size)
{
  unsigned delay = 1, tries = 0;
  int e;

  while(slurm_update_node(u) != SLURM_SUCCESS) {
    e = slurm_get_errno();
    if(++tries >= 6 || e == ESLURM_INVALID_NODE_NAME || e == ESLURM_ACCESS_DENIED ||
       e == ESLURM_INVALID_NODE_STATE)
      return sl_fail(msg, size, "node %s: update refused: %s", u->node_names,
                  slurm_strerror(e));
    sleep(delay); /* backoff between attempts, not a wait for an event */
    delay *= 2;
  }
  return 0;
}

int sl_set_addr(const char *node, const char *addr, const char *hostname, char *msg,
                size_t size)
{
  update_node_msg_t u;

  slurm_init_update_node_msg(&u);
  u.node_names = (char *)node;
  u.node_addr = (char *)addr;
  u.node_hostname = (char *)hostname;
  return update(&u, msg, size);
}

int sl_set_down(const char *node, const char *why, char *msg, size_t size)
{
  update_node_msg_t u;
  char reason[512];
  size_t i;

  /* Slurm shows the reason on one line; keep it short and printable. */
  snprintf(reason, sizeof(reason), "drover: %s", why);
  for(i = 0; reason[i]; i++)
    if(reason[i] == '\n' || reason[i] == '\r' || reason[i] == '\t')
      reason[i] = ' ';
  slurm_init_update_node_msg(&u);
  u.node_names = (char *)node;
  u.node_state = NODE_STATE_DOWN;
  u.reason = reason;
  u.reason_uid = getuid();
  if(update(&u, msg, size))
    return -1;
  /* POWER_DOWN_FORCE: aborts the power up (the node is DOWN now), so
   * Slurm suspends it at once instead of at ResumeTimeout, and keeps our
   * reason instead of "ResumeTimeout reached". */
  slurm_init_update_node_msg(&u);
  u.node_names = (char *)node;
  u.node_state = NODE_STATE_POWER_DOWN | NODE_STATE_POWERED_DOWN;
  return update(&u, msg, size);
}

int sl_set_resume(const char *node, char *msg, size_t size)
{
  update_node_msg_t u;

  slurm_init_update_node_msg(&u);
  u.node_names = (char *)node;
  u.node_state = NODE_RESUME;
  return update(&u, msg, size);
}

const char *sl_state_text(uint32_t state, char *buf, size_t size)
{
  static const struct {
    uint32_t flag;
    const char *name;
  } flags[] = {
    {NODE_STATE_DRAIN, "DRAIN"},
    {NODE_STATE_POWERED_DOWN, "POWERED_DOWN"},
    {NODE_STATE_POWERING_UP, "POWERING_UP"},
    {NODE_STATE_POWERING_DOWN, "POWERING_DOWN"},
    {NODE_STATE_POWER_DOWN, "POWER_DOWN"},
    {NODE_STATE_NO_RESPOND, "NOT_RESPONDING"},
    {NODE_STATE_FAIL, "FAIL"},
  };
  size_t i, len;

  static const char *const base[] = {"UNKNOWN", "DOWN", "IDLE", "ALLOCATED", "ERROR",
                                     "MIXED", "FUTURE"};
  uint32_t b = state & NODE_STATE_BASE;

  /* libslurm's own state names are not in its public header. */
  snprintf(buf, size, "%s", b < sizeof(base) / sizeof(base[0]) ? base[b] : "?");
  for(i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
    if(!(state & flags[i].flag))
      continue;
    len = strlen(buf);
    snprintf(buf + len, size > len ? size - len : 0, "+%s", flags[i].name);
  }
  return buf;
}
