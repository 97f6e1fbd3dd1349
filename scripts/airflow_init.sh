#!/usr/bin/env bash
# Prepare Airflow's metadata DB (PostgreSQL) and the pools the DAGs use. Safe to run again.
# Expects .local/airflow.env to be sourced.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="${CALLCENTRE_VENV:-$ROOT/.venv}"  # .venv-af2 for the Airflow 2.11 leg (.local/airflow-af2.env)
AIRFLOW="$VENV/bin/airflow"
stamp="$AIRFLOW_HOME/.migrated-$("$VENV/bin/python" -c 'import airflow; print(airflow.__version__)')"
if [ ! -f "$stamp" ]; then
  echo "[airflow-init] migrating the metadata database"
  "$AIRFLOW" db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -n 40 "$AIRFLOW_HOME/db-migrate.log" >&2; exit 1; }
  touch "$stamp"
fi
# Pools cap concurrent load on systems we do not own (see docs/operations.md): the ones of
# deploy/settings.toml, as every deployment creates them.
"$AIRFLOW" pools import "$ROOT/deploy/pools.json" >/dev/null
echo "[airflow-init] metadata DB and pools ready"
