#!/bin/sh
# Secret canary: a sensitive token (long) and pin (3 characters) with
# values unique to this run go through every command - validate, plan,
# plan --json, plan -o (its stdout), apply, show, show --json, output,
# output --json, error paths with -v and --log-json (LXD rejecting a
# sensitive value and echoing it), destroy - then are rotated, and the
# plan/apply of the rotation (old value read back from LXD, new value
# from the template) goes through the same commands. Every stdout and
# stderr is searched for all four values. Only the saved plan file may
# hold them (documented; it must be 0600).
STACK=lt-canary
. "$(dirname "$0")/lib.sh"
preflight

rnd() { od -An -N8 -tx1 /dev/urandom | tr -d ' \n'; }
# The pin uses letters g-z only, so it can never occur inside a hex hash
# label; it is searched for as a whole word (as it is redacted).
pin() { od -An -N16 -tu1 /dev/urandom | tr -s ' ' '\n' | grep . |
          awk '{printf "%c", 103 + $1 % 20}' | cut -c1-3; }
T1=canary-$(rnd); T2=canary-$(rnd); P1=$(pin); P2=$(pin)
while [ "$P2" = "$P1" ]; do P2=$(pin); done
diag "pins $P1 -> $P2 (whole-word search)"
ALL=$TMP/all
: >"$ALL"
V1="--var token=$T1 --var pin=$P1"
V2="--var token=$T2 --var pin=$P2"
CT=$TPL/canary.json

# step DESCRIPTION WANT ARGS...: runs drover, keeps its output for the
# search, checks the exit status.
step() {
  _d=$1 _w=$2; shift 2
  run "$@"
  { echo "### $_d"; cat "$TMP/out" "$TMP/err"; } >>"$ALL"
  expect_rc "$_d" "$_w"
}

step "validate" 0 validate -t "$CT" --stack "$STACK" $V1
step "plan" 0 plan -t "$CT" --stack "$STACK" $V1 -v
step "plan --json" 0 plan -t "$CT" --stack "$STACK" $V1 --json
step "plan -o (stdout)" 0 plan -t "$CT" --stack "$STACK" $V1 -o "$TMP/p1.plan"
check "the saved plan is 0600" test "$(stat -c %a "$TMP/p1.plan")" = 600
step "apply" 0 apply -t "$CT" --stack "$STACK" $V1 --yes -v
step "show" 0 show -t "$CT" --stack "$STACK" $V1
step "show --json" 0 show -t "$CT" --stack "$STACK" $V1 --json
check "show --json redacts the token by structure" \
  jqt -e 'map(select(.type == "lxd.instance"))[0].properties.config["user.token"] == "(sensitive)"' "$TMP/out"
step "output" 0 output -t "$CT" --stack "$STACK" $V1
step "output --json" 0 output -t "$CT" --stack "$STACK" $V1 --json
n=$(api GET "/1.0/instances/$(labelled_instances | awk 'NR==1{print $2}')" |
    jq -r '.metadata.config["user.token"]')
check "the instance really holds the token (the canary is live)" test "$n" = "$T1"

# Errors that carry a sensitive value: LXD rejects limits.memory and
# quotes the value it got.
step "apply with a bad sensitive value fails" 1 apply -t "$CT" --stack "$STACK" $V1 \
  --var "mem=$T1" --yes -v --log-json

# Rotation: the plan compares the old token (read back from LXD) with the
# new one.
step "plan of the rotation" 0 plan -t "$CT" --stack "$STACK" $V2 -v
check "the rotation is planned as a change" grep -q 'user.token\|config' "$TMP/out"
step "plan --json of the rotation" 0 plan -t "$CT" --stack "$STACK" $V2 --json
step "plan -o of the rotation (stdout)" 0 plan -t "$CT" --stack "$STACK" $V2 -o "$TMP/p2.plan" -v
step "apply the saved rotation plan" 0 apply "$TMP/p2.plan" --yes -v
step "show --json after the rotation" 0 show -t "$CT" --stack "$STACK" $V2 --json
step "output --json after the rotation" 0 output -t "$CT" --stack "$STACK" $V2 --json --log-json -v
# The template no longer marks the values (as if the param lost
# "sensitive"): the object's own sensitive label still redacts them.
sed 's/"sensitive": true/"sensitive": false/' "$CT" >"$TMP/unmarked.json"
step "plan with the sensitive flags removed" 0 plan -t "$TMP/unmarked.json" --stack "$STACK" \
  --var token=other-value --var pin=zzzzzz --json
step "destroy" 0 destroy -t "$CT" --stack "$STACK" $V2 --yes -v

for v in "$T1" "$T2"; do
  c=$(grep -c -F -- "$v" "$ALL")
  check "no output holds the token $v ($c lines)" test "$c" -eq 0
done
for v in "$P1" "$P2"; do
  c=$(grep -c -w -F -- "$v" "$ALL")
  check "no output holds the pin $v as a word ($c lines)" test "$c" -eq 0
done
check "the saved plans do hold the secrets (documented)" grep -q -F "$T2" "$TMP/p2.plan"
check "every command's output was searched" test "$(grep -c '^### ' "$ALL")" -eq 18
[ "$failures" -eq 0 ] || grep -n -F -e "$T1" -e "$T2" "$ALL" | head -5 | sed 's/^/#   leak: /'
finish
