#!/bin/sh
# srun.sh - srun --drover=NAME:params with a plain srun (its own
# allocation) and a two-task step: every task gets the outputs.
. "$(dirname "$0")/lib.sh"
need_slurm; need_lxd; make_user

out=$(as_user "srun -n2 --drover=one:tag=fromsrun sh -c 'echo task=\$SLURM_PROCID name=\$DROVER_NAME tag=\$DROVER_TAG status=\$DROVER_FIRST_STATUS job=\$SLURM_JOB_ID; lxc --version >/dev/null 2>&1; sleep 0'" 2>&1) ||
  fail "srun failed: $out"
echo "$out" | sed 's/^/    /'
jid=$(echo "$out" | sed -n 's/.*job=\([0-9]*\).*/\1/p' | head -n 1)
[ -n "$jid" ] || fail "no job id in the output"
for t in 0 1; do
  echo "$out" | grep -qx "task=$t name=job-$jid-one-box tag=fromsrun status=Running job=$jid" ||
    fail "task $t did not see the outputs"
done
note "ok: both tasks saw DROVER_NAME/TAG/FIRST_STATUS"
wait_job_gone "$jid" 30 || fail "job $jid did not end within 30s"
i=0; while [ -n "$(stack_instances "job-$jid-one")" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -z "$(stack_instances "job-$jid-one")" ] || fail "job-$jid-one left after srun"
check "node idle" node_is_idle
pass "srun job $jid: both tasks got the outputs; stack gone after"
