#!/usr/bin/env bash
# tests/aws/run.sh - the AWS provider (aws.instance) through the drover
# command against the loopback EC2 stand-in (tests/aws/ec2-standin.js, a
# stand-in written for these tests, not EC2; doc/aws.md). No test touches
# the real AWS. The stand-in checks SigV4 signatures, so a request signed
# with the wrong credentials fails; out-of-band changes are made with
# curl --aws-sigv4 (libcurl's own signer) through the real API.
#
# Checks: apply / re-plan / drift / update (type, state) / replace / destroy;
# aws.volume attached, grown, retyped and detached in place; aws.snapshot
# with a lost CreateSnapshot answer (found by its run tag, not made twice);
# tags with unicode; refresh over several NextToken pages; a lost
# RunInstances answer retried with the same ClientToken; kill -9 during a
# create, then apply again: exactly one instance; RequestLimitExceeded
# survived, and the retry budget respected; a client error surfaced at
# once with its AWS code; credentials from the environment (with a session
# token), from a shared credentials file with a profile, from the config
# file, and from IMDSv2 (token PUT then GET, fetched once per run); the
# shipped templates/slurm-cloud-nodes-aws.json; backup.policy on aws.volume
# and aws.instance targets (tests/aws/t_backup.sh); drover restore and
# backup verify of an aws.volume from its EBS snapshots, with kill -9
# midway (tests/aws/t_restore.sh); no secret in any output.
#
# Environment: DROVER (the command). Needs node, curl and jq.
# Ends with "# aws: N checks, M failed"; exit status non-zero on failure.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
DROVER=${DROVER:-$TOP/drover}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/drover-aws.XXXXXX")
SUFFIX=$$
AKID=AKIDDROVERTEST0001 SECRET=standin-secret-0001
TAKID=ASIADROVERTEST0002 TSECRET=standin-secret-0002 TTOKEN=standin-session-token-0002
FAKID=AKIDDROVERTEST0003 FSECRET=standin-secret-0003
CAKID=AKIDDROVERTEST0004 CSECRET=standin-secret-0004
RAKID=ASIADROVERROLE0005 RSECRET=standin-secret-0005 RTOKEN=standin-role-token-0005
export NO_COLOR=1 DROVER_LOCK_DIR=$TMP/locks HOME=$TMP/home
export AWS_EC2_METADATA_DISABLED=true
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE \
  AWS_REGION AWS_DEFAULT_REGION DROVER_EC2_ENDPOINT AWS_EC2_METADATA_SERVICE_ENDPOINT
export AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET
mkdir -p "$DROVER_LOCK_DIR" "$HOME"

