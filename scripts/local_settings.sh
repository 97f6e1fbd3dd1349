# The local harness's settings: .local/airflow.env, which every test, demo and airflow command
# sources. What deployments share comes from deploy/settings.toml, rendered by
# `python3 deploy/settings.py local-env .local/site.env` from this machine's hosts, ports and
# passwords; only what belongs to this checkout (paths, the api-server's port, the stand-ins'
# records) is written here. Sourced by scripts/services.sh once the servers' settings are known.

write_env() {
  local env="$LOCAL/airflow.env" site="$LOCAL/site.env"
  local tz="${IVR_TIMEZONE:-UTC}"
  (umask 077; cat >"$site" <<EOF
IVR_TIMEZONE=$tz
IVR_DB_HOST=$MY_HOST
IVR_DB_PORT=$MARIADB_PORT
IVR_DB_USER=$MY_USER
IVR_ETL_PASSWORD=$IVR_DB_PASSWORD
ANALYTICS_DB_HOST=$PG_HOST
ANALYTICS_DB_PORT=$POSTGRES_PORT
ANALYTICS_DB_USER=$PG_USER
ANALYTICS_DB_PASSWORD=$PG_PASSWORD
ANALYTICS_DB_NAME=analytics
SCRAPING_DB_NAME=scraping
AIRFLOW_DB_HOST=$PG_HOST
AIRFLOW_DB_PORT=$POSTGRES_PORT
AIRFLOW_DB_USER=$PG_USER
AIRFLOW_DB_PASSWORD=$PG_PASSWORD
AIRFLOW_DB_NAME=airflow
REDIS_HOST=127.0.0.1
REDIS_PORT=$REDIS_PORT
AIRFLOW_BASE_URL=http://127.0.0.1:$AIRFLOW_API_PORT
SLACK_WEBHOOK_URL=http://127.0.0.1:$FAKE_SLACK_PORT/services/T000/B000/local
SCRAPING_API_HOST=127.0.0.1
SCRAPING_API_PORT=$FAKE_SCRAPING_API_PORT
SCRAPING_API_SCHEME=http
SCRAPING_API_TOKEN=$SCRAPING_API_TOKEN
STATSD_ON=False
STATSD_HOST=127.0.0.1
STATSD_PORT=8125
EOF
  )
  # Written aside and renamed: whoever sources the file meanwhile reads the old one or the new one.
  {
    echo "# Written by scripts/local_settings.sh; source it before any airflow command:  . .local/airflow.env"
    echo "# From deploy/settings.toml ([airflow], [local], [env], [connections]):"
    python3 "$ROOT/deploy/settings.py" local-env "$site"
    cat <<EOF
# This checkout's own:
export AIRFLOW_HOME="$LOCAL/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT=$AIRFLOW_API_PORT
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=False
# Each task process imports our modules and the DAG file anew: from cached bytecode, not compiled
# from source; container images often set this variable.
unset PYTHONDONTWRITEBYTECODE
export AIRFLOW_VAR_SCRAPING_UPLOADS_DIR="$LOCAL/uploads"
export AIRFLOW_VAR_SCRAPING_RESULTS_DIR="$LOCAL/results"
# For scripts and tests: where the local services and their records are.
export CALLCENTRE_LOCAL_DIR="$LOCAL"
export CALLCENTRE_MARIADB_SOCKET="${MY_DIR:+$MY_DIR/run/mysqld.sock}"
export CALLCENTRE_FAKE_SLACK_RECORD="$FAKE_DIR/fake_slack.jsonl"
EOF
  } >"$env.tmp"
  mv "$env.tmp" "$env"
  mkdir -p "$LOCAL/airflow" "$LOCAL/uploads" "$LOCAL/results"
  log "wrote $env"
}
