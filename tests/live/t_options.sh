#!/bin/sh
# Documented command options on the real LXD: version --json, --quiet,
# plan --destroy, graph --plan, --parallelism, --op-timeout with
# --max-retries (and the recovery after it), SIGINT mid-apply, and the
# DROVER_LXD_* variables.
STACK=lt-options
. "$(dirname "$0")/lib.sh"
preflight

T=$TPL/basic.json
M=$TPL/many.json
A="-t $T --stack $STACK --var replicas=2"
TLS=${LXD_TLS_DIR:-/var/lib/lxd-drover-tls}
HTTPS=${LXD_HTTPS_ADDR:-127.0.0.1:8443}

# ---- version --json ------------------------------------------------------
run version
v=$(sed -n 's/^drover \([0-9][^ ]*\).*/\1/p' "$TMP/out")
run version --json
check "version --json: an object whose version is the one 'version' prints ($v)" \
  jqt --arg v "$v" '.version == $v and ($v | length) > 0' "$TMP/out"

# ---- --quiet -----------------------------------------------------------
run apply $A --yes --quiet
expect_rc "apply --quiet" 0
check "apply --quiet prints nothing on stdout or stderr" \
  sh -c 'test ! -s "$1" && test ! -s "$2"' sh "$TMP/out" "$TMP/err"
check "LXD: it did apply (base, node[0], node[1])" \
  test "$(labelled_all | awk '{print $1}' | tr '\n' ' ')" = "base node[0] node[1] "
RUN_ENV=DROVER_LXD_PROJECT=drover-live-options-no-project
run plan $A --quiet
RUN_ENV=
expect_rc "plan --quiet against a missing project fails" 1
check "--quiet still prints the error, naming the project" \
  grep -q 'drover-live-options-no-project' "$TMP/err"

# ---- plan --destroy, graph --plan ----------------------------------------
run plan $A --destroy --detailed-exitcode
expect_rc "plan --destroy has changes (detailed exit code 2)" 2
check "plan --destroy: 3 to delete, nothing else" \
  grep -q '^Plan: 0 to create, 0 to update, 0 to replace, 3 to delete\.$' "$TMP/out"
run plan $A --destroy --json
check "plan --destroy --json: every resource is a delete" \
  jqt '[.resources[].action] | length == 3 and all(. == "delete")' "$TMP/out"
check "plan --destroy deleted nothing" test "$(labelled_all | wc -l)" -eq 3
run graph -t "$T" --stack "$STACK" --var replicas=3 --plan
expect_rc "graph --plan" 0
check "graph --plan: node[2] is to be created, base and node[0..1] stay" sh -c '
  grep -Fq "\"node[2]\" [label=\"node[2]\\nlxd.instance\\ncreate\"" "$1" &&
  for r in base "node[0]" "node[1]"; do grep -F "\"$r\" [label=" "$1" | grep -Fq "no-op" || exit 1; done' \
  sh "$TMP/out"
