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
# block ADDRESS: the plan text of one resource (its "~ ADDRESS" line and
# the indented lines under it), so a reason is tied to its resource.
block() {
  awk -v a="$1" '/^  [-+~!]/ { on = (index($0, "  ~ " a " (") == 1) } on' "$TMP/plan.txt"
}
check "plan: node[0] is updated because of its config, user.index 99 -> idx-0" \
  sh -c 'printf "%s\n" "$1" | grep -Fq "changed outside drover: \"config\"" &&
         printf "%s\n" "$1" | grep -Fq "~ config: {\"user.index\":\"99\"} -> {\"user.index\":\"idx-0\"}"' \
  sh "$(block 'node[0]')"
check "plan: node[1] is updated because of its state, stopped -> running" \
  sh -c 'printf "%s\n" "$1" | grep -Fq "changed outside drover: \"state\"" &&
         printf "%s\n" "$1" | grep -Fq "~ state: \"stopped\" -> \"running\""' sh "$(block 'node[1]')"
check "plan: the profile is updated because of limits.processes 50 -> 100" \
  sh -c 'printf "%s\n" "$1" | grep -Fq "\"limits.processes\":\"50\"" &&
         printf "%s\n" "$1" | grep -Fq "\"limits.processes\":\"100\""' sh "$(block base)"
check "drift is updated in place, not replaced" \
  grep -q '^Plan: 0 to create, 3 to update, 0 to replace, 0 to delete\.$' "$TMP/plan.txt"

run plan $A --json
check "plan --json: node[0] update, changed [config], user.index 99 -> idx-0" \
  jqt '[.resources[] | select(.address == "node[0]")] | length == 1 and (.[0] | .action == "update"
       and .changed == ["config"] and .before.config["user.index"] == "99"
       and .after.config["user.index"] == "idx-0" and (.reason | test("config")))' "$TMP/out"
check "plan --json: node[1] update, changed [state], stopped -> running" \
  jqt '.resources[] | select(.address == "node[1]") | .action == "update"
       and .changed == ["state"] and .before.state == "stopped" and .after.state == "running"' "$TMP/out"
check "plan --json: base update, changed [config]" \
  jqt '.resources[] | select(.address == "base") | .action == "update" and .changed == ["config"]' "$TMP/out"

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

# A key the template sets, removed out of band (the property is missing
# from the live object, not changed): that is drift too.
cfg=$(api_jq "/1.0/profiles/$prof" '.metadata.config | del(.["limits.processes"])' -c)
check "out-of-band: PUT the profile without limits.processes" \
  api_wait PUT "/1.0/profiles/$prof" "{\"config\":$cfg,\"description\":\"drover live test profile\",\"devices\":{}}"
check "LXD: the profile has no limits.processes" \
  test "$(api_jq "/1.0/profiles/$prof" '.metadata.config["limits.processes"] // "absent"')" = absent
run plan $A --json
check "plan --json: base update, changed [config], the key missing before" \
  jqt '.resources[] | select(.address == "base") | .action == "update" and .changed == ["config"]
       and (.before.config | has("limits.processes") | not) and .after.config["limits.processes"] == "100"' "$TMP/out"
run apply $A --yes
expect_rc "apply puts the missing key back" 0
check "LXD: the profile has limits.processes 100 again" \
  test "$(api_jq "/1.0/profiles/$prof" '.metadata.config["limits.processes"]')" = 100

# A labelled object whose address is no longer in the template is an
# orphan; one created out of band with our labels must be deleted.
check "out-of-band: create an instance labelled node[7] of the stack" \
  api_wait POST /1.0/instances "{\"name\":\"$STACK-stray\",\"source\":{\"type\":\"image\",\"alias\":\"busybox\"},\"config\":{\"user.drover.stack\":\"$STACK\",\"user.drover.address\":\"node[7]\"}}"
run plan $A --detailed-exitcode
expect_rc "plan sees the orphan" 2
check "plan deletes node[7] (a '-' line for it)" grep -Eq '^  - node\[7\] ' "$TMP/out"
run apply $A --yes
expect_rc "apply deletes the orphan" 0
check "LXD: the stray instance is gone" \
  test "$(api GET "/1.0/instances/$STACK-stray" | jq -r .error_code)" = 404

finish
