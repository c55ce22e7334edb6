#!/bin/sh
# deps.sh - install every Debian package drover needs to build and test.
#
# Idempotent: asks dpkg first and only runs apt-get for what is missing;
# runs `apt-get update` at most once, and only when something is missing
# (or when an install fails on a stale package list).
# Debian 12, as root. Never installs Debian's `npm` (it conflicts with the
# nodejs some machines carry from another repository); nothing here needs it.
#
# Usage: scripts/deps.sh [--print]   (--print: list the packages and exit)
set -eu

say() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

# Build: toolchain, autotools, libraries the library links.
PKGS="build-essential autoconf automake libtool pkg-config
  libcurl4-openssl-dev libssl-dev libjansson-dev libxml2-dev"
# Unit tests, sanitizers, valgrind, clang warning build, man page check.
PKGS="$PKGS check valgrind clang libclang-rt-14-dev groff-base man-db"
# Scripts and live tests: the real LXD and its busybox image, HTTP on the socket.
PKGS="$PKGS jq curl ca-certificates git xz-utils openssl lxd busybox-static"
# util-linux/bsdutils: script(1) for the TTY tests; procps: pgrep/ps.
PKGS="$PKGS bsdutils util-linux procps"
# Backups: time zones for schedules and retention (tests use Europe/Berlin
# and America/New_York); sqlite3 for the live database round trip (the
# host's binary, read inside a container through a read-only /usr).
PKGS="$PKGS tzdata sqlite3"
# The SPANK plugin and its live tests: a real one-node Slurm.
PKGS="$PKGS slurm-wlm slurm-client libslurm-dev munge"

if [ "${1:-}" = "--print" ]; then
  echo $PKGS
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get install)"

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=""
for p in $PKGS; do
  installed "$p" || missing="$missing $p"
done

if [ -z "$missing" ]; then
  say "all $(echo $PKGS | wc -w) packages present"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
APT="apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
# Keep maintainer scripts from starting daemons (munged, slurmd, ...): there
# is no init system on these machines, and scripts/*-setup.sh start what the
# tests need, configured for them. Only our own policy file is removed.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# drover deps.sh: no daemon starts during apt-get\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  trap 'rm -f "$POLICY"' EXIT INT TERM
fi

say "missing:$missing"
# Recommends stay on: that is how these packages were seen to work here
# (lxd with lxcfs/apparmor bits, valgrind with libc6-dbg).
# A fresh machine has no package list, or one as old as its image: update
# once, first, unless a list was fetched in the last 6 hours.
fresh=$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -360 2>/dev/null | head -n 1)
updated=no
if [ -z "$fresh" ]; then
  say "apt-get update"
  apt-get update -q || die "apt-get update failed"
  updated=yes
fi
# shellcheck disable=SC2086
if ! $APT install $missing; then
  [ "$updated" = yes ] && die "apt-get install failed"
  say "install failed; apt-get update and retry once"
  apt-get update -q || die "apt-get update failed"
  # shellcheck disable=SC2086
  $APT install $missing || die "apt-get install failed"
fi

still=""
for p in $PKGS; do
  installed "$p" || still="$still $p"
done
[ -z "$still" ] || die "still missing after install:$still"
say "installed:$missing"
