#!/bin/sh
# Backups on the real LXD with a real SQLite database (the host's sqlite3
# through a read-only /usr disk): run with hooks, one snapshot per slot,
# restore in place (refused while running), a DR drill (verify) passing
# and failing, prune by the retention with
# manual snapshots untouched, kill -9 mid-run then run again, and the
# policy's removal deleting its snapshots as the plan says.
STACK=lt-backup-$$
. "$(dirname "$0")/lib.sh"
preflight

T=$TPL/backup.json
T2=$TPL/backup-nopolicy.json
S="--stack $STACK"
# A fake clock: slots of @hourly in Europe/Berlin at these UTC times.
T1=2026-03-28T10:20:00Z   # slot 10:00Z
T1B=2026-03-28T10:59:59Z  # same slot
T2H=2026-03-28T11:05:00Z  # slot 11:00Z
T3=2026-03-29T09:30:00Z   # next day (Berlin), slot 09:00Z

inx() { lxc exec "$DB" -- "$@"; }
sq() { inx /opt/sq /data/app.db "$1"; }
# policy_snaps: names of the instance's snapshots made by the policy.
policy_snaps() {
  api GET "/1.0/instances/$DB/snapshots?recursion=1" |
    jq -r '.metadata[] | .name | split("/") | last' | grep '^drover-' | sort
}
all_snaps() {
  api GET "/1.0/instances/$DB/snapshots?recursion=1" |
    jq -r '.metadata[] | .name | split("/") | last' | sort
}
# wait_file PATH SECONDS: until PATH exists inside the instance.
wait_file() {
  _end=$(( $(date +%s) + $2 ))
  while [ "$(date +%s)" -lt "$_end" ]; do
    inx test -e "$1" && return 0
    sleep 0.1
  done
  return 1
}

run apply $S "$T" --yes
expect_rc "apply the instance and its backup policy" 0
DB=$("$DROVER" show $S "$T" --json | jq -r '.[] | select(.address=="db") | .name')
check "the policy is recorded as a labelled LXD profile" \
  test "$(labelled_profiles | awk '{print $1}')" = hourly
run plan $S "$T" --detailed-exitcode
expect_rc "plan right after apply: no changes" 0

inx /bin/sh -c 'mkdir -p /data /opt && printf "%s\n" "#!/bin/sh" "exec /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path /usr/lib/x86_64-linux-gnu /usr/bin/sqlite3 \"\$@\"" >/opt/sq && chmod +x /opt/sq'
sq "PRAGMA journal_mode=WAL; CREATE TABLE t(v TEXT); INSERT INTO t VALUES('a'),('b');" >/dev/null
check "sqlite3 from the host /usr works in the instance" test "$(sq 'SELECT count(*) FROM t')" = 2

run backup run $S "$T" hourly --now $T1 --json
expect_rc "backup run" 0
SNAP1=$(jq -r .snapshot "$TMP/out")
check "run reports the snapshot created" jqt '.targets[0].result == "created"' "$TMP/out"
check "the snapshot is named drover-<key>-<slot>" \
  sh -c "echo '$SNAP1' | grep -Eq '^drover-[0-9a-f]{8}-20260328T1000Z$'"
check "LXD has exactly that snapshot" test "$(policy_snaps)" = "$SNAP1"
KEY=$(echo "$SNAP1" | cut -d- -f2)
check "the snapshot carries the policy label (stack, policy)" \
  sh -c "api() { curl -sS --unix-socket '$SOCK' \"http://lxd\$1\"; }; api /1.0/instances/$DB/snapshots/$SNAP1 |
    jq --arg k 'user.drover.backup.$KEY' --arg s '$STACK' \
    '.metadata.config[\$k] | fromjson | .stack == \$s and .policy == \"hourly\"' | grep -qx true"
check "the pre hook ran in the instance" inx test -e /data/pre-ran
check "the post hook ran in the instance" inx test -e /data/post-ran

run backup run $S "$T" hourly --now $T1B --json
expect_rc "backup run again in the same slot" 0
check "the second run keeps the slot's snapshot (exists)" jqt '.targets[0].result == "exists"' "$TMP/out"
check "still one snapshot for the slot" test "$(policy_snaps | wc -l)" -eq 1

# Restore in place.
sq "DELETE FROM t; INSERT INTO t VALUES('changed');" >/dev/null
run restore $S "$T" db --snapshot "$SNAP1"
expect_rc "restore refuses a running instance" 1
check "the refusal says why" grep -q "is running" "$TMP/err"
check "the refused restore changed nothing" test "$(sq 'SELECT group_concat(v) FROM t')" = changed
api_wait PUT "/1.0/instances/$DB/state" '{"action":"stop","force":true}'
run restore $S "$T" db --snapshot "$SNAP1"
expect_rc "restore the stopped instance" 0
api_wait PUT "/1.0/instances/$DB/state" '{"action":"start"}'
check "the rows are back" test "$(sq 'SELECT group_concat(v) FROM t ORDER BY rowid')" = "a,b"