run graph -t "$T" --stack "$STACK" --var replicas=2 --plan --destroy
check "graph --plan --destroy: every node is a delete" sh -c '
  test "$(grep -c "\[label=" "$1")" -eq 3 && test "$(grep "\[label=" "$1" | grep -c "\\\\ndelete\"")" -eq 3' \
  sh "$TMP/out"
run destroy $A --yes
expect_rc "destroy" 0

# ---- --parallelism -------------------------------------------------------
# With --parallelism 1 each instance is created and started before the
# next create begins: in LXD's own timestamps, every created_at comes
# after the previous instance's last start.
run apply -t "$M" --stack "$STACK" --var replicas=4 --yes --parallelism 1
expect_rc "apply of 4 instances with --parallelism 1" 0
check "LXD: each create began after the previous instance had started" \
  test "$(api_jq "/1.0/instances?recursion=1" '
    def ts: capture("^(?<s>[^.]+?)(\\.(?<f>[0-9]+))?(?<z>Z|[+-][0-9:]+)$")
      | ((.s + "Z") | fromdateiso8601) + ((("0." + (.f // "0")) | tonumber));
    [.metadata[] | select(.config["user.drover.stack"] == $s)
     | {c: (.created_at | ts), u: (.last_used_at | ts)}] | sort_by(.c)
    | [range(1; length) as $i | .[$i].c > .[$i - 1].u] | length == 3 and all' --arg s "$STACK")" = true
run destroy -t "$M" --stack "$STACK" --var replicas=4 --yes
expect_rc "destroy" 0

# ---- --op-timeout and --max-retries --------------------------------------
# A deadline far below LXD's create time: every attempt of node[0] times
# out. It is retried exactly --max-retries times, then the apply fails;
# LXD finishes the create anyway, and the next apply adopts it.
run apply -t "$T" --stack "$STACK" --var replicas=1 --yes --op-timeout 0.001 --max-retries 2
expect_rc "apply with --op-timeout 0.001 fails" 1
check "node[0] was retried exactly twice (retry 1/2, 2/2)" sh -c '
  test "$(grep -c "node\[0\]: retry [0-9]/2" "$1")" -eq 2 &&
  grep -q "node\[0\]: retry 1/2" "$1" && grep -q "node\[0\]: retry 2/2" "$1"' sh "$TMP/err"
check "the failure is a timeout of node[0]" grep -Eiq 'node\[0\].*(timeout|timed out|deadline)' "$TMP/err"
# --max-retries 0: no retry at all (0 is not "unset").
run apply -t "$T" --stack "$STACK" --var replicas=1 --yes --op-timeout 0.001 --max-retries 0
expect_rc "apply with --max-retries 0 fails" 1
check "--max-retries 0: node[0] never retried" sh -c '! grep -q "node\[0\]: retry" "$1"' sh "$TMP/err"
run apply -t "$T" --stack "$STACK" --var replicas=1 --yes --op-timeout 0.001 --max-retries 1
check "--max-retries 1: node[0] retried exactly once" sh -c '
  test "$(grep -c "node\[0\]: retry [0-9]/1" "$1")" -eq 1' sh "$TMP/err"
run apply -t "$T" --stack "$STACK" --var replicas=1 --yes
expect_rc "apply with the default timeout recovers" 0
check "LXD: exactly one instance, node[0], labelled and running" \
  test "$(named_instances | tr '\n' ' ')$(labelled_instances | awk '{print $1}')$(instance_status "$STACK-node-0")" = \
       "$STACK-node-0 node[0]Running"
run destroy -t "$T" --stack "$STACK" --var replicas=1 --yes
expect_rc "destroy" 0

# ---- SIGINT mid-apply ------------------------------------------------------
"$DROVER" apply -t "$M" --stack "$STACK" --var replicas=6 --yes --parallelism 1 \
  >"$TMP/bg.out" 2>"$TMP/bg.err" </dev/null &
pid=$!
i=0
while [ "$(named_instances | wc -l)" -lt 1 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT "$pid"
wait "$pid"
rc=$?
check "SIGINT mid-apply exits 130 (got $rc)" test "$rc" -eq 130
check "it reports the interruption" grep -q '^Apply interrupted: .* 0 failed, [0-9]* not attempted\.$' "$TMP/bg.out"
n=$(named_instances | wc -l)
check "it stopped early ($n of 6)" test "$n" -ge 1 -a "$n" -lt 6
check "every instance present is complete (running)" \
  test "$(for x in $(named_instances); do instance_status "$x"; done | sort -u | tr '\n' ' ')" = "Running "
run destroy -t "$M" --stack "$STACK" --var replicas=6 --yes
expect_rc "destroy" 0

# ---- DROVER_LXD_* ---------------------------------------------------------
RUN_ENV="DROVER_LXD_URL=https://$HTTPS DROVER_LXD_CLIENT_CERT=$TLS/client.crt DROVER_LXD_CLIENT_KEY=$TLS/client.key DROVER_LXD_SERVER_CERT=$TLS/server.crt"
run apply $A --yes -v
RUN_ENV=
expect_rc "apply over HTTPS from DROVER_LXD_URL and the cert variables" 0
check "it talked to https://$HTTPS" grep -q "connected to https://$HTTPS" "$TMP/err"
check "LXD: the stack is there" test "$(labelled_all | wc -l)" -eq 3
RUN_ENV="DROVER_LXD_URL=https://$HTTPS DROVER_LXD_CLIENT_CERT=$TLS/client.crt DROVER_LXD_CLIENT_KEY=$TLS/client.key DROVER_LXD_SERVER_CERT=$TLS/client.crt"
run plan $A
RUN_ENV=
expect_rc "DROVER_LXD_SERVER_CERT pinning the wrong certificate fails" 1
check "the error is a TLS one naming the URL" grep -Eiq "https://$HTTPS.*(tls|ssl|certificate)|(tls|ssl|certificate).*https://$HTTPS" "$TMP/err"
RUN_ENV=DROVER_LXD_PROJECT=drover-live-options-no-project
run apply $A --yes
RUN_ENV=
expect_rc "DROVER_LXD_PROJECT overrides the template's project" 1
check "the error names the missing project" grep -q 'drover-live-options-no-project' "$TMP/err"

finish
