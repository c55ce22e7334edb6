# tests/aws/t_backup.sh - backup.policy on aws.volume / aws.instance
# targets (EBS snapshots), sourced by tests/aws/run.sh: it uses run.sh's
# stand-in ($EP), run/ok/notok/expect_rc, stats, control and ec2.
#
# Checks: the policy (by its targets, or a selector naming the provider)
# goes to the AWS provider (a placement-group record,
# re-plan without changes); hooks, export and targets of two providers
# refused at validate with file:line:col; backup run twice for one slot
# makes one snapshot (dedup by the run tag); a lost CreateSnapshot answer
# is found, not made twice; kill -9 while the snapshot is pending, then run
# again: no duplicate; an instance target snapshots every volume in one
# CreateSnapshots and is one backup; a selector naming the provider;
# backup list over two DescribeSnapshots pages; prune --dry-run says kept
# (by which rule) or deleted; prune deletes only the policy's snapshots, not
# a manual snapshot carrying its name; removing the policy (on_delete:
# delete) deletes its snapshots and its record.

SB=aws-bk-$SUFFIX
# btemplate FILE POLICIES_JSON: an instance, a volume attached to it, and
# the given policies (a JSON fragment of resources, may be empty).
btemplate() {
  cat >"$1" <<EOF
{"drover": 1, "stack": "$SB",
 "providers": {"aws": {"endpoint": "$EP", "poll_interval": 0.05, "retry_base": 0.02,
                       "page_size": 5}},
 "resources": {
  "host": {"type": "aws.instance", "properties": {"image": "$IMG"}},
  "data": {"type": "aws.volume",
           "properties": {"zone": "us-east-1a", "size": 10, "type": "gp3",
                          "instance": "\${resources.host.id}", "device": "/dev/sdf"}}${2:+,
$2}
 }}
EOF
}
NIGHTLY='"nightly": {"type": "backup.policy",
              "properties": {"targets": ["data"], "schedule": "@hourly",
                             "retention": {"keep_last": 2}, "on_delete": "delete"}}'
WHOLE='"whole": {"type": "backup.policy",
            "properties": {"targets": ["${resources.host.id}"], "schedule": "@daily",
                           "retention": {"keep_daily": 3}}}'
SEL='"sel": {"type": "backup.policy",
          "properties": {"selector": {"stack": "'$SB'", "address": "host", "provider": "aws"},
                         "schedule": "@weekly", "retention": {"keep_last": 1}}}'
TB=$TMP/backup.json
btemplate "$TB" "$NIGHTLY,
$WHOLE,
$SEL"
# bsnaps [RUN-PREFIX]: the stand-in's snapshots drover's backups made.
bsnaps() {
  stats | jq -c --arg r "${1:-}" '[.snapshots[] | select(.tags["drover:target"] != null
    and ((.tags["drover:run"] // "") | startswith($r)))]'
}

# -- refused at validate, with file:line:col ---------------------------------------------
bad_policy() {   # bad_policy NAME PROPS_JSON WANT_TEXT
  btemplate "$TMP/bad.json" "\"p\": {\"type\": \"backup.policy\", \"properties\": $2}"
  run validate "$TMP/bad.json"; expect_rc "validate refuses $1" 1
  grep -Eq "bad.json:[0-9]+:[0-9]+: .*$3" "$TMP/err" && ok "$1: the error says why, at file:line:col" ||
    { notok "$1 error text"; show "$TMP/err"; }
}
bad_policy "hooks on an aws target" '{"targets": ["data"], "schedule": "@daily", "retention": {"keep_last": 1},
  "hooks": {"pre": ["sync"]}}' 'provider aws has no API to run commands'
bad_policy "an export of EBS snapshots" '{"targets": ["data"], "schedule": "@daily",
  "retention": {"keep_last": 1}, "export": "s3://b/p"}' 'provider aws has no backup archive to export'
