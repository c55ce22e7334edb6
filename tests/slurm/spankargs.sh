#!/bin/sh
# spankargs.sh - the plugstack arguments lock_dir, outputs_dir, lock_wait,
# epilog_retries and apply_timeout do what the README says.
#  - outputs_dir: the job's DROVER_OUTPUTS_FILE lives there;
#  - lock_dir: the prolog locks the stack there;
#  - lock_wait: a prolog that finds the stack locked waits (it gets the
#    lock when the holder lets go), and gives up after lock_wait seconds,
#    failing the job (not the node);
#  - epilog_retries: an epilog that cannot destroy tries that many times,
#    then leaves the stack to drover gc;
#  - apply_timeout: the prolog's apply gives up on a slow operation.
# The locks are held by flock(1) on the stack's lock file; the holder
# lets go only after the prolog has the file open, so no step depends on
# how long anything takes.
. "$(dirname "$0")/lib.sh"
need_slurm; need_lxd; make_user
[ -x "$DROVER_BIN" ] || skip "no $DROVER_BIN"

LD=/run/drover-test-locks
OD=/run/drover-test-outputs
holder=""
release() { touch "$LD/release"; [ -n "$holder" ] && wait "$holder" 2>/dev/null; holder=""; rm -f "$LD/release"; }
restore() {
  release
  for s in $(stack_instances job- | sed -n 's/^\(job-[0-9]*-one\)-box$/\1/p' | sort -u); do
    case " $mine " in *" $s "*) "$DROVER_BIN" destroy -y --stack "$s" --provider-config "$CONF" >/dev/null 2>&1 ;; esac
  done
  slurm_with_args "$BASE_ARGS"
}
mine=""
trap restore EXIT
mkdir -p "$LD"; chmod 0700 "$LD"; rm -f "$LD/release"

