#!/bin/sh
# schedule.sh - drover schedule on the real Slurm: a backup policy with an
# every-minute schedule installed as a batch job runs backups as Slurm
# jobs, each resubmitting the next slot first; the first slot's run
# prunes the right snapshot (keep_last 1: a snapshot taken by hand for an
# earlier slot goes, its own stays); installing twice leaves one pending
# job; the next slot's job, killed mid-run (its pre hook blocks), leaves
# the slot after it scheduled; the pending job survives a slurmctld
# restart; list shows next run and last result; remove cancels the jobs.
# About 2-3 minutes: two minute slots (the snapshot taken by hand stands in
# for a third, earlier one).
. "$(dirname "$0")/lib.sh"
need_slurm; need_lxd
[ -x "$DROVER_BIN" ] || skip "no $DROVER_BIN"

STACK=sl-sched
W=$(mktemp -d /tmp/drover-sched.XXXXXX)
SD=$W/state
NAME=drover:$STACK:nightly
export DROVER_EXE=$DROVER_BIN NO_COLOR=1
D() { "$DROVER_BIN" "$@"; }
cleanup() {
  scancel --name="$NAME" 2>/dev/null
  D destroy --yes --stack "$STACK" "$W/backup.json" >/dev/null 2>&1
  rm -rf "$W"
}
trap cleanup EXIT
scancel --name="$NAME" 2>/dev/null
cat >"$W/backup.json" <<'JSON'
{
  "drover": 1,
  "stack": "sl-sched",
  "providers": {"lxd": {"project": "default"}},
  "resources": {
    "db": {"type": "lxd.instance", "properties": {"image": "busybox", "state": "running"}},
    "nightly": {
      "type": "backup.policy",
      "properties": {
        "targets": ["db"],
        "schedule": "* * * * *",
        "retention": {"keep_last": 1},
        "hooks": {"pre": "i=0; while [ -e /tmp/block ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done"}
      }
    }
  }
}
JSON
D destroy --yes --stack "$STACK" "$W/backup.json" >/dev/null 2>&1
out=$(D apply --yes "$W/backup.json" 2>&1) || fail "apply: $out"
db=$(D show --json "$W/backup.json" | jq -r '.[] | select(.address == "db") | .name')
[ -n "$db" ] || fail "no instance for db"

# A snapshot of a slot two minutes back, as an earlier run would have left
# it: the first scheduled run's prune (keep_last 1) must delete it.
early=$(( $(date +%s) - 120 ))
out=$(D backup run --now "$early" "$W/backup.json" nightly 2>&1) || fail "backup run by hand: $out"
D backup list --json "$W/backup.json" nightly >"$W/list0" || fail "backup list"
check "the snapshot taken by hand is the policy's only one" jqt '.snapshots | length == 1' "$W/list0"

pending() { squeue -h --name="$NAME" --states=PENDING -o %i | wc -l; }
out=$(D schedule install "$W/backup.json" nightly --state-dir "$SD" --metrics-dir "$W/metrics" 2>&1) ||
  fail "install: $out"
note "$out"
out=$(D schedule install "$W/backup.json" nightly --state-dir "$SD" --metrics-dir "$W/metrics" 2>&1) ||
  fail "install again: $out"
check "installing twice says it is already scheduled" sh -c "echo '$out' | grep -q '^Already scheduled $NAME: job'"
check "installing twice leaves one pending job" test "$(pending)" = 1
check "the job file holds no secret-readable mode (0600)" \
  test "$(stat -c %a "$SD/${STACK}_nightly.job.json")" = 600

# slurmctld restarted: the pending job survives (StateSaveLocation).
before=$(squeue -h --name="$NAME" --states=PENDING -o %i)
pid=$(cat /run/slurmctld.pid 2>/dev/null)
[ -n "$pid" ] && kill "$pid" || fail "no slurmctld pid to restart"
i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
"$TOP/scripts/daemon-exec" slurmctld || fail "slurmctld did not start again"
i=0; while ! scontrol ping 2>/dev/null | grep -q UP && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
check "slurmctld is back" sh -c 'scontrol ping | grep -q UP'
check "after a slurmctld restart the same job ($before) is pending" \
  test "$(squeue -h --name="$NAME" --states=PENDING -o %i)" = "$before"

