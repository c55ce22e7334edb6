#!/bin/sh
# Backup exports on the real LXD and the local S3 server (scripts/s3-setup.sh,
# s3rver on 127.0.0.1:4568): run exports the instance alongside the slot's
# snapshot (between the hooks) through LXD's backup API, no scratch copy,
# with its SHA-256 beside it and leaves nothing on the LXD side;
# list shows it; the instance is deleted and restored from the export (and
# is the stack's again); restored under another name and into a second LXD
# project (plain copies); verify drills it; prune applies the retention to
# exports and removes a killed run's leftover; a corrupted export is refused
# by restore and failed by verify, with nothing created; kill -9 mid-export
# then run again leaves one complete export and no scratch copy.
# The truth is read from LXD's API and from S3 with curl --aws-sigv4.
STACK=lt-export-$$
. "$(dirname "$0")/lib.sh"
preflight
# drover stages archives under $TMPDIR: this test's own, so what a killed
# run leaves there is seen (and no other test's stage is).
export TMPDIR="$TMP/stage"
mkdir -p "$TMPDIR"
STAGED=0
# staged: how many stages (drover-stage-*) are in $TMPDIR.
staged() { find "$TMPDIR" -mindepth 1 -maxdepth 1 -name 'drover-stage-*' | wc -l; }

