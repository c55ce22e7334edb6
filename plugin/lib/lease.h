/*
 * lease.h - the stack lease held in the providers (doc/locks.md): shared
 * by lease.c (acquire, release, force-unlock), lease_renew.c (the renewal
 * thread) and lease_record.c (the record: building, reading, judging).
 * Internal; lock.c and apply.c use it only through engine.h.
 */
#ifndef DROVER_LEASE_H
#define DROVER_LEASE_H

#include <pthread.h>
#include <stdatomic.h>
#include "engine.h"

/* Keys of the record (string values; the provider stores them as given). */
#define DV_LEASE_ID "id"
#define DV_LEASE_HOST "host"
#define DV_LEASE_PID "pid"
#define DV_LEASE_JOB "job"
#define DV_LEASE_ACQUIRED "acquired" /* Unix seconds, 3 decimals, holder's clock */
#define DV_LEASE_EXPIRES "expires"   /* the same, renewed */
#define DV_LEASE_SECONDS "lease"     /* lease length the holder uses */

/* Lock ids: 32 hex digits from the kernel's random source. */
#define DV_LEASE_ID_LEN 32

typedef struct dv_lease_conf {
  double lease;   /* seconds */
  double renew;   /* seconds between renewals, < lease */
  double skew;    /* seconds the hosts' clocks may differ, >= 0 */
} dv_lease_conf;

/* The lease in one provider. */
typedef struct dv_lease_slot {
  const drover_provider *vt;
  void *pstate;       /* the stack's provider state (borrowed) */
  char *etag;         /* version of our record there (owned) */
} dv_lease_slot;

/* The leases one stack holds, and the thread that renews them. */
struct dv_leases {
  const drover_stack *stack;   /* for logging */
  dv_lease_conf conf;
  dv_wall_fn wall;             /* the stack's wall clock */
  void *wall_arg;
  char id[DV_LEASE_ID_LEN + 1];
  json_t *record;              /* what we last wrote (owned) */
  dv_lease_slot *slots;
  size_t n;
  size_t held;                 /* slots[0..held) are ours (renewed) */
  pthread_mutex_t mu;          /* guards record, etags, stop, confirmed */
  pthread_cond_t cv;           /* on CLOCK_MONOTONIC */
  int sync_ok;
  int stop;
  int thread_started;
  pthread_t thread;
  double confirmed;            /* monotonic time until which every held
                                  slot's lease surely runs: the lease length
                                  after the clocks were read for the last
                                  write that went through. Others take over
                                  only at expiry + skew on their clocks, which
                                  are at most skew ahead of ours. */
  atomic_uint renewals;        /* writes that renewed every slot */
  atomic_int lost;             /* a renewal found the lease gone or taken */
  char lost_why[DROVER_ERROR_TEXT];
};

/* ---- lease_record.c ---- */

/* Lease length, renewal interval and skew from opts, else the
 * environment (DROVER_LOCK_LEASE, _RENEW, _SKEW), else the defaults.
 * *enabled is 0 when opts or the environment turn the lease off. */
drover_code dv_lease_conf_get(dv_lease_conf *conf, int *enabled,
                              const drover_options *opts, drover_error *err);
/* A new random lock id into out. */
drover_code dv_lease_new_id(char out[DV_LEASE_ID_LEN + 1], drover_error *err);
/* The record of lock id held from acquired (wall seconds) until now +
 * conf->lease. New reference; NULL on OOM. */
json_t *dv_lease_record_new(const char *id, double acquired, double now,
                            const dv_lease_conf *conf);
/* Sets the record's expiry to now + lease. -1 on OOM. */
int dv_lease_record_extend(json_t *record, double now, const dv_lease_conf *conf);
/* Sets the record's acquired time to now. -1 on OOM. */
int dv_lease_record_stamp(json_t *record, double now);

typedef enum {
  DV_LEASE_HELD = 0,      /* someone's lease still runs (or might: skew) */
  DV_LEASE_EXPIRED = 1,   /* ran out more than skew seconds ago */
  DV_LEASE_UNREADABLE = 2 /* no expiry drover can read: never taken over */
} dv_lease_state;

/* Judges record at wall time now. *left (may be NULL): seconds until it
 * may be taken over (<= 0 when it may). Pure. */
dv_lease_state dv_lease_judge(const json_t *record, double now, double skew,
                              double *left);
/* "lock <id> of host H, pid P, job J, since <UTC>, lease until <UTC>"
 * into buf. Pure. */
void dv_lease_describe(const json_t *record, char *buf, size_t size);
/* The record's string member key, or "" (borrowed). */
const char *dv_lease_get(const json_t *record, const char *key);

/* ---- lease_renew.c ---- */

/* Starts the renewal thread of l (every l->conf.renew seconds). */
drover_code dv_lease_renew_start(dv_leases *l, drover_error *err);
/* Stops and joins it. Safe when it never started. */
void dv_lease_renew_stop(dv_leases *l);
/* Renews every slot once (the thread's step; also used by release when
 * the lease is nearly out). 0 when every slot was renewed. */
int dv_lease_renew_once(dv_leases *l);

#endif /* DROVER_LEASE_H */
