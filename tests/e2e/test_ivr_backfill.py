"""ivr_calls_daily under a real scheduler: `airflow backfill create --from-date D --to-date D`
loads business day D (not a second earlier, not a second later), and the deadline alert of a
day loaded after its deadline reaches Slack.

Starts `airflow api-server` (the workers' execution API), `airflow scheduler` (LocalExecutor) and
`airflow triggerer` (runs deadline callbacks), each in its own process group, stopped by group at
the end. DAGs are parsed as in production (deadline alerts included).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from callcentre.ivr import synthetic
from tests.integration.ivr_support import ensure_tables, ledger, make_call, metrics_row, query, reset_day

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
# A day no earlier test used: a backfill of an existing run clears that run (no new deadline).
DAY = date(2020, 1, 1) + timedelta(days=secrets.randbelow(2000))
TIMEOUT_S = 240


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _airflow(*args: str, env: dict) -> str:
    proc = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"airflow {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@contextmanager
def _process_group(args: list[str], env: dict, log: Path):
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=wait_s)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue


@pytest.fixture
def airflow_env(tmp_path, fake_slack):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "CALLCENTRE_IN_PROCESS_TEST"}
    env.update(AIRFLOW__API__PORT=str(port), AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}")
    _airflow("dags", "reserialize", env=env)
    with _process_group([AIRFLOW, "api-server", "--port", str(port), "--host", "127.0.0.1", "--workers", "1"], env, tmp_path / "api.log"), \
         _process_group([AIRFLOW, "scheduler"], env, tmp_path / "scheduler.log"), \
         _process_group([AIRFLOW, "triggerer"], env, tmp_path / "triggerer.log"):
        _airflow("dags", "unpause", "ivr_calls_daily", env=env)
        try:
            yield env
        finally:
            _airflow("dags", "pause", "ivr_calls_daily", env=env)


def _wait_for(predicate, what: str, logs: Path):
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(2)
    tail = "\n".join((logs / name).read_text(errors="replace")[-3000:] for name in ("scheduler.log", "triggerer.log"))
    pytest.fail(f"timed out waiting for {what}\n{tail}")


def _run_states(env, kind: str) -> dict[str, str]:
    """{logical date: state} of the runs whose id starts with ``kind`` (backfill, scheduled)."""
    import json

    out = _airflow("dags", "list-runs", "ivr_calls_daily", "-o", "json", env=env)
    runs = next((json.loads(line) for line in out.splitlines() if line.startswith("[")), [])
    return {r["logical_date"][:10]: r["state"] for r in runs if r["run_id"].startswith(kind + "__")}


def test_backfill_of_a_date_loads_that_business_date(airflow_env, fake_slack, tmp_path):
    ensure_tables()
    reset_day(DAY)
    midnight = datetime.combine(DAY, datetime.min.time())
    synthetic.write_calls([
        make_call(900_001, midnight + timedelta(seconds=5)),
        make_call(900_002, midnight + timedelta(hours=23, minutes=59, seconds=50)),
        make_call(900_003, midnight + timedelta(days=1, seconds=1)),  # the next day: must not be loaded
        make_call(900_004, midnight - timedelta(seconds=1)),  # the day before: must not be loaded
    ])
    try:
        _airflow("backfill", "create", "--dag-id", "ivr_calls_daily", "--from-date", DAY.isoformat(),
                 "--to-date", DAY.isoformat(), "--reprocess-behavior", "completed", env=airflow_env)

        _wait_for(lambda: _run_states(airflow_env, "backfill").get(DAY.isoformat()) in ("success", "failed"),
                  f"the backfill run of {DAY}", tmp_path)
        assert _run_states(airflow_env, "backfill")[DAY.isoformat()] == "success"
        assert {r[0] for r in query("SELECT call_id FROM analytics.calls WHERE business_date = %s", (DAY,))} == {900_001, 900_002}
        assert metrics_row(DAY)["source_calls"] == 2
        assert sorted({row[0] for row in ledger(DAY)}) == list(range(24))

        # D's deadline (D+1 06:00) passed long ago: the triggerer posts the deadline alert.
        _wait_for(lambda: any("Deadline missed" in m["text"] for m in fake_slack.messages),
                  "the deadline alert in Slack", tmp_path)
        alert = next(m["text"] for m in fake_slack.messages if "Deadline missed" in m["text"])
        assert "ivr_calls_daily" in alert and "not loaded" in alert and f"logical date {DAY}" in alert
    finally:
        for day in (DAY, DAY + timedelta(days=1), DAY - timedelta(days=1)):
            reset_day(day)
