#!/bin/sh
# engine.sh - drover.so is a libc-only shim; it dlopen()s the engine module
# (drover_spank_engine.so, next to it or plugstack engine=PATH) only for a
# job that asked for --drover, and only if the module is root's, a regular
# file and not group/world writable.
#  1. A job without --drover never touches the engine: it runs even when
#     the configured engine module is refused or missing.
#  2. An engine refused at submit time refuses the --drover submission
#     with the reason.
#  3. An engine refused in the prolog fails the job (with the reason on
#     its stderr), never the node.
. "$(dirname "$0")/lib.sh"
need_slurm; make_user

src=$(dirname "$DROVER_SO")/drover_spank_engine.so
[ -f "$src" ] || fail "no $src next to $DROVER_SO"
edir=$DT/engine; eng=$edir/drover_spank_engine.so
mkdir -p "$edir"; chmod 0755 "$edir"
cp "$src" "$eng"; chown root:root "$eng"; chmod 0755 "$eng"
restore() { slurm_with_args "$BASE_ARGS"; }
trap restore EXIT
slurm_with_args "$BASE_ARGS engine=$eng"

# 3. Accepted at submit (the engine is fine then), refused in the prolog.
out=$UHOME/engine.out; rm -f "$out"
jid=$(as_user "sbatch --parsable --hold -o $out --drover=nosuchimage-never --wrap 'echo SHOULD-NOT-RUN'" 2>&1) &&
  fail "sbatch accepted a template that does not exist: $jid"
jid=$(as_user "sbatch --parsable --hold -o $out --drover=one --wrap 'echo SHOULD-NOT-RUN'") ||
  fail "sbatch --drover=one with a good engine module: $jid"
chmod 0775 "$eng"
scontrol release "$jid" || fail "scontrol release $jid"
wait_job_gone "$jid" 60 || fail "job $jid did not end"
sed 's/^/    /' "$out"
grep -q 'SHOULD-NOT-RUN' "$out" && fail "the job ran although the engine was refused"
grep -q "engine module refused: .*writable" "$out" || fail "the job's stderr does not say why"
check "job FAILED" test "$(job_state "$jid")" = FAILED
check "node idle, not drained" node_is_idle
[ -z "$(stack_instances "job-$jid-one")" ] || fail "job $jid has instances"

# 2. Refused at submit.
msg=$(as_user "sbatch --drover=one --wrap true" 2>&1) && fail "sbatch accepted with a refused engine"
echo "$msg" | grep -q 'engine module refused' || fail "submit message was: $msg"
note "ok: submit refused: $(echo "$msg" | head -n 1)"

# 1. Jobs that do not use drover do not care.
o=$(as_user "srun true && echo RAN" 2>&1)
[ "$(echo "$o" | tail -n 1)" = RAN ] || fail "srun without --drover, refused engine: $o"
note "ok: srun without --drover runs with a refused engine module"
rm -f "$eng"
o=$(as_user "srun true && echo RAN" 2>&1)
[ "$(echo "$o" | tail -n 1)" = RAN ] || fail "srun without --drover, missing engine: $o"
note "ok: srun without --drover runs with no engine module"
check "node idle" node_is_idle
pass "unused path never loads the engine; a refused engine fails job $jid, not the node"
