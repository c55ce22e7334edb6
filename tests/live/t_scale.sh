#!/bin/sh
# Scale policies on the real LXD, with the shipped business-hours
# template (busybox containers, Europe/Berlin): drover plan says what the
# policy asks; drover scale run scales the web tier up in business hours,
# holds a change in the cooldown and scales down after it, with the
# counts read from LXD, the decision kept as a label on the policy's LXD
# record, and the --json report's fields. Times come from --now and
# DROVER_NOW, so the result does not depend on the clock.
STACK=lt-scale-$$
. "$(dirname "$0")/lib.sh"
preflight

T=$TOP/templates/business-hours-web.json
S="--stack $STACK --var replicas=1 --var day_count=3 --var night_count=1 --var cooldown=10m"
UP=2026-03-27T18:55:00Z    # Friday 19:55 CET: in the weekday window
HELD=2026-03-27T19:01:00Z  # 20:01: window closed, cooldown until 20:05
DOWN=2026-03-27T19:06:00Z  # 20:06: cooldown over

web_count() { labelled_instances | grep -c '^web\['; }
# The decision label on the policy's record (an LXD profile).
decision() {
  api_jq "/1.0/profiles?recursion=1" '.metadata[] | select(.config["user.drover.stack"] == $s
      and .config["user.drover_kind"] == "scale.policy") | .config["user.drover.scale_decision"]' \
    --arg s "$STACK"
}

run apply $S "$T" --yes
expect_rc "apply the web tier at its template count and the policy" 0
check "one web container in LXD" test "$(web_count)" = 1

RUN_ENV="DROVER_NOW=$UP"
run plan $S "$T"
RUN_ENV=
expect_rc "plan at Friday 19:55 Berlin" 0
check "plan says what the policy asks" \
  grep -q 'scale.policy hours asks web count 3 (rule weekday-day; live 1)' "$TMP/out"
RUN_ENV="DROVER_NOW=$UP"
run plan $S "$T" --json
RUN_ENV=
check "plan --json carries the ask" \
  jqt '.scale[0].policy == "hours" and .scale[0].desired == 3 and .scale[0].current == 1' "$TMP/out"

run scale run $S "$T" hours --dry-run --json --now $UP
expect_rc "scale run --dry-run" 0
check "dry run decides 3 and applies nothing" \
  jqt '.desired == 3 and .applied == false and .dry_run == true' "$TMP/out"
check "still one web container after the dry run" test "$(web_count)" = 1

run scale run $S "$T" hours --json --now $UP
expect_rc "scale run at Friday 19:55" 0
check "report: 1 -> 3 by weekday-day, applied, cooldown to 20:05" \
  jqt '.policy == "hours" and .stack == $s and .target == "web" and .current == 1
       and .desired == 3 and .applied == true and .rule == "weekday-day" and .ok == true
       and .error == null and .decided_at == "2026-03-27T18:55:00Z"
       and .cooldown_until == "2026-03-27T19:05:00Z" and (.reason | test("window weekday-day"))' \
  --arg s "$STACK" "$TMP/out"
check "three web containers in LXD" test "$(web_count)" = 3
run plan $S "$T" --detailed-exitcode
expect_rc "a plain plan keeps the policy's count (no changes)" 0
check "the decision is a label on the policy's LXD record" \
  jqt '.desired == 3 and .applied == true and .count == 3 and .changed_at == 1774637700' \
  "$(decision >"$TMP/label"; echo "$TMP/label")"

# An update of the policy from the template keeps its recorded decision,
# and a plain apply keeps the count the policy set.
run apply --stack $STACK --var replicas=1 --var day_count=3 --var night_count=1 \
  --var cooldown=9m "$T" --yes
expect_rc "apply with the policy's cooldown changed" 0
check "still three web containers after the plain apply" test "$(web_count)" = 3
check "the decision label survived the policy's update" \
  jqt '.desired == 3 and .count == 3' "$(decision >"$TMP/label"; echo "$TMP/label")"

run scale run $S "$T" hours --json --now $HELD
expect_rc "scale run at 20:01, inside the cooldown" 0
check "report: desired 1 held by the cooldown, nothing applied" \
  jqt '.desired == 1 and .current == 3 and .held == true and .applied == false
       and .rule == "default" and .cooldown_until == "2026-03-27T19:05:00Z"' "$TMP/out"
check "still three web containers" test "$(web_count)" = 3

run scale run $S "$T" hours --now $DOWN
expect_rc "scale run at 20:06 (human output)" 0
check "human output says the count and the rule" \
  grep -q 'scale.policy hours: web count 3 -> 1 (rule default)' "$TMP/out"
check "one web container left in LXD" test "$(web_count)" = 1
check "web[0] is the one kept" test "$(labelled_instances | awk '/^web/{print $1}')" = "web[0]"

run destroy $S "$T" --yes
expect_rc "destroy" 0
check "nothing labelled with the stack is left" test -z "$(labelled_all)"
finish
