"""The analytics schema's migrations (``sql/migrations/NNNN_*.sql``), applied once per version."""

from __future__ import annotations

import logging
import os
from datetime import date, timedelta
from pathlib import Path

from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.migrations import SchemaMigrations
from callcentre.common.pg import transaction

log = logging.getLogger(__name__)

SCHEMA = "analytics"
MIGRATIONS = Path(__file__).with_name("sql") / "migrations"


def analytics_migrations() -> SchemaMigrations:
    return SchemaMigrations(SCHEMA, MIGRATIONS, ANALYTICS_POSTGRES)


def migrate() -> list[int]:
    """Bring the analytics schema to this code's version: on a current schema one read of
    ``analytics.schema_migrations`` and nothing else (no DDL, no lock on a data table)."""
    return analytics_migrations().ensure_current()


# Days of calls and rejects kept (IVR_RETENTION_DAYS; unset or empty: kept for ever). Whole month
# partitions go, once every day of the month is older than that; daily_metrics stays.
RETENTION_SETTING = "IVR_RETENTION_DAYS"


def retention_cutoff(today: date) -> date | None:
    """The first day kept, or None when retention is off (the default)."""
    raw = (os.environ.get(RETENTION_SETTING) or "").strip()
    if not raw:
        return None
    try:
        days = int(raw)
    except ValueError:
        days = 0
    if days < 1:
        raise ValueError(f"{RETENTION_SETTING}={raw!r} is not a whole number of days >= 1 (unset: keep everything)")
    return today - timedelta(days=days)


def apply_retention(today: date, schema: str = SCHEMA) -> list[str]:
    """Detach and drop the month partitions of analytics.calls and call_rejects older than the
    retention (nothing when it is off); the partitions dropped."""
    cutoff = retention_cutoff(today)
    if cutoff is None:
        return []
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(f"SELECT {schema}.drop_partitions_before(%s)", (cutoff,))
        dropped = [name for (name,) in cur.fetchall()]
    if dropped:
        log.info("retention (%s): dropped %s, everything before %s", RETENTION_SETTING, dropped, cutoff)
    return dropped
