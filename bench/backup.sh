#!/usr/bin/env bash
# bench/backup.sh - drover backup run vs. the raw steps, with peak RSS.
#
# One busybox instance holding --size MiB of data (default 1024, zeros).
# REPS times each (median reported), deleting the snapshots between runs
# (not timed):
#   snapshot only
#     raw:    lxc snapshot NAME
#     drover: drover backup run (a @hourly policy, each rep its own slot
#             through --now), which also lists the instance's snapshots
#             and writes the label key first
#   snapshot and export to S3 (the local s3rver, scripts/s3-setup.sh)
#     raw:    lxc snapshot; lxc export --instance-only --compression gzip
#             to a file; curl --aws-sigv4 -T of that file
#     drover: drover backup run of a policy with "export": an LXD backup
#             of the instance with what lxc export asks for (instance_only,
#             gzip) and, once it is under way, the snapshot alongside (both
#             between the policy's hooks); the backup streamed to a file,
#             SHA-256 + MD5 in one read, checked upload (multipart at 64
#             MiB), manifest
#     Fair: both archives are LXD instance-only gzip backups of the same
#     instance at its snapshot. The script checks that the last
#     rep's two hold the same files with the same sizes (backup.yaml and
#     index.yaml aside: drover's instance config carries its labels) and
#     prints that.
# Then drover's peak RSS (GNU time) with --size and with a tiny instance,
# with and without export: the data is streamed, so it must not grow with
# the size. Targets: drover within 1.1x of the raw steps, and peak RSS
# growth below 1 MiB without export and below 8 MiB with it (multipart
# buffers are per part, not per file).
#
# Usage: bench/backup.sh [--size MIB] [--reps N]
# Needs: a built ./drover (or $DROVER), LXD with the busybox image
# (scripts/lxd-setup.sh), the local S3 server (scripts/s3-setup.sh), lxc,
# jq, curl, GNU time. Not run in CI.
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
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
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

work=$(mktemp -d /var/tmp/drover-bench-backup.XXXXXX)
TPL=$work/bench-backup.json
EP=${DROVER_S3_ENDPOINT:-http://127.0.0.1:4568}
BUCKET=bench-backup-$$
export DROVER_S3_ENDPOINT=$EP AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER TMPDIR=$work
s3curl() {
  local m=$1 p=$2; shift 2
  curl -sS --max-time 600 -X "$m" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER "$@" "$EP$p"
}
s3_drop() {
  local k
  for k in $(s3curl GET "/$BUCKET?list-type=2" 2>/dev/null | grep -o '<Key>[^<]*</Key>' |
             sed 's/<Key>//; s/<\/Key>//'); do
    s3curl DELETE "/$BUCKET/$k" >/dev/null 2>&1
  done
}
[ "$(s3curl PUT "/$BUCKET" -o /dev/null -w '%{http_code}')" = 200 ] ||
  { echo "backup: no S3 server on $EP (scripts/s3-setup.sh)" >&2; exit 1; }
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
              "schedule": "@hourly", "retention": {"keep_last": 1}}},
    "bigx": {"type": "backup.policy", "properties": {"targets": ["big"],
             "schedule": "@hourly", "retention": {"keep_last": 1},
             "export": "s3://$BUCKET/big"}},
    "tinyx": {"type": "backup.policy", "properties": {"targets": ["tiny"],
              "schedule": "@hourly", "retention": {"keep_last": 1},
              "export": "s3://$BUCKET/tiny"}}
  }
}
EOF
trap 'rc=$?; echo "# cleanup"; "$DROVER" destroy --yes "$TPL" >/dev/null 2>&1 || true; s3_drop; s3curl DELETE "/$BUCKET" >/dev/null 2>&1; rm -rf "$work"; exit $rc' EXIT
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

rawx=() drvx=()
for i in $(seq 1 "$REPS"); do
  drop_snaps "$BIG"; s3_drop; rm -f "$work/raw.tar.gz"
  t0=$(now)
  lxc snapshot "$BIG" "rawx$i"
  lxc export "$BIG" "$work/raw.tar.gz" --instance-only --compression gzip >/dev/null
  s3curl PUT "/$BUCKET/raw/$BIG.tar.gz" -T "$work/raw.tar.gz" -o /dev/null
  t1=$(now)
  rawx+=("$(calc "$t1 - $t0")")
  drop_snaps "$BIG"; s3_drop
  slot=$(date -u -d "2032-01-01 00:00 UTC + $i hour" +%Y-%m-%dT%H:%M:%SZ)
  t0=$(now); "$BIN" backup run --now "$slot" "$TPL" bigx >/dev/null; t1=$(now)
  drvx+=("$(calc "$t1 - $t0")")
