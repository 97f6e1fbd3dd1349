#!/bin/bash
# docker-compose.yaml's stand-in only, run once by the MariaDB image on an empty data volume: the
# IVR's `calls` table (the contract's DDL), three days of demo calls, and the ETL's read-only account.
set -euo pipefail
root=(mariadb -uroot "-p$MARIADB_ROOT_PASSWORD")
"${root[@]}" "$MARIADB_DATABASE" </callcentre/source_calls.sql
"${root[@]}" "$MARIADB_DATABASE" </callcentre/seed_calls.sql
# SQL string literal of $1: backslashes and quotes doubled, so any password is safe.
literal() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\'\'}"; }
# Least privilege: the ETL reads `calls` and nothing else (docs/deploy.md).
"${root[@]}" <<SQL
CREATE USER IF NOT EXISTS $(literal "$IVR_DB_USER")@'%' IDENTIFIED BY $(literal "$IVR_ETL_PASSWORD");
GRANT SELECT ON \`${MARIADB_DATABASE}\`.calls TO $(literal "$IVR_DB_USER")@'%';
SQL
