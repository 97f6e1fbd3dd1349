"""The job callbacks against real PostgreSQL: a fresh database, and two upstream Airflow bugs.

The callbacks are plain functions of Airflow's context; these tests hand them the parts of the
context they read (the run's ids, the try) for situations a real scheduler produces only by a race:

* apache/airflow#65400: ``on_failure_callback`` fired while the task still has retries.
* apache/airflow#71172: a reschedule-mode sensor failed by a late executor event (no exception of
  the task; a try used up).

Neither may burn the job's retries or send an alert.
"""

from __future__ import annotations

import logging
import uuid
from types import SimpleNamespace

import pytest

from tests.scraping_fixtures import *  # noqa: F403 - fixtures


def _context(job: dict | None = None, *, run_id: str | None = None, try_number: int = 1, max_tries: int = 10,
             exception=None, clear_number: int = 0) -> dict:
    run_id = run_id or job["airflow_run_id"]
    return {
        "dag_run": SimpleNamespace(dag_id="scraping_upload", run_id=run_id, clear_number=clear_number),
        "ti": SimpleNamespace(try_number=try_number, max_tries=max_tries, task_id="lookup_batch", map_index=0),
        "exception": exception,
        "params": {},
    }


@pytest.fixture
def job(job_repo):
    """A processing job with one stored batch of two numbers; no Airflow run (removed afterwards)."""
    made, _ = job_repo.register(
        file_name="carrera.xlsx", upload_path="/nowhere/carrera.xlsx", content_sha256=uuid.uuid4().hex * 2,
        uploader="ana", dag_id="scraping_upload", run_id=f"t__{uuid.uuid4().hex[:10]}", timeout_minutes=30,
        max_retries=1, batch_size=2,
    )
    job_repo.mark_processing("scraping_upload", made["airflow_run_id"])
    job_repo.save_batches(made["id"], [(f"scr-t{uuid.uuid4().hex[:12]}-b0000", ["3001112233", "3004445566"])])
    yield job_repo.get(made["id"])
    with job_repo._cursor() as cur:
        cur.execute("DELETE FROM scraping.jobs WHERE id = %s", (made["id"],))


def test_failure_callback_with_retries_left_changes_nothing(job, job_repo, fake_slack):
    """apache/airflow#65400: the callback fires, but the task goes up_for_retry."""
    from callcentre.scraping.api_hook import ScrapingApiUnavailable
    from callcentre.scraping.pipeline import on_task_failure

    on_task_failure(_context(job, try_number=2, max_tries=10, exception=ScrapingApiUnavailable("HTTP 503")))

    after = job_repo.get(job["id"])
    assert (after["status"], after["retry_count"], after["alerted_at"]) == ("processing", 0, None)
    assert fake_slack.messages == []

    # The real last try does end the job (retryable, a retry left: still no alert).
    on_task_failure(_context(job, try_number=11, max_tries=10, exception=ScrapingApiUnavailable("HTTP 503")))
    after = job_repo.get(job["id"])
    assert (after["status"], after["failure_kind"], after["retry_count"]) == ("failed", "retryable", 0)
    assert fake_slack.messages == []


def test_scheduler_failure_without_an_exception_changes_nothing(job, job_repo, fake_slack):
    """apache/airflow#71172: the scheduler fails the sensor from a stale executor event."""
    from callcentre.scraping.pipeline import on_task_failure, on_task_retry

    job_repo.mark_retrying("scraping_upload", job["airflow_run_id"], "HTTP 503 (batch 0)")
    on_task_retry(_context(job, exception=None))
    on_task_failure(_context(job, try_number=11, max_tries=10, exception=None))

    after = job_repo.get(job["id"])
    assert after["status"] == "retrying" and after["retry_count"] == 0
    assert after["last_error"] == "HTTP 503 (batch 0)"  # the real error is kept
    assert fake_slack.messages == []


def test_a_burnt_try_does_not_spend_the_batch_budget(job, job_repo, scraping_api):
    """apache/airflow#71172 again: tries used up by the race do not count; API errors do."""
    from callcentre.scraping.api_hook import ScrapingApiUnavailable
    from callcentre.scraping.pipeline import LookupBatchSensor, RetryableJobFailure

    sensor = LookupBatchSensor(task_id="lookup_batch", batch={"job_id": job["id"], "batch_no": 0})
    scraping_api.set_knobs(fail_next=2, fail_method="POST")

    # Try 7 of a job allowing 1 retry: tries 2..6 were burnt by the race, not by the API.
    with pytest.raises(ScrapingApiUnavailable):
        sensor.poke(_context(job, try_number=7))  # first API error: Airflow retries
    with pytest.raises(RetryableJobFailure, match="gave up after 1 retries"):
        sensor.poke(_context(job, try_number=8))  # second one: past max_retries=1
    assert [r["status"] for r in scraping_api.requests_for("POST")] == [500, 500]


def test_fresh_database_callbacks_create_the_table_first(job_repo, caplog):
    """On a database that never had an upload, the first thing to run is a start callback."""
    from callcentre.scraping.pipeline import on_task_start

    saved = f"scraping_saved_{uuid.uuid4().hex[:8]}"
    with job_repo._cursor() as cur:
        cur.execute(f"ALTER SCHEMA scraping RENAME TO {saved}")
    try:
        with caplog.at_level(logging.WARNING):
            on_task_start(_context(run_id="upload__fresh"))
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
        with job_repo._cursor() as cur:
            cur.execute("SELECT to_regclass('scraping.jobs') IS NOT NULL, to_regclass('scraping.batches') IS NOT NULL")
            assert cur.fetchone() == (True, True)
    finally:
        with job_repo._cursor() as cur:
            cur.execute("DROP SCHEMA IF EXISTS scraping CASCADE")
            cur.execute(f"ALTER SCHEMA {saved} RENAME TO scraping")
