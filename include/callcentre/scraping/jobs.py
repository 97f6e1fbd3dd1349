"""The job table (``scraping.jobs``) and its batches: their migrations and a repository.

A job is one uploaded workbook = one run of DAG ``scraping_upload``; its statuses and transitions:
docs/scraping.md, "Status machine". ``retry_count`` counts job-level retries only, ``task_retries``
Airflow's task retries inside one run. Every transition is one conditional UPDATE, so callbacks,
tasks and the reconcile DAG can race without double counting.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from pathlib import Path

from callcentre.common.connections import SCRAPING_POSTGRES
from callcentre.common.migrations import SchemaMigrations
from callcentre.common.pg import transaction

STATUSES = ("pending", "processing", "completed", "failed", "timeout", "retrying")
ACTIVE = ("pending", "processing", "retrying")


def scraping_migrations(conn_id: str = SCRAPING_POSTGRES) -> SchemaMigrations:
    """The scraping schema's numbered migrations (sql/migrations/NNNN_*.sql), each applied once."""
    return SchemaMigrations("scraping", Path(__file__).with_name("sql") / "migrations", conn_id)


# The row of an upload that failed before its file could be read (no content hash yet).
UNREADABLE_UPLOAD_PATH = ""

_JOB_COLUMNS = """id, file_name, upload_path, content_sha256, uploader, status, created_at, updated_at,
    started_at, completed_at, retry_count, max_retries, last_error, total_numbers, processed_numbers,
    rejected_rows, timeout_minutes::float AS timeout_minutes, batch_size, dag_id, airflow_run_id,
    run_clear_number, results_file, alerted_at, failure_kind, task_retries, source_sheet, notify_email,
    COALESCE(started_at, created_at) + timeout_minutes * interval '1 minute' AS deadline"""


def repository(repo: JobRepository | None = None) -> JobRepository:
    """``repo`` (default: the job table's) migrated first: a callback may run before ``register_job``."""
    repo = repo or JobRepository()
    repo.migrate()
    return repo


