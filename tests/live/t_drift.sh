#!/bin/sh
# Out-of-band changes through the LXD API show as drift with a reason, and
# apply puts them back.
STACK=lt-drift
. "$(dirname "$0")/lib.sh"
preflight

T=$TPL/basic.json
A="-t $T --stack $STACK --var replicas=2"
run apply $A --yes
expect_rc "apply of a 2-replica template" 0
prof=$(labelled_profiles | awk '{print $2}')

check "out-of-band: PATCH node[0] config user.index=99" \
  api_wait PATCH "/1.0/instances/$STACK-node-0" '{"config":{"user.index":"99"}}'
check "out-of-band: stop node[1]" \
  api_wait PUT "/1.0/instances/$STACK-node-1/state" '{"action":"stop","force":true,"timeout":30}'
check "out-of-band: PATCH the profile's limits.processes" \
  api_wait PATCH "/1.0/profiles/$prof" '{"config":{"limits.processes":"50"}}'
check "LXD shows node[1] stopped" test "$(instance_status "$STACK-node-1")" = Stopped

run plan $A --detailed-exitcode
expect_rc "plan sees drift (detailed exit code 2)" 2
cp "$TMP/out" "$TMP/plan.txt"
check "plan names node[0] and why (user.index)" \
  sh -c "grep -F 'node[0]' '$TMP/plan.txt' >/dev/null && grep -F 'user.index' '$TMP/plan.txt' >/dev/null"
check "plan names node[1] and why (state)" \
  sh -c "grep -F 'node[1]' '$TMP/plan.txt' >/dev/null && grep -Ei 'state|stopped' '$TMP/plan.txt' >/dev/null"
check "plan names the profile and why (limits.processes)" \
  grep -F 'limits.processes' "$TMP/plan.txt"
check "drift is updated in place, not replaced" \
  grep -q '^Plan: 0 to create, 3 to update, 0 to replace, 0 to delete\.$' "$TMP/plan.txt"

run plan $A --json
check "plan --json parses and gives node[0] a reason" \
  jqt '.resources[] | select(.address == "node[0]") | .action == "update" and (.reason | length > 0)' "$TMP/out"

run apply $A --yes
expect_rc "apply corrects the drift" 0
check "apply summary: 3 updated" \
  grep -q '^Apply complete: 0 created, 3 updated, 0 replaced, 0 deleted\.$' "$TMP/out"
check "LXD: node[0] user.index is idx-0 again" \
  test "$(api GET "/1.0/instances/$STACK-node-0" | jq -r '.metadata.config["user.index"]')" = idx-0
check "LXD: node[1] is running again" test "$(instance_status "$STACK-node-1")" = Running
check "LXD: the profile has limits.processes 100 again" \
  test "$(api GET "/1.0/profiles/$prof" | jq -r '.metadata.config["limits.processes"]')" = 100
check "the instances were updated, not recreated (same count, same names)" \
  test "$(labelled_instances | awk '{print $2}' | tr '\n' ' ')" = "$STACK-node-0 $STACK-node-1 "

run plan $A --detailed-exitcode
expect_rc "plan after the fix has no changes" 0

# A labelled object whose address is no longer in the template is an
# orphan; one created out of band with our labels must be deleted.
check "out-of-band: create an instance labelled node[7] of the stack" \
  api_wait POST /1.0/instances "{\"name\":\"$STACK-stray\",\"source\":{\"type\":\"image\",\"alias\":\"busybox\"},\"config\":{\"user.drover.stack\":\"$STACK\",\"user.drover.address\":\"node[7]\"}}"
run plan $A --detailed-exitcode
expect_rc "plan sees the orphan" 2
check "plan deletes node[7]" grep -Eq 'node\[7\]' "$TMP/out"
run apply $A --yes
expect_rc "apply deletes the orphan" 0
check "LXD: the stray instance is gone" \
  test "$(api GET "/1.0/instances/$STACK-stray" | jq -r .error_code)" = 404

finish
