#!/bin/sh
# daemon_exec.sh - scripts/daemon-exec: a daemon that a launcher starts
# under flock (as `flock /tmp/drover-live.lock scripts/...` starts lxd or
# slurmctld) must not keep the lock once the launcher is done. A dummy
# daemon (sleep) on a temp lock; the same launch without the helper is
# the control that shows the check can fail.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
helper=$here/../scripts/daemon-exec
tmp=$(mktemp -d)
cleanup() {
  for f in "$tmp"/pid.*; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail() { echo "daemon_exec: FAIL: $*"; exit 1; }

# launch NAME [HELPER]: under flock on $tmp/lock, a launcher starts
# `sleep 300` in the background (through HELPER if given), records its pid
# in $tmp/pid.NAME and exits; flock returns once the launcher has.
launch() {
  flock "$tmp/lock" sh -c '
    name=$1; shift
    "$@" sleep 300 </dev/null >/dev/null 2>&1 &
    echo $! >"$0/pid.$name"' "$tmp" "$@"
}

[ -x "$helper" ] || fail "$helper is not executable"

launch plain env
kill -0 "$(cat "$tmp/pid.plain")" || fail "control: the dummy daemon is not running"
if flock -n "$tmp/lock" true; then
  fail "control: the lock is free though the daemon inherited its fd (the check cannot fail)"
fi
kill "$(cat "$tmp/pid.plain")"
rm -f "$tmp/pid.plain"
# The lock is free once the daemon that held it is gone (flock -w: the
# kill is delivered, the exit and the release follow).
flock -w 30 "$tmp/lock" true || fail "control: the lock stayed held after the daemon died"

launch helped "$helper"
kill -0 "$(cat "$tmp/pid.helped")" || fail "the daemon started through daemon-exec is not running"
flock -n "$tmp/lock" true || fail "the daemon started through daemon-exec holds the launcher's lock"
kill -0 "$(cat "$tmp/pid.helped")" || fail "the daemon stopped running"
echo "daemon_exec: ok: a daemon started through daemon-exec leaves the launcher's lock free and keeps running"
