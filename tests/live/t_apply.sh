#!/bin/sh
# Apply creates exactly the template's instances (checked through the LXD
# API); a second plan shows no changes; --json outputs parse; outputs and
# show agree with LXD; destroy leaves nothing labelled with the stack.
STACK=lt-apply
. "$(dirname "$0")/lib.sh"
preflight

T=$TPL/basic.json
run apply -t "$T" --stack "$STACK" --var replicas=3 --yes
expect_rc "apply of a 3-replica template" 0
check "apply printed the summary line" \
  grep -q '^Apply complete: 4 created, 0 updated, 0 replaced, 0 deleted\.$' "$TMP/out"
check "apply printed one plain progress line per resource" \
  test "$(grep -c ': creating\.\.\. done (' "$TMP/out")" -eq 4

labelled_instances | awk '{print $1}' >"$TMP/got"
seq_addresses 'node' 3 >"$TMP/want"
check "LXD holds exactly node[0..2] labelled with the stack" cmp -s "$TMP/got" "$TMP/want"
check "instance names are <stack>-node-<i>" \
  test "$(labelled_instances | awk '{print $2}' | tr '\n' ' ')" = "$STACK-node-0 $STACK-node-1 $STACK-node-2 "
check "the profile is labelled with the stack" \
  test "$(labelled_profiles | awk '{print $1}')" = base
check "no unlabelled instance carries the stack's name prefix" \
  test "$(named_instances | wc -l)" -eq 3
check "instances are running" \
  test "$(for n in $(labelled_instances | awk '{print $2}'); do instance_status "$n"; done | sort -u)" = Running
check "instance config holds user.index" \
  test "$(api GET "/1.0/instances/$STACK-node-2" | jq -r '.metadata.config["user.index"]')" = idx-2
prof=$(labelled_profiles | awk '{print $2}')
check "node[0] has profiles default and $prof" \
  test "$(api GET "/1.0/instances/$STACK-node-0" | jq -c .metadata.profiles)" = "[\"default\",\"$prof\"]"

run plan -t "$T" --stack "$STACK" --var replicas=3 --detailed-exitcode
expect_rc "plan after apply has no changes (detailed exit code)" 0
run plan -t "$T" --stack "$STACK" --var replicas=3 -detailed-exitcode
expect_rc "plan accepts -detailed-exitcode with one dash" 0

run plan -t "$T" --stack "$STACK" --var replicas=3 --json
check "plan --json parses with jq" jqt . "$TMP/out"
check "plan --json: 0 changes, 4 no-op resources" \
  jqt '.changes == 0 and ([.resources[] | select(.action == "no-op")] | length) == 4' "$TMP/out"

run apply -t "$T" --stack "$STACK" --var replicas=3 --yes --json
expect_rc "a second apply (--json) succeeds" 0
check "apply --json parses with jq" jqt . "$TMP/out"
check "apply --json reports ok and 0 created" \
  jqt '.ok == true and .created == 0 and .status == "applied"' "$TMP/out"

run show -t "$T" --stack "$STACK" --var replicas=3 --json
expect_rc "show --json" 0
check "show --json parses and lists 4 resources" \
  test "$(jq length "$TMP/out")" -eq 4
run show -t "$T" --stack "$STACK" --var replicas=3
check "show table lists node[1] with its cloud name" \
  grep -q "^node\[1\] *lxd.instance *$STACK-node-1 " "$TMP/out"

run output -t "$T" --stack "$STACK" --var replicas=3 --json
expect_rc "output --json" 0
check "output --json parses; names match LXD" \
  test "$(jq -r '.names.value | join(" ")' "$TMP/out")" = "$STACK-node-0 $STACK-node-1 $STACK-node-2"
check "output --json hides the sensitive value" \
  sh -c "! grep -q hunter2 '$TMP/out'"
run output -t "$T" --stack "$STACK" --var replicas=3 profile
check "output NAME prints the raw value" test "$(cat "$TMP/out")" = "$prof"
run output -t "$T" --stack "$STACK" --var replicas=3 token
expect_rc "output of a sensitive value by name needs --reveal" 1
run output -t "$T" --stack "$STACK" --var replicas=3 token --reveal
check "output --reveal prints it" test "$(cat "$TMP/out")" = hunter2-not-a-real-secret
run output -t "$T" --stack "$STACK" --var replicas=3
check "output prints name = value lines" grep -q "^profile = \"$prof\"$" "$TMP/out"

run graph -t "$T" --stack "$STACK" --var replicas=3
expect_rc "graph" 0
check "graph prints a DOT digraph named after the stack" grep -q "^digraph \"$STACK\" {$" "$TMP/out"
check "graph has one node per resource instance, with its type" sh -c '
  for r in base "node[0]" "node[1]" "node[2]"; do grep -Fq "  \"$r\" [label=\"$r\\n" "$1" || exit 1; done
  test "$(grep -c "\[label=" "$1")" -eq 4 && grep -q "lxd.profile" "$1"' sh "$TMP/out"
check "graph has exactly the edges node[i] -> base" sh -c '
  test "$(grep -- " -> " "$1" | sort | tr -d " ;" | tr "\n" " ")" = "\"node[0]\"->\"base\" \"node[1]\"->\"base\" \"node[2]\"->\"base\" "' sh "$TMP/out"

run destroy -t "$T" --stack "$STACK" --var replicas=3 --yes
expect_rc "destroy" 0
check "destroy leaves nothing labelled with the stack" test -z "$(labelled_all)"
check "destroy leaves no instance with the stack's prefix" test -z "$(named_instances)"
run plan -t "$T" --stack "$STACK" --var replicas=3 --detailed-exitcode
expect_rc "plan after destroy has changes again" 2

finish
