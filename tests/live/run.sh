#!/bin/sh
# run.sh - every live test against the real LXD, LIVE_JOBS at a time.
# Each t_*.sh prints "ok - ..." / "not ok - ..." per check; this adds them
# up. A test script that fails without a "not ok" line (a crash) counts as
# one failure. A script that exits 77 is a skip: loud by hand, a failure
# under CI=true; so is a run with no passing check at all. Ends with one
# line: "N passed, M failed".
#
# The tests spend most of their time waiting on LXD (instances starting
# and stopping, operations, retry back-off): the whole suite one at a
# time used 79 s of CPU in 348 s. Each has its own stack, lock directory
# and temporary files (lib.sh), so three run side by side by default. A
# test's output is printed whole when it ends. t_lease, eight applies
# racing for a 3 s lease, runs alone, first; then the longest tests
# (LONG), so the short ones fill in around them; then the rest.
#
# Usage: tests/live/run.sh [t_NAME...]   (default: all t_*.sh)
# Needs: a built drover (DROVER=... to override), LXD up
# (scripts/lxd-setup.sh), curl, jq. LIVE_JOBS=1: one test at a time.
HERE=$(cd "$(dirname "$0")" && pwd)
SOLO="t_lease"
LONG="t_faults t_export t_backup t_killloop"
JOBS=${LIVE_JOBS:-3}
case $JOBS in ''|*[!0-9]*|0) echo "run.sh: LIVE_JOBS must be a positive number" >&2; exit 2 ;; esac
passed=0
failed=0
skipped=""
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/drover-live-run.XXXXXX")
trap 'rm -rf "$LOGS"' EXIT
trap 'exit 130' INT TERM

if [ $# -gt 0 ]; then
  tests=""
  for t in "$@"; do tests="$tests $HERE/$(basename "$t" .sh).sh"; done
else
  tests=""
  for t in $SOLO $LONG; do [ -f "$HERE/$t.sh" ] && tests="$tests $HERE/$t.sh"; done
  for t in "$HERE"/t_*.sh; do
    case " $SOLO $LONG " in *" $(basename "$t" .sh) "*) ;; *) tests="$tests $t" ;; esac
  done
fi

is_solo() { case " $SOLO " in *" $1 "*) return 0 ;; esac; return 1; }

# tally NAME: prints the test's log and adds up its checks.
tally() {
  name=$1
  log=$LOGS/$1.log
  echo "== $name"
  cat "$log"
  if grep -qx '== exit 77' "$log"; then
    skipped="$skipped $name"
    echo "SKIP - $name"
    [ "${CI:-}" = true ] && { echo "not ok - $name: skipped under CI=true"; failed=$((failed + 1)); }
    return
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
}

# running: the names of the tests under way; solo: one of them runs alone.
running=""
solo=""
launch() {
  l=$(basename "$1" .sh)
  ( start=$(date +%s)
    sh "$1" >"$LOGS/$l.log" 2>&1
    echo "== exit $?" >>"$LOGS/$l.log"
    echo "== $l took $(( $(date +%s) - start )) s" >>"$LOGS/$l.log"
    : >"$LOGS/$l.done" ) &
  running="$running $l"
  if is_solo "$l"; then solo=$l; fi
}
reap() {
  still=""
  for r in $running; do
    if [ -e "$LOGS/$r.done" ]; then
      tally "$r"
      [ "$solo" = "$r" ] && solo=""
    else
      still="$still $r"
    fi
  done
  running=$still
}
count() { echo $#; }

for t in $tests; do
  next=$(basename "$t" .sh)
  # A solo test waits for the others to end; the others wait for it.
  while [ -n "$solo" ] || [ "$(count $running)" -ge "$JOBS" ] ||
        { is_solo "$next" && [ -n "$running" ]; }; do
    sleep 0.2
    reap
  done
  launch "$t"
done
while [ -n "$running" ]; do
  sleep 0.2
  reap
done
wait
[ -n "$skipped" ] && echo "SKIPPED:$skipped"
if [ "$passed" -eq 0 ] && [ -z "$skipped" ]; then
  echo "not ok - no check ran"; failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
