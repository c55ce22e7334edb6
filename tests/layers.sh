#!/bin/sh
# layers.sh - no loop among the files of libdrover: no file calls
# into a file that calls back into it, directly or round a longer loop.
# Read from the symbols of the built objects (nm), so it sees every call
# the compiler kept; tsort(1) finds the loops. The files then read in
# pipeline order: template -> eval -> stack -> refresh -> plan -> apply.
#
#   tests/layers.sh [ARCHIVE]   (default .libs/libdrover_core.a)
set -eu
lib=${1:-.libs/libdrover_core.a}
if [ ! -f "$lib" ]; then
  echo "layers: $lib not found (build the library first)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
# "archive[member.o]: name type ..." -> "member name type"
nm -A -P "$lib" |
  sed -n 's/^[^[]*\[libdrover_core_la-\([^].]*\)\.o\]: \([^ ]*\) \([A-Za-z]\).*/\1 \2 \3/p' \
  >"$tmp/syms"
awk '$3 ~ /^[TDBR]$/ { print $2, $1 }' "$tmp/syms" | sort -k1,1 >"$tmp/defs"
awk '$3 == "U" { print $2, $1 }' "$tmp/syms" | sort -k1,1 >"$tmp/uses"
# "user definer" for every call from one file into another
join "$tmp/uses" "$tmp/defs" | awk '$2 != $3 { print $2, $3 }' | sort -u >"$tmp/edges"
n=$(wc -l <"$tmp/edges")
if [ "$n" -lt 20 ]; then
  echo "layers: only $n cross-file calls found in $lib; is it the engine?" >&2
  exit 1
fi
if ! tsort "$tmp/edges" >/dev/null 2>"$tmp/err"; then
  echo "layers: files of libdrover call each other in a loop:" >&2
  cat "$tmp/err" >&2
  exit 1
fi
echo "layers: $n cross-file calls, no loop"
