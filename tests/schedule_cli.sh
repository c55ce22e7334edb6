#!/bin/sh
# schedule_cli.sh - drover schedule run against the JSON contracts of the
# commands it runs, with a stand-in drover as the job's exe (no cloud, no
# Slurm): a scale.policy run reads current and desired from `scale run
# --json` (the contract of issue 10: policy, stack, target, current,
# desired, applied, reason, decided_at, cooldown_until, ok, error) into the
# textfile and the log line; a failing step makes the run fail with the
# step's error; a second call in the same slot does nothing.
#
#   tests/schedule_cli.sh [DROVER]   (default ./drover)
set -u
. "$(dirname "$0")/live/jq.sh"
D=${1:-./drover}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
unset SLURM_JOB_ID
fails=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fails=$((fails + 1)); }
t() { d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }

cat >"$tmp/fake" <<'SH'
#!/bin/sh
echo "$*" >>"$(dirname "$0")/argv"
while [ $# -gt 0 ]; do
  [ "$1" = --var-file ] && { stat -c %a "$2" >"$(dirname "$0")/vars.mode"; cp "$2" "$(dirname "$0")/vars.seen"; }
  shift
done
if [ -e "$(dirname "$0")/fail" ]; then
  echo '{"policy":"web_hours","stack":"shop","ok":false,"error":"scale: lxd: instance \"shop-web-3\": quota exceeded"}'
  echo "drover: scale run: 1 error" >&2
  exit 1
fi
echo '{"policy":"web_hours","stack":"shop","target":"web","current":2,"desired":6,"applied":true,"reason":"window mon-fri 08:00-20:00","decided_at":"2026-11-30T09:00:00Z","cooldown_until":"2026-11-30T09:10:00Z","ok":true}'
SH
chmod +x "$tmp/fake"
cat >"$tmp/job.json" <<JSON
{"template": "/etc/drover/shop.json", "policy": "web_hours", "stack": "shop",
 "kind": "scale", "schedule": "*/5 * * * *", "timezone": "UTC", "vars": ["a=b"],
 "var_files": [], "exe": "$tmp/fake", "state_dir": "$tmp/state",
 "metrics_dir": "$tmp/metrics", "name": "drover:shop:web_hours"}
JSON
P=$tmp/metrics/drover_shop_web_hours.prom

"$D" schedule run --job "$tmp/job.json" --now 1764493500 2>"$tmp/err"
t "a scale run succeeds (exit $?)" test $? = 0
t "scale run was called with the policy, --json, the stack and the vars in a file" \
  grep -qx "scale run -t /etc/drover/shop.json web_hours --json --stack shop --var-file $tmp/state/shop_web_hours.vars.json" "$tmp/argv"
t "the vars file held a=b, mode 0600, and is gone after the run" \
  sh -c ". '$(dirname "$0")/live/jq.sh'; jqt '. == {\"a\": \"b\"}' '$tmp/vars.seen' &&
         test \"\$(cat '$tmp/vars.mode')\" = 600 && test ! -e '$tmp/state/shop_web_hours.vars.json'"
t "the textfile has current 2 and desired 6" \
  sh -c "grep -qx 'drover_policy_current_count{stack=\"shop\",policy=\"web_hours\",kind=\"scale\"} 2' '$P' &&
         grep -qx 'drover_policy_desired_count{stack=\"shop\",policy=\"web_hours\",kind=\"scale\"} 6' '$P' &&
         grep -qx 'drover_policy_last_success_timestamp_seconds{stack=\"shop\",policy=\"web_hours\",kind=\"scale\"} 1764493500' '$P'"
t "counts that do not apply to scale are not in the log line" sh -c "! grep -q 'kept=\|drifted=' '$tmp/err'"
t "one log line with the counts" \
  test "$(grep -c '^drover schedule: drover:shop:web_hours kind=scale slot=2025-11-30T09:05:00Z result=ok .*current=2 desired=6' "$tmp/err")" = 1

"$D" schedule run --job "$tmp/job.json" --now 1764493700 2>"$tmp/err"
t "the same slot again does nothing (exit $?)" test $? = 0
t "... and says so" grep -q "slot 2025-11-30T09:05:00Z already run; nothing done" "$tmp/err"
t "... without calling scale run" test "$(wc -l <"$tmp/argv")" = 1

touch "$tmp/fail"
"$D" schedule run --job "$tmp/job.json" --now 1764494100 2>"$tmp/err"
t "a failing scale run fails the run (exit $?)" test $? = 1
t "the log line carries the step's error" \
  grep -q 'result=failed .*error=scale run: scale: lxd: instance "shop-web-3": quota exceeded' "$tmp/err"
t "the textfile says failed and keeps the last success time" \
  sh -c "grep -qx 'drover_policy_last_run_success{stack=\"shop\",policy=\"web_hours\",kind=\"scale\"} 0' '$P' &&
         grep -qx 'drover_policy_last_success_timestamp_seconds{stack=\"shop\",policy=\"web_hours\",kind=\"scale\"} 1764493500' '$P'"
t "no temporary file is left next to the textfile" test "$(ls -A "$tmp/metrics" | wc -l)" = 1
# list on a host without Slurm (cron): no squeue call, the schedule's next
# slot, the last result.
cp "$tmp/job.json" "$tmp/state/shop_web_hours.job.json"
DROVER_SLURM_BINDIR=/nonexistent "$D" schedule list --json --state-dir "$tmp/state" >"$tmp/list" 2>"$tmp/err"
t "schedule list without Slurm succeeds quietly (exit $?)" test $? = 0 -a ! -s "$tmp/err"
t "it shows the policy, its next slot and the last result" \
  jqt '.[0].name == "drover:shop:web_hours" and .[0].last_result == "failed" and .[0].job_id == null
         and (.[0].next_slot | test("^[0-9-]{10}T[0-9]{2}:[0-9][05]:00Z$"))' "$tmp/list"
echo "# schedule_cli: $fails failed"
[ "$fails" -eq 0 ]
