#!/bin/sh
# limits.sh - max_instances_per_job=5 and max_instances_per_user=8 (the
# run's plugstack args), both checked in the prolog against the plan,
# before anything is created. Per user: counted over the user's other live job stacks in the
# prolog, so the second of two 5-instance jobs fails while the first runs.
. "$(dirname "$0")/lib.sh"
need_slurm; need_lxd; make_user

rm -f "$UHOME"/lim.*.out
j=$(as_user "sbatch --parsable -o lim.%j.out --drover=many:n=6 --wrap 'echo SCRIPT-RAN'") || fail "sbatch n=6"
wait_job_gone "$j" 60 || fail "job $j did not end"
grep -q SCRIPT-RAN "$UHOME/lim.$j.out" && fail "job $j ran with 6 instances"
grep -q 'many: 6 instances, more than this cluster allows per job (5)' "$UHOME/lim.$j.out" ||
  fail "job $j output: $(cat "$UHOME/lim.$j.out")"
[ -z "$(stack_instances "job-$j-many")" ] || fail "job $j created instances"
note "ok: 6 instances refused in the prolog before anything was created (job $j)"

flag=$UHOME/limits.go; rm -f "$flag"
a=$(as_user "sbatch --parsable -o lim.%j.out --drover=many:n=5 --wrap '
  echo started \$DROVER_NAMES
  i=0; while [ ! -e $flag ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done'") || fail "sbatch a"
check "first job ($a) has its 5 instances" wait_grep "started job-$a-many-box-0" "$UHOME/lim.$a.out" 90
b=$(as_user "sbatch --parsable -o lim.%j.out --drover=many:n=5 --wrap 'echo SCRIPT-RAN'") || fail "sbatch b"
wait_job_gone "$b" 90 || fail "job $b did not end"
grep -q SCRIPT-RAN "$UHOME/lim.$b.out" && fail "second job ran past the per-user limit"
grep -q "5 instances plus 5 in your other running jobs is more than this cluster allows per user (8)" \
  "$UHOME/lim.$b.out" || fail "job $b output: $(cat "$UHOME/lim.$b.out")"
note "ok: job $b refused: $(grep 'per user' "$UHOME/lim.$b.out" | head -n 1)"
[ -z "$(stack_instances "job-$b-many")" ] || fail "job $b left instances"
[ "$(stack_instances "job-$a-many" | wc -l)" = 5 ] || fail "job $a lost instances"
as_user "touch $flag"
wait_job_gone "$a" 60 || fail "job $a did not end within 60s"
i=0; while [ -n "$(stack_instances "job-$a-many")" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
[ -z "$(stack_instances "job-$a-many")" ] || fail "job $a left instances"
check "node idle" node_is_idle
pass "per-job limit (job $j); per-user limit in the prolog (job $b failed, job $a untouched)"
