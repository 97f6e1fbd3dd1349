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
