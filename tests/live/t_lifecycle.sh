#!/bin/sh
# lifecycle on the real LXD: a force-new change replaces (delete, then
# create under the same name); create_before_destroy makes the new one
# under a second name first; ignore_changes leaves a property alone in
# the template and in the cloud; prevent_destroy refuses any plan that
# would delete the resource.
STACK=lt-lifecycle
. "$(dirname "$0")/lib.sh"
preflight

T=$TPL/lifecycle.json
A="-t $T --stack $STACK"
created() { api_jq "/1.0/instances/$1" .metadata.created_at; }

run apply $A --yes
expect_rc "apply creates plain, cbd, kept and guarded" 0
check "LXD: the four are labelled with the stack" \
  test "$(labelled_instances | awk '{print $1}' | tr '\n' ' ')" = "cbd guarded kept plain "
plain0=$(created "$STACK-plain")
cbd_name0=$(labelled_instances | awk '$1 == "cbd" {print $2}')

# The same image by fingerprint instead of alias: a force-new change.
fp=$(api_jq /1.0/images/aliases/busybox .metadata.target)
check "the busybox image has a fingerprint" test -n "$fp"
run plan $A --var image="$fp" --json
check "plan: plain and cbd are replaced, kept and guarded are not touched" \
  jqt '[.resources[] | "\(.address)=\(.action)"] | sort == ["cbd=replace","guarded=no-op","kept=no-op","plain=replace"]' "$TMP/out"
run apply $A --var image="$fp" --yes
expect_rc "apply of the replacement" 0
check "apply summary: 2 replaced" \
  grep -q '^Apply complete: 0 created, 0 updated, 2 replaced, 0 deleted\.$' "$TMP/out"
check "replace: plain has its name and is a new instance (new created_at)" \
  sh -c 'test -n "$1" && test "$1" != "$2"' sh "$(created "$STACK-plain")" "$plain0"
check "replace: plain now boots the image by fingerprint" \
  test "$(api_jq "/1.0/instances/$STACK-plain" '.metadata.config["user.drover.image"] // .metadata.config["volatile.base_image"]')" = "$fp"
cbd_name1=$(labelled_instances | awk '$1 == "cbd" {print $2}')
check "create_before_destroy: cbd lives under a second name ($cbd_name0 -> $cbd_name1)" \
  sh -c 'test -n "$2" && test "$1" != "$2" && case $2 in "$3"-cbd-??????) ;; *) exit 1 ;; esac' \
  sh "$cbd_name0" "$cbd_name1" "$STACK"
check "create_before_destroy: the old cbd is gone" \
  test "$(api GET "/1.0/instances/$cbd_name0" | jq -r .error_code)" = 404
check "LXD: still exactly four instances with the stack's label" \
  test "$(labelled_instances | wc -l)" -eq 4
run plan $A --var image="$fp" --detailed-exitcode
expect_rc "plan after the replacement has no changes" 0

# ignore_changes: config of kept is neither diffed nor written.
check "out-of-band: PATCH kept's user.tag" \
  api_wait PATCH "/1.0/instances/$STACK-kept" '{"config":{"user.tag":"changed-by-hand"}}'
run plan $A --var image="$fp" --var tag=b --json
check "plan with tag=b: plain is updated, kept is not (ignore_changes config)" \
  jqt '[.resources[] | select(.action != "no-op") | "\(.address)=\(.action)"] == ["plain=update"]' "$TMP/out"
run apply $A --var image="$fp" --var tag=b --yes
expect_rc "apply with tag=b" 0
check "LXD: plain has user.tag b" \
  test "$(api_jq "/1.0/instances/$STACK-plain" '.metadata.config["user.tag"]')" = b
check "LXD: kept keeps the out-of-band value" \
  test "$(api_jq "/1.0/instances/$STACK-kept" '.metadata.config["user.tag"]')" = changed-by-hand

# prevent_destroy: destroy and plan --destroy are refused, nothing goes.
run destroy $A --var image="$fp" --var tag=b --yes
expect_rc "destroy of a stack with a prevent_destroy resource is refused" 1
check "the error names guarded and prevent_destroy" \
  sh -c 'grep -q guarded "$1" && grep -q prevent_destroy "$1"' sh "$TMP/err"
run plan $A --var image="$fp" --var tag=b --destroy
expect_rc "plan --destroy is refused too" 1
check "LXD: all four are still there" test "$(labelled_instances | wc -l)" -eq 4
check "LXD: guarded stayed stopped" test "$(instance_status "$STACK-guarded")" = Stopped

finish
