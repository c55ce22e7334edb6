#!/bin/sh
# imds.sh - the job epilog and the AWS instance metadata service (IMDS).
#
# The epilog destroys a job's stack by its labels, so it asks every
# provider, AWS included. slurmd builds its environment from the job's,
# and the plugin clears even that, so AWS_EC2_METADATA_DISABLED never
# reaches it: the admin's provider config turns the instance role off
# instead, {"aws": {"imds": false}} (doc/aws.md, "Tests and IMDS"). Here
# that config also points imds_endpoint at the EC2 stand-in on loopback
# (tests/aws/ec2-standin.js), which counts the IMDS requests it gets:
#  - "imds": false: the job's epilog makes none, logs the AWS provider
#    skipped because of the setting, and destroys the job's stack;
#  - the setting left out (the control, so the count is a signal that can
#    fail): the same job's epilog asks the stand-in for the role.
# Only the epilog asks every provider here (no max_instances_per_user, so
# the prolog talks to LXD alone). The cluster is put back at the end.
. "$(dirname "$0")/lib.sh"
need_slurm; need_lxd; make_user
for c in node jq curl; do command -v $c >/dev/null || skip "$c is needed"; done

W=$(mktemp -d /tmp/drover-imds.XXXXXX)
SPID=
finish() {
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
  rm -rf "$W" "$DT/imds-test.json"
  slurm_with_args "$BASE_ARGS"
}
trap finish EXIT

RAKID=ASIADROVERIMDS0001 RSECRET=standin-secret-imds RTOKEN=standin-role-token-imds
node "$TOP/tests/aws/ec2-standin.js" --port-file "$W/port" \
  --role-key "$RAKID:$RSECRET:$RTOKEN" >"$W/standin.log" 2>&1 &
SPID=$!
i=0; until [ -s "$W/port" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$W/port" ] || fail "the stand-in did not start: $(cat "$W/standin.log")"
EP=http://127.0.0.1:$(cat "$W/port")
imds_asks() { curl -sS "$EP/_standin/stats" | jq -r '.imds.token + .imds.role + .imds.creds'; }

# job_epilog AWS_SETTINGS: restarts the cluster with a config whose aws
# part is AWS_SETTINGS (endpoint and imds_endpoint at the stand-in), runs
# one job of the probe template and waits for its epilog's destroy line.
# Sets jid and stack.
job_epilog() {
  cfg=$DT/imds-test.json
  printf '{"lxd": {"project": "default"}, "aws": {%s"endpoint": "%s", "imds_endpoint": "%s"}}\n' \
    "$1" "$EP" "$EP" >"$cfg.tmp"
  chmod 0600 "$cfg.tmp"
  mv -f "$cfg.tmp" "$cfg"
  slurm_with_args "template_dir=$TPL config=$cfg"
  jid=$(as_user "sbatch --parsable -o /dev/null --drover=imdsprobe --wrap true") || fail "sbatch refused the job"
  stack=job-$jid-imdsprobe
  wait_grep "drover: $stack: destroyed (1 deleted)" "$SLURMD_LOG" 90 ||
    fail "the epilog of job $jid did not destroy $stack: $(grep "$stack" "$SLURMD_LOG" | tail -n 5)"
}

a0=$(imds_asks)
job_epilog '"imds": false, '
a1=$(imds_asks)
[ "$a1" = "$a0" ] || fail "with \"imds\": false the epilog of job $jid sent $((a1 - a0)) IMDS requests"
note "ok: job $jid: no IMDS request from its epilog with \"imds\": false"
line=$(grep "drover: $stack: provider aws is not set up here" "$SLURMD_LOG")
echo "$line" | grep -q 'IMDS turned off by the "imds": false setting' ||
  fail "the epilog did not say the setting turned IMDS off: ${line:-no aws line}"
[ -z "$(stack_profiles "$stack")" ] || fail "$stack's profile left after the job"
note "ok: the epilog skipped aws for the setting and destroyed the LXD profile"

job_epilog ''
a2=$(imds_asks)
[ "$a2" -gt "$a1" ] || fail "control: without the setting the epilog of job $jid asked IMDS $((a2 - a1)) times"
grep "drover: $stack: provider aws" "$SLURMD_LOG" && fail "control: the epilog skipped aws"
note "ok: control: without the setting the epilog of job $jid asked the stand-in's IMDS $((a2 - a1)) times"
pass "the job epilog makes no IMDS request with {\"aws\": {\"imds\": false}}"
