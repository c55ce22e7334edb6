/* slurm_nodes.h - the `drover slurm` shell: Slurm's power-save programs
 * (resume, suspend, resume-fail) and the repair loop (reconcile) for
 * elastic cloud nodes. The engine work is libdrover's node sets
 * (drover_nodeset_*, drover_reconcile_decide); these files only talk to
 * Slurm (libslurm) and to the admin's config.
 *
 *   slurm_cmd.c       dispatch, config, the power-save programs
 *   slurm_reconcile.c drover slurm reconcile
 *   slurm_talk.c      libslurm: hostlists, node facts, node updates
 *   slurm_conf.c      the config file and the resume file (no libslurm)
 */
#ifndef DROVER_SLURM_NODES_H
#define DROVER_SLURM_NODES_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "drover.h"

/* Writes the message to msg (size bytes) and returns -1: the error return
 * of the sl_* functions. */
int sl_fail(char *msg, size_t size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The admin's config, /etc/drover/slurm.json by default. */
typedef struct sl_conf {
  char *path;             /* the file read */
  char *tpl;              /* "template": the node template (required) */
  char *provider_config;  /* "provider_config": admin provider settings */
  json_t *vars;           /* "vars": extra params for every node (object) */
  char *log;              /* "log": the programs' log file */
  char *lock_dir;         /* "lock_dir" */
  char *nodes;            /* "nodes": hostlist reconcile watches; NULL: every CLOUD node */
  char *address_output;   /* "address_output" (default "address") */
  char *hostname_output;  /* "hostname_output" (default "hostname") */
  unsigned parallelism;   /* "parallelism" (default 16) */
  double rate;            /* "rate": nodes started per second (default 0: no limit) */
  unsigned retries;       /* "retries" per cloud operation (default 5) */
  double lock_wait;       /* "lock_wait" seconds (default 120) */
  double grace;           /* "grace" seconds (default 300) */
  double retry_after;     /* "retry_after" seconds (default 300) */
} sl_conf;

/* Reads path (NULL: the default). On error returns non-zero with a
 * one-line message in msg. conf owned by the caller: sl_conf_clear(). */
int sl_conf_load(sl_conf *conf, const char *path, char *msg, size_t size);
void sl_conf_clear(sl_conf *conf);

/* The hostlist expression of a SLURM_RESUME_FILE: "all_nodes_resume"
 * (Slurm 23.02 and later) or "all_nodes" (22.05). *hosts is owned by the
 * caller (free()). Non-zero with msg on error. */
int sl_resume_file_hosts(char **hosts, const char *path, char *msg, size_t size);

/* Expands a Slurm hostlist expression with libslurm. *names is a
 * NULL-terminated array owned by the caller: drover_strv_free(). */
int sl_hostlist_expand(char ***names, const char *expr, char *msg, size_t size);

/* What Slurm knows of one node. Strings owned by the struct. */
typedef struct sl_node {
  char *name;
  uint32_t state;        /* node_state, enum node_states + flags */
  char *reason;          /* NULL when none */
  double reason_age;     /* seconds; -1 unknown */
  unsigned port, cpus;
  unsigned long long memory;
  int cloud;
} sl_node;

typedef struct sl_nodes {
  sl_node *v;
  size_t n;
} sl_nodes;

/* Every node slurmctld knows, in one RPC. Non-zero with msg on error. */
int sl_nodes_load(sl_nodes *out, char *msg, size_t size);
void sl_nodes_clear(sl_nodes *nodes);
/* Borrowed; NULL when absent. */
const sl_node *sl_nodes_find(const sl_nodes *nodes, const char *name);

/* Node updates through libslurm. 0 or a message in msg. */
int sl_set_addr(const char *node, const char *addr, const char *hostname, char *msg,
                size_t size);
/* DOWN with reason (one line, "drover: " prefixed here), then powered
 * down so Slurm suspends it instead of waiting for ResumeTimeout. */
int sl_set_down(const char *node, const char *why, char *msg, size_t size);
/* State RESUME: a down~ node becomes idle~, a powered-up one idle. */
int sl_set_resume(const char *node, char *msg, size_t size);

/* A short text of a node state ("IDLE+POWERED_DOWN"), into buf. */
const char *sl_state_text(uint32_t state, char *buf, size_t size);

/* Per-node vars from Slurm's facts for params the template declares
 * (slurmd_port, cpus, real_memory) plus the config's vars. Caller frees
 * with drover_vars_free(); NULL with msg on error. */
drover_vars *sl_node_vars(const drover_template *tpl, const sl_conf *conf,
                          const sl_node *facts, char *msg, size_t size);

/* The log sink of the programs: timestamped lines to the log file (or
 * stderr). */
void sl_log(void *userdata, drover_log_level level, const char *msg);
void sl_logf(drover_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
extern drover_log_level sl_log_level;

/* drover slurm reconcile */
int sl_cmd_reconcile(int argc, char **argv);

#endif /* DROVER_SLURM_NODES_H */