# jqt: tests/live/jq.sh (jq -e alone passes on empty input)
. "$TOP/tests/live/jq.sh"
checks=0 failures=0
ok() { checks=$((checks + 1)); echo "ok - aws: $*"; }
notok() { checks=$((checks + 1)); failures=$((failures + 1)); echo "not ok - aws: $*"; }
show() { sed 's/^/#   /' "$1" | head -${2:-15}; }
# run ARGS...: drover with output in $TMP/out, $TMP/err and status in $rc;
# every output is kept for the secrets check at the end.
n_run=0
run() {
  "$DROVER" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null; rc=$?
  n_run=$((n_run + 1)); cat "$TMP/out" "$TMP/err" >>"$TMP/all-output"
}
expect_rc() {
  if [ "$rc" -eq "$2" ]; then ok "$1"
  else notok "$1 (exit $rc, want $2)"; show "$TMP/err"; show "$TMP/out"; fi
}
SPID=
cleanup() {
  [ -n "${APID:-}" ] && kill -9 "$APID" 2>/dev/null
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT

for c in node curl jq; do
  command -v $c >/dev/null || { notok "$c is needed"; echo "# aws: $checks checks, $failures failed"; exit 1; }
done
node "$HERE/ec2-standin.js" --port-file "$TMP/port" --transition-ms 200 \
  --key "$AKID:$SECRET" --key "$TAKID:$TSECRET:$TTOKEN" --key "$FAKID:$FSECRET" \
  --key "$CAKID:$CSECRET" --role-key "$RAKID:$RSECRET:$RTOKEN" >"$TMP/standin.log" 2>&1 &
SPID=$!
# Wait for the stand-in to say where it listens (it writes the port file
# atomically once listening), with a deadline.
for _ in $(seq 1 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || { notok "the stand-in did not start"; show "$TMP/standin.log"; exit 1; }
EP=http://127.0.0.1:$(cat "$TMP/port")
stats() { curl -sS "$EP/_standin/stats"; }
control() { curl -sS -X POST -d "$2" "$EP/_standin/$1" >/dev/null; }
# ec2 QUERY: one signed call with libcurl's signer (out-of-band changes).
ec2() {
  curl -sS -X POST --aws-sigv4 "aws:amz:us-east-1:ec2" --user "$AKID:$SECRET" \
    -H 'Content-Type: application/x-www-form-urlencoded' -d "Action=$1&Version=2016-11-15&$2" "$EP/"
}
# live STACK [ADDRESS]: the stack's instances that are not terminated.
live() {
  stats | jq -c --arg s "$1" --arg a "${2:-}" '[.instances[] | select(.tags["drover:stack"] == $s
    and ($a == "" or .tags["drover:address"] == $a) and .state != "terminated" and .state != "shutting-down")]'
}
calls() { stats | jq -r --arg a "$1" '.calls[$a] // 0'; }

# template FILE STACK COUNT TYPE IMAGE STATE [EXTRA_SETTINGS]; POLL: poll_interval
template() {
  cat >"$1" <<EOF
{"drover": 1, "stack": "$2",
 "providers": {"aws": {"endpoint": "$EP", "region": "us-east-1", "poll_interval": ${POLL:-0.05},
                       "page_size": 5, "retry_base": 0.02${7:+, $7}}},
 "resources": {
  "web": {"type": "aws.instance", "count": $3,
          "properties": {"image": "$5", "instance_type": "$4", "state": "$6",
                         "security_groups": ["sg-0aaa"], "subnet": "subnet-0abc", "key_name": "ops",
                         "root_volume_size": 12, "user_data": "#!/bin/sh\necho hello",
                         "tags": {"role": "web", "ünïcödé": "värde ✓ 日本"}}}
 },
 "outputs": {"first": {"value": "\${resources.web[0].id}"}}}
EOF
}
IMG=ami-0abcdef1234567890 IMG2=ami-0fedcba0987654321

# ---- 1. apply, re-plan, drift, update, replace, destroy -------------------------
S=aws-life-$SUFFIX
T=$TMP/life.json
template "$T" "$S" 2 t3.micro $IMG running
run apply --yes "$T"; expect_rc "apply creates two instances" 0
L=$(live "$S")
[ "$(jq length <<<"$L")" = 2 ] && [ "$(jq -r '[.[].state] | unique | join(",")' <<<"$L")" = running ] &&
  ok "two running instances in the stand-in" || { notok "instances after apply"; echo "# $L"; }
jqt 'length == 2 and all(.[]; .tags["drover:address"] != null and .tags["drover:hash"] != null
  and .tags["ünïcödé"] == "värde ✓ 日本" and .tags.role == "web" and .type == "t3.micro"
  and .root_size == 12 and .groups == ["sg-0aaa"] and (.token | startswith("drover-")))' <<<"$L" >/dev/null &&
  ok "ownership and unicode tags, type, groups, root size and ClientToken as asked" ||
  { notok "instance attributes"; echo "# $L"; }
[ "$(jq -r '.[0].user_data' <<<"$L" | base64 -d)" = "$(printf '#!/bin/sh\necho hello')" ] &&
  ok "user data sent in base64" || notok "user data"
ID0=$(jq -r '.[] | select(.tags["drover:address"] == "web[0]") | .id' <<<"$L")
grep -q "first = \"$ID0\"" "$TMP/out" && ok "the output resolves the server-assigned ID" ||
  { notok "output id"; show "$TMP/out"; }
