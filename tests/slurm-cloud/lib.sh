# lib.sh - the Slurm cloud-node test bed (sourced by tests/slurm-cloud/*.sh).
#
# On top of the standard one-node Slurm (scripts/slurm-setup.sh), adds a
# CLOUD partition "cloud" of 4 nodes drvc1..drvc4, each an LXD container
# built by drover's power-save programs from templates/slurm-cloud-nodes.json
# and running the host's slurmd. cloud_restore puts the standard config
# back (scripts/slurm-setup.sh) and deletes every test node's instance.
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/live/jq.sh"
DROVER=${DROVER:-$TOP/drover}
CW=/var/lib/drover-cloud-test           # programs, config, log
CONF=$CW/slurm.json
PLOG=$CW/power.log
SCONF=/etc/slurm/slurm.conf
HOSTNODE=$(hostname -s)
NODES="drvc1 drvc2 drvc3 drvc4"
PORT0=17000                            # drvcN's slurmd listens on PORT0+N

say() { echo "  $(basename "$0" .sh): $*"; }
die() { echo "FAIL: $(basename "$0" .sh): $*"; cloud_debug; exit 1; }
ok() { say "ok: $*"; }

cloud_debug() {
  echo "---- sinfo"; sinfo -N -o '%N %T %E' 2>&1 | head -20
  echo "---- power log"; tail -n 30 "$PLOG" 2>/dev/null
  echo "---- slurmctld log"; grep -Ei 'power|drvc|resume|suspend' /var/log/slurm/slurmctld.log 2>/dev/null | tail -n 25
  echo "---- instances"; lxc list -c ns --format csv 2>/dev/null | grep '^drvc' || true
}

# now: wall-clock seconds with fractions
now() { date +%s.%N; }

# wait_for DEADLINE_SECONDS DESCRIPTION COMMAND...: polls COMMAND until it
# succeeds or the deadline passes (then fails the test).
wait_for() {
  local limit=$1 what=$2 end; shift 2
  end=$(( $(date +%s) + limit ))
  until "$@"; do
    [ "$(date +%s)" -lt "$end" ] || die "timed out after ${limit}s waiting for: $what"
    sleep 0.5
  done
}

node_state() { sinfo -h -N -n "$1" -o %T 2>/dev/null | head -n 1; }
node_reason() { sinfo -h -N -n "$1" -o %E 2>/dev/null | head -n 1; }
instance_exists() { lxc info "$1" >/dev/null 2>&1; }
instance_gone() { ! lxc info "$1" >/dev/null 2>&1; }

# write_conf [VARS_JSON]: the programs' config
write_conf() {
  cat >"$CONF" <<EOF2
{
  "template": "$TOP/templates/slurm-cloud-nodes.json",
  "log": "$PLOG",
  "lock_dir": "$CW/locks",
  "vars": ${1:-{\}},
  "parallelism": 8,
  "grace": ${GRACE:-30},
  "retry_after": ${RETRY_AFTER:-0}
}
EOF2
}

# power_conf BIN SUSPEND_TIME RESUME_TIMEOUT PORT0 NODE...: appends to the
# standard slurm.conf the power-save programs of BIN (resume, suspend,
# resume-fail) and CLOUD nodes NODE... (the Nth on port PORT0+N); the
# caller adds the partition. slurm-setup.sh removes it all.
power_conf() {
  local bin=$1 suspend=$2 resume=$3 port0=$4 i=1 n; shift 4
  cat >>"$SCONF" <<EOF2
# --- drover cloud-node test (tests/slurm-cloud); slurm-setup.sh removes it
SuspendProgram=$bin/suspend
ResumeProgram=$bin/resume
ResumeFailProgram=$bin/resume-fail
SuspendTime=$suspend
SuspendTimeout=30
ResumeTimeout=$resume
ResumeRate=0
SuspendRate=0
SuspendExcNodes=$HOSTNODE
TreeWidth=65533
CommunicationParameters=NoAddrCache
# Powered-down cloud nodes are hidden from sinfo without this.
PrivateData=cloud
EOF2
  for n in "$@"; do
    echo "NodeName=$n NodeAddr=127.0.0.1 Port=$((port0 + i)) CPUs=1 RealMemory=100 State=CLOUD" >>"$SCONF"
    i=$((i + 1))
  done
}

cloud_setup() {
  [ "$(id -u)" = 0 ] || die "needs root"
  mkdir -p "$CW/bin" "$CW/locks"
  # slurmctld runs programs with the hostlist as their only argument; these
  # wrappers add the config. (Installed, the symlinks drover-slurm-* read
  # /etc/drover/slurm.json.)
  for k in resume suspend resume-fail; do
    printf '#!/bin/sh\nexec %s slurm %s --config %s "$@"\n' "$DROVER" "$k" "$CONF" >"$CW/bin/$k"
    chmod 0755 "$CW/bin/$k"
  done
  write_conf
  bash "$TOP/scripts/slurm-node-image.sh" --force >/dev/null || die "cannot build the node image"
  for n in $NODES; do lxc delete -f "$n" >/dev/null 2>&1 || true; done
  : >"$PLOG"
  # The standard config first, then the cloud part on top of it.
  # No SPANK plugin: the nodes see the host's /usr, not the build tree.
  bash "$TOP/scripts/slurm-setup.sh" --no-plugin >/dev/null || die "standard slurm-setup failed"
  power_conf "$CW/bin" "${SUSPEND_TIME:-10}" "${RESUME_TIMEOUT:-90}" "$PORT0" $NODES
  echo "PartitionName=cloud Nodes=drvc[1-4] MaxTime=INFINITE State=UP" >>"$SCONF"
  bash "$TOP/scripts/slurm-setup.sh" --stop >/dev/null
  # Both daemons again, on the extended config.
  slurmctld || die "slurmctld did not start"
  wait_for 20 "slurmctld up" sh -c 'scontrol ping 2>/dev/null | grep -q UP'
  slurmd || die "slurmd did not start"
  wait_for 30 "host node idle" sh -c "sinfo -h -N -n $HOSTNODE -o %T | grep -qx idle"
  wait_for 30 "cloud nodes idle~" sh -c "[ \$(sinfo -h -N -p cloud -o %T | grep -c 'idle~') -eq 4 ]"
}

cloud_restore() {
  scancel -p cloud >/dev/null 2>&1 || true
  for n in $NODES; do lxc delete -f "$n" >/dev/null 2>&1 || true; done
  bash "$TOP/scripts/slurm-setup.sh" >/dev/null
}
