/* ec2_terminate.c - many aws.instance deletes at once (del_many).
 *
 * TerminateInstances and DescribeInstances take up to 1000 IDs per call,
 * so deleting N instances costs ceil(N / 1000) terminate calls and as many
 * describe calls per poll while waiting for "terminated", not N of each
 * (EC2 throttles mutating calls per account, and a suspend of a few
 * hundred elastic nodes would otherwise spend the whole bucket).
 *
 * Results stay per instance. A call refused as a whole (EC2 fails all of a
 * TerminateInstances when one ID is unknown or protected) is sent again
 * one ID per call, so each instance gets its own answer; an instance
 * already gone is success, as for del().
 */
#include <stdlib.h>
#include <string.h>
#include "ec2.h"

#define TERMINATE_MAX 1000 /* IDs per call: EC2's limit for both actions */

typedef struct batch {
  ec2_state *st;
  const drover_live *const *curs;
  drover_code *rcs;
  drover_error *errs;
  unsigned char *waiting;  /* 1: terminate accepted, not yet seen terminated */
  char (*last)[32];        /* the state last seen, for the deadline's error */
} batch;

/* Records rc with e's text (or text) as instance i's outcome. */
static void fail_one(batch *b, size_t i, drover_code rc, const drover_error *e,
                     const char *text)
{
  b->rcs[i] = rc;
  b->waiting[i] = 0;
  drover_error_set(&b->errs[i], rc, "%s", e && e->text[0] ? e->text : text);
  drover_error_locate(&b->errs[i], "aws", b->curs[i]->address);
}

/* TerminateInstances for the instances idx[0..n). Each one it accepts
 * is marked waiting; each it refuses gets its error. */
static void terminate(batch *b, const size_t *idx, size_t n)
{
  drover_error e;
  ec2_form f;
  drover_code rc;
  size_t k;

  drover_error_clear(&e);
  ec2_form_init(&f, "TerminateInstances");
  for(k = 0; k < n; k++)
    ec2_form_addf(&f, b->curs[idx[k]]->name, "InstanceId.%zu", k + 1);
  rc = ec2_do(b->st, &f, n == 1 ? b->curs[idx[0]]->address : NULL, NULL, &e);
  if(!rc || (rc == DROVER_E_NOT_FOUND && n == 1)) {
    for(k = 0; k < n; k++)
      b->waiting[idx[k]] = !rc;
    return;
  }
  /* Throttled or unreachable past the retries: the same for every one
   * (the engine retries each through del()). */
  if(n == 1 || rc == DROVER_E_TRANSIENT || rc == DROVER_E_NOMEM) {
    for(k = 0; k < n; k++)
      fail_one(b, idx[k], rc, &e, "TerminateInstances failed");
    return;
  }
  drover_logf(&b->st->env, DROVER_LOG_INFO,
              "aws: TerminateInstances of %zu instances refused (%s); one at a time", n,
              e.text);
  for(k = 0; k < n; k++)
    terminate(b, &idx[k], 1);
}

/* One DescribeInstances of the waiting instances idx[0..n): those
 * terminated or no longer listed are done. An error is the describe's
 * own (err says why); one unknown ID alone is done. */
