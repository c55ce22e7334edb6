# tests/aws/t_restore.sh - drover restore and backup verify from EBS
# snapshots (aws.volume targets), sourced by tests/aws/run.sh: it uses
# run.sh's stand-in ($EP), run/ok/notok/expect_rc, stats, control and live.
#
# Checks: restoring the volume of a running instance is refused without
# --force, and nothing is made; with --force the volume is replaced by one
# made from the named snapshot (the stand-in carries the snapshot ID on
# the volume), with the old one's tags, attached at the same device, the
# old one deleted, the backups following it; a re-plan shows no changes;
# kill -9 while the new volume is being made, and again while the old one
# is being detached, each time then the restore again: exactly one volume
# for the address, from the snapshot, attached;
# backup verify makes a scratch volume from the newest snapshot (labelled
# as the policy's nightly.verify[0]) and deletes it; a drill killed midway
# leaves a labelled orphan that the next drill deletes; a snapshot that
# fails to restore (volume state error) fails the drill, which still
# cleans up, and fails a restore, which leaves the volume in place; an
# instance target is refused with the reason, by restore and by verify.

SR=aws-rs-$SUFFIX
TR=$TMP/restore.json
cat >"$TR" <<EOF
{"drover": 1, "stack": "$SR",
 "providers": {"aws": {"endpoint": "$EP", "poll_interval": 0.05, "retry_base": 0.02}},
 "resources": {
  "host": {"type": "aws.instance", "properties": {"image": "$IMG"}},
  "data": {"type": "aws.volume",
           "properties": {"zone": "us-east-1a", "size": 10, "type": "gp3",
                          "instance": "\${resources.host.id}", "device": "/dev/sdf",
                          "tags": {"team": "db"}}},
  "nightly": {"type": "backup.policy",
              "properties": {"targets": ["data"], "schedule": "@hourly",
                             "retention": {"keep_last": 5}}},
  "whole": {"type": "backup.policy",
            "properties": {"targets": ["host"], "schedule": "@daily",
                           "retention": {"keep_last": 1}}}
 }}
EOF
# rvols: the stand-in's volumes (not roots) claiming the address data.
rvols() {
  stats | jq -c --arg s "$SR" '[.volumes[] | select(.tags["drover:stack"] == $s
    and .tags["drover:address"] == "data")]'
}
snapid() { stats | jq -r --arg n "$1" '[.snapshots[] | select(.tags.Name == $n) | .id][0]'; }
# kill_when WHAT TEST ARGS...: drover ARGS in the background, killed -9 as
# soon as the command TEST succeeds (polled, with a deadline).
kill_when() {
  local what=$1 test=$2 hit= _
  shift 2
  "$DROVER" "$@" >"$TMP/rkill.out" 2>&1 </dev/null &
  APID=$!
  for _ in $(seq 1 200); do $test && { hit=1; break; }; sleep 0.05; done
  kill -9 "$APID"; wait "$APID" 2>/dev/null; APID=
  [ -n "$hit" ] && ok "killed $what" || notok "not killed $what: the point was not reached"
}
# restored OLD SNAPSHOT_NAME WHAT: after a restore re-run, exactly one
# volume for data, not OLD, made from the snapshot, attached where it was,
# no restore tags, and no CreateVolume since $c0.
restored() {
  local r
  r=$(rvols)
  jqt --arg old "$1" --arg sn "$(snapid "$2")" --arg h "$RHOST" 'length == 1 and (.[0] |
    .id != $old and .snapshot == $sn and .instance == $h and .device == "/dev/sdf"
    and .status == "in-use" and .tags["drover:restore"] == null)' <<<"$r" >/dev/null &&
    [ "$(calls CreateVolume)" = "$c0" ] &&
    ok "exactly one volume for data, from $2, attached; $3" ||
    { notok "after kill ($3; $(( $(calls CreateVolume) - c0 )) creates)"; echo "# $r"; }
}

run apply --yes "$TR"; expect_rc "restore stack: apply an instance, its volume and a policy" 0
RV0=$(rvols | jq -r '.[0].id')
RHOST=$(live "$SR" | jq -r '.[0].id')
run backup run "$TR" nightly --now 2026-04-01T10:05:00Z --json; expect_rc "restore stack: backup run" 0
RS1=$(jq -r .snapshot "$TMP/out")
run backup run "$TR" nightly --now 2026-04-01T11:05:00Z --json; expect_rc "restore stack: a second backup" 0
RS2=$(jq -r .snapshot "$TMP/out")
RID1=$(snapid "$RS1")