run plan --detailed-exitcode "$T"; expect_rc "re-plan after apply: no changes" 0

ec2 CreateTags "ResourceId.1=$ID0&Tag.1.Key=role&Tag.1.Value=changed" >/dev/null
ec2 StopInstances "InstanceId.1=$ID0" >/dev/null
run plan --detailed-exitcode "$T"; expect_rc "tags and state changed out of band show in the plan" 2
grep -q 'web\[0\].*will be updated in place: changed outside drover' "$TMP/out" &&
  grep -q '"state"' "$TMP/out" && grep -q '"tags"' "$TMP/out" &&
  ok "the drift is an in-place update naming tags and state" || { notok "drift plan"; show "$TMP/out" 20; }
run apply --yes "$T"; expect_rc "apply repairs the drift" 0
jqt --arg id "$ID0" '.[] | select(.id == $id) | .state == "running" and .tags.role == "web"' \
  <<<"$(live "$S")" >/dev/null && ok "drift repaired in place (same ID, running, tag back)" ||
  { notok "drift repair"; live "$S"; }

template "$T" "$S" 2 t3.large $IMG running
run plan --detailed-exitcode "$T"; expect_rc "a new instance_type shows in the plan" 2
grep -q 'will be updated in place: "instance_type" changed' "$TMP/out" &&
  ok "instance_type is an in-place update" || { notok "type plan"; show "$TMP/out" 20; }
before=$(live "$S" | jq -c '[.[].id] | sort')
run apply --yes "$T"; expect_rc "apply changes the type" 0
L=$(live "$S")
[ "$(jq -c '[.[].id] | sort' <<<"$L")" = "$before" ] &&
  jqt 'all(.[]; .type == "t3.large" and .state == "running")' <<<"$L" >/dev/null &&
  ok "same instances, new type, running again" || { notok "type update"; echo "# $L"; }
[ "$(calls StopInstances)" -ge 2 ] && [ "$(calls ModifyInstanceAttribute)" -ge 2 ] &&
  ok "the type was changed while stopped (Stop, Modify, Start)" || notok "type change path"

template "$T" "$S" 2 t3.large $IMG stopped
run apply --yes "$T"; expect_rc "apply state=stopped" 0
jqt 'all(.[]; .state == "stopped")' <<<"$(live "$S")" >/dev/null &&
  ok "both instances stopped in place" || { notok "stop"; live "$S"; }
run plan --detailed-exitcode "$T"; expect_rc "re-plan after stop: no changes" 0

template "$T" "$S" 2 t3.large $IMG2 stopped
run plan --detailed-exitcode "$T"; expect_rc "a new image shows in the plan" 2
grep -q 'must be replaced: "image" forces replacement' "$TMP/out" && ok "image forces replacement" ||
  { notok "replace plan"; show "$TMP/out" 20; }
run apply --yes "$T"; expect_rc "apply replaces both" 0
L=$(live "$S")
[ "$(jq length <<<"$L")" = 2 ] && jqt --argjson old "$before" 'all(.[]; (.id as $i | $old | index($i)) == null
  and .image == "'$IMG2'" and .state == "stopped")' <<<"$L" >/dev/null &&
  ok "two new instances from the new image, the old ones terminated" || { notok "replace"; echo "# $L"; }
run plan --detailed-exitcode "$T"; expect_rc "re-plan after replace: no changes" 0

# ---- 2. pagination: 7 instances, pages of 5 --------------------------------------
# Growing to 7 makes 5 in parallel: one RunInstances each (its own
# ClientToken), and their waits share describe calls. A poll interval of
# 1 s lets all 5 join the first poll; one wait per instance would be 5 or
# more calls naming one instance each.
POLL=1 template "$T" "$S" 7 t3.large $IMG2 stopped
r0=$(calls RunInstances) w0=$(stats | jq '.ids["DescribeInstances:instance-id"] // [] | length')
run apply --yes "$T"; expect_rc "apply grows to 7 instances" 0
W=$(stats | jq -c --argjson i "$w0" '.ids["DescribeInstances:instance-id"][$i:]')
[ "$(( $(calls RunInstances) - r0 ))" = 5 ] && jqt 'length >= 1 and length < 5 and max >= 2' <<<"$W" >/dev/null &&
  ok "5 launches, one RunInstances each, waited for with $(jq length <<<"$W") shared describe(s) (instances per call: $W)" ||
  notok "create batching: $(( $(calls RunInstances) - r0 )) RunInstances, instances per wait describe $W"
