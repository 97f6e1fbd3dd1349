#!/usr/bin/env bash
# Local MariaDB (IVR source) and PostgreSQL (analytics, scraping, Airflow metadata) on loopback,
# plus the stand-ins for Slack and the scraping API. Idempotent: running services are reused.
#
#   scripts/services.sh start   install what is missing (scripts/provision.sh), start everything, write
#                               .local/airflow.env (scripts/local_settings.sh, from deploy/settings.toml)
#   scripts/services.sh stop    stop everything this script started (by pid file, never by name)
#   scripts/services.sh status
#   scripts/services.sh stop-one mariadb|postgres    one database server down (outage drills, runbook)
#   scripts/services.sh kill-one mariadb             SIGKILL by its pid file, as a crashed host
#   scripts/services.sh start-one mariadb|postgres   that server up again
#   scripts/services.sh packages                     the apt packages only (= scripts/provision.sh)
#   scripts/services.sh createdb NAME                a database on the PostgreSQL in use
#   scripts/services.sh purge                        stop, then delete .local/ (`make clean`)
#
# Data lives under .local/ (git-ignored). Ports are picked once and kept in .local/ports.env.
# Runs as root or as a user with sudo (apt, the database servers' own users).
#
# Existing servers instead of starting our own (kept in .local/servers.env once given):
#   CALLCENTRE_MARIADB_URL=mysql://USER:PASSWORD@HOST:PORT        an account that may create the
#       database `ivr` and everything in it (the ETL's tests load and delete source rows)
#   CALLCENTRE_POSTGRES_URL=postgresql://USER:PASSWORD@HOST:PORT   a role with CREATEDB (or the
#       databases analytics, scraping, scraping_bench, airflow, airflow_af2 created and owned by it)
# The outage drills (tests/e2e/test_runbook_ivr.py) stop and lock our own MariaDB: they need it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCAL="$ROOT/.local"
VENV_PY="$ROOT/.venv/bin/python"
FAKE_DIR="$LOCAL/fakes"
# The database servers run as the users `mysql` and `postgres`, which must be able to reach their
# data directories. When the checkout sits under a private directory (e.g. /root), their data
# lives under /var/tmp instead, linked from .local/ so everything is still found there.
server_dir() {
  local name=$1 owner=$2 dir="$LOCAL/$1"
  mkdir -p "$LOCAL"
  if [ ! -e "$dir" ] && ! as_root runuser -u "$owner" -- test -x "$LOCAL" 2>/dev/null; then
    local outside="/var/tmp/callcentre-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)/$name"
    mkdir -p "$outside"
    ln -s "$outside" "$dir"
  fi
  readlink -f "$dir"  # the servers get the real path: they cannot traverse .local/ itself
}

# Provisioning (apt packages, as_root) and the settings file (write_env) live apart.
# shellcheck source=scripts/provision.sh
. "$ROOT/scripts/provision.sh"
# shellcheck source=scripts/local_settings.sh
. "$ROOT/scripts/local_settings.sh"
log() { printf '[services] %s\n' "$*"; }


free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }


pg_bin() {
  # Prefer the distribution's versioned binaries; fall back to whatever is on PATH.
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$d" ] && [ -x "$d/$1" ]; then echo "$d/$1"; else command -v "$1"; fi
}

as_postgres() { (cd / && as_root runuser -u postgres -- "$@"); }

ensure_ports() {
  mkdir -p "$LOCAL"
  if [ ! -f "$LOCAL/ports.env" ]; then
    {
      echo "MARIADB_PORT=$(free_port)"
      echo "POSTGRES_PORT=$(free_port)"
      echo "FAKE_SLACK_PORT=$(free_port)"
      echo "FAKE_SCRAPING_API_PORT=$(free_port)"
      echo "AIRFLOW_API_PORT=$(free_port)"
      echo "IVR_DB_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
      echo "PG_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
      echo "SCRAPING_API_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
    } >"$LOCAL/ports.env"
  fi
  # shellcheck disable=SC1091
  . "$LOCAL/ports.env"
  if [ -z "${REDIS_PORT:-}" ]; then  # added later than the others: older .local/ lack it
    REDIS_PORT=$(free_port)
    echo "REDIS_PORT=$REDIS_PORT" >>"$LOCAL/ports.env"
  fi
  external_servers
}