class JobRepository:
    """All reads and writes of the job table, through connection ``scraping_postgres``."""

    def __init__(self, conn_id: str = SCRAPING_POSTGRES):
        self.conn_id = conn_id

    def _cursor(self):
        return transaction(self.conn_id)

    def _all(self, sql: str, params=()) -> list[dict]:
        with self._cursor() as cur:
            cur.execute(sql, params)
            if not cur.description:
                return []
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def _one(self, sql: str, params=()) -> dict | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _jobs(self, where: str, params=()) -> list[dict]:
        return self._all(f"SELECT {_JOB_COLUMNS} FROM scraping.jobs WHERE {where}", params)

    def _transition(self, assignments: str, where: str, params) -> dict | None:
        """One conditional UPDATE of a job; the row only to the caller whose UPDATE matched."""
        return self._one(
            f"UPDATE scraping.jobs SET {assignments}, updated_at = now() WHERE {where} RETURNING {_JOB_COLUMNS}", params
        )

    def migrate(self) -> None:
        """One read when current, so every entry point calls it."""
        scraping_migrations(self.conn_id).ensure_current()

    def register(self, *, file_name, upload_path, content_sha256, uploader, dag_id, run_id,
                 timeout_minutes, max_retries, batch_size, clear_number=0) -> tuple[dict, bool]:
        """Insert the job of an upload; return ``(job, created)``. The same content never makes two."""
        filled = self._transition(  # the run failed before reading its file, and is now re-run
            """file_name = %s, upload_path = %s, content_sha256 = %s, uploader = %s, timeout_minutes = %s,
               max_retries = %s, batch_size = %s""",
            """dag_id = %s AND airflow_run_id = %s AND upload_path = %s
               AND NOT EXISTS (SELECT 1 FROM scraping.jobs WHERE content_sha256 = %s)""",
            (file_name, upload_path, content_sha256, uploader, timeout_minutes, max_retries, batch_size, dag_id,
             run_id, UNREADABLE_UPLOAD_PATH, content_sha256),
        )
        if filled:
            return filled, True
        row = self._one(
            f"""INSERT INTO scraping.jobs (file_name, upload_path, content_sha256, uploader, dag_id,
                    airflow_run_id, timeout_minutes, max_retries, batch_size, run_clear_number)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT DO NOTHING RETURNING {_JOB_COLUMNS}""",
            (file_name, upload_path, content_sha256, uploader, dag_id, run_id, timeout_minutes,
             max_retries, batch_size, clear_number),
        )
        if row:
            return row, True
        existing = self._jobs(
            "content_sha256 = %s OR (dag_id = %s AND airflow_run_id = %s) ORDER BY (airflow_run_id = %s) DESC LIMIT 1",
            (content_sha256, dag_id, run_id, run_id),
        )
        return next(iter(existing), None), False

    def get(self, job_id: int) -> dict | None:
        return next(iter(self._jobs("id = %s", (job_id,))), None)

    def by_run(self, dag_id: str, run_id: str) -> dict | None:
        return next(iter(self._jobs("dag_id = %s AND airflow_run_id = %s", (dag_id, run_id))), None)

    def active(self) -> list[dict]:
        return self._jobs("status = ANY(%s) ORDER BY id", (list(ACTIVE),))

    def uploaders(self) -> list[str]:
        """Distinct uploaders for the jobs page's suggestions (a loose index scan: fast at any size)."""
        sql = """WITH RECURSIVE u AS (
                     (SELECT uploader FROM scraping.jobs ORDER BY uploader LIMIT 1)
                     UNION ALL
                     SELECT (SELECT j.uploader FROM scraping.jobs j WHERE j.uploader > u.uploader
                             ORDER BY j.uploader LIMIT 1) FROM u WHERE u.uploader IS NOT NULL)
                 SELECT uploader FROM u WHERE uploader IS NOT NULL LIMIT 500"""
        return [row["uploader"] for row in self._all(sql)]

    def mark_processing(self, dag_id: str, run_id: str, clear_number: int = 0) -> dict | None:
        """Work starts (or resumes after a retry wait). A cleared run re-opens a finished job."""
        reopened = self._transition(
            """status = 'processing', started_at = now(), completed_at = NULL,
               retry_count = retry_count + CASE WHEN status IN ('failed', 'timeout')
                                                 AND retry_count < max_retries THEN 1 ELSE 0 END,
               run_clear_number = %s, alerted_at = NULL, failure_kind = NULL, task_retries = 0""",
            "dag_id = %s AND airflow_run_id = %s AND run_clear_number < %s",
            (clear_number, dag_id, run_id, clear_number),
        )
        return reopened or self._transition(
            "status = 'processing', started_at = COALESCE(started_at, now())",
            "dag_id = %s AND airflow_run_id = %s AND status IN ('pending', 'retrying')",
            (dag_id, run_id),
        )

    def mark_retrying(self, dag_id: str, run_id: str, error: str | None) -> dict | None:
        """An Airflow task retry is due; ``error`` None keeps the last error (nothing new to say)."""
        return self._transition(
            "status = 'retrying', task_retries = task_retries + 1, last_error = COALESCE(%s, last_error)",
            "dag_id = %s AND airflow_run_id = %s AND status = ANY(%s)",
            (error, dag_id, run_id, list(ACTIVE)),
        )

    def mark_ended(
        self, dag_id: str, run_id: str, status: str, error: str, failure_kind: str = "retryable"
    ) -> dict | None:
        """``failed`` or ``timeout``; the job only to the caller that made the transition."""
        return self._transition(
            "status = %s, last_error = %s, failure_kind = %s, completed_at = now()",
            "dag_id = %s AND airflow_run_id = %s AND status = ANY(%s)",
            (status, error, failure_kind, dag_id, run_id, list(ACTIVE)),
        )

    def mark_completed(self, job_id: int, processed_numbers: int, results_file: str) -> dict | None:
        """Only an active job completes: a ``timeout``/``failed`` already alerted stays as it is."""
        return self._transition(
            """status = 'completed', processed_numbers = %s, results_file = %s, last_error = NULL,
               failure_kind = NULL, completed_at = now()""",
            "id = %s AND status = ANY(%s)",
            (processed_numbers, results_file, job_id, list(ACTIVE)),
        )

    # Job-level actions: see callcentre.scraping.retry.
    def reopen_for_retry(self, job_id: int, actor: str) -> dict | None:
        """failed/timeout -> pending with one more retry used, if the budget allows; else None."""
        return self._transition(
            """status = 'pending', retry_count = retry_count + 1, started_at = now(), completed_at = NULL,
               alerted_at = NULL, failure_kind = NULL, task_retries = 0,
               last_error = left('retry ' || (retry_count + 1) || ' requested by ' || %s
                                 || '; before: ' || COALESCE(last_error, '?'), 2000)""",
            "id = %s AND status IN ('failed', 'timeout') AND retry_count < max_retries",
            (actor, job_id),
        )

    def undo_reopen(self, before: dict, error: str) -> dict | None:
        """Airflow refused the re-run: put the job back as it was (unless something moved it since)."""
        return self._transition(
            """status = %s, retry_count = retry_count - 1, started_at = %s, completed_at = %s, alerted_at = %s,
               failure_kind = %s, last_error = %s""",
            "id = %s AND status = 'pending' AND retry_count = %s + 1",
            (before["status"], before["started_at"], before["completed_at"], before["alerted_at"],
             before["failure_kind"], error, before["id"], before["retry_count"]),
        )

    def mark_timeout(self, job_id: int, error: str) -> dict | None:
        """An active job ends ``timeout`` by a person's action (no Slack alert: they know)."""
        return self._transition(
            "status = 'timeout', last_error = %s, failure_kind = 'retryable', completed_at = now(), alerted_at = now()",
            "id = %s AND status = ANY(%s)",
            (error, job_id, list(ACTIVE)),
        )

    def undo_timeout(self, before: dict, marked: dict) -> dict | None:
        return self._transition(
            "status = %s, last_error = %s, failure_kind = %s, completed_at = NULL, alerted_at = %s",
            "id = %s AND status = 'timeout' AND last_error = %s",
            (before["status"], before["last_error"], before["failure_kind"], before["alerted_at"], before["id"],
             marked["last_error"]),
        )

    def set_numbers(self, job_id: int, total: int, rejected: list[dict], source_sheet: str | None = None) -> None:
        self._transition(
            "total_numbers = %s, rejected_rows = %s, rejected = %s::jsonb, source_sheet = %s",
            "id = %s",
            (total, len(rejected), json.dumps(rejected), source_sheet, job_id),
        )

    def set_results_file(self, job_id: int, results_file: str) -> None:
        self._transition("results_file = %s", "id = %s", (results_file, job_id))

    def rejected_of(self, job_id: int) -> list[dict]:
        row = self._one("SELECT rejected FROM scraping.jobs WHERE id = %s", (job_id,))
        return list(row["rejected"]) if row else []

    # Batches.
    def save_batches(self, job_id: int, batches: list[tuple[str, list[str]]]) -> list[int]:
        """Store ``[(reference, numbers)]`` as batches 0..n-1 (a retry keeps what exists)."""
        with self._cursor() as cur:
            cur.executemany(
                "INSERT INTO scraping.batches (job_id, batch_no, reference, numbers) VALUES (%s, %s, %s, %s::jsonb) "
                "ON CONFLICT (job_id, batch_no) DO NOTHING",
                [(job_id, no, ref, json.dumps(nums)) for no, (ref, nums) in enumerate(batches)],
            )
            cur.execute("SELECT batch_no FROM scraping.batches WHERE job_id = %s ORDER BY batch_no", (job_id,))
            return [row[0] for row in cur.fetchall()]

    def batch(self, job_id: int, batch_no: int) -> dict | None:
        return self._one("SELECT * FROM scraping.batches WHERE job_id = %s AND batch_no = %s", (job_id, batch_no))

    def record_submission(self, job_id: int, batch_no: int, lookup_id: str) -> None:
        self._one(
            """UPDATE scraping.batches SET lookup_id = %s, submitted_at = now(), status = 'submitted'
               WHERE job_id = %s AND batch_no = %s""",
            (lookup_id, job_id, batch_no),
        )

    def renew_failed_batch(self, job_id: int, batch_no: int, reference: str) -> None:
        """A batch the API declared failed gets a fresh reference, so a re-run submits it anew."""
        self._one(
            """UPDATE scraping.batches SET reference = %s, lookup_id = NULL, submitted_at = NULL, status = 'new',
                   results = NULL, finished_at = NULL
               WHERE job_id = %s AND batch_no = %s AND status = 'failed'""",
            (reference, job_id, batch_no),
        )

    def record_results(self, job_id: int, batch_no: int, status: str, results: list[dict] | None,
                       clear_number: int = 0) -> None:
        """Store a batch's outcome; the job's processed_numbers moves with every finished batch."""
        with self._cursor() as cur:
            cur.execute(
                """UPDATE scraping.batches SET status = %s, results = %s::jsonb, finished_at = now(), clear_number = %s
                   WHERE job_id = %s AND batch_no = %s""",
                (status, json.dumps(results) if results is not None else None, clear_number, job_id, batch_no),
            )
            cur.execute(
                """UPDATE scraping.jobs SET processed_numbers = (
                       SELECT COALESCE(sum(jsonb_array_length(results)), 0) FROM scraping.batches
                       WHERE job_id = %s AND status = 'done'), updated_at = now()
                   WHERE id = %s""",
                (job_id, job_id),
            )

    def count_api_error(self, job_id: int, batch_no: int, clear_number: int) -> int:
        """One more transient API error of the batch in this clear of the run; returns how many."""
        row = self._one(
            """UPDATE scraping.batches SET
                   api_errors = CASE WHEN api_errors_clear = %s THEN api_errors + 1 ELSE 1 END,
                   api_errors_clear = %s
               WHERE job_id = %s AND batch_no = %s RETURNING api_errors""",
            (clear_number, clear_number, job_id, batch_no),
        )
        return int(row["api_errors"]) if row else 1

    def results_of(self, job_id: int) -> list[dict]:
        rows = self._all(
            "SELECT batch_no, status, results FROM scraping.batches WHERE job_id = %s ORDER BY batch_no", (job_id,)
        )
        missing = [r["batch_no"] for r in rows if r["status"] != "done"]
        if missing:
            raise RuntimeError(f"batches {missing} of job {job_id} have no results yet")
        return [answer for r in rows for answer in (r["results"] or [])]

    # Report and automatic retry.
    def overdue(self, minutes: float | None, filters: JobFilter) -> list[dict]:
        """Active jobs past their own timeout, or past ``minutes`` when given."""
        where, params = filters.sql()
        return self._jobs(
            f"""status = ANY(%(active)s) AND {where} AND COALESCE(started_at, created_at)
                    + COALESCE(%(minutes)s, timeout_minutes) * interval '1 minute' < now() ORDER BY id""",
            {**params, "active": list(ACTIVE), "minutes": minutes},
        )

    def recent_failures(self, hours: float, filters: JobFilter) -> list[dict]:
        where, params = filters.sql()
        return self._jobs(
            f"""status IN ('failed', 'timeout') AND {where}
                AND updated_at > now() - %(hours)s * interval '1 hour' ORDER BY updated_at DESC""",
            {**params, "hours": hours},
        )

    def counts_by_status(self, filters: JobFilter) -> dict[str, int]:
        where, params = filters.sql()
        rows = self._all(f"SELECT status, count(*) AS n FROM scraping.jobs WHERE {where} GROUP BY status", params)
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({r["status"]: r["n"] for r in rows})
        return counts

    def retry_candidates(self, filters: JobFilter) -> list[dict]:
        where, params = filters.sql()
        return self._jobs(
            f"""status IN ('failed', 'timeout') AND {where}
                AND failure_kind = 'retryable' AND retry_count < max_retries ORDER BY id""",
            params,
        )

    def final_not_alerted(self) -> list[dict]:
        """failed/timeout jobs nothing will retry whose one alert has not gone out (a lost callback)."""
        return self._jobs(
            """status IN ('failed', 'timeout') AND alerted_at IS NULL
               AND (failure_kind IS DISTINCT FROM 'retryable' OR retry_count >= max_retries) ORDER BY id"""
        )


