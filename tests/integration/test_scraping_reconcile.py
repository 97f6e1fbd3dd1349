"""The reconcile DAG repairs the job table when callbacks were lost (real runs, real metadata DB)."""

from __future__ import annotations

import uuid

import pytest

from tests.scraping_fixtures import *  # noqa: F403 - fixtures
from tests.scraping_fixtures import make_workbook, random_numbers


def _forget_outcome(job_repo, job_id: int) -> None:
    """Put the row back where it was before the lost callback would have moved it."""
    with job_repo._cursor() as cur:
        cur.execute(
            "UPDATE scraping.jobs SET status = 'processing', last_error = NULL, completed_at = NULL, "
            "alerted_at = NULL WHERE id = %s",
            (job_id,),
        )
        cur.execute("DELETE FROM scraping.outbox WHERE job_id = %s", (job_id,))  # nor its messages


def _alerts_for(fake_slack, job_id: int) -> list[str]:
    return [m["text"] for m in fake_slack.messages if f"job #{job_id} " in m["text"]]


def test_reconcile_fails_job_whose_failure_callback_never_ran(
    run_upload, scraping_api, scraping_dags, tmp_path, job_repo, fake_slack
):
    path = make_workbook(tmp_path / "perdido.xlsx", [[n] for n in random_numbers(2)], header=["phone"])
    scraping_api.set_knobs(fail_lookups=True)
    dag_run, job = run_upload(path, max_retries=0)  # no retry left: the failure is final, and alerted
    assert dag_run.state == "failed" and job["status"] == "failed"
    _forget_outcome(job_repo, job["id"])
    fake_slack.recorder.items.clear()

    reconcile_run = scraping_dags["reconcile"].test()

    assert reconcile_run.state == "success"
    fixed = job_repo.get(job["id"])
    assert fixed["status"] == "failed"
    assert fixed["last_error"].startswith("reconcile: Airflow run failed")
    assert len(_alerts_for(fake_slack, job["id"])) == 1
    # A second pass (or a late callback) changes nothing and alerts nobody again.
    scraping_dags["reconcile"].test()
    assert job_repo.get(job["id"])["status"] == "failed"
    assert len(_alerts_for(fake_slack, job["id"])) == 1


def test_reconcile_completes_job_whose_success_went_unrecorded(run_upload, scraping_api, scraping_dags, tmp_path, job_repo):
    path = make_workbook(tmp_path / "ok.xlsx", [[n] for n in random_numbers(2)], header=["phone"])
    dag_run, job = run_upload(path)
    assert job["status"] == "completed"
    _forget_outcome(job_repo, job["id"])

    scraping_dags["reconcile"].test()

    assert job_repo.get(job["id"])["status"] == "completed"


@pytest.fixture
def queued_run(scraping_dags):
    """A real run of scraping_upload that no scheduler picks up (as when the scheduler is down)."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunTriggeredByType
    from sqlalchemy import delete

    run_id = f"test_stuck__{uuid.uuid4().hex[:12]}"
    trigger_dag(
        "scraping_upload", run_id=run_id, conf={"file": "none.xlsx", "uploader": "test"},
        triggered_by=DagRunTriggeredByType.TEST,
    )
    yield run_id
    with create_session() as session:
        session.execute(delete(DagRun).where(DagRun.dag_id == "scraping_upload", DagRun.run_id == run_id))


@pytest.mark.parametrize("minutes_ago, expected", [(120, "timeout"), (1, "processing")])
def test_reconcile_times_out_only_jobs_past_their_deadline(
    queued_run, scraping_dags, job_repo, fake_slack, minutes_ago, expected
):
    job, created = job_repo.register(
        file_name="atascado.xlsx", upload_path="/nowhere/atascado.xlsx", content_sha256=uuid.uuid4().hex * 2,
        uploader="ana", dag_id="scraping_upload", run_id=queued_run, timeout_minutes=30, max_retries=0,
        batch_size=250,
    )
    assert created
    with job_repo._cursor() as cur:
        cur.execute(
            "UPDATE scraping.jobs SET status = 'processing', started_at = now() - %s * interval '1 minute' "
            "WHERE id = %s",
            (minutes_ago, job["id"]),
        )

    scraping_dags["reconcile"].test()

    after = job_repo.get(job["id"])
    assert after["status"] == expected
    if expected == "timeout":
        assert after["last_error"] == "reconcile: still queued after its 30-minute timeout"
        [alert] = _alerts_for(fake_slack, job["id"])
        assert "atascado.xlsx" in alert and "timeout" in alert
    else:
        assert _alerts_for(fake_slack, job["id"]) == []
    with job_repo._cursor() as cur:  # its run is deleted at teardown: leave no orphan behind
        cur.execute("DELETE FROM scraping.jobs WHERE id = %s", (job["id"],))


def test_reconcile_fails_overdue_job_whose_run_is_gone(scraping_dags, job_repo, fake_slack):
    job, _ = job_repo.register(
        file_name="huerfano.xlsx", upload_path="/nowhere/huerfano.xlsx", content_sha256=uuid.uuid4().hex * 2,
        uploader="ana", dag_id="scraping_upload", run_id=f"deleted__{uuid.uuid4().hex[:12]}", timeout_minutes=30,
        max_retries=3, batch_size=250,
    )
    with job_repo._cursor() as cur:
        cur.execute("UPDATE scraping.jobs SET created_at = now() - interval '2 hours' WHERE id = %s", (job["id"],))

    scraping_dags["reconcile"].test()

    after = job_repo.get(job["id"])
    assert after["status"] == "failed"
    assert after["last_error"] == "reconcile: its Airflow run no longer exists"
    assert after["failure_kind"] == "permanent"  # nothing left to re-run: alerted at once
    assert len(_alerts_for(fake_slack, job["id"])) == 1


def test_reconcile_leaves_a_retryable_failure_to_the_automatic_retry(
    run_upload, scraping_api, scraping_dags, tmp_path, job_repo, fake_slack
):
    path = make_workbook(tmp_path / "reintentable.xlsx", [[n] for n in random_numbers(2)], header=["phone"])
    scraping_api.set_knobs(fail_lookups=True)
    dag_run, job = run_upload(path, max_retries=2)
    _forget_outcome(job_repo, job["id"])

    scraping_dags["reconcile"].test()

    fixed = job_repo.get(job["id"])
    assert (fixed["status"], fixed["failure_kind"], fixed["retry_count"]) == ("failed", "retryable", 0)
    assert _alerts_for(fake_slack, job["id"]) == []  # retries left: no alert
