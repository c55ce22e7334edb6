#!/bin/sh
# A resource removed from the template, or a count lowered, is deleted; the
# rest is left alone.
STACK=lt-remove
. "$(dirname "$0")/lib.sh"
preflight

run apply -t "$TPL/extra.json" --stack "$STACK" --var replicas=3 --yes
expect_rc "apply of base + node x3 + extra + extra_profile" 0
check "LXD holds the 6 labelled objects" \
  test "$(labelled_all | awk '{print $1}' | tr '\n' ' ')" = "base extra extra_profile node[0] node[1] node[2] "
created0=$(api GET "/1.0/instances/$STACK-node-0" | jq -r .metadata.created_at)

run plan -t "$TPL/noextra.json" --stack "$STACK" --var replicas=2 --detailed-exitcode
expect_rc "plan without extra and with 2 replicas has changes" 2
check "plan deletes extra, extra_profile and node[2] and nothing else" \
  grep -q '^Plan: 0 to create, 0 to update, 0 to replace, 3 to delete\.$' "$TMP/out"

run apply -t "$TPL/noextra.json" --stack "$STACK" --var replicas=2 --yes
expect_rc "apply of the reduced template" 0
check "apply summary: 3 deleted" \
  grep -q '^Apply complete: 0 created, 0 updated, 0 replaced, 3 deleted\.$' "$TMP/out"
check "LXD holds exactly base, node[0], node[1]" \
  test "$(labelled_all | awk '{print $1}' | tr '\n' ' ')" = "base node[0] node[1] "
check "LXD: the extra instance is gone" \
  test "$(api GET "/1.0/instances/$STACK-extra" | jq -r .error_code)" = 404
check "LXD: node[0] was not recreated" \
  test "$(api GET "/1.0/instances/$STACK-node-0" | jq -r .metadata.created_at)" = "$created0"
run plan -t "$TPL/noextra.json" --stack "$STACK" --var replicas=2 --detailed-exitcode
expect_rc "plan afterwards has no changes" 0

finish
