"""The page's indexes on ``scraping.jobs`` are the job table's migration 0003: the page only makes
sure the schema is current, once per process, before its first query."""

from __future__ import annotations

import functools

from callcentre.common.connections import SCRAPING_POSTGRES


def migrate(conn_id: str = SCRAPING_POSTGRES) -> None:
    """Bring the job table, with the page's indexes, to this code's version; safe to repeat."""
    from callcentre.scraping.jobs import JobRepository

    JobRepository(conn_id).migrate()


@functools.cache  # a failed migration is not cached: the next request tries again
def ensure_migrated(conn_id: str = SCRAPING_POSTGRES) -> None:
    """:func:`migrate` once per process (two first requests at once may both run it: it is idempotent)."""
    migrate(conn_id)
