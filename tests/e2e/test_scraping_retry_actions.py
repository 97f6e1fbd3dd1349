"""The job-level actions (retry, mark as timeout) against real PostgreSQL and a real `airflow api-server`.

No scheduler here: the runs stay where the actions put them, so each assertion reads the state the
action left in Airflow (cleared and queued again, or failed) next to the job row. The full loop
(a retried job completing under a scheduler) is in test_scraping_trigger.py.
"""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.scraping_fixtures import *  # noqa: F403 - fixtures

DAG = "scraping_upload"


@pytest.fixture
def client(api_server):
    from callcentre.scraping.upload import AirflowRestClient, local_credentials

    return AirflowRestClient(api_server, *local_credentials(os.environ["AIRFLOW_HOME"]))


@pytest.fixture
def job_with_run(client, job_repo):
    """A job row and its real Airflow run (queued: no scheduler runs it); both removed afterwards."""
    made = []

    def make(status: str = "failed", max_retries: int = 2, retry_count: int = 0, with_run: bool = True,
             uploader: str = "ana", failure_kind: str | None = "retryable", minutes_ago: float = 0) -> dict:
        run_id = f"actiontest__{uuid.uuid4().hex[:12]}"
        if with_run:
            resp = client.request("POST", f"/api/v2/dags/{DAG}/dagRuns",
                                  {"dag_run_id": run_id, "logical_date": None, "conf": {"file": "x", "uploader": "t"}})
            assert resp.status_code == 200, resp.text
            if status in ("failed", "timeout"):  # a job ends once its run has: as Airflow leaves it
                assert client.stop_run(DAG, run_id) == "failed"
        job, _ = job_repo.register(
            file_name="acciones.xlsx", upload_path="/nowhere/acciones.xlsx", content_sha256=uuid.uuid4().hex * 2,
            uploader=uploader, dag_id=DAG, run_id=run_id, timeout_minutes=30, max_retries=max_retries, batch_size=10,
        )
        with job_repo._cursor() as cur:
            cur.execute(
                "UPDATE scraping.jobs SET status = %s, retry_count = %s, last_error = 'HTTP 503', failure_kind = %s, "
                "started_at = now() - %s * interval '1 minute' WHERE id = %s",
                (status, retry_count, failure_kind if status in ("failed", "timeout") else None, minutes_ago, job["id"]))
        made.append(run_id)
        return job_repo.get(job["id"])

    yield make
    for run_id in made:
        client.request("PATCH", f"/api/v2/dags/{DAG}/dagRuns/{run_id}", {"state": "failed"})
        client.delete_run(run_id)
        with job_repo._cursor() as cur:
            cur.execute("DELETE FROM scraping.jobs WHERE airflow_run_id = %s", (run_id,))


def _task_states(client, run_id: str) -> dict[str, str | None]:
    resp = client.request("GET", f"/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances?limit=100")
    assert resp.status_code == 200, resp.text
    return {ti["task_id"]: ti["state"] for ti in resp.json()["task_instances"]}


def test_retry_clears_the_stopped_run_and_reopens_the_job(client, job_with_run, job_repo):
    from callcentre.scraping.retry import JobAction, retry_jobs

    job = job_with_run("timeout")
    run_id = job["airflow_run_id"]
    assert client.run_state(DAG, run_id) == "failed"  # stopping skipped every task that had not started
    assert set(_task_states(client, run_id).values()) == {"skipped"}

    actions = retry_jobs([job["id"]], actor="ana", airflow=client)

    assert actions == [JobAction(job["id"], "retried", f"job {job['id']} runs again in Airflow (retry 1 of 2)")]
    reopened = job_repo.get(job["id"])
    assert (reopened["status"], reopened["retry_count"], reopened["completed_at"]) == ("pending", 1, None)
    assert reopened["started_at"] is not None  # its timeout clock restarts now
    assert "requested by ana" in reopened["last_error"]
    assert client.run_state(DAG, run_id) == "queued"
    assert set(_task_states(client, run_id).values()) == {None}  # cleared: the scheduler runs them again


