"""Downstream consumers: the asset events ivr_calls_daily and scraping_upload emit in the metadata
DB after real runs (dag.test), and the consumer example of docs/ivr.md scheduled on that asset."""

from __future__ import annotations

import re
from datetime import date

import pytest

from callcentre.common.assets import IVR_DAY_LOADED, SCRAPING_RESULTS
from callcentre.ivr import synthetic
from tests.airflow_compat import dag_test
from tests.integration.ivr_support import at, forget_alerts, local_midnight, make_call, parse_ivr_dag, reset_day
from tests.scraping_fixtures import *  # noqa: F403 - fixtures
from tests.scraping_fixtures import ROOT, make_workbook, random_numbers

DAY = date(2017, 5, 9)  # a day no other test uses


@pytest.fixture
def day():
    reset_day(DAY)
    forget_alerts(DAY)
    yield DAY
    reset_day(DAY)


def events_of(target, run_id: str) -> list[dict]:
    """The extras of the events ``run_id`` emitted for ``target``, from the metadata DB."""
    from sqlalchemy import select

    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return list(session.scalars(
            select(AssetEvent.extra).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == target.uri, AssetEvent.source_run_id == run_id).order_by(AssetEvent.id)))


def test_a_loaded_day_and_a_reloaded_hour_each_emit_the_day(day, fake_slack):
    calls = [make_call(9_170_500_100 + i, at(day, 4, i)) for i in range(20)]
    synthetic.write_calls([*calls, make_call(9_170_500_002, at(day, 5), duration=-3)])
    full = dag_test(parse_ivr_dag(), local_midnight(day))
    assert full.state == "success"
    assert events_of(IVR_DAY_LOADED, full.run_id) == [{
        "business_date": str(day), "source_calls": 21, "total_calls": 20, "rejected_calls": 1, "run_id": full.run_id}]
    # One hour again (dag.test replaces the day's run: its events stay, keyed by the old run id).
    hour = dag_test(parse_ivr_dag(), local_midnight(day), {"hours": [4]})
    assert hour.state == "success"
    assert [e["business_date"] for e in events_of(IVR_DAY_LOADED, hour.run_id)] == [str(day)]


def test_a_dry_run_emits_nothing(day, fake_slack):
    synthetic.write_calls([make_call(9_170_500_003, at(day, 4))])
    dry = dag_test(parse_ivr_dag(), local_midnight(day), {"dry_run": True})
    assert dry.state == "success"
    states = {ti.task_id: ti.state for ti in dry.get_task_instances()}
    assert states["reconcile"] == "skipped"
    assert events_of(IVR_DAY_LOADED, dry.run_id) == []


def _docs_example(doc: str, heading: str) -> str:
    section = doc.split(heading, 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_docs_consumer_is_scheduled_on_the_loaded_day():
    from airflow.serialization.serialized_objects import DagSerialization

    code = _docs_example((ROOT / "docs" / "ivr.md").read_text(), "## Downstream DAGs: scheduled on a loaded day")
    namespace: dict = {}
    exec(compile(code, "docs/ivr.md", "exec"), namespace)
    consumer = namespace["calls_by_queue"]()
    assert consumer.dag_id == "calls_by_queue"
    # What the scheduler stores and reads: a DAG triggered by that asset alone.
    stored = DagSerialization.from_dict(DagSerialization.to_dict(consumer))
    assert [a.uri for _, a in stored.timetable.asset_condition.iter_assets()] == [IVR_DAY_LOADED.uri]
    # Its task reads the days from the events it is given.
    summarise = consumer.get_task("summarise").python_callable
    events = type("Event", (), {"extra": {"business_date": "2017-05-09"}})
    assert summarise(triggering_asset_events={IVR_DAY_LOADED: [events]}) == ["2017-05-09"]


def test_a_results_workbook_emits_its_job(run_upload, scraping_api, tmp_path, fake_slack):
    path = make_workbook(tmp_path / "lista.xlsx", [[f"c{i}", n] for i, n in enumerate(random_numbers(3))])
    dag_run, job = run_upload(path)
    assert dag_run.state == "success" and job["status"] == "completed"
    assert events_of(SCRAPING_RESULTS, dag_run.run_id) == [{"job_id": job["id"], "processed_numbers": 3}]
