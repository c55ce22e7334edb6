/* reconcile.c - the repair loop's decisions for elastic nodes, as a pure
 * function of Slurm's view, the cloud's view and the policy, so they can
 * be tested with tables (tests/check_nodes.c). The shell that asks Slurm
 * and acts on the answer is plugin/cli/slurm_reconcile.c.
 */
#include <string.h>
#include "drover.h"

/* Reasons we may clear: our own, and Slurm's for a resume that never
 * finished. An administrator's DOWN is left alone. */
static int resettable(const char *reason)
{
  return reason && (!strncmp(reason, "drover:", 7) ||
                    !strncmp(reason, "ResumeTimeout reached", 21));
}

static int old_enough(double age, double limit)
{
  return age < 0 || age >= limit; /* unknown age: act */
}

void drover_reconcile_decide(unsigned *actions, const char **why,
                             const drover_rc_node *n, const drover_rc_policy *p)
{
  int ours = n->reason && !strncmp(n->reason, "drover:", 7);

  *actions = 0;
  *why = "consistent";
  if(n->busy) {
    *why = "a power-save program is working on it";
    return;
  }
  if(!n->in_slurm) {
    if(!n->objects)
      return;
    if(old_enough(n->age, p->grace)) {
      *actions = DROVER_RC_DELETE;
      *why = "orphan: Slurm has no such node";
    }
    else
      *why = "orphan within its grace period";
    return;
  }
  if((n->powered_down && !n->powering_up) || n->powering_down) {
    if(n->objects) {
      if(old_enough(n->age, p->grace)) {
        *actions |= DROVER_RC_DELETE;
        *why = "instance of a powered-down node";
      }
      else
        *why = "instance of a powered-down node within its grace period";
    }
    if(n->powered_down && n->down && resettable(n->reason) &&
       old_enough(n->reason_age, p->retry_after)) {
      *actions |= DROVER_RC_RESET;
      *why = *actions & DROVER_RC_DELETE ? "stuck down~ with an instance"
                                         : "stuck down~: back to idle~";
    }
    return;
  }
  if(n->powering_up) {
    /* A resume whose program died (or whose slurmctld restarted) left
     * the node waiting; finish it, unless drover already gave up. */
    if(n->down && ours)
      *why = "resume failed; Slurm will power it down";
    else if(!n->objects || !n->complete) {
      *actions = DROVER_RC_CREATE;
      *why = "powering up without a complete instance";
    }
    return;
  }
  /* Powered up. */
  if(n->down && ours) {
    if(n->complete && old_enough(n->reason_age, p->retry_after)) {
      *actions = DROVER_RC_RESET;
      *why = "drover's DOWN cause is gone";
    }
    else if(!n->complete && old_enough(n->reason_age, p->retry_after)) {
      *actions = DROVER_RC_CREATE | DROVER_RC_RESET;
      *why = "drover set it DOWN; trying again";
    }
    else
      *why = "drover set it DOWN; waiting before trying again";
    return;
  }
  if(n->down && !(n->reason && !strncmp(n->reason, "Not responding", 14))) {
    *why = "DOWN by someone else; left alone";
    return;
  }
  if(!n->objects || !n->complete) {
    *actions = DROVER_RC_CREATE;
    *why = n->objects ? "instance of a powered-up node is broken"
                      : "instance of a powered-up node is gone";
  }
}
