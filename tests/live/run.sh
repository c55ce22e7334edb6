#!/bin/sh
# run.sh - every live test against the real LXD, one after another.
# Each t_*.sh prints "ok - ..." / "not ok - ..." per check; this adds them
# up. A test script that fails without a "not ok" line (a crash) counts as
# one failure. A script that exits 77 is a skip: loud by hand, a failure
# under CI=true; so is a run with no passing check at all. Ends with one
# line: "N passed, M failed".
#
# Usage: tests/live/run.sh [t_NAME...]   (default: all t_*.sh)
# Needs: a built drover (DROVER=... to override), LXD up
# (scripts/lxd-setup.sh), curl, jq.
HERE=$(cd "$(dirname "$0")" && pwd)
passed=0
failed=0
skipped=""

if [ $# -gt 0 ]; then
  tests=""
  for t in "$@"; do tests="$tests $HERE/$(basename "$t" .sh).sh"; done
else
  tests=$(ls "$HERE"/t_*.sh)
fi

for t in $tests; do
  name=$(basename "$t" .sh)
  echo "== $name"
  log=$(mktemp)
  { sh "$t" 2>&1; echo "== exit $?"; } | tee "$log"
  if grep -qx '== exit 77' "$log"; then
    skipped="$skipped $name"
    echo "SKIP - $name"
    [ "${CI:-}" = true ] && { echo "not ok - $name: skipped under CI=true"; failed=$((failed + 1)); }
    rm -f "$log"
    continue
  fi
  p=$(grep -c '^ok - ' "$log")
  f=$(grep -c '^not ok - ' "$log")
  if ! grep -q "^# $name: [0-9]* checks, 0 failed$" "$log" && [ "$f" -eq 0 ]; then
    echo "not ok - $name: the script ended without its summary line"
    f=1
  fi
  if ! grep -qx '== exit 0' "$log" && [ "$f" -eq 0 ]; then
    echo "not ok - $name: the script exited non-zero with no failed check"
    f=1
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  rm -f "$log"
done
[ -n "$skipped" ] && echo "SKIPPED:$skipped"
if [ "$passed" -eq 0 ] && [ -z "$skipped" ]; then
  echo "not ok - no check ran"; failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
