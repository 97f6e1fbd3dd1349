"""Airflow 2.11: `airflow dags backfill -s D1 -e D2` over a day whose local midnight does not exist
(America/Santiago 2024-09-08: clocks jump 00:00 -> 01:00), with IVR_TIMEZONE and [core]
default_timezone both America/Santiago, as docker-compose deploys them. One run per local day,
each stamped with the instant its day begins; exactly those days loaded, calls a second either
side of the range stay out. The runs load four hours each (param `hours`) to stay short.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callcentre.common.compat import IS_AIRFLOW_2
from callcentre.ivr import synthetic
from callcentre.ivr.business_day import day_start
from tests.e2e.airflow_processes import AIRFLOW
from tests.integration.ivr_support import ensure_tables, make_call, metrics_row, query, reset_day

pytestmark = pytest.mark.skipif(not IS_AIRFLOW_2, reason="the 2.11 leg's `dags backfill`")

ZONE = "America/Santiago"
GAP = date(2024, 9, 8)  # not a day other tests use: they may run at the same time
DAYS = [GAP - timedelta(days=1), GAP, GAP + timedelta(days=1)]
HOURS = [0, 1, 12, 23]
SINCE, UNTIL = datetime(2024, 9, 1, tzinfo=ZoneInfo("UTC")), datetime(2024, 9, 12, tzinfo=ZoneInfo("UTC"))


def _backfill_runs(since: datetime, until: datetime) -> list[tuple[datetime, str]]:
    """(logical date in UTC, state) of ivr_calls_daily's backfill runs in [since, until]."""
    import airflow.providers.fab.auth_manager.models  # noqa: F401 - the ORM's dag_run_note refers to ab_user
    from airflow.models import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(select(DagRun.execution_date, DagRun.state).where(
            DagRun.dag_id == "ivr_calls_daily", DagRun.run_type == "backfill",
            DagRun.execution_date.between(since, until)).order_by(DagRun.execution_date)).all()
    return [(when.astimezone(ZoneInfo("UTC")), str(state)) for when, state in rows]


def _delete_backfill_runs(since: datetime, until: datetime) -> None:
    """Leave no run behind: test_af2_scheduler lists every backfill run of the DAG."""
    import airflow.providers.fab.auth_manager.models  # noqa: F401
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == "ivr_calls_daily",
                                     DagRun.execution_date.between(since, until)).delete(synchronize_session=False)


@pytest.fixture
def days():
    ensure_tables()
    touched = [DAYS[0] - timedelta(days=1), *DAYS, DAYS[-1] + timedelta(days=1)]
    for day in touched:
        reset_day(day)
    yield
    for day in touched:
        reset_day(day)
    _delete_backfill_runs(SINCE, UNTIL)


def test_dags_backfill_over_a_day_without_a_midnight_loads_each_named_day(days, tmp_path):
    env = dict(os.environ, IVR_TIMEZONE=ZONE, AIRFLOW__CORE__DEFAULT_TIMEZONE=ZONE)
    env.pop("AIRFLOW_VAR_IVR_TIMEZONE", None)
    first = datetime.combine(DAYS[0], datetime.min.time())
    synthetic.write_calls([
        make_call(970_001, first - timedelta(seconds=1)),                 # the day before the range
        make_call(970_002, first),                                        # D1's first second
        make_call(970_003, datetime(2024, 9, 7, 23, 59, 59)),             # the last second before the gap
        make_call(970_004, datetime(2024, 9, 8, 1, 0, 0)),                # the gap day's first second (01:00)
        make_call(970_005, datetime(2024, 9, 8, 23, 59, 59)),
        make_call(970_006, datetime(2024, 9, 9, 0, 0, 0)),
        make_call(970_007, datetime(2024, 9, 10, 0, 0, 0)),                # the day after the range
    ])
    cmd = [AIRFLOW, "dags", "backfill", "-s", DAYS[0].isoformat(), "-e", DAYS[-1].isoformat(),
           "--reset-dagruns", "-y", "-c", json.dumps({"hours": HOURS}), "ivr_calls_daily"]
    # 2.x's backfill can end "deadlocked" (apache/airflow#33994): the runbook runs it again.
    for attempt in range(1, 4):
        out = subprocess.run(cmd if attempt == 1 else [c for c in cmd if c not in ("--reset-dagruns", "-y")],
                             env=env, capture_output=True, text=True, timeout=600)
        (tmp_path / f"backfill-{attempt}.out").write_text(out.stdout + out.stderr)
        if out.returncode == 0:
            break
        assert "BackfillJob is deadlocked" in out.stdout + out.stderr, out.stderr[-3000:]
    assert out.returncode == 0, f"still deadlocked after {attempt} runs of the backfill"

    runs = _backfill_runs(SINCE, UNTIL)
    # 2024-09-08 01:00 -03: the instant the day begins.
    assert runs == [(day_start(d, ZoneInfo(ZONE)), "success") for d in DAYS], runs
    got = query("SELECT call_id, business_date FROM analytics.calls WHERE call_id BETWEEN 970001 AND 970007 ORDER BY 1")
    assert got == [(970_002, DAYS[0]), (970_003, DAYS[0]), (970_004, GAP), (970_005, GAP), (970_006, DAYS[2])]
    assert [metrics_row(d)["source_calls"] for d in DAYS] == [2, 2, 1]
