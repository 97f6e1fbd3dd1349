#!/usr/bin/env bash
# Provisioning: the apt packages the project needs (build prerequisites of the virtualenvs, the
# database servers unless existing ones are given, Chromium for the page tests, Redis, PgBouncer).
# Idempotent: installs only what is missing. Run directly (`make install` does), or sourced by
# scripts/services.sh for `as_root` and `install_packages`.
set -euo pipefail

log() { printf '[provision] %s\n' "$*"; }

# Root's part of the work (apt, the servers' data directories, running as mysql/postgres).
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "[services] needs root for: $*; run as root or install sudo" >&2; exit 1
  fi
}

install_packages() {
  local missing=() pkg
  # Build prerequisites of the virtualenvs (mysqlclient has no Linux wheel: it compiles).
  for pkg in python3-venv python3-dev gcc libmariadb-dev pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  command -v mariadb >/dev/null 2>&1 || missing+=(mariadb-client)
  if [ -z "${CALLCENTRE_MARIADB_URL:-}" ]; then
    command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
  fi
  if [ -z "${CALLCENTRE_POSTGRES_URL:-}" ]; then
    command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  fi
  command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
  command -v curl >/dev/null 2>&1 || missing+=(curl)  # the scheduler liveness unit (tests/e2e/test_systemd_replay.py)
  # The jobs page's browser test: headless Debian Chromium driven by Selenium.
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)  # the Celery broker
  [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)  # the pooler tests (scripts/pgbouncer.sh)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing apt packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  install_packages
fi