# hold STACK: flock(1) alone (-o) holds $LD/STACK.lock until release.
hold() {
  flock -o "$LD/$1.lock" sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done' sh "$LD/release" &
  holder=$!
  i=0; while flock -n "$LD/$1.lock" true && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
  flock -n "$LD/$1.lock" true && fail "could not hold $LD/$1.lock"
}
# wait_open FILE SECONDS: until a Slurm process (the prolog or epilog runs
# in one) other than the holder has FILE open.
wait_open() {
  i=0
  while [ $i -lt $(( $2 * 20 )) ]; do
    for p in $(pgrep slurm); do
      [ "$p" = "$holder" ] && continue
      for fd in /proc/$p/fd/*; do
        [ "$(readlink "$fd" 2>/dev/null)" = "$1" ] && return 0
      done
    done
    sleep 0.05; i=$((i + 1))
  done
  return 1
}

slurm_with_args "$BASE_ARGS lock_dir=$LD outputs_dir=$OD lock_wait=10 epilog_retries=2"

# ---- outputs_dir and lock_dir -------------------------------------------
out=$UHOME/sa1.out; rm -f "$out"
jid=$(as_user "sbatch --parsable -o $out --drover=one --wrap 'echo file=\$DROVER_OUTPUTS_FILE; test -r \"\$DROVER_OUTPUTS_FILE\" && echo readable'") ||
  fail "sbatch"
mine="$mine job-$jid-one"
wait_job_gone "$jid" 60 || fail "job $jid did not end within 60s"
sed 's/^/    /' "$out"
check "outputs_dir: DROVER_OUTPUTS_FILE is $OD/$jid/outputs.json" grep -qx "file=$OD/$jid/outputs.json" "$out"
check "outputs_dir: the job could read it" grep -qx readable "$out"
check "lock_dir: the prolog locked the stack in $LD" test -e "$LD/job-$jid-one.lock"
check "lock_dir: not in the default /run/drover" test ! -e "/run/drover/job-$jid-one.lock"
check "job $jid COMPLETED" test "$(job_state "$jid")" = COMPLETED

# ---- lock_wait: the prolog waits for a held lock, then gets it -----------
out=$UHOME/sa2.out; rm -f "$out"
jid=$(as_user "sbatch --parsable --hold -o $out --drover=one --wrap 'echo RAN name=\$DROVER_NAME'") || fail "sbatch --hold"
mine="$mine job-$jid-one"
hold "job-$jid-one"
scontrol release "$jid" || fail "scontrol release $jid"
check "the prolog opened $LD/job-$jid-one.lock (it waits for it)" wait_open "$LD/job-$jid-one.lock" 60
release
wait_job_gone "$jid" 60 || fail "job $jid did not end within 60s"
sed 's/^/    /' "$out"
check "lock_wait: once the lock was free the job ran with its stack" grep -qx "RAN name=job-$jid-one-box" "$out"

# ---- lock_wait: ...and gives up after lock_wait seconds ------------------
out=$UHOME/sa3.out; rm -f "$out"
jid=$(as_user "sbatch --parsable --hold -o $out --drover=one --wrap 'echo SHOULD-NOT-RUN'") || fail "sbatch --hold"
mine="$mine job-$jid-one"
hold "job-$jid-one"
t0=$(date +%s)
scontrol release "$jid" || fail "scontrol release $jid"
# Let go once the job reports the failure, so the epilog is not held up.
check "the job reports the locked stack" wait_grep "locked" "$out" 120
dt=$(( $(date +%s) - t0 ))
release
wait_job_gone "$jid" 120 || fail "job $jid did not end within 120s"
sed 's/^/    /' "$out"
check "lock_wait: the job failed, its script did not run" sh -c '! grep -q SHOULD-NOT-RUN "$1"' sh "$out"
check "lock_wait: its stderr says the stack is locked" grep -qi "locked" "$out"
check "lock_wait: the prolog waited lock_wait (10 s) first (took ${dt}s)" test "$dt" -ge 10
check "job FAILED" test "$(job_state "$jid")" = FAILED
check "node idle, not drained" node_is_idle
check "no instance was made for job $jid" test -z "$(stack_instances "job-$jid-one")"

# ---- epilog_retries ---------------------------------------------------------
out=$UHOME/sa4.out; rm -f "$out" "$UHOME/sa4.go"
jid=$(as_user "sbatch --parsable -o $out --drover=one --wrap '
  echo started; i=0; while [ ! -e \$HOME/sa4.go ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i+1)); done'") || fail "sbatch"
mine="$mine job-$jid-one"
check "job $jid running" wait_grep started "$out" 60
hold "job-$jid-one"
as_user "touch sa4.go"
wait_job_gone "$jid" 120 || fail "job $jid did not end within 120s"
release
check "epilog_retries: attempt 1/2 failed on the lock" grep -q "job-$jid-one: destroy attempt 1/2 failed: .*locked" "$SLURMD_LOG"
check "epilog_retries: attempt 2/2 failed on the lock" grep -q "job-$jid-one: destroy attempt 2/2 failed" "$SLURMD_LOG"
check "epilog_retries: no third attempt" sh -c '! grep -q "job-$1-one: destroy attempt 3/" "$2"' sh "$jid" "$SLURMD_LOG"
check "epilog_retries: the stack was left for drover gc" grep -q "job-$jid-one: left behind" "$SLURMD_LOG"
check "the stack is still in LXD" test -n "$(stack_instances "job-$jid-one")"
"$DROVER_BIN" destroy -y --stack "job-$jid-one" --provider-config "$CONF" >/dev/null 2>&1 ||
  fail "could not destroy job-$jid-one"

# ---- apply_timeout ------------------------------------------------------------
slurm_with_args "$BASE_ARGS apply_timeout=0.001"
out=$UHOME/sa5.out; rm -f "$out"
jid=$(as_user "sbatch --parsable -o $out --drover=one --wrap 'echo SHOULD-NOT-RUN'") || fail "sbatch"
mine="$mine job-$jid-one"
wait_job_gone "$jid" 120 || fail "job $jid did not end within 120s"
sed 's/^/    /' "$out"
check "apply_timeout: the job failed, its script did not run" sh -c '! grep -q SHOULD-NOT-RUN "$1"' sh "$out"
check "apply_timeout: its stderr says an operation passed its deadline" grep -Eqi "deadline|timed out|timeout" "$out"
check "job FAILED" test "$(job_state "$jid")" = FAILED
check "node idle, not drained" node_is_idle
i=0; while [ -n "$(stack_instances "job-$jid-one")" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
check "apply_timeout: the rollback left no instance" test -z "$(stack_instances "job-$jid-one")"

pass "lock_dir, outputs_dir, lock_wait, epilog_retries, apply_timeout"