d0=$(calls DescribeInstances)
run plan --detailed-exitcode "$T"; expect_rc "re-plan of 7 over pages of 5: no changes" 0
[ "$(( $(calls DescribeInstances) - d0 ))" = 2 ] && ok "refresh took exactly two DescribeInstances pages" ||
  notok "refresh pages: $(( $(calls DescribeInstances) - d0 )) DescribeInstances calls"

# ---- 3. throttling and the retry budget ------------------------------------------
control fault '{"action": "DescribeInstances", "status": 503, "code": "RequestLimitExceeded", "count": 3}'
f0=$(stats | jq .faults)
run plan --detailed-exitcode "$T"; expect_rc "plan survives 3 RequestLimitExceeded answers" 0
[ "$(( $(stats | jq .faults) - f0 ))" = 3 ] && ok "the 3 throttled answers were retried" || notok "throttle count"
template "$TMP/budget.json" "$S" 7 t3.large $IMG2 stopped '"retry_budget": 2'
control fault '{"action": "DescribeInstances", "status": 503, "code": "RequestLimitExceeded", "count": 10}'
d0=$(calls DescribeInstances)
run plan "$TMP/budget.json"; expect_rc "a run out of retry budget fails" 1
[ "$(( $(calls DescribeInstances) - d0 ))" = 3 ] && ok "retry budget 2: exactly 3 tries" ||
  notok "budget: $(( $(calls DescribeInstances) - d0 )) tries"
grep 'RequestLimitExceeded' "$TMP/err" | grep -q 'retry budget spent' &&
  ok "the error names RequestLimitExceeded and the spent retry budget" ||
  { notok "budget error text"; show "$TMP/err"; }
control clear-faults '{}'
control fault '{"action": "DescribeInstances", "status": 500, "code": "InternalError", "count": 2}'
run plan --detailed-exitcode "$T"; expect_rc "plan survives two 500 answers" 0
control clear-faults '{}'
# Throttling sent as a 400 (EC2 documents it by code, not status).
control fault '{"action": "DescribeInstances", "status": 400, "code": "RequestLimitExceeded", "count": 2}'
f0=$(stats | jq .faults)
run plan --detailed-exitcode "$T"; expect_rc "plan survives RequestLimitExceeded sent as 400" 0
[ "$(( $(stats | jq .faults) - f0 ))" = 2 ] && ok "both 400 throttles were retried" || notok "400 throttle count"
control fault '{"action": "DescribeInstances", "status": 400, "code": "RequestLimitExceeded", "count": 10}'
d0=$(calls DescribeInstances)
run plan "$TMP/budget.json"; expect_rc "400 throttles beyond the budget fail" 1
[ "$(( $(calls DescribeInstances) - d0 ))" = 3 ] && ok "retry budget 2 holds for 400 throttles too: 3 tries" ||
  notok "400 budget: $(( $(calls DescribeInstances) - d0 )) tries"
control clear-faults '{}'

# ids ACTION: how many InstanceId.N each call of ACTION named so far, as a JSON array
ids() { stats | jq -c --arg a "$1" '.ids[$a] // []'; }
t0=$(calls TerminateInstances) i0=$(ids DescribeInstances | jq length)
run destroy --yes "$T"; expect_rc "destroy" 0
[ "$(live "$S" | jq length)" = 0 ] && ok "every instance of the stack is terminated" || notok "after destroy"
[ "$(( $(calls TerminateInstances) - t0 ))" = 1 ] && [ "$(ids TerminateInstances | jq -c '.[-1]')" = 7 ] &&
  ok "the 7 instances were terminated with one TerminateInstances call" ||
  notok "terminate batching: $(( $(calls TerminateInstances) - t0 )) calls, IDs per call $(ids TerminateInstances)"