# The DR drill: the newest snapshot, copied and started, has the 2 rows.
run backup verify $S "$T" hourly --json
expect_rc "backup verify passes on a good snapshot" 0
check "verify checked the newest snapshot" jqt --arg s "$SNAP1" \
  '.targets[0].snapshot == $s and .targets[0].result == "passed" and .targets[0].check.status == 0' "$TMP/out"
check "verify left no scratch instance" test -z "$(named_instances "drover-verify-$KEY")"

# kill -9 while the pre hook holds the run, then run again.
inx touch /data/hold
inx rm -f /data/pre-started
"$DROVER" backup run $S "$T" hourly --now $T2H >"$TMP/bg.out" 2>"$TMP/bg.err" </dev/null &
pid=$!
check "the run reached its pre hook" wait_file /data/pre-started 60
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
check "the run was killed by SIGKILL" test "$?" -eq 137
inx rm -f /data/hold
run backup run $S "$T" hourly --now $T2H --json
expect_rc "run again after the kill" 0
check "two slots, two snapshots, no duplicate" test "$(policy_snaps | wc -l)" -eq 2
# kill -9 at a moment the test does not choose, then run the same slot
# again: whatever was left, exactly one snapshot for it.
i=0
for delay in 0.05 0.15 0.3; do
  i=$((i + 1))
  now="2026-03-29T0${i}:30:00Z"
  "$DROVER" backup run $S "$T" hourly --now "$now" >/dev/null 2>&1 </dev/null &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  run backup run $S "$T" hourly --now "$now" --json
  expect_rc "run slot $now again after kill -9 at ${delay}s" 0
  check "slot $now has exactly one snapshot" \
    test "$(policy_snaps | grep -c "T0${i}00Z$")" -eq 1
done
sq "INSERT INTO t VALUES('c');" >/dev/null
run backup run $S "$T" hourly --now $T3 --json
expect_rc "backup run the next day" 0
run backup verify $S "$T" hourly --json
expect_rc "backup verify fails when its check fails (3 rows)" 1
check "the report says the check failed" jqt '.targets[0].result == "failed" and .targets[0].check.status != 0' "$TMP/out"
check "the failed drill left no scratch instance" test -z "$(named_instances "drover-verify-$KEY")"

# A manual snapshot is never the policy's business.
api_wait POST "/1.0/instances/$DB/snapshots" '{"name":"manual1"}'
check "6 policy snapshots and the manual one" test "$(all_snaps | wc -l)" -eq 7

# Retention keep_last 2, keep_daily 2 in Berlin at T3: keeps 09:00Z and
# 03:00Z (last), and the newest of 29 March (09:00Z) and of 28 March
# (11:00Z) (daily); both counts are used up, so not the oldest.
run backup prune $S "$T" hourly --now $T3 --dry-run --json
expect_rc "prune --dry-run" 0
check "dry run: 3 kept, 3 would be deleted" \
  jqt '([.snapshots[] | select(.action=="keep")] | length) == 3 and
       ([.snapshots[] | select(.action=="would delete")] | length) == 3' "$TMP/out"
check "dry run: the rule that keeps each" \
  jqt '[.snapshots[] | select(.action=="keep") | "\(.slot) \(.kept_by)"] | sort ==
       ["2026-03-28T11:00:00Z daily", "2026-03-29T03:00:00Z last",
        "2026-03-29T09:00:00Z last,daily"]' "$TMP/out"
check "dry run deleted nothing" test "$(all_snaps | wc -l)" -eq 7
run backup prune $S "$T" hourly --now $T3
expect_rc "prune" 0
check "prune left the 3 kept and the manual snapshot" \
  test "$(all_snaps | tr '\n' ' ')" = "$(printf '%s\n' manual1 $(policy_snaps) | sort | tr '\n' ' ')"
check "3 policy snapshots after prune" test "$(policy_snaps | wc -l)" -eq 3
check "the manual snapshot survived" sh -c "echo '$(all_snaps)' | grep -qx manual1"
run backup list $S "$T" hourly --json
check "list shows the 3" jqt '.snapshots | length == 3' "$TMP/out"

# Removing the policy (on_delete: delete): the plan says so, apply does it.
run plan $S "$T2"
expect_rc "plan without the policy" 0
check "the plan says its snapshots are deleted" grep -q "snapshots are deleted" "$TMP/out"
run apply $S "$T2" --yes
expect_rc "apply without the policy" 0
check "the policy's snapshots are gone" test "$(policy_snaps | wc -l)" -eq 0
check "the manual snapshot is still there" test "$(all_snaps)" = manual1
check "the policy's profile is gone" test -z "$(labelled_profiles)"

finish
