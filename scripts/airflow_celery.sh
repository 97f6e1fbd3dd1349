#!/usr/bin/env bash
# `make airflow EXECUTOR=celery WORKERS=N`: the same stack as `make airflow`, with the CeleryExecutor:
# api-server, scheduler, dag-processor, triggerer and N `airflow celery worker` processes, Redis
# (started by scripts/services.sh) as the broker, the result backend on the metadata PostgreSQL.
# Every component runs in its own process group; Ctrl-C (or any exit of this script) stops them all.
# Each worker gets its own hostname, log-server port and working directory, as on separate hosts
# (they still share .local/: the uploads/results storage and the logs folder).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORKERS=${1:-2}
export PATH="$ROOT/.venv/bin:$PATH"
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
export AIRFLOW__CORE__HOSTNAME_CALLABLE=callcentre.common.hostname.worker_hostname
logs="$AIRFLOW_HOME/celery-stack"
mkdir -p "$logs"
pgids=()
start() {  # name, then the command
  local name=$1; shift
  setsid "$@" >"$logs/$name.log" 2>&1 &
  pgids+=("$!")
  echo "[airflow] $name: pgid $! (log: $logs/$name.log)"
}
stop() {
  local g
  for g in "${pgids[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  sleep 5
  for g in "${pgids[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
}
trap stop EXIT
trap 'exit 130' INT TERM

airflow dags reserialize >/dev/null 2>&1
start api-server airflow api-server --host 127.0.0.1 --port "$AIRFLOW__API__PORT" --workers 1
start scheduler airflow scheduler
start dag-processor airflow dag-processor
start triggerer airflow triggerer
for i in $(seq 1 "$WORKERS"); do
  dir="$logs/worker$i"
  mkdir -p "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  start "worker$i" env -C "$dir" CALLCENTRE_WORKER_HOSTNAME="worker$i" AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$port" \
    airflow celery worker --celery-hostname "worker$i@%h" \
    --queues "${CELERY_QUEUES:-default,${IVR_LOAD_QUEUE:-ivr}}" --concurrency "${WORKER_CONCURRENCY:-4}"
done
up=no
for _ in $(seq 1 120); do
  curl -fsS "$AIRFLOW__API__BASE_URL/api/v2/monitor/health" >/dev/null 2>&1 && { up=yes; break; }
  sleep 1
done
[ "$up" = yes ] || { echo "[airflow] api-server did not come up; see $logs/api-server.log" >&2; exit 1; }
echo "[airflow] UI: $AIRFLOW__API__BASE_URL   user: admin   password: $(cat "$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated" 2>/dev/null)"
echo "[airflow] CeleryExecutor, $WORKERS workers. Ctrl-C stops every Airflow process started here."
wait
