"""A deploy of include/ reaches the next task without restarting the scheduler, although the
LocalExecutor's forkserver preloads our modules (callcentre.common.task_preload, fresh_preload).

Runs `airflow api-server` and `airflow scheduler` (each in its own process group) on a copy of
include/ placed first on PYTHONPATH, backfills a day, edits the copy's ``runtime.plan`` to log a
marker, backfills the day again and reads the plan task's two logs.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from callcentre.ivr import synthetic
from tests.e2e.airflow_processes import free_port, ivr_airflow, rest_client, run_airflow, settle_backfills
from tests.integration.ivr_support import at, ensure_tables, make_call, reset_day

INCLUDE = Path(__file__).resolve().parents[2] / "include"
DAY = date(2017, 1, 2) + timedelta(days=secrets.randbelow(300))  # a day no other test uses
TIMEOUT_S = 300


def _backfill_and_wait(env: dict, logs: Path) -> str:
    """Backfill DAY (again) and return its run's id once it succeeded."""
    settle_backfills(env, "ivr_calls_daily", timeout_s=120)  # Airflow allows one backfill per DAG at a time
    run_airflow(env, "backfill", "create", "--dag-id", "ivr_calls_daily", "--from-date", DAY.isoformat(),
                "--to-date", DAY.isoformat(), "--reprocess-behavior", "completed")
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        runs = rest_client(env).request(
            "GET", "/api/v2/dags/ivr_calls_daily/dagRuns?limit=100&run_type=backfill&order_by=-id").json()["dag_runs"]
        run = next((r for r in runs if r["logical_date"][:10] == DAY.isoformat()), None)
        if run and run["state"] in ("success", "failed"):
            assert run["state"] == "success", (logs / "scheduler.log").read_text(errors="replace")[-4000:]
            settle_backfills(env, "ivr_calls_daily")
            return run["dag_run_id"]
        time.sleep(2)
    pytest.fail("backfill did not finish\n" + (logs / "scheduler.log").read_text(errors="replace")[-4000:])


def test_a_changed_module_reaches_the_next_task_without_a_restart(tmp_path):
    ensure_tables()
    reset_day(DAY)
    synthetic.write_calls([make_call(970_000 + DAY.toordinal() % 1000, at(DAY, 9))])
    copy = tmp_path / "include"
    shutil.copytree(INCLUDE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(copy), os.environ.get("PYTHONPATH")])),
           "IVR_TIMEZONE": "UTC", "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}"}
    env.pop("AIRFLOW_VAR_IVR_TIMEZONE", None)
    marker = f"fresh-preload marker {secrets.token_hex(4)}"
    try:
        with ivr_airflow(env, tmp_path):
            run_id = _backfill_and_wait(env, tmp_path)
            # The deploy: plan logs a marker from now on. Same size or not, a new mtime.
            runtime = copy / "callcentre" / "ivr" / "runtime.py"
            source = runtime.read_text()
            anchor = "    opts = options(context)\n    day = business_date(context)\n    if not opts.dry_run:\n"
            assert source.count(anchor) == 1, "plan() changed: update this test's anchor"
            runtime.write_text(source.replace(anchor, f"    log.info({marker!r})\n" + anchor))
            st = runtime.stat()
            os.utime(runtime, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
            assert _backfill_and_wait(env, tmp_path) == run_id  # the same run, cleared and run again
    finally:
        reset_day(DAY)

    run_dir = Path(env["AIRFLOW_HOME"]) / "logs" / "dag_id=ivr_calls_daily" / f"run_id={run_id}"
    plan_logs = sorted((run_dir / "task_id=plan").glob("attempt=*.log"), key=lambda p: int(p.stem.split("=")[1]))
    assert len(plan_logs) >= 2, sorted(str(p) for p in run_dir.rglob("*.log"))
    assert marker not in plan_logs[-2].read_text()  # before the change
    assert marker in plan_logs[-1].read_text()  # after it, with the same scheduler and forkserver
