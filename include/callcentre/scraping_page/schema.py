"""The page's indexes on ``scraping.jobs`` are the job table's migration 0003: the page only makes
sure the schema is current, once per process, before its first query."""

from __future__ import annotations

import threading

from callcentre.common.connections import SCRAPING_POSTGRES

_done: set[str] = set()
_lock = threading.Lock()


def migrate(conn_id: str = SCRAPING_POSTGRES) -> None:
    """Bring the job table, with the page's indexes, to this code's version; safe to repeat."""
    from callcentre.scraping.jobs import JobRepository

    JobRepository(conn_id).migrate()


def ensure_migrated(conn_id: str = SCRAPING_POSTGRES) -> None:
    """:func:`migrate` once per process (the page calls it before its first query)."""
    if conn_id in _done:
        return
    with _lock:
        if conn_id not in _done:
            migrate(conn_id)
            _done.add(conn_id)
