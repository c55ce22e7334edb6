#!/bin/sh
# spank-overhead.sh - what the drover SPANK plugin costs a Slurm job.
#
#   bench/spank-overhead.sh [--reps N]          (default 30; needs root)
#
# In one run, on the one-node cluster of scripts/slurm-setup.sh:
#  1. unused: median wall time of `srun true` with drover.so left out of
#     plugstack.conf, with a no-op SPANK plugin that only defines empty
#     job_prolog/job_epilog/task_init (built here with cc: what Slurm 22.05
#     charges any plugin with a job_prolog, since slurmd then runs a
#     `slurmstepd spank prolog` process per job), and with drover.so
#     (slurmd restarted in between, a few warm-up runs each).
#     Target: less than 2 ms added over no plugin.
#  2. used: median of `srun --drover=one true` (one busybox container,
#     tests/slurm/templates/one.json: prolog apply, task_init, epilog
#     destroy in the background) against `srun true`, and the prolog's own
#     apply time (from the slurmd log) against a raw
#     `drover apply -y` + `drover destroy -y` of the same template.
# Prints medians and ratios, and whether the unused target was met. Leaves
# the cluster with the plugin loaded (the tests' arguments).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
reps=30
[ "${1:-}" = --reps ] && reps=$2
[ "$(id -u)" = 0 ] || { echo "spank-overhead: needs root" >&2; exit 1; }
so=$top/.libs/drover.so
drover=${DROVER:-$top/drover}
dt=/var/lib/drover-test
args="template_dir=$dt/templates config=$dt/lxd.json"
[ -f "$so" ] && [ -x "$drover" ] || { echo "spank-overhead: build first (make)" >&2; exit 1; }
mkdir -p "$dt/templates"; chmod 0755 "$dt" "$dt/templates"
cp "$top/tests/slurm/templates/one.json" "$dt/templates/one.json"; chmod 0644 "$dt/templates/one.json"
[ -f "$dt/lxd.json" ] || echo '{"lxd": {}}' >"$dt/lxd.json"; chmod 0600 "$dt/lxd.json"
tmp=$(mktemp -d)
trap '"$top/scripts/slurm-setup.sh" --plugin "$so" --args "$args" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
cat >"$tmp/noop.c" <<'EOC'
#include <slurm/spank.h>
SPANK_PLUGIN(noop, 1);
int slurm_spank_job_prolog(spank_t sp, int ac, char **av) { return 0; }
int slurm_spank_job_epilog(spank_t sp, int ac, char **av) { return 0; }
int slurm_spank_task_init(spank_t sp, int ac, char **av) { return 0; }
EOC
${CC:-cc} -shared -fPIC -o "$tmp/noop.so" "$tmp/noop.c"
chmod 0755 "$tmp" "$tmp/noop.so"

now_ns() { date +%s%N; }
# median of the numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
time_cmd() { # reps cmd... -> one ms figure per line
  n=$1; shift; i=0
  while [ $i -lt "$n" ]; do
    t0=$(now_ns); "$@" >/dev/null 2>&1 || { echo "spank-overhead: failed: $*" >&2; exit 1; }
    t1=$(now_ns); echo "$(( (t1 - t0) / 1000 ))" | awk '{printf "%.3f\n", $1/1000}'
    i=$((i + 1))
  done
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a/b; else print "inf" }'; }
wait_idle() { i=0; while [ "$(sinfo -h -N -o %T | head -n1)" != idle ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; }

cd /tmp
echo "spank-overhead: $reps runs each (medians, ms)"
"$top/scripts/slurm-setup.sh" --no-plugin >/dev/null
time_cmd 3 srun true >/dev/null
without=$(time_cmd "$reps" srun true | median)
"$top/scripts/slurm-setup.sh" --plugin "$tmp/noop.so" >/dev/null
time_cmd 3 srun true >/dev/null
noop=$(time_cmd "$reps" srun true | median)
"$top/scripts/slurm-setup.sh" --plugin "$so" --args "$args" >/dev/null
time_cmd 3 srun true >/dev/null
with=$(time_cmd "$reps" srun true | median)
added=$(awk -v a="$with" -v b="$without" 'BEGIN { printf "%.3f", a - b }')

# Used: one container per job. Runs are spaced so each epilog finishes.
ureps=$(( reps < 10 ? reps : 10 ))
# (u, not i: time_cmd and wait_idle use i, and shell variables are global)
used=$(u=0; while [ $u -lt $ureps ]; do wait_idle; time_cmd 1 srun --drover=one true; u=$((u+1)); done | median)
wait_idle
prolog=$(grep -o 'job-[0-9]*-one: applied [0-9]* created.* in [0-9.]*s' /var/log/slurm/slurmd.log | tail -n "$ureps" |
  sed 's/.* in \([0-9.]*\)s/\1/' | awk '{printf "%.3f\n", $1*1000}' | median)
raw_one() {
  t0=$(now_ns)
  "$drover" apply -y --stack bench-spank-raw --provider-config "$dt/lxd.json" "$dt/templates/one.json" >/dev/null 2>&1 ||
    { echo "spank-overhead: raw drover apply failed" >&2; return 1; }
  t1=$(now_ns)
  "$drover" destroy -y --stack bench-spank-raw --provider-config "$dt/lxd.json" >/dev/null 2>&1 || true
  echo "$(( (t1 - t0) / 1000 ))" | awk '{printf "%.3f\n", $1/1000}'
}
raw=$(u=0; while [ $u -lt $ureps ]; do raw_one; u=$((u+1)); done | median)

printf '%-44s %10s\n' "srun true, plugin not loaded" "$without"
printf '%-44s %10s   (ratio %s)\n' "srun true, no-op SPANK plugin (job_prolog)" "$noop" "$(ratio "$noop" "$without")"
printf '%-44s %10s   (ratio %s)\n' "srun true, drover.so loaded (unused)" "$with" "$(ratio "$with" "$without")"
printf '%-44s %10s\n' "  added when unused, vs no plugin" "$added"
printf '%-44s %10s   (ratio %s)\n' "  added when unused, vs no-op plugin" \
  "$(awk -v a="$with" -v b="$noop" 'BEGIN { printf "%.3f", a - b }')" "$(ratio "$with" "$noop")"
printf '%-44s %10s   (ratio %s vs srun true)\n' "srun --drover=one true (1 container)" "$used" "$(ratio "$used" "$with")"
printf '%-44s %10s\n' "  prolog apply (slurmd log)" "$prolog"
printf '%-44s %10s   (prolog/raw %s)\n' "raw drover apply -y, same template" "$raw" "$(ratio "$prolog" "$raw")"
if awk -v a="$added" 'BEGIN { exit !(a < 2) }'; then
  echo "target: < 2 ms added when unused: MET ($added ms)"
else
  echo "target: < 2 ms added when unused: NOT MET ($added ms)"
fi
