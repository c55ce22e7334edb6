#!/bin/sh
# run.sh - every live test against the real LXD, one after another.
# Each t_*.sh prints "ok - ..." / "not ok - ..." per check; this adds them
# up. A test script that fails without a "not ok" line (a crash) counts as
# one failure. Ends with one line: "N passed, M failed".
#
# Usage: tests/live/run.sh [t_NAME...]   (default: all t_*.sh)
# Needs: a built drover (DROVER=... to override), LXD up
# (scripts/lxd-setup.sh), curl, jq.
HERE=$(cd "$(dirname "$0")" && pwd)
passed=0
failed=0

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
  sh "$t" 2>&1 | tee "$log"
  p=$(grep -c '^ok - ' "$log")
  f=$(grep -c '^not ok - ' "$log")
  if ! grep -q "^# $name: [0-9]* checks, 0 failed$" "$log" && [ "$f" -eq 0 ]; then
    echo "not ok - $name: the script ended without its summary line"
    f=1
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  rm -f "$log"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
