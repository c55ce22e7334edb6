#!/bin/sh
# destroy, with the template and by stack name alone, leaves nothing
# labelled with the stack (instances go before the profiles they use).
STACK=lt-destroy
. "$(dirname "$0")/lib.sh"
preflight

T=$TPL/extra.json
run apply -t "$T" --stack "$STACK" --yes
expect_rc "apply of profiles and instances" 0
check "LXD holds 5 labelled objects" test "$(labelled_all | wc -l)" -eq 5

run destroy -t "$T" --stack "$STACK"
expect_rc "destroy without --yes and without a TTY is refused" 1
check "the refusal mentions --yes" grep -q -- '--yes' "$TMP/err"
check "nothing was deleted" test "$(labelled_all | wc -l)" -eq 5

run destroy -t "$T" --stack "$STACK" --yes
expect_rc "destroy with the template" 0
check "destroy summary: 5 deleted" grep -q '^Destroy complete: 5 deleted\.$' "$TMP/out"
check "LXD: nothing labelled with the stack" test -z "$(labelled_all)"

run apply -t "$T" --stack "$STACK" --yes
expect_rc "apply again" 0
run show --stack "$STACK"
expect_rc "show --stack without a template" 0
check "show --stack lists the 5 objects" test "$(grep -c "$STACK" "$TMP/out")" -eq 5
run destroy --stack "$STACK" --yes
expect_rc "destroy --stack NAME without a template" 0
check "LXD: nothing labelled with the stack" test -z "$(labelled_all)"
check "LXD: no instance with the stack's prefix" test -z "$(named_instances)"

run destroy --stack "$STACK" --yes --json
expect_rc "destroy of an empty stack (--json)" 0
check "destroy --json parses and deleted 0" jqt '.ok == true and .deleted == 0' "$TMP/out"

finish
