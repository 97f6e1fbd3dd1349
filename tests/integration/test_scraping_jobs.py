"""The job table's status machine on real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from tests.scraping_fixtures import *  # noqa: F403 - fixtures


@pytest.fixture(autouse=True)
def _forget_test_jobs(job_repo):
    """These jobs have no Airflow run: remove them so the reconciler never sees them."""
    yield
    with job_repo._cursor() as cur:
        cur.execute(r"DELETE FROM scraping.jobs WHERE airflow_run_id LIKE 't\_\_%'")


def _register(job_repo, **kw):
    args = dict(
        file_name="a.xlsx", upload_path="/u/a.xlsx", content_sha256=uuid.uuid4().hex * 2, uploader="ana",
        dag_id="scraping_upload", run_id=f"t__{uuid.uuid4().hex[:10]}", timeout_minutes=30, max_retries=3,
        batch_size=100,
    )
    args.update(kw)
    return job_repo.register(**args)


def test_migrating_a_current_schema_changes_nothing(job_repo):
    """Every entry point migrates: on a current schema that applies nothing and keeps the jobs."""
    from callcentre.scraping.jobs import scraping_migrations

    job, _ = _register(job_repo)
    migrations = scraping_migrations(job_repo.conn_id)
    assert migrations.applied_version() == migrations.latest >= 1
    with job_repo._cursor() as cur:
        cur.execute("SELECT version, applied_at FROM scraping.schema_migrations ORDER BY version")
        applied_before = cur.fetchall()
    assert migrations.ensure_current() == []
    job_repo.migrate()
    with job_repo._cursor() as cur:
        cur.execute("SELECT version, applied_at FROM scraping.schema_migrations ORDER BY version")
        assert cur.fetchall() == applied_before
        cur.execute("SELECT status FROM scraping.jobs WHERE id = %s", (job["id"],))
        assert cur.fetchone()[0] == "pending"


def test_one_job_per_content(job_repo):
    sha = uuid.uuid4().hex * 2
    first, created = _register(job_repo, content_sha256=sha)
    again, created_again = _register(job_repo, content_sha256=sha)
    assert created and not created_again
    assert again["id"] == first["id"] and again["status"] == "pending"
    assert (first["timeout_minutes"], first["max_retries"], first["retry_count"]) == (30.0, 3, 0)


def test_status_follows_the_run(job_repo):
    job, _ = _register(job_repo)
    dag_id, run_id = job["dag_id"], job["airflow_run_id"]
    started = job_repo.mark_processing(dag_id, run_id)
    assert started["status"] == "processing" and started["started_at"] is not None
    # Airflow's task retries inside the run are task_retries; retry_count is for job-level retries.
    assert job_repo.mark_retrying(dag_id, run_id, "HTTP 500")["task_retries"] == 1
    assert job_repo.mark_processing(dag_id, run_id)["started_at"] == started["started_at"]
    retried = job_repo.mark_retrying(dag_id, run_id, "HTTP 503")
    assert (retried["task_retries"], retried["retry_count"]) == (2, 0)
    ended = job_repo.mark_ended(dag_id, run_id, "failed", "gave up")
    assert ended["status"] == "failed" and ended["last_error"] == "gave up"
    # Only the first terminal transition returns the row (one Slack alert); later callbacks are no-ops.
    assert job_repo.mark_ended(dag_id, run_id, "timeout", "late") is None
    assert job_repo.mark_processing(dag_id, run_id) is None
    assert job_repo.mark_retrying(dag_id, run_id, "late") is None
    assert job_repo.get(job["id"])["status"] == "failed"


def test_cleared_run_reopens_a_finished_job(job_repo):
    job, _ = _register(job_repo)
    dag_id, run_id = job["dag_id"], job["airflow_run_id"]
    job_repo.mark_processing(dag_id, run_id)
    job_repo.mark_ended(dag_id, run_id, "timeout", "too slow")
    reopened = job_repo.mark_processing(dag_id, run_id, clear_number=1)
    assert reopened["status"] == "processing" and reopened["retry_count"] == 1
    assert reopened["completed_at"] is None and reopened["started_at"] > job["created_at"]
    # The same clear seen again by the next task does not count twice.
    assert job_repo.mark_processing(dag_id, run_id, clear_number=1) is None
    assert job_repo.mark_ended(dag_id, run_id, "failed", "again") is not None  # and can alert again


def test_job_level_retries_never_exceed_max_retries(job_repo):
    """A clear made in Airflow's UI counts as a retry, but not past the budget (nor a reopened completion)."""
    job, _ = _register(job_repo, max_retries=1)
    dag_id, run_id = job["dag_id"], job["airflow_run_id"]
    for clear_number in (1, 2, 3):
        job_repo.mark_ended(dag_id, run_id, "failed", "HTTP 503")
        assert job_repo.mark_processing(dag_id, run_id, clear_number=clear_number)["retry_count"] == 1
    assert job_repo.reopen_for_retry(job["id"], "ana") is None  # a failed job with its budget spent


def test_completion_never_overwrites_an_ended_job(job_repo):
    job, _ = _register(job_repo)
    dag_id, run_id = job["dag_id"], job["airflow_run_id"]
    job_repo.mark_processing(dag_id, run_id)
    job_repo.mark_retrying(dag_id, run_id, "HTTP 503 (transient)")
    assert job_repo.mark_ended(dag_id, run_id, "timeout", "too slow") is not None
    assert job_repo.mark_completed(job["id"], 5, "/r/x.xlsx") is None
    assert job_repo.get(job["id"])["status"] == "timeout"


