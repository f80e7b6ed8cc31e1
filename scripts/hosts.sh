#!/usr/bin/env bash
# A small network of hosts on one machine, for tests and demos of million-sse
# past one host: N app hosts each running the cluster, one Redis host (a
# master, a replica and three sentinels), one HAProxy host and one load host,
# each a network namespace, joined by veth pairs to a bridge.
#
#   scripts/hosts.sh up N     create it and start everything (root only)
#   scripts/hosts.sh status   one JSON object: where everything is
#   scripts/hosts.sh down     stop everything and remove what `up` made
#
# Addresses are used only inside the namespaces this script creates:
#   10.77.0.2   redis host   master :6379, replica :6380, sentinels :26379-26381
#   10.77.0.3   HAProxy host streams :80, stats and Prometheus :8404
#   10.77.0.4   load host    and 10.77.0.100-10.77.0.131 as source addresses
#   10.77.0.11+ app hosts    the cluster on :5252
# The bridge itself lives in a namespace of its own, so nothing is added to
# the machine's own network. `up` undoes what it made if it fails or is
# interrupted; `down` removes everything, whatever state `up` left.
#
# Environment: MSSE_HOSTS_PREFIX (namespace names, default msse),
# MSSE_HOSTS_STATE (pids, configs and logs, default /run/million-sse-hosts),
# MSSE_HOSTS_WORKERS (workers per app host, default 2), MSSE_HOSTS_LB_PROCESSES
# (HAProxy processes sharing the port, default 1: each carries fewer streams
# than half the per-process open-file limit), MSSE_HOSTS_EHASH (buckets of
# each namespace's own established-connection hash, a power of two; unset:
# the namespaces share the machine's table, see scripts/tune-os.sh), and
# anything the cluster reads (HEARTBEAT_MS, DRAIN_MS, LEASE_MS, ...) is passed
# to each app host.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${MSSE_HOSTS_PREFIX:-msse}
STATE=${MSSE_HOSTS_STATE:-/run/million-sse-hosts}
WORKERS_PER_HOST=${MSSE_HOSTS_WORKERS:-2}
LB_PROCESSES=${MSSE_HOSTS_LB_PROCESSES:-1}
EHASH=${MSSE_HOSTS_EHASH:-}
CHILD_EHASH=/proc/sys/net/ipv4/tcp_child_ehash_entries
CHILD_EHASH_BEFORE=""
NET=10.77.0
SWITCH=$PREFIX-net
REDIS_NS=$PREFIX-redis
LB_NS=$PREFIX-lb
LOAD_NS=$PREFIX-load
REDIS_IP=$NET.2
LB_IP=$NET.3
LOAD_IP=$NET.4
MASTER_NAME=million-sse

die() {
  echo "hosts.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

app_ns() { echo "$PREFIX-app$1"; }
restore_child_ehash() {
  [ -z "$CHILD_EHASH_BEFORE" ] || echo "$CHILD_EHASH_BEFORE" >"$CHILD_EHASH"
  CHILD_EHASH_BEFORE=""
}
app_ip() { echo "$NET.$((10 + $1))"; }
in_ns() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

# Every namespace this prefix names, whether or not `up` finished.
our_namespaces() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$PREFIX-(net|redis|lb|load|app[0-9]+)$" || true
}

require() {
  [ "$(id -u)" = 0 ] || die "must run as root: it creates network namespaces (try sudo)"
  local missing=()
  for tool in ip redis-server redis-sentinel redis-cli haproxy node; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]} (Debian: apt-get install -y iproute2 redis-server redis-sentinel haproxy; Node 24 for node)"
  [ -f "$ROOT/dist/primary.js" ] || die "dist/primary.js is missing: run npm run build first"
}

# A host: a namespace with loopback up, and eth0 on the bridge with its address.
add_host() {
  local ns=$1 ip=$2 index=$3
  ip netns add "$ns"
  ip link add "v$index" netns "$SWITCH" type veth peer name eth0 netns "$ns"
  in_ns "$SWITCH" ip link set "v$index" master br0 up
  in_ns "$ns" ip addr add "$ip/24" dev eth0
  in_ns "$ns" ip link set eth0 up
  in_ns "$ns" ip link set lo up
  # What a host holding many streams needs (scripts/tune-os.sh has the why).
  in_ns "$ns" sysctl -q -w net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
    "net.ipv4.ip_local_port_range=1024 65535" net.ipv4.tcp_migrate_req=1 >/dev/null 2>&1 || true
}

# Runs a command in a namespace, in the background, in its own session so
# that `down` can signal its whole process group; records its pid.
spawn_in() {
  local ns=$1 name=$2
  shift 2
  setsid ip netns exec "$ns" "$@" >"$STATE/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/$name.pid"
}

# Waits for a TCP service to answer, from the load host (bash's /dev/tcp, no other tool).
wait_tcp() {
  local ns=$1 ip=$2 port=$3 what=$4 deadline=$((SECONDS + 30))
  until in_ns "$ns" bash -c "exec 3<>/dev/tcp/$ip/$port" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "$what did not answer on $ip:$port within 30 s (logs in $STATE)"
    sleep 0.2
  done
}

