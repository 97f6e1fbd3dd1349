"""Starting and stopping real Airflow components for the e2e tests.

Airflow components fork children, so each one runs in its own process group and is stopped by
signalling that group, never anything by name.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_airflow(env: dict, *args: str) -> str:
    """Run an `airflow` CLI command to completion; fail the test with its output if it fails."""
    result = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"airflow {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def run_states(env: dict, dag_id: str, kind: str) -> dict[str, str]:
    """{logical date: state} of ``dag_id``'s runs whose id starts with ``kind`` (backfill, scheduled)."""
    import json

    out = run_airflow(env, "dags", "list-runs", dag_id, "-o", "json")
    runs = next((json.loads(line) for line in out.splitlines() if line.startswith("[")), [])
    return {r["logical_date"][:10]: r["state"] for r in runs if r["run_id"].startswith(kind + "__")}


def start_group(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    """Start ``args`` in a new session (its own process group), output to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop_group(proc: subprocess.Popen, grace_s: float = 30) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there after ``grace_s``."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextmanager
def process_group(args: list[str], env: dict, log: Path):
    proc = start_group(args, env, log)
    try:
        yield proc
    finally:
        stop_group(proc)


def rest_client(env: dict):
    """The REST client of the api-server ``env`` points at, logged in as the local admin."""
    from callcentre.scraping.upload import AirflowRestClient, local_credentials

    return AirflowRestClient(env["AIRFLOW__API__BASE_URL"], *local_credentials(env["AIRFLOW_HOME"]))


def settle_backfills(env: dict, dag_id: str = "ivr_calls_daily", timeout_s: float = 90) -> None:
    """Let the scheduler mark the backfills complete (it checks every 30 s) before it is stopped:
    Airflow allows one running backfill per DAG, and the next test run would be refused."""
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        backfills = rest_client(env).request("GET", f"/api/v2/backfills?dag_id={dag_id}").json().get("backfills", [])
        if all(b.get("completed_at") for b in backfills):
            return
        time.sleep(3)
