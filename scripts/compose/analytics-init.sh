#!/bin/bash
# docker-compose.yaml's stand-in only, run once by the PostgreSQL image on an empty data volume: the
# database of the scraping job table, owned by the ETL role (`analytics` itself is the container's
# POSTGRES_DB, owned by its POSTGRES_USER). psql quotes the names (:"name"), whatever they hold.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -v db="$SCRAPING_DB_NAME" -v owner="$POSTGRES_USER" <<'SQL'
CREATE DATABASE :"db" OWNER :"owner";
SQL
