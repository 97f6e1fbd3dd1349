"""The date contract under a real scheduler, for an IVR west of UTC while Airflow's
[core] default_timezone stays UTC (a common production setting): `airflow backfill create
--from-date D1 --to-date D2` loads exactly local days D1..D2, and the REST trigger the web app or
the UI makes with logical_date D (UTC midnight) loads local day D.

Starts `airflow api-server` and `airflow scheduler` (LocalExecutor), each in its own process
group, stopped by group at the end.
"""

from __future__ import annotations

import os
import secrets
from datetime import date, datetime, timedelta

import pytest

from callcentre.ivr import synthetic
from tests.e2e.airflow_processes import free_port, ivr_airflow, rest_client, run_airflow, run_states, wait_for
from tests.integration.ivr_support import ensure_tables, loaded_ids, make_call, metrics_row, reset_day

ZONE = "America/Mexico_City"
# Three consecutive days no other test uses (a backfill of an existing run would clear it).
FIRST = date(2021, 1, 4) + timedelta(days=3 * secrets.randbelow(400))
DAYS = [FIRST, FIRST + timedelta(days=1), FIRST + timedelta(days=2)]
TIMEOUT_S = 600  # generous: a busy 2-core machine schedules slowly; a pass takes ~1-2 min


@pytest.fixture
def western_airflow(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW_VAR_IVR_TIMEZONE"}
    env.update(IVR_TIMEZONE=ZONE, AIRFLOW__CORE__DEFAULT_TIMEZONE="UTC",
               AIRFLOW__API__PORT=str(port), AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}")
    with ivr_airflow(env, tmp_path):
        yield env


def test_backfill_and_rest_trigger_of_a_western_zone_load_the_named_local_days(western_airflow, tmp_path):
    ensure_tables()
    around = [DAYS[0] - timedelta(days=1), *DAYS, DAYS[-1] + timedelta(days=1)]
    for day in around:
        reset_day(day)
    # Per day: a call one second after local midnight and one a second before the next; the
    # days around get calls that must stay unloaded.
    calls = []
    for n, day in enumerate(around):
        midnight = datetime.combine(day, datetime.min.time())
        calls += [make_call(950_000 + 10 * n, midnight + timedelta(seconds=1)),
                  make_call(950_001 + 10 * n, midnight + timedelta(days=1, seconds=-1))]
    synthetic.write_calls(calls)
    expected = {day: {950_000 + 10 * n, 950_001 + 10 * n} for n, day in enumerate(around)}
    try:
        # The backfill and the web app / UI trigger (logical_date D at UTC midnight), side by side.
        run_airflow(western_airflow, "backfill", "create", "--dag-id", "ivr_calls_daily",
                    "--from-date", DAYS[0].isoformat(), "--to-date", DAYS[1].isoformat())
        response = rest_client(western_airflow).request(
            "POST", "/api/v2/dags/ivr_calls_daily/dagRuns",
            {"logical_date": f"{DAYS[2].isoformat()}T00:00:00Z", "dag_run_id": f"rest__{DAYS[2]}"})
        assert response.status_code in (200, 201), response.text

        def backfill_states():  # of any day around ours: a run of D1-1 or D2+1 would be a shifted range
            ours = {d.isoformat() for d in around}
            return {d: s for d, s in run_states(western_airflow, "ivr_calls_daily", "backfill").items() if d in ours}

        def rest_state():
            runs = rest_client(western_airflow).request("GET", f"/api/v2/dags/ivr_calls_daily/dagRuns/rest__{DAYS[2]}").json()
            return runs.get("state")

        wait_for(lambda: len(backfill_states()) == 2 and set(backfill_states().values()) <= {"success", "failed"},
                 "the backfill's two runs", tmp_path, TIMEOUT_S)
        # Logical dates are local midnights (06:00 UTC): the UTC date is the local day.
        assert backfill_states() == {DAYS[0].isoformat(): "success", DAYS[1].isoformat(): "success"}
        wait_for(lambda: rest_state() in ("success", "failed"), "the REST-triggered run", tmp_path, TIMEOUT_S)
        assert rest_state() == "success"

        for day in DAYS:
            assert loaded_ids(day) == expected[day], day
            assert metrics_row(day)["source_calls"] == 2
        assert loaded_ids(around[0]) == set() and loaded_ids(around[-1]) == set()
    finally:
        for day in around:
            reset_day(day)