W=$(ids DescribeInstances | jq -c --argjson i "$i0" '.[$i:]')
jqt 'length >= 1 and all(.[]; . == 7)' <<<"$W" >/dev/null &&
  ok "the wait for terminated described all 7 in each call ($(jq length <<<"$W") polls)" ||
  notok "wait batching: IDs per DescribeInstances call $W"

# ---- 3a. a batch refused as a whole: each instance gets its own answer ------------
PS=aws-part-$SUFFIX
template "$TMP/part.json" "$PS" 3 t3.micro $IMG running
run apply --yes "$TMP/part.json"; expect_rc "apply 3 instances to delete in one batch" 0
t0=$(calls TerminateInstances)
# The batch call and then the first single one are refused.
control fault '{"action": "TerminateInstances", "status": 400, "code": "OperationNotPermitted", "count": 2}'
run destroy --yes "$TMP/part.json"; expect_rc "destroy with one instance refused fails" 1
control clear-faults '{}'
[ "$(live "$PS" | jq length)" = 1 ] && ok "the other two were terminated, one is left" ||
  { notok "partial terminate"; live "$PS"; }
[ "$(( $(calls TerminateInstances) - t0 ))" = 4 ] && [ "$(ids TerminateInstances | jq -c '.[-4:]')" = "[3,1,1,1]" ] &&
  ok "the refused batch was sent again one instance per call" ||
  notok "fallback calls: $(ids TerminateInstances)"
[ "$(grep -c 'OperationNotPermitted' "$TMP/err")" -ge 1 ] &&
  grep "OperationNotPermitted" "$TMP/err" | grep -q "web\[[0-2]\]" &&
  ok "the error names the refused instance and the AWS code" || { notok "partial error"; show "$TMP/err"; }
run destroy --yes "$TMP/part.json"; expect_rc "destroy again finishes it" 0
[ "$(live "$PS" | jq length)" = 0 ] && ok "nothing left of the partial stack" || notok "after second destroy"
run plan --detailed-exitcode "$T"; expect_rc "plan after destroy: 7 to create" 2

# ---- 3b. volumes and snapshots -----------------------------------------------------
SV=aws-vol-$SUFFIX
# vtemplate FILE SIZE TYPE ATTACH(0|1) [SNAP_DESC]
vtemplate() {
  local snap=""
  [ -n "${5:-}" ] && snap=',
  "snap": {"type": "aws.snapshot",
           "properties": {"volume": "${resources.data.id}", "description": "'"$5"'"}}'
  cat >"$1" <<EOF
{"drover": 1, "stack": "$SV",
 "providers": {"aws": {"endpoint": "$EP", "poll_interval": 0.05, "retry_base": 0.02}},
 "resources": {
  "host": {"type": "aws.instance", "properties": {"image": "$IMG"}},
  "data": {"type": "aws.volume",
           "properties": {"zone": "us-east-1a", "size": $2, "type": "$3",
                          "instance": "$([ "$4" = 1 ] && echo '${resources.host.id}')",
                          "device": "$([ "$4" = 1 ] && echo /dev/sdf)", "tags": {"ünï": "✓"}}}$snap
 }}
EOF
}
vols() { stats | jq -c --arg s "$SV" '[.volumes[] | select(.tags["drover:stack"] == $s)]'; }
snaps() { stats | jq -c --arg s "$SV" '[.snapshots[] | select(.tags["drover:stack"] == $s)]'; }
vtemplate "$TMP/vol.json" 10 gp3 1 "nightly ✓"
control fault '{"action": "CreateSnapshot", "status": 500, "code": "InternalError", "count": 1, "after": true}'
c0=$(calls CreateSnapshot)
run apply --yes "$TMP/vol.json"; expect_rc "apply an instance, an attached volume and a snapshot of it" 0
V=$(vols) N=$(snaps)
HID=$(live "$SV" | jq -r '.[0].id')
[ "$(jq length <<<"$V")" = 1 ] && jqt --arg h "$HID" '.[0] | .status == "in-use" and .instance == $h
  and .device == "/dev/sdf" and .size == 10 and .type == "gp3" and .tags["ünï"] == "✓"' <<<"$V" >/dev/null &&
  ok "the volume is attached to the instance, with its tags" || { notok "volume after apply"; echo "# $V"; }