# runs: how many runs of the policy have logged their result line.
runs() { cat "$SD"/logs/*.out 2>/dev/null | grep -c "^drover schedule: $NAME kind=backup .*result=ok"; }
wait_runs() { # n seconds
  i=0; while [ "$(runs)" -lt "$1" ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
  [ "$(runs)" -ge "$1" ]
}
# A job whose begin time passes starts at slurmctld's next scheduling
# pass (the main loop runs every sched_interval, 60 s by default): up to a
# minute to the slot, then up to a minute more.
check "the first slot's backup ran as a Slurm job within 150s" wait_runs 1 150
note "runs logged: $(runs); logs: $(ls "$SD/logs" | tr '\n' ' ')"
check "a job is pending for the next slot after the run" test "$(pending)" = 1

D backup list --json "$W/backup.json" nightly >"$W/list" || fail "backup list"
last=$(jq -r .last_slot "$SD/${STACK}_nightly.state.json")
want=$(date -u -d "@$last" +%Y-%m-%dT%H:%M:%SZ)
check "prune kept exactly one snapshot (keep_last 1), the newest slot's ($want)" \
  jqt --arg w "$want" '(.snapshots | length) == 1 and .snapshots[0].slot == $w' "$W/list"
check "the newest slot is not the one taken by hand" \
  test "$last" -gt "$early"
M="$W/metrics/drover_${STACK}_nightly.prom"
check "metrics: kept 1, deleted 1 by the last run, success" \
  sh -c "grep -qx 'drover_policy_snapshots_kept{stack=\"$STACK\",policy=\"nightly\",kind=\"backup\"} 1' $M &&
         grep -qx 'drover_policy_snapshots_deleted{stack=\"$STACK\",policy=\"nightly\",kind=\"backup\"} 1' $M &&
         grep -qx 'drover_policy_last_run_success{stack=\"$STACK\",policy=\"nightly\",kind=\"backup\"} 1' $M"

# Kill a run mid-way: its pre hook blocks until /tmp/block goes away.
lxc exec "$db" -- touch /tmp/block || fail "cannot block the hook"
running=""
i=0
while [ $i -lt 1500 ]; do  # the next minute's job starts and resubmits first
  running=$(squeue -h --name="$NAME" --states=RUNNING -o %i)
  [ -n "$running" ] && [ "$(pending)" = 1 ] && break
  sleep 0.1; i=$((i + 1))
done
[ -n "$running" ] || fail "no run of $NAME started within 150s"
check "while job $running runs, the next slot is already pending" test "$(pending)" = 1
check "job $running is mid-run (its slot claimed, result not written)" \
  jqt '.last_result == "running"' "$SD/${STACK}_nightly.state.json"
check "each run was its own job (two job logs at least)" test "$(ls "$SD/logs" | wc -l)" -ge 2
scancel "$running"
wait_job_gone "$running" 60 || fail "job $running did not end after scancel"
lxc exec "$db" -- rm -f /tmp/block
check "after killing job $running one job is still pending" test "$(pending)" = 1
nextjob=$(squeue -h --name="$NAME" --states=PENDING -o %i)
check "the pending job begins in the future" \
  test "$(date -d "$(squeue -h -j "$nextjob" -o %S)" +%s)" -gt "$(date +%s)"

D schedule list --json --state-dir "$SD" >"$W/slist" || fail "schedule list"
check "schedule list shows the next run and the job id" \
  jqt --arg n "$NAME" --arg j "$nextjob" '.[] | select(.name == $n) | .job_id == $j
       and (.next_run | length) > 0 and .last_result == "running"' "$W/slist"
out=$(D schedule remove --state-dir "$SD" "$STACK:nightly" 2>&1) || fail "remove: $out"
i=0; while [ -n "$(squeue -h --name="$NAME" -o %i)" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
check "remove leaves no job of the policy" test -z "$(squeue -h --name="$NAME" -o %i)"
check "remove deleted the job file" test ! -e "$SD/${STACK}_nightly.job.json"
pass "scheduled backups ran in two slots, prune kept the newest, a killed run left the next slot, one pending job"