def test_retry_refuses_what_it_must_not_retry(client, job_with_run, job_repo):
    from callcentre.scraping.retry import retry_jobs

    spent = job_with_run("failed", max_retries=1, retry_count=1)
    done = job_with_run("completed")
    running = job_with_run("processing")
    states_before = {j["id"]: client.run_state(DAG, j["airflow_run_id"]) for j in (spent, done, running)}
    actions = retry_jobs([spent["id"], done["id"], running["id"], 0], actor="ana", airflow=client)

    assert [(a.job_id, a.outcome) for a in actions] == [
        (spent["id"], "skipped"), (done["id"], "skipped"), (running["id"], "skipped"), (0, "skipped")]
    assert actions[0].message == f"job {spent['id']} used 1 of its 1 retries: not retried"
    assert actions[1].message == f"job {done['id']} is completed: nothing to retry"
    assert "still running" in actions[2].message
    assert actions[3].message == "job 0 does not exist"
    for job in (spent, done, running):
        assert job_repo.get(job["id"])["retry_count"] == job["retry_count"]
        assert client.run_state(DAG, job["airflow_run_id"]) == states_before[job["id"]]  # Airflow was not touched


def test_a_failed_job_whose_run_is_still_finishing_is_not_retried_yet(client, job_with_run, job_repo):
    """The job turns failed in its first failing batch's callback, before the run ends: a clear
    then would re-run only part of the run and waste a retry."""
    from callcentre.scraping.retry import retry_jobs

    job = job_with_run("processing")  # its run is still queued/running
    with job_repo._cursor() as cur:
        cur.execute("UPDATE scraping.jobs SET status = 'failed', failure_kind = 'retryable' WHERE id = %s", (job["id"],))
    [action] = retry_jobs([job["id"]], actor="ana", airflow=client)
    assert action.outcome == "skipped" and "still finishing" in action.message
    assert job_repo.get(job["id"])["retry_count"] == 0
    client.stop_run(DAG, job["airflow_run_id"])
    [action] = retry_jobs([job["id"]], actor="ana", airflow=client)
    assert action.outcome == "retried"


def test_retry_refused_by_airflow_puts_the_job_back(client, job_with_run, job_repo):
    from callcentre.scraping.retry import retry_jobs

    job = job_with_run("failed", with_run=False)  # its run no longer exists in Airflow

    [action] = retry_jobs([job["id"]], actor="ana", airflow=client)

    assert action.outcome == "error" and "the job is back as it was (failed)" in action.message
    back = job_repo.get(job["id"])
    assert (back["status"], back["retry_count"]) == ("failed", 0)


