#!/bin/sh
# gc.sh - drover gc removes what the epilog did not.
#
# The epilog is prevented from destroying honestly and visibly: the
# cluster is restarted with the plugstack argument epilog=skip (documented
# in drover-spank(8) for sites that clean up with gc only). Then:
#  - a finished job's stack survives the epilog, and `drover gc` destroys it;
#  - a running job's stack is left alone by gc;
#  - --drover-keep (allow_keep=yes) survives the epilog even with
#    epilog=destroy, is spared by gc --min-age, and destroyed by plain gc.
# The cluster is put back to the run's arguments at the end.
. "$(dirname "$0")/lib.sh"
need_slurm; need_lxd; make_user
[ -x "$DROVER_BIN" ] || skip "no $DROVER_BIN"
trap 'slurm_with_args "$BASE_ARGS"' EXIT

gc() { "$DROVER_BIN" gc --provider-config "$CONF" "$@"; }

slurm_with_args "$BASE_ARGS epilog=skip"
flag=$UHOME/gc.go; rm -f "$flag" "$UHOME"/gc.*.out
done_job=$(as_user "sbatch --parsable -o gc.%j.out --drover=one:tag=gc1 --wrap 'echo ok'") || fail sbatch
wait_job_gone "$done_job" 60 || fail "job $done_job did not end within 60s"
grep -q "job-$done_job-one: epilog=skip" "$SLURMD_LOG" || fail "the epilog did not skip"
[ -n "$(stack_instances "job-$done_job-one")" ] || fail "epilog=skip still destroyed job-$done_job-one"
note "ok: job $done_job finished, its stack is still there (epilog=skip)"

run_job=$(as_user "sbatch --parsable -o gc.%j.out --drover=one:tag=gc2 --wrap '
  echo started; i=0; while [ ! -e $flag ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done'") || fail sbatch
check "job $run_job running" wait_grep started "$UHOME/gc.$run_job.out" 60

out=$(gc -n) || fail "gc -n failed: $out"
echo "$out" | sed 's/^/    /'
echo "$out" | grep -q "^job-$done_job-one: would destroy 1 object: job $done_job is COMPLETED" ||
  fail "gc -n did not pick job $done_job"
[ -n "$(stack_instances "job-$done_job-one")" ] || fail "gc -n destroyed something"
# gc asks every provider; the AWS one (no credentials here) must give up
# before the instance metadata service, which is off loopback: $CONF
# says "imds": false (AWS_EC2_METADATA_DISABLED, set by lib.sh and
# scripts/test, too; the setting is the one named). Naming aws there
# does not make it mandatory: it is skipped, and gc goes on.
errs=$(gc -n -v 2>&1 >/dev/null)
aws_line=$(echo "$errs" | grep 'provider aws is not set up here')
[ -n "$aws_line" ] || fail "gc did not ask the AWS provider: $errs"
echo "$aws_line" | grep -q 'instance metadata' && fail "gc's AWS provider asked IMDS: $aws_line"
echo "$aws_line" | grep -q 'no instance role (IMDS turned off by the "imds": false setting)' ||
  fail "gc's AWS provider did not stop at the \"imds\": false setting: $aws_line"
note "ok: gc's AWS provider stopped before the metadata service (loopback only)"
out=$(gc -v) || fail "gc failed: $out"
echo "$out" | sed 's/^/    /'
echo "$out" | grep -q "^job-$done_job-one: destroyed 1 object" || fail "gc did not destroy job-$done_job-one"
echo "$out" | grep -q "^job-$run_job-one: kept: job $run_job is RUNNING" || fail "gc did not report the running job"
[ -z "$(stack_instances "job-$done_job-one")" ] || fail "job-$done_job-one still there after gc"
[ -n "$(stack_instances "job-$run_job-one")" ] || fail "gc destroyed the running job's stack"
note "ok: gc destroyed the finished job's stack and left the running one"
as_user "touch $flag"
wait_job_gone "$run_job" 60 || fail "job $run_job did not end within 60s"
out=$(gc) || fail "gc failed: $out"
[ -z "$(stack_instances "job-$run_job-one")" ] || fail "second gc left job-$run_job-one"

# A stack whose job slurmctld no longer knows (purged, or a stack made by
# hand under a job name): gone too.
"$DROVER_BIN" apply -y --stack job-999999-one --provider-config "$CONF" "$TPL/one.json" >/dev/null 2>&1 ||
  fail "could not make job-999999-one"
out=$(gc) || fail "gc: $out"
echo "$out" | grep -q "^job-999999-one: destroyed 1 object: job 999999 is no longer known to slurmctld" ||
  fail "unknown job: $out"
note "ok: a stack of a job slurmctld does not know is destroyed"

# --drover-keep
slurm_with_args "$BASE_ARGS"
kept=$(as_user "sbatch --parsable -o gc.%j.out --drover=one:tag=kept --drover-keep --wrap 'echo ok'") || fail sbatch
wait_job_gone "$kept" 60 || fail "job $kept did not end within 60s"
grep -q "job-$kept-one: kept after the job" "$SLURMD_LOG" || fail "the epilog did not keep job-$kept-one"
[ -n "$(stack_instances "job-$kept-one")" ] || fail "--drover-keep stack destroyed by the epilog"
out=$(gc --min-age 3600 -v) || fail "gc --min-age: $out"
echo "$out" | grep -q "^job-$kept-one: kept: job $kept ended" || fail "gc --min-age: $out"
[ -n "$(stack_instances "job-$kept-one")" ] || fail "gc --min-age destroyed a kept stack"
out=$(gc) || fail "gc: $out"
[ -z "$(stack_instances "job-$kept-one")" ] || fail "gc left the kept stack of job $kept"
note "ok: --drover-keep survived the epilog and gc --min-age, then plain gc removed it"

# allow_keep=no: refused at submit.
slurm_with_args "template_dir=$TPL config=$CONF allow_keep=no"
msg=$(as_user "sbatch --drover=one --drover-keep --wrap true" 2>&1) && fail "keep accepted with allow_keep=no"
echo "$msg" | grep -q 'not allowed' || fail "keep message: $msg"
check "node idle" node_is_idle
pass "gc: finished (epilog=skip), unknown and kept stacks destroyed; running job's stack left"