btemplate "$TMP/bad.json" "\"box\": {\"type\": \"lxd.instance\", \"properties\": {\"image\": \"busybox\"}},
  \"p\": {\"type\": \"backup.policy\", \"properties\": {\"targets\": [\"data\", \"box\"],
          \"schedule\": \"@daily\", \"retention\": {\"keep_last\": 1}}}"
run validate "$TMP/bad.json"; expect_rc "validate refuses a policy over two providers" 1
grep -Eq 'bad.json:[0-9]+:[0-9]+: .*target "box" is a lxd resource but "data" is a aws one' "$TMP/err" &&
  ok "two providers: the error names both targets, at file:line:col" || { notok "mixed error"; show "$TMP/err"; }

# -- the policies are held by the AWS provider ---------------------------------------------
run apply --yes "$TB"; expect_rc "apply an instance, a volume and three backup policies" 0
PG=$(stats | jq -c --arg s "$SB" '[.placement_groups[] | select(.tags["drover:stack"] == $s)]')
jqt 'length == 3 and all(.[]; .tags["drover:kind"] == "backup.policy" and .tags["drover:policy.0"] != null)' \
  <<<"$PG" >/dev/null && ok "each policy is recorded as a tagged placement group" || { notok "records"; echo "# $PG"; }
run plan --detailed-exitcode "$TB"; expect_rc "re-plan with the policies: no changes" 0
VOL=$(stats | jq -r --arg s "$SB" '.volumes[] | select(.tags["drover:stack"] == $s) | .id')
HOST=$(live "$SB" | jq -r '.[0].id')

# -- run twice in one slot; a lost answer ----------------------------------------------------
c0=$(calls CreateSnapshot)
run backup run "$TB" nightly --now 2026-03-28T10:05:00Z --json; expect_rc "backup run" 0
SN1=$(jq -r .snapshot "$TMP/out")
jqt --arg v "$VOL" '.targets | length == 1 and .[0].instance == $v and .[0].result == "created"' "$TMP/out" >/dev/null &&
  ok "run snapshots the volume target" || { notok "run report"; show "$TMP/out"; }
KEY=$(cut -d- -f2 <<<"$SN1")
jqt --arg v "$VOL" --arg n "$SN1" --arg k "drover:backup.$KEY" --arg s "$SB" 'length == 1 and (.[0] |
  .volume == $v and .status == "completed" and .tags.Name == $n and .tags["drover:run"] == $n
  and (.tags[$k] | fromjson | .stack == $s and .policy == "nightly") and .tags["drover:stack"] == null)' \
  <<<"$(bsnaps "$SN1")" >/dev/null &&
  ok "one completed snapshot, named and labelled in its CreateSnapshot, without a stack tag" ||
  { notok "snapshot tags"; bsnaps; }
run backup run "$TB" nightly --now 2026-03-28T10:40:00Z --json; expect_rc "backup run again in the slot" 0
jqt '.targets[0].result == "exists"' "$TMP/out" >/dev/null && [ "$(bsnaps "$SN1" | jq length)" = 1 ] &&
  [ "$(( $(calls CreateSnapshot) - c0 ))" = 1 ] &&
  ok "the second run finds the slot's snapshot: still one, one CreateSnapshot" ||
  { notok "dedup ($(( $(calls CreateSnapshot) - c0 )) creates)"; show "$TMP/out"; }
control fault '{"action": "CreateSnapshot", "status": 500, "code": "InternalError", "count": 1, "after": true}'
c0=$(calls CreateSnapshot)
run backup run "$TB" nightly --now 2026-03-28T11:05:00Z --json; expect_rc "run survives a lost CreateSnapshot answer" 0
SN2=$(jq -r .snapshot "$TMP/out")
[ "$(bsnaps "$SN2" | jq length)" = 1 ] && [ "$(( $(calls CreateSnapshot) - c0 ))" = 1 ] &&
  ok "the lost answer's snapshot was found by its run tag, not made again" ||
  { notok "lost answer ($(( $(calls CreateSnapshot) - c0 )) creates)"; bsnaps "$SN2"; }
control clear-faults '{}'