def test_concurrent_retries_of_one_job_retry_it_once(api_server, job_with_run, job_repo):
    from callcentre.scraping.retry import retry_jobs
    from callcentre.scraping.upload import AirflowRestClient, local_credentials

    job = job_with_run("failed", max_retries=5)
    clients = [AirflowRestClient(api_server, *local_credentials(os.environ["AIRFLOW_HOME"])) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(a.outcome for c in pool.map(
            lambda c: retry_jobs([job["id"]], actor="ana", airflow=c), clients) for a in c)

    assert outcomes == ["retried", "skipped", "skipped", "skipped"]
    assert job_repo.get(job["id"])["retry_count"] == 1


def test_a_person_timing_out_a_job_with_no_retry_left_emails_its_uploader(client, job_with_run, job_repo,
                                                                              fake_slack, monkeypatch):
    import json

    from callcentre.fakes._server import serve_in_thread
    from tests.smtp_server import FakeSmtpServer
    from callcentre.scraping.retry import mark_jobs_timeout

    smtp = FakeSmtpServer(("127.0.0.1", 0))
    serve_in_thread(smtp)
    monkeypatch.setenv("AIRFLOW_CONN_SCRAPING_SMTP", json.dumps(smtp.connection))
    try:
        job = job_with_run("processing", max_retries=0)
        with job_repo._cursor() as cur:  # as register_job keeps the upload's address
            cur.execute("UPDATE scraping.jobs SET notify_email = 'ana@example.com' WHERE id = %s", (job["id"],))
        [action] = mark_jobs_timeout([job["id"]], actor="luis", airflow=client)
        assert action.outcome == "timed_out"
        [mail] = smtp.messages
        assert mail["to"] == ["ana@example.com"] and mail["subject"] == f"Scraping job #{job['id']} timed out: acciones.xlsx"
        assert "marked as timeout by luis" in mail["body"]
        assert fake_slack.messages == []  # a person's own action is not alerted
    finally:
        smtp.shutdown()
        smtp.server_close()


def test_mark_timeout_stops_the_run(client, job_with_run, job_repo, fake_slack):
    from callcentre.scraping.retry import mark_jobs_timeout

    job = job_with_run("processing")
    [action] = mark_jobs_timeout([job["id"]], actor="luis", airflow=client)

    assert (action.outcome, action.message) == (
        "timed_out", f"job {job['id']} marked as timed out; its Airflow run is failed")
    ended = job_repo.get(job["id"])
    assert ended["status"] == "timeout" and ended["last_error"] == "marked as timeout by luis (was processing)"
    assert client.run_state(DAG, job["airflow_run_id"]) == "failed"
    # Again, or on a finished job: nothing changes.
    [again] = mark_jobs_timeout([job["id"]], actor="luis", airflow=client)
    assert again.outcome == "skipped" and "timed out: only a job waiting" in again.message
    assert fake_slack.messages == []  # a person's own action is not alerted


def test_actions_with_the_users_token(api_server, client, job_with_run, job_repo):
    """The page forwards the logged-in user's token; a bad token changes nothing."""
    from callcentre.scraping.retry import mark_jobs_timeout
    from callcentre.scraping.upload import AirflowRestClient

    client.request("GET", "/api/v2/version")  # logs in
    token = client._token
    job = job_with_run("processing")

    [refused] = mark_jobs_timeout([job["id"]], actor="x", airflow=AirflowRestClient(api_server, token="not-a-jwt"))
    assert refused.outcome == "error" and job_repo.get(job["id"])["status"] == "processing"

    [done] = mark_jobs_timeout([job["id"]], actor="ana", airflow=AirflowRestClient(api_server, token=token))
    assert done.outcome == "timed_out" and client.run_state(DAG, job["airflow_run_id"]) == "failed"


def _report(api_server, *args: str):
    import subprocess
    import sys

    from tests.scraping_fixtures import ROOT

    return subprocess.run([sys.executable, str(ROOT / "scripts" / "scraping_report.py"), "--api-url", api_server, *args],
                          capture_output=True, text=True, timeout=120)


def test_report_command_retries_and_times_out(api_server, client, job_with_run, job_repo):
    """scraping_report.py --retry-failed / --timeout-minutes, with --dry-run first; only the filtered uploader."""
    uploader = f"rep{uuid.uuid4().hex[:6]}"
    retryable = job_with_run("failed", uploader=uploader)
    bad_input = job_with_run("failed", uploader=uploader, failure_kind="permanent")
    stuck = job_with_run("processing", uploader=uploader, minutes_ago=50)
    fresh = job_with_run("processing", uploader=uploader, minutes_ago=1)
    someone_else = job_with_run("failed")

    dry = _report(api_server, "--uploader", uploader, "--retry-failed", "--timeout-minutes", "45", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"dry run: job {retryable['id']} would be retried (retry 1 of 2)" in dry.stdout
    assert f"dry run: job {stuck['id']} (is running) would be marked as timed out" in dry.stdout
    assert job_repo.get(retryable["id"])["status"] == "failed" and job_repo.get(stuck["id"])["status"] == "processing"

    done = _report(api_server, "--uploader", uploader, "--retry-failed", "--timeout-minutes", "45")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"retried: job {retryable['id']} runs again in Airflow (retry 1 of 2)" in done.stdout
    assert f"timed_out: job {stuck['id']} marked as timed out" in done.stdout
    # As the old command did: the stuck job ends timeout, and (timeout being retryable) is retried.
    assert f"retried: job {stuck['id']} runs again in Airflow (retry 1 of 2)" in done.stdout
    statuses = {name: job_repo.get(j["id"])["status"] for name, j in
                {"retryable": retryable, "bad_input": bad_input, "stuck": stuck, "fresh": fresh,
                 "someone_else": someone_else}.items()}
    assert statuses == {"retryable": "pending", "bad_input": "failed", "stuck": "pending", "fresh": "processing",
                        "someone_else": "failed"}
    for job in (retryable, stuck):
        assert client.run_state(DAG, job["airflow_run_id"]) == "queued"
    assert client.run_state(DAG, fresh["airflow_run_id"]) == "queued"  # untouched
