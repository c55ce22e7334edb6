#!/bin/sh
# Errors that need the cloud: a missing LXD project, apply without a TTY
# and without --yes, an unreachable LXD.
STACK=lt-errors
. "$(dirname "$0")/lib.sh"
preflight

run plan "$TPL/noproject.json" --stack "$STACK"
expect_rc "plan against a missing LXD project is an error" 1
check "the error names the project" grep -q 'drover-live-no-such-project' "$TMP/err"
run apply "$TPL/noproject.json" --stack "$STACK" --yes
expect_rc "apply against a missing LXD project is an error" 1
check "nothing was created in the default project" test -z "$(named_instances)"
check "the project was not created behind our back" \
  test "$(api GET /1.0/projects/drover-live-no-such-project | jq -r .error_code)" = 404

run apply -t "$TPL/basic.json" --stack "$STACK" --var replicas=1
expect_rc "apply without --yes and without a TTY is refused" 1
check "the refusal says to pass --yes" grep -q -- '--yes' "$TMP/err"
check "apply did not prompt without a TTY" sh -c "! grep -q 'Apply these changes' '$TMP/out'"
check "nothing was created" test -z "$(labelled_all)"

RUN_ENV=LXD_SOCKET=/nonexistent/lxd.socket
run plan -t "$TPL/basic.json" --stack "$STACK"
RUN_ENV=
expect_rc "plan with an unreachable LXD is an error" 1
check "the error names the socket or LXD" grep -Eiq 'lxd|socket' "$TMP/err"

run plan -t "$TPL/basic.json" --stack "$STACK" --log-json -v
expect_rc "plan with --log-json -v" 0
check "every stderr line is a JSON log object" \
  sh -c "[ ! -s '$TMP/err' ] || jq -e -s 'all(has(\"level\") and has(\"msg\"))' '$TMP/err' >/dev/null"

run plan "$TPL/noproject.json" --stack "$STACK" --log-json
expect_rc "plan --log-json against a missing project" 1
check "the error is a JSON log line with level error" \
  jqt -s 'length >= 1 and all(.level == "error") and any(.msg | test("no-such-project"))' "$TMP/err"

finish
