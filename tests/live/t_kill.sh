#!/bin/sh
# kill -9 of drover in the middle of an 8-instance apply, then apply
# again: exactly the template's instances, no duplicates, none missing, all
# labelled. Then SIGTERM mid-apply: exit 130, in-flight actions finish,
# the next apply completes.
STACK=lt-kill
. "$(dirname "$0")/lib.sh"
preflight

T=$TPL/many.json
N=8

# wait_for_instances N SECONDS: until at least N instances carry the
# stack's name prefix (labelled or not).
wait_for_instances() {
  _end=$(( $(date +%s) + $2 ))
  while [ "$(date +%s)" -lt "$_end" ]; do
    [ "$(named_instances | wc -l)" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

"$DROVER" apply -t "$T" --stack "$STACK" --yes --parallelism 2 \
  >"$TMP/bg.out" 2>"$TMP/bg.err" </dev/null &
pid=$!
check "the first apply started creating instances" wait_for_instances 2 60
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rc=$?
check "the first apply was killed by SIGKILL (exit $rc)" test "$rc" -eq 137
before=$(named_instances | wc -l)
diag "instances present after the kill: $before of $N"
check "it was killed mid-apply (fewer than $N instances)" test "$before" -lt "$N"

run plan -t "$T" --stack "$STACK" --detailed-exitcode
expect_rc "plan after the kill sees the missing work" 2

run apply -t "$T" --stack "$STACK" --yes
expect_rc "apply again after the kill" 0
labelled_instances | awk '{print $1}' >"$TMP/got"
seq_addresses node "$N" >"$TMP/want"
check "LXD: exactly node[0..7] labelled (none missing, no duplicate address)" \
  cmp -s "$TMP/got" "$TMP/want"
check "LXD: exactly $N instances with the stack's prefix (no unlabelled leftover)" \
  test "$(named_instances | wc -l)" -eq "$N"
check "LXD: every instance carries stack, address and hash labels" \
  test "$(api GET "/1.0/instances?recursion=1" | jq --arg s "$STACK" '[.metadata[]
    | select(.name | startswith($s + "-"))
    | select(.config["user.drover.stack"] == $s and (.config["user.drover.address"] // "") != ""
             and (.config["user.drover.hash"] // "") != "")] | length')" -eq "$N"
check "LXD: all $N are running" \
  test "$(for n in $(named_instances); do instance_status "$n"; done | sort -u)" = Running
run plan -t "$T" --stack "$STACK" --detailed-exitcode
expect_rc "plan after recovery has no changes" 0

# ---- SIGTERM: stop starting new actions, exit 130 ----------------------
run destroy -t "$T" --stack "$STACK" --yes
expect_rc "destroy before the signal test" 0
"$DROVER" apply -t "$T" --stack "$STACK" --yes --parallelism 1 \
  >"$TMP/bg.out" 2>"$TMP/bg.err" </dev/null &
pid=$!
check "the apply started creating instances" wait_for_instances 1 60
kill -TERM "$pid"
wait "$pid"
rc=$?
check "SIGTERM mid-apply exits 130 (got $rc)" test "$rc" -eq 130
check "it reports the interruption" grep -q '^Apply interrupted' "$TMP/bg.out"
# drover has exited: whatever it started must be complete now (no wait).
after=$(named_instances | wc -l)
created=$(sed -n 's/^Apply interrupted: \([0-9]*\) created, .*/\1/p' "$TMP/bg.out")
notatt=$(sed -n 's/.* \([0-9]*\) not attempted\.$/\1/p' "$TMP/bg.out")
check "it stopped early ($after of $N instances)" test "$after" -lt "$N"
check "in-flight actions finished: none failed" grep -Eq ' 0 failed, [0-9]+ not attempted\.$' "$TMP/bg.out"
check "in-flight actions finished: $after present = ${created:-?} reported created" \
  test "${created:-x}" = "$after"
check "created + not attempted = $N (nothing lost)" test "$(( ${created:-0} + ${notatt:-0} ))" -eq "$N"
check "every instance present is complete: labelled and running" \
  test "$(labelled_instances | wc -l) $(for n in $(named_instances); do instance_status "$n"; done | sort -u | tr '\n' ' ')" = "$after Running "
run apply -t "$T" --stack "$STACK" --yes
expect_rc "apply after the interruption" 0
labelled_instances | awk '{print $1}' >"$TMP/got"
check "LXD: exactly node[0..7] after the interrupted apply was finished" \
  cmp -s "$TMP/got" "$TMP/want"

finish
