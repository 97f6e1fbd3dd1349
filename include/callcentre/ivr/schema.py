"""The analytics schema's migrations (``sql/migrations/NNNN_*.sql``), applied once per version."""

from __future__ import annotations

from pathlib import Path

from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.migrations import SchemaMigrations

SCHEMA = "analytics"
MIGRATIONS = Path(__file__).with_name("sql") / "migrations"


def analytics_migrations(conn_id: str = ANALYTICS_POSTGRES) -> SchemaMigrations:
    return SchemaMigrations(SCHEMA, MIGRATIONS, conn_id)


def migrate(conn_id: str = ANALYTICS_POSTGRES) -> list[int]:
    """Bring the analytics schema to this code's version: on a current schema one read of
    ``analytics.schema_migrations`` and nothing else (no DDL, no lock on a data table)."""
    return analytics_migrations(conn_id).ensure_current()
