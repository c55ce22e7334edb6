#!/bin/sh
# Two applies of one stack never interleave: while the stack's lock is
# held, apply and plan with --lock-timeout 0 (or a short wait) fail with
# exit 3; two applies started together run one after the other, so one
# creates everything and the other finds nothing to do.
# The lock is held by flock(1) on the stack's lock file, not by a running
# apply, so no step depends on how long an apply takes.
STACK=lt-lock
. "$(dirname "$0")/lib.sh"
preflight

T=$TPL/many.json
A="-t $T --stack $STACK --var replicas=6"
LOCK=$DROVER_LOCK_DIR/$STACK.lock

# wait_file FILE SECONDS: until FILE exists.
wait_file() {
  _end=$(( $(date +%s) + $2 ))
  while [ "$(date +%s)" -lt "$_end" ]; do
    [ -e "$1" ] && return 0
    sleep 0.05
  done
  return 1
}

flock "$LOCK" sh -c 'echo held >"$1"; while [ ! -e "$2" ]; do sleep 0.05; done' \
  sh "$TMP/held" "$TMP/release" &
holder=$!
check "a holder took the stack's lock file" wait_file "$TMP/held" 60

run apply $A --yes --lock-timeout 0
expect_rc "apply with --lock-timeout 0 while the lock is held fails with the lock code" 3
check "its message says the stack is locked" grep -Eiq 'lock' "$TMP/err"
run plan $A --lock-timeout 0
expect_rc "plan with --lock-timeout 0 while the lock is held fails with the lock code" 3
run apply $A --yes --lock-timeout 0.5
expect_rc "apply with a short wait gives up with the lock code" 3
check "nothing was created while the lock was held" test -z "$(named_instances)"

# Both wait for the lock; once it is free they must run one at a time.
"$DROVER" apply $A --yes --lock-timeout 120 >"$TMP/a.out" 2>"$TMP/a.err" </dev/null &
pa=$!
"$DROVER" apply $A --yes --lock-timeout 120 >"$TMP/c.out" 2>"$TMP/c.err" </dev/null &
pc=$!
touch "$TMP/release"
wait "$holder"
wait "$pa"; ra=$?
wait "$pc"; rc=$?
check "apply A succeeded (exit $ra)" test "$ra" -eq 0
check "apply C succeeded (exit $rc)" test "$rc" -eq 0
got=$(cat "$TMP/a.out" "$TMP/c.out" | grep '^Apply complete' | sort | tr '\n' '|')
check "one created all 6, the other ran after it and found nothing to do" test "$got" = \
  "Apply complete: 0 created, 0 updated, 0 replaced, 0 deleted.|Apply complete: 6 created, 0 updated, 0 replaced, 0 deleted.|"
labelled_instances | awk '{print $1}' >"$TMP/got"
seq_addresses node 6 >"$TMP/want"
check "LXD: exactly node[0..5]" cmp -s "$TMP/got" "$TMP/want"
check "LXD: no duplicates by name" test "$(named_instances | wc -l)" -eq 6

finish
