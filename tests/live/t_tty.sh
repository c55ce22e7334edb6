#!/bin/sh
# On a terminal (a pty from script(1)) apply asks "Apply these changes?
# [y/N]": "n" changes nothing, "y" applies with the live progress display.
STACK=lt-tty
. "$(dirname "$0")/lib.sh"
preflight

if ! command -v script >/dev/null 2>&1; then
  notok "script(1) from util-linux is installed"
  finish
fi
T=$TPL/basic.json
cmd="$DROVER apply -t $T --stack $STACK --var replicas=2"

# script -e returns the command's exit status; stdin feeds the pty.
printf 'n\n' | script -qec "$cmd" /dev/null >"$TMP/tty.out" 2>&1
rc=$?
check "on a TTY apply asks 'Apply these changes? [y/N]'" \
  grep -qF 'Apply these changes? [y/N]' "$TMP/tty.out"
check "answering n exits 1 (got $rc)" test "$rc" -eq 1
check "answering n changes nothing" test -z "$(labelled_all)"

# ^C at the prompt (the pty turns it into SIGINT): exit 130, no change.
# The ^C is typed once the prompt is on the screen, never during refresh.
: >"$TMP/tty.out"
( i=0
  while ! grep -qF 'Apply these changes? [y/N]' "$TMP/tty.out" && [ $i -lt 1200 ]; do
    sleep 0.05; i=$((i + 1))
  done
  printf '\003' ) | script -qfec "$cmd" /dev/null >"$TMP/tty.out" 2>&1
rc=$?
check "the prompt was shown before the ^C" grep -qF 'Apply these changes? [y/N]' "$TMP/tty.out"
check "^C at the prompt exits 130 (got $rc)" test "$rc" -eq 130
check "^C at the prompt changes nothing" test -z "$(labelled_all)"

printf 'y\n' | script -qec "$cmd" /dev/null >"$TMP/tty.out" 2>&1
rc=$?
check "answering y applies (exit $rc)" test "$rc" -eq 0
check "the TTY run ends with the summary" \
  grep -q 'Apply complete: 3 created, 0 updated, 0 replaced, 0 deleted\.' "$TMP/tty.out"
check "LXD holds node[0..1]" \
  test "$(labelled_instances | awk '{print $1}' | tr '\n' ' ')" = "node[0] node[1] "

# Colour on a TTY unless NO_COLOR; lib.sh exports NO_COLOR=1.
ESC=$(printf '\033')
has_esc() { grep -q "$ESC\[" "$1"; }
no_esc() { ! has_esc "$1"; }
script -qec "env -u NO_COLOR $DROVER plan -t $T --stack $STACK --var replicas=3" /dev/null \
  >"$TMP/tty.out" 2>&1 </dev/null
check "plan on a TTY without NO_COLOR uses colour" has_esc "$TMP/tty.out"
script -qec "$DROVER plan -t $T --stack $STACK --var replicas=3" /dev/null \
  >"$TMP/tty.out" 2>&1 </dev/null
check "NO_COLOR turns colour off on a TTY" no_esc "$TMP/tty.out"
script -qec "env -u NO_COLOR $DROVER plan --no-color -t $T --stack $STACK --var replicas=3" /dev/null \
  >"$TMP/tty.out" 2>&1 </dev/null
check "--no-color turns colour off on a TTY" no_esc "$TMP/tty.out"

finish
