#!/bin/sh
# slurm-node-image.sh - import the LXD image "drover-slurm-node": a busybox
# rootfs whose init brings up loopback, mounts cgroup v1 like the host and
# runs the host's slurmd (from the host's /usr, /etc/slurm and
# /etc/alternatives, shared read-only by templates/slurm-cloud-nodes.json)
# as the node named after the container's hostname.
#
# Idempotent: does nothing when the alias exists (--force rebuilds).
# usage: scripts/slurm-node-image.sh [--alias NAME] [--force]
# Needs root, a running LXD (scripts/lxd-setup.sh) and busybox-static.
set -eu

alias_name=drover-slurm-node
force=no
while [ $# -gt 0 ]; do
  case $1 in
    --alias) alias_name=$2; shift 2 ;;
    --force) force=yes; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "slurm-node-image: unknown argument: $1" >&2; exit 2 ;;
  esac
done
say() { printf 'slurm-node-image: %s\n' "$*"; }

if lxc image alias list --format csv 2>/dev/null | cut -d, -f1 | grep -qx "$alias_name"; then
  [ "$force" = yes ] || { say "image $alias_name exists"; exit 0; }
  lxc image delete "$alias_name"
fi
[ -x /bin/busybox ] || { echo "slurm-node-image: /bin/busybox missing (apt-get install busybox-static)" >&2; exit 1; }

work=$(mktemp -d /tmp/drover-node-img.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
r=$work/rootfs
# The host's /usr is mounted over /usr: busybox lives in /bin, which is a
# real directory here (not the usual symlink into /usr).
mkdir -p "$r/bin" "$r/sbin" "$r/usr" "$r/etc/slurm" "$r/etc/alternatives" "$r/dev" \
  "$r/proc" "$r/sys" "$r/tmp" "$r/run/munge" "$r/var/log/slurm" "$r/var/spool/slurmd" \
  "$r/var/run" "$r/root"
chmod 1777 "$r/tmp"
ln -s usr/lib "$r/lib"
ln -s usr/lib64 "$r/lib64"
cp /bin/busybox "$r/bin/busybox"
for a in $("$r/bin/busybox" --list); do
  [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
done
ln -s ../bin/busybox "$r/sbin/init"
{
  echo "root:x:0:0:root:/root:/bin/sh"
  for u in munge slurm; do
    getent passwd "$u" | awk -F: '{print $1":x:"$3":"$4":"$1":/nonexistent:/bin/false"}'
  done
} >"$r/etc/passwd"
{
  echo "root:x:0:"
  for g in munge slurm; do getent group "$g" | awk -F: '{print $1":x:"$3":"}'; done
} >"$r/etc/group"
echo "root:x:0:0:0:99999:7:::" >"$r/etc/shadow"
chmod 600 "$r/etc/shadow"

cat >"$r/bin/drover-node-boot" <<'BOOT'
#!/bin/sh
# Before slurmd: loopback (and a second address: slurmd's listen-address
# lookup fails with 127.0.0.1 alone), /etc/hosts with our own name, and
# cgroup v1 mounted the way the host has it (slurmd 22.05 refuses hybrid).
ip link set lo up
ip addr add 127.0.0.2/8 dev lo 2>/dev/null
node=$(hostname)
printf '127.0.0.1 localhost\n127.0.0.2 %s\n' "$node" >/etc/hosts
mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
for c in cpuset cpu cpuacct memory devices freezer pids blkio; do
  mkdir -p /sys/fs/cgroup/$c
  mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
done
mkdir -p /sys/fs/cgroup/systemd
mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
mkdir -p /var/spool/slurmd /var/log/slurm /run/slurm
BOOT
chmod 755 "$r/bin/drover-node-boot"
# slurmd -b: the container shares the host's kernel, so its uptime is the
# host's; slurmctld ignores a resumed node whose boot time is older than
# the resume request ("Still waiting for boot"). -b reports the boot at
# slurmd's start.
cat >"$r/etc/inittab" <<'EOF2'
::sysinit:/bin/drover-node-boot
::respawn:/bin/sh -c 'exec /usr/sbin/slurmd -D -b -N "$(hostname)" >>/var/log/slurm/slurmd.out 2>&1'
::ctrlaltdel:/bin/true
::shutdown:/bin/true
EOF2
cat >"$work/metadata.yaml" <<EOF2
architecture: $(uname -m)
creation_date: $(date +%s)
properties:
  description: drover Slurm cloud node (busybox init, host slurmd)
  os: busybox
  release: "1.35"
EOF2
(cd "$work" && tar -czf image.tar.gz metadata.yaml rootfs)
lxc image import "$work/image.tar.gz" --alias "$alias_name" >/dev/null
say "imported $alias_name"
