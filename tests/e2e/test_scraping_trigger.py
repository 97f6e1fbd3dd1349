"""The upload command against a real ``airflow api-server`` (own process group, free port).

Proves the REST contract the web app relies on: JWT login, ``POST /api/v2/dags/scraping_upload/dagRuns``
with a content-derived run id, and "already triggered" (409) for the same file. Runs are deleted
at the end so no later scheduler executes them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.scraping_fixtures import *  # noqa: F403 - fixtures
from tests.scraping_fixtures import ROOT, make_workbook, random_numbers

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
STARTUP_S = 90


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    """`airflow api-server` on a free port, its DAGs serialized first; stopped by process group."""
    subprocess.run([AIRFLOW, "dags", "reserialize"], check=True, capture_output=True, timeout=120)
    port = _free_port()
    env = dict(os.environ, AIRFLOW__API__PORT=str(port), AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}")
    log = tmp_path_factory.mktemp("api") / "api-server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [AIRFLOW, "api-server", "--port", str(port), "--host", "127.0.0.1", "--workers", "1"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            try:
                if requests.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"api-server did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


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
        client.delete_run(run_id)


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
