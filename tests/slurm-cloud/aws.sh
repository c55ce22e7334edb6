#!/usr/bin/env bash
# tests/slurm-cloud/aws.sh - the elastic-node programs on EC2, with the
# real slurmctld running them and the loopback EC2 stand-in
# (tests/aws/ec2-standin.js; not EC2, no AWS account) as the cloud, from
# the shipped templates/slurm-cloud-nodes-aws.json:
#
#  1. three cloud nodes powered up at once, EC2 out of capacity for one
#     launch (InsufficientInstanceCapacity injected): that node is DOWN
#     with the AWS code in its reason (scontrol), has no instance, and its
#     failure did not stop the other two, which got one RunInstances each
#     with their own ClientToken and tags, and their addresses in Slurm;
#  2. the two powered down at once: one TerminateInstances for both.
#
# No slurmd ever runs on these nodes (the stand-in's instances are not
# machines); the test needs only slurmctld's power-save side. Needs root,
# Slurm and munge (scripts/slurm-setup.sh), node, jq and a built drover.
# Restores the standard Slurm config on exit. Run under
# flock /tmp/drover-live.lock on shared machines.
. "$(dirname "$0")/lib.sh"

AW=/var/lib/drover-cloud-aws-test      # programs, config, log
ACONF=$AW/slurm.json
APLOG=$AW/power.log
ANODES="drva1 drva2 drva3"
AKID=AKIDDROVERSLURM01 SECRET=standin-slurm-secret-01
SPID=

die() { echo "FAIL: aws: $*"; aws_debug; exit 1; }
aws_debug() {
  echo "---- sinfo"; sinfo -N -o '%N %T %E' 2>&1 | head -20
  echo "---- power log"; tail -n 30 "$APLOG" 2>/dev/null
  echo "---- stand-in"; [ -n "${EP:-}" ] && curl -sS "$EP/_standin/stats" | jq -c '.calls, .ids' 2>/dev/null
}
aws_restore() {
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
  bash "$TOP/scripts/slurm-setup.sh" >/dev/null
}
trap aws_restore EXIT
trap 'exit 1' TERM INT
t_all=$(date +%s)
[ "$(id -u)" = 0 ] || die "needs root"
for c in node jq curl scontrol; do command -v $c >/dev/null || die "$c is needed"; done

# --- the stand-in ------------------------------------------------------------------
rm -rf "$AW"
mkdir -p "$AW/bin" "$AW/locks"
node "$TOP/tests/aws/ec2-standin.js" --port-file "$AW/port" --transition-ms 200 \
  --key "$AKID:$SECRET" >"$AW/standin.log" 2>&1 &
SPID=$!
wait_for 10 "the stand-in listening" test -s "$AW/port"
EP=http://127.0.0.1:$(cat "$AW/port")
stats() { curl -sS "$EP/_standin/stats"; }
calls() { stats | jq -r --arg a "$1" '.calls[$a] // 0'; }

# --- the programs and Slurm ------------------------------------------------------------
# slurmctld gives the programs no environment but SLURM_CONF: the wrappers
# add the stand-in's credentials and keep the credential chain on
# loopback (no IMDS).
printf '{"aws": {"endpoint": "%s", "region": "us-east-1", "poll_interval": 0.05}}\n' "$EP" \
  >"$AW/admin.json"
chmod 0600 "$AW/admin.json"
for k in resume suspend resume-fail; do
  cat >"$AW/bin/$k" <<EOF
#!/bin/sh
export AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET AWS_EC2_METADATA_DISABLED=true
exec $DROVER slurm $k --config $ACONF "\$@"
EOF
  chmod 0700 "$AW/bin/$k"
done
cat >"$ACONF" <<EOF
{"template": "$TOP/templates/slurm-cloud-nodes-aws.json", "provider_config": "$AW/admin.json",
 "log": "$APLOG", "lock_dir": "$AW/locks", "parallelism": 8, "grace": 30}
EOF
: >"$APLOG"
bash "$TOP/scripts/slurm-setup.sh" --no-plugin >/dev/null || die "standard slurm-setup failed"
power_conf "$AW/bin" 600 300 17100 $ANODES
echo "PartitionName=awscloud Nodes=drva[1-3] MaxTime=INFINITE State=UP" >>"$SCONF"
bash "$TOP/scripts/slurm-setup.sh" --stop >/dev/null
slurmctld || die "slurmctld did not start"
wait_for 20 "slurmctld up" sh -c 'scontrol ping 2>/dev/null | grep -q UP'
wait_for 30 "cloud nodes idle~" sh -c "[ \$(sinfo -h -N -p awscloud -o %T | grep -c 'idle~') -eq 3 ]"
ok "awscloud partition up: $(sinfo -h -p awscloud -o '%D nodes %T')"

