"""The one migration path of the analytics schema: apply ``sql/schema.sql`` (idempotent)."""

from __future__ import annotations

from pathlib import Path

from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.pg import transaction

SCHEMA_SQL = Path(__file__).with_name("sql") / "schema.sql"
# Serialises concurrent migrations (several runs of a backfill start at once).
_MIGRATION_LOCK = 7_301_001


def migrate(conn_id: str = ANALYTICS_POSTGRES) -> None:
    with transaction(conn_id) as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        cur.execute(SCHEMA_SQL.read_text())
