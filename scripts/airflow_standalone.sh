#!/usr/bin/env bash
# `make airflow`: scheduler, dag-processor, triggerer and api-server on the local services.
# Airflow forks workers and children: it runs in its own process group, and Ctrl-C (or any exit
# of this script) stops that whole group, so nothing is left behind.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
log="$AIRFLOW_HOME/standalone.log"
setsid "$ROOT/.venv/bin/airflow" standalone >"$log" 2>&1 &
pgid=$!
stop() { kill -TERM -- "-$pgid" 2>/dev/null || true; sleep 3; kill -KILL -- "-$pgid" 2>/dev/null || true; }
trap stop EXIT INT TERM
echo "[airflow] starting (log: $log)"
for _ in $(seq 1 120); do
  curl -fsS "$AIRFLOW__API__BASE_URL/api/v2/monitor/health" >/dev/null 2>&1 && break
  sleep 1
done
echo "[airflow] UI: $AIRFLOW__API__BASE_URL   user: admin"
echo "[airflow] password: $(cat "$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated" 2>/dev/null || echo "see $log")"
echo "[airflow] Ctrl-C stops every Airflow process started here."
wait "$pgid"
