#!/bin/sh
# s3-setup.sh - a local S3 server for the S3 provider's live tests.
#
# npm @20minutes/s3rver, pinned to 4.0.4: it checks SigV4 signatures (the
# plain s3rver accepts any). It ships no launcher, so a one-line run.js
# starts its CLI. Everything lives under $DROVER_S3_HOME (default
# /var/lib/drover-test/s3rver), never in the repository. Listens on
# 127.0.0.1:$DROVER_S3_PORT (default 4568); the key pair is S3RVER/S3RVER.
# Its service endpoint is "localhost", so virtual-hosted requests go to
# <bucket>.s3.localhost:PORT (curl resolves *.localhost to loopback).
#
# Usage: scripts/s3-setup.sh [start|stop|status|env]
#   start   (default) install if needed, start if not running, then check
#           that it answers a signed request and rejects a wrong secret
#   stop    stop the server this script started (by its pid file)
#   status  exit 0 when it is running and answering
#   env     print the variables the live tests read (sh syntax)
# Idempotent: start twice leaves one server; a stale pid file is replaced.
# Needs node >= 20 with npm (this machine kind carries NodeSource's nodejs;
# Debian 12's own nodejs is 18, too old for s3rver 4).
set -eu

VERSION=4.0.4
here=$(cd "$(dirname "$0")" && pwd)
HOME_DIR=${DROVER_S3_HOME:-/var/lib/drover-test/s3rver}
PORT=${DROVER_S3_PORT:-4568}
ADDR=127.0.0.1
DATA=$HOME_DIR/data
PIDFILE=$HOME_DIR/s3rver.pid
LOG=$HOME_DIR/s3rver.log
URL=http://$ADDR:$PORT
BUCKET=drover-ci
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

say() { printf 's3-setup: %s\n' "$*"; }
die() { printf 's3-setup: error: %s\n' "$*" >&2; exit 1; }

running_pid() {
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # The pid must still be our node running our run.js (pids are reused).
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$HOME_DIR/run.js" || return 1
  echo "$pid"
}

# A signed request: 0 when the HTTP status is $2. $1 is the secret.
signed_status() {
  # s3rver wants x-amz-content-sha256, which curl 7.88 does not add itself.
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
           -H "x-amz-content-sha256: $EMPTY_SHA256" \
           --aws-sigv4 "aws:amz:us-east-1:s3" --user "S3RVER:$1" "$URL/" 2>/dev/null) || true
  [ "$code" = "$2" ]
}

answering() {
  signed_status S3RVER 200
}

do_install() {
  command -v node >/dev/null && command -v npm >/dev/null ||
    die "node >= 20 with npm is needed (not Debian 12's nodejs 18); none found"
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || die "node $(node --version) is too old; @20minutes/s3rver $VERSION needs >= 20"
  have=$(node -p "require('$HOME_DIR/node_modules/@20minutes/s3rver/package.json').version" 2>/dev/null || true)
  if [ "$have" != "$VERSION" ]; then
    say "npm install @20minutes/s3rver@$VERSION into $HOME_DIR"
    # A package.json of our own keeps npm from walking up to another one.
    [ -f "$HOME_DIR/package.json" ] ||
      printf '{"name":"drover-test-s3rver","private":true}\n' >"$HOME_DIR/package.json"
    (cd "$HOME_DIR" && npm install --no-audit --no-fund --omit=dev --ignore-scripts \
        --save-exact "@20minutes/s3rver@$VERSION") >"$HOME_DIR/npm.log" 2>&1 ||
      { tail -n 30 "$HOME_DIR/npm.log" >&2; die "npm install failed (log: $HOME_DIR/npm.log)"; }
  fi
  printf "require('@20minutes/s3rver/lib/cli').parseAsync(process.argv)\n" >"$HOME_DIR/run.js.new"
  mv "$HOME_DIR/run.js.new" "$HOME_DIR/run.js"
}

do_start() {
  mkdir -p "$HOME_DIR" "$DATA"
  if pid=$(running_pid); then
    if answering; then
      say "already running (pid $pid) on $URL"
      return 0
    fi
    say "pid $pid does not answer; restarting it"
    do_stop
  fi
  do_install
  if answering; then
    die "something else answers on $URL; set DROVER_S3_PORT"
  fi
  # Paginated ListObjectsV2 in s3rver 4 needs OpenSSL's legacy provider on
  # node 20 (test-env.md). daemon-exec: the server must not inherit the
  # setup lock (fd 9) nor any lock of our caller's.
  NODE_OPTIONS=--openssl-legacy-provider setsid "$here/daemon-exec" node "$HOME_DIR/run.js" \
    -d "$DATA" -a "$ADDR" -p "$PORT" --silent --service-endpoint localhost \
    --configure-bucket "$BUCKET" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  # Wait for it to answer, with a deadline.
  deadline=$(( $(date +%s) + 30 ))
  until answering; do
    running_pid >/dev/null || { tail -n 20 "$LOG" >&2; die "s3rver exited (log: $LOG)"; }
    [ "$(date +%s)" -lt "$deadline" ] || { tail -n 20 "$LOG" >&2; die "s3rver did not answer within 30 s"; }
    sleep 0.2
  done
  say "s3rver $VERSION running (pid $(cat "$PIDFILE")) on $URL, data in $DATA"
}

do_stop() {
  if pid=$(running_pid); then
    kill "$pid"
    deadline=$(( $(date +%s) + 10 ))
    while kill -0 "$pid" 2>/dev/null; do
      [ "$(date +%s)" -lt "$deadline" ] || { kill -9 "$pid" 2>/dev/null || true; break; }
      sleep 0.1
    done
    say "stopped pid $pid"
  else
    say "not running"
  fi
  rm -f "$PIDFILE"
}

case ${1:-start} in
  start)
    command -v curl >/dev/null || die "curl is needed (scripts/deps.sh)"
    mkdir -p "$HOME_DIR"
    # One setup at a time on this machine.
    exec 9>"$HOME_DIR/setup.lock"
    flock -w 300 9 || die "another s3-setup.sh holds $HOME_DIR/setup.lock"
    do_start
    # The server must check signatures: a wrong secret is refused.
    signed_status not-the-secret 403 ||
      die "s3rver on $URL accepted a wrong secret: it cannot test a signer"
    say "checked: signed request 200, wrong secret 403"
    ;;
  stop)
    mkdir -p "$HOME_DIR"
    exec 9>"$HOME_DIR/setup.lock"
    flock -w 60 9 || die "another s3-setup.sh holds $HOME_DIR/setup.lock"
    do_stop
    ;;
  status)
    pid=$(running_pid) && answering && { say "running (pid $pid) on $URL"; exit 0; }
    say "not running"
    exit 1
    ;;
  env)
    echo "DROVER_S3_ENDPOINT=$URL"
    echo "DROVER_S3_REGION=us-east-1"
    echo "DROVER_S3_ACCESS_KEY_ID=S3RVER"
    echo "DROVER_S3_SECRET_ACCESS_KEY=S3RVER"
    ;;
  *)
    die "unknown command: $1 (start|stop|status|env)"
    ;;
esac