# -- kill -9 while the snapshot is pending -----------------------------------------------------
control config '{"snapshot_ms": 60000}'
"$DROVER" backup run "$TB" nightly --now 2026-03-28T12:05:00Z >"$TMP/bkill.out" 2>&1 </dev/null &
APID=$!
for _ in $(seq 1 200); do [ "$(bsnaps drover-$KEY-20260328T1200Z | jq length)" -gt 0 ] && break; sleep 0.05; done
pending=$(bsnaps drover-$KEY-20260328T1200Z | jq -r '[.[].status] | join(",")')
kill -9 "$APID"; wait "$APID" 2>/dev/null; APID=
[ "$pending" = pending ] && ok "killed while its snapshot was pending" || notok "kill point: '$pending'"
control config '{"snapshot_ms": 200}'
c0=$(calls CreateSnapshot)
run backup run "$TB" nightly --now 2026-03-28T12:05:00Z --json; expect_rc "run the slot again after kill -9" 0
jqt '.targets[0].result == "exists"' "$TMP/out" >/dev/null &&
  [ "$(bsnaps drover-$KEY-20260328T1200Z | jq -r '[.[].status] | join(",")')" = completed ] &&
  [ "$(calls CreateSnapshot)" = "$c0" ] &&
  ok "the killed run's snapshot is adopted and waited for: one, completed, no new CreateSnapshot" ||
  { notok "after kill"; bsnaps drover-$KEY-20260328T1200Z; }

# -- an instance target: every volume, one backup ------------------------------------------------
c0=$(calls CreateSnapshots)
run backup run "$TB" whole --now 2026-03-28T10:05:00Z --json; expect_rc "backup run of an instance target" 0
SW=$(jq -r .snapshot "$TMP/out")
W=$(bsnaps "$SW")
[ "$(( $(calls CreateSnapshots) - c0 ))" = 1 ] && jqt --arg h "$HOST" --arg v "$VOL" 'length == 2 and
  all(.[]; .status == "completed" and .tags["drover:target"] == $h) and ([.[].volume] | index($v)) != null' \
  <<<"$W" >/dev/null && ok "one CreateSnapshots: the root and the data volume, tagged with the instance" ||
  { notok "instance snapshots"; echo "# $W"; }
run backup list "$TB" whole --json
jqt --arg s "$SW" '.snapshots | length == 1 and .[0].snapshot == $s' "$TMP/out" >/dev/null &&
  ok "list shows the instance's two snapshots as one backup" || { notok "instance list"; show "$TMP/out"; }

# A selector naming the provider: the instances of matching stacks.
run backup run "$TB" sel --now 2026-03-28T10:05:00Z --json; expect_rc "backup run of a selector policy" 0
jqt --arg h "$HOST" --arg s "$SB" '.targets | length == 1 and .[0].instance == $h
  and .[0].address == ($s + "/host") and .[0].result == "created"' "$TMP/out" >/dev/null &&
  [ "$(bsnaps "$(jq -r .snapshot "$TMP/out")" | jq length)" = 2 ] &&
  ok "the selector (provider aws) found the stack's instance and snapshotted its two volumes" ||
  { notok "selector run"; show "$TMP/out"; }

# -- list, prune --dry-run, prune --------------------------------------------------------------------
# A manual snapshot carrying the policy's name and target, without its label.
ec2 CreateSnapshot "VolumeId=$VOL&TagSpecification.1.ResourceType=snapshot&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=drover-$KEY-20260328T0900Z&TagSpecification.1.Tag.2.Key=drover:target&TagSpecification.1.Tag.2.Value=$VOL&TagSpecification.1.Tag.3.Key=drover:name&TagSpecification.1.Tag.3.Value=drover-$KEY-20260328T0900Z" >/dev/null
MAN=$(stats | jq -r --arg n "drover-$KEY-20260328T0900Z" '.snapshots[] | select(.tags.Name == $n) | .id')
# Two more slots: six snapshots carry the volume's target tag, more than a
# page of 5 (page_size), so listing them takes two DescribeSnapshots pages.
for h in 13 14; do
  run backup run "$TB" nightly --now 2026-03-28T$h:05:00Z; expect_rc "backup run at $h:05" 0
