#!/bin/sh
# Saved plans: a fresh one applies as saved; one made stale by an
# out-of-band change is refused, naming the resource.
STACK=lt-stale
. "$(dirname "$0")/lib.sh"
preflight

T=$TPL/basic.json
run apply -t "$T" --stack "$STACK" --var replicas=2 --yes
expect_rc "apply of 2 replicas" 0

run plan -t "$T" --stack "$STACK" --var replicas=3 -o "$TMP/up.plan"
expect_rc "plan -o saves a plan for 3 replicas" 0
check "the saved plan file exists" test -s "$TMP/up.plan"
run apply "$TMP/up.plan"
expect_rc "apply of the fresh saved plan (no --yes needed)" 0
check "it created node[2] only" \
  grep -q '^Apply complete: 1 created, 0 updated, 0 replaced, 0 deleted\.$' "$TMP/out"
check "LXD holds node[0..2]" \
  test "$(labelled_instances | awk '{print $1}' | tr '\n' ' ')" = "node[0] node[1] node[2] "

run plan -t "$T" --stack "$STACK" --var replicas=2 -o "$TMP/down.plan"
expect_rc "plan -o saves a plan for 2 replicas" 0
check "out-of-band: PATCH node[1] config" \
  api_wait PATCH "/1.0/instances/$STACK-node-1" '{"config":{"user.index":"41"}}'
run apply "$TMP/down.plan"
expect_rc "apply of the stale plan is refused" 1
check "the refusal names node[1]" grep -F 'node[1]' "$TMP/err"
check "the refusal says the plan is stale" grep -Eiq 'stale|changed' "$TMP/err"
check "LXD: node[2] was not deleted by the stale plan" \
  test "$(instance_status "$STACK-node-2")" = Running
check "LXD: node[1] keeps the out-of-band value" \
  test "$(api GET "/1.0/instances/$STACK-node-1" | jq -r '.metadata.config["user.index"]')" = 41

run apply -t "$T" --stack "$STACK" --var replicas=2 --yes
expect_rc "a fresh apply from the template still works" 0
check "LXD holds node[0..1] with user.index restored" \
  test "$(labelled_instances | awk '{print $1}' | tr '\n' ' ')$(api GET "/1.0/instances/$STACK-node-1" | jq -r '.metadata.config["user.index"]')" = "node[0] node[1] idx-1"

finish