EP=${DROVER_S3_ENDPOINT:-http://127.0.0.1:4568}
export DROVER_S3_ENDPOINT=$EP AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE
BUCKET=$STACK
PROJ=$STACK
COPY=$STACK-copy
T=$TPL/export.json
S="--stack $STACK --var bucket=$BUCKET"
T1=2026-03-28T10:20:00Z   # slot 10:00Z
T2=2026-03-28T11:20:00Z   # slot 11:00Z
T3=2026-03-28T12:20:00Z   # slot 12:00Z

# s3curl METHOD PATH [curl args...]: one request signed by libcurl.
s3curl() {
  _m=$1 _p=$2; shift 2
  curl -sS --max-time 60 -X "$_m" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER "$@" "$EP$_p"
}
s3keys() {
  s3curl GET "/$BUCKET?list-type=2&prefix=dr%2F" | grep -o '<Key>[^<]*</Key>' |
    sed 's/<Key>//; s/<\/Key>//' | sort
}
s3status() { s3curl "$1" "$2" -o /dev/null -w '%{http_code}' 2>/dev/null; }
inx() { lxc exec "$1" -- sh -c "$2"; }
# import_name NAME: the temporary instance a restore to NAME imports under
# (providers/lxd/lxd_import.c: "drover-import-" and the 64-bit FNV-1a of
# NAME's bytes). Shell arithmetic is signed 64-bit and wraps (two's
# complement, in dash and bash) as the C code's unsigned long long does;
# the offset basis is written signed.
import_name() {
  _h=-3750763034362895579   # 0xcbf29ce484222325
  for _c in $(printf %s "$1" | od -An -v -tu1); do
    _h=$(( (_h ^ _c) * 0x100000001b3 ))
  done
  printf 'drover-import-%016x\n' "$_h"
}
export_result() { jq -r ".targets[0].export.$1" "$TMP/out"; }
cleanup_extra() {
  for k in $(s3keys 2>/dev/null); do s3curl DELETE "/$BUCKET/$k" >/dev/null 2>&1; done
  s3curl DELETE "/$BUCKET" >/dev/null 2>&1
  for n in $(api_jq "/1.0/instances?project=$PROJ" '.metadata[]' 2>/dev/null); do
    n=${n##*/}; n=${n%%\?*}
    api_wait PUT "/1.0/instances/$n/state?project=$PROJ" '{"action":"stop","force":true}' >/dev/null 2>&1
    api_wait DELETE "/1.0/instances/$n?project=$PROJ" >/dev/null 2>&1
  done
  api DELETE "/1.0/projects/$PROJ" >/dev/null 2>&1
  # Scratch copies carry no labels: found by the policy's key, and the
  # temporary imports by this test's restore names.
  imports=$(for n in "$COPY" "$STACK-rk" "$STACK-bad" ${DB:+"$DB"}; do import_name "$n"; done |
            paste -sd'|')
  for n in $(api_jq '/1.0/instances' '.metadata[]' 2>/dev/null | sed 's|.*/||' |
             grep -E "^drover-(export|verify)-${KEY:-none}-|^($imports)\$"); do
    api_wait PUT "/1.0/instances/$n/state" '{"action":"stop","force":true}' >/dev/null 2>&1
    api_wait DELETE "/1.0/instances/$n" >/dev/null 2>&1
  done
  : >"$API_ERRORS"
}
trap 'cleanup_extra; on_abort' INT TERM

if [ "$(s3status GET /)" != 200 ]; then
  notok "the S3 server answers on $EP (run scripts/s3-setup.sh)"; finish
fi
check "a bucket for the exports" test "$(s3status PUT "/$BUCKET")" = 200

run apply $S "$T" --yes
expect_rc "apply the instance and its exporting policy" 0
DB=$("$DROVER" show $S "$T" --json | jq -r '.[] | select(.address=="db") | .name')
check "the graph has the edge from the policy to its target (a reference)" \
  sh -c "'$DROVER' graph $S '$T' | grep -q '\"nightly\" -> \"db\"'"
inx "$DB" 'mkdir -p /data && echo a,b >/data/rows'

# ---- run: snapshot, export, checksum ------------------------------------
run backup run $S "$T" nightly --now $T1 --json
expect_rc "backup run with export" 0
SNAP1=$(jq -r .snapshot "$TMP/out")
KEY=$(echo "$SNAP1" | cut -d- -f2)
check "the export was created" test "$(export_result result)" = created
SHA1=$(export_result sha256)
check "the report gives its SHA-256" sh -c "echo '$SHA1' | grep -Eq '^[0-9a-f]{64}$'"
AKEY=dr/nightly/$SNAP1/$DB.tar.gz
MKEY=dr/nightly/$SNAP1/$DB.json
check "S3 holds the archive and the manifest" \
  test "$(s3keys | tr '\n' ' ')" = "$MKEY $AKEY "
s3curl GET "/$BUCKET/$AKEY" -o "$TMP/a.tar.gz"
check "the archive's SHA-256 is the reported one" \
  test "$(sha256sum "$TMP/a.tar.gz" | cut -d' ' -f1)" = "$SHA1"
check "the archive is an LXD backup (gzip tarball with backup/index.yaml)" \
  sh -c "tar -tzf '$TMP/a.tar.gz' | grep -qx 'backup/index.yaml'"
check "the archive carries the SHA-256 as object metadata" \
  sh -c "curl -sS -I -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' --aws-sigv4 aws:amz:us-east-1:s3 \
    --user S3RVER:S3RVER '$EP/$BUCKET/$AKEY' | tr -d '\r' | grep -qix 'x-amz-meta-drover-sha256: $SHA1'"
s3curl GET "/$BUCKET/$MKEY" -o "$TMP/m.json"
check "the manifest names stack, policy, instance, slot, object and checksum" \
  jqt --arg s "$STACK" --arg i "$DB" --arg k "$AKEY" --arg h "$SHA1" \
  '.format == "drover-export/1" and .stack == $s and .policy == "nightly" and
   .instance == $i and .address == "db" and .object == $k and .sha256 == $h and
   .labels.address == "db" and .labels.stack == $s' "$TMP/m.json"
# backup.yaml: the instance ("container:") first, then the pool and every
# profile of the project (LXD 5.0 writes them all); only the instance's
# own config matters to an import.
tar -xzOf "$TMP/a.tar.gz" backup/container/backup.yaml >"$TMP/backup.yaml"
check "the archive is the instance itself, captured alongside its snapshot (no scratch copy)" \
  sh -c "sed -n '/^container:/,/^[a-z]/p' '$TMP/backup.yaml' | grep -qx '  name: $DB'"
check "nothing is left on the LXD side (no scratch copy)" \
  test -z "$(api_jq '/1.0/instances' '.metadata[] | select(test("drover-export-'"$KEY"'"))')"
check "no LXD backup is left on the instance" \
  test "$(api_jq "/1.0/instances/$DB/backups" '.metadata | length')" = 0

run backup run $S "$T" nightly --now $T1 --json
expect_rc "backup run again in the same slot" 0
check "the slot's export is kept, not made again" test "$(export_result result)" = exists
check "still one export" test "$(s3keys | wc -l)" -eq 2

# The slot's snapshot exists but its export does not (a run killed between
# them): the next run exports that snapshot, through a scratch copy.
s3curl DELETE "/$BUCKET/$MKEY" >/dev/null
s3curl DELETE "/$BUCKET/$AKEY" >/dev/null
run backup run $S "$T" nightly --now $T1 --json
expect_rc "backup run of a slot whose snapshot exists but whose export does not" 0
check "the snapshot is kept and the export made again" \
  jqt '.targets[0].result == "exists" and .targets[0].export.result == "created"' "$TMP/out"
SHA1=$(export_result sha256)
s3curl GET "/$BUCKET/$AKEY" -o "$TMP/a2.tar.gz"
tar -xzOf "$TMP/a2.tar.gz" backup/container/backup.yaml >"$TMP/backup2.yaml"
check "that export is of the snapshot (its scratch copy, without drover labels)" \
  sh -c "sed -n '/^container:/,/^[a-z]/p' '$TMP/backup2.yaml' | grep -qx '  name: drover-export-$KEY-0' &&
         ! sed -n '/^container:/,/^[a-z]/p' '$TMP/backup2.yaml' | grep -q 'user.drover'"
check "and left no scratch copy" \
  test -z "$(api_jq '/1.0/instances' '.metadata[] | select(test("drover-export-'"$KEY"'"))')"
check "and no LXD backup on the instance" \
  test "$(api_jq "/1.0/instances/$DB/backups" '.metadata | length')" = 0

run backup list $S "$T" --json
expect_rc "backup list" 0
check "list shows the export, complete, with its policy" \
  jqt --arg s "$SNAP1" '.exports | length == 1 and .[0].snapshot == $s and
     .[0].state == "complete" and .[0].policy == "nightly"' "$TMP/out"

# ---- disaster: the instance is gone; restore it from the export ----------
inx "$DB" 'echo changed >/data/rows'
api_wait PUT "/1.0/instances/$DB/state" '{"action":"stop","force":true}'
api_wait DELETE "/1.0/instances/$DB"
run restore $S "$T" db --from-export nightly --json
expect_rc "restore the deleted instance from its export" 0
check "the report names the export and its checksum" \
  jqt --arg h "$SHA1" '.result == "restored" and .sha256 == $h' "$TMP/out"
check "the rows are those of the backup" test "$(inx "$DB" 'cat /data/rows')" = a,b
run plan $S "$T" --detailed-exitcode
expect_rc "the restored instance is the stack's again: no changes" 0
run restore $S "$T" db --from-export nightly
expect_rc "restore over the existing instance is refused" 1
check "the refusal says why" grep -q "exists and is running" "$TMP/err"

run restore $S "$T" db --from-export nightly --name "$COPY"
expect_rc "restore under another name" 0
check "the copy has the rows" test "$(inx "$COPY" 'cat /data/rows')" = a,b
check "the copy is no resource of the stack (no labels)" \
  test "$(api_jq "/1.0/instances/$COPY" '.metadata.config["user.drover.stack"] // "none"')" = none

# ---- a restore killed midway -----------------------------------------------
# What a killed restore leaves under the name still carries the restore's
# mark (the export's SHA-256): the next restore of that export replaces it
# without --force. Made here as a kill between rename and start leaves it.
RK=$STACK-rk   # cleanup_extra knows it too
run restore $S "$T" db --from-export nightly --name "$RK" --json
expect_rc "restore a copy to be left half-made" 0
check "a finished restore clears its mark" \
  test "$(api_jq "/1.0/instances/$RK" '.metadata.config["user.drover.restoring"] // "none"')" = none
api_wait PUT "/1.0/instances/$RK/state" '{"action":"stop","force":true}' >/dev/null
lxc config set "$RK" user.drover.restoring "$SHA1"
run restore $S "$T" db --from-export nightly --name "$RK" --json
expect_rc "restore over its own half-made instance, without --force" 0
check "it says it resumed, and the copy has the rows" \
  sh -c "jq -e '.resumed == true and .replaced == false' '$TMP/out' >/dev/null &&
         test \"\$(lxc exec '$RK' -- cat /data/rows)\" = a,b"
lxc config set "$RK" user.drover.restoring "0000"
run restore $S "$T" db --from-export nightly --name "$RK"
expect_rc "an instance marked by a restore of another export is not replaced" 1
# Killed for real at two moments, and once its archive is staged (seen in
# $TMPDIR): whatever it had done, the next run (without --force) ends with
# the copy and its rows, no temporary import and no staged archive; it may
# only refuse when the killed run had got to the end (the copy is up and
# carries no mark).
for delay in 0.4 1.5 staged; do
  api_wait PUT "/1.0/instances/$RK/state" '{"action":"stop","force":true}' >/dev/null 2>&1
  api_wait DELETE "/1.0/instances/$RK" >/dev/null 2>&1
  "$DROVER" restore $S "$T" db --from-export nightly --name "$RK" >/dev/null 2>&1 </dev/null &
  pid=$! at="at ${delay}s"
  if [ "$delay" = staged ]; then
    at="once staged" i=0
    while [ "$(staged)" -eq 0 ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
  else
    sleep "$delay"
  fi
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  STAGED=$((STAGED + $(staged)))
  run restore $S "$T" db --from-export nightly --name "$RK"
  mark=$(api_jq "/1.0/instances/$RK" '.metadata.config["user.drover.restoring"] // "none"')
  check "restore again after kill -9 $at: done, or refused only after a whole restore" \
    sh -c "[ $rc -eq 0 ] || { [ '$mark' = none ] && grep -q exists '$TMP/err'; }"
  check "restore again after kill -9 $at: the copy has the rows" \
    test "$(lxc exec "$RK" -- cat /data/rows 2>/dev/null)" = a,b
  check "restore again after kill -9 $at: no temporary import is left" \
    test -z "$(api_jq '/1.0/instances' '.metadata[] | select(endswith("/'"$(import_name "$RK")"'"))')"
  check "restore again after kill -9 $at: no staged archive is left" \
    test "$(staged)" -eq 0
done

api POST /1.0/projects "{\"name\":\"$PROJ\",\"config\":{\"features.images\":\"false\",\"features.profiles\":\"false\",\"features.storage.volumes\":\"false\"}}" >/dev/null
run restore $S "$T" db --from-export nightly --project "$PROJ"
expect_rc "restore into a second LXD project" 0
check "the instance exists in that project with the rows" \
  test "$(lxc exec "$DB" --project "$PROJ" -- cat /data/rows)" = a,b

# "Another LXD server": its own settings file (here the same daemon, so
# the test needs no second one; the settings come from the file alone).
printf '{"socket": "%s", "project": "%s"}\n' "$SOCK" "$PROJ" >"$TMP/remote.json"
run restore $S "$T" db --from-export nightly --remote "$TMP/remote.json" --name "$STACK-remote"
expect_rc "restore onto a remote given by a settings file" 0
check "the instance exists where the remote's settings point" \
  test "$(lxc exec "$STACK-remote" --project "$PROJ" -- cat /data/rows)" = a,b

# ---- the DR drill ---------------------------------------------------------
run backup verify $S "$T" nightly --json
expect_rc "backup verify drills the export" 0
check "verify passed on the newest export with a good checksum" \
  jqt --arg s "$SNAP1" '.source == "export" and .targets[0].export == $s and
     .targets[0].checksum == "ok" and .targets[0].result == "passed" and
     .targets[0].check.status == 0' "$TMP/out"
check "verify left no scratch instance" \
  test -z "$(api_jq '/1.0/instances' '.metadata[] | select(test("drover-verify-'"$KEY"'"))')"
run backup verify $S "$T" nightly --project "$PROJ" --json
expect_rc "backup verify drills into a scratch project" 0
check "the drill in the other project passed and left nothing there" \
  sh -c "jq -e '.targets[0].result == \"passed\"' '$TMP/out' >/dev/null &&
         test -z \"\$(lxc list --project '$PROJ' -c n --format csv | grep drover-verify-$KEY)\""

# ---- retention over exports, and a killed run's leftover ----------------
run backup run $S "$T" nightly --now $T2 --json
expect_rc "backup run, second slot" 0
SNAP2=$(jq -r .snapshot "$TMP/out")
# A run killed between upload and manifest leaves an archive alone; one
# for an older slot than a complete export is dead.
LEFT=dr/nightly/drover-$KEY-20260328T1030Z/$DB.tar.gz
s3curl PUT "/$BUCKET/$LEFT" --data-binary 'half' >/dev/null
run backup list $S "$T" nightly --json
check "list shows the leftover as incomplete" \
  jqt '[.exports[] | select(.state == "incomplete")] | length == 1' "$TMP/out"
run backup run $S "$T" nightly --now $T3 --json
expect_rc "backup run, third slot" 0
SNAP3=$(jq -r .snapshot "$TMP/out")
SHA3=$(export_result sha256)
run backup prune $S "$T" nightly --now $T3 --json
expect_rc "prune" 0
check "prune deleted the oldest export and the leftover, kept the newest two" \
  jqt --arg a "$SNAP1" '([.exports[] | select(.action == "deleted") | .snapshot] | length == 2) and
     ([.exports[] | select(.action == "deleted") | .snapshot] | index($a) != null) and
     ([.exports[] | select(.action == "keep") | .kept_by] == ["last", "last"])' "$TMP/out"
check "S3 holds exactly the two kept exports" \
  test "$(s3keys | tr '\n' ' ')" = "dr/nightly/$SNAP2/$DB.json dr/nightly/$SNAP2/$DB.tar.gz dr/nightly/$SNAP3/$DB.json dr/nightly/$SNAP3/$DB.tar.gz "

# ---- a corrupted export is refused --------------------------------------
head -c 4096 /dev/urandom >"$TMP/junk"
s3curl PUT "/$BUCKET/dr/nightly/$SNAP3/$DB.tar.gz" --data-binary @"$TMP/junk" >/dev/null
run restore $S "$T" db --from-export nightly --name "$STACK-bad"
expect_rc "restore of a corrupted export is refused" 1
check "the error says it is corrupt and names the checksum" \
  sh -c "grep -q 'is corrupt' '$TMP/err' && grep -q '$SHA3' '$TMP/err'"
check "nothing was created" \
  test "$(api GET "/1.0/instances/$STACK-bad" | jq -r .error_code)" = 404
run backup verify $S "$T" nightly --json
expect_rc "verify fails on the corrupted export" 1
check "verify reports the checksum mismatch" \
  jqt '.targets[0].checksum == "mismatch" and .targets[0].result == "failed"' "$TMP/out"
check "the failed drill created no scratch instance" \
  test -z "$(api_jq '/1.0/instances' '.metadata[] | select(test("drover-verify-'"$KEY"'"))')"

# ---- an export above the multipart threshold: metadata and checksum intact
printf '{"s3": {"multipart_threshold": 5242880, "part_size": 5242880}}\n' >"$TMP/mp.json"
inx "$DB" 'head -c 12000000 /dev/urandom >/data/blob'
run backup run $S --provider-config "$TMP/mp.json" "$T" nightly --now 2026-03-28T16:20:00Z --json
expect_rc "backup run whose export is a multipart upload (12 MB, 5 MiB parts)" 0
SHAM=$(export_result sha256)
SNAPM=$(jq -r .snapshot "$TMP/out")
s3curl GET "/$BUCKET/dr/nightly/$SNAPM/$DB.tar.gz" -o "$TMP/m.tar.gz"
check "the export above the multipart threshold (over two parts) has the reported SHA-256" \
  sh -c "test \"\$(sha256sum '$TMP/m.tar.gz' | cut -d' ' -f1)\" = '$SHAM' &&
         test \$(stat -c %s '$TMP/m.tar.gz') -gt 10485760"
check "the export above the multipart threshold carries the SHA-256 as metadata" \
  sh -c "curl -sS -I -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' --aws-sigv4 aws:amz:us-east-1:s3 \
    --user S3RVER:S3RVER '$EP/$BUCKET/dr/nightly/$SNAPM/$DB.tar.gz' | tr -d '\r' |
    grep -qix 'x-amz-meta-drover-sha256: $SHAM'"
inx "$DB" 'rm -f /data/blob'

# ---- a failed upload: reported, and nothing left on the LXD side ---------
run backup run --stack "$STACK" --var bucket="$STACK-missing" "$T" nightly --now 2026-03-28T15:20:00Z --json
expect_rc "backup run whose upload fails (no such bucket)" 1
check "the report says the export failed, with S3's reason" \
  jqt '.targets[0].result == "failed" and .targets[0].export.result == "failed" and
       (.targets[0].export.error | test("NoSuchBucket"))' "$TMP/out"
check "the failed export left no scratch copy" \
  test -z "$(api_jq '/1.0/instances' '.metadata[] | select(test("drover-export-'"$KEY"'"))')"
check "the failed export left no LXD backup" \
  test "$(api_jq "/1.0/instances/$DB/backups" '.metadata | length')" = 0

# ---- kill -9 during an export, then run again -----------------------------
# Whenever the kill lands (snapshot, scratch copy, download, upload), the
# next run of the slot leaves exactly one complete export and no scratch.
for delay in 0.3 0.8; do
  now=2026-03-28T13:20:00Z
  [ "$delay" = 0.8 ] && now=2026-03-28T14:20:00Z
  "$DROVER" backup run $S "$T" nightly --now "$now" >/dev/null 2>&1 </dev/null &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  STAGED=$((STAGED + $(staged)))
  run backup run $S "$T" nightly --now "$now" --json
  expect_rc "run slot $now again after kill -9 at ${delay}s" 0
  check "slot $now: no staged archive is left" test "$(staged)" -eq 0
  slot=$(jq -r .snapshot "$TMP/out")
  check "slot $now: one complete export, archive and manifest" \
    test "$(s3keys | grep -c "/$slot/")" -eq 2
  check "slot $now: no scratch copy left" \
    test -z "$(api_jq '/1.0/instances' '.metadata[] | select(test("drover-export-'"$KEY"'"))')"
done

# The checks above mean something only if a kill left a stage behind.
check "a killed run left its staged archive ($STAGED times in 5 kills), the next removed it" \
  test "$STAGED" -ge 1

# ---- the instance is gone: its exports are still pruned ------------------
api_wait PUT "/1.0/instances/$DB/state" '{"action":"stop","force":true}' >/dev/null
api_wait DELETE "/1.0/instances/$DB" >/dev/null
run backup prune $S "$T" nightly --now 2026-03-28T16:20:00Z --json
expect_rc "prune with the target instance deleted" 0
check "the deleted instance's exports got the retention (newest two kept, the rest deleted)" \
  jqt '([.exports[] | select(.action == "keep")] | length == 2) and
       ([.exports[] | select(.action == "deleted")] | length >= 1)' "$TMP/out"
check "S3 holds exactly the two kept exports of the deleted instance" \
  test "$(s3keys | grep -c '\.json$')" -eq 2

cleanup_extra
finish