# -- refused while attached to a running instance ----------------------------------------
c0=$(calls CreateVolume)
run restore "$TR" data --snapshot "$RS1"; expect_rc "restore of a running instance's volume without --force" 1
grep -q "is attached to instance $RHOST, which is running" "$TMP/err" &&
  [ "$(calls CreateVolume)" = "$c0" ] && [ "$(rvols | jq -r '.[0].id')" = "$RV0" ] &&
  ok "refused with the reason; no volume made, the old one in place" || { notok "refusal"; show "$TMP/err"; }

# -- restore in place ------------------------------------------------------------------------
run restore "$TR" data --snapshot "$RS1" --force --json; expect_rc "restore --force" 0
R=$(rvols)
jqt --arg old "$RV0" --arg sn "$RID1" --arg h "$RHOST" 'length == 1 and (.[0] | .id != $old
  and .snapshot == $sn and .size == 10 and .type == "gp3" and .zone == "us-east-1a"
  and .instance == $h and .device == "/dev/sdf" and .status == "in-use" and .tags.team == "db"
  and .tags["drover:hash"] != null and .tags["drover:restore"] == null
  and .tags["drover:restore-from"] == null)' <<<"$R" >/dev/null &&
  [ "$(stats | jq --arg o "$RV0" '[.volumes[] | select(.id == $o)] | length')" = 0 ] &&
  ok "one volume for data, made from $RS1's snapshot, tagged, attached at /dev/sdf; the old one deleted" ||
  { notok "restored volume"; echo "# $R"; }
RV1=$(jq -r '.[0].id' <<<"$R")
jqt --arg v "$RV1" '.instance == $v and .result == "restored"' "$TMP/out" >/dev/null &&
  ok "the report names the new volume" || { notok "restore report"; show "$TMP/out"; }
run plan --detailed-exitcode "$TR"; expect_rc "re-plan after the restore: no changes" 0
run backup list "$TR" nightly --json
jqt --arg a "$RS1" --arg b "$RS2" --arg v "$RV1" '[.snapshots[].snapshot] == [$a, $b]
  and all(.snapshots[]; .instance == $v)' "$TMP/out" >/dev/null &&
  ok "the volume's backups followed it to the new volume" || { notok "list after restore"; show "$TMP/out"; }

# -- kill -9 while the new volume is being made, then again ----------------------------------
new_creating() {
  [ "$(stats | jq -r --arg s "$SR" '[.volumes[] | select(.tags["drover:stack"] == $s
    and .tags["drover:restore-from"] != null) | .status] | join(",")')" = creating ]
}
# kill_rerun WHAT TEST SLOW FAST SNAPSHOT NOTE: a restore --force from
# SNAPSHOT killed -9 once TEST holds (the stand-in's config SLOW, then
# FAST), run again: one volume, from it, and a plan without changes.
kill_rerun() {
  local old
  old=$(rvols | jq -r '.[0].id')
  control config "$3"
  kill_when "$1" "$2" restore "$TR" data --snapshot "$5" --force
  control config "$4"
  c0=$(calls CreateVolume)
  run restore "$TR" data --snapshot "$5" --force; expect_rc "the restore again after kill -9 $1" 0
  restored "$old" "$5" "$6"
  run plan --detailed-exitcode "$TR"; expect_rc "re-plan after the restore finished: no changes" 0
}
kill_rerun "while the restored volume was being made" new_creating '{"transition_ms": 60000}' \
  '{"transition_ms": 200}' "$RS2" "the killed run's volume adopted (no CreateVolume)"
RV2=$(rvols | jq -r '.[0].id')
# Killed while the old volume is being detached (step 3), then again.
old_detaching() {
  [ "$(stats | jq -r --arg o "$RV2" '.volumes[] | select(.id == $o) | .attach')" = detaching ]
}
kill_rerun "while the old volume was being detached" old_detaching '{"slow": {"DetachVolume": 60000}}' \
  '{"slow": {}}' "$RS1" "the old one deleted"
RV2=$(rvols | jq -r '.[0].id')

