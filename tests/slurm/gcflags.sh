#!/bin/sh
# gcflags.sh - drover gc's --lock-dir, --lock-timeout and -q.
#  - with a stack's lock held in --lock-dir, gc skips it (exit 1, says
#    so) and still destroys the others;
#  - -q prints nothing on stdout, errors still on stderr;
#  - --lock-timeout makes gc wait for the lock: the holder lets go only
#    once gc has opened the lock file, and gc then destroys the stack.
# The stacks are made by hand under job names slurmctld does not know.
. "$(dirname "$0")/lib.sh"
need_slurm; need_lxd
[ -x "$DROVER_BIN" ] || skip "no $DROVER_BIN"

D=$(mktemp -d /tmp/drover-gcflags.XXXXXX)
S1=job-999997-one; S2=job-999996-one
holder=""
cleanup() {
  touch "$D/release"
  [ -n "$holder" ] && wait "$holder" 2>/dev/null
  for s in $S1 $S2; do "$DROVER_BIN" destroy -y --stack "$s" --provider-config "$CONF" >/dev/null 2>&1; done
  rm -rf "$D"
}
trap cleanup EXIT
gc() { "$DROVER_BIN" gc --provider-config "$CONF" "$@" >"$D/out" 2>"$D/err"; }
mk() {
  DROVER_LOCK_DIR=$D "$DROVER_BIN" apply -y --stack "$1" --provider-config "$CONF" "$TPL/one.json" \
    >/dev/null 2>&1 || fail "could not make $1"
}
# wait_open FILE PID-TO-IGNORE SECONDS: until another process has FILE open.
wait_open() {
  i=0
  while [ $i -lt $(( $3 * 20 )) ]; do
    for fd in /proc/[0-9]*/fd/*; do
      [ "$(readlink "$fd" 2>/dev/null)" = "$1" ] || continue
      p=${fd#/proc/}; p=${p%%/*}
      [ "$p" != "$2" ] && return 0
    done
    sleep 0.05; i=$((i + 1))
  done
  return 1
}

mk $S1; mk $S2
[ -n "$(stack_instances $S1)" ] && [ -n "$(stack_instances $S2)" ] || fail "the two stacks are not in LXD"

# -o: the lock belongs to flock(1) alone, not to its child.
flock -o "$D/$S1.lock" sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done' sh "$D/release" &
holder=$!
i=0; while flock -n "$D/$S1.lock" true && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
flock -n "$D/$S1.lock" true && fail "the holder did not take $D/$S1.lock"

gc --lock-dir "$D" -v; rc=$?
sed 's/^/    /' "$D/out" "$D/err"
check "gc with $S1 locked exits 1 (got $rc)" test $rc -eq 1
check "it says $S1 was skipped for its lock" grep -q "$S1: skipped: someone holds its lock" "$D/err"
check "it destroyed $S2" grep -q "^$S2: destroyed 1 object" "$D/out"
check "$S1 is still in LXD" test -n "$(stack_instances $S1)"
check "$S2 is gone from LXD" test -z "$(stack_instances $S2)"

gc --lock-dir "$D" -q; rc=$?
check "gc -q with $S1 locked still exits 1 (got $rc)" test $rc -eq 1
check "gc -q prints nothing on stdout" test ! -s "$D/out"
check "gc -q still reports the skip on stderr" grep -q "$S1: skipped" "$D/err"

"$DROVER_BIN" gc --provider-config "$CONF" --lock-dir "$D" --lock-timeout 120 >"$D/out" 2>"$D/err" &
gcpid=$!
check "gc --lock-timeout opened $S1's lock file and waits" wait_open "$D/$S1.lock" "$holder" 60
kill -0 "$gcpid" 2>/dev/null || fail "gc did not wait for the lock: $(cat "$D/err")"
touch "$D/release"; wait "$holder"; holder=""
wait "$gcpid"; rc=$?
sed 's/^/    /' "$D/out" "$D/err"
check "gc --lock-timeout got the lock once it was free and exits 0 (got $rc)" test $rc -eq 0
check "it destroyed $S1" grep -q "^$S1: destroyed 1 object" "$D/out"
check "$S1 is gone from LXD" test -z "$(stack_instances $S1)"

gc -q; rc=$?
check "gc -q with nothing to do exits 0 and prints nothing" test $rc -eq 0 -a ! -s "$D/out" -a ! -s "$D/err"
pass "gc --lock-dir, --lock-timeout and -q"
