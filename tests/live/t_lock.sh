#!/bin/sh
# Two applies of one stack never interleave: with --lock-timeout 0 the
# second fails with exit 3; with a wait it runs after the first, sees its
# work and creates nothing.
STACK=lt-lock
. "$(dirname "$0")/lib.sh"
preflight

T=$TPL/many.json
A="-t $T --stack $STACK --var replicas=6"

wait_for_instances() {
  _end=$(( $(date +%s) + $2 ))
  while [ "$(date +%s)" -lt "$_end" ]; do
    [ "$(named_instances | wc -l)" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

"$DROVER" apply $A --yes --parallelism 1 >"$TMP/a.out" 2>"$TMP/a.err" </dev/null &
pa=$!
check "apply A started creating instances" wait_for_instances 1 60

run apply $A --yes --lock-timeout 0
expect_rc "apply B with --lock-timeout 0 while A runs fails with the lock code" 3
check "B's message says the stack is locked" grep -Eiq 'lock' "$TMP/err"
run plan $A --lock-timeout 0
expect_rc "plan with --lock-timeout 0 while A runs fails with the lock code" 3
run apply $A --yes --lock-timeout 0.5
expect_rc "apply with a short wait gives up with the lock code" 3

"$DROVER" apply $A --yes --lock-timeout 120 >"$TMP/c.out" 2>"$TMP/c.err" </dev/null &
pc=$!
wait "$pa"; ra=$?
wait "$pc"; rc=$?
check "apply A succeeded (exit $ra)" test "$ra" -eq 0
check "A created all 6" grep -q '^Apply complete: 6 created,' "$TMP/a.out"
check "apply C waited for the lock and succeeded (exit $rc)" test "$rc" -eq 0
check "C ran after A: it found nothing to create" \
  grep -q '^Apply complete: 0 created, 0 updated, 0 replaced, 0 deleted\.$' "$TMP/c.out"
labelled_instances | awk '{print $1}' >"$TMP/got"
seq_addresses node 6 >"$TMP/want"
check "LXD: exactly node[0..5]" cmp -s "$TMP/got" "$TMP/want"
check "LXD: no duplicates by name" test "$(named_instances | wc -l)" -eq 6

finish
