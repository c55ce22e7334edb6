# lib.sh - sourced by the live tests (tests/live/t_*.sh). POSIX sh.
#
# Each test sets STACK (unique per test) before sourcing, runs checks
# with check/ok/notok (one line each: "ok - ..." / "not ok - ..."), and
# ends with finish, which cleans up and exits non-zero on any failure.
# The truth is read from the LXD API over its unix socket with curl, not
# only from drover.
#
# Environment: DROVER (the command; default: the in-tree build),
# LXD_SOCKET (default /var/lib/lxd/unix.socket), LIVE_KEEP=1 keeps the
# stack and temp files for a post-mortem.

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
DROVER=${DROVER:-$TOP/drover}
SOCK=${LXD_SOCKET:-/var/lib/lxd/unix.socket}
TPL=$HERE/templates
TEST=$(basename "$0" .sh)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/drover-live.XXXXXX")
POOL=default
# Plain, predictable output; a private lock dir per test so a crashed
# earlier run never blocks this one.
export NO_COLOR=1
export DROVER_LOCK_DIR="$TMP/locks"
mkdir -p "$DROVER_LOCK_DIR"

checks=0
failures=0

ok() { checks=$((checks + 1)); echo "ok - $TEST: $*"; }
notok() {
  checks=$((checks + 1)); failures=$((failures + 1))
  echo "not ok - $TEST: $*"
}
# check DESCRIPTION COMMAND...: one line, pass when the command succeeds.
check() {
  _desc=$1; shift
  if "$@"; then ok "$_desc"; else notok "$_desc"; fi
}
# expect_rc DESCRIPTION WANT: checks $rc (from run) and shows stderr on failure.
expect_rc() {
  if [ "$rc" -eq "$2" ]; then ok "$1 (exit $rc)"
  else
    notok "$1 (exit $rc, want $2)"
    sed 's/^/#   stderr: /' "$TMP/err" | head -20
    sed 's/^/#   stdout: /' "$TMP/out" | head -20
  fi
}
diag() { echo "# $TEST: $*"; }

# run ARGS...: the drover command with stdin closed (no TTY), output in
# $TMP/out and $TMP/err, exit status in $rc. RUN_ENV="K=V ..." adds
# environment (sh does not reliably scope "K=V func" to a function).
RUN_ENV=
run() {
  env $RUN_ENV "$DROVER" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
  rc=$?
  return 0
}

# ---- LXD API -------------------------------------------------------------

