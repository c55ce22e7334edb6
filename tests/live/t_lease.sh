#!/bin/sh
# The stack lease in LXD (doc/locks.md): drover processes that do not
# share a lock directory, as if on different hosts, exclude each other
# through the profile drover-lock-<stack>, updated by compare-and-swap.
#  - 8 applies of one stack at once, each with its own DROVER_LOCK_DIR:
#    each exits 0 (it ran, or waited and then found nothing to do), and
#    the stack ends exact: N instances, no duplicate, no lease left.
#  - a holder killed with -9 keeps the stack locked until its lease runs
#    out (refused before, with the lock id named); force-unlock with a
#    wrong id is refused; after the expiry the next apply takes over.
#  - force-unlock with the right id frees it at once.
STACK=lt-lease
. "$(dirname "$0")/lib.sh"
preflight

T=$TPL/basic.json
N=3
A="-t $T --stack $STACK --var replicas=$N"
LOCKP=drover-lock-$STACK

lease_json() { api_jq "/1.0/profiles/$LOCKP" '.metadata.config'; }
lease_id() { api_jq "/1.0/profiles/$LOCKP" '.metadata.config["user.drover_lock.id"]'; }
lease_present() {
  curl -s --max-time 30 --unix-socket "$SOCK" "http://lxd/1.0/profiles/$LOCKP" |
    jq -e '.status_code == 200' >/dev/null 2>&1
}
lease_absent() { ! lease_present; }
# wait_lease SECONDS: until the lease profile exists (a holder has it).
wait_lease() {
  _end=$(( $(date +%s) + $1 ))
  while [ "$(date +%s)" -lt "$_end" ]; do
    lease_present && return 0
    sleep 0.05
  done
  return 1
}

# ---- 8 hosts at once ---------------------------------------------------
i=1
pids=""
while [ "$i" -le 8 ]; do
  mkdir -p "$TMP/host$i"
  DROVER_LOCK_DIR="$TMP/host$i" "$DROVER" apply $A --yes --lock-timeout 240 \
    >"$TMP/h$i.out" 2>"$TMP/h$i.err" </dev/null &
  pids="$pids $!"
  i=$((i + 1))
done
i=1
for p in $pids; do
  wait "$p"
  r=$?
  check "host $i: apply exited 0 (exit $r)" test "$r" -eq 0
  [ "$r" -eq 0 ] || sed 's/^/#   stderr: /' "$TMP/h$i.err" | head -5
  i=$((i + 1))
done
created=$(cat "$TMP"/h*.out | sed -n 's/^Apply complete: \([0-9]*\) created.*/\1/p' |
          sort -n | tr '\n' ' ')
check "one apply created the $((N + 1)) objects, the 7 others found nothing ($created)" \
  test "$created" = "0 0 0 0 0 0 0 $((N + 1)) "
check "some apply waited and said who held the stack" \
  grep -q 'is locked in lxd by lock [0-9a-f]* of host' "$TMP"/h*.err
labelled_instances | awk '{print $1}' >"$TMP/got"
seq_addresses node "$N" >"$TMP/want"
check "LXD: exactly node[0..$((N - 1))]" cmp -s "$TMP/got" "$TMP/want"
check "LXD: no duplicate instances by name" test "$(named_instances | wc -l)" -eq "$N"
check "LXD: one profile of the stack" test "$(labelled_profiles | wc -l)" -eq 1
check "the lease was released (no lock profile left)" lease_absent

# ---- a lease shorter than the apply is renewed -------------------------
# 3 more instances one at a time take seconds; the 1 s lease is renewed
# every 0.33 s all along (a failed renewal would stop the apply).
RUN_ENV="DROVER_LOCK_LEASE=1"
run apply -t "$T" --stack "$STACK" --var replicas=6 --parallelism 1 --yes --lock-timeout 30
RUN_ENV=
expect_rc "an apply longer than its 1 s lease" 0
check "no renewal failed, the lease was never lost" \
  sh -c '! grep -Eq "could not renew|was taken over|was removed|ran out" "$1"' sh "$TMP/err"

# slow_holder LEASE: an apply on host1 that takes seconds (one action at a
# time over more instances) with a lease of LEASE seconds; $holder its pid.
slow_holder() {
  DROVER_LOCK_DIR="$TMP/host1" DROVER_LOCK_LEASE=$1 DROVER_LOCK_SKEW=1 \
    "$DROVER" apply -t "$T" --stack "$STACK" --var replicas=9 --parallelism 1 --yes \
    >"$TMP/k.out" 2>"$TMP/k.err" </dev/null &
  holder=$!
}

# ---- a holder killed with -9 -------------------------------------------
slow_holder 4
check "the holder took the lease" wait_lease 60
id=$(lease_id)
kill -9 "$holder" 2>/dev/null
wait "$holder"
check "the holder died of SIGKILL" test "$?" -eq 137
check "its lease stays in LXD with its id ($id)" test "$(lease_id)" = "$id"
RUN_ENV="DROVER_LOCK_DIR=$TMP/host2"
run apply $A --yes --lock-timeout 0
RUN_ENV=
expect_rc "another host is refused while the lease runs" 3
check "the refusal names the lock id and force-unlock" \
  grep -q "drover force-unlock $id" "$TMP/err"
run force-unlock 0123456789abcdef0123456789abcdef --stack "$STACK"
expect_rc "force-unlock with a wrong id is refused" 1
check "it says which id holds the stack" grep -q "$id" "$TMP/err"
check "the lease is still there" test "$(lease_id)" = "$id"
# The dead holder's lease (4 s + 1 s skew) runs out; the next apply waits
# for that and takes over.
RUN_ENV="DROVER_LOCK_DIR=$TMP/host3"
run apply $A --yes --lock-timeout 60
RUN_ENV=
expect_rc "after the lease ran out, another host took over and applied" 0
check "it said it took over the dead holder's lease" \
  grep -q "took over the lease of stack \"$STACK\"" "$TMP/err"
labelled_instances | awk '{print $1}' >"$TMP/got"
check "LXD: exactly node[0..$((N - 1))] again (the killed run's extras removed)" \
  cmp -s "$TMP/got" "$TMP/want"
check "and released (no lock profile left)" lease_absent

# ---- force-unlock with the right id ------------------------------------
slow_holder 60
check "a second holder took the lease" wait_lease 60
id=$(lease_id)
kill -9 "$holder" 2>/dev/null
wait "$holder"
run force-unlock "$id" --stack "$STACK"
expect_rc "force-unlock with the lease's id" 0
check "the lease is gone at once (60 s lease)" lease_absent
RUN_ENV="DROVER_LOCK_DIR=$TMP/host4"
run destroy $A --yes --lock-timeout 0
RUN_ENV=
expect_rc "the stack is free without waiting: destroy" 0
check "LXD: nothing of the stack left" test -z "$(labelled_all)"

finish
