#!/usr/bin/env bash
# tests/fuzz/run.sh - builds the libFuzzer harnesses with clang
# (-fsanitize=fuzzer,address,undefined) in build-fuzz/ and runs each for
# a bounded time: template, refs, plan, planfile (saved plans), lxd. Fails on any crash, leak, sanitizer report or timeout.
#
# Usage: tests/fuzz/run.sh [SECONDS-PER-HARNESS]   (default 30; FUZZ_SECONDS)
# Seeds: tests/fuzz/seeds/<harness>/, tests/fuzz/regressions/<harness>/,
# plus tests/valid and tests/invalid for the template harnesses. New
# inputs go to build-fuzz/corpus/ (not the tree). A crash leaves
# build-fuzz/crash-* and the harness's output; copy the input into
# tests/fuzz/regressions/<harness>/ (tests/check_fuzz replays it in make
# check) and, where it is a template error, add a golden case.
# Harnesses run side by side, one per core (FUZZ_JOBS). Prints
# "fuzz: NAME: N execs" per harness. Safe to run twice.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${1:-${FUZZ_SECONDS:-30}}
OUT=$SRC/build-fuzz
SANF="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

command -v clang >/dev/null || { echo "fuzz: clang not installed (scripts/deps.sh)"; exit 1; }

# The library, instrumented for coverage (fuzzer-no-link) and sanitizers.
CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link $SANF" \
  bash "$SRC/scripts/build.sh" -B "$OUT" -j "${JOBS:-2}" --enable-werror >"$OUT.build.log" 2>&1 ||
  { tail -n 40 "$OUT.build.log"; echo "fuzz: build failed"; exit 1; }
lib=$OUT/.libs/libdrover_core.a
[ -f "$lib" ] || lib=$OUT/src/.libs/libdrover_core.a
[ -f "$lib" ] || { echo "fuzz: no libdrover_core.a under $OUT"; exit 1; }

CFL="-g -O1 -fsanitize=fuzzer $SANF -I$SRC/plugin/include -I$SRC/plugin/lib -I$SRC/tests
     -I$(dirname "$lib")/.. $(pkg-config --cflags jansson libcurl)"
# What libdrover_core.a itself needs, as configure found it (the providers
# built into it bring their own libraries, such as S3's libxml2).
mk=$(dirname "$lib")/../Makefile
LIBS="$lib $(sed -n 's/^\(JANSSON\|CURL\|OPENSSL\|LIBXML2\)_LIBS = //p' "$mk" |
  tr '\n' ' ') -lpthread -lm -ldl"
for h in template refs plan planfile lxd; do
  extra=""
  [ "$h" = lxd ] || extra="$SRC/tests/fake_provider.c $SRC/tests/fake_lock.c"
  # shellcheck disable=SC2086
  clang $CFL -o "$OUT/fuzz_$h" "$SRC/tests/fuzz/fuzz_$h.c" $extra $LIBS
done

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TMPDIR=$OUT/tmp
mkdir -p "$TMPDIR"
# fuzz_one H: runs harness H for SECS into its own corpus and log; its
# exit status goes to $OUT/fuzz_H.rc.
fuzz_one() {
  local h=$1 corpus=$OUT/corpus/$1 log=$OUT/fuzz_$1.log rc=0 d
  local seeds=()
  mkdir -p "$corpus"
  for d in "$SRC/tests/fuzz/seeds/$h" "$SRC/tests/fuzz/regressions/$h"; do
    [ -d "$d" ] && seeds+=("$d")
  done
  case $h in
    template|plan)
      mkdir -p "$OUT/seeds-$h"
      cp "$SRC"/tests/valid/*.json "$OUT/seeds-$h/" 2>/dev/null || true
      for d in "$SRC"/tests/invalid/*/; do
        cp "$d/input.json" "$OUT/seeds-$h/$(basename "$d").json"
      done
      seeds+=("$OUT/seeds-$h") ;;
  esac
  (cd "$OUT" && ./fuzz_"$h" -max_total_time="$SECS" -timeout=20 -rss_limit_mb=2048 \
     -max_len=8192 -print_final_stats=1 "$corpus" "${seeds[@]}") >"$log" 2>&1 || rc=$?
  echo "$rc" >"$OUT/fuzz_$h.rc"
}

# Each harness is one process on one core, so as many run at once as
# there are cores (FUZZ_JOBS): each still gets SECS of its own, and the
# stage's wall time shrinks by that factor.
par=${FUZZ_JOBS:-$(nproc)}
harnesses="template refs plan planfile lxd"
for h in $harnesses; do
  rm -f "$OUT/fuzz_$h.rc"
  while [ "$(jobs -rp | wc -l)" -ge "$par" ]; do
    sleep 1
  done
  fuzz_one "$h" &
done
wait
total=0
for h in $harnesses; do
  log=$OUT/fuzz_$h.log
  if [ "$(cat "$OUT/fuzz_$h.rc" 2>/dev/null)" != 0 ]; then
    tail -n 60 "$log"
    echo "fuzz: $h: FAILED (see $log; reproducer in $OUT)"
    exit 1
  fi
  n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  echo "fuzz: $h: ${n:-?} execs in ${SECS}s, corpus $(ls "$OUT/corpus/$h" | wc -l) files"
  total=$((total + ${n:-0}))
done
echo "fuzz: all harnesses: $total execs, no crash"