done
d0=$(calls DescribeSnapshots)
run backup list "$TB" nightly --json; expect_rc "backup list" 0
jqt '[.snapshots[].slot] == ["2026-03-28T10:00:00Z", "2026-03-28T11:00:00Z", "2026-03-28T12:00:00Z",
  "2026-03-28T13:00:00Z", "2026-03-28T14:00:00Z"] and all(.snapshots[]; .action == "listed")' \
  "$TMP/out" >/dev/null && ok "list shows the policy's five snapshots, not the manual one" ||
  { notok "list"; show "$TMP/out"; }
# One for the refresh (aws.snapshot resources: none), two pages for the target.
[ "$(( $(calls DescribeSnapshots) - d0 ))" = 3 ] && ok "the target's snapshots were read over two pages" ||
  notok "list pages: $(( $(calls DescribeSnapshots) - d0 )) DescribeSnapshots calls"
d0=$(calls DeleteSnapshot)
run backup prune "$TB" nightly --dry-run --now 2026-03-28T14:30:00Z --json; expect_rc "prune --dry-run" 0
jqt '[.snapshots[] | [.slot, .action, (.kept_by // "")]] == [
  ["2026-03-28T10:00:00Z", "would delete", ""], ["2026-03-28T11:00:00Z", "would delete", ""],
  ["2026-03-28T12:00:00Z", "would delete", ""], ["2026-03-28T13:00:00Z", "keep", "last"],
  ["2026-03-28T14:00:00Z", "keep", "last"]]' "$TMP/out" >/dev/null && [ "$(calls DeleteSnapshot)" = "$d0" ] &&
  ok "dry run: the three oldest would go, the two newest are kept by keep_last; nothing deleted" ||
  { notok "dry run"; show "$TMP/out"; }
run backup prune "$TB" nightly --now 2026-03-28T14:30:00Z --json; expect_rc "prune" 0
left=$(stats | jq -c --arg v "$VOL" '[.snapshots[] | select(.volume == $v and .tags["drover:target"] == $v) | .tags.Name] | sort')
[ "$left" = "$(jq -nc --arg k "$KEY" '["drover-\($k)-20260328T0900Z", "drover-\($k)-20260328T1300Z", "drover-\($k)-20260328T1400Z"]')" ] &&
  [ "$(( $(calls DeleteSnapshot) - d0 ))" = 3 ] &&
  ok "prune deleted only the three oldest of the policy's; the manual snapshot stays" ||
  { notok "prune"; echo "# $left"; }

# -- removing the policy: on_delete delete -------------------------------------------------------------
btemplate "$TB" "$WHOLE"
run plan "$TB"; expect_rc "plan without the nightly policy" 0
grep -q 'its snapshots are deleted (on_delete: delete)' "$TMP/out" &&
  ok "the plan says the policy's snapshots go with it" || { notok "delete plan"; show "$TMP/out" 20; }
run apply --yes "$TB"; expect_rc "apply removes the nightly policy" 0
[ "$(bsnaps "drover-$KEY-" | jq length)" = 0 ] &&
  [ "$(stats | jq --arg m "$MAN" '[.snapshots[] | select(.id == $m)] | length')" = 1 ] &&
  [ "$(stats | jq --arg s "$SB" '[.placement_groups[] | select(.tags["drover:stack"] == $s)] | length')" = 1 ] &&
  ok "its snapshots and its record are gone; the manual snapshot and the other policy stay" ||
  { notok "policy removal"; bsnaps "drover-$KEY-"; }
run destroy --yes "$TB"; expect_rc "destroy the backup stack" 0
[ "$(bsnaps "$SW" | jq length)" = 2 ] &&
  [ "$(stats | jq --arg s "$SB" '[.placement_groups[] | select(.tags["drover:stack"] == $s)] | length')" = 0 ] &&
  ok "destroy removed the records; on_delete keep left the instance's snapshots" || { notok "after destroy"; bsnaps; }
