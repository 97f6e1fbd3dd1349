"""The upload command and a re-run by clearing, against a real ``airflow api-server`` and scheduler.

Proves the REST contract the web app relies on: JWT login, ``POST /api/v2/dags/scraping_upload/dagRuns``
with a content-derived run id, "already triggered" (409) for the same file, and that clearing a
failed run under a real scheduler brings its job row back to ``completed``.

Isolation: the api-server and scheduler (tests/e2e/conftest.py, shared with the other scraping
modules) use their own metadata schema (``scraping_e2e`` in the Airflow database, via
``search_path``), so they never run, nor are run by, anybody else's scheduler; each runs in its own
process group, stopped with ``os.killpg``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.scraping_fixtures import *  # noqa: F403 - fixtures
from tests.scraping_fixtures import ROOT, make_workbook, random_numbers

def test_trigger_command_creates_one_run_per_file(api_server, scraping_dirs, tmp_path):
    from callcentre.scraping.upload import AirflowRestClient, file_sha256, local_credentials, run_id_for

    uploads, _ = scraping_dirs
    path = make_workbook(tmp_path / "subida web.xlsx", [[n] for n in random_numbers(3)], header=["phone"])
    run_id = run_id_for(file_sha256(path))
    command = [sys.executable, str(ROOT / "scripts" / "trigger_upload.py"), str(path), "--uploader", "ana",
               "--api-url", api_server, "--batch-size", "2"]
    client = AirflowRestClient(api_server, *local_credentials(os.environ["AIRFLOW_HOME"]))
    try:
        first = subprocess.run(command, capture_output=True, text=True, timeout=60)
        second = subprocess.run(command, capture_output=True, text=True, timeout=60)

        assert first.returncode == 0, first.stderr
        assert f"triggered run {run_id}" in first.stdout
        assert second.returncode == 0, second.stderr
        assert f"already triggered: run {run_id}" in second.stdout
        runs = client.request("GET", "/api/v2/dags/scraping_upload/dagRuns?limit=100&order_by=-run_after").json()
        mine = [r for r in runs["dag_runs"] if r["dag_run_id"] == run_id]
        assert len(mine) == 1
        conf = mine[0]["conf"]
        assert conf["uploader"] == "ana" and conf["batch_size"] == 2
        stored = uploads / conf["file"]
        assert stored.read_bytes() == path.read_bytes()
        assert stored.name.endswith("__subida web.xlsx")
    finally:
        assert client.delete_run(run_id) in (204, 404)


def test_trigger_refused_with_bad_credentials(api_server, scraping_dirs, tmp_path):
    path = make_workbook(tmp_path / "x.xlsx", [[n] for n in random_numbers(1)], header=["phone"])
    env = dict(os.environ, AIRFLOW_API_USERNAME="admin", AIRFLOW_API_PASSWORD="wrong")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "trigger_upload.py"), str(path), "--uploader", "ana",
         "--api-url", api_server],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert result.returncode == 1
    assert "refused the login" in result.stderr
    assert json.dumps("wrong") not in result.stderr + result.stdout


def _wait_for_run(client, run_id: str, states: set[str], timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        run = client.request("GET", f"/api/v2/dags/scraping_upload/dagRuns/{run_id}").json()
        if run.get("state") in states:
            return run
        if time.monotonic() > deadline:
            pytest.fail(f"run {run_id} still {run.get('state')} after {timeout_s}s")
        time.sleep(1)


def test_failed_job_rerun_by_clearing_the_run(api_server, scheduler, scraping_api, fake_slack, job_repo, tmp_path):
    """Under the real scheduler: the API fails the batches -> job failed + one alert; clear -> completed."""
    from callcentre.scraping.upload import AirflowRestClient, file_sha256, local_credentials, run_id_for

    client = AirflowRestClient(api_server, *local_credentials(os.environ["AIRFLOW_HOME"]))
    numbers = random_numbers(5)
    path = make_workbook(tmp_path / "reintento.xlsx", [[n] for n in numbers], header=["phone"])
    run_id = run_id_for(file_sha256(path))
    scraping_api.set_knobs(fail_lookups=True)
    assert client.request("PATCH", "/api/v2/dags/scraping_upload", {"is_paused": False}).status_code == 200
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "trigger_upload.py"), str(path), "--uploader", "ana",
             "--api-url", api_server, "--max-retries", "0", "--batch-size", "3"],
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr

        assert _wait_for_run(client, run_id, {"success", "failed"})["state"] == "failed"
        job = job_repo.by_run("scraping_upload", run_id)
        assert job["status"] == "failed" and job["retry_count"] == 0
        assert "the API could not process batch" in job["last_error"]
        assert len(_alerts_for(fake_slack, job["id"])) == 1

        scraping_api.set_knobs(fail_lookups=False)
        cleared = client.request(
            "POST", "/api/v2/dags/scraping_upload/clearTaskInstances",
            {"dag_run_id": run_id, "only_failed": True, "dry_run": False, "reset_dag_runs": True},
        )
        assert cleared.status_code == 200, cleared.text

        assert _wait_for_run(client, run_id, {"success", "failed"})["state"] == "success"
        job = job_repo.by_run("scraping_upload", run_id)
        assert job["status"] == "completed" and job["processed_numbers"] == 5
        # A clear made in Airflow's UI reopens the job; past its budget (max_retries=0) it is not counted.
        assert job["retry_count"] == 0 and job["run_clear_number"] == 1
        assert len(_alerts_for(fake_slack, job["id"])) == 1  # the re-run that succeeded sent nothing
        # Each failed batch was submitted again under a new reference (-c1), each reference once.
        created = scraping_api.lookups_created_per_reference()
        assert len(created) == 4 and set(created.values()) == {1}
        renewed = sorted(r for r in created if r.endswith("-c1"))
        assert renewed == sorted(r + "-c1" for r in created if not r.endswith("-c1"))
    finally:
        client.request("PATCH", "/api/v2/dags/scraping_upload", {"is_paused": True})
        _forget_run(client, job_repo, run_id)


def test_killed_worker_is_retried_without_resubmitting(
    api_server, scheduler, scraping_api, fake_slack, job_repo, tmp_path
):
    """SIGKILL the task process while it waits on the API: Airflow retries it, no callback ran, and
    the retry polls the stored lookup instead of submitting the batch again."""
    from callcentre.scraping.upload import AirflowRestClient, file_sha256, local_credentials, run_id_for

    client = AirflowRestClient(api_server, *local_credentials(os.environ["AIRFLOW_HOME"]))
    path = make_workbook(tmp_path / "matado.xlsx", [[n] for n in random_numbers(3)], header=["phone"])
    run_id = run_id_for(file_sha256(path))
    scraping_api.set_knobs(latency=6)
    assert client.request("PATCH", "/api/v2/dags/scraping_upload", {"is_paused": False}).status_code == 200
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "trigger_upload.py"), str(path), "--uploader", "ana",
             "--api-url", api_server], capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr
        deadline = time.monotonic() + 90
        while not [a for a in scraping_api.arrivals if a["method"] == "GET"]:  # submitted, now polling
            assert time.monotonic() < deadline, "the batch never polled the API"
            time.sleep(0.2)
        ti = client.request("GET", f"/api/v2/dags/scraping_upload/dagRuns/{run_id}/taskInstances/lookup_batch/0").json()
        assert ti["state"] == "running" and ti["try_number"] == 1
        assert _descends_from(ti["pid"], scheduler.pid)  # a process of the scheduler we started
        os.kill(ti["pid"], signal.SIGKILL)
        scraping_api.set_knobs(latency=0)

        assert _wait_for_run(client, run_id, {"success", "failed"})["state"] == "success"
        ti = client.request("GET", f"/api/v2/dags/scraping_upload/dagRuns/{run_id}/taskInstances/lookup_batch/0").json()
        assert ti["try_number"] >= 2  # Airflow retried the killed try
        job = job_repo.by_run("scraping_upload", run_id)
        assert job["status"] == "completed" and job["processed_numbers"] == 3
        assert job["retry_count"] == 0  # the killed try ran no on_retry_callback: callbacks are best-effort
        assert [p["status"] for p in scraping_api.requests_for("POST")] == [202]  # submitted exactly once
        assert list(scraping_api.lookups_created_per_reference().values()) == [1]
    finally:
        client.request("PATCH", "/api/v2/dags/scraping_upload", {"is_paused": True})
        _forget_run(client, job_repo, run_id)


def test_automatic_retry_until_max_retries(api_server, scheduler, scraping_api, fake_slack, job_repo, tmp_path):
    """The reconcile DAG (triggered here rather than waiting 15 minutes) re-runs retryable failures:
    job A (max_retries=1) fails twice and is alerted once, out of retries; job B (max_retries=2)
    fails twice, is not alerted, and completes on its second automatic retry once the API is back."""
    from callcentre.scraping.upload import AirflowRestClient, local_credentials

    client = AirflowRestClient(api_server, *local_credentials(os.environ["AIRFLOW_HOME"]))
    scraping_api.set_knobs(fail_lookups=True)
    for dag_id in ("scraping_upload", "scraping_jobs_reconcile"):
        assert client.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False}).status_code == 200
    runs = {}
    try:
        for name, max_retries in (("a", 1), ("b", 2)):
            path = make_workbook(tmp_path / f"auto_{name}.xlsx", [[n] for n in random_numbers(3)], header=["phone"])
            runs[name] = _trigger(api_server, path, "--max-retries", str(max_retries))
        jobs = {name: _wait_for_job(job_repo, run_id, "failed", retry_count=0) for name, run_id in runs.items()}
        assert {j["failure_kind"] for j in jobs.values()} == {"retryable"}
        assert fake_slack.messages == []  # retries left: no alert yet
        for run_id in runs.values():  # a job is retried once its run has ended (retry.py)
            _wait_for_run(client, run_id, {"failed"})

        _run_reconcile(client)
        a = _wait_for_job(job_repo, runs["a"], "failed", retry_count=1)
        b = _wait_for_job(job_repo, runs["b"], "failed", retry_count=1)
        _wait_for_run(client, runs["a"], {"failed"})
        [alert] = _alerts_for(fake_slack, a["id"])
        assert "out of retries (1/1)" in alert and not _alerts_for(fake_slack, b["id"])

        scraping_api.set_knobs(fail_lookups=False)
        _wait_for_run(client, runs["b"], {"failed"})
        _run_reconcile(client)
        b = _wait_for_job(job_repo, runs["b"], "completed", retry_count=2)
        assert b["processed_numbers"] == 3 and b["last_error"] is None
        a = job_repo.get(a["id"])
        assert (a["status"], a["retry_count"]) == ("failed", 1)  # out of retries: left alone
        assert len(_alerts_for(fake_slack, a["id"])) == 1 and not _alerts_for(fake_slack, b["id"])
        # Airflow is the record: the same run, tried again (earlier tries and their logs kept).
        ti = client.request("GET", f"/api/v2/dags/scraping_upload/dagRuns/{runs['b']}/taskInstances/lookup_batch/0").json()
        assert ti["state"] == "success" and ti["try_number"] >= 3
    finally:
        for dag_id in ("scraping_upload", "scraping_jobs_reconcile"):
            client.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})
        for run_id in runs.values():
            _forget_run(client, job_repo, run_id)


def _trigger(api_server, path, *options) -> str:
    from callcentre.scraping.upload import file_sha256, run_id_for

    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "trigger_upload.py"), str(path), "--uploader", "ana",
         "--api-url", api_server, *options], capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return run_id_for(file_sha256(path))


def _run_reconcile(client) -> None:
    resp = client.request("POST", "/api/v2/dags/scraping_jobs_reconcile/dagRuns", {"logical_date": None})
    assert resp.status_code == 200, resp.text
    run_id = resp.json()["dag_run_id"]
    deadline = time.monotonic() + 120
    while (state := client.request("GET", f"/api/v2/dags/scraping_jobs_reconcile/dagRuns/{run_id}").json()["state"]) \
            not in ("success", "failed"):
        assert time.monotonic() < deadline, f"reconcile run still {state}"
        time.sleep(1)
    assert state == "success"


def _wait_for_job(job_repo, run_id: str, status: str, retry_count: int, timeout_s: float = 150) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        job = job_repo.by_run("scraping_upload", run_id)
        if job and job["status"] == status and job["retry_count"] == retry_count:
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job of {run_id} is {job and (job['status'], job['retry_count'])}, not {status}/{retry_count}")
        time.sleep(1)


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # field 4: the parent's pid
    return False


def _alerts_for(fake_slack, job_id: int) -> list[str]:
    return [m["text"] for m in fake_slack.messages if f"job #{job_id} " in m["text"]]


def _forget_run(client, job_repo, run_id: str) -> None:
    """Stop and delete the run (a running run must be ended first) and its job row."""
    client.request("PATCH", f"/api/v2/dags/scraping_upload/dagRuns/{run_id}", {"state": "failed"})
    assert client.delete_run(run_id) in (204, 404)
    with job_repo._cursor() as cur:
        cur.execute("DELETE FROM scraping.jobs WHERE airflow_run_id = %s", (run_id,))
