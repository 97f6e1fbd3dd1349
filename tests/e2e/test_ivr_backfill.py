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
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from callcentre.ivr import synthetic
from tests.e2e.airflow_processes import AIRFLOW, free_port, process_group, run_airflow, run_states, settle_backfills
from tests.integration.ivr_support import ensure_tables, ledger, make_call, metrics_row, query, reset_day

# A day no earlier test used: a backfill of an existing run clears that run (no new deadline).
DAY = date(2020, 1, 1) + timedelta(days=secrets.randbelow(2000))
TIMEOUT_S = 240


@pytest.fixture
def airflow_env(tmp_path, fake_slack):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "CALLCENTRE_IN_PROCESS_TEST"}
    env.update(AIRFLOW__API__PORT=str(port), AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}")
    run_airflow(env, "dags", "reserialize")
    with process_group([AIRFLOW, "api-server", "--port", str(port), "--host", "127.0.0.1", "--workers", "1"], env, tmp_path / "api.log"), \
         process_group([AIRFLOW, "scheduler"], env, tmp_path / "scheduler.log"), \
         process_group([AIRFLOW, "triggerer"], env, tmp_path / "triggerer.log"):
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
    tail = "\n".join((logs / name).read_text(errors="replace")[-3000:] for name in ("scheduler.log", "triggerer.log"))
    pytest.fail(f"timed out waiting for {what}\n{tail}")


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
        run_airflow(airflow_env, "backfill", "create", "--dag-id", "ivr_calls_daily", "--from-date", DAY.isoformat(),
                 "--to-date", DAY.isoformat(), "--reprocess-behavior", "completed")

        def backfill_state():
            return run_states(airflow_env, "ivr_calls_daily", "backfill").get(DAY.isoformat())

        _wait_for(lambda: backfill_state() in ("success", "failed"), f"the backfill run of {DAY}", tmp_path)
        assert backfill_state() == "success"
        assert {r[0] for r in query("SELECT call_id FROM analytics.calls WHERE business_date = %s", (DAY,))} == {900_001, 900_002}
        assert metrics_row(DAY)["source_calls"] == 2
        assert sorted({row[0] for row in ledger(DAY)}) == list(range(24))

        # D's deadline (D+1 06:00) passed long ago: the triggerer posts the deadline alert. (The
        # scheduler also creates the latest scheduled run, yesterday's; after 06:00 its deadline
        # has passed too and it gets its own alert: pick D's.)
        def alert_of_day():
            return next((m["text"] for m in fake_slack.messages
                         if "Deadline missed" in m["text"] and f"logical date {DAY}" in m["text"]), None)

        _wait_for(lambda: alert_of_day() is not None, f"the deadline alert of {DAY} in Slack", tmp_path)
        alert = alert_of_day()
        assert "ivr_calls_daily" in alert and "not loaded" in alert and "backfill__" in alert
    finally:
        settle_backfills(airflow_env, "ivr_calls_daily")
        for day in (DAY, DAY + timedelta(days=1), DAY - timedelta(days=1)):
            reset_day(day)
