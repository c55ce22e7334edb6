#!/bin/sh
# attack.sh - hostile requests. Most go through forge_submit, which puts
# the option straight into the job's SPANK environment with libslurm, as
# any user can: sbatch's own checks never run, so what is tested is the
# prolog's re-check (as root). Every one must fail the job with a message,
# create nothing, read nothing outside the template dir, and leave the
# node idle.
. "$(dirname "$0")/lib.sh"
need_slurm; need_lxd; make_user
command -v gcc >/dev/null || skip "gcc needed to build forge_submit"

work=$(mktemp -d /var/tmp/drover-attack.XXXXXX)
chmod 0755 "$work"
trap 'rm -rf "$work"; rm -f "$TPL/evil.json" "$TPL/escape.json" /var/tmp/drover-escape.json' EXIT
gcc -o "$work/forge_submit" "$SLURM_TESTS/forge_submit.c" -lslurm || fail "cannot build forge_submit"

forge() { # request [extra spank env...] -> job id
  r=$1; shift
  as_user "$work/forge_submit $UHOME/forged.%j.out 'echo SCRIPT-RAN' '_SLURM_SPANK_OPTION_drover_drover=$r' $*"
}
expect_refused() { # jobid expected-message what
  wait_job_gone "$1" 60 || fail "$3: job $1 did not end"
  o=$UHOME/forged.$1.out
  grep -q SCRIPT-RAN "$o" && fail "$3: the job script ran"
  grep -qF "$2" "$o" || fail "$3: job output lacks \"$2\": $(cat "$o")"
  [ "$(job_state "$1")" = FAILED ] || fail "$3: job $1 is $(job_state "$1")"
  [ -z "$(lxc list -c n --format csv | grep "^job-$1-")" ] || fail "$3: objects created"
  [ -z "$(lxc profile list --format csv | grep "^job-$1-")" ] || fail "$3: profile created"
  node_is_idle || fail "$3: node not idle: $(node_state)"
  note "ok: $3: job $1 failed with \"$2\""
}

rm -f "$UHOME"/forged.*.out /tmp/drover-pwned
j=$(forge '../../etc/shadow') || fail forge
expect_refused "$j" 'bad template name' "traversal ../../etc/shadow"
j=$(forge '/etc/shadow') || fail forge
expect_refused "$j" 'bad template name' "absolute path"
j=$(forge "one:tag=$(head -c 300 /dev/zero | tr '\0' a)") || fail forge
expect_refused "$j" '300 bytes long' "overlong value"
j=$(forge 'one:tag=$(touch /tmp/drover-pwned)') || fail forge
expect_refused "$j" 'not allowed' "shell metacharacters"
[ ! -e /tmp/drover-pwned ] || fail "a metacharacter value was executed"
j=$(forge 'one:tag=a;touch${IFS}/tmp/drover-pwned') || fail forge
expect_refused "$j" 'not allowed' "semicolon"
j=$(forge 'one:nope=1') || fail forge
expect_refused "$j" 'has no param "nope"' "unknown param"
j=$(forge 'quickstart:replicas=11') || fail forge
expect_refused "$j" 'above the maximum' "out-of-constraint value"
j=$(forge 'one:tag=UPPER') || fail forge
expect_refused "$j" 'does not match pattern' "value against the template's pattern"

# Symlinks in the template dir: one pointing out at /etc/shadow, one at a
# well-formed template outside. Both refused (O_NOFOLLOW), also through a
# plain sbatch whose submit-time check cannot tell.
ln -sf /etc/shadow "$TPL/evil.json"
cp "$TPL/one.json" /var/tmp/drover-escape.json
ln -sf /var/tmp/drover-escape.json "$TPL/escape.json"
for name in evil escape; do
  j=$(as_user "sbatch --parsable -o $UHOME/forged.%j.out --drover=$name --wrap 'echo SCRIPT-RAN'") ||
    { j=""; note "ok: sbatch refused the symlinked template $name at submit"; }
  [ -n "$j" ] && expect_refused "$j" 'is a symlink; refused' "symlinked template $name"
done

# A group-writable template is refused too.
cp "$TPL/one.json" "$TPL/gw.json"; chmod 0664 "$TPL/gw.json"
j=$(forge 'gw') || fail forge
expect_refused "$j" 'writable' "group-writable template"
rm -f "$TPL/gw.json"

# LD_PRELOAD and engine variables set by the user reach neither the prolog
# nor the epilog. evil.so logs every process it is loaded into.
log=/var/tmp/drover-preload.log; : >"$log"; chmod 0666 "$log"
cat >"$work/evil.c" <<'EOC'
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void evil(void)
{
  char comm[64] = "";
  FILE *f = fopen("/proc/self/comm", "r");
  if(f) { if(!fgets(comm, sizeof(comm), f)) comm[0] = 0; fclose(f); }
  f = fopen("/var/tmp/drover-preload.log", "a");
  if(f) { fprintf(f, "uid=%u comm=%s", (unsigned)geteuid(), comm); fclose(f); }
}
EOC
gcc -shared -fPIC -o "$work/evil.so" "$work/evil.c" || fail "cannot build evil.so"
chmod 0755 "$work/evil.so"
out=$UHOME/preload.out; rm -f "$out"
j=$(as_user "LD_PRELOAD=$work/evil.so LXD_SOCKET=/nonexistent DROVER_LOCK_DIR=$UHOME DROVER_LXD_URL=https://127.0.0.1:1 sbatch --parsable -o $out --drover=one:tag=preload --wrap 'echo name=\$DROVER_NAME'") ||
  fail "sbatch with LD_PRELOAD"
wait_job_gone "$j" 60 || fail "job $j did not end within 60s"
check "the preloaded sbatch ran as the user (the attack was live)" grep -q "uid=$(id -u "$TUSER") comm=sbatch" "$log"
check "job $j got its stack despite the user's LXD_SOCKET/DROVER_* variables" grep -qx "name=job-$j-one-box" "$out"
grep -q '^uid=0 ' "$log" && fail "LD_PRELOAD reached a root process: $(grep '^uid=0 ' "$log")"
note "ok: LD_PRELOAD never loaded as root (lines: $(wc -l <"$log"))"
# Forged variables in the SPANK job environment itself.
j=$(forge 'one:tag=forgedenv' "LD_PRELOAD=$work/evil.so" LXD_SOCKET=/nonexistent \
  DROVER_LOCK_DIR=/var/tmp SLURM_NODELIST=othernode SLURMD_NODENAME=othernode) || fail forge
wait_job_gone "$j" 60 || fail "job $j did not end within 60s"
grep -q SCRIPT-RAN "$UHOME/forged.$j.out" || fail "forged-env job $j did not run: $(cat "$UHOME/forged.$j.out")"
grep -q "job-$j-one: applied" "$SLURMD_LOG" || fail "forged env changed what the prolog did for job $j"
grep -q '^uid=0 ' "$log" && fail "LD_PRELOAD reached a root process"
[ -z "$(stack_instances "job-$j-one")" ] || sleep 2
[ -z "$(stack_instances "job-$j-one")" ] || fail "job-$j-one left behind"
note "ok: SPANK-env LD_PRELOAD/LXD_SOCKET/SLURM_NODELIST ignored (job $j applied normally)"
rm -f "$log"
check "node idle" node_is_idle
pass "traversal, symlinks, overlong, metacharacters, unknown/out-of-range params, LD_PRELOAD: all held"
