# lib.sh - sourced by the live tests (tests/live/t_*.sh). POSIX sh.
#
# Each test sets STACK (unique per test) before sourcing, runs checks
# with check/ok/notok (one line each: "ok - ..." / "not ok - ..."), and
# ends with finish, which cleans up and exits non-zero on any failure.
# The truth is read from the LXD API over its unix socket with curl, not
# only from drover.
#
# Environment: DROVER (the command; default: the in-tree build), LIVE_DIR
# (this folder, where a POSIX sh sources this file from outside a test),
# LXD_SOCKET (default /var/lib/lxd/unix.socket), LIVE_KEEP=1 keeps the
# stack and temp files for a post-mortem.

set -u
# HERE: this file's folder (tests/live). bash names the file it sources
# (BASH_SOURCE); a POSIX sh does not, so there $0 must be a test beside
# this file (sh tests/live/t_x.sh). Sourced from elsewhere (sh -c '. ...'),
# $0 says nothing: then LIVE_DIR, or ./tests/live from the top of a checkout.
if [ -n "${LIVE_DIR:-}" ]; then
  HERE=$LIVE_DIR
elif [ -n "${BASH_VERSION:-}" ]; then
  eval 'HERE=$(dirname "${BASH_SOURCE[0]}")'
elif [ -f "$(dirname "$0")/jq.sh" ]; then
  HERE=$(dirname "$0")
else
  HERE=tests/live
fi
if [ ! -f "$HERE/jq.sh" ] || ! HERE=$(cd "$HERE" && pwd); then
  echo "lib.sh: cannot tell where tests/live is (tried '$HERE'); set LIVE_DIR" >&2
  exit 2
fi
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
# The stack's lease in LXD (profile drover-lock-<stack>): short, so a run
# after a kill -9 waits seconds, not the default 30 + 10, for the dead
# holder's lease to run out.
export DROVER_LOCK_LEASE="${DROVER_LOCK_LEASE:-3}" DROVER_LOCK_SKEW="${DROVER_LOCK_SKEW:-1}"

checks=0
failures=0

ok() { checks=$((checks + 1)); echo "ok - $TEST: $*"; }
notok() {
  checks=$((checks + 1)); failures=$((failures + 1))
  echo "not ok - $TEST: $*"
}
# check DESCRIPTION COMMAND...: one line, pass when the command succeeds.
# A check during which an LXD query failed (see api_get) fails.
check() {
  _desc=$1; shift
  if "$@"; then
    if api_errors_seen; then notok "$_desc (an LXD query failed)"; else ok "$_desc"; fi
  else
    api_errors_seen; notok "$_desc"
  fi
}
api_errors_seen() {
  [ -s "$API_ERRORS" ] || return 1
  sed 's/^/#   LXD API error: /' "$API_ERRORS"; : >"$API_ERRORS"
  return 0
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

# api_get PATH: a GET whose reply must be LXD's {"type":"sync",
# "status_code":200}; the body on stdout. Anything else (curl failed, an
# error reply, not JSON) is recorded in $TMP/api-errors, which makes the
# next check fail however its own test came out: a failed query must
# never read as "nothing there".
API_ERRORS=$TMP/api-errors
api_get() {
  _b=$(curl -sS --max-time 120 --unix-socket "$SOCK" "http://lxd$1" 2>&1)
  _c=$?
  if [ "$_c" -ne 0 ]; then api_failed "GET $1: curl exit $_c: $_b"; return 1; fi
  if ! printf '%s' "$_b" | jq -e '.type == "sync" and .status_code == 200' >/dev/null 2>&1; then
    api_failed "GET $1: not a sync 200 reply: $(printf '%s' "$_b" | head -c 300)"
    return 1
  fi
  printf '%s\n' "$_b"
}
api_failed() { echo "$*" >>"$API_ERRORS"; echo "# $TEST: LXD API: $*" >&2; }
# api_jq PATH FILTER [jq args...]: api_get piped into jq -r, both checked.
# On failure prints a line no real name or address has, so that an
# emptiness or equality test cannot pass by accident.
api_jq() {
  _p=$1; _f=$2; shift 2
  _b=$(api_get "$_p") || { echo "!api-error"; return 1; }
  _o=$(printf '%s' "$_b" | jq -r "$@" "$_f" 2>&1) ||
    { api_failed "GET $_p: jq failed on the reply: $_o"; echo "!api-error"; return 1; }
  [ -z "$_o" ] || printf '%s\n' "$_o"
}

# The drover ownership labels live in config as user.drover.<key>.
# labelled_instances [STACK]: "address name" lines of instances labelled
# with the stack, sorted.
LABELLED='.metadata[] | select(.config["user.drover.stack"] == $s)
      | "\(.config["user.drover.address"] // "-") \(.name)"'
labelled_instances() {
  api_jq "/1.0/instances?recursion=1" "$LABELLED" --arg s "${1:-$STACK}" | sort
}
labelled_profiles() {
  api_jq "/1.0/profiles?recursion=1" "$LABELLED" --arg s "${1:-$STACK}" | sort
}
labelled_volumes() {
  api_jq "/1.0/storage-pools/$POOL/volumes/custom?recursion=1" "$LABELLED" --arg s "${1:-$STACK}" | sort
}
# Everything labelled with the stack, any type.
labelled_all() {
  { labelled_instances "$@"; labelled_profiles "$@"; labelled_volumes "$@"; } | sort
}
# Instances whose name starts with the stack's prefix, labelled or not
# (a create interrupted before its labels were written would show here).
named_instances() {
  api_jq "/1.0/instances?recursion=0" '.metadata[] | select(startswith($p))
      | ltrimstr("/1.0/instances/")' --arg p "/1.0/instances/${1:-$STACK}-" | sort
}
# Profiles whose name starts with the stack's prefix, labelled or not (a
# drover that failed to label, or a run killed at the wrong moment).
named_profiles() {
  api_jq "/1.0/profiles?recursion=0" '.metadata[] | select(startswith($p))
      | ltrimstr("/1.0/profiles/")' --arg p "/1.0/profiles/${1:-$STACK}-" | sort
}
instance_json() { api_jq "/1.0/instances/$1" .metadata; }
instance_status() { api_jq "/1.0/instances/$1" .metadata.status; }

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
  for n in $(labelled_profiles | awk '{print $2}') $(named_profiles); do
    api DELETE "/1.0/profiles/$n" >/dev/null 2>&1
  done
  for n in $(labelled_volumes | awk '{print $2}'); do
    api_wait DELETE "/1.0/storage-pools/$POOL/volumes/custom/$n" >/dev/null 2>&1
  done
  # A lease a killed drover left (it would run out by itself).
  api DELETE "/1.0/profiles/drover-lock-$STACK" >/dev/null 2>&1
}

finish() {
  trap - EXIT INT TERM
  # A query failed after the last check (a wait loop, a count kept for
  # later): that is a failure too.
  if api_errors_seen; then notok "an LXD query failed"; fi
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

# jqt: tests/live/jq.sh
. "$HERE/jq.sh"
