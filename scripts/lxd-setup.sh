#!/bin/sh
# lxd-setup.sh - install, start and initialise a local LXD for drover's
# live tests, and import a tiny busybox image under the alias "busybox".
#
# Idempotent: every step checks first and only acts when needed, so it is
# safe to run any number of times (also while LXD is already up).
# Runs as root on Debian 12 without systemd. Networking is loopback only:
# no LXD bridge is ever created; instances get no NIC (tests use proxy
# devices on 127.0.0.1).
#
# Environment:
#   LXD_SOCKET      socket to use (default /var/lib/lxd/unix.socket)
#   LXD_LOG         daemon log (default /var/log/lxd-drover.log)
#   DROVER_IMAGE    image alias (default busybox)
#   LXD_HTTPS_ADDR  loopback HTTPS listener (default 127.0.0.1:8443)
#   LXD_TLS_DIR     test client cert/key and a copy of the server cert
#                   (default /var/lib/lxd-drover-tls)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
SOCK=${LXD_SOCKET:-/var/lib/lxd/unix.socket}
LOG=${LXD_LOG:-/var/log/lxd-drover.log}
ALIAS=${DROVER_IMAGE:-busybox}
HTTPS_ADDR=${LXD_HTTPS_ADDR:-127.0.0.1:8443}
TLS_DIR=${LXD_TLS_DIR:-/var/lib/lxd-drover-tls}

say() { printf 'lxd-setup: %s\n' "$*"; }
die() { printf 'lxd-setup: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

# --- packages ---------------------------------------------------------------
missing=""
command -v lxd >/dev/null 2>&1 || missing="$missing lxd"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
[ -x /bin/busybox ] && dpkg -s busybox-static >/dev/null 2>&1 || missing="$missing busybox-static"
if [ -n "$missing" ]; then
  say "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y $missing >/dev/null 2>&1 || {
    apt-get update >/dev/null 2>&1 || true
    apt-get install -y $missing >/dev/null
  }
else
  say "packages present (lxd, busybox-static, openssl, curl)"
fi

# --- daemon ------------------------------------------------------------------
sock_ok() {
  [ -S "$SOCK" ] && curl -fsS --max-time 5 --unix-socket "$SOCK" http://lxd/1.0 >/dev/null 2>&1
}

if sock_ok; then
  say "daemon already answering on $SOCK"
else
  say "starting lxd (log $LOG)"
  # setsid+nohup: the daemon must outlive this script and its session;
  # daemon-exec: and must not keep our caller's descriptors (a flock).
  setsid nohup "$here/daemon-exec" lxd --group root --logfile "$LOG" </dev/null >>"$LOG" 2>&1 &
fi
lxd waitready --timeout 60 || die "lxd did not become ready; see $LOG"
sock_ok || die "lxd ready but $SOCK does not answer"

# --- init (storage pool + default profile, no network) -----------------------
if lxc storage show default >/dev/null 2>&1; then
  say "storage pool default exists; not re-initialising"
else
  say "lxd init --preseed (dir pool 'default', root disk only, no network)"
  lxd init --preseed <<'EOF'
config: {}
networks: []
storage_pools:
- name: default
  driver: dir
  config: {}
profiles:
- name: default
  description: drover test profile (no network)
  config: {}
  devices:
    root:
      path: /
      pool: default
      type: disk
EOF
fi

# --- busybox image -----------------------------------------------------------
if lxc image alias list --format csv 2>/dev/null | cut -d, -f1 | grep -qx "$ALIAS"; then
  say "image alias $ALIAS exists"
