#!/usr/bin/env bash
# tests/slurm-cloud/run.sh - elastic Slurm cloud nodes end to end: real
# slurmd nodes in LXD containers, built and deleted by drover's power-save
# programs, repaired by `drover slurm reconcile`.
#
#  1. a batch job needing 2 cloud nodes: the nodes resume and register,
#     the job runs on them and succeeds; after SuspendTime the nodes power
#     down and their instances are gone (timings printed);
#  2. a node whose instance cannot be made (missing image) is DOWN with a
#     "drover: " reason and has no instance; once the image is back,
#     reconcile returns it to service and its job runs;
#  3. an instance deleted behind Slurm's back is rebuilt by reconcile;
#  4. orphan instances (a powered-down node's, a node Slurm does not know)
#     are deleted by reconcile, and `drover gc` leaves node stacks alone;
#  5. slurmctld restarted mid-resume: the job still runs.
# Needs root, LXD (scripts/lxd-setup.sh), Slurm and munge
# (scripts/slurm-setup.sh) and a built drover. Restores the standard Slurm
# config on exit. Run under flock /tmp/drover-live.lock on shared machines.
. "$(dirname "$0")/lib.sh"

trap 'cloud_restore' EXIT
trap 'exit 1' TERM INT
t_all=$(date +%s)
cloud_setup
ok "cloud partition up: $(sinfo -h -p cloud -o '%D nodes %T')"

job_field() { scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
job_done() { [ "$(job_field "$1" JobState)" = COMPLETED ]; }
job_over() { case $(job_field "$1" JobState) in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|BOOT_FAIL|"") return 0 ;; esac; return 1; }
# log_time PATTERN: the time (epoch seconds) of the last power-log line matching PATTERN
log_time() {
  local t
  t=$(grep -E "$1" "$PLOG" | tail -n 1 | cut -d' ' -f1)
  [ -n "$t" ] && date -d "$t" +%s.%N
}
reconcile() { "$DROVER" slurm reconcile --config "$CONF" "$@"; }

# --- 1. a job on two cloud nodes ---------------------------------------------
# The job stamps its start into its own Comment (scontrol works inside the
# node: /usr and /etc/slurm are the host's).
t_submit=$(now)
jid=$(sbatch --parsable -p cloud -N 2 --chdir=/tmp -o /dev/null \
  --wrap 'scontrol update jobid=$SLURM_JOB_ID comment=start:$(/usr/bin/date +%s.%N); hostname') ||
  die "sbatch failed"
wait_for 150 "job $jid completed" job_over "$jid"
job_done "$jid" || die "job $jid ended $(job_field "$jid" JobState) (exit $(job_field "$jid" ExitCode))"
[ "$(job_field "$jid" ExitCode)" = 0:0 ] || die "job $jid exit code $(job_field "$jid" ExitCode)"
nodes=$(job_field "$jid" NodeList)
case $nodes in drvc\[*\]|drvc*,drvc*) ;; *) die "job $jid ran on '$nodes', not two cloud nodes" ;; esac
ok "job $jid ran on $nodes and completed (exit 0:0)"
t_start=$(job_field "$jid" Comment | sed -n 's/^start://p')
[ -n "$t_start" ] || die "job $jid left no start stamp"
t_prog=$(log_time ' info: resume: 2 node\(s\), template')
t_create=$(log_time 'apply: instance: create')
t_ready=$(log_time 'resume drvc[0-9]: instance ready')
t_done=$(log_time 'resume: 2 node\(s\): 2 done')
[ -n "$t_prog" ] && [ -n "$t_create" ] && [ -n "$t_ready" ] && [ -n "$t_done" ] ||
  die "the power log lacks the resume's lines"
awk -v s="$t_submit" -v prog="$t_prog" -v create="$t_create" -v ready="$t_ready" \
    -v done="$t_done" -v start="$t_start" 'BEGIN {
  printf "  timing: submit -> job start %.2fs\n", start - s
  printf "  timing:   slurmctld until the resume program ran   %.2fs\n", prog - s
  printf "  timing:   drover (refresh, plan, Slurm updates)     %.2fs\n", (create - prog) + (done - ready)
  printf "  timing:   container create+start (LXD)              %.2fs\n", ready - create
  printf "  timing:   slurmd registration and job launch        %.2fs\n", start - done
}'
# Power down after SuspendTime: both nodes idle~ again, instances gone.
wait_for 120 "nodes powered down (idle~)" sh -c "[ \$(sinfo -h -N -p cloud -o %T | grep -c 'idle~') -eq 4 ]"
wait_for 60 "instances deleted" sh -c "! lxc list -c n --format csv | grep -q '^drvc'"
ok "after SuspendTime the nodes are idle~ and their instances are gone"
grep -q ' info: suspend: 2 node(s): 2 done' "$PLOG" || die "no suspend of 2 nodes in the log"
grep -q ' info: resume: nodes drvc\[1-2\] from SLURM_RESUME_FILE' "$PLOG" ||
  die "the resume did not take its nodes from SLURM_RESUME_FILE"
ok "the resume read its nodes from SLURM_RESUME_FILE"

