"""ivr_calls_daily and ivr_deadline_watch under a real scheduler and dag-processor.

* `airflow backfill create --from-date D --to-date D` loads business day D (not a second earlier,
  not a second later), and the deadline watcher raises no alert for that old day (its deadline
  passed long before the watcher's lookback window);
* a run that fails in several hours, at the same time, posts exactly one Slack message, sent by the
  DAG's failure callback in the dag-processor (where Airflow 3 runs DAG callbacks).

Starts `airflow api-server` (the workers' execution API), `airflow scheduler` (LocalExecutor) and
`airflow dag-processor` (DAG callbacks), each in its own process group, stopped by group at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from callcentre.ivr import synthetic
from tests.e2e.airflow_processes import (
    AIRFLOW,
    free_port,
    process_group,
    rest_client,
    run_airflow,
    run_states,
    settle_backfills,
)
from tests.integration.ivr_support import at, ensure_tables, ledger, make_call, metrics_row, query, reset_day

# Days no earlier test used: a backfill of an existing run clears that run, and a trigger needs a
# logical date that has no run yet.
DAY = date(2020, 1, 1) + timedelta(days=secrets.randbelow(2000))
FAILING_DAY = date(2026, 1, 2) + timedelta(days=secrets.randbelow(60))
TIMEOUT_S = 240


@pytest.fixture
def airflow_env(tmp_path, fake_slack):
    port = free_port()
    env = dict(os.environ, AIRFLOW__API__PORT=str(port), AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}")
    run_airflow(env, "dags", "reserialize")
    with process_group([AIRFLOW, "api-server", "--port", str(port), "--host", "127.0.0.1", "--workers", "1"], env, tmp_path / "api.log"), \
         process_group([AIRFLOW, "scheduler"], env, tmp_path / "scheduler.log"), \
         process_group([AIRFLOW, "dag-processor"], env, tmp_path / "dag-processor.log"):
        run_airflow(env, "dags", "unpause", "ivr_calls_daily")
        try:
            yield env
        finally:
            run_airflow(env, "dags", "pause", "ivr_calls_daily")


def _wait_for(predicate, what: str, logs: Path):
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(2)
    tail = "\n".join((logs / name).read_text(errors="replace")[-3000:] for name in ("scheduler.log", "dag-processor.log"))
    pytest.fail(f"timed out waiting for {what}\n{tail}")


def _run_state(env, dag_id: str, run_id: str) -> str | None:
    return rest_client(env).request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json().get("state")


def test_backfill_loads_the_day_without_a_deadline_alert_and_a_failed_run_alerts_once(airflow_env, fake_slack, tmp_path):
    ensure_tables()
    for day in (DAY, FAILING_DAY):
        reset_day(day)
    midnight = datetime.combine(DAY, datetime.min.time())
    synthetic.write_calls([
        make_call(900_001, midnight + timedelta(seconds=5)),
        make_call(900_002, midnight + timedelta(hours=23, minutes=59, seconds=50)),
        make_call(900_004, midnight - timedelta(seconds=1)),  # the day before: must not be loaded
        # FAILING_DAY, triggered with invalid_rows=fail: hours 03 and 07 fail at once (no retry)
        make_call(900_011, at(FAILING_DAY, 3, 10), disposition="3004445566"),
        make_call(900_012, at(FAILING_DAY, 7, 20), duration=-9),
    ])
    failing_run = f"e2e_failing__{secrets.token_hex(4)}"
    try:
        run_airflow(airflow_env, "backfill", "create", "--dag-id", "ivr_calls_daily", "--from-date", DAY.isoformat(),
                    "--to-date", DAY.isoformat(), "--reprocess-behavior", "completed")
        run_airflow(airflow_env, "dags", "trigger", "ivr_calls_daily", "--run-id", failing_run,
                    "-l", f"{FAILING_DAY.isoformat()}T00:00:00+00:00", "-c", json.dumps({"invalid_rows": "fail"}))

        def backfill_state():
            return run_states(airflow_env, "ivr_calls_daily", "backfill").get(DAY.isoformat())

        _wait_for(lambda: backfill_state() in ("success", "failed"), f"the backfill run of {DAY}", tmp_path)
        assert backfill_state() == "success"
        assert {r[0] for r in query("SELECT call_id FROM analytics.calls WHERE business_date = %s", (DAY,))} == {900_001, 900_002}
        assert metrics_row(DAY)["source_calls"] == 2
        assert sorted({row[0] for row in ledger(DAY)}) == list(range(24))

        # The failed run: one message, from the DAG callback the dag-processor runs.
        def run_alerts():
            return [m["text"] for m in fake_slack.messages if failing_run in m["text"]]

        _wait_for(lambda: run_alerts(), f"the Slack alert of run {failing_run}", tmp_path)
        assert _run_state(airflow_env, "ivr_calls_daily", failing_run) == "failed"
        [alert] = run_alerts()
        assert f"business date {FAILING_DAY}" in alert and "load_hour: hours 03, 07" in alert, alert
        assert "3004445566" not in alert
        assert query("SELECT count(*) FROM analytics.alert_log WHERE kind = 'run_failed' AND run_id = %s",
                     (failing_run,)) == [(1,)]

        # The watcher, run now: the old backfilled day is outside its lookback, so no alert for it.
        run_airflow(airflow_env, "dags", "unpause", "ivr_deadline_watch")
        watch_run = f"e2e_watch__{secrets.token_hex(4)}"
        run_airflow(airflow_env, "dags", "trigger", "ivr_deadline_watch", "--run-id", watch_run)
        _wait_for(lambda: _run_state(airflow_env, "ivr_deadline_watch", watch_run) in ("success", "failed"),
                  "the deadline watcher's run", tmp_path)
        assert _run_state(airflow_env, "ivr_deadline_watch", watch_run) == "success"
        xcom = rest_client(airflow_env).request(
            "GET", f"/api/v2/dags/ivr_deadline_watch/dagRuns/{watch_run}/taskInstances/check_deadlines/xcomEntries/return_value"
        ).json()["value"]
        summary = json.loads(xcom) if isinstance(xcom, str) else xcom
        assert len(summary["days_due"]) == 3 and str(DAY) not in summary["days_due"], summary
        assert not any(f"IVR business day {DAY} " in m["text"] for m in fake_slack.messages)
    finally:
        settle_backfills(airflow_env, "ivr_calls_daily")
        for day in (DAY, FAILING_DAY, DAY - timedelta(days=1)):
            reset_day(day)