VID=$(jq -r '.[0].id' <<<"$V")
[ "$(( $(calls CreateSnapshot) - c0 ))" = 1 ] && [ "$(jq length <<<"$N")" = 1 ] &&
  jqt --arg v "$VID" '.[0] | .volume == $v and .status == "completed" and (.tags["drover:run"] | startswith("drover-"))
    and .description == "nightly ✓"' <<<"$N" >/dev/null &&
  ok "a lost CreateSnapshot answer: the run tag found it, no second CreateSnapshot, one snapshot" ||
  { notok "snapshot after lost answer ($(( $(calls CreateSnapshot) - c0 )) calls)"; echo "# $N"; }
run plan --detailed-exitcode "$TMP/vol.json"; expect_rc "re-plan volumes and snapshots: no changes" 0
vtemplate "$TMP/vol.json" 20 io2 1 "nightly ✓"
run plan --detailed-exitcode "$TMP/vol.json"; expect_rc "a bigger volume of another type shows in the plan" 2
grep -q 'data (aws.volume [^)]*) will be updated in place' "$TMP/out" && ok "size and type change in place" ||
  { notok "volume plan"; show "$TMP/out" 20; }
run apply --yes "$TMP/vol.json"; expect_rc "apply grows the volume" 0
jqt --arg v "$VID" '.[0] | .id == $v and .size == 20 and .type == "io2" and .status == "in-use"' <<<"$(vols)" >/dev/null &&
  ok "same volume, 20 GiB io2, still attached" || { notok "volume update"; vols; }
vtemplate "$TMP/vol.json" 20 io2 0
run apply --yes "$TMP/vol.json"; expect_rc "apply detaches the volume and drops the snapshot" 0
jqt --arg v "$VID" '.[0] | .id == $v and .status == "available" and .instance == ""' <<<"$(vols)" >/dev/null &&
  [ "$(snaps | jq length)" = 0 ] && ok "volume detached in place, snapshot deleted" || { notok "detach"; vols; snaps; }
run plan --detailed-exitcode "$TMP/vol.json"; expect_rc "re-plan after detach: no changes" 0
run destroy --yes "$TMP/vol.json"; expect_rc "destroy the volume stack" 0
[ "$(vols | jq length)" = 0 ] && [ "$(live "$SV" | jq length)" = 0 ] && ok "volume and instance gone" ||
  { notok "after volume destroy"; vols; }

# ---- 4. client errors surface at once ----------------------------------------------
S2=aws-err-$SUFFIX
template "$TMP/err.json" "$S2" 1 t3.micro ami-0000000000000dead running
r0=$(calls RunInstances) d0=$(calls DescribeImages)
run apply --yes "$TMP/err.json"; expect_rc "apply with an unknown image fails" 1
grep -q 'InvalidAMIID.NotFound' "$TMP/err" && grep -q "ami-0000000000000dead" "$TMP/err" &&
  ok "the AWS code and message are shown" || { notok "client error text"; show "$TMP/err"; }
[ "$(( $(calls DescribeImages) - d0 ))" = 1 ] && [ "$(calls RunInstances)" = "$r0" ] &&
  ok "no retry of a client error" || notok "client error was retried"