class BadQuery(ValueError):
    """A filter the job table cannot honour; the message names the parameter."""


@dataclasses.dataclass(frozen=True)
class JobFilter:
    """Which jobs the report, the automatic retry and the jobs page look at; every field optional."""

    uploader: str | None = None  # exact match
    statuses: tuple[str, ...] = ()
    created_from: date | None = None  # inclusive
    created_to: date | None = None  # a day is inclusive, a time (the page's) exclusive

    def __post_init__(self):
        unknown = [s for s in self.statuses if s not in STATUSES]
        if unknown:
            raise BadQuery(f"status {unknown[0]!r} is not one of {', '.join(STATUSES)}")

    def sql(self) -> tuple[str, dict]:
        """The WHERE condition (``TRUE`` when nothing is filtered) and its named parameters."""
        conditions, params = ["TRUE"], {}
        if self.statuses:
            conditions.append("status = ANY(%(statuses)s)")
            params["statuses"] = list(self.statuses)
        if self.created_from:
            conditions.append("created_at >= %(created_from)s")
            params["created_from"] = self.created_from
        if self.created_to:
            day = not isinstance(self.created_to, datetime)
            conditions.append("created_at < %(created_to)s::date + 1" if day else "created_at < %(created_to)s")
            params["created_to"] = self.created_to
        if self.uploader:
            conditions.append("uploader = %(uploader)s")
            params["uploader"] = self.uploader
        return " AND ".join(conditions), params
