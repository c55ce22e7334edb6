#!/bin/sh
# sbatch.sh - sbatch --drover=quickstart: the job sees the outputs in its
# environment, the containers exist in LXD while it runs and are gone
# after, and the node is idle at the end.
. "$(dirname "$0")/lib.sh"
need_slurm; need_lxd; make_user

out=$UHOME/sbatch.out; flag=$UHOME/sbatch.go
rm -f "$out" "$flag"
# The job prints its DROVER_* variables, then waits for our go.
jid=$(as_user "sbatch --parsable -o $out --drover=quickstart:replicas=2 --wrap '
  env | grep ^DROVER_ | sort; cat \$DROVER_OUTPUTS_FILE >/dev/null && echo outputs-readable
  i=0; while [ ! -e $flag ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done'") ||
  fail "sbatch refused the job"
stack=job-$jid-quickstart
check "job $jid printed DROVER_NAMES" wait_grep '^DROVER_NAMES=' "$out" 60
check "DROVER_NAMES lists both containers" \
  grep -qx "DROVER_NAMES=$stack-node-0 $stack-node-1" "$out"
check "DROVER_PROFILE" grep -qx "DROVER_PROFILE=$stack-base" "$out"
check "DROVER_OUTPUTS_FILE" grep -qx "DROVER_OUTPUTS_FILE=$OUTDIR/$jid/outputs.json" "$out"
wait_grep outputs-readable "$out" 5 || fail "the job could not read its outputs file"
n=$(stack_instances "$stack" | wc -l)
[ "$n" = 2 ] || fail "expected 2 containers of $stack in LXD while the job runs, found $n"
note "ok: 2 containers of $stack exist while the job runs"
st=$(lxc list -c s --format csv "$stack-node-0")
[ "$st" = RUNNING ] || fail "$stack-node-0 is $st"
# The outputs file: 0600 in a 0700 directory, both the job user's.
check "outputs file mode/owner" test "$(stat -c '%a %U' "$OUTDIR/$jid/outputs.json")" = "600 $TUSER"
check "job dir mode/owner" test "$(stat -c '%a %U' "$OUTDIR/$jid")" = "700 $TUSER"
as_user "touch $flag"
wait_job_gone "$jid" 60 || fail "job $jid did not finish"
i=0; while [ -n "$(stack_instances "$stack")$(stack_profiles "$stack")" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -z "$(stack_instances "$stack")" ] || fail "containers of $stack left after the job"
[ -z "$(stack_profiles "$stack")" ] || fail "profile of $stack left after the job"
[ ! -e "$OUTDIR/$jid" ] || fail "$OUTDIR/$jid left after the job"
check "job COMPLETED" test "$(job_state "$jid")" = COMPLETED
check "node idle" node_is_idle
pass "job $jid: outputs in env, 2 containers while running, all gone after"