# --- 2. missing image ---------------------------------------------------------
write_conf '{"image": "drover-no-such-image"}'
jid=$(sbatch --parsable -p cloud -w drvc3 --chdir=/tmp -o /dev/null --wrap true) || die "sbatch failed"
wait_for 60 "drvc3 DOWN with a drover reason, powered down" sh -c "sinfo -h -N -n drvc3 -o '%T %E' | grep -q '^down~ drover: '"
instance_gone drvc3 || die "drvc3 has an instance after a failed create"
ok "missing image: drvc3 is $(node_state drvc3) with reason '$(node_reason drvc3 | cut -c1-80)', no instance"
write_conf
out=$(reconcile) || die "reconcile failed: $out"
echo "$out" | grep -q '^drvc3: reset ok' || die "reconcile did not reset drvc3: $out"
ok "image back: reconcile returned drvc3 to service ($(echo "$out" | grep '^drvc3' | cut -c1-70))"
# Slurm requeued the job that wanted drvc3 and holds it back for a while
# (requeue delay); a new job shows the node is usable again.
scancel "$jid"
jid=$(sbatch --parsable -p cloud -w drvc3 --chdir=/tmp -o /dev/null --wrap true) || die "sbatch failed"
wait_for 120 "job $jid (on drvc3) completed" job_over "$jid"
job_done "$jid" || die "job $jid on drvc3 ended $(job_field "$jid" JobState)"
ok "a job on drvc3 ran once the cause was gone"

# --- 3. instance deleted behind Slurm's back -----------------------------------
scontrol update nodename=drvc4 state=power_up || die "power_up drvc4 refused"
wait_for 60 "drvc4 up" sh -c "sinfo -h -N -n drvc4 -o %T | grep -qx idle"
wait_for 30 "drvc4's resume finished" grep -q 'resume drvc4: instance ready' "$PLOG"
lxc delete -f drvc4 >/dev/null || die "cannot delete drvc4's instance"
out=$(reconcile --json) || die "reconcile failed: $out"
echo "$out" | jqt '.[] | select(.node == "drvc4") | .actions == ["create"] and .result == "ok"' || die "reconcile --json did not rebuild drvc4: $out"
instance_exists drvc4 || die "drvc4's instance was not rebuilt"
wait_for 60 "drvc4 responding again" sh -c "sinfo -h -N -n drvc4 -o %T | grep -qx idle"
ok "drvc4's instance deleted behind Slurm's back: reconcile rebuilt it, node idle"
scontrol update nodename=drvc4 state=power_down || die "power_down drvc4 refused"

# --- 4. orphans -----------------------------------------------------------------
# drvc2 is powered down; an instance labelled as its stack is an orphan, as
# is one of a node Slurm does not know. (busybox image: no slurmd in them.)
"$DROVER" apply --auto-approve "$TOP/templates/slurm-cloud-nodes.json" --stack node-drvc2 \
  --var node=drvc2 --var slurmd_port=17002 --var image=busybox >/dev/null ||
  die "cannot make drvc2's orphan"
"$DROVER" apply --auto-approve "$TOP/templates/slurm-cloud-nodes.json" --stack node-drvzz \
  --var node=drvzz --var slurmd_port=17099 --var image=busybox >/dev/null ||
  die "cannot make drvzz's orphan"
"$DROVER" gc >/dev/null 2>&1 || true
instance_exists drvc2 && instance_exists drvzz || die "drover gc touched node stacks"
ok "drover gc left the node stacks alone"
# Within the grace period (30 s here) a young instance is left alone.
out=$(reconcile) || die "reconcile failed: $out"
instance_exists drvc2 && instance_exists drvzz || die "reconcile deleted instances within their grace period"
GRACE=0 write_conf
out=$(reconcile --dry-run) || die "reconcile --dry-run failed: $out"
echo "$out" | grep -q '^drvc2: delete' && echo "$out" | grep -q '^drvzz: delete' ||
  die "dry run did not plan both deletes: $out"
instance_exists drvc2 && instance_exists drvzz || die "--dry-run deleted something"
out=$(reconcile) || die "reconcile failed: $out"
instance_gone drvc2 && instance_gone drvzz || die "orphans survived reconcile: $out"
ok "reconcile left young orphans alone, then (grace 0) deleted both; the dry run changed nothing"
write_conf
wait_for 60 "drvc4 powered down" sh -c "sinfo -h -N -n drvc4 -o %T | grep -qx 'idle~'"
wait_for 30 "drvc4's instance deleted" instance_gone drvc4

# --- 5. slurmctld restarted mid-resume --------------------------------------------
: >"$PLOG"
jid=$(sbatch --parsable -p cloud -N 2 --chdir=/tmp -o /dev/null --wrap true) || die "sbatch failed"
wait_for 60 "the resume program started" grep -q ' info: resume: 2 node(s), template' "$PLOG"
# A restart as an init system does it: the old process gone before the new
# one starts (a new slurmctld kills an old one still shutting down).
ctld=$(cat /run/slurmctld.pid) || die "no slurmctld pid"
kill "$ctld" || die "cannot stop slurmctld"
wait_for 30 "slurmctld exited" sh -c "! kill -0 $ctld 2>/dev/null"
"$TOP/scripts/daemon-exec" slurmctld || die "slurmctld did not restart"
ok "slurmctld restarted while the resume ran"
# Usually both nodes register with the new slurmctld within a second. Once in ten
# runs on a loaded machine here (and once in CI), the new slurmctld never counts
# one node's registration (its slurmd is up and answers the next ping) and,
# as it does not ask a powering-up node again, waits until ResumeTimeout.
# Slurm's own recovery then marks the node down and requeues the job. The
# job must still run, so the deadline covers that path too (README: "A
# slurmctld restart during a resume").
wait_for $(( ${RESUME_TIMEOUT:-90} + 300 )) "job $jid completed after the restart" job_over "$jid"
job_done "$jid" || die "job $jid ended $(job_field "$jid" JobState) after the restart"
restarts=$(job_field "$jid" Restarts)
if [ "${restarts:-0}" -gt 0 ]; then
  ok "job $jid ran after slurmctld restarted mid-resume (after Slurm requeued it $restarts time(s))"
else
  ok "job $jid ran after slurmctld restarted mid-resume"
fi

echo "PASS: slurm-cloud ($(( $(date +%s) - t_all ))s)"
