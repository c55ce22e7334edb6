# lib.sh - shared helpers for tests/slurm/*.sh (sourced).
#
# The tests run on the real one-node Slurm that scripts/slurm-setup.sh
# starts, against the real LXD (scripts/lxd-setup.sh), as root; jobs are
# submitted as the unprivileged user $DROVER_TEST_USER (created if
# missing). Each script exits 0 (pass), 1 (fail) or 77 (skip) and prints
# one "PASS:"/"FAIL:"/"SKIP:" line last.
set -u
# Off-loopback IMDS lookups of the AWS provider (gc asks every provider);
# scripts/test sets it too (doc/aws.md, "Tests and IMDS").
export AWS_EC2_METADATA_DISABLED=true

# SLURM_TESTS: the folder of this file. Under bash, BASH_SOURCE names it
# wherever it is sourced from; the tests run under sh, which has no such
# name, so there $0 is taken when it is a script in this folder (any
# working directory will do). Otherwise SLURM_TESTS_DIR tells, or else
# ./tests/slurm from the top of a checkout. forge_submit.c marks the
# folder (tests/live and tests/slurm-cloud have a lib.sh too); a wrong
# guess stops here rather than testing some other tree.
if [ -n "${SLURM_TESTS_DIR:-}" ]; then
  SLURM_TESTS=$SLURM_TESTS_DIR
elif [ -n "${BASH_VERSION:-}" ]; then
  eval 'SLURM_TESTS=$(dirname "${BASH_SOURCE[0]}")'
else
  SLURM_TESTS=$(dirname "$0")
  [ -f "$SLURM_TESTS/forge_submit.c" ] || SLURM_TESTS=tests/slurm
fi
if [ ! -f "$SLURM_TESTS/forge_submit.c" ] || ! SLURM_TESTS=$(cd "$SLURM_TESTS" && pwd); then
  echo "lib.sh: tests/slurm not found (tried '$SLURM_TESTS'); set SLURM_TESTS_DIR" >&2
  exit 2
fi
TOP=$(cd "$SLURM_TESTS/../.." && pwd)
. "$TOP/tests/live/jq.sh"
DROVER_SO=${DROVER_SO:-$TOP/.libs/drover.so}
DROVER_BIN=${DROVER_BIN:-$TOP/drover}
DT=${DROVER_TEST_DIR:-/var/lib/drover-test}
TPL=$DT/templates
# The admin's provider config of the test cluster. It names aws only to
# keep its instance role off (no IMDS request from the job epilog, which
# AWS_EC2_METADATA_DISABLED does not reach: doc/aws.md, "Tests and IMDS").
CONF=$DT/providers.json
OUTDIR=/run/drover-jobs
TUSER=${DROVER_TEST_USER:-drovertest}
NODE=$(hostname -s)
SLURMD_LOG=/var/log/slurm/slurmd.log
BASE_ARGS="template_dir=$TPL config=$CONF max_instances_per_job=5 max_instances_per_user=8 allow_keep=yes"

pass() { echo "PASS: $(basename "$0" .sh): $*"; exit 0; }
fail() { echo "FAIL: $(basename "$0" .sh): $*"; exit 1; }
# A skip is exit 77; run.sh counts it as a failure under CI=true.
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL: $(basename "$0" .sh): would skip under CI: $*"; exit 1; fi
  echo "SKIP: $(basename "$0" .sh): $*"; exit 77
}
note() { echo "  $(basename "$0" .sh): $*"; }
check() { # description command...
  d=$1; shift
  if "$@"; then note "ok: $d"; else fail "$d"; fi
}

need_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }
need_slurm() {
  need_root
  command -v sbatch >/dev/null || skip "Slurm not installed"
  scontrol ping 2>/dev/null | grep -q UP || skip "slurmctld not running (scripts/slurm-setup.sh)"
}
need_lxd() {
  command -v lxc >/dev/null || skip "LXD not installed"
  lxc info >/dev/null 2>&1 || skip "LXD not running (scripts/lxd-setup.sh)"
}

# The test template dir: root-owned copies of the shipped templates plus
# the test ones, and the provider config (0600).
make_template_dir() {
  mkdir -p "$TPL"
  chmod 0755 "$DT" "$TPL"
  cp "$TOP"/templates/*.json "$SLURM_TESTS"/templates/*.json "$TPL"/
  chown root:root "$TPL"/*.json
  chmod 0644 "$TPL"/*.json
  echo '{"lxd": {"project": "default"}, "aws": {"imds": false}}' >"$CONF.tmp"
  chmod 0600 "$CONF.tmp"
  mv -f "$CONF.tmp" "$CONF"
}

make_user() {
  id "$TUSER" >/dev/null 2>&1 || useradd -m -s /bin/sh "$TUSER" || skip "cannot create user $TUSER"
  UHOME=$(getent passwd "$TUSER" | cut -d: -f6)
  [ -d "$UHOME" ] || { mkdir -p "$UHOME"; chown "$TUSER" "$UHOME"; }
}

# Rewrites plugstack.conf with these args and restarts the daemons.
slurm_with_args() {
  "$TOP/scripts/slurm-setup.sh" --plugin "$DROVER_SO" --args "$*" >/dev/null ||
    fail "slurm-setup.sh failed"
}

# Runs a command as the test user, in its home, with a clean login env
# plus whatever VAR=value words come first.
as_user() {
  su -s /bin/sh "$TUSER" -c "cd; $*"
}

node_state() { sinfo -h -N -n "$NODE" -o %T | head -n 1; }
node_is_idle() {
  i=0
  while [ $i -lt 100 ]; do
    case $(node_state) in idle) return 0 ;; *drain*|*down*) return 1 ;; esac
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

# Instances of a stack, by the name prefix the engine derives.
# A failed lxc call prints a line no real name has, so that a "nothing
# left" test cannot pass on an error.
stack_instances() {
  _l=$(lxc list -c n --format csv 2>&1) || { echo "!lxc-list-failed: $_l"; return 1; }
  printf '%s\n' "$_l" | grep "^$1-" || true
}
stack_profiles() {
  _l=$(lxc profile list --format csv 2>&1) || { echo "!lxc-profile-list-failed: $_l"; return 1; }
  printf '%s\n' "$_l" | cut -d, -f1 | grep "^$1-" || true
}

# Waits until the job has left the queue (or at most $2 seconds).
wait_job_gone() {
  i=0; lim=$(( ${2:-120} * 10 ))
  while [ $i -lt $lim ]; do
    st=$(squeue -h -j "$1" -o %T 2>/dev/null)
    [ -z "$st" ] && return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

# Waits for a file to exist and contain a pattern.
wait_grep() { # pattern file seconds
  i=0; lim=$(( ${3:-60} * 10 ))
  while [ $i -lt $lim ]; do
    grep -q "$1" "$2" 2>/dev/null && return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1; }
