"""The same DAG files on Airflow 2.11: they parse, keep their recovery wiring, and use 2.x's own
forms where 3.x has none (a native SLA with an sla_miss_callback, /api/v1, `airflow dags backfill`).

Runs in the 2.11 leg only (`make test AIRFLOW=2`; tests/conftest.py selects it)."""

from __future__ import annotations

import runpy
from datetime import timedelta
from pathlib import Path

import pytest

from callcentre.common import airflow_urls, compat
from tests.airflow_compat import dag_bag
from tests.dag_checks import task_default_problems

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
ALL_DAGS = {"ivr_calls_daily", "ivr_deadline_watch", "ivr_drift_check", "scraping_upload", "scraping_jobs_reconcile"}


@pytest.fixture(scope="module")
def dagbag():
    return dag_bag(DAGS_DIR)


def test_this_leg_runs_airflow_2_11():
    import airflow

    assert airflow.__version__.startswith("2.11."), airflow.__version__
    assert compat.IS_AIRFLOW_2 and compat.REST_API_PREFIX == "/api/v1"


def test_every_dag_file_imports_on_2_11(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == ALL_DAGS


def test_every_task_keeps_retries_owner_failure_alert_and_timeout(dagbag):
    assert task_default_problems(dagbag) == []


def test_ivr_dag_pools_backoff_params_and_mapped_hours(dagbag):
    dag = dagbag.dags["ivr_calls_daily"]
    load = dag.get_task("load_hour")
    assert load.pool == "ivr_mariadb" and dag.get_task("reconcile").pool == "ivr_mariadb"
    assert load.retry_exponential_backoff is True and load.max_retry_delay == timedelta(minutes=10)
    assert load.map_index_template == "{{ hour_label }}"
    assert dag.max_consecutive_failed_dag_runs == 5
    assert set(dag.params.keys()) == {"dry_run", "hours", "invalid_rows", "max_reject_ratio", "min_calls", "chunk_size"}
    assert dagbag.dags["scraping_upload"].get_task("lookup_batch").pool == "scraping_api"


def test_the_deadline_is_a_native_sla_on_the_last_task_with_a_slack_callback(dagbag):
    from callcentre.ivr import deadline

    dag = dagbag.dags["ivr_calls_daily"]
    # 2.x measures an SLA from the logical date (the start of the IVR day): one day + 6 h (the default).
    assert dag.get_task("reconcile").sla == timedelta(hours=30)
    assert [t.task_id for t in dag.tasks if t.sla] == ["reconcile"]
    assert dag.sla_miss_callback is deadline.sla_missed


def test_a_zero_deadline_sets_no_sla(monkeypatch):
    monkeypatch.setenv("IVR_LOAD_DEADLINE_HOURS", "0")
    dag = runpy.run_path(str(DAGS_DIR / "ivr_calls_daily.py"))["ivr_calls_daily"]()
    assert dag.get_task("reconcile").sla is None


def test_the_timetable_survives_serialization_through_its_plugin(dagbag):
    """The scheduler and webserver only see the serialized DAG: the plugin must register the class."""
    from airflow import plugins_manager
    from airflow.serialization.serialized_objects import SerializedDAG

    from callcentre.ivr.timetable import IvrBusinessDayTimetable

    plugins_manager.ensure_plugins_loaded()
    assert plugins_manager.import_errors == {}
    assert {"ivr_timetable", "scraping_jobs"} <= {p.name for p in plugins_manager.plugins}
    restored = SerializedDAG.from_dict(SerializedDAG.to_dict(dagbag.dags["ivr_calls_daily"]))
    assert isinstance(restored.timetable, IvrBusinessDayTimetable)
    assert restored.timetable.summary == dagbag.dags["ivr_calls_daily"].timetable.summary


def test_operator_hints_name_the_2x_cli_and_ui():
    assert airflow_urls.backfill_command("ivr_calls_daily", "2026-11-01", "2026-11-02") == (
        "airflow dags backfill --rerun-failed-tasks -s 2026-11-01 -e 2026-11-02 ivr_calls_daily"
    )
    assert airflow_urls.dag_run_url("ivr_calls_daily", "scheduled__x+1").endswith(
        "/dags/ivr_calls_daily/grid?dag_run_id=scheduled__x%2B1"
    )