else
  say "building busybox image"
  work=$(mktemp -d /tmp/drover-img.XXXXXX)
  trap 'rm -rf "$work"' EXIT INT TERM
  r=$work/rootfs
  mkdir -p "$r/usr/bin" "$r/usr/sbin" "$r/usr/lib" "$r/usr/lib64" "$r/etc" \
    "$r/dev" "$r/proc" "$r/sys" "$r/tmp" "$r/run" "$r/var/log" "$r/root" \
    "$r/home" "$r/mnt"
  chmod 1777 "$r/tmp"
  ln -s usr/bin "$r/bin"
  ln -s usr/sbin "$r/sbin"
  ln -s usr/lib "$r/lib"
  ln -s usr/lib64 "$r/lib64"
  cp /bin/busybox "$r/usr/bin/busybox"
  for a in $("$r/usr/bin/busybox" --list); do
    [ "$a" = busybox ] && continue
    ln -s busybox "$r/usr/bin/$a"
  done
  ln -s ../bin/busybox "$r/usr/sbin/init"
  cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
munge:x:101:102:munge:/nonexistent:/bin/false
slurm:x:64030:64030:slurm:/nonexistent:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
  # Use the host's ids for slurm and munge when the host has them, so
  # bind-mounted host directories keep their owners.
  for u in munge slurm; do
    if line=$(getent passwd "$u"); then
      sed -i "/^$u:/d" "$r/etc/passwd"
      echo "$line" | awk -F: '{print $1":x:"$3":"$4":"$1":/nonexistent:/bin/false"}' >>"$r/etc/passwd"
    fi
  done
  cat >"$r/etc/group" <<'EOF'
root:x:0:
munge:x:102:
slurm:x:64030:
nogroup:x:65534:
EOF
  for g in munge slurm; do
    if line=$(getent group "$g"); then
      sed -i "/^$g:/d" "$r/etc/group"
      echo "$line" | awk -F: '{print $1":x:"$3":"}' >>"$r/etc/group"
    fi
  done
  cat >"$r/etc/hosts" <<'EOF'
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
EOF
  echo "root:x:0:0:0:99999:7:::" >"$r/etc/shadow"
  chmod 600 "$r/etc/shadow"
  cat >"$r/etc/inittab" <<'EOF'
::sysinit:/bin/ip link set lo up
::respawn:/bin/sleep 2147483647
::ctrlaltdel:/bin/true
::shutdown:/bin/true
EOF
  cat >"$work/metadata.yaml" <<EOF
architecture: $(uname -m)
creation_date: $(date +%s)
properties:
  description: drover busybox test image
  os: busybox
  release: "1.35"
EOF
  (cd "$work" && tar -czf image.tar.gz metadata.yaml rootfs)
  lxc image import "$work/image.tar.gz" --alias "$ALIAS" >/dev/null
  say "imported image $ALIAS ($(lxc image info "$ALIAS" | awk '/^Fingerprint/{print substr($2,1,12)}'))"
fi

# --- HTTPS on loopback, with a trusted client certificate --------------------
# For the provider's TLS path (client cert + server cert pinning). The
# listener is bound to 127.0.0.1 only.
if [ "$(lxc config get core.https_address)" = "" ]; then
  say "LXD HTTPS listener on $HTTPS_ADDR"
  lxc config set core.https_address "$HTTPS_ADDR"
else
  say "LXD HTTPS listener already set ($(lxc config get core.https_address))"
fi
mkdir -p "$TLS_DIR"
chmod 700 "$TLS_DIR"
if [ ! -s "$TLS_DIR/client.crt" ] || [ ! -s "$TLS_DIR/client.key" ]; then
  say "creating test client certificate in $TLS_DIR"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -sha384 \
    -keyout "$TLS_DIR/client.key" -nodes -out "$TLS_DIR/client.crt" -days 3650 \
    -subj "/CN=drover-test" >/dev/null 2>&1
  chmod 600 "$TLS_DIR/client.key"
fi
fp=$(openssl x509 -in "$TLS_DIR/client.crt" -noout -fingerprint -sha256 |
  sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
if curl -fsS --unix-socket "$SOCK" http://lxd/1.0/certificates | grep -q "$fp"; then
  say "test client certificate already trusted"
else
  say "trusting test client certificate"
  lxc config trust add "$TLS_DIR/client.crt" >/dev/null
fi
cp /var/lib/lxd/server.crt "$TLS_DIR/server.crt"

say "ready: socket $SOCK, https://$HTTPS_ADDR (certs in $TLS_DIR), pool default, image $ALIAS"