# GET /ping through a raw socket: 0 when the answer is 204.
ping_ok() {
  local ns=$1 ip=$2 port=$3
  in_ns "$ns" bash -c "exec 3<>/dev/tcp/$ip/$port && printf 'GET /ping HTTP/1.0\r\nHost: x\r\n\r\n' >&3 && head -c 12 <&3" 2>/dev/null | grep -q ' 204'
}

wait_ping() {
  local ip=$1 port=$2 what=$3 deadline=$((SECONDS + 60))
  until ping_ok "$LOAD_NS" "$ip" "$port"; do
    [ $SECONDS -lt $deadline ] || die "$what did not answer GET /ping on $ip:$port within 60 s (logs in $STATE)"
    sleep 0.3
  done
}

up() {
  local n=${1:-}
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 50 ] || die "up needs the number of app hosts, 1 to 50"
  [[ "$LB_PROCESSES" =~ ^[0-9]+$ ]] && [ "$LB_PROCESSES" -ge 1 ] && [ "$LB_PROCESSES" -le 64 ] || die "MSSE_HOSTS_LB_PROCESSES must be 1 to 64"
  [ -z "$EHASH" ] || { [[ "$EHASH" =~ ^[0-9]+$ ]] && [ "$EHASH" -le 67108864 ]; } || die "MSSE_HOSTS_EHASH must be a number of buckets, at most 67108864"
  [ -z "$EHASH" ] || [ -w "$CHILD_EHASH" ] || die "MSSE_HOSTS_EHASH needs $CHILD_EHASH (Linux 6.1 or later)"
  require
  [ -z "$(our_namespaces)" ] || die "namespaces named $PREFIX-* exist already: run scripts/hosts.sh down first"
  # Whatever happens from here, a failure or Ctrl-C leaves nothing behind.
  trap 'echo "hosts.sh: up failed or was interrupted; removing what it made" >&2; restore_child_ehash; down >/dev/null 2>&1; exit 1' ERR INT TERM
  mkdir -p "$STATE"
  echo "$n" >"$STATE/app-hosts"

  # A namespace takes the size of its own established hash from this setting
  # when it is made: every namespace below gets one, and the machine's is put back.
  if [ -n "$EHASH" ]; then
    CHILD_EHASH_BEFORE=$(cat "$CHILD_EHASH")
    echo "$EHASH" >"$CHILD_EHASH"
  fi

  ip netns add "$SWITCH"
  in_ns "$SWITCH" ip link add br0 type bridge
  in_ns "$SWITCH" ip link set br0 up
  in_ns "$SWITCH" ip link set lo up
  add_host "$REDIS_NS" "$REDIS_IP" 2
  add_host "$LB_NS" "$LB_IP" 3
  add_host "$LOAD_NS" "$LOAD_IP" 4
  for i in $(seq 0 31); do in_ns "$LOAD_NS" ip addr add "$NET.$((100 + i))/24" dev eth0; done
  for k in $(seq 1 "$n"); do add_host "$(app_ns "$k")" "$(app_ip "$k")" "$((10 + k))"; done
  restore_child_ehash

  # Redis: no password inside this private network, so protected mode is off.
  # Each in a folder of its own: a replica's first sync goes through an RDB file.
  local redis_args=(--save '' --appendonly no --protected-mode no --bind "$REDIS_IP")
  mkdir -p "$STATE/redis-6379" "$STATE/redis-6380"
  spawn_in "$REDIS_NS" redis-master redis-server --port 6379 --dir "$STATE/redis-6379" "${redis_args[@]}"
  spawn_in "$REDIS_NS" redis-replica redis-server --port 6380 --replicaof "$REDIS_IP" 6379 --dir "$STATE/redis-6380" "${redis_args[@]}"
  wait_tcp "$LOAD_NS" "$REDIS_IP" 6379 "the Redis master"
  wait_tcp "$LOAD_NS" "$REDIS_IP" 6380 "the Redis replica"
  for s in 1 2 3; do
    # Sentinel rewrites its own file: one each, in the state folder.
    cat >"$STATE/sentinel$s.conf" <<EOF
