#!/bin/sh
# drover through tests/faultproxy, a fault-injecting proxy on a unix socket
# in front of LXD's. Each kind of fault (500, 503, 429 with Retry-After,
# resets, stalls past the request timeout, truncated bodies, invalid JSON,
# error envelopes in a 200, replies without metadata) is injected once,
# before LXD saw the request or after LXD acted on it, on the paths of an
# apply (from nothing) and of a destroy (from everything). Every one must
# end converged (exit 0 and LXD holding exactly the stack) or, for faults
# that never stop, with a clear error and LXD untouched: never a success
# that is not one. The truth is read from LXD directly, not through the
# proxy.
STACK=lt-faults
. "$(dirname "$0")/lib.sh"
preflight

T=$TPL/faults.json
A="-t $T --stack $STACK"
PROXY=$TOP/tests/faultproxy
PSOCK=$TMP/proxy.sock
PLOG=$TMP/proxy.log

if [ ! -x "$PROXY" ]; then
  make -C "$TOP" tests/faultproxy >/dev/null 2>&1
fi
if [ ! -x "$PROXY" ]; then
  notok "tests/faultproxy is built"; finish
fi

# proxy_start RULE...: a fresh proxy with these rules; waits (with a
# deadline) for its socket.
proxy_start() {
  rm -f "$PSOCK" "$PLOG"
  : >"$PLOG"
  "$PROXY" -l "$PSOCK" -u "$SOCK" -o "$PLOG" -s 5 "$@" 2>>"$TMP/proxy.err" &
  ppid=$!
  _end=$(( $(date +%s) + 10 ))
  while [ ! -S "$PSOCK" ] && [ "$(date +%s)" -lt "$_end" ]; do sleep 0.05; done
  [ -S "$PSOCK" ]
}
proxy_stop() {
  kill "$ppid" 2>/dev/null
  wait "$ppid" 2>/dev/null
}
# through CMD...: drover through the proxy (stdout/stderr in $TMP/out, err).
through() {
  RUN_ENV="LXD_SOCKET=$PSOCK" run "$@"
  RUN_ENV=
}

# The converged state, from a clean apply without the proxy.
run apply $A --yes
expect_rc "clean apply (no proxy) for the reference state" 0
labelled_all >"$TMP/want"
check "reference state: a profile, a volume and 2 instances" \
  test "$(wc -l <"$TMP/want")" -eq 4
run destroy $A --yes
expect_rc "clean destroy (no proxy)" 0

converged() {
  labelled_all >"$TMP/got"
  cmp -s "$TMP/got" "$TMP/want" &&
    test "$(named_instances | wc -l)" -eq 2 &&
    test "$(for n in $(named_instances); do instance_status "$n"; done | sort -u)" = Running
}
empty() {
  test -z "$(labelled_all)" && test -z "$(named_instances)"
}
landed() { test -s "$PLOG"; }

# scenario apply|destroy RULE: one fault on that command's path; the
# command must succeed and leave LXD converged (apply) or empty (destroy).
scenario() {
  _cmd=$1 _rule=$2
  if ! proxy_start "$_rule"; then notok "$_rule: proxy started"; return; fi
  through "$_cmd" $A --yes
  proxy_stop
  expect_rc "$_cmd through $_rule" 0
  check "$_rule: the fault was injected ($(head -n 1 "$PLOG"))" landed
  if [ "$_cmd" = apply ]; then
    check "$_rule: LXD holds exactly the stack, all running" converged
  else
    check "$_rule: LXD holds nothing of the stack" empty
  fi
}

# pair APPLY-RULE DESTROY-RULE
pair() {
  scenario apply "$1"
  scenario destroy "$2"
}

pair before:500:POST:/1.0/instances          before:500:DELETE:/1.0/instances/
pair before:503:POST:/1.0/profiles:2         before:503:DELETE:/1.0/profiles/:2
pair before:429:GET:/1.0/instances?          before:429:PUT:/1.0/instances/
pair before:reset:POST:/1.0/instances        before:reset:DELETE:/1.0/storage-pools/
pair after:reset:POST:/1.0/instances         after:reset:DELETE:/1.0/instances/
pair after:500:PUT:/1.0/instances/           after:500:PUT:/1.0/instances/
pair after:503:POST:/1.0/storage-pools/      after:503:DELETE:/1.0/profiles/
pair before:stall:GET:/1.0/instances?        after:stall:DELETE:/1.0/instances/
pair after:stall:POST:/1.0/profiles          after:reset:PUT:/1.0/instances/
pair after:truncate:GET:/1.0/operations/     after:truncate:GET:/1.0/instances?
pair after:badjson:POST:/1.0/instances       after:badjson:DELETE:/1.0/instances/
pair after:errenv:GET:/1.0/operations/       after:errenv:GET:/1.0/profiles?
pair after:nometa:GET:/1.0/instances/        after:nometa:GET:/1.0/instances?
pair before:errenv:POST:/1.0/instances       before:badjson:GET:/1.0/storage-pools/

# ---- faults that never stop: a clear error, and LXD untouched ----------
run apply $A --yes
expect_rc "apply (no proxy) before the persistent faults" 0

# persistent CMD RULE TEXT STATE: a fault on every matching request; CMD
# must fail, say TEXT, never print "complete", and STATE must hold.
persistent() {
  _cmd=$1 _rule=$2 _text=$3 _state=$4
  if ! proxy_start "$_rule"; then notok "$_rule: proxy started"; return; fi
  if [ "$_cmd" = plan ]; then through plan $A; else through "$_cmd" $A --yes; fi
  proxy_stop
  check "$_cmd through $_rule (every time) fails (exit $rc)" test "$rc" -ne 0
  check "$_rule: the error says what went wrong" grep -qi "$_text" "$TMP/err"
  check "$_rule: it never claimed completion" sh -c "! grep -q complete '$TMP/out'"
  check "$_rule: LXD: $_state" $_state
}
# A destroy that cannot delete instances still stops them first.
both_instances_there() { test "$(named_instances | wc -l)" -eq 2; }
persistent destroy after:errenv:GET:/1.0/instances?:1000 "carries an error" converged
persistent destroy after:nometa:GET:/1.0/profiles?:1000 "metadata" converged
persistent destroy after:badjson:GET:/1.0/storage-pools:1000 "not JSON" converged
persistent plan before:reset:GET:/1.0/instances?:1000 "lxd" converged
persistent destroy before:503:DELETE:/1.0/instances/:1000 "503\|unavailable\|gave up" \
  both_instances_there
run apply $A --yes
expect_rc "apply (no proxy) after the persistent faults" 0

run plan $A --detailed-exitcode
expect_rc "plan (no proxy) after the persistent faults: no changes" 0

finish