# api METHOD PATH [JSON]: one request, the response body on stdout.
api() {
  if [ $# -ge 3 ]; then
    curl -sS --max-time 120 --unix-socket "$SOCK" -X "$1" \
      -H 'Content-Type: application/json' -d "$3" "http://lxd$2"
  else
    curl -sS --max-time 120 --unix-socket "$SOCK" -X "$1" "http://lxd$2"
  fi
}

# api_wait METHOD PATH [JSON]: as api, waiting for an async operation.
# Succeeds when the request (and operation) succeeded.
api_wait() {
  _resp=$(api "$@") || return 1
  _type=$(printf '%s' "$_resp" | jq -r .type)
  [ "$_type" = error ] && { diag "LXD: $(printf '%s' "$_resp" | jq -r .error)"; return 1; }
  if [ "$_type" = async ]; then
    _op=$(printf '%s' "$_resp" | jq -r .operation)
    _resp=$(api GET "$_op/wait?timeout=120") || return 1
    _st=$(printf '%s' "$_resp" | jq -r .metadata.status)
    [ "$_st" = Success ] || { diag "LXD operation: $(printf '%s' "$_resp" | jq -r '.metadata.err // .error')"; return 1; }
  fi
  return 0
}

# The drover ownership labels live in config as user.drover.<key>.
# labelled_instances [STACK]: "address name" lines of instances labelled
# with the stack, sorted.
labelled_instances() {
  api GET "/1.0/instances?recursion=1" |
    jq -r --arg s "${1:-$STACK}" '.metadata[]
      | select(.config["user.drover.stack"] == $s)
      | "\(.config["user.drover.address"] // "-") \(.name)"' | sort
}
labelled_profiles() {
  api GET "/1.0/profiles?recursion=1" |
    jq -r --arg s "${1:-$STACK}" '.metadata[]
      | select(.config["user.drover.stack"] == $s)
      | "\(.config["user.drover.address"] // "-") \(.name)"' | sort
}
labelled_volumes() {
  api GET "/1.0/storage-pools/$POOL/volumes/custom?recursion=1" |
    jq -r --arg s "${1:-$STACK}" '.metadata[]?
      | select(.config["user.drover.stack"] == $s)
      | "\(.config["user.drover.address"] // "-") \(.name)"' | sort
}
# Everything labelled with the stack, any type.
labelled_all() {
  { labelled_instances "$@"; labelled_profiles "$@"; labelled_volumes "$@"; } | sort
}
# Instances whose name starts with the stack's prefix, labelled or not
# (a create interrupted before its labels were written would show here).
named_instances() {
  api GET "/1.0/instances?recursion=0" |
    jq -r --arg p "/1.0/instances/${1:-$STACK}-" '.metadata[] | select(startswith($p))
      | ltrimstr("/1.0/instances/")' | sort
}
instance_json() { api GET "/1.0/instances/$1" | jq .metadata; }
instance_status() { api GET "/1.0/instances/$1" | jq -r .metadata.status; }

# seq_addresses RESOURCE N: the addresses RESOURCE[0]..RESOURCE[N-1], sorted
# as labelled_instances sorts them.
seq_addresses() {
  _i=0
  while [ "$_i" -lt "$2" ]; do echo "$1[$_i]"; _i=$((_i + 1)); done | sort
}

# ---- cleanup -------------------------------------------------------------

# Removes whatever is labelled with the stack: first through drover, then,
# in case drover itself is what broke, by hand through the API.
force_cleanup() {
  "$DROVER" destroy --stack "$STACK" --yes --lock-timeout 30 >/dev/null 2>&1 </dev/null
  for n in $(labelled_instances | awk '{print $2}') $(named_instances); do
    api_wait PUT "/1.0/instances/$n/state" '{"action":"stop","force":true}' >/dev/null 2>&1
    api_wait DELETE "/1.0/instances/$n" >/dev/null 2>&1
  done
  for n in $(labelled_profiles | awk '{print $2}'); do
    api DELETE "/1.0/profiles/$n" >/dev/null 2>&1
  done
  for n in $(labelled_volumes | awk '{print $2}'); do
    api_wait DELETE "/1.0/storage-pools/$POOL/volumes/custom/$n" >/dev/null 2>&1
  done
}

finish() {
  trap - EXIT INT TERM
  if [ "${LIVE_KEEP:-0}" = 1 ]; then
    diag "kept stack $STACK and $TMP"
  else
    force_cleanup
    rm -rf "$TMP"
  fi
  diag "$checks checks, $failures failed"
  [ "$failures" -eq 0 ]
  exit $?
}

on_abort() {
  notok "aborted by a signal"
  finish
}
trap on_abort INT TERM

# Preconditions: the command is built and LXD answers.
preflight() {
  if [ ! -x "$DROVER" ]; then
    notok "drover command at $DROVER is built"; finish
  fi
  if ! api GET /1.0 2>/dev/null | jq -e '.metadata.api_version' >/dev/null 2>&1; then
    notok "LXD answers on $SOCK (run scripts/lxd-setup.sh)"; finish
  fi
  # A leftover from a crashed earlier run must not skew the counts.
  force_cleanup
}

# jqt FILTER FILE...: jq -e without output (a check that parses and tests).
jqt() { jq -e "$@" >/dev/null 2>&1; }