done
t_rawx=$(printf '%s\n' "${rawx[@]}" | median)
t_drvx=$(printf '%s\n' "${drvx[@]}" | median)

# The same content: the last rep's raw archive and drover's, listed as
# size and path per entry (the instance config files aside).
listing() { tar -tvzf "$1" | awk '$6 != "backup/index.yaml" && $6 != "backup/container/backup.yaml" { print $3, $6 }'; }
dkey=$(s3curl GET "/$BUCKET?list-type=2" | grep -o '<Key>big/[^<]*\.tar\.gz</Key>' |
       sed 's/<Key>//; s/<\/Key>//' | head -1)
s3curl GET "/$BUCKET/$dkey" -o "$work/drover.tar.gz"
if [ -n "$dkey" ] && listing "$work/raw.tar.gz" >"$work/raw.list" &&
   listing "$work/drover.tar.gz" >"$work/drover.list" && [ -s "$work/raw.list" ] &&
   cmp -s "$work/raw.list" "$work/drover.list"; then
  same="yes: $(wc -l <"$work/raw.list") entries, $(awk '{ n += $1 } END { print n }' "$work/raw.list") bytes"
else
  same="NO"
fi
rm -f "$work/raw.tar.gz" "$work/drover.tar.gz"

rss() { /usr/bin/time -f %M "$BIN" backup run --now "$2" "$TPL" "$1" 2>&1 >/dev/null | tail -1; }
drop_snaps "$BIG"
rss_big=$(rss bigp 2031-01-01T00:00:00Z)
rss_tiny=$(rss tinyp 2031-01-01T00:00:00Z)
drop_snaps "$BIG"; s3_drop
rss_bigx=$(rss bigx 2033-01-01T00:00:00Z)
rss_tinyx=$(rss tinyx 2033-01-01T00:00:00Z)

verdict() { # NAME RATIO
  if awk "BEGIN { exit !($2 <= $TARGET) }"; then
    printf 'target (%s within %sx of the raw steps): MET (%.2fx)\n' "$1" "$TARGET" "$2"
  else
    printf 'target (%s within %sx of the raw steps): NOT MET (%.2fx)\n' "$1" "$TARGET" "$2"
  fi
}
grows() { # NAME GROWTH-KIB LIMIT-KIB
  if [ "$2" -lt "$3" ]; then
    echo "target (peak RSS of $1 does not grow with the data): MET ($2 KiB)"
  else
    echo "target (peak RSS of $1 does not grow with the data): NOT MET ($2 KiB)"
  fi
}
printf '%-52s %9s %9s\n' "how ($SIZE MiB, median of $REPS)" "seconds" "/raw"
printf '%-52s %9.2f %8.2fx\n' "lxc snapshot" "$t_raw" 1
printf '%-52s %9.2f %8.2fx\n' "drover backup run" "$t_drv" "$(calc "$t_drv / $t_raw")"
printf '%-52s %9.2f %8.2fx\n' "lxc snapshot + lxc export + curl --aws-sigv4" "$t_rawx" 1
printf '%-52s %9.2f %8.2fx\n' "drover backup run with export" "$t_drvx" \
  "$(calc "$t_drvx / $t_rawx")"
printf 'both exports: LXD instance-only gzip backups of the instance at its snapshot; same files and sizes: %s\n' "$same"
printf 'peak RSS of drover backup run: %s KiB with %s MiB of data, %s KiB with a tiny instance\n' \
  "$rss_big" "$SIZE" "$rss_tiny"
printf 'peak RSS with export: %s KiB with %s MiB of data, %s KiB with a tiny instance\n' \
  "$rss_bigx" "$SIZE" "$rss_tinyx"
verdict "snapshot" "$(calc "$t_drv / $t_raw")"
if [ "$same" = NO ]; then
  echo "target (snapshot and export within ${TARGET}x of the raw steps): NOT MET (the exports differ)"
else
  verdict "snapshot and export" "$(calc "$t_drvx / $t_rawx")"
fi
grows "backup run" $((rss_big - rss_tiny)) 1024
grows "backup run with export" $((rss_bigx - rss_tinyx)) 8192