# -- backup verify -------------------------------------------------------------------------------
scratch() {
  stats | jq -c --arg s "$SR" '[.volumes[] | select(.tags["drover:stack"] == $s
    and .tags["drover:address"] == "nightly.verify[0]")]'
}
c0=$(calls CreateVolume) d0=$(calls DeleteVolume)
run backup verify "$TR" nightly --json; expect_rc "backup verify" 0
jqt --arg v "$RV2" --arg s "$RS2" '.targets | length == 1 and .[0].instance == $v
  and .[0].snapshot == $s and .[0].result == "passed"' "$TMP/out" >/dev/null &&
  [ "$(( $(calls CreateVolume) - c0 ))" = 1 ] && [ "$(( $(calls DeleteVolume) - d0 ))" = 1 ] &&
  [ "$(scratch | jq length)" = 0 ] && [ "$(rvols | jq -r '.[0].id')" = "$RV2" ] &&
  ok "verify made a volume from the newest snapshot and deleted it; the volume is untouched" ||
  { notok "verify"; show "$TMP/out"; }
# Killed midway: the scratch volume is labelled, and the next drill deletes it.
scratch_made() { [ "$(scratch | jq length)" -gt 0 ]; }
control config '{"transition_ms": 60000}'
kill_when "a drill midway" scratch_made backup verify "$TR" nightly
control config '{"transition_ms": 200}'
S0=$(scratch)
jqt --arg s "$(snapid "$RS2")" 'length == 1 and (.[0] | .snapshot == $s and .size == 10 and .type == "gp3"
  and (.tags["drover:name"] | startswith("drover-verify-")) and .tags.Name == .tags["drover:name"])' \
  <<<"$S0" >/dev/null && ok "a killed drill leaves its scratch volume, labelled nightly.verify[0], from the snapshot" ||
  { notok "killed drill"; echo "# $S0"; }
run plan "$TR"
grep -q 'nightly.verify\[0\]' "$TMP/out" && ok "the plan shows the leftover scratch volume" ||
  { notok "plan of the leftover"; show "$TMP/out" 20; }
run backup verify "$TR" nightly --json; expect_rc "verify again after kill -9" 0
[ "$(scratch | jq length)" = 0 ] && jqt '.targets[0].result == "passed"' "$TMP/out" >/dev/null &&
  ok "the next drill deleted the leftover and its own copy" || { notok "after killed drill"; echo "# $(scratch)"; }
# A snapshot EBS cannot restore: the drill fails, and cleans up.
control config "{\"bad_snapshot\": \"$(snapid "$RS2")\"}"
run backup verify "$TR" nightly --json; expect_rc "verify of a snapshot that does not restore" 1
jqt '.targets[0].result == "failed" and (.targets[0].error | test("in state error"))' "$TMP/out" >/dev/null &&
  [ "$(scratch | jq length)" = 0 ] && ok "the drill fails with the volume's error state, and its copy is deleted" ||
  { notok "bad snapshot"; show "$TMP/out"; echo "# $(scratch)"; }
# The same snapshot in a restore: it fails with the reason, and the volume stays.
c0=$(calls CreateVolume)
run restore "$TR" data --snapshot "$RS2" --force; expect_rc "restore from a snapshot that does not restore" 1
grep -q "in state error" "$TMP/err" && [ "$(( $(calls CreateVolume) - c0 ))" = 1 ] &&
  [ "$(rvols | jq -c '[.[].id]')" = "[\"$RV2\"]" ] &&
  [ "$(stats | jq --arg s "$SR" '[.volumes[] | select(.tags["drover:stack"] == $s and .tags["drover:restore-from"] != null)] | length')" = 0 ] &&
  ok "the failed restore says so; the volume in place is untouched, the failed one deleted" ||
  { notok "failed restore"; show "$TMP/err"; echo "# $(rvols)"; }
control config '{"bad_snapshot": ""}'

# -- an instance target is refused, with the reason ---------------------------------------------
run restore "$TR" host --snapshot "$RS1" --force; expect_rc "restore of an aws.instance" 1
grep -q "not supported: it would replace its root volume" "$TMP/err" &&
  ok "an instance restore is refused with the reason" || { notok "instance refusal"; show "$TMP/err"; }
run backup run "$TR" whole --now 2026-04-01T10:05:00Z; expect_rc "backup run of the instance" 0
c0=$(calls CreateVolume)
run backup verify "$TR" whole --json; expect_rc "verify of an instance target" 1
jqt '.targets[0].result == "failed" and (.targets[0].error | test("drill from the EBS snapshots of an instance is not supported"))' \
  "$TMP/out" >/dev/null && [ "$(calls CreateVolume)" = "$c0" ] &&
  ok "an instance's drill fails with the reason, making nothing" || { notok "instance drill"; show "$TMP/out"; }

run destroy --yes "$TR"; expect_rc "destroy the restore stack" 0
[ "$(rvols | jq length)" = 0 ] && ok "no volume left for the restore stack" || notok "volumes left"
