"""The job list behind the page: filters, search, whitelisted sorting and paging on ``scraping.jobs``
(every value a parameter; the indexes that keep it fast at 100,000 rows: migration 0003)."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timezone

from callcentre.common.connections import SCRAPING_POSTGRES
from callcentre.common.pg import transaction
from callcentre.scraping.jobs import BadQuery, JobFilter

# The columns the page may sort by (the only SQL built from input). NULL times sort last either way.
SORT_COLUMNS = ("id", "file_name", "uploader", "status", "created_at", "started_at", "completed_at", "total_numbers",
                "processed_numbers", "retry_count")
NULLABLE_SORTS = ("started_at", "completed_at")
MAX_PAGE_SIZE = 200
# Far beyond any real list (100,000 jobs are 2,000 pages of 50) and keeps OFFSET inside bigint.
MAX_PAGE = 1_000_000
MAX_SEARCH_LENGTH = 200
MAX_JOB_ID = 2**63 - 1  # bigint
# Dates PostgreSQL and Python both represent in any time zone (year 1 or 9999 overflow on conversion).
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=timezone.utc), datetime(9000, 1, 1, tzinfo=timezone.utc)
LAST_ERROR_CHARS = 1000  # the list shows the start of an error; the task log has all of it

_COLUMNS = """id, file_name, uploader, status, created_at, started_at, completed_at, total_numbers,
    processed_numbers, rejected_rows, retry_count, max_retries, left(last_error, %(error_chars)s) AS last_error,
    dag_id, airflow_run_id, results_file IS NOT NULL AS has_results"""
_JOB_ID = re.compile(r"^#?\s*(\d{1,18})$")


@dataclasses.dataclass(frozen=True)
class JobQuery(JobFilter):
    """The page's filters (times with a zone; ``created_to`` exclusive), search, sort and page."""

    search: str | None = None  # job id, or part of the file name or the uploader
    sort: str = "created_at"
    descending: bool = True
    page: int = 1
    page_size: int = 50

    def __post_init__(self):
        super().__post_init__()
        if self.sort not in SORT_COLUMNS:
            raise BadQuery(f"sort {self.sort!r} is not one of {', '.join(SORT_COLUMNS)}")
        if not 1 <= self.page <= MAX_PAGE:
            raise BadQuery(f"page must be between 1 and {MAX_PAGE:,}")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise BadQuery(f"page_size {self.page_size} must be between 1 and {MAX_PAGE_SIZE}")
        for name in ("search", "uploader"):
            value = getattr(self, name)
            if value and len(value) > MAX_SEARCH_LENGTH:
                raise BadQuery(f"{name} is longer than {MAX_SEARCH_LENGTH} characters")
            if value and not _printable(value):
                raise BadQuery(f"{name} contains a control character")
        for name in ("created_from", "created_to"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise BadQuery(f"{name} needs a time zone offset (e.g. 2026-11-23T00:00:00+01:00)")
            if value is not None and not EARLIEST <= value <= LATEST:
                raise BadQuery(f"{name} must be between years {EARLIEST.year} and {LATEST.year}")


def _printable(text: str) -> bool:
    """No NUL or other control characters (PostgreSQL text cannot hold NUL), no lone surrogates."""
    return not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000 for c in text)


@dataclasses.dataclass(frozen=True)
class JobPage:
    jobs: list[dict]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def where_clause(query: JobQuery) -> tuple[str, dict]:
    """The WHERE of ``query`` and its parameters."""
    where, params = query.sql()
    term = (query.search or "").strip()
    if term:
        # The term as a literal inside ILIKE: its own %, _ and backslash match only themselves.
        literal = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["pattern"] = f"%{literal}%"
        match = _JOB_ID.match(term)
        if match and int(match.group(1)) <= MAX_JOB_ID:
            params["job_id"] = int(match.group(1))
            if term.startswith("#"):  # "#12": that job only
                where += " AND id = %(job_id)s"
            else:  # "12": job 12, and names containing 12 (file names often hold numbers)
                where += " AND (id = %(job_id)s OR file_name ILIKE %(pattern)s OR uploader ILIKE %(pattern)s)"
        else:
            where += " AND (file_name ILIKE %(pattern)s OR uploader ILIKE %(pattern)s)"
    return f" WHERE {where}", params


def order_clause(query: JobQuery) -> str:
    """ORDER BY the whitelisted column, then id. NULLS LAST only where NULLs exist: on a NOT NULL
    column it would stop PostgreSQL from reading the (ascending) index backwards for DESC."""
    direction = "DESC" if query.descending else "ASC"
    nulls = " NULLS LAST" if query.sort in NULLABLE_SORTS else ""
    tiebreak = "" if query.sort == "id" else f", id {direction}"
    return f" ORDER BY {query.sort} {direction}{nulls}{tiebreak}"  # sort: one of SORT_COLUMNS (JobQuery checked)


def list_jobs(query: JobQuery, conn_id: str = SCRAPING_POSTGRES) -> JobPage:
    """One page of jobs matching ``query`` and the number of all matching jobs."""
    where, params = where_clause(query)
    params.update(error_chars=LAST_ERROR_CHARS, limit=query.page_size,
                  offset=(query.page - 1) * query.page_size)
    with transaction(conn_id) as cur:
        cur.execute("SET LOCAL statement_timeout = '10s'")
        cur.execute(f"SELECT count(*) FROM scraping.jobs{where}", params)
        total = cur.fetchone()[0]
        # The page's ids first (from the index alone where one fits), then their rows: a deep page
        # skips index entries instead of fetching every skipped row.
        order = order_clause(query)
        cur.execute(
            f"""SELECT {_COLUMNS} FROM scraping.jobs JOIN (
                    SELECT id FROM scraping.jobs{where}{order} LIMIT %(limit)s OFFSET %(offset)s
                ) AS page USING (id){order}""",
            params,
        )
        jobs = [dict(zip([d[0] for d in cur.description], row)) for row in cur.fetchall()]
    return JobPage(jobs, total, query.page, query.page_size)
