#!/bin/sh
# drift.policy and drover drift run: instances stopped and deleted out of
# band are reported with why; with auto_repair the next run repairs them;
# a stack whose template cannot be loaded is reported and left alone; a
# scheduled run calls the webhook (a loopback listener here) with a body
# that carries no secret, and writes the metrics textfile.
STACK=lt-driftpol
. "$(dirname "$0")/lib.sh"
preflight

B=$STACK-b
cp "$TPL/basic.json" "$TMP/$STACK.json"
echo '{"replicas": 2}' >"$TMP/$STACK.vars.json"
cat >"$TMP/policy.json" <<JSON
{
  "drover": 1,
  "stack": "$STACK-ops",
  "params": {"repair": {"type": "boolean", "default": false}},
  "providers": {"lxd": {"project": "default"}},
  "resources": {
    "check": {
      "type": "drift.policy",
      "properties": {
        "targets": ["$STACK", "$B"],
        "templates": ".",
        "schedule": "*/10 * * * *",
        "auto_repair": "\${params.repair}"
      }
    },
    "bylabel": {
      "type": "drift.policy",
      "properties": {"selector": {"stack": "$STACK*"}, "schedule": "@hourly"}
    }
  }
}
JSON

run apply -t "$TPL/basic.json" --stack "$STACK" --var replicas=2 --yes
expect_rc "apply the target stack (2 instances)" 0
run apply -t "$TPL/basic.json" --stack "$B" --var replicas=1 --yes
expect_rc "apply a second stack (1 instance)" 0
# B's template file is broken: B must be reported, never touched.
printf '{"drover": 1, "stack": ' >"$TMP/$B.json"

run drift run "$TMP/policy.json" check --json
expect_rc "drift run on fresh stacks fails only for the broken template" 1
check "fresh: $STACK clean, $B reported as unloadable" \
  jqt --arg s "$STACK" --arg b "$B" '.drifted == 0 and .errors == 1
       and (.stacks[] | select(.stack == $s) | .result == "clean")
       and (.stacks[] | select(.stack == $b) | .result == "error"
            and (.error | startswith("template cannot be loaded (stack left alone)")))' "$TMP/out"

check "out-of-band: stop $STACK-node-0" \
  api_wait PUT "/1.0/instances/$STACK-node-0/state" '{"action":"stop","force":true,"timeout":30}'
stop_delete() {
  api_wait PUT "/1.0/instances/$1/state" '{"action":"stop","force":true}' &&
    api_wait DELETE "/1.0/instances/$1"
}
check "out-of-band: stop and delete $STACK-node-1" stop_delete "$STACK-node-1"
prof=$(labelled_profiles | awk '{print $2}')
check "out-of-band: PATCH the profile's limits.processes" \
  api_wait PATCH "/1.0/profiles/$prof" '{"config":{"limits.processes":"50"}}'
only_node0() { test "$(labelled_instances | awk '{print $2}' | tr '\n' ' ')" = "$STACK-node-0 "; }
check "LXD: node-0 stopped, node-1 gone" only_node0
check "LXD: node-0 is Stopped" test "$(instance_status "$STACK-node-0")" = Stopped

run drift run "$TMP/policy.json" check --json
expect_rc "drift run reports (no repair without auto_repair; B still unloadable)" 1
check "report: node[0] stopped out of band, node[1] deleted out of band, base's config changed, 3 drifted" \
  jqt --arg s "$STACK" '.drifted == 3 and .repaired == 0 and (.stacks[] | select(.stack == $s)
       | .result == "drifted" and .drifted == 3
       and ([.resources[] | select(.address == "base" and .action == "update"
              and .why == "changed out of band: config")] | length == 1)
       and ([.resources[] | select(.address == "node[0]" and .action == "update"
              and .why == "stopped out of band" and .changed == ["state"])] | length == 1)
       and ([.resources[] | select(.address == "node[1]" and .action == "create"
              and (.why | startswith("deleted out of band")))] | length == 1))' "$TMP/out"
check "LXD: nothing repaired by a report-only run" test "$(instance_status "$STACK-node-0")" = Stopped
check "LXD: $B's instance is untouched" test "$(instance_status "$B-node-0")" = Running

