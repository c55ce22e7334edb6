#!/bin/sh
# slurm-setup.sh - a one-node Slurm 22.05 cluster on this machine, with the
# drover SPANK plugin in plugstack.conf. Idempotent: safe to run again; it
# rewrites the config, restarts the daemons it started before (by pid
# file) and resumes a node an earlier run left drained or down.
#
# usage: scripts/slurm-setup.sh [--plugin PATH] [--args "k=v ..."] [--no-plugin]
#                               [--conf-dir DIR] [--stop]
#   --plugin PATH  drover.so to load (default: the build tree's .libs/drover.so)
#   --args ARGS    plugstack arguments (default: $DROVER_SPANK_ARGS, else none)
#   --no-plugin    leave drover out of plugstack.conf (benchmarks)
#   --stop         stop slurmctld and slurmd (by pid file) and exit
#
# Needs root, Debian's slurm-wlm and munge. No systemd is assumed: the
# daemons are started by hand.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
conf_dir=/etc/slurm
plugin="$here/.libs/drover.so"
args=${DROVER_SPANK_ARGS-}
with_plugin=yes
stop=no

while [ $# -gt 0 ]; do
  case $1 in
    --plugin) plugin=$2; shift 2 ;;
    --args) args=$2; shift 2 ;;
    --no-plugin) with_plugin=no; shift ;;
    --conf-dir) conf_dir=$2; shift 2 ;;
    --stop) stop=yes; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "slurm-setup: unknown argument: $1" >&2; exit 2 ;;
  esac
done

say() { echo "slurm-setup: $*"; }
die() { echo "slurm-setup: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
for b in slurmctld slurmd munged sinfo scontrol; do
  command -v "$b" >/dev/null 2>&1 || die "$b not found (apt-get install slurm-wlm munge)"
done

node=$(hostname -s)
# The daemons are started through daemon-exec, so that none keeps a
# descriptor of our caller's (flock /tmp/drover-live.lock) for its life.
daemon=$here/scripts/daemon-exec
ctld_pid=/run/slurmctld.pid
slurmd_pid=/run/slurmd.pid

# Stop a daemon we started earlier, by its pid file only.
stop_daemon() { # name pidfile
  [ -f "$2" ] || return 0
  pid=$(cat "$2" 2>/dev/null || true)
  case $pid in ''|*[!0-9]*) rm -f "$2"; return 0 ;; esac
  if kill -0 "$pid" 2>/dev/null && grep -q "$1" "/proc/$pid/comm" 2>/dev/null; then
    kill "$pid"
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -0 "$pid" 2>/dev/null && { say "$1 ($pid) did not stop; sending KILL"; kill -9 "$pid" || true; }
  fi
  rm -f "$2"
}

if [ "$stop" = yes ]; then
  stop_daemon slurmd "$slurmd_pid"
  stop_daemon slurmctld "$ctld_pid"
  say "stopped"
  exit 0
fi

# --- munge ---------------------------------------------------------------
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
[ -f /etc/munge/munge.key ] || die "/etc/munge/munge.key missing (reinstall munge)"
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "starting munged"
  "$daemon" su -s /bin/sh munge -c /usr/sbin/munged
  i=0
  until munge -n 2>/dev/null | unmunge >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 50 ] || die "munged did not come up"; sleep 0.1
  done
fi

# --- slurm.conf ----------------------------------------------------------
mkdir -p "$conf_dir" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
hw=$(slurmd -C | head -n 1 | sed "s/^NodeName=[^ ]*//")
conf_tmp=$(mktemp "$conf_dir/.slurm.conf.XXXXXX")
cat >"$conf_tmp" <<EOF
# Written by drover scripts/slurm-setup.sh; rerunning it overwrites this file.
ClusterName=$node
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Run the prolog (and so the drover SPANK job_prolog) when the job is
# allocated, on every node, before any step starts.
PrologFlags=Alloc
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$ctld_pid
SlurmdPidFile=$slurmd_pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$conf_dir/plugstack.conf
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MinJobAge=300
InactiveLimit=0
KillWait=5
Waittime=0
NodeName=$node NodeAddr=127.0.0.1$hw State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
chmod 0644 "$conf_tmp"
mv -f "$conf_tmp" "$conf_dir/slurm.conf"

# --- plugstack.conf --------------------------------------------------------
# Our own line lives in plugstack.conf.d/drover.conf; plugstack.conf keeps
# Debian's include line.
mkdir -p "$conf_dir/plugstack.conf.d"
if ! grep -qs "plugstack.conf.d/\*.conf" "$conf_dir/plugstack.conf"; then
  echo "include $conf_dir/plugstack.conf.d/*.conf" >>"$conf_dir/plugstack.conf"
fi
if [ "$with_plugin" = yes ]; then
  [ -f "$plugin" ] || die "$plugin not found: build first (make), or pass --plugin"
  echo "required $plugin${args:+ $args}" >"$conf_dir/plugstack.conf.d/drover.conf.tmp"
  mv -f "$conf_dir/plugstack.conf.d/drover.conf.tmp" "$conf_dir/plugstack.conf.d/drover.conf"
  say "plugstack: required $plugin${args:+ $args}"
else
  rm -f "$conf_dir/plugstack.conf.d/drover.conf"
  say "plugstack: drover not loaded"
fi

# --- daemons -------------------------------------------------------------
# Restart both so they read the new slurm.conf and plugstack.conf (a
# reconfigure does not make slurmd pick up a new job_prolog).
stop_daemon slurmd "$slurmd_pid"
stop_daemon slurmctld "$ctld_pid"
"$daemon" slurmctld
i=0
until scontrol ping 2>/dev/null | grep -q "UP"; do
  i=$((i + 1)); [ $i -lt 100 ] || die "slurmctld did not answer (see /var/log/slurm/slurmctld.log)"; sleep 0.1
done
# slurmd dlopens every plugstack plugin at start and refuses to run if a
# "required" one does not load.
"$daemon" slurmd || die "slurmd did not start: $(tail -n 3 /var/log/slurm/slurmd.log 2>/dev/null | tr '\n' ' ')"

# --- wait for the node -----------------------------------------------------
state() { sinfo -h -N -n "$node" -o %T 2>/dev/null | head -n 1; }
i=0
while :; do
  s=$(state)
  case $s in
    idle|mixed|allocated) break ;;
    *drain*|*down*|*fail*)
      # Left drained or down by an earlier run: give it back.
      say "node $node is $s; resuming"
      scontrol update nodename="$node" state=resume 2>/dev/null ||
        scontrol update nodename="$node" state=idle 2>/dev/null || true ;;
  esac
  i=$((i + 1))
  [ $i -lt 300 ] || die "node $node did not become idle (state: ${s:-unknown}; see /var/log/slurm/slurmd.log)"
  sleep 0.1
done
say "node $node is $(state)"