# node_field NODE FIELD: one field of `scontrol -o show node`
node_field() { scontrol -o show node "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
node_line() { scontrol -o show node "$1" 2>/dev/null; }
# instances_of NODE: the node's instances in the stand-in that are not terminated
instances_of() {
  stats | jq -c --arg s "node-$1" '[.instances[] | select(.tags["drover:stack"] == $s
    and .state != "terminated" and .state != "shutting-down")]'
}

# --- 1. capacity error on one of three launches ------------------------------------------
curl -sS -X POST -d '{"action": "RunInstances", "status": 500, "code": "InsufficientInstanceCapacity", "count": 1}' \
  "$EP/_standin/fault" >/dev/null
scontrol update nodename=drva[1-3] state=power_up || die "power_up refused"
# Each node's outcome, whether Slurm ran one resume for the three or more.
wait_for 60 "every node's resume finished" sh -c \
  "[ \$(grep -cE ' resume drva[1-3]: (instance ready|.*setting it DOWN)' '$APLOG') -eq 3 ]"
down=
for n in $ANODES; do
  case $(node_field "$n" State) in *DOWN*) down="$down $n" ;; esac
done
down=${down# }
[ -n "$down" ] && [ "${down#* }" = "$down" ] || die "want exactly one DOWN node, got '$down'"
reason=$(node_line "$down" | sed -n 's/.* Reason=\(.*\) \[.*/\1/p')
case $reason in
  drover:*InsufficientInstanceCapacity*) ;;
  *) die "$down is DOWN with reason '$reason', not the AWS capacity code" ;;
esac
ok "$down is $(node_field "$down" State) with reason '$(echo "$reason" | cut -c1-90)...'"
[ "$(instances_of "$down" | jq length)" = 0 ] || die "$down has an instance after the capacity error"
ok "$down has no instance"
[ "$(calls RunInstances)" = 3 ] || die "$(calls RunInstances) RunInstances calls for 3 nodes"
up=
for n in $ANODES; do
  [ "$n" = "$down" ] && continue
  I=$(instances_of "$n")
  jq -e --arg n "$n" 'length == 1 and .[0].tags.Name == $n and .[0].tags["drover:address"] == "node"
    and (.[0].token | startswith("drover-"))' <<<"$I" >/dev/null || die "$n's instance: $I"
  addr=$(node_field "$n" NodeAddr)
  [ "$addr" != 127.0.0.1 ] && [ -n "$addr" ] || die "$n's NodeAddr is '$addr', not its instance's"
  up="$up $n"
done
tokens=$(stats | jq '[.instances[] | select(.tags["drover:stack"] | startswith("node-drva")) | .token] | unique | length')
[ "$tokens" = 2 ] || die "the two instances share a ClientToken ($tokens distinct)"
ok "the other two (${up# }) launched, one RunInstances each with its own ClientToken and tags, NodeAddr set"

# --- 2. the two powered down at once: one TerminateInstances ------------------------------
# The DOWN node was powered down at once (POWER_DOWN_FORCE): let its own
# suspend (nothing to delete) finish first.
wait_for 60 "$down's suspend" grep -q " suspend $down: done" "$APLOG"
: >"$APLOG"
t0=$(calls TerminateInstances)
scontrol update nodename=drva[1-3] state=power_down_force || die "power_down_force refused"
wait_for 60 "the suspend finished" grep -qE ' suspend: [0-9]+ node\(s\): .* done' "$APLOG"
for n in ${up# }; do
  [ "$(instances_of "$n" | jq length)" = 0 ] || die "$n still has an instance after the suspend"
done
t=$(( $(calls TerminateInstances) - t0 ))
last=$(stats | jq -c '.ids.TerminateInstances[-1]')
[ "$t" = 1 ] && [ "$last" = 2 ] || die "suspend: $t TerminateInstances calls (last named $last IDs), want 1 for 2"
ok "suspend terminated both instances with one TerminateInstances"

echo "PASS: slurm-cloud aws ($(( $(date +%s) - t_all ))s)"
