#!/usr/bin/env bash
# tests/live/templates.sh - every shipped template, on the real LXD.
#
# For each templates/*.json:
#   1. drover validate                     (no cloud)
#   2. drover apply --yes  --stack UNIQUE  (creates everything)
#   3. drover plan --detailed-exitcode     (must be 0: no changes)
#   4. drover output --json                (outputs resolve)
#   5. drover destroy --yes                (removes everything)
#   6. nothing labelled with the stack is left (raw list on the socket)
# Each step is one check; the last line is "N passed, M failed".
#
# Needs: a built ./drover (or $DROVER), LXD with the busybox image
# (scripts/lxd-setup.sh), the local S3 server for backup-gfs's export
# (scripts/s3-setup.sh), jq, curl. Stack names are unique per run, and
# an EXIT trap destroys whatever a failed run left, so it is safe to rerun.
set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/live/jq.sh"
DROVER=${DROVER:-$SRC/drover}
SOCK=${LXD_SOCKET:-/var/lib/lxd/unix.socket}
# Stack names end in this script's pid, so a rerun can tell a stack that a
# killed run left (its pid is gone) from one a concurrent run is using.
RUN_ID=$$
# Params that keep the live run small and quick.
declare -A VARS=(
  [quickstart]="--var replicas=2"
  [webtier]="--var replicas=2"
  [backup-gfs]="--var replicas=2 --var export=s3://drover-tpl-$RUN_ID/gfs"
  [drift-repair]="--var replicas=2"
  [business-hours-web]="--var replicas=1 --var day_count=2 --var night_count=1"
  [slurm-cloud-nodes]="--var node=ttnode$RUN_ID --var slurmd_port=17190"
)
# slurm-cloud-nodes runs on its own image (idempotent when it exists).
bash "$SRC/scripts/slurm-node-image.sh" >/dev/null || echo "# warning: no node image"


