"""Every DAG in dags/ imports cleanly, is wired for recovery, and stays light to parse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dag_checks import task_default_problems

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))
# Modules that must not be imported while parsing (drivers, HTTP clients, spreadsheets).
HEAVY_MODULES = ("openpyxl", "MySQLdb", "psycopg", "psycopg2", "requests", "pandas", "httpx", "slack_sdk")


@pytest.fixture(scope="module")
def dagbag():
    from tests.airflow_compat import dag_bag

    return dag_bag(DAGS_DIR)


def test_dagbag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "ivr_calls_daily" in dagbag.dag_ids


def test_every_task_has_retries_owner_and_failure_alert(dagbag):
    assert task_default_problems(dagbag) == []


def test_ivr_dag_shape(dagbag):
    dag = dagbag.dags["ivr_calls_daily"]
    load = dag.get_task("load_hour")
    assert load.pool == "ivr_mariadb"
    assert load.retry_exponential_backoff and load.max_retry_delay is not None
    assert dag.max_consecutive_failed_dag_runs > 0
    assert set(dag.params.keys()) == {"dry_run", "hours", "invalid_rows", "max_reject_ratio", "min_calls", "chunk_size"}
    assert [t.task_id for t in dag.get_task("reconcile").upstream_list] == ["load_hour"]
    # One graph on both versions: plan, the run's only root (2.11's backfill expands no other mapped
    # source), is the sensor that waits for the day to close, so no hour loads before it has.
    plan = dag.get_task("plan")
    assert plan.upstream_list == [] and plan.mode == "reschedule"
    assert [t.task_id for t in load.upstream_list] == ["plan"]
    assert set(dag.task_ids) == {"plan", "load_hour", "reconcile"}
    # What the UI shows for the schedule: ours, not cron_descriptor's "At 00:00".
    assert dag.timetable.description == (
        "daily at the start of each IVR day (00:00, or when the clocks jump past it); typed dates are IVR business days")


# What any DAG file costs (Airflow's own start-up): the baseline our files are compared with.
BASELINE_DAG = """
import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

@dag(schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"), start_date=pendulum.datetime(2026, 1, 1),
     params={"p": Param(1, type="integer")})
def baseline():
    @task
    def t():
        pass
    t()

baseline()
"""


def _parse_in_fresh_interpreter(path: Path, tmp_path: Path) -> dict:
    baseline = tmp_path / "baseline_dag.py"
    baseline.write_text(BASELINE_DAG)
    code = (
        "import gc, json, runpy, sys, time\n"
        "sys.argv = ['airflow', 'dag-processor']\n"
        f"runpy.run_path({str(baseline)!r})\n"
        "base = set(sys.modules)\n"
        "t = time.perf_counter()\n"
        f"ns = runpy.run_path({str(path)!r})\n"
        "elapsed = time.perf_counter() - t\n"
        # The file's DAG is registered by its decorator call, bound to no name.
        "dags = [o for o in gc.get_objects() if type(o).__name__ == 'DAG' and o.dag_id != 'baseline']\n"
        "print(json.dumps({'new_modules': sorted(set(sys.modules) - base), 'seconds': elapsed,\n"
        "                  'deadline': [bool(getattr(d, 'deadline', None)) for d in dags]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_dag_file_does_not_import_heavy_modules_at_parse_time(path, tmp_path):
    parsed = _parse_in_fresh_interpreter(path, tmp_path)
    heavy = [m for m in parsed["new_modules"] if m.split(".")[0] in HEAVY_MODULES]
    assert heavy == [], f"{path.name} imports {heavy} at parse time"


def test_ivr_dag_declares_no_deadline_alert(tmp_path):
    # ivr_deadline_watch replaces it: `dags test` cannot run a DAG with one (apache/airflow#73428),
    # and leaving it out there stored a DAG version without it for the scheduler.
    parsed = _parse_in_fresh_interpreter(DAGS_DIR / "ivr_calls_daily.py", tmp_path)
    assert parsed["deadline"] == [False]


def _callbacks(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


@pytest.mark.parametrize("dag_id", ["ivr_calls_daily", "ivr_deadline_watch"])
def test_ivr_dags_send_one_alert_per_failed_run(dagbag, dag_id):
    from callcentre.ivr import alerts

    dag = dagbag.dags[dag_id]
    assert _callbacks(dag.on_failure_callback) == [alerts.alert_run_failed]
    for task in dag.tasks:  # tasks only record their final failure; the DAG callback posts
        assert _callbacks(task.on_failure_callback) == [alerts.record_task_failure], task.task_id


def test_deadline_watcher_shape(dagbag):
    dag = dagbag.dags["ivr_deadline_watch"]
    assert dag.timetable.expression == "*/15 * * * *"
    assert dag.catchup is False and dag.max_active_runs == 1
    assert [t.task_id for t in dag.tasks] == ["check_deadlines"]
    assert {t.owner for t in dag.tasks} == {"data-engineering"}