# ---- 5. a lost RunInstances answer: the retry returns the same instance -------------
S3=aws-lost-$SUFFIX
template "$TMP/lost.json" "$S3" 1 t3.micro $IMG running
control fault '{"action": "RunInstances", "status": 500, "code": "InternalError", "count": 1, "after": true}'
r0=$(calls RunInstances)
run apply --yes "$TMP/lost.json"; expect_rc "apply survives a lost RunInstances answer" 0
[ "$(( $(calls RunInstances) - r0 ))" -ge 2 ] && [ "$(live "$S3" | jq length)" = 1 ] &&
  [ "$(stats | jq --arg s "$S3" '[.instances[] | select(.tags["drover:stack"] == $s)] | length')" = 1 ] &&
  ok "RunInstances sent twice, one instance made (ClientToken)" || { notok "lost answer"; live "$S3"; }
run destroy --yes "$TMP/lost.json"; expect_rc "destroy the lost-answer stack" 0

# ---- 6. kill -9 during a create, then apply again ---------------------------------------
S4=aws-kill-$SUFFIX
template "$TMP/kill.json" "$S4" 1 t3.micro $IMG running
control config '{"transition_ms": 60000}'
r0=$(calls RunInstances)
"$DROVER" apply --yes "$TMP/kill.json" >"$TMP/kill.out" 2>&1 </dev/null &
APID=$!
# Kill once RunInstances has been answered (the instance is pending and
# drover is waiting for it), with a deadline.
for _ in $(seq 1 200); do [ "$(calls RunInstances)" -gt "$r0" ] && break; sleep 0.05; done
kill -9 "$APID"; wait "$APID" 2>/dev/null; APID=
KID=$(live "$S4" | jq -r '.[0].id')
[ "$(live "$S4" | jq length)" = 1 ] && ok "the killed apply left one (pending) instance" ||
  { notok "after kill"; live "$S4"; }
control config '{"transition_ms": 200}'
run apply --yes "$TMP/kill.json"; expect_rc "apply after kill -9" 0
L=$(live "$S4")
# Adopted, not launched again: the same ID, and no other instance ever
# made for the stack. (A pending instance counts as running for the plan,
# so the re-apply does not wait for it.)
[ "$(jq length <<<"$L")" = 1 ] && [ "$(jq -r '.[0].id' <<<"$L")" = "$KID" ] &&
  [ "$(stats | jq --arg s "$S4" '[.instances[] | select(.tags["drover:stack"] == $s)] | length')" = 1 ] &&
  ok "exactly one instance, the one the killed run launched" || { notok "after re-apply"; echo "# $L"; }
run plan --detailed-exitcode "$TMP/kill.json"; expect_rc "re-plan after the re-apply: no changes" 0

# ---- 7. credentials from each place ------------------------------------------------------
cred_plan() { run plan --detailed-exitcode "$TMP/kill.json"; }
# Environment with a session token.
AWS_ACCESS_KEY_ID=$TAKID AWS_SECRET_ACCESS_KEY=$TSECRET AWS_SESSION_TOKEN=$TTOKEN cred_plan
expect_rc "credentials from the environment with a session token" 0
total() { stats | jq '[.calls[]] | add'; }
t0=$(total) j0=$(stats | jq .rejected)
AWS_ACCESS_KEY_ID=$TAKID AWS_SECRET_ACCESS_KEY=$TSECRET cred_plan
expect_rc "the same key without its session token is refused" 1
# Every request of that run was refused, none retried (a client error).
t1=$(total) j1=$(stats | jq .rejected)
[ $((t1 - t0)) -ge 1 ] && [ $((t1 - t0)) = $((j1 - j0)) ] && [ $((t1 - t0)) -le 4 ] &&
  ok "the stand-in refused each of its $((t1 - t0)) requests once" ||
  notok "refused $((j1 - j0)) of $((t1 - t0)) requests"
grep -q 'AuthFailure' "$TMP/err" && grep -q 'the environment' "$TMP/err" &&
  ok "the refusal names AuthFailure and where the credentials came from" || { notok "auth error"; show "$TMP/err"; }
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
mkdir -p "$HOME/.aws"
printf '[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n[ci]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
  "$FAKID" "$FSECRET" >"$HOME/.aws/credentials"