# backup-gfs exports to the local S3 server (scripts/s3-setup.sh) into a
# bucket of this run, emptied and removed on exit.
S3_EP=${DROVER_S3_ENDPOINT:-http://127.0.0.1:4568}
S3_BUCKET=drover-tpl-$RUN_ID
export DROVER_S3_ENDPOINT=$S3_EP AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
s3curl() {
  local m=$1 p=$2; shift 2
  curl -sS --max-time 60 -X "$m" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER "$@" "$S3_EP$p"
}
s3_drop_bucket() {
  local k
  for k in $(s3curl GET "/$S3_BUCKET?list-type=2" 2>/dev/null | grep -o '<Key>[^<]*</Key>' |
             sed 's/<Key>//; s/<\/Key>//'); do
    s3curl DELETE "/$S3_BUCKET/$k" >/dev/null 2>&1
  done
  s3curl DELETE "/$S3_BUCKET" >/dev/null 2>&1
}

pass=0 fail=0
declare -a cleanup_stacks=() cleanup_files=() cleanup_dirs=()

ok()   { pass=$((pass + 1)); echo "ok $((pass + fail)) - $*"; }
nok()  { fail=$((fail + 1)); echo "not ok $((pass + fail)) - $*"; }

# check DESCRIPTION WANT-RC COMMAND... : runs it, output to a log, checks rc.
LOG=$(mktemp /tmp/drover-templates.XXXXXX)
ERR=$(mktemp /tmp/drover-templates-err.XXXXXX)
cleanup_files+=("$LOG" "$ERR")
# Runs a command: its stdout in $LOG (what the --json checks parse), its
# stderr (warnings) in $ERR; both shown when it fails.
check() {
  local desc=$1 want=$2 rc; shift 2
  "$@" >"$LOG" 2>"$ERR"
  rc=$?
  if [ "$rc" -eq "$want" ]; then
    ok "$desc"
  else
    nok "$desc (exit $rc, want $want)"
    cat "$LOG" "$ERR" | sed 's/^/    # /' | tail -n 40
  fi
  return $(( rc != want ))
}

# lxd_get PATH: the body of a GET that LXD answered {"type":"sync",
# "status_code":200}; fails (message on stderr) on anything else.
lxd_get() {
  local body rc
  body=$(curl -sS --max-time 20 --unix-socket "$SOCK" "http://lxd$1" 2>&1); rc=$?
  if [ "$rc" -ne 0 ]; then echo "# LXD GET $1: curl exit $rc: $body" >&2; return 1; fi
  if ! jqt '.type == "sync" and .status_code == 200 and (.metadata | type == "array" or type == "object")' \
       <<<"$body" >/dev/null 2>&1; then
    echo "# LXD GET $1: not a sync 200 reply: ${body:0:300}" >&2; return 1
  fi
  printf '%s\n' "$body"
}

# Objects labelled with the stack, counted over the types the templates
# use. Prints "error" (never a number) and fails when a query failed, so
# neither "nothing left" nor "some created" can pass on a failed call.
owned_count() {
  local stack=$1 n=0 c url body
  for url in "/1.0/instances?recursion=1" "/1.0/profiles?recursion=1" \
             "/1.0/storage-pools/default/volumes/custom?recursion=1"; do
    body=$(lxd_get "$url") || { echo error; return 1; }
    c=$(jq --arg s "$stack" '[.metadata[] | select(.config["user.drover.stack"] == $s)] | length' <<<"$body") ||
      { echo error; return 1; }
    n=$((n + c))
  done
  echo "$n"
}

on_exit() {
  local s t
  for s in "${cleanup_stacks[@]}"; do
    t=${s#*=}; s=${s%%=*}
    if [ "$(owned_count "$s")" != 0 ]; then
      echo "# cleanup: destroying leftover stack $s"
      "$DROVER" destroy --yes --stack "$s" "$t" >/dev/null 2>&1 || true
    fi
  done
  rm -f "${cleanup_files[@]}"
  [ ${#cleanup_dirs[@]} -eq 0 ] || rm -rf "${cleanup_dirs[@]}"
  s3_drop_bucket
}
trap on_exit EXIT
trap 'exit 130' INT TERM

if [ ! -x "$DROVER" ]; then
  echo "templates.sh: $DROVER not built (scripts/build.sh)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
if ! curl -fsS --max-time 5 --unix-socket "$SOCK" http://lxd/1.0 >/dev/null 2>&1; then
  echo "templates.sh: LXD does not answer on $SOCK (scripts/lxd-setup.sh)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

if [ "$(s3curl PUT "/$S3_BUCKET" -o /dev/null -w '%{http_code}' 2>/dev/null)" != 200 ]; then
  echo "templates.sh: no S3 server answers on $S3_EP for backup-gfs's export (scripts/s3-setup.sh)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

# Stacks an earlier, killed run left behind (tt-*), found by label alone.
stale=$(for url in "/1.0/instances?recursion=1" "/1.0/profiles?recursion=1" \
                   "/1.0/storage-pools/default/volumes/custom?recursion=1"; do
          lxd_get "$url" | jq -r '.metadata[]?.config["user.drover.stack"] // empty'
        done | grep -E '^tt-.*-[0-9]+$' | sort -u)
for s in $stale; do
  pid=${s##*-}
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q templates.sh; then
    echo "# stack $s belongs to a running templates.sh (pid $pid); left alone"
    continue
  fi
  echo "# removing stack $s left by an earlier run"
  "$DROVER" destroy --yes --stack "$s" >/dev/null 2>&1 || echo "# warning: could not destroy $s"
done

shopt -s nullglob
templates=("$SRC"/templates/*.json)
if [ ${#templates[@]} -eq 0 ]; then
  echo "templates.sh: no templates in $SRC/templates" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

for tpl in "${templates[@]}"; do
  base=$(basename "$tpl" .json)
  # Templates for other clouds run against their stand-ins elsewhere
  # (slurm-cloud-nodes-aws.json: tests/aws/run.sh).
  if ! jqt '.providers | has("lxd")' "$tpl"; then
    echo "# $base: not an LXD template (tested by its provider's suite)"
    continue
  fi
  stack="tt-${base:0:20}-$RUN_ID"
  # shellcheck disable=SC2206
  vars=(${VARS[$base]:-})
  echo "# $base: stack $stack ${vars[*]}"

  check "$base: validate" 0 "$DROVER" validate "${vars[@]}" "$tpl" || continue
  # The param constraints hold: a memory limit that misses the pattern and
  # a count above max are refused before any cloud call.
  if jq -e '.params.memory.pattern' "$tpl" >/dev/null 2>&1; then
    check "$base: validate rejects --var memory=lots" 1 "$DROVER" validate --var memory=lots "$tpl"
  fi
  if max=$(jq -e '.params.replicas.max' "$tpl" 2>/dev/null); then
    check "$base: validate rejects --var replicas=$((max + 1))" 1 "$DROVER" validate --var replicas=$((max + 1)) "$tpl"
  fi
  cleanup_stacks+=("$stack=$tpl")

  if check "$base: apply" 0 "$DROVER" apply --yes --stack "$stack" "${vars[@]}" "$tpl"; then
    n=$(owned_count "$stack")
    if [ "$n" != error ] && [ "$n" -gt 0 ]; then ok "$base: $n objects labelled with $stack"; else nok "$base: no objects labelled with $stack after apply"; fi
    check "$base: plan after apply shows no changes" 0 \
      "$DROVER" plan --detailed-exitcode --stack "$stack" "${vars[@]}" "$tpl"
    if check "$base: apply again" 0 "$DROVER" apply --yes --json --stack "$stack" "${vars[@]}" "$tpl"; then
      if jqt '.ok == true and .created == 0 and .updated == 0 and .replaced == 0 and .deleted == 0' "$LOG" >/dev/null 2>&1; then
        ok "$base: apply again changes nothing"
      else
        nok "$base: apply again changed something"; cat "$LOG" "$ERR" | sed 's/^/    # /' | head -n 30
      fi
    fi
    if check "$base: output --json" 0 "$DROVER" output --json --stack "$stack" "${vars[@]}" "$tpl"; then
      if jqt 'type == "object" and length > 0 and all(.[]; .value != null)' "$LOG" >/dev/null 2>&1; then
        ok "$base: outputs are a non-empty JSON object, no null values"
      else
        nok "$base: outputs are empty or have null values"; cat "$LOG" "$ERR" | sed 's/^/    # /' | head -n 20
      fi
      # Arrays of names in the outputs name live instances of the stack.
      live=$(lxd_get "/1.0/instances?recursion=1" |
             jq -c --arg s "$stack" '[.metadata[] | select(.config["user.drover.stack"] == $s) | .name]') || live=error
      if jqt --argjson live "$live" \
           '[.[].value | select(type == "array") | .[] | select(type == "string")] as $n
            | ($n | length) > 0 and all($n[]; . as $x | $live | index([$x]) != null)' "$LOG" >/dev/null 2>&1; then
        ok "$base: output name lists match live instances ($live)"
      else
        nok "$base: output name lists do not match live instances ($live)"; cat "$LOG" "$ERR" | sed 's/^/    # /' | head -n 20
      fi
    fi
  fi
  # Backup policies run: a snapshot of each target, listed, prunable.
  for pol in $(jq -r '.resources | to_entries[] | select(.value.type == "backup.policy") | .key' "$tpl"); do
    if check "$base: backup run $pol" 0 "$DROVER" backup run --json --stack "$stack" "${vars[@]}" "$tpl" "$pol"; then
      nt=$(jq '.targets | length' "$LOG")
      if jqt '(.targets | length) > 0 and all(.targets[]; .result == "created")' "$LOG" >/dev/null 2>&1; then
        ok "$base: backup run $pol snapshotted its $nt targets"
      else
        nok "$base: backup run $pol did not snapshot every target"; cat "$LOG" "$ERR" | sed 's/^/    # /' | head -n 20
      fi
      if jq -e 'any(.targets[]; has("export"))' "$LOG" >/dev/null 2>&1; then
        if jq -e 'all(.targets[]; .export.result == "created" and (.export.sha256 | length) == 64)' \
             "$LOG" >/dev/null 2>&1; then
          ok "$base: backup run $pol exported its $nt targets with their SHA-256"
        else
          nok "$base: backup run $pol did not export every target"; cat "$LOG" "$ERR" | sed 's/^/    # /' | head -n 20
        fi
      fi
      if check "$base: backup list $pol" 0 "$DROVER" backup list --json --stack "$stack" "${vars[@]}" "$tpl" "$pol" &&
         jqt --argjson n "$nt" '.snapshots | length == $n' "$LOG" >/dev/null 2>&1; then
        ok "$base: backup list $pol shows one snapshot per target"
      else
        nok "$base: backup list $pol does not show one snapshot per target"
      fi
      check "$base: backup prune --dry-run $pol" 0 "$DROVER" backup prune --dry-run --json --stack "$stack" "${vars[@]}" "$tpl" "$pol"
    fi
  done
  # Drift policies run: clean after apply; an instance stopped out of band
  # is reported and, with auto_repair, started again.
  for pol in $(jq -r '.resources | to_entries[] | select(.value.type == "drift.policy") | .key' "$tpl"); do
    if check "$base: drift run $pol" 0 "$DROVER" drift run --json --stack "$stack" "${vars[@]}" "$tpl" "$pol"; then
      if jqt '.drifted == 0 and (.stacks | length) == 1 and .stacks[0].result == "clean"' "$LOG"; then
        ok "$base: drift run $pol finds the fresh stack clean"
      else nok "$base: drift run $pol on a fresh stack"; cat "$LOG" "$ERR" | sed 's/^/    # /' | head -n 20; fi
    fi
    victim=$(lxd_get "/1.0/instances?recursion=1" |
             jq -r --arg s "$stack" '[.metadata[] | select(.config["user.drover.stack"] == $s)][0].name')
    curl -sS --max-time 60 --unix-socket "$SOCK" -X PUT -d '{"action":"stop","force":true,"timeout":30}' \
      "http://lxd/1.0/instances/$victim/state" | jq -r '.operation // empty' |
      while read -r op; do curl -sS --max-time 60 --unix-socket "$SOCK" "http://lxd$op/wait?timeout=50" >/dev/null; done
    if check "$base: drift run $pol after stopping $victim out of band" 0 \
         "$DROVER" drift run --json --stack "$stack" "${vars[@]}" "$tpl" "$pol"; then
      if jqt '.drifted == 1 and .stacks[0].result == "repaired"
             and .stacks[0].resources[0].why == "stopped out of band"' "$LOG"; then
        ok "$base: drift run $pol reports $victim stopped out of band and repairs it"
      else nok "$base: drift run $pol report"; cat "$LOG" "$ERR" | sed 's/^/    # /' | head -n 20; fi
      st=$(lxd_get "/1.0/instances/$victim" | jq -r .metadata.status)
      if [ "$st" = Running ]; then ok "$base: $victim is running again"; else nok "$base: $victim is $st"; fi
    fi
  done
  # Scale policies run at a fixed time (Monday 10:00 in Berlin, business
  # hours): the count they ask for is applied and later plans keep it.
  for pol in $(jq -r '.resources | to_entries[] | select(.value.type == "scale.policy") | .key' "$tpl"); do
    if check "$base: scale run $pol" 0 env DROVER_NOW=2026-03-30T08:00:00Z \
         "$DROVER" scale run --json --stack "$stack" "${vars[@]}" "$tpl" "$pol"; then
      want=$(jq -r '.desired' "$LOG")
      tgt=$(jq -r '.target' "$LOG")
      have=$(lxd_get "/1.0/instances?recursion=1" |
             jq --arg s "$stack" --arg t "$tgt[" '[.metadata[] | select(.config["user.drover.stack"] == $s
               and (.config["user.drover.address"] | startswith($t)))] | length') || have=error
      if jqt '.ok == true and .error == null and (.rule | type == "string")' "$LOG" >/dev/null 2>&1 &&
         [ "$have" = "$want" ]; then
        ok "$base: scale run $pol left $have $tgt instances, as it decided"
      else
        nok "$base: scale run $pol: decided $want, $have live"; cat "$LOG" "$ERR" | sed 's/^/    # /' | head -n 30
      fi
      check "$base: plan after scale run shows no changes" 0 \
        "$DROVER" plan --detailed-exitcode --stack "$stack" "${vars[@]}" "$tpl"
    fi
  done
  # Scheduled runs of every policy: one run, its metrics textfile.
  for pol in $(jq -r '.resources | to_entries[] | select(.value.type | test("^(backup|drift|scale)[.]policy$")) | .key' "$tpl"); do
    sd=$(mktemp -d /tmp/drover-templates-sched.XXXXXX)
    cleanup_dirs+=("$sd")
    if check "$base: schedule run $pol" 0 "$DROVER" schedule run --stack "$stack" "${vars[@]}" \
         --state-dir "$sd/state" --metrics-dir "$sd/metrics" "$tpl" "$pol"; then
      if grep -q "^drover_policy_last_run_success{stack=\"$stack\",policy=\"$pol\",kind=\"[a-z]*\"} 1$" \
           "$sd/metrics/drover_${stack}_$pol.prom" 2>/dev/null; then
        ok "$base: schedule run $pol wrote a successful run's metrics"
      else nok "$base: schedule run $pol metrics"; sed 's/^/    # /' "$sd/metrics/"*.prom 2>&1 | head; fi
    fi
  done
  check "$base: destroy" 0 "$DROVER" destroy --yes --stack "$stack" "${vars[@]}" "$tpl"
  n=$(owned_count "$stack")
  if [ "$n" = 0 ]; then ok "$base: nothing left labelled with $stack"
  elif [ "$n" = error ]; then nok "$base: cannot tell what is left: an LXD query failed"
  else nok "$base: $n objects still labelled with $stack"; fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
