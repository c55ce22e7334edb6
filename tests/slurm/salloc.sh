#!/bin/sh
# salloc.sh - salloc --drover: the prolog runs at allocation
# (PrologFlags=Alloc), so the stack exists before the first step, and
# every srun inside the allocation sees the outputs.
. "$(dirname "$0")/lib.sh"
need_slurm; need_lxd; make_user

out=$(as_user "salloc --drover=one:tag=fromsalloc sh -c '
  echo alloc=\$SLURM_JOB_ID
  lxc_ok=\$(ls $OUTDIR/\$SLURM_JOB_ID/outputs.json 2>/dev/null)
  echo file=\$lxc_ok
  srun sh -c \"echo step1 \\\$DROVER_NAME \\\$DROVER_TAG\"
  srun sh -c \"echo step2 \\\$DROVER_NAME\"'" 2>&1) || fail "salloc failed: $out"
echo "$out" | sed 's/^/    /'
jid=$(echo "$out" | sed -n 's/^alloc=\([0-9]*\)$/\1/p')
[ -n "$jid" ] || fail "no job id"
echo "$out" | grep -qx "file=$OUTDIR/$jid/outputs.json" || fail "no outputs file before the first step"
echo "$out" | grep -qx "step1 job-$jid-one-box fromsalloc" || fail "step 1 did not see the outputs"
echo "$out" | grep -qx "step2 job-$jid-one-box" || fail "step 2 did not see the outputs"
wait_job_gone "$jid" 30 || fail "job $jid did not end within 30s"
i=0; while [ -n "$(stack_instances "job-$jid-one")" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -z "$(stack_instances "job-$jid-one")" ] || fail "job-$jid-one left after salloc"
check "node idle" node_is_idle
pass "salloc job $jid: stack before the first step, both steps saw outputs, gone after"