# CALLCENTRE_MARIADB_URL / CALLCENTRE_POSTGRES_URL (see the top): remembered in .local/servers.env,
# they replace our own servers' host, port, user and password.
external_servers() {
  local servers="$LOCAL/servers.env" name
  for name in CALLCENTRE_MARIADB_URL CALLCENTRE_POSTGRES_URL; do
    if [ -n "${!name:-}" ]; then
      touch "$servers"; chmod 600 "$servers"
      grep -v "^$name=" "$servers" >"$servers.tmp" || true
      printf '%s=%s\n' "$name" "${!name}" >>"$servers.tmp"; mv "$servers.tmp" "$servers"
    fi
  done
  # shellcheck disable=SC1090
  if [ -f "$servers" ]; then . "$servers"; fi
  MY_HOST=127.0.0.1; MY_USER=ivr_etl; PG_HOST=127.0.0.1; PG_USER=etl
  if [ -n "${CALLCENTRE_MARIADB_URL:-}" ]; then
    read -r MY_HOST MARIADB_PORT MY_USER IVR_DB_PASSWORD < <(url_parts "$CALLCENTRE_MARIADB_URL" 3306)
  fi
  if [ -n "${CALLCENTRE_POSTGRES_URL:-}" ]; then
    read -r PG_HOST POSTGRES_PORT PG_USER PG_PASSWORD < <(url_parts "$CALLCENTRE_POSTGRES_URL" 5432)
  fi
}

# host port user password of a URL, URL-decoded, one line (a password must not contain spaces).
url_parts() {
  python3 -c 'import sys; from urllib.parse import urlsplit, unquote; u = urlsplit(sys.argv[1])
print(u.hostname, u.port or sys.argv[2], unquote(u.username or ""), unquote(u.password or ""))' "$1" "$2"
}

# Our MariaDB, or the existing one: database `ivr` there.
start_or_use_mariadb() {
  if [ -z "${CALLCENTRE_MARIADB_URL:-}" ]; then start_mariadb; return; fi
  MY_DIR=""
  log "using the existing MariaDB at $MY_HOST:$MARIADB_PORT"
  MYSQL_PWD="$IVR_DB_PASSWORD" mariadb -h "$MY_HOST" -P "$MARIADB_PORT" -u "$MY_USER" \
    -e 'CREATE DATABASE IF NOT EXISTS ivr CHARACTER SET utf8mb4'
}

pg_databases="analytics scraping scraping_bench airflow"  # scraping_bench: `make bench-jobs-page`

start_or_use_postgres() {
  if [ -z "${CALLCENTRE_POSTGRES_URL:-}" ]; then start_postgres; return; fi
  log "using the existing PostgreSQL at $PG_HOST:$POSTGRES_PORT"
  local db
  for db in $pg_databases; do create_database "$db"; done
}