port $((26378 + s))
bind $REDIS_IP
protected-mode no
dir $STATE
sentinel monitor $MASTER_NAME $REDIS_IP 6379 2
sentinel down-after-milliseconds $MASTER_NAME 1000
sentinel failover-timeout $MASTER_NAME 5000
sentinel parallel-syncs $MASTER_NAME 1
EOF
    spawn_in "$REDIS_NS" "sentinel$s" redis-sentinel "$STATE/sentinel$s.conf"
  done
  for s in 1 2 3; do wait_tcp "$LOAD_NS" "$REDIS_IP" $((26378 + s)) "sentinel $s"; done

  local sentinels="$REDIS_IP:26379,$REDIS_IP:26380,$REDIS_IP:26381"
  for k in $(seq 1 "$n"); do
    # DRAIN_NOTICE_MS: HAProxy checks every second and needs three failures.
    spawn_in "$(app_ns "$k")" "app$k" env HOST=0.0.0.0 PORT=5252 WORKERS="$WORKERS_PER_HOST" HOST_ID="app$k" \
      DRAIN_NOTICE_MS="${DRAIN_NOTICE_MS:-4000}" \
      REDIS_SENTINELS="$sentinels" REDIS_SENTINEL_NAME="$MASTER_NAME" node "$ROOT/dist/primary.js"
  done

  # HAProxy: deploy/haproxy.cfg with this network's addresses, and a maxconn
  # that fits this machine's open-file limit (two descriptors a stream).
  local servers="" lb_maxconn
  for k in $(seq 1 "$n"); do servers+="    server app$k $(app_ip "$k"):5252 check"$'\n'; done
  lb_maxconn=$((($(ulimit -Hn) - 100) / 2))
  SERVERS="$servers" awk -v lb="$LB_IP" -v sock="$STATE/haproxy.sock" -v maxconn="$lb_maxconn" '
    /^    server app[0-9]+ / { next }
    $0 == "    bind :80" { print "    bind " lb ":80"; next }
    $0 == "    bind 127.0.0.1:8404" { print "    bind " lb ":8404"; next }
    {
      sub("stats socket /run/haproxy-million-sse.sock", "stats socket " sock)
      sub("maxconn 1000000", "maxconn " maxconn)
      print
    }
    /^    default-server / { printf "%s", ENVIRON["SERVERS"] }
  ' "$ROOT/deploy/haproxy.cfg" >"$STATE/haproxy.cfg"
  haproxy -c -q -f "$STATE/haproxy.cfg" || die "the generated $STATE/haproxy.cfg is not valid"
  # One process holds at most maxconn streams; more processes share the port
  # (HAProxy binds with SO_REUSEPORT), each with a stats socket of its own.
  local p
  for p in $(seq 1 "$LB_PROCESSES"); do
    if [ "$p" = 1 ]; then
      spawn_in "$LB_NS" haproxy haproxy -db -f "$STATE/haproxy.cfg"
    else
      sed "s#stats socket $STATE/haproxy.sock#stats socket $STATE/haproxy-$p.sock#" "$STATE/haproxy.cfg" >"$STATE/haproxy-$p.cfg"
      spawn_in "$LB_NS" "haproxy-$p" haproxy -db -f "$STATE/haproxy-$p.cfg"
    fi
  done

  for k in $(seq 1 "$n"); do wait_ping "$(app_ip "$k")" 5252 "app host $k"; done
  wait_ping "$LB_IP" 80 "HAProxy"
  trap - ERR INT TERM
  status
}

# The master as the sentinels see it now (it moves on a failover).
current_master() {
  local s
  for s in 26379 26380 26381; do
    local addr
    addr=$(in_ns "$REDIS_NS" redis-cli -h "$REDIS_IP" -p "$s" --raw sentinel get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | paste -sd: -) || continue
    [ -n "$addr" ] && { echo "$addr"; return; }
  done
  echo "$REDIS_IP:6379"
}

status() {
  [ -f "$STATE/app-hosts" ] || die "no network is up (scripts/hosts.sh up N)"
  local n hosts="" k
  n=$(cat "$STATE/app-hosts")
  for k in $(seq 1 "$n"); do hosts+="${hosts:+,}\"$(app_ns "$k")\""; done
  local apps=""
  for k in $(seq 1 "$n"); do apps+="${apps:+,}\"$(app_ip "$k"):5252\""; done
  printf '{"lb":"%s","redis":"%s","hosts":[%s],"lbHost":"%s","redisHost":"%s","loadHost":"%s","apps":[%s],"stats":"%s","sentinels":["%s","%s","%s"],"sentinelMaster":"%s","sources":"%s","state":"%s"}\n' \
    "$LB_IP:80" "$(current_master)" "$hosts" "$LB_NS" "$REDIS_NS" "$LOAD_NS" "$apps" "$LB_IP:8404" \
    "$REDIS_IP:26379" "$REDIS_IP:26380" "$REDIS_IP:26381" "$MASTER_NAME" "$NET.100-$NET.131" "$STATE"
}

down() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  local pidfile pid
  # SIGTERM first: the app hosts drain and take their share of the count away.
  if [ -d "$STATE" ]; then
    for pidfile in "$STATE"/*.pid; do
      [ -e "$pidfile" ] || continue
      pid=$(cat "$pidfile")
      kill -TERM -- "-$pid" 2>/dev/null || true
    done
    local deadline=$((SECONDS + 15))
    for pidfile in "$STATE"/*.pid; do
      [ -e "$pidfile" ] || continue
      pid=$(cat "$pidfile")
      while kill -0 -- "-$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
      kill -KILL -- "-$pid" 2>/dev/null || true
    done
  fi
  # Anything still running in a namespace (a process that left its group) goes too.
  local ns
  for ns in $(our_namespaces); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  for ns in $(our_namespaces); do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$STATE"
  echo '{"down":true}'
}

case "${1:-}" in
  up) up "${2:-}" ;;
  down) down ;;
  status) status ;;
  *) usage ;;
esac
