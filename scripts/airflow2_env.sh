#!/usr/bin/env bash
# The Airflow 2.11 leg's environment: .local/airflow-af2.env = .local/airflow.env (the same
# MariaDB, PostgreSQL, stand-ins, connections and variables) + its own venv, AIRFLOW_HOME,
# metadata database (airflow_af2 on the same PostgreSQL) and webserver port, and the 2.x settings
# that differ (webserver base URL, REST API /api/v1 with basic auth). Idempotent; run after
# `scripts/services.sh start`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCAL="$ROOT/.local"
# shellcheck disable=SC1091
. "$LOCAL/ports.env"
if [ ! -f "$LOCAL/ports-af2.env" ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  { echo "AIRFLOW2_WEB_PORT=$port"
    echo "AIRFLOW2_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(16))')"; } >"$LOCAL/ports-af2.env"
fi
# shellcheck disable=SC1091
. "$LOCAL/ports-af2.env"

# On our PostgreSQL or the existing one scripts/services.sh was given (as root or through sudo).
"$ROOT/scripts/services.sh" createdb airflow_af2

url="http://127.0.0.1:$AIRFLOW2_WEB_PORT"
cat >"$LOCAL/airflow-af2.env.tmp" <<ENV
# Written by scripts/airflow2_env.sh: the Airflow 2.11 leg.  . .local/airflow-af2.env
. "$LOCAL/airflow.env"
export CALLCENTRE_VENV="$ROOT/.venv-af2"
# The task preload (callcentre.common.task_preload) imports Airflow 3 modules, and [workers] is
# 3.x only: not on this leg.
unset AIRFLOW__SCHEDULER__MP_START_METHOD AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD \
  AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL
export AIRFLOW_HOME="$LOCAL/airflow-af2"
# The 3.3 leg's metadata URLs with the other database (host, port, role as services.sh wrote them).
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="\${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN%/airflow}/airflow_af2"
export AIRFLOW__CELERY__RESULT_BACKEND="\${AIRFLOW__CELERY__RESULT_BACKEND%/airflow}/airflow_af2"
export AIRFLOW__WEBSERVER__WEB_SERVER_HOST=127.0.0.1
export AIRFLOW__WEBSERVER__WEB_SERVER_PORT=$AIRFLOW2_WEB_PORT
export AIRFLOW__WEBSERVER__BASE_URL="$url"
# Read by the scripts' REST client (the 2.x webserver serves the API on the same port).
export AIRFLOW__API__BASE_URL="$url"
export AIRFLOW_HEALTH_PATH=/health
# /api/v1 with a user's login and password (2.x's default backend is session-only).
export AIRFLOW__API__AUTH_BACKENDS=airflow.api.auth.backend.basic_auth,airflow.api.auth.backend.session
# No "mini scheduler" in task processes: after plan it expands load_hour at the same time as
# the backfill command does, and the backfill dies on a StaleDataError (docs/airflow-versions.md).
export AIRFLOW__SCHEDULER__SCHEDULE_AFTER_TASK_EXECUTION=False
# Silences a deprecation warning on every command (the 3.x behaviour).
export AIRFLOW__METRICS__TIMER_UNIT_CONSISTENCY=True
export AIRFLOW__WEBSERVER__SECRET_KEY="$AIRFLOW2_SECRET_KEY"  # the webserver signs sessions with it
ENV
mv "$LOCAL/airflow-af2.env.tmp" "$LOCAL/airflow-af2.env"  # atomic: tests may be sourcing it
mkdir -p "$LOCAL/airflow-af2"
echo "[airflow2-env] wrote $LOCAL/airflow-af2.env (webserver $url, metadata database airflow_af2)"
