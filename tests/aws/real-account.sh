#!/usr/bin/env bash
# tests/aws/real-account.sh - MANUAL: the AWS provider against a real AWS
# account. Never run by scripts/test or CI (they use the loopback stand-in,
# tests/aws/run.sh). It costs a few cents: one t3.nano for a few minutes,
# one 1 GiB gp3 volume and one snapshot of it, all deleted at the end.
#
# Needs credentials in any of the places drover reads (environment,
# ~/.aws files with AWS_PROFILE, or an instance role) with the README's
# IAM policy, and:
#   AWS_REGION          region to use (e.g. eu-west-1)
#   DROVER_TEST_AMI     an AMI in that region (any small Linux image)
#   DROVER_TEST_SUBNET  optional: subnet ID (else the default VPC's)
# Steps: apply, re-plan (no changes), stop in place, destroy; exits
# non-zero on the first failure and destroys what it made.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DROVER=${DROVER:-$HERE/../../drover}
: "${AWS_REGION:?set AWS_REGION}" "${DROVER_TEST_AMI:?set DROVER_TEST_AMI}"
TMP=$(mktemp -d)
STACK=drover-real-$$
trap '"$DROVER" destroy --yes "$TMP/t.json" || echo "# destroy failed: remove stack $STACK by hand"; rm -rf "$TMP"' EXIT
state=running
write() {
  cat >"$TMP/t.json" <<EOF
{"drover": 1, "stack": "$STACK",
 "providers": {"aws": {"region": "$AWS_REGION"}},
 "resources": {
  "vm": {"type": "aws.instance",
         "properties": {"image": "$DROVER_TEST_AMI", "instance_type": "t3.nano", "state": "$state",
                        ${DROVER_TEST_SUBNET:+\"subnet\": \"$DROVER_TEST_SUBNET\",}
                        "tags": {"purpose": "drover real-account test"}}},
  "data": {"type": "aws.volume",
           "properties": {"zone": "\${resources.vm.availability_zone}", "size": 1,
                          "instance": "\${resources.vm.id}", "device": "/dev/sdf"}},
  "snap": {"type": "aws.snapshot", "properties": {"volume": "\${resources.data.id}"}}
 }}
EOF
}
write
"$DROVER" apply --yes "$TMP/t.json"
"$DROVER" plan --detailed-exitcode "$TMP/t.json"
state=stopped
write
"$DROVER" apply --yes "$TMP/t.json"
"$DROVER" plan --detailed-exitcode "$TMP/t.json"
echo "# real-account: apply, re-plan, stop in place passed; destroying"
