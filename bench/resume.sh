#!/usr/bin/env bash
# bench/resume.sh - how fast does drover's resume program create the
# instances of N cloud nodes, against raw clients doing the same?
#
# For each N (default 50 and 200), creates N stopped busybox instances
# (creation only, no slurmd) three ways, deleting everything in between
# (deletes are not timed):
#   drover  `drover slurm resume --foreground` on the hostlist bres[1-N]
#           with a node template of one stopped instance per node (one
#           list per type for all N node stacks, then parallel creates)
#   seq     a sequential loop of the same provider calls: the same POST
#           /1.0/instances (with drover's labels) and the operation wait,
#           with curl on LXD's socket
#   par     `xargs -P8 lxc init busybox NAME`
# Also prints drover's own CPU time (user+sys of the drover process) per
# 100 nodes. Targets: drover's wall time at or below the faster raw run,
# and under 1 s of drover CPU per 100 nodes. Prints MET / NOT MET.
#
# Usage: bench/resume.sh [--n "50 200"] [--parallelism P]
# Needs: a built ./drover (or $DROVER), LXD with the busybox image
# (scripts/lxd-setup.sh), curl; slurmctld answering is not needed (its
# node facts are optional here: the bench template wants none). Run under
# flock /tmp/drover-live.lock on shared machines. Not run in CI.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
DROVER=${DROVER:-$SRC/drover}
SOCK=${LXD_SOCKET:-/var/lib/lxd/unix.socket}
IMAGE=${DROVER_IMAGE:-busybox}
NS="50 200" PAR=16
PREFIX=bres

while [ $# -gt 0 ]; do
  case $1 in
    --n) NS=$2; shift 2 ;;
    --parallelism) PAR=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "resume: unknown argument $1" >&2; exit 2 ;;
  esac
done

# The real program behind libtool's wrapper script, so its CPU time is
# drover's and not the wrapper shell's.
BIN=$DROVER
if [ -x "$(dirname "$DROVER")/.libs/drover" ] && head -c 2 "$DROVER" | grep -q '#!'; then
  BIN=$(dirname "$DROVER")/.libs/drover
  export LD_LIBRARY_PATH=$(dirname "$DROVER")/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
WORK=$(mktemp -d /tmp/drover-bench-resume.XXXXXX)

names() { seq 1 "$1" | sed "s/^/$PREFIX/"; }
cleanup() {
  lxc list -c n --format csv 2>/dev/null | grep "^$PREFIX[0-9]*\$" | xargs -r -P8 -n1 lxc delete -f >/dev/null 2>&1 || true
}
trap 'cleanup; rm -rf "$WORK"' EXIT
cleanup

cat >"$WORK/node.json" <<EOF2
{
  "drover": 1,
  "stack": "bench-node",
  "params": {"node": {"type": "string"}},
  "providers": {"lxd": {"project": "default"}},
  "resources": {
    "instance": {"type": "lxd.instance",
                 "properties": {"name": "\${params.node}", "image": "$IMAGE", "state": "stopped"}}
  }
}
EOF2
cat >"$WORK/slurm.json" <<EOF2
{"template": "$WORK/node.json", "lock_dir": "$WORK/locks", "parallelism": $PAR,
 "log": "$WORK/power.log"}
EOF2

t() { local a b; a=$(date +%s.%N); "$@"; b=$(date +%s.%N); echo "$a $b" | awk '{printf "%.2f", $2 - $1}'; }

seq_calls() { # the provider's calls, one node after the other
  local n=$1 i name op
  for i in $(seq 1 "$n"); do
    name=$PREFIX$i
    op=$(curl -fsS --unix-socket "$SOCK" -X POST http://lxd/1.0/instances \
      -H 'Content-Type: application/json' \
      -d "{\"name\":\"$name\",\"type\":\"container\",\"profiles\":[\"default\"],\"source\":{\"type\":\"image\",\"alias\":\"$IMAGE\"},\"config\":{\"user.drover.stack\":\"node-$name\",\"user.drover.address\":\"instance\",\"user.drover.hash\":\"0\",\"user.drover.version\":\"0.1.0\",\"user.drover.image\":\"$IMAGE\"},\"devices\":{},\"description\":\"\"}" |
      sed -n 's/.*"operation":"\([^"]*\)".*/\1/p')
    curl -fsS --unix-socket "$SOCK" "http://lxd$op/wait?timeout=60" >/dev/null
  done
}
par_init() { names "$1" | xargs -P8 -n1 lxc init "$IMAGE" >/dev/null 2>&1; }
count() { lxc list -c n --format csv | grep -c "^$PREFIX[0-9]*\$" || true; }

printf '%-6s %9s %9s %9s %8s %14s  %s\n' N drover seq par ratio "cpu/100 nodes" verdict
all_met=yes
for N in $NS; do
  d_seq=$(t seq_calls "$N"); [ "$(count)" -eq "$N" ] || { echo "seq made $(count)/$N" >&2; exit 1; }
  cleanup
  d_par=$(t par_init "$N"); [ "$(count)" -eq "$N" ] || { echo "par made $(count)/$N" >&2; exit 1; }
  cleanup
  # drover's own CPU: user+sys of the drover process (bash's time), whose
  # log goes to its file, so its stderr carries only the times.
  a=$(date +%s.%N)
  rc=0
  { TIMEFORMAT='%3U %3S'; time "$BIN" slurm resume --foreground \
      --config "$WORK/slurm.json" "$PREFIX[1-$N]" >/dev/null 2>"$WORK/err"; } 2>"$WORK/cpu" || rc=$?
  cpu=$(tail -n 1 "$WORK/cpu")
  b=$(date +%s.%N)
  d_dr=$(echo "$a $b" | awk '{printf "%.2f", $2 - $1}')
  [ "$rc" = 0 ] || { echo "drover resume failed (exit $rc); see $WORK/power.log" >&2; tail -5 "$WORK/power.log" >&2; exit 1; }
  set -- $(echo "$cpu" | awk '{printf "%.3f", $1 + $2}')
  [ "$(count)" -eq "$N" ] || { echo "drover made $(count)/$N" >&2; exit 1; }
  cpu100=$(echo "$1 $N" | awk '{printf "%.3f", $1 * 100 / $2}')
  floor=$(echo "$d_seq $d_par" | awk '{print ($1 < $2) ? $1 : $2}')
  ratio=$(echo "$d_dr $floor" | awk '{printf "%.2f", $1 / $2}')
  verdict=MET
  awk -v r="$ratio" -v c="$cpu100" 'BEGIN{exit !(r <= 1.0 && c < 1.0)}' || { verdict="NOT MET"; all_met=no; }
  printf '%-6s %8ss %8ss %8ss %8s %13ss  %s\n' "$N" "$d_dr" "$d_seq" "$d_par" "$ratio" "$cpu100" "$verdict"
  cleanup
done
echo "target: drover <= the faster raw run (ratio <= 1.00) and < 1 s drover CPU per 100 nodes: $( [ $all_met = yes ] && echo MET || echo NOT MET)"
