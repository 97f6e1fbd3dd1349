"""Airflow 2.11: the loaded day is a Dataset event with the same extra as the 3.x Asset event
(tests/integration/test_asset_events.py), from a real run (dag.test)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from callcentre.common.assets import IVR_DAY_LOADED
from callcentre.ivr import synthetic
from tests.airflow_compat import dag_test
from tests.integration.ivr_support import at, forget_alerts, local_midnight, make_call, parse_ivr_dag, reset_day

DAY = date(2017, 5, 16)  # a day no other test uses


@pytest.fixture
def day():
    reset_day(DAY)
    forget_alerts(DAY)
    yield DAY
    reset_day(DAY)


def test_a_loaded_day_is_a_dataset_event_naming_it(day, fake_slack):
    from sqlalchemy import select

    from airflow.models.dataset import DatasetEvent, DatasetModel
    from airflow.utils.session import create_session

    assert type(IVR_DAY_LOADED).__name__ == "Dataset"
    synthetic.write_calls([make_call(9_170_600_000 + i, at(day, 7, i)) for i in range(3)])
    started = datetime.now(timezone.utc)  # 2.x names every dag.test run of a day alike: older events share its id
    dag = parse_ivr_dag()
    # 2.x records an event only for a Dataset it knows: the DAG processor registers the DAG's
    # outlets when it parses the file; dag.test alone does not (a fresh metadata DB has none).
    dag.sync_to_db()
    run = dag_test(dag, local_midnight(day))
    assert run.state == "success"
    with create_session() as session:
        extras = list(session.scalars(
            select(DatasetEvent.extra).join(DatasetModel, DatasetEvent.dataset_id == DatasetModel.id)
            .where(DatasetModel.uri == IVR_DAY_LOADED.uri, DatasetEvent.source_run_id == run.run_id,
                   DatasetEvent.timestamp >= started)))
    assert extras == [{"business_date": str(day), "source_calls": 3, "total_calls": 3, "rejected_calls": 0,
                       "run_id": run.run_id}]
