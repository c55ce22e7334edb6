#!/usr/bin/env bash
# bench/s3-transfer.sh - drover s3 cp against a single curl --aws-sigv4
# PUT and GET of the same file to the same server (the local s3rver of
# scripts/s3-setup.sh), side by side in one run.
#
#   bench/s3-transfer.sh                 # 200 MiB and 2 GiB
#   bench/s3-transfer.sh --sizes "64 512" --reps 3
#
# For each size (MiB): a random file; REPS times each (median reported):
# drover upload, curl upload, drover download, curl download; every
# download is checked against the file's SHA-256. Wall time and peak RSS
# (GNU time's %M) per run. Also, as information, drover with multipart
# off (one PUT, like curl's: "upload-1put"), which separates the server's
# cost of assembling parts from the client's. Prints the ratios
# drover/curl and the targets:
#   - upload and download no slower than curl (ratio <= 1.00);
#   - drover's peak RSS does not grow with the file size (largest size's
#     peak within 1.25x of the smallest size's).
# Never run in CI. Set DROVER=/path/to/drover to time another build.
set -euo pipefail

cd "$(dirname "$0")/.."
SRC=$(pwd)
DROVER=${DROVER:-$SRC/drover}
SIZES="200 2048"
REPS=1
while [ $# -gt 0 ]; do
  case $1 in
    --sizes) SIZES=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 1; }
bash scripts/s3-setup.sh start >/dev/null
eval "$(bash scripts/s3-setup.sh env)"
export AWS_ACCESS_KEY_ID=$DROVER_S3_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$DROVER_S3_SECRET_ACCESS_KEY
export DROVER_S3_ENDPOINT
EP=$DROVER_S3_ENDPOINT
B=drover-ci
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/drover-s3bench.XXXXXX")
printf '{"s3": {"multipart_threshold": 5368709120}}\n' >"$TMP/oneput.json"
cleanup() {
  curl -s -o /dev/null -X DELETE -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    "$EP/$B/bench/drover.bin" || true
  curl -s -o /dev/null -X DELETE -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    "$EP/$B/bench/curl.bin" || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# The real program behind libtool's wrapper script, when there is one.
RUNNER=()
if [ -x "$SRC/libtool" ] && grep -q libtool "$DROVER" 2>/dev/null; then
  RUNNER=("$SRC/libtool" --mode=execute)
fi

# timed LABEL CMD...: runs CMD under GNU time; appends "secs rss_kb" to $TMP/LABEL.
timed() {
  local label=$1; shift
  "${RUNNER[@]}" /usr/bin/time -f "%e %M" -o "$TMP/t" "$@" >/dev/null 2>"$TMP/err" ||
    { echo "FAILED: $*" >&2; cat "$TMP/err" >&2; exit 1; }
  cat "$TMP/t" >>"$TMP/$label"
}
curl_s3() {
  curl -sS --fail -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$@"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

printf '%-8s %-9s %10s %10s %7s %14s %14s\n' size op drover_s curl_s ratio drover_rss_MB curl_rss_MB
met=1
rss_first="" rss_last=""
for mb in $SIZES; do
  f=$TMP/file.bin
  head -c $((mb * 1048576)) /dev/urandom >"$f"
  want=$(sha256sum "$f" | cut -d' ' -f1)
  rm -f "$TMP"/{du,cu,dd,cd,d1}
  for _ in $(seq "$REPS"); do
    timed du "$DROVER" s3 cp "$f" "s3://$B/bench/drover.bin"
    # Info: drover with multipart off, one PUT like curl's.
    timed d1 "$DROVER" s3 cp --provider-config "$TMP/oneput.json" "$f" "s3://$B/bench/drover.bin"
    timed cu curl -sS --fail -o /dev/null -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
      --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
      -T "$f" "$EP/$B/bench/curl.bin"
    rm -f "$TMP/down.bin"
    timed dd "$DROVER" s3 cp "s3://$B/bench/drover.bin" "$TMP/down.bin"
    [ "$(sha256sum "$TMP/down.bin" | cut -d' ' -f1)" = "$want" ] || { echo "drover download: checksum mismatch" >&2; exit 1; }
    rm -f "$TMP/down.bin"
    timed cd curl -sS --fail -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
      --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
      -o "$TMP/down.bin" "$EP/$B/bench/curl.bin"
    [ "$(sha256sum "$TMP/down.bin" | cut -d' ' -f1)" = "$want" ] || { echo "curl download: checksum mismatch" >&2; exit 1; }
    rm -f "$TMP/down.bin"
  done
  for op in upload upload-1put download; do
    d=du c=cu
    [ $op = download ] && d=dd c=cd
    [ $op = upload-1put ] && d=d1
    dt=$(cut -d' ' -f1 "$TMP/$d" | median); ct=$(cut -d' ' -f1 "$TMP/$c" | median)
    dr=$(cut -d' ' -f2 "$TMP/$d" | sort -n | tail -1); cr=$(cut -d' ' -f2 "$TMP/$c" | sort -n | tail -1)
    ratio=$(awk "BEGIN{printf \"%.2f\", $dt / ($ct > 0 ? $ct : 0.01)}")
    printf '%-8s %-9s %10.2f %10.2f %7s %14.1f %14.1f\n' "${mb}MiB" $op "$dt" "$ct" "$ratio" \
      "$(awk "BEGIN{print $dr/1024}")" "$(awk "BEGIN{print $cr/1024}")"
    # upload-1put is information (multipart off), not a target.
    [ $op = upload-1put ] || awk "BEGIN{exit !($ratio <= 1.00)}" || met=0
    [ -z "$rss_first" ] && rss_first=$dr
    rss_last=$dr
    [ "$dr" -gt "${rss_max:-0}" ] && rss_max=$dr
  done
  rm -f "$f"
done
echo
growth=$(awk "BEGIN{printf \"%.2f\", ${rss_max:-0} / ($rss_first > 0 ? $rss_first : 1)}")
echo "target: upload and download no slower than curl: $([ $met = 1 ] && echo MET || echo NOT MET)"
echo "target: peak RSS does not grow with size (largest/first peak $growth <= 1.25): $(awk "BEGIN{exit !($growth <= 1.25)}" && echo MET || echo NOT MET)"
