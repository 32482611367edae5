#!/usr/bin/env bash
# A throwaway single-node Ceph cluster (one mon, one memstore OSD, radosgw) that
# checks S3 signatures like a real provider does. Everything it writes stays in
# <dir>; nothing goes through systemd or /etc/ceph, so several clusters
# (a long-lived dev one, one per test run) can run side by side.
#
#   rgw.sh start <dir> <port>   start (no-op when already up), write <dir>/env
#   rgw.sh stop <dir>           stop what start started, wait for it to exit
#   rgw.sh env <dir>            print the env file (for eval / source)
#
# Ports: radosgw on <port>, mon msgr2 on <port>+1, mon msgr1 on <port>+2.
set -euo pipefail

# Test-only credentials of a cluster that lives on 127.0.0.1 and holds nothing.
ACCESS_KEY=S3BACKUPTEST
SECRET_KEY=s3backupTestSecretKey0123456789abcdefghi
OTHER_ACCESS_KEY=S3BACKUPOTHER
OTHER_SECRET_KEY=s3backupOtherSecretKey0123456789abcdefgh
REGION=us-east-1
# memstore lives in RAM; a full OSD makes writes hang instead of failing, so leave room:
# the 5 GiB test, with the deletions RGW had not freed yet, filled 8 GiB once (OSD_FULL).
# Only what is written takes RAM.
MEMSTORE_BYTES=$((12 * 1024 * 1024 * 1024))

usage() { echo "usage: $0 start <dir> <port> | stop <dir> | env <dir>" >&2; exit 2; }
log() { echo "[rgw] $*" >&2; }

abspath() { mkdir -p "$1" && (cd "$1" && pwd -P); }

