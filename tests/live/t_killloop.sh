#!/bin/sh
# kill -9 loop: applies and destroys of a small stack (a profile and 3
# instances), each killed at a random time spread over the whole length of
# an uninterrupted apply or destroy, until at least KILLS kills have landed
# (the process was still running and died of SIGKILL). Runs that finish
# before their kill must succeed. Afterwards one apply must converge to
# exactly the stack (no duplicate, nothing unlabelled, no orphan) and one
# destroy must leave nothing.
#
# Environment: KILLS (default 50), KILL_SEED (default: the time; printed,
# so a run can be repeated with the same kill times).
STACK=lt-killloop
# Without the stack's lease in LXD: each killed run would leave it for the
# next run to wait out, so kills would land in that wait instead of in the
# apply or destroy. The lease under kill -9 is t_lease.sh's.
export DROVER_LOCK_LEASE=off
. "$(dirname "$0")/lib.sh"
preflight

T=$TPL/basic.json
N=3
A="-t $T --stack $STACK --var replicas=$N"
KILLS=${KILLS:-50}
SEED=${KILL_SEED:-$(date +%s)}
MAX_TRIES=$((KILLS * 3))
diag "seed $SEED (KILL_SEED=$SEED repeats these kill times)"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# The windows: the longer of two uninterrupted applies and destroys (the
# machine is shared; one quick run would shrink the window).
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }
W_APPLY=0 W_DESTROY=0
for round in 1 2; do
  t0=$(now); run apply $A --yes; t1=$(now)
  expect_rc "uninterrupted apply ($round)" 0
  W_APPLY=$(max "$W_APPLY" "$(elapsed "$t0" "$t1")")
  t0=$(now); run destroy $A --yes; t1=$(now)
  expect_rc "uninterrupted destroy ($round)" 0
  W_DESTROY=$(max "$W_DESTROY" "$(elapsed "$t0" "$t1")")
done
diag "windows: apply ${W_APPLY}s, destroy ${W_DESTROY}s"

landed=0 finished=0 bad=0 tries=0 start=$(now)
# Kill times as fractions of the window: a golden-ratio sequence from a
# seeded start, so the attempts cover the window evenly whatever the seed.
start_frac=$(awk -v s="$SEED" 'BEGIN { printf "%.6f", (s % 1000003) / 1000003 }')
: >"$TMP/fractions"
while [ "$landed" -lt "$KILLS" ] && [ "$tries" -lt "$MAX_TRIES" ]; do
  tries=$((tries + 1))
  # Two applies for every destroy, so the stack is mostly being built.
  if [ $((tries % 3)) -eq 0 ]; then op=destroy W=$W_DESTROY; else op=apply W=$W_APPLY; fi
  frac=$(awk -v a="$start_frac" -v i="$tries" \
           'BEGIN { f = a + i * 0.6180339887; printf "%.3f", f - int(f) }')
  delay=$(awk -v f="$frac" -v w="$W" 'BEGIN { printf "%.3f", f * w }')
  "$DROVER" "$op" $A --yes >"$TMP/bg.out" 2>"$TMP/bg.err" </dev/null &
  pid=$!
  sleep "$delay"   # the kill time itself, not a wait for an event
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  st=$?
  if [ "$st" -eq 137 ]; then
    landed=$((landed + 1))
    echo "$op $frac" >>"$TMP/fractions"
  elif [ "$st" -eq 0 ]; then
    finished=$((finished + 1))
  else
    bad=$((bad + 1))
    diag "$op (not killed in time) exited $st: $(tail -n 2 "$TMP/bg.err" | tr '\n' ' ')"
  fi
done
diag "$tries runs: $landed killed, $finished finished first, $bad failed, in $(elapsed "$start" "$(now)")s"
check "at least $KILLS kills landed ($landed in $tries runs)" test "$landed" -ge "$KILLS"
check "every run that was not killed succeeded ($bad failed)" test "$bad" -eq 0
# Spread over the windows. A kill late in the window lands only when that
# run still lasts that long (a run after a killed one has less to do), so
# what is checked is the reach: early and late kills both landed.
hist=""
for q in 0 1 2 3 4; do
  hist="$hist $(awk -v q="$q" '$1 == "apply" && int($2 * 5) == q' "$TMP/fractions" | wc -l)"
done
diag "apply kills per fifth of the window:$hist"
diag "destroy kill times (fraction of the window): $(awk '$1 == "destroy" { printf "%s ", $2 }' "$TMP/fractions")"
range() { awk -v op="$1" '$1 == op { if(min == "" || $2 < min) min = $2; if($2 > max) max = $2 }
                          END { printf "%s %s", min == "" ? 1 : min, max + 0 }' "$TMP/fractions"; }
set -- $(range apply)
check "apply kills reach the start of the window (earliest at $1)" \
  awk -v v="$1" 'BEGIN { exit !(v < 0.2) }'
check "apply kills reach the end of the window (latest at $2)" \
  awk -v v="$2" 'BEGIN { exit !(v > 0.6) }'
set -- $(range destroy)
check "destroy kills reach the start of the window (earliest at $1)" \
  awk -v v="$1" 'BEGIN { exit !(v < 0.2) }'
check "destroy kills reach past the middle of the window (latest at $2)" \
  awk -v v="$2" 'BEGIN { exit !(v > 0.5) }'

# ---- recovery -------------------------------------------------------------
run apply $A --yes
expect_rc "apply after the kills converges" 0
labelled_instances | awk '{print $1}' >"$TMP/got"
seq_addresses node "$N" >"$TMP/want"
check "LXD: exactly node[0..$((N - 1))] labelled (none missing, no duplicate)" \
  cmp -s "$TMP/got" "$TMP/want"
check "LXD: exactly $N instances with the stack's prefix (no unlabelled leftover)" \
  test "$(named_instances | wc -l)" -eq "$N"
check "LXD: exactly one profile labelled with the stack" \
  test "$(labelled_profiles | wc -l)" -eq 1
check "LXD: no profile with the stack's prefix but the labelled one" \
  test "$(api GET /1.0/profiles | jq --arg p "/1.0/profiles/$STACK-" \
          '[.metadata[] | select(startswith($p))] | length')" -eq 1
check "LXD: all $N running" \
  test "$(for n in $(named_instances); do instance_status "$n"; done | sort -u)" = Running
run plan $A --detailed-exitcode
expect_rc "plan after recovery: no changes" 0

run destroy $A --yes
expect_rc "destroy after recovery" 0
check "LXD: nothing labelled with the stack is left (no orphan)" test -z "$(labelled_all)"
check "LXD: no instance with the stack's prefix is left" test -z "$(named_instances)"

finish
