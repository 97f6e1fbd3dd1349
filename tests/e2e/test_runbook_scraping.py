"""The scraping runbook's stuck lookup (docs/operations.md), under a real scheduler and api-server.

A lookup the API never finishes: the job ends ``timeout`` without a message while it has retries
left, the automatic retry (``scraping_jobs_reconcile``, triggered here rather than waited for)
re-runs it, and once out of retries it stays ``timeout`` with exactly one Slack message.
The harness (private metadata schema, api-server, scheduler) is tests/e2e/conftest.py's.
"""

from __future__ import annotations

import os

from tests.e2e.test_scraping_trigger import (
    _alerts_for,
    _forget_run,
    _run_reconcile,
    _trigger,
    _wait_for_job,
    _wait_for_run,
)
from tests.scraping_fixtures import *  # noqa: F403 - fixtures
from tests.scraping_fixtures import make_workbook, random_numbers


def test_stuck_lookup_times_out_is_retried_automatically_and_alerts_once_out_of_retries(
    api_server, scheduler, scraping_api, fake_slack, job_repo, tmp_path
):
    from callcentre.scraping.upload import AirflowRestClient, local_credentials

    client = AirflowRestClient(api_server, *local_credentials(os.environ["AIRFLOW_HOME"]))
    numbers = random_numbers(3)
    path = make_workbook(tmp_path / "atascada.xlsx", [[n] for n in numbers], header=["phone"])
    scraping_api.set_knobs(never_finish=True)
    for dag_id in ("scraping_upload", "scraping_jobs_reconcile"):
        assert client.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False}).status_code == 200
    run_id = None
    try:
        # A 3-second timeout stands for the default 30 minutes.
        run_id = _trigger(api_server, path, "--max-retries", "1", "--timeout-minutes", "0.05")
        job = _wait_for_job(job_repo, run_id, "timeout", retry_count=0)
        assert job["failure_kind"] == "retryable" and "passed its timeout" in job["last_error"]
        _wait_for_run(client, run_id, {"failed"})
        assert not _alerts_for(fake_slack, job["id"])  # a retry is due: nobody is paged yet

        _run_reconcile(client)  # the automatic retry: the same run, cleared
        job = _wait_for_job(job_repo, run_id, "timeout", retry_count=1)
        _wait_for_run(client, run_id, {"failed"})
        [alert] = _alerts_for(fake_slack, job["id"])
        assert "ended `timeout`" in alert and "out of retries (1/1)" in alert, alert
        assert not any(n in alert for n in numbers)

        _run_reconcile(client)  # out of retries: left alone, no second message
        job = job_repo.get(job["id"])
        assert (job["status"], job["retry_count"]) == ("timeout", 1)
        assert len(_alerts_for(fake_slack, job["id"])) == 1
        ti = client.request("GET", f"/api/v2/dags/scraping_upload/dagRuns/{run_id}/taskInstances/lookup_batch/0").json()
        assert ti["state"] == "failed" and ti["try_number"] >= 2  # the run was tried again, its first try kept
        # The message operators see (docs/operations.md copies it; run with -s).
        print("\n--- scraping alert ---\n" + alert)
    finally:
        scraping_api.set_knobs(never_finish=False)
        for dag_id in ("scraping_upload", "scraping_jobs_reconcile"):
            client.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})
        if run_id:
            _forget_run(client, job_repo, run_id)