# A database owned by the ETL role, on whichever PostgreSQL is in use (idempotent).
create_database() {
  local db=$1 q
  if [ -n "${CALLCENTRE_POSTGRES_URL:-}" ]; then
    q=(env PGPASSWORD="$PG_PASSWORD" psql -h "$PG_HOST" -p "$POSTGRES_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -qAt)
  else
    PG_DIR=$(readlink -f "$LOCAL/postgres")
    q=(as_postgres "$(command -v psql)" -h "$PG_DIR/run" -p "$POSTGRES_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt)
  fi
  if [ "$("${q[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
    "${q[@]}" -c "CREATE DATABASE $db OWNER $PG_USER"
  fi
}

# The pid in a pid file, read through sudo when the file is the server's (mysql's run directory).
pid_of() { cat "$1" 2>/dev/null || as_root cat "$1" 2>/dev/null; }
# By /proc, not kill -0: a server running as mysql is not ours to signal when we are not root.
alive() { local pid; pid=$(pid_of "$1") && [ -n "$pid" ] && [ -d "/proc/$pid" ]; }

start_mariadb() {
  MY_DIR=$(server_dir mariadb mysql)
  local sock="$MY_DIR/run/mysqld.sock"
  if alive "$MY_DIR/run/mysqld.pid" && as_root mariadb --socket="$sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    log "MariaDB already running on 127.0.0.1:$MARIADB_PORT"
    return
  fi
  as_root mkdir -p "$MY_DIR/data" "$MY_DIR/run" "$MY_DIR/log"
  as_root chown -R mysql:mysql "$MY_DIR"
  if [ ! -d "$MY_DIR/data/mysql" ]; then
    log "initialising MariaDB data directory"
    as_root mariadb-install-db --user=mysql --datadir="$MY_DIR/data" --auth-root-authentication-method=socket \
      --skip-test-db >"$LOCAL/mariadb-install.log" 2>&1
  fi
  log "starting MariaDB on 127.0.0.1:$MARIADB_PORT"
  local mariadbd=/usr/sbin/mariadbd
  [ -x "$mariadbd" ] || mariadbd=$(command -v mariadbd)
  as_root setsid "$mariadbd" --no-defaults --user=mysql --datadir="$MY_DIR/data" --port="$MARIADB_PORT" \
    --bind-address=127.0.0.1 --socket="$sock" --pid-file="$MY_DIR/run/mysqld.pid" \
    --log-error="$MY_DIR/log/error.log" --innodb-buffer-pool-size=512M \
    --innodb-flush-log-at-trx-commit=2 --max-connections=200 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 60); do
    as_root mariadb --socket="$sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.5
  done
  as_root mariadb --socket="$sock" -uroot -e 'SELECT 1' >/dev/null || { as_root cat "$MY_DIR/log/error.log" >&2; exit 1; }
  as_root mariadb --socket="$sock" -uroot <<SQL
CREATE DATABASE IF NOT EXISTS ivr CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS 'ivr_etl'@'127.0.0.1' IDENTIFIED BY '$IVR_DB_PASSWORD';
CREATE USER IF NOT EXISTS 'ivr_etl'@'localhost' IDENTIFIED BY '$IVR_DB_PASSWORD';
GRANT ALL PRIVILEGES ON ivr.* TO 'ivr_etl'@'127.0.0.1';
GRANT ALL PRIVILEGES ON ivr.* TO 'ivr_etl'@'localhost';
-- PROCESS + CONNECTION ADMIN let tests observe and kill the ETL's own queries (outage drills).
GRANT PROCESS, CONNECTION ADMIN ON *.* TO 'ivr_etl'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
}

start_postgres() {
  PG_DIR=$(server_dir postgres postgres)
  local initdb pg_ctl psql
  initdb=$(pg_bin initdb); pg_ctl=$(pg_bin pg_ctl); psql=$(command -v psql)
  as_root mkdir -p "$PG_DIR/run" "$PG_DIR/log"
  as_root chown postgres:postgres "$PG_DIR" "$PG_DIR/run" "$PG_DIR/log"
  if ! as_root test -f "$PG_DIR/data/PG_VERSION"; then
    log "initialising PostgreSQL data directory"
    as_root mkdir -p "$PG_DIR/data"; as_root chown postgres:postgres "$PG_DIR/data"; as_root chmod 700 "$PG_DIR/data"
    as_postgres "$initdb" -D "$PG_DIR/data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$LOCAL/postgres-initdb.log" 2>&1
  fi
  if as_postgres "$pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
    log "PostgreSQL already running on 127.0.0.1:$POSTGRES_PORT"
  else
    log "starting PostgreSQL on 127.0.0.1:$POSTGRES_PORT"
    # setsid: the server gets its own process group, so a Ctrl-C in this shell never reaches it.
    as_postgres setsid "$pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log/postgres.log" -w -t 60 \
      -o "-p $POSTGRES_PORT -k $PG_DIR/run -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB -c synchronous_commit=off -c fsync=off -c full_page_writes=off" \
      start >/dev/null
  fi
  local q=(as_postgres "$psql" -h "$PG_DIR/run" -p "$POSTGRES_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt)
  "${q[@]}" -c "DO \$\$BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'etl') THEN
        CREATE ROLE etl LOGIN PASSWORD '$PG_PASSWORD';
      END IF; END\$\$;"
  local db
  for db in $pg_databases; do create_database "$db"; done
}

# Redis: the CeleryExecutor's broker (`make airflow EXECUTOR=celery`, tests/e2e/test_celery_*).
# Queue state only (the result backend is the metadata PostgreSQL), so nothing is persisted.
start_redis() {
  local dir="$LOCAL/redis"
  mkdir -p "$dir"
  if alive "$dir/redis.pid" && redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    log "Redis already running on 127.0.0.1:$REDIS_PORT"
    return
  fi
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  setsid redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$dir" --save '' --appendonly no \
    --protected-mode yes --logfile "$dir/redis.log" </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/redis.pid"
  for _ in $(seq 1 40); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && return
    sleep 0.25
  done
  cat "$dir/redis.log" >&2; exit 1
}

start_fake() {
  # $1 name, $2 module, $3 port
  local pidfile="$FAKE_DIR/$1.pid"
  mkdir -p "$FAKE_DIR"
  if alive "$pidfile"; then log "$1 already running on 127.0.0.1:$3"; return; fi
  log "starting $1 on 127.0.0.1:$3"
  setsid "$VENV_PY" -m "$2" --port "$3" --record "$FAKE_DIR/$1.jsonl" \
    </dev/null >>"$FAKE_DIR/$1.log" 2>&1 &
  echo $! >"$pidfile"
}


stop_mariadb() {
  local sig=${1:-TERM} pid
  alive "$MY_DIR/run/mysqld.pid" || return 0
  pid=$(pid_of "$MY_DIR/run/mysqld.pid")
  as_root kill "-$sig" "$pid"
  for _ in $(seq 1 60); do [ -d "/proc/$pid" ] || break; sleep 0.5; done
}

stop_postgres() {
  as_root test -f "$PG_DIR/data/PG_VERSION" || return 0
  as_postgres "$(pg_bin pg_ctl)" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
}

stop_all() {
  ensure_ports
  MY_DIR=$(readlink -f "$LOCAL/mariadb"); PG_DIR=$(readlink -f "$LOCAL/postgres")
  for f in "$FAKE_DIR"/*.pid "$LOCAL/redis/redis.pid"; do
    [ -f "$f" ] || continue
    if alive "$f"; then kill -TERM -- "-$(cat "$f")" 2>/dev/null || kill "$(cat "$f")" 2>/dev/null || true; fi
    rm -f "$f"
  done
  stop_postgres
  stop_mariadb
  log "stopped"
}

case "${1:-start}" in
  packages) install_packages ;;
  start)
    install_packages
    ensure_ports
    start_or_use_mariadb
    start_or_use_postgres
    start_redis
    start_fake fake_slack callcentre.fakes.slack_server "$FAKE_SLACK_PORT"
    start_fake fake_scraping_api callcentre.fakes.scraping_api_server "$FAKE_SCRAPING_API_PORT"
    write_env
    ;;
  stop) stop_all ;;
  purge)  # `make clean`: everything stopped, then every file of it (some belong to mysql/postgres)
    stop_all
    outside="/var/tmp/callcentre-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
    as_root rm -rf "$LOCAL" "$outside"
    ;;
  createdb) ensure_ports; create_database "${2:?usage: $0 createdb NAME}" ;;
  status)
    ensure_ports
    MY_DIR=$(readlink -f "$LOCAL/mariadb"); PG_DIR=$(readlink -f "$LOCAL/postgres")
    alive "$MY_DIR/run/mysqld.pid" && log "MariaDB up on $MARIADB_PORT" || log "MariaDB down"
    as_postgres "$(pg_bin pg_ctl)" -D "$PG_DIR/data" status >/dev/null 2>&1 && log "PostgreSQL up on $POSTGRES_PORT" || log "PostgreSQL down"
    ;;
  stop-one|kill-one|start-one)
    ensure_ports
    MY_DIR=$(readlink -f "$LOCAL/mariadb"); PG_DIR=$(readlink -f "$LOCAL/postgres")
    case "$1:${2:-}" in
      stop-one:mariadb) stop_mariadb TERM ;;
      kill-one:mariadb) stop_mariadb KILL ;;
      stop-one:postgres) stop_postgres ;;
      start-one:mariadb) start_mariadb ;;
      start-one:postgres) start_postgres ;;
      *) echo "usage: $0 stop-one|start-one mariadb|postgres, kill-one mariadb" >&2; exit 2 ;;
    esac
    log "$1 $2 done"
    ;;
  *) echo "usage: $0 start|stop|status|stop-one|kill-one|start-one" >&2; exit 2 ;;
esac
