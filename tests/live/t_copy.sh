#!/bin/sh
# `lxc copy` of a drover instance keeps its user.drover.* labels, so two
# instances claim one address. The original must survive every command
# (same volatile.uuid, a file written inside still there), and the copy is
# shown as a copy and left alone, also by destroy.
STACK=lt-copy
. "$(dirname "$0")/lib.sh"
preflight

# Instances only: a copy also uses the original's profiles, and LXD then
# refuses to delete those (destroy says so and exits 1).
T=$TPL/many.json
A="-t $T --stack $STACK --var replicas=1"
ORIG=$STACK-node-0
COPY=$STACK-copy

run apply $A --yes
expect_rc "apply of a 1-replica template" 0
uuid=$(instance_json "$ORIG" | jq -r '.config["volatile.uuid"]')
check "the original has a volatile.uuid" test -n "$uuid" -a "$uuid" != null
check "write a marker file inside the original" \
  lxc exec "$ORIG" -- sh -c 'echo precious > /root/marker'
check "lxc copy $ORIG $COPY (stopped copy, labels kept)" lxc copy "$ORIG" "$COPY"
check "LXD: the copy carries the original's address label" \
  test "$(instance_json "$COPY" | jq -r '.config["user.drover.address"]')" = "node[0]"

run plan $A --detailed-exitcode
expect_rc "plan with a copy present: no changes" 0
check "plan text lists the copy as left alone" \
  grep -F "! node[0] (lxd.instance) copy: \"$COPY\"" "$TMP/out"
run plan $A --json
check "plan --json marks the copy (copy: true, its name, no-op)" \
  jqt --arg c "$COPY" '[.resources[] | select(.copy == true and .name == $c
    and .action == "no-op" and .address == "node[0]")] | length == 1' "$TMP/out"
check "plan --json: the original is a no-op, nothing to delete or replace" \
  jqt '[.resources[] | select(.action != "no-op")] | length == 0' "$TMP/out"

run apply $A --yes
expect_rc "apply with a copy present" 0
check "LXD: the original kept its volatile.uuid" \
  test "$(instance_json "$ORIG" | jq -r '.config["volatile.uuid"]')" = "$uuid"
check "LXD: the marker file inside the original survived" \
  test "$(lxc exec "$ORIG" -- cat /root/marker)" = precious
check "LXD: the copy still exists" test "$(instance_status "$COPY")" != null

run destroy $A --yes
expect_rc "destroy with a copy present" 0
gone() { ! api GET "/1.0/instances/$1" | jq -e '.metadata.name' >/dev/null 2>&1; }
check "LXD: the original is gone" gone "$ORIG"
check "LXD: destroy left the copy alone" test "$(instance_status "$COPY")" = Stopped
check "destroy printed the copy as left alone" grep -F "$COPY" "$TMP/out"

# The copy alone: the next apply creates the real node[0] beside it.
run apply $A --yes
expect_rc "apply with only the copy present" 0
check "LXD: node[0] was created again under its own name" \
  test "$(instance_status "$ORIG")" = Running
check "LXD: the copy is still there" test "$(instance_status "$COPY")" = Stopped
check "LXD: the new original is not the old one" \
  test "$(instance_json "$ORIG" | jq -r '.config["volatile.uuid"]')" != "$uuid"

finish
