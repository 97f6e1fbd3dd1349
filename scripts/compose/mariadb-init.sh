#!/bin/bash
# docker-compose.yaml only, run once by the MariaDB image on an empty data volume: the IVR's
# `calls` table (the contract's DDL), three days of demo calls, and the ETL's read-only account.
set -euo pipefail
root=(mariadb -uroot "-p$MARIADB_ROOT_PASSWORD")
"${root[@]}" "$MARIADB_DATABASE" </callcentre/source_calls.sql
"${root[@]}" "$MARIADB_DATABASE" </callcentre/seed_calls.sql
# Least privilege: the ETL reads `calls` and nothing else (docs/deploy.md).
"${root[@]}" <<SQL
CREATE USER IF NOT EXISTS 'ivr_etl'@'%' IDENTIFIED BY '${IVR_ETL_PASSWORD}';
GRANT SELECT ON \`${MARIADB_DATABASE}\`.calls TO 'ivr_etl'@'%';
SQL
