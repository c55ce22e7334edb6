#!/usr/bin/env bash
# bench/plan-scale.sh - how close is `drover plan` to the cost of one raw
# LXD list call, for a stack of N stopped instances?
#
# Creates N stopped busybox instances in one stack with `drover apply`
# (a generated bench template with count and state "stopped"), then times,
# side by side and REPS times each (median reported):
#   drover  `drover plan --detailed-exitcode` with no changes (must exit 0)
#   floor   one raw list call with curl on the socket:
#           GET /1.0/instances?recursion=1&filter=config.user.drover.stack eq STACK
#   loop    a shell loop of `lxc config show NAME` over the N instances
#           (what a per-instance tool does; run min(REPS,3) times)
#   info    (not the target) every list drover's refresh makes, raw with
#           curl and at once: instances, profiles, pools + volumes
# and prints times, ratios (drover/floor, loop/drover) and whether the
# target, plan within 1.5x of the raw list, was met. Destroys the stack at
# the end (also on error or Ctrl-C) unless --keep.
#
# An in-tree ./drover is libtool's wrapper script, which runs bash before
# the real program (.libs/drover) on every call; an installed drover has
# no wrapper. The timed plan runs the real program directly, with
# LD_LIBRARY_PATH pointing at the build's .libs (--via-wrapper: time the
# wrapper as it is).
#
# Usage: bench/plan-scale.sh [--n N] [--reps R] [--parallelism P] [--keep]
#                            [--via-wrapper]
# Needs: a built ./drover (or $DROVER), LXD with the busybox image
# (scripts/lxd-setup.sh), curl, jq. Not run in CI.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
DROVER=${DROVER:-$SRC/drover}
SOCK=${LXD_SOCKET:-/var/lib/lxd/unix.socket}
IMAGE=${DROVER_IMAGE:-busybox}
N=200 REPS=5 PAR=8 KEEP=no VIA_WRAPPER=no
STACK=bench-plan
TARGET=1.5

while [ $# -gt 0 ]; do
  case $1 in
    --n) N=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --parallelism) PAR=$2; shift 2 ;;
    --keep) KEEP=yes; shift ;;
    --via-wrapper) VIA_WRAPPER=yes; shift ;;
    --stack) STACK=$2; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "plan-scale: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $N =~ ^[0-9]+$ && $N -ge 1 ]] || { echo "plan-scale: --n wants a positive integer" >&2; exit 2; }
[[ $REPS =~ ^[0-9]+$ && $REPS -ge 1 ]] || { echo "plan-scale: --reps wants a positive integer" >&2; exit 2; }

[ -x "$DROVER" ] || { echo "plan-scale: $DROVER not built (scripts/build.sh)" >&2; exit 1; }
# What the timed plan runs: the real program behind a libtool wrapper.
PLAN_BIN=$DROVER PLAN_LIBS=${LD_LIBRARY_PATH:-}
PLAN_WHAT=$DROVER
if [ "$VIA_WRAPPER" = no ] && head -c 4096 "$DROVER" | grep -q 'temporary wrapper script for'; then
  PLAN_BIN=$(dirname "$DROVER")/.libs/$(basename "$DROVER")
  [ -x "$PLAN_BIN" ] || { echo "plan-scale: $DROVER is a libtool wrapper but $PLAN_BIN is missing" >&2; exit 1; }
  PLAN_LIBS=$(dirname "$DROVER")/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  PLAN_WHAT="$PLAN_BIN (behind the libtool wrapper $DROVER)"
fi
# No extra exec (env) in what is timed.
plan_cmd() { LD_LIBRARY_PATH=$PLAN_LIBS "$PLAN_BIN" "$@"; }

curl -fsS --max-time 5 --unix-socket "$SOCK" http://lxd/1.0 >/dev/null ||
  { echo "plan-scale: LXD does not answer on $SOCK (scripts/lxd-setup.sh)" >&2; exit 1; }

work=$(mktemp -d /tmp/drover-bench-plan.XXXXXX)
TPL=$work/bench-plan.json
cat >"$TPL" <<EOF
{
  "drover": 1,
  "stack": "$STACK",
  "description": "bench/plan-scale.sh: N stopped busybox instances",
  "params": {"n": {"type": "integer", "default": 1, "min": 0, "max": 5000}},
  "resources": {
    "node": {
      "type": "lxd.instance",
      "count": "\${params.n}",
      "properties": {"image": "$IMAGE", "state": "stopped",
                     "config": {"user.bench": "plan-scale"}}
    }
  }
}
EOF

