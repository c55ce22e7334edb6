#!/bin/sh
# run.sh - the SPANK plugin's tests on the real Slurm and LXD.
#
# usage: tests/slurm/run.sh [TEST...]     (default: every tests/slurm/*.sh)
#
# Sets up once: the test template dir, the test user, and Slurm with the
# built drover.so (scripts/slurm-setup.sh). Each test is a script that
# exits 0 pass, 1 fail, 77 skip. The last line is "N passed, M failed"
# (skips are listed above it). Exit status 0 only if nothing failed, at
# least one test passed, and, under CI=true, nothing skipped and Slurm was
# set up (by hand a skip is allowed, loudly).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

ci=no; [ "${CI:-}" = true ] && ci=yes
setup_failed=""
need_root
if command -v sbatch >/dev/null && [ -f "$DROVER_SO" ]; then
  make_template_dir
  make_user
  if ! setup_out=$("$TOP/scripts/slurm-setup.sh" --plugin "$DROVER_SO" --args "$BASE_ARGS" 2>&1); then
    echo "$setup_out" | tail -n 20 | sed 's/^/  slurm-setup: /'
    setup_failed="slurm-setup.sh failed"
  fi
else
  setup_failed="no sbatch or no $DROVER_SO: Slurm not set up"
fi
if [ -n "$setup_failed" ]; then
  echo "run.sh: $setup_failed"
  # Every test would skip or fail for the wrong reason; that is no result.
  [ $ci = yes ] && { echo "0 passed, 1 failed"; exit 1; }
fi

if [ $# -gt 0 ]; then tests=$*; else
  tests=$(cd "$here" && ls *.sh | grep -v -e '^run.sh$' -e '^lib.sh$')
fi
passed=0; failed=0; skipped=0; failed_names=""; skipped_names=""
for t in $tests; do
  t=${t%.sh}
  start=$(date +%s)
  out=$(sh "$here/$t.sh" 2>&1); rc=$?
  echo "$out" | sed 's/^/  /'
  case $rc in
    0) passed=$((passed + 1)) ;;
    77) skipped=$((skipped + 1)); skipped_names="$skipped_names $t" ;;
    *) failed=$((failed + 1)); failed_names="$failed_names $t" ;;
  esac
  echo "== $t: rc=$rc ($(( $(date +%s) - start ))s)"
done
# Leave the cluster as the tests expect to find it.
if [ -z "$setup_failed" ]; then
  "$TOP/scripts/slurm-setup.sh" --plugin "$DROVER_SO" --args "$BASE_ARGS" >/dev/null 2>&1 ||
    { echo "run.sh: restoring the Slurm setup failed"; failed=$((failed + 1)); failed_names="$failed_names (restore)"; }
fi
if [ $skipped -gt 0 ]; then
  echo "SKIPPED ($skipped):$skipped_names"
  # Under CI a skip hides a broken feature: count it as a failure.
  [ $ci = yes ] && { failed=$((failed + skipped)); failed_names="$failed_names$skipped_names"; }
fi
[ $passed -eq 0 ] && [ $skipped -eq 0 ] && { failed=$((failed + 1)); failed_names="$failed_names (no test ran)"; }
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
