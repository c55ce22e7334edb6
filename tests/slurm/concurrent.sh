#!/bin/sh
# concurrent.sh - two jobs at once get two separate stacks, both live at
# the same time, each destroyed with its own job.
. "$(dirname "$0")/lib.sh"
need_slurm; need_lxd; make_user

flag=$UHOME/concurrent.go; rm -f "$flag" "$UHOME"/conc.*.out
submit() {
  as_user "sbatch --parsable -o conc.%j.out --drover=one:tag=$1 --wrap '
    echo name=\$DROVER_NAME tag=\$DROVER_TAG
    i=0; while [ ! -e $flag ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done'"
}
a=$(submit alpha) || fail "sbatch a"
b=$(submit beta) || fail "sbatch b"
check "job $a started with its outputs" wait_grep "name=job-$a-one-box tag=alpha" "$UHOME/conc.$a.out" 60
check "job $b started with its outputs" wait_grep "name=job-$b-one-box tag=beta" "$UHOME/conc.$b.out" 60
[ -n "$(stack_instances "job-$a-one")" ] || fail "no container for job $a"
[ -n "$(stack_instances "job-$b-one")" ] || fail "no container for job $b"
check "tags differ in LXD" test "$(lxc config get "job-$a-one-box" user.tag)/$(lxc config get "job-$b-one-box" user.tag)" = alpha/beta
note "ok: job-$a-one and job-$b-one live at the same time"
as_user "touch $flag"
wait_job_gone "$a" 60 || fail "job $a did not end within 60s"; wait_job_gone "$b" 60 || fail "job $b did not end within 60s"
i=0; while [ -n "$(stack_instances "job-$a-one")$(stack_instances "job-$b-one")" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -z "$(stack_instances "job-$a-one")$(stack_instances "job-$b-one")" ] || fail "stacks left after the jobs"
check "node idle" node_is_idle
pass "jobs $a and $b: separate stacks at once, both gone after"
