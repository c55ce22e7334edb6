#!/bin/sh
# scalequeue.sh - a scale.policy's queue rule on the real Slurm: jobs
# held in the debug partition (pending, never started) drive the count
# drover scale run asks for and applies, read through libslurm; cancelling
# them brings the count back down. The web tier is busybox containers on
# the real LXD, from 0 (the template count) to what the queue asks.
. "$(dirname "$0")/lib.sh"
need_slurm; need_lxd
[ -x "$DROVER_BIN" ] || skip "no $DROVER_BIN"

STACK=sq-scale-$$
JOB=drover-scalequeue-$$
TMPD=$(mktemp -d /tmp/drover-scalequeue.XXXXXX)
T=$TMPD/scale.json
cleanup() {
  scancel --name "$JOB" >/dev/null 2>&1
  "$DROVER_BIN" destroy --yes --stack "$STACK" --provider-config "$CONF" "$T" >/dev/null 2>&1
  rm -rf "$TMPD"
}
trap cleanup EXIT
cat >"$T" <<'TPL'
{
  "stack": "scalequeue",
  "resources": {
    "worker": {"type": "lxd.instance", "count": 0, "properties": {"image": "busybox"}},
    "backlog": {"type": "scale.policy", "properties": {
      "target": "worker", "default": 0, "min": 0, "max": 4,
      "queue": {"partition": "debug", "jobs_per_instance": 2}}}
  }
}
TPL
d() { "$DROVER_BIN" "$@" --stack "$STACK" --provider-config "$CONF"; }
pending() { squeue -h -p debug -t PD -o %i | wc -l; }
workers() { stack_instances "$STACK" | wc -l; }
# run_scale: drover scale run --json into $TMPD/r.json, with the pending
# count read just before and after; fails when they differ (someone else
# submitted meanwhile) or the report's pending is not that count.
run_scale() {
  before=$(pending)
  d scale run --json "$T" backlog "$@" >"$TMPD/r.json" 2>"$TMPD/r.err" ||
    { cat "$TMPD/r.err"; return 1; }
  after=$(pending)
  [ "$before" = "$after" ] || { note "pending changed during the run ($before -> $after)"; return 1; }
  got=$(jq -r '.queue.pending' "$TMPD/r.json")
  [ "$got" = "$before" ] || { note "report says $got pending, squeue $before"; return 1; }
  P=$before
}
# want: ceil(P/2) within [0, 4]
want() { w=$(( (P + 1) / 2 )); [ $w -gt 4 ] && w=4; echo $w; }

d apply --yes "$T" >"$TMPD/apply.out" 2>&1 || { cat "$TMPD/apply.out"; fail "apply"; }
check "no workers at the template count" test "$(workers)" = 0

check "scale run with the queue as it is" run_scale --dry-run
note "pending in debug before: $P"
base=$P

i=0
while [ $i -lt 5 ]; do
  sbatch --hold -p debug -J "$JOB" -o /dev/null --wrap true >/dev/null || fail "sbatch --hold"
  i=$((i + 1))
done
check "five held jobs are pending" test "$(pending)" -ge $((base + 5))
check "scale run with the held jobs" run_scale
check "the queue rule decided ($P pending)" \
  jqt --argjson w "$(want)" '.rule == "queue" and .desired == $w and .queue.count == ((.queue.pending + 1) / 2 | floor)
    and .applied == true and .ok == true' "$TMPD/r.json"
check "$(want) workers in LXD" test "$(workers)" = "$(want)"
d plan "$T" >"$TMPD/plan.out" 2>&1 || fail "plan"
check "plan shows the queue's ask" grep -q "scale.policy backlog asks worker count $(want) (rule queue" "$TMPD/plan.out"

scancel --name "$JOB" || fail scancel
i=0; while [ "$(squeue -h --name "$JOB" | wc -l)" -gt 0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "the held jobs are gone" test "$(squeue -h --name "$JOB" | wc -l)" = 0
check "scale run after scancel" run_scale
check "back to the schedule's count ($P pending)" \
  jqt --argjson w "$(want)" '.desired == $w and .ok == true' "$TMPD/r.json"
check "$(want) workers in LXD after scancel" test "$(workers)" = "$(want)"
pass "held jobs in debug drove the worker count up and back down"