AWS_PROFILE=ci cred_plan; expect_rc "credentials from ~/.aws/credentials, profile ci" 0
printf '[profile other]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$CAKID" "$CSECRET" >"$TMP/config"
AWS_PROFILE=other AWS_CONFIG_FILE=$TMP/config cred_plan
expect_rc "credentials from the config file, [profile other]" 0
rm -f "$HOME/.aws/credentials"
AWS_EC2_METADATA_DISABLED=true cred_plan; expect_rc "no credentials anywhere: an error" 1
grep -q 'no credentials' "$TMP/err" && ok "the error says where it looked" || { notok "no-cred text"; show "$TMP/err"; }
i0=$(stats | jq -c .imds)
AWS_EC2_METADATA_DISABLED= AWS_EC2_METADATA_SERVICE_ENDPOINT=$EP cred_plan
expect_rc "credentials from the instance role through IMDSv2" 0
i1=$(stats | jq -c .imds)
[ "$(jq -n --argjson a "$i0" --argjson b "$i1" '[$b.token - $a.token, $b.role - $a.role, $b.creds - $a.creds]' -c)" = "[1,1,1]" ] &&
  ok "one token PUT and one credentials GET for the whole run (cached)" ||
  notok "IMDS calls: before $i0 after $i1"
export AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET
run destroy --yes "$TMP/kill.json"; expect_rc "destroy the kill stack" 0

# ---- 9. the shipped elastic-node template ---------------------------------------------
TPL=$TOP/templates/slurm-cloud-nodes-aws.json
ST=node-awscloud$SUFFIX
printf '{"aws": {"endpoint": "%s", "poll_interval": 0.05}}\n' "$EP" >"$TMP/admin.json"
run validate --var node=awscloud1 "$TPL"; expect_rc "the AWS node template validates" 0
run apply --yes --stack "$ST" --var node=awscloud1 --provider-config "$TMP/admin.json" "$TPL"
expect_rc "the AWS node template applies" 0
L=$(live "$ST")
[ "$(jq length <<<"$L")" = 1 ] && jqt '.[0] | .tags.Name == "awscloud1" and .type == "c5.large"
  and .root_size == 20 and .groups == ["sg-0aaa"]' <<<"$L" >/dev/null &&
  jq -r '.[0].user_data' <<<"$L" | base64 -d | grep -q 'exec slurmd -N awscloud1' &&
  ok "one node instance, named, sized, with slurmd in its user data" || { notok "node template instance"; echo "# $L"; }
run output --json --stack "$ST" --var node=awscloud1 --provider-config "$TMP/admin.json" "$TPL"
jqt '(.address.value | test("^[0-9.]+$")) and .hostname.value == "awscloud1"' "$TMP/out" >/dev/null &&
  ok "outputs: address (private IP) and hostname for Slurm" || { notok "node template outputs"; show "$TMP/out"; }
run plan --detailed-exitcode --stack "$ST" --var node=awscloud1 --provider-config "$TMP/admin.json" "$TPL"
expect_rc "the node template re-plans with no changes" 0
run destroy --yes --stack "$ST" --var node=awscloud1 --provider-config "$TMP/admin.json" "$TPL"
expect_rc "the node template destroys" 0
[ "$(live "$ST" | jq length)" = 0 ] && ok "the node instance is gone" || notok "node instance left"

# ---- 7b. backup.policy on EBS (tests/aws/t_backup.sh) ------------------------------------
. "$HERE/t_backup.sh"
# ---- 7c. restore and backup verify from EBS snapshots (tests/aws/t_restore.sh) -------------
. "$HERE/t_restore.sh"

# ---- 8. no secret in any output ------------------------------------------------------------
leaked=
for s in "$SECRET" "$TSECRET" "$TTOKEN" "$FSECRET" "$CSECRET" "$RSECRET" "$RTOKEN"; do
  grep -qF "$s" "$TMP/all-output" "$TMP/kill.out" && leaked="$leaked $s"
done
[ -z "$leaked" ] && ok "no secret key or token in the output of $n_run runs" || notok "leaked:$leaked"
echo "# aws: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