running() { # <pid>; a zombie (no reaping init in some containers) counts as gone
  kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

pid_alive() { # <pidfile>; only our daemon, not whatever reused the pid after a reboot
  local pid
  [[ -s $1 ]] && pid=$(cat "$1") && running "$pid" &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-c $DIR/ceph.conf"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # <seconds> <description> <command...>
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${limit}s waiting for $what (logs in $DIR/log)"
      return 1
    fi
    sleep 0.2
  done
}

cephc() { ceph -c "$DIR/ceph.conf" --connect-timeout 10 "$@"; }

write_conf() {
  local fsid=$1
  cat >"$DIR/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$MON2_PORT,v1:127.0.0.1:$MON1_PORT]
mon initial members = a
public addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
keyring = $DIR/keyring
run dir = $DIR/run
admin socket = $DIR/run/\$cluster-\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
log to stderr = false
err to stderr = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd crush chooseleaf type = 0

[mon]
mon data = $DIR/mon
# Each pool radosgw creates is a paxos round; the default 1 s interval adds ~10 s to the start.
paxos propose interval = 0.05
paxos min wait = 0.01
mon cluster log file = $DIR/log/cluster.log

[osd]
osd data = $DIR/osd
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
osd journal size = 0

[client.rgw.a]
ms mon client mode = crc
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $DIR/rgw
rgw dns name = 127.0.0.1
# Deleted objects are freed by RGW's garbage collector, by default 2 hours
# later: in RAM, a few test runs' deletions would fill the OSD (and a full OSD
# hangs writes). Free them within seconds instead.
rgw gc obj min wait = 2
rgw gc processor period = 5
rgw gc processor max time = 5
EOF
}

write_env() {
  cat >"$DIR/env.tmp" <<EOF
export S3_TEST_ENDPOINT=http://127.0.0.1:$PORT
export S3_TEST_REGION=$REGION
export S3_TEST_ACCESS_KEY_ID=$ACCESS_KEY
export S3_TEST_SECRET_ACCESS_KEY=$SECRET_KEY
export S3_TEST_OTHER_ACCESS_KEY_ID=$OTHER_ACCESS_KEY
export S3_TEST_OTHER_SECRET_ACCESS_KEY=$OTHER_SECRET_KEY
EOF
  mv "$DIR/env.tmp" "$DIR/env"
}

create_user() { # <uid> <access> <secret>
  radosgw-admin -c "$DIR/ceph.conf" user create --uid="$1" --display-name="$1" \
    --access-key="$2" --secret-key="$3" >>"$DIR/log/radosgw-admin.log" 2>&1
}

mon_up() { cephc mon stat >/dev/null 2>&1; }
osd_up() { cephc osd dump 2>/dev/null | grep -q '^osd\.0 up'; }

start() {
  if pid_alive "$DIR/run/client.rgw.a.pid" && port_open "$PORT" && [[ -s $DIR/env ]]; then
    log "already running on 127.0.0.1:$PORT"
    return 0
  fi
  if port_open "$PORT" || port_open "$MON2_PORT" || port_open "$MON1_PORT"; then
    log "port $PORT, $MON2_PORT or $MON1_PORT is already in use"
    return 1
  fi
  stop_all
  # Only the names this script creates: never rm -rf a directory we were handed.
  rm -rf "$DIR/ceph.conf" "$DIR/keyring" "$DIR/monmap" "$DIR/mon" "$DIR/osd" "$DIR/rgw" "$DIR/run" "$DIR/log" "$DIR/env"
  mkdir -p "$DIR/mon" "$DIR/osd" "$DIR/rgw" "$DIR/run" "$DIR/log"

  local fsid osd_uuid t0=$SECONDS
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  write_conf "$fsid"

  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$DIR/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
    --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON2_PORT,v1:127.0.0.1:$MON1_PORT]" \
    "$DIR/monmap" >/dev/null
  ceph-mon -c "$DIR/ceph.conf" -i a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/keyring" \
    >>"$DIR/log/mkfs.log" 2>&1
  ceph-mon -c "$DIR/ceph.conf" -i a >>"$DIR/log/daemons.log" 2>&1
  wait_for 30 "mon" mon_up

  local id
  id=$(cephc osd new "$osd_uuid" 2>>"$DIR/log/mkfs.log")
  [[ $id == 0 ]] || { log "unexpected osd id '$id'"; return 1; }
  ceph-osd -c "$DIR/ceph.conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$DIR/log/mkfs.log" 2>&1
  ceph-osd -c "$DIR/ceph.conf" -i 0 >>"$DIR/log/daemons.log" 2>&1
  wait_for 60 "osd.0 up" osd_up

  # radosgw forks only once it has reached the cluster, so this returns late.
  radosgw -c "$DIR/ceph.conf" -n client.rgw.a >>"$DIR/log/daemons.log" 2>&1
  wait_for 60 "radosgw on port $PORT" port_open "$PORT"

  create_user s3backup-test "$ACCESS_KEY" "$SECRET_KEY"
  create_user s3backup-other "$OTHER_ACCESS_KEY" "$OTHER_SECRET_KEY"
  write_env
  log "up on 127.0.0.1:$PORT in $((SECONDS - t0))s (env: $DIR/env)"
}

stop_all() {
  local name pids=()
  for name in client.rgw.a osd.0 mon.a; do
    local f="$DIR/run/$name.pid"
    if pid_alive "$f"; then
      local pid
      pid=$(cat "$f")
      # Nothing here outlives the cluster (memstore is RAM, start wipes the mon store),
      # so a graceful shutdown (radosgw alone drains ~6 s on TERM) buys nothing.
      kill -KILL "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  # Wait until they are gone, so the ports and the folder are free for the caller.
  local p deadline=$((SECONDS + 30))
  for p in "${pids[@]}"; do
    while running "$p" && ((SECONDS < deadline)); do sleep 0.05; done
  done
}

cmd=${1:-}
[[ -n $cmd && -n ${2:-} ]] || usage
DIR=$(abspath "$2")
case $cmd in
  start)
    PORT=${3:-}
    [[ $PORT =~ ^[0-9]+$ ]] || usage
    MON2_PORT=$((PORT + 1))
    MON1_PORT=$((PORT + 2))
    # A half-started cluster is of no use: take down whatever did start.
    trap 'rc=$?; if ((rc)); then stop_all; fi; exit $rc' EXIT
    start
    ;;
  stop)
    stop_all
    rm -f "$DIR/env"
    ;;
  env)
    cat "$DIR/env"
    ;;
  *) usage ;;
esac
