#!/bin/sh
# slurm_lib.sh - tests/slurm/lib.sh finds its own folder, and so the tree
# under test, whatever the working directory: for a test in tests/slurm
# run from elsewhere, and when bash sources it from elsewhere. Where it
# cannot tell (sh sourcing it from outside, or a script in another folder
# with a lib.sh of its own) it must stop with an error, never test some
# other tree: those cases are the controls that show the checks can fail.
# Needs no Slurm: sourced, lib.sh only sets variables and functions.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
lib=$here/slurm/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "slurm_lib: FAIL: $*"; exit 1; }

# top_from SHELL ZERO [ENV...]: sources lib.sh with SHELL from $tmp, $0
# being ZERO, and prints the TOP it found (or its error, and "rc=N").
top_from() {
  sh_=$1 zero=$2
  shift 2
  (cd "$tmp" && env "$@" "$sh_" -c '. "$1" && echo "$TOP"' "$zero" "$lib" 2>&1) ||
    echo "rc=$?"
}

got=$(top_from bash bash)
[ "$got" = "$top" ] || fail "bash sourcing lib.sh from $tmp: TOP '$got', expected '$top'"
got=$(top_from sh "$here/slurm/some_test.sh")
[ "$got" = "$top" ] || fail "a test in tests/slurm run from $tmp: TOP '$got', expected '$top'"
got=$(top_from sh sh SLURM_TESTS_DIR="$here/slurm")
[ "$got" = "$top" ] || fail "sh with SLURM_TESTS_DIR: TOP '$got', expected '$top'"
# Controls: nothing tells sh where lib.sh is.
got=$(top_from sh sh)
case $got in
  *"tests/slurm not found"*rc=2) ;;
  *) fail "control: sh sourcing lib.sh from $tmp found '$got' (no error)" ;;
esac
got=$(top_from sh "$here/live/t_x.sh")
case $got in
  *"tests/slurm not found"*rc=2) ;;
  *) fail "control: a script in tests/live was taken for one in tests/slurm: '$got'" ;;
esac
echo "slurm_lib: ok: lib.sh finds $top from any directory, and stops where it cannot tell"