def test_completion_clears_the_transient_error(job_repo):
    job, _ = _register(job_repo)
    dag_id, run_id = job["dag_id"], job["airflow_run_id"]
    job_repo.mark_processing(dag_id, run_id)
    job_repo.mark_retrying(dag_id, run_id, "HTTP 503 (transient)")
    job_repo.mark_processing(dag_id, run_id)
    done = job_repo.mark_completed(job["id"], 5, "/r/x.xlsx")
    assert done["status"] == "completed" and done["last_error"] is None


def test_report_lists_overdue_and_failures(job_repo):
    from callcentre.scraping.retry import build_report, format_report

    job, _ = _register(job_repo, file_name="lento.xlsx", timeout_minutes=0.01)
    job_repo.mark_processing(job["dag_id"], job["airflow_run_id"])
    failed, _ = _register(job_repo, file_name="malo.xlsx")
    job_repo.mark_ended(failed["dag_id"], failed["airflow_run_id"], "failed", "HTTP 401 from 3001234567")
    import time

    time.sleep(1)
    report = build_report(job_repo)
    assert job["id"] in [j["id"] for j in report["overdue"]]
    mine = [j for j in report["recent_failures"] if j["id"] == failed["id"]]
    assert mine and mine[0]["last_error"] == "HTTP 401 from [number]"
    assert report["counts"]["failed"] >= 1 and report["total"] == sum(report["counts"].values())
    text = format_report(report)
    assert "lento.xlsx" in text and "malo.xlsx" in text and "3001234567" not in text
    assert report["actions"] == {}  # read-only unless an action is asked for


def test_report_lists_every_failure_and_filters(job_repo):
    """No silent cap (it used to stop at 20); filters by uploader, status and created date."""
    from datetime import date

    from callcentre.scraping.jobs import JobFilter
    from callcentre.scraping.retry import build_report, format_report

    uploader = f"u{uuid.uuid4().hex[:6]}"
    made = []
    for i in range(25):
        job, _ = _register(job_repo, uploader=uploader, file_name=f"f{i}.xlsx")
        job_repo.mark_ended(job["dag_id"], job["airflow_run_id"], "timeout" if i % 5 == 0 else "failed",
                            f"HTTP 503 for 55 92 19 32 {i:02d}")
        made.append(job["id"])
    other, _ = _register(job_repo, uploader="otra")
    job_repo.mark_ended(other["dag_id"], other["airflow_run_id"], "failed", "x")

    mine = JobFilter(uploader=uploader)
    report = build_report(job_repo, filters=mine)
    assert sorted(j["id"] for j in report["recent_failures"]) == sorted(made)
    assert report["counts"]["failed"] == 20 and report["counts"]["timeout"] == 5 and report["total"] == 25
    assert all(j["last_error"] == "HTTP 503 for [number]" for j in report["recent_failures"])
    timeouts = build_report(job_repo, filters=JobFilter(uploader=uploader, statuses=("timeout",)))
    assert len(timeouts["recent_failures"]) == 5
    tomorrow = date.today().replace(year=date.today().year + 1)
    assert build_report(job_repo, filters=JobFilter(uploader=uploader, created_from=tomorrow))["total"] == 0
    assert build_report(job_repo, filters=JobFilter(uploader=uploader, created_to=date.today()))["total"] == 25

    text = format_report(report, limit=10)
    assert "2. Failures in the last 24 h: 25" in text and "… 15 more not shown" in text
    assert "3. Jobs per status:" in text and "Retrying" not in text  # numbered as shown
    assert "55 92 19" not in text


def test_report_dry_run_changes_nothing(job_repo):
    from callcentre.scraping.jobs import JobFilter
    from callcentre.scraping.retry import build_report, format_report

    uploader = f"u{uuid.uuid4().hex[:6]}"
    retryable, _ = _register(job_repo, uploader=uploader, max_retries=2)
    job_repo.mark_ended(retryable["dag_id"], retryable["airflow_run_id"], "failed", "HTTP 503", "retryable")
    permanent, _ = _register(job_repo, uploader=uploader)
    job_repo.mark_ended(permanent["dag_id"], permanent["airflow_run_id"], "failed", "no phone column", "permanent")
    stuck, _ = _register(job_repo, uploader=uploader)
    job_repo.mark_processing(stuck["dag_id"], stuck["airflow_run_id"])
    with job_repo._cursor() as cur:
        cur.execute("UPDATE scraping.jobs SET started_at = now() - interval '10 minutes' WHERE id = %s", (stuck["id"],))

    report = build_report(job_repo, filters=JobFilter(uploader=uploader), retry_failed=True, timeout_minutes=5,
                          dry_run=True, airflow=None)

    assert [(a["job_id"], a["message"]) for a in report["actions"]["retries"]] == [
        (retryable["id"], f"dry run: job {retryable['id']} would be retried (retry 1 of 2)")]
    assert [a["job_id"] for a in report["actions"]["timeouts"]] == [stuck["id"]]
    assert [job_repo.get(j["id"])["status"] for j in (retryable, permanent, stuck)] == ["failed", "failed", "processing"]
    text = format_report(report)
    assert "dry run: nothing changed" in text
    assert [line[:2] for line in text.splitlines() if line[:1].isdigit()] == ["1.", "2.", "3.", "4."]
    assert "2. Retrying failed jobs: 1" in text
