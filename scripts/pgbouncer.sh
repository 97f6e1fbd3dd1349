#!/usr/bin/env bash
# A PgBouncer in transaction mode on loopback, in front of one database of the local PostgreSQL:
# what tests/integration/test_ivr_pooler.py runs the hour loads through.
#
#   PGBOUNCER_TARGET=host:port/db PGBOUNCER_USER=u PGBOUNCER_PASSWORD=p scripts/pgbouncer.sh start
#       install the Debian package if missing, start (or reuse) it; prints its port
#   scripts/pgbouncer.sh stop      stop the one this script started (by its pid file)
#
# Config, pid file and log live under .local/pgbouncer/ (git-ignored); the password only in its
# userlist (mode 600). Pool size 2: sessions share backends, as in production behind a pooler.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCAL="$ROOT/.local"
RUN_AS=postgres  # PgBouncer refuses to run as root

log() { printf '[pgbouncer] %s\n' "$*" >&2; }

state_dir() {
  # The same rule as services.sh: under a private checkout, the server user's files live in /var/tmp.
  local dir="$LOCAL/pgbouncer"
  mkdir -p "$LOCAL"
  if [ ! -e "$dir" ] && [ "$(id -u)" = 0 ] && ! runuser -u "$RUN_AS" -- test -x "$LOCAL" 2>/dev/null; then
    local outside="/var/tmp/callcentre-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)/pgbouncer"
    mkdir -p "$outside"
    ln -s "$outside" "$dir"
  fi
  mkdir -p "$dir"
  readlink -f "$dir"
}

binary() { command -v pgbouncer 2>/dev/null || { [ -x /usr/sbin/pgbouncer ] && echo /usr/sbin/pgbouncer; }; }

install() {
  [ -n "$(binary)" ] && return
  log "installing the Debian package pgbouncer"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends pgbouncer >/dev/null
  # The package's own service is not ours to run.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now pgbouncer >/dev/null 2>&1 || true; fi
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() {
  : "${PGBOUNCER_TARGET:?host:port/db}" "${PGBOUNCER_USER:?}" "${PGBOUNCER_PASSWORD:?}"
  install
  local dir pid port target_host target_port db
  dir=$(state_dir)
  pid="$dir/pgbouncer.pid"
  if alive "$pid" && [ -f "$dir/port" ]; then cat "$dir/port"; return; fi
  port=$(free_port)
  target_host=${PGBOUNCER_TARGET%%:*}
  target_port=${PGBOUNCER_TARGET#*:}; target_port=${target_port%%/*}
  db=${PGBOUNCER_TARGET#*/}
  umask 077
  printf '"%s" "%s"\n' "$PGBOUNCER_USER" "$PGBOUNCER_PASSWORD" >"$dir/userlist.txt"
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
$db = host=$target_host port=$target_port dbname=$db

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 100
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = $dir/pgbouncer.log
pidfile = $pid
INI
  [ "$(id -u)" = 0 ] && chown -R "$RUN_AS" "$dir"
  local as=()
  [ "$(id -u)" = 0 ] && as=(-u "$RUN_AS")
  "$(binary)" -d "${as[@]}" "$dir/pgbouncer.ini"
  for _ in $(seq 1 100); do
    alive "$pid" && python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
    sleep 0.1
  done
  alive "$pid" || { tail -n 20 "$dir/pgbouncer.log" >&2; exit 1; }
  echo "$port" >"$dir/port"
  log "listening on 127.0.0.1:$port (transaction pooling) for $db"
  echo "$port"
}

stop() {
  local dir pid
  dir=$(state_dir)
  pid="$dir/pgbouncer.pid"
  if alive "$pid"; then
    kill "$(cat "$pid")"
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
    log "stopped"
  fi
  rm -f "$pid" "$dir/port"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
