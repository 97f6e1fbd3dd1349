#!/usr/bin/env bash
# `make airflow`: scheduler, dag-processor, triggerer and api-server on the local services.
# Airflow forks workers and children: it runs in its own process group, and Ctrl-C (or any exit
# of this script) stops that whole group, so nothing is left behind.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# standalone starts its components as `airflow ...`; CALLCENTRE_VENV: the 2.11 leg's .venv-af2.
export PATH="${CALLCENTRE_VENV:-$ROOT/.venv}/bin:$PATH"
log="$AIRFLOW_HOME/standalone.log"
setsid airflow standalone >"$log" 2>&1 &
pgid=$!
stop() { kill -TERM -- "-$pgid" 2>/dev/null || true; sleep 3; kill -KILL -- "-$pgid" 2>/dev/null || true; }
trap stop EXIT
trap 'exit 130' INT TERM  # exit runs the EXIT trap, which stops the group
echo "[airflow] starting (log: $log)"
up=no
for _ in $(seq 1 120); do
  curl -fsS "$AIRFLOW__API__BASE_URL${AIRFLOW_HEALTH_PATH:-/api/v2/monitor/health}" >/dev/null 2>&1 && { up=yes; break; }
  kill -0 "$pgid" 2>/dev/null || break
  sleep 1
done
[ "$up" = yes ] || { echo "[airflow] did not come up; see $log" >&2; tail -n 30 "$log" >&2; exit 1; }
echo "[airflow] UI: $AIRFLOW__API__BASE_URL   user: admin"
echo "[airflow] password: $(cat "$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated" 2>/dev/null \
  || cat "$AIRFLOW_HOME/standalone_admin_password.txt" 2>/dev/null || echo "see $log")"  # 3.x, else 2.x
echo "[airflow] Ctrl-C stops every Airflow process started here."
wait "$pgid"
