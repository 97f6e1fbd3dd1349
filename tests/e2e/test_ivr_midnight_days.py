"""Days whose local midnight does not exist or happens twice, under a real scheduler, with
IVR_TIMEZONE and [core] default_timezone both America/Havana (docker-compose's setting: one zone
for the IVR and the CLI). Havana's clocks jump 00:00 -> 01:00 on 2025-03-09 and go back
01:00 -> 00:00 on 2025-11-02. `airflow backfill create` with bounds on the first (the CLI stamps
them 01:00 -04, the instant the day begins), the REST trigger of the second at its first
midnight, then a backfill with bounds on the second (stamped at its second midnight) load exactly
those local days, one run each; calls one second either side stay out.

Its own metadata schema (the IVR zone differs from the other tests'), `airflow api-server` and
`airflow scheduler` (LocalExecutor) each in its own process group, stopped by group at the end.
The runs load four hours each (param `hours`): the day's first and last, and the repeated one.
"""

from __future__ import annotations

import os
import subprocess
from datetime import date, datetime, timedelta

import pytest

from callcentre.ivr import synthetic
from tests.e2e.airflow_processes import (
    AIRFLOW,
    ivr_airflow,
    private_metadata_env,
    rest_client,
    run_airflow,
    run_states,
    settle_backfills,
    wait_for,
)
from tests.integration.ivr_support import ensure_tables, loaded_ids, make_call, metrics_row, reset_day

ZONE = "America/Havana"
MIDNIGHT_GAP = date(2025, 3, 9)      # 00:00-00:59 does not exist: the day begins at 01:00 -04
DOUBLE_MIDNIGHT = date(2025, 11, 2)  # 00:00-00:59 happens twice: the day begins at the first
HOURS = [0, 1, 12, 23]
TIMEOUT_S = 300
METADATA_SCHEMA = "ivr_midnight_e2e"


@pytest.fixture
def havana_airflow(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW_VAR_IVR_TIMEZONE"}
    env.update(private_metadata_env(METADATA_SCHEMA))
    env.update(IVR_TIMEZONE=ZONE, AIRFLOW__CORE__DEFAULT_TIMEZONE=ZONE,
               AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False")  # only this test's runs, no "yesterday"
    run_airflow(env, "db", "migrate")
    run_airflow(env, "pools", "set", "ivr_mariadb", "4", "Concurrent queries against the IVR MariaDB")
    # An earlier pass's runs of the same days would make the backfill skip them (the first pass
    # has no DAG to delete yet).
    subprocess.run([AIRFLOW, "dags", "delete", "ivr_calls_daily", "--yes"], env=env, capture_output=True, timeout=180)
    with ivr_airflow(env, tmp_path):
        yield env


def _calls(day: date, first_id: int) -> tuple[list[tuple], set[int]]:
    """The day's first and last seconds and its repeated hour, and a call one second outside
    each end of it (on the days before and after)."""
    midnight = datetime.combine(day, datetime.min.time())
    first = midnight + timedelta(hours=1) if day == MIDNIGHT_GAP else midnight
    inside = [first, first + timedelta(minutes=30), midnight + timedelta(hours=12), midnight + timedelta(days=1, seconds=-1)]
    outside = [midnight - timedelta(seconds=1), midnight + timedelta(days=1)]
    calls = [make_call(first_id + n, start) for n, start in enumerate(inside + outside)]
    return calls, {first_id + n for n in range(len(inside))}


def test_backfill_and_rest_trigger_load_days_without_a_midnight_or_with_two(havana_airflow, tmp_path):
    ensure_tables()
    around = [d + timedelta(days=n) for d in (MIDNIGHT_GAP, DOUBLE_MIDNIGHT) for n in (-1, 0, 1)]
    for day in around:
        reset_day(day)
    gap_calls, gap_inside = _calls(MIDNIGHT_GAP, 960_000)
    double_calls, double_inside = _calls(DOUBLE_MIDNIGHT, 960_100)
    synthetic.write_calls(gap_calls + double_calls)
    conf = f'{{"hours": {HOURS}}}'
    try:
        # Bounds ON the gap day, typed as a bare date in the CLI's zone (the issue's single-day range).
        run_airflow(havana_airflow, "backfill", "create", "--dag-id", "ivr_calls_daily", "--from-date",
                    MIDNIGHT_GAP.isoformat(), "--to-date", MIDNIGHT_GAP.isoformat(), "--dag-run-conf", conf)
        # The UI/REST trigger of the double-midnight day at its first midnight (-04:00).
        response = rest_client(havana_airflow).request(
            "POST", "/api/v2/dags/ivr_calls_daily/dagRuns",
            {"logical_date": f"{DOUBLE_MIDNIGHT.isoformat()}T00:00:00-04:00", "dag_run_id": f"rest__{DOUBLE_MIDNIGHT}",
             "conf": {"hours": HOURS}})
        assert response.status_code in (200, 201), response.text

        def backfill_states():  # of any day around: a run of the day before or after would be a shifted range
            return run_states(havana_airflow, "ivr_calls_daily", "backfill")

        def rest_state():
            return rest_client(havana_airflow).request(
                "GET", f"/api/v2/dags/ivr_calls_daily/dagRuns/rest__{DOUBLE_MIDNIGHT}").json().get("state")

        def ended():
            return set(backfill_states().values()) <= {"success", "failed"} and rest_state() in ("success", "failed")

        wait_for(lambda: backfill_states() and ended(), "the backfill's run and the REST-triggered run", tmp_path, TIMEOUT_S)
        # Logical dates are the days' first instants (05:00 and 04:00 UTC): the UTC date is the local day.
        assert backfill_states() == {MIDNIGHT_GAP.isoformat(): "success"}
        assert rest_state() == "success"

        # Bounds ON the double-midnight day: the CLI stamps them at its second midnight (05:00
        # UTC); they name the day, whose run (the REST one, at the first midnight) is redone.
        settle_backfills(havana_airflow, "ivr_calls_daily")
        run_airflow(havana_airflow, "backfill", "create", "--dag-id", "ivr_calls_daily", "--from-date",
                    DOUBLE_MIDNIGHT.isoformat(), "--to-date", DOUBLE_MIDNIGHT.isoformat(), "--dag-run-conf", conf,
                    "--reprocess-behavior", "completed")
        wait_for(lambda: DOUBLE_MIDNIGHT.isoformat() in backfill_states() and ended(), "the second backfill", tmp_path, TIMEOUT_S)
        assert backfill_states() == {MIDNIGHT_GAP.isoformat(): "success", DOUBLE_MIDNIGHT.isoformat(): "success"}

        assert loaded_ids(MIDNIGHT_GAP) == gap_inside
        assert loaded_ids(DOUBLE_MIDNIGHT) == double_inside
        for day in (MIDNIGHT_GAP, DOUBLE_MIDNIGHT):
            assert metrics_row(day)["source_calls"] == 4
            assert loaded_ids(day - timedelta(days=1)) == set() and loaded_ids(day + timedelta(days=1)) == set()
    finally:
        for day in around:
            reset_day(day)
