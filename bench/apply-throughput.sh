#!/usr/bin/env bash
# bench/apply-throughput.sh - how close is `drover apply` to the fastest raw
# way of creating N instances on LXD?
#
# Creates N busybox instances three ways, deleting everything in between
# (deletes are not timed):
#   seq     a sequential loop of `lxc launch busybox NAME`
#   par     `xargs -P8 lxc launch busybox` over the N names
#   drover  `drover apply --yes` of a generated template with count N
#           (state running; --parallelism P, default 8)
# The floor is the faster raw run (seq or par). Prints times, per-instance
# cost, ratios, which raw run was the floor, and whether drover is within
# 1.1x of it. With --stopped, the raw runs use `lxc init` and the template
# asks for state "stopped" (create without start).
#
# Usage: bench/apply-throughput.sh [--n N] [--parallelism P] [--stopped]
# Needs: a built ./drover (or $DROVER), LXD with the busybox image
# (scripts/lxd-setup.sh), curl, jq. Not run in CI.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
DROVER=${DROVER:-$SRC/drover}
SOCK=${LXD_SOCKET:-/var/lib/lxd/unix.socket}
IMAGE=${DROVER_IMAGE:-busybox}
N=50 PAR=8 STATE=running
STACK=bench-apply
PREFIX=bench-ap
TARGET=1.1

while [ $# -gt 0 ]; do
  case $1 in
    --n) N=$2; shift 2 ;;
    --parallelism) PAR=$2; shift 2 ;;
    --stopped) STATE=stopped; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "apply-throughput: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $N =~ ^[0-9]+$ && $N -ge 1 ]] || { echo "apply-throughput: --n wants a positive integer" >&2; exit 2; }
LXC_CREATE=launch
[ "$STATE" = running ] || LXC_CREATE=init

[ -x "$DROVER" ] || { echo "apply-throughput: $DROVER not built (scripts/build.sh)" >&2; exit 1; }
curl -fsS --max-time 5 --unix-socket "$SOCK" http://lxd/1.0 >/dev/null ||
  { echo "apply-throughput: LXD does not answer on $SOCK (scripts/lxd-setup.sh)" >&2; exit 1; }

work=$(mktemp -d /tmp/drover-bench-apply.XXXXXX)
TPL=$work/bench-apply.json
cat >"$TPL" <<EOF
{
  "drover": 1,
  "stack": "$STACK",
  "description": "bench/apply-throughput.sh: N busybox instances",
  "params": {"n": {"type": "integer", "default": 1, "min": 0, "max": 5000}},
  "resources": {
    "node": {
      "type": "lxd.instance",
      "count": "\${params.n}",
      "properties": {"image": "$IMAGE", "state": "$STATE"}
    }
  }
}
EOF

calc() { awk "BEGIN { printf \"%.6f\\n\", $* }"; }
fmt() { printf '%.2f' "$1"; }

instances() {
  curl -fsS --unix-socket "$SOCK" "http://lxd/1.0/instances?recursion=1" | jq -r '.metadata[].name'
}
# Deletes the raw runs' instances and the drover stack; never times it.
clean_all() {
  instances | grep -E "^$PREFIX-(seq|par)-[0-9]+$" | xargs -r -P4 -n 10 lxc delete -f >/dev/null 2>&1 || true
  "$DROVER" destroy --yes --parallelism "$PAR" --var n="$N" "$TPL" >/dev/null 2>&1 || true
  local left
  left=$(instances | grep -cE "^($PREFIX-(seq|par)-[0-9]+|$STACK-node-[0-9]+)$" || true)
  [ "$left" -eq 0 ] || echo "# warning: $left bench instances left after cleanup"
}
trap 'rc=$?; echo "# cleanup"; clean_all; rm -rf "$work"; exit $rc' EXIT
trap 'exit 130' INT TERM

names() { local i; for ((i = 0; i < N; i++)); do echo "$PREFIX-$1-$i"; done; }
run_seq() {
  local n
  for n in $(names seq); do lxc "$LXC_CREATE" "$IMAGE" "$n" >/dev/null 2>&1 || return 1; done
}
run_par() {
  names par | xargs -P8 -I{} sh -c "lxc $LXC_CREATE '$IMAGE' {} >/dev/null 2>&1"
}
run_drover() {
  "$DROVER" apply --yes --parallelism "$PAR" --var n="$N" "$TPL" >"$work/apply.log" 2>&1
}
secs() {
  local t0=$EPOCHREALTIME
  "$@" || { echo "apply-throughput: $1 failed" >&2; [ -f "$work/apply.log" ] && tail -n 20 "$work/apply.log" >&2; return 1; }
  calc "$EPOCHREALTIME - $t0"
}
count_running() {
  curl -fsS --unix-socket "$SOCK" "http://lxd/1.0/instances?recursion=1" |
    jq --arg p "$1" --arg s "$2" '[.metadata[] | select((.name | startswith($p)) and (.status | ascii_downcase) == $s)] | length'
}

echo "# apply-throughput: N=$N state=$STATE (lxc $LXC_CREATE) drover parallelism=$PAR, $(nproc) cores"
clean_all

echo "# seq: lxc $LXC_CREATE loop"
t_seq=$(secs run_seq)
c=$(count_running "$PREFIX-seq-" "$STATE"); [ "$c" -eq "$N" ] || echo "# warning: seq made $c/$N $STATE instances"
clean_all
echo "# par: xargs -P8 lxc $LXC_CREATE"
t_par=$(secs run_par)
c=$(count_running "$PREFIX-par-" "$STATE"); [ "$c" -eq "$N" ] || echo "# warning: par made $c/$N $STATE instances"
clean_all
echo "# drover: apply --yes --parallelism $PAR"
t_drv=$(secs run_drover)
c=$(count_running "$STACK-node-" "$STATE"); [ "$c" -eq "$N" ] || echo "# warning: drover made $c/$N $STATE instances"
if "$DROVER" plan --detailed-exitcode --var n="$N" "$TPL" >/dev/null 2>&1; then
  echo "# drover plan after apply: no changes"
else
  echo "# warning: drover plan after apply reports changes or failed"
fi

if awk "BEGIN { exit !($t_seq <= $t_par) }"; then floor=$t_seq floor_name=seq; else floor=$t_par floor_name=par; fi
echo
printf '%-36s %9s %12s %9s\n' "how (N=$N, $STATE)" "seconds" "s/instance" "/floor"
printf '%-36s %9s %12s %8sx\n' "lxc $LXC_CREATE, sequential loop" "$(fmt "$t_seq")" "$(printf '%.3f' "$(calc "$t_seq / $N")")" "$(fmt "$(calc "$t_seq / $floor")")"
printf '%-36s %9s %12s %8sx\n' "xargs -P8 lxc $LXC_CREATE" "$(fmt "$t_par")" "$(printf '%.3f' "$(calc "$t_par / $N")")" "$(fmt "$(calc "$t_par / $floor")")"
printf '%-36s %9s %12s %8sx\n' "drover apply (parallelism $PAR)" "$(fmt "$t_drv")" "$(printf '%.3f' "$(calc "$t_drv / $N")")" "$(fmt "$(calc "$t_drv / $floor")")"
echo
echo "floor: $floor_name ($(fmt "$floor") s)"
r=$(calc "$t_drv / $floor")
if awk "BEGIN { exit !($r <= $TARGET) }"; then
  printf 'target (drover within %sx of the floor): MET (%.2fx)\n' "$TARGET" "$r"
else
  printf 'target (drover within %sx of the floor): NOT MET (%.2fx)\n' "$TARGET" "$r"
fi
