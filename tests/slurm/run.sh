#!/bin/sh
# run.sh - the SPANK plugin's tests on the real Slurm and LXD.
#
# usage: tests/slurm/run.sh [TEST...]     (default: every tests/slurm/*.sh)
#
# Sets up once: the test template dir, the test user, and Slurm with the
# built drover.so (scripts/slurm-setup.sh). Each test is a script that
# exits 0 pass, 1 fail, 77 skip. The last line is "N passed, M failed"
# (skips are listed above it). Exit status 0 only if nothing failed.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

need_root
if command -v sbatch >/dev/null && [ -f "$DROVER_SO" ]; then
  make_template_dir
  make_user
  "$TOP/scripts/slurm-setup.sh" --plugin "$DROVER_SO" --args "$BASE_ARGS" >/dev/null 2>&1 ||
    echo "run.sh: slurm-setup.sh failed; Slurm tests will skip or fail"
fi

if [ $# -gt 0 ]; then tests=$*; else
  tests=$(cd "$here" && ls *.sh | grep -v -e '^run.sh$' -e '^lib.sh$')
fi
passed=0; failed=0; skipped=0; failed_names=""
for t in $tests; do
  t=${t%.sh}
  start=$(date +%s)
  out=$(sh "$here/$t.sh" 2>&1); rc=$?
  echo "$out" | sed 's/^/  /'
  case $rc in
    0) passed=$((passed + 1)) ;;
    77) skipped=$((skipped + 1)) ;;
    *) failed=$((failed + 1)); failed_names="$failed_names $t" ;;
  esac
  echo "== $t: rc=$rc ($(( $(date +%s) - start ))s)"
done
# Leave the cluster as the tests expect to find it.
"$TOP/scripts/slurm-setup.sh" --plugin "$DROVER_SO" --args "$BASE_ARGS" >/dev/null 2>&1 || true
[ $skipped -gt 0 ] && echo "$skipped skipped"
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