static drover_code look(batch *b, const size_t *idx, size_t n, drover_error *err)
{
  drover_live_list list = {NULL, 0, 0};
  const char **seen = NULL;
  ec2_form f;
  drover_code rc;
  size_t k;

  ec2_form_init(&f, "DescribeInstances");
  for(k = 0; k < n; k++)
    ec2_form_addf(&f, b->curs[idx[k]]->name, "InstanceId.%zu", k + 1);
  rc = ec2_describe_instances(b->st, &f, 0, n == 1 ? b->curs[idx[0]]->address : NULL, 1,
                              &list, err);
  if(rc == DROVER_E_NOT_FOUND && n == 1) {
    b->waiting[idx[0]] = 0;   /* gone: what a delete wants */
    rc = DROVER_OK;
    goto out;
  }
  if(rc)
    goto out;
  /* The answer's states, sorted by ID: one lookup per waiting instance. */
  seen = ec2_state_index(&list);
  if(!seen) {
    rc = ec2_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  for(k = 0; k < n; k++) {
    const char *state = ec2_state_find(seen, &list, b->curs[idx[k]]->name);
    if(!state || !strcmp(state, "terminated"))
      b->waiting[idx[k]] = 0;
    else
      snprintf(b->last[idx[k]], sizeof(b->last[0]), "%s", state);
  }
out:
  free(seen);
  drover_live_list_clear(&list);
  return rc;
}

/* Describes the waiting instances, TERMINATE_MAX per call, until none is
 * left or deadline; what is left then times out. */
static void wait_gone(batch *b, size_t n, size_t *idx, double deadline)
{
  for(;;) {
    size_t i, m = 0, from;
    for(i = 0; i < n; i++)
      if(b->waiting[i])
        idx[m++] = i;
    if(!m)
      return;
    for(from = 0; from < m; from += TERMINATE_MAX) {
      size_t len = m - from < TERMINATE_MAX ? m - from : TERMINATE_MAX, k;
      drover_error e;
      drover_error_clear(&e);
      if(!look(b, idx + from, len, &e))
        continue;
      if(e.code == DROVER_E_NOT_FOUND) {
        /* One unknown ID fails the whole describe (just created, or long
         * gone): ask about each on its own this round. */
        for(k = 0; k < len; k++) {
          drover_error_clear(&e);
          if(look(b, idx + from + k, 1, &e))
            fail_one(b, idx[from + k], e.code, &e, "DescribeInstances failed");
        }
        continue;
      }
      for(k = 0; k < len; k++)
        fail_one(b, idx[from + k], e.code, &e, "DescribeInstances failed");
    }
    if(ec2_pause(b->st, deadline)) {
      for(i = 0; i < n; i++)
        if(b->waiting[i]) {
          char text[200];
          snprintf(text, sizeof(text), "aws: %s: instance %s still %s at the deadline "
                   "(waiting for terminated)", b->curs[i]->address ? b->curs[i]->address : "",
                   b->curs[i]->name, b->last[i]);
          fail_one(b, i, DROVER_E_TIMEOUT, NULL, text);
        }
      return;
    }
  }
}

drover_code ec2_terminate_many(ec2_state *st, const drover_live *const *curs, size_t n,
                               double deadline, drover_code *rcs, drover_error *errs)
{
  batch b;
  size_t *idx = calloc(n ? n : 1, sizeof(*idx));
  size_t i, from;
  drover_code rc = DROVER_OK;

  memset(&b, 0, sizeof(b));
  b.st = st;
  b.curs = curs;
  b.rcs = rcs;
  b.errs = errs;
  b.waiting = calloc(n ? n : 1, 1);
  b.last = calloc(n ? n : 1, sizeof(*b.last));
  for(i = 0; i < n; i++) {
    const char *address = curs[i] ? curs[i]->address : NULL;
    rcs[i] = DROVER_OK;
    if(!idx || !b.waiting || !b.last)
      rcs[i] = ec2_fail(&errs[i], DROVER_E_NOMEM, address, "out of memory");
    else if(!curs[i] || !curs[i]->name)
      rcs[i] = ec2_fail(&errs[i], DROVER_E_ARG, address, "delete needs the object's ID");
    else
      snprintf(b.last[i], sizeof(b.last[0]), "unknown");
  }
  if(!idx || !b.waiting || !b.last)
    goto out;
  deadline = ec2_deadline(deadline, 600);
  for(i = 0, from = 0; i < n; i++)
    if(!rcs[i])
      idx[from++] = i;
  for(i = 0; i < from; i += TERMINATE_MAX)
    terminate(&b, idx + i, from - i < TERMINATE_MAX ? from - i : TERMINATE_MAX);
  wait_gone(&b, n, idx, deadline);
out:
  for(i = 0; i < n && !rc; i++)
    rc = rcs[i];
  free(idx);
  free(b.waiting);
  free(b.last);
  return rc;
}
