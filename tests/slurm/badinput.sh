#!/bin/sh
# badinput.sh - a bad request fails the JOB, with the reason on the job's
# stderr, and never the node.
#  1. Submit time: sbatch/srun refuse bad names, params and values before
#     anything is queued.
#  2. Prolog time: a template whose apply fails (an image that does not
#     exist) fails the job with the message, the profile it had already
#     created is rolled back, and the node stays idle (22.05 drains a node
#     whose prolog fails, so the plugin's prolog never does).
. "$(dirname "$0")/lib.sh"
need_slurm; need_lxd; make_user

before=$(squeue -h | wc -l)
try_submit() { # request expected-message
  msg=$(as_user "sbatch --drover='$1' --wrap true" 2>&1) && fail "sbatch accepted --drover=$1"
  echo "$msg" | grep -qF "$2" || fail "--drover=$1: message was: $msg"
  note "ok: sbatch refused --drover=$1: $(echo "$msg" | head -n 1)"
}
try_submit 'Bad/Name' 'bad template name'
try_submit 'nosuchtemplate' 'no template named "nosuchtemplate"'
try_submit 'one:tag' 'is not key=value'
try_submit 'one:nope=1' 'has no param "nope"'
try_submit 'one:tag=a,tag=b' 'given twice'
try_submit 'quickstart:replicas=11' 'above the maximum'
try_submit 'quickstart:replicas=two' 'replicas'
try_submit 'one:state=paused' 'state'
msg=$(as_user "srun --drover='one:tag=x y' true" 2>&1) && fail "srun accepted a space"
echo "$msg" | grep -q 'not allowed' || fail "srun: $msg"
note "ok: srun refused a value with a space"
[ "$(squeue -h | wc -l)" = "$before" ] || fail "a refused request still queued a job"

out=$UHOME/badimage.out; rm -f "$out"
jid=$(as_user "sbatch --parsable -o $out --drover=badimage --wrap 'echo SHOULD-NOT-RUN'") ||
  fail "sbatch badimage"
wait_job_gone "$jid" 60 || fail "job $jid did not end"
cat "$out" | sed 's/^/    /'
grep -q 'SHOULD-NOT-RUN' "$out" && fail "the job ran although its stack failed"
grep -q "error: drover: job-$jid-badimage: lxd: .*[Ii]mage" "$out" ||
  fail "the job's stderr does not say why"
note "ok: the job's output says why"
check "job FAILED" test "$(job_state "$jid")" = FAILED
[ -z "$(stack_profiles "job-$jid-badimage")$(stack_instances "job-$jid-badimage")" ] ||
  fail "rollback left objects of job-$jid-badimage"
note "ok: the profile created before the failure was rolled back"
grep -q "drover: job $jid: " "$SLURMD_LOG" || fail "no slurmd log line for job $jid"
check "node idle, not drained" node_is_idle
sinfo -h -R | grep -q . && fail "a node has a drain/down reason: $(sinfo -h -R)"
pass "bad requests refused at submit; failed apply failed job $jid only, rolled back, node idle"
