#!/usr/bin/env bash
# bench/backup.sh - drover backup run vs. the raw snapshot, with peak RSS.
#
# One busybox instance holding --size MiB of data (default 1024). REPS
# times each (median reported), deleting the snapshots between runs (not
# timed):
#   raw:    lxc snapshot NAME
#   drover: drover backup run (a @hourly policy, each rep its own slot
#           through --now), which also lists the instance's snapshots and
#           writes the label key first
# Then drover's peak RSS (GNU time) with --size and with a tiny instance:
# the data never passes through drover, so it must not grow with size.
# Export (instance backup + S3 upload) is not implemented yet and is not
# timed. Targets: drover within 1.1x of the raw snapshot, and peak RSS
# growth below 1 MiB.
#
# Usage: bench/backup.sh [--size MIB] [--reps N]
# Needs: a built ./drover (or $DROVER), LXD with the busybox image
# (scripts/lxd-setup.sh), lxc, jq, GNU time. Not run in CI.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
DROVER=${DROVER:-$SRC/drover}
IMAGE=${DROVER_IMAGE:-busybox}
SIZE=1024 REPS=3
STACK=bench-backup
TARGET=1.1

while [ $# -gt 0 ]; do
  case $1 in
    --size) SIZE=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "backup: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $SIZE =~ ^[0-9]+$ && $REPS =~ ^[0-9]+$ && $REPS -ge 1 ]] ||
  { echo "backup: --size and --reps want positive integers" >&2; exit 2; }
[ -x "$DROVER" ] || { echo "backup: $DROVER not built (scripts/build.sh)" >&2; exit 1; }
# libtool's wrapper script would be timed (and measured) too: use the
# real program when there is one.
BIN=$DROVER
[ -x "$(dirname "$DROVER")/.libs/drover" ] && BIN="$(dirname "$DROVER")/.libs/drover"
export LD_LIBRARY_PATH="$(dirname "$DROVER")/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

work=$(mktemp -d /tmp/drover-bench-backup.XXXXXX)
TPL=$work/bench-backup.json
cat >"$TPL" <<EOF
{
  "drover": 1,
  "stack": "$STACK",
  "description": "bench/backup.sh: instances with data and an hourly policy",
  "resources": {
    "big": {"type": "lxd.instance", "properties": {"image": "$IMAGE"}},
    "tiny": {"type": "lxd.instance", "properties": {"image": "$IMAGE"}},
    "bigp": {"type": "backup.policy", "properties": {"targets": ["big"],
             "schedule": "@hourly", "retention": {"keep_last": 1}}},
    "tinyp": {"type": "backup.policy", "properties": {"targets": ["tiny"],
              "schedule": "@hourly", "retention": {"keep_last": 1}}}
  }
}
EOF
trap 'rc=$?; echo "# cleanup"; "$DROVER" destroy --yes "$TPL" >/dev/null 2>&1 || true; rm -rf "$work"; exit $rc' EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\\n\", $* }"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
drop_snaps() {
  for s in $(lxc query "/1.0/instances/$1/snapshots" | jq -r '.[] | split("/") | last'); do
    lxc delete "$1/$s"
  done
}

"$DROVER" apply --yes "$TPL" >/dev/null
BIG=$("$DROVER" show "$TPL" --json | jq -r '.[] | select(.address == "big") | .name')
TINY=$("$DROVER" show "$TPL" --json | jq -r '.[] | select(.address == "tiny") | .name')
echo "# writing $SIZE MiB into $BIG"
lxc exec "$BIG" -- dd if=/dev/zero of=/data.bin bs=1048576 count="$SIZE" 2>/dev/null
lxc exec "$BIG" -- sync

raw=() drv=()
for i in $(seq 1 "$REPS"); do
  drop_snaps "$BIG"
  t0=$(now); lxc snapshot "$BIG" "raw$i"; t1=$(now)
  raw+=("$(calc "$t1 - $t0")")
  drop_snaps "$BIG"
  slot=$(date -u -d "2030-01-01 00:00 UTC + $i hour" +%Y-%m-%dT%H:%M:%SZ)
  t0=$(now); "$BIN" backup run --now "$slot" "$TPL" bigp >/dev/null; t1=$(now)
  drv+=("$(calc "$t1 - $t0")")
done
t_raw=$(printf '%s\n' "${raw[@]}" | median)
t_drv=$(printf '%s\n' "${drv[@]}" | median)

rss() { /usr/bin/time -f %M "$BIN" backup run --now "$2" "$TPL" "$1" 2>&1 >/dev/null | tail -1; }
drop_snaps "$BIG"
rss_big=$(rss bigp 2031-01-01T00:00:00Z)
rss_tiny=$(rss tinyp 2031-01-01T00:00:00Z)

printf '%-44s %9s %9s\n' "how ($SIZE MiB, median of $REPS)" "seconds" "/raw"
printf '%-44s %9.2f %8.2fx\n' "lxc snapshot" "$t_raw" 1
printf '%-44s %9.2f %8.2fx\n' "drover backup run" "$t_drv" "$(calc "$t_drv / $t_raw")"
printf 'peak RSS of drover backup run: %s KiB with %s MiB of data, %s KiB with a tiny instance\n' \
  "$rss_big" "$SIZE" "$rss_tiny"
r=$(calc "$t_drv / $t_raw")
if awk "BEGIN { exit !($r <= $TARGET) }"; then
  printf 'target (drover within %sx of lxc snapshot): MET (%.2fx)\n' "$TARGET" "$r"
else
  printf 'target (drover within %sx of lxc snapshot): NOT MET (%.2fx)\n' "$TARGET" "$r"
fi
if [ $((rss_big - rss_tiny)) -lt 1024 ]; then
  echo "target (peak RSS does not grow with the data): MET ($((rss_big - rss_tiny)) KiB)"
else
  echo "target (peak RSS does not grow with the data): NOT MET ($((rss_big - rss_tiny)) KiB)"
fi
echo "export (instance backup + upload) is not implemented yet: not timed"
