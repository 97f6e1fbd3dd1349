"""The page's indexes on ``scraping.jobs``: idempotent DDL run after the job table's own migration,
under the same advisory lock."""

from __future__ import annotations

import logging
import threading

from callcentre.common.connections import SCRAPING_POSTGRES

log = logging.getLogger(__name__)

# Sorting/paging by creation (the default view), optionally within one status or one uploader.
INDEXES = """
CREATE INDEX IF NOT EXISTS jobs_page_created_idx ON scraping.jobs (created_at, id);
CREATE INDEX IF NOT EXISTS jobs_page_status_created_idx ON scraping.jobs (status, created_at, id);
CREATE INDEX IF NOT EXISTS jobs_page_uploader_created_idx ON scraping.jobs (uploader, created_at, id);
"""
# Substring search (ILIKE '%term%') on file name and uploader; pg_trgm is a trusted extension
# (PostgreSQL 13+), so the database owner may create it. Without it search still works, by scan.
TRIGRAM = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS jobs_page_file_name_trgm ON scraping.jobs USING gin (file_name gin_trgm_ops);
CREATE INDEX IF NOT EXISTS jobs_page_uploader_trgm ON scraping.jobs USING gin (uploader gin_trgm_ops);
"""

_done: set[str] = set()
_lock = threading.Lock()


def migrate(conn_id: str = SCRAPING_POSTGRES) -> None:
    """Create the job table (its own migration) and then the page's indexes; safe to repeat."""
    from callcentre.common.pg import transaction
    from callcentre.scraping.jobs import JobRepository

    JobRepository(conn_id).migrate()
    with transaction(conn_id) as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('scraping.jobs migration'))")
        cur.execute(INDEXES)
    try:
        with transaction(conn_id) as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('scraping.jobs migration'))")
            cur.execute(TRIGRAM)
    except Exception as err:  # noqa: BLE001 - a missing extension only makes search slower
        log.warning("scraping jobs page: no trigram indexes (%s); search scans the table", type(err).__name__)


def ensure_migrated(conn_id: str = SCRAPING_POSTGRES) -> None:
    """:func:`migrate` once per process (the page calls it before its first query)."""
    if conn_id in _done:
        return
    with _lock:
        if conn_id not in _done:
            migrate(conn_id)
            _done.add(conn_id)