cleanup() {
  local rc=$?
  if [ "$KEEP" = no ]; then
    echo "# cleanup: drover destroy (stack $STACK)"
    local t0=$EPOCHREALTIME
    if "$DROVER" destroy --yes --parallelism "$PAR" --var n="$N" "$TPL" >"$work/destroy.log" 2>&1; then
      printf '# destroyed %s instances in %.2f s\n' "$N" "$(calc "$EPOCHREALTIME - $t0")"
    else
      echo "# drover destroy failed; deleting by label"; tail -n 5 "$work/destroy.log"
      owned_names | xargs -r -n 20 lxc delete -f || true
    fi
  else
    echo "# --keep: stack $STACK left in place ($N instances); template $TPL"
    trap - EXIT; exit "$rc"
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

filter="config.user.drover.stack%20eq%20$STACK"
raw_list() {
  curl -fsS --unix-socket "$SOCK" "http://lxd/1.0/instances?recursion=1&filter=$filter"
}
# For information only (not the target's floor): every list drover's
# refresh makes, raw and at once, as drover does them.
raw_all() {
  local pool
  curl -fsS --unix-socket "$SOCK" "http://lxd/1.0/instances?recursion=1&filter=$filter" >/dev/null &
  curl -fsS --unix-socket "$SOCK" "http://lxd/1.0/profiles?recursion=1" >/dev/null &
  { curl -fsS --unix-socket "$SOCK" "http://lxd/1.0/storage-pools" >/dev/null
    for pool in "${pools[@]}"; do
      curl -fsS --unix-socket "$SOCK" "http://lxd/1.0/storage-pools/$pool/volumes/custom?recursion=1" >/dev/null
    done; } &
  wait
}
owned_names() {
  raw_list | jq -r '.metadata[].name'
}

# secs CMD...: runs CMD (output discarded), prints the seconds it took.
secs() {
  local t0=$EPOCHREALTIME rc=0
  "$@" >/dev/null 2>&1 || rc=$?
  calc "$EPOCHREALTIME - $t0"
  return "$rc"
}
calc() { awk "BEGIN { printf \"%.6f\\n\", $* }"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
fmt() { printf '%.3f' "$1"; }

echo "# plan-scale: N=$N REPS=$REPS stack=$STACK drover=$("$DROVER" version 2>/dev/null)"
echo "# timed plan runs: $PLAN_WHAT"
echo "# creating $N stopped instances with drover apply (parallelism $PAR)"
t_apply=$(secs "$DROVER" apply --yes --parallelism "$PAR" --var n="$N" "$TPL") ||
  { echo "plan-scale: drover apply failed:"; "$DROVER" plan --var n="$N" "$TPL" | tail -n 20; exit 1; }
have=$(owned_names | wc -l)
[ "$have" -eq "$N" ] || { echo "plan-scale: expected $N instances labelled $STACK, LXD lists $have" >&2; exit 1; }
printf '# created in %.2f s (%.3f s per instance)\n' "$t_apply" "$(calc "$t_apply / $N")"

# Warm-up, and the correctness check: the plan has no changes.
if ! plan_cmd plan --detailed-exitcode --var n="$N" "$TPL" >"$work/plan.log" 2>&1; then
  echo "plan-scale: drover plan does not report 'no changes' after apply:"; tail -n 20 "$work/plan.log"; exit 1
fi
raw_list >/dev/null
mapfile -t names < <(owned_names)
mapfile -t pools < <(curl -fsS --unix-socket "$SOCK" http://lxd/1.0/storage-pools | jq -r '.metadata[] | sub(".*/"; "")')

config_loop() {
  local n
  for n in "${names[@]}"; do lxc config show "$n" >/dev/null || return 1; done
}

loop_reps=$(( REPS < 3 ? REPS : 3 ))
: >"$work/drover.t"; : >"$work/floor.t"; : >"$work/loop.t"; : >"$work/all.t"
for ((i = 1; i <= REPS; i++)); do
  secs plan_cmd plan --detailed-exitcode --var n="$N" "$TPL" >>"$work/drover.t" ||
    { echo "plan-scale: drover plan failed or found changes (rep $i)" >&2; exit 1; }
  secs raw_list >>"$work/floor.t"
  secs raw_all >>"$work/all.t"
  if [ "$i" -le "$loop_reps" ]; then secs config_loop >>"$work/loop.t"; fi
done

d=$(median <"$work/drover.t"); f=$(median <"$work/floor.t"); l=$(median <"$work/loop.t")
a=$(median <"$work/all.t")
r_df=$(calc "$d / $f"); r_ld=$(calc "$l / $d"); r_da=$(calc "$d / $a")
echo
printf '%-44s %10s %10s\n' "what (N=$N stopped instances)" "median s" "runs"
printf '%-44s %10s %10s\n' "drover plan (no changes)" "$(fmt "$d")" "$REPS"
printf '%-44s %10s %10s\n' "raw list: curl recursion=1&filter (floor)" "$(fmt "$f")" "$REPS"
printf '%-44s %10s %10s\n' "loop: lxc config show per instance" "$(fmt "$l")" "$loop_reps"
printf '%-44s %10s %10s\n' "info: raw curl of every list drover makes" "$(fmt "$a")" "$REPS"
echo
printf 'drover/floor = %.2fx   loop/drover = %.1fx   (info: drover/every-list = %.2fx)\n' \
  "$r_df" "$r_ld" "$r_da"
if awk "BEGIN { exit !($r_df <= $TARGET) }"; then
  echo "target (plan within ${TARGET}x of the raw list): MET"
else
  echo "target (plan within ${TARGET}x of the raw list): NOT MET"
fi