# A loopback HTTP listener for the webhook: records each body, answers 200.
HOOK=$TMP/hook
node -e '
const fs = require("fs"), dir = process.argv[1];
let n = 0;
require("http").createServer((q, r) => {
  let b = "";
  q.on("data", d => b += d);
  q.on("end", () => { n++; fs.writeFileSync(dir + "/body." + n, b);
    fs.writeFileSync(dir + "/req." + n, q.method + " " + q.url + " " + q.headers["content-type"]);
    r.end("ok"); });
}).listen(0, "127.0.0.1", function () { fs.writeFileSync(dir + "/port", String(this.address().port)); });
' "$TMP" 2>"$TMP/node.err" &
NODE_PID=$!
deadline=$(( $(date +%s) + 20 ))
while [ ! -s "$TMP/port" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
check "the webhook listener is up" test -s "$TMP/port"
PORT=$(cat "$TMP/port" 2>/dev/null)

run schedule run "$TMP/policy.json" check --var repair=true --state-dir "$TMP/state" \
  --metrics-dir "$TMP/metrics" --webhook "http://127.0.0.1:$PORT/hook?token=s3cr3t-t0ken"
expect_rc "schedule run with auto_repair fails overall (B cannot be checked)" 1
check "LXD: node-0 is running again" test "$(instance_status "$STACK-node-0")" = Running
check "LXD: node-1 was recreated and runs" test "$(instance_status "$STACK-node-1")" = Running
check "one log line of result" \
  test "$(grep -c "^drover schedule: drover:$STACK-ops:check kind=drift .*result=failed .*drifted=3" "$TMP/err")" = 1
check "LXD: the profile has limits.processes 100 again" \
  test "$(api_jq "/1.0/profiles/$prof" '.metadata.config["limits.processes"]')" = 100
check "the webhook got one POST of JSON at /hook" \
  sh -c 'test "$(cat "$1/req.1")" = "POST /hook?token=s3cr3t-t0ken application/json" && test ! -e "$1/body.2"' sh "$TMP"
check "webhook body: failure event for the policy, 3 drifted, the error named" \
  jqt --arg p "$STACK-ops" '.event == "failure" and .stack == $p and .policy == "check"
       and .kind == "drift" and .ok == false and .drifted == 3
       and (.error | test("drift run"))' "$TMP/body.1"
check "webhook body carries no token" sh -c '! grep -q s3cr3t "$1"' sh "$TMP/body.1"
P="$TMP/metrics/drover_$STACK-ops_check.prom"
check "metrics: drifted_resources 3, last run failed, no last success yet" \
  sh -c 'grep -qx "drover_policy_drifted_resources{stack=\"$2-ops\",policy=\"check\",kind=\"drift\"} 3" "$1" &&
         grep -qx "drover_policy_last_run_success{stack=\"$2-ops\",policy=\"check\",kind=\"drift\"} 0" "$1" &&
         ! grep -q last_success_timestamp "$1"' sh "$P" "$STACK"
run schedule run "$TMP/policy.json" check --var repair=true --state-dir "$TMP/state" --metrics-dir "$TMP/metrics"
expect_rc "a second run in the same slot does nothing" 0
check "it says the slot was already run" grep -q "already run; nothing done" "$TMP/err"

run drift run "$TMP/policy.json" check --json
check "after the repair $STACK is clean" \
  jqt --arg s "$STACK" '.stacks[] | select(.stack == $s) | .result == "clean" and .drifted == 0' "$TMP/out"
check "LXD: $B's instance is still there and running" test "$(instance_status "$B-node-0")" = Running

run drift run "$TMP/policy.json" bylabel --json
check "a selector on the stack label finds both stacks (and not others)" \
  jqt --arg s "$STACK" --arg b "$B" '([.stacks[].stack] | sort) == ([$s, $b] | sort)
       and (.stacks[] | select(.stack == $s) | .result == "clean")' "$TMP/out"

kill "$NODE_PID" 2>/dev/null
run destroy -t "$TPL/basic.json" --stack "$B" --yes
expect_rc "destroy $B" 0
finish
