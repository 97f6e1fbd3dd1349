"""Integrity of the scraping DAGs: they parse, are wired as documented, and stay light to parse."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

from tests.scraping_fixtures import *  # noqa: F403 - fixtures
from tests.scraping_fixtures import ROOT

HEAVY = {"openpyxl", "requests", "psycopg2", "psycopg", "httpx", "pandas"}
DAG_FILES = ("dags/scraping_upload.py", "dags/scraping_jobs_reconcile.py")


def test_upload_dag_wiring(scraping_dags):
    dag = scraping_dags["upload"]
    assert dag.schedule is None  # triggered per upload only
    assert set(dag.task_dict) == {"register_job", "read_numbers", "lookup_batch", "write_results"}
    batch = dag.task_dict["lookup_batch"]
    assert batch.pool == "scraping_api"
    assert batch.partial_kwargs["mode"] == "reschedule"
    assert batch.partial_kwargs["retries"] == 10  # the cap; the run's max_retries decides earlier
    assert dag.task_dict["read_numbers"].upstream_task_ids == {"register_job"}
    assert dag.task_dict["write_results"].upstream_task_ids == {"register_job", "lookup_batch"}
    assert dag.dagrun_timeout is not None and dag.max_active_runs >= 1
    for task in dag.tasks:
        assert task.on_failure_callback and task.on_retry_callback and task.on_execute_callback, task.task_id
        assert task.retry_exponential_backoff


def test_batch_task_frees_its_worker_between_polls(scraping_dags):
    from callcentre.scraping.pipeline import LookupBatchSensor

    sensor = LookupBatchSensor(task_id="probe", batch={"job_id": 1, "batch_no": 0})
    assert sensor.mode == "reschedule"
    assert sensor.timeout >= timedelta(hours=24).total_seconds()


def test_reconcile_dag_runs_every_15_minutes_and_then_retries(scraping_dags):
    dag = scraping_dags["reconcile"]
    assert dag.timetable.delta == timedelta(minutes=15)
    assert dag.max_active_runs == 1 and not dag.catchup
    assert dag.is_paused_upon_creation is False  # replaces a cron job: runs once deployed
    assert dag.task_dict["retry_failed_jobs"].upstream_task_ids == {"reconcile_jobs"}
    assert dag.dagrun_timeout < timedelta(minutes=15)  # never overlaps the next check


def test_check_interval_setting(monkeypatch):
    import pytest

    from callcentre.scraping import config

    monkeypatch.setenv("SCRAPING_CHECK_INTERVAL", "5")
    assert config.check_interval() == timedelta(minutes=5)
    monkeypatch.setenv("SCRAPING_CHECK_INTERVAL", "0")
    with pytest.raises(ValueError, match="SCRAPING_CHECK_INTERVAL=0 must be 1..1440 minutes"):
        config.check_interval()


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:  # module level only: imports inside functions run at task time
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, (ast.If, ast.Try)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import):
                    names |= {a.name for a in sub.names}
                elif isinstance(sub, ast.ImportFrom) and sub.module:
                    names.add(sub.module)
    return names


def test_dag_files_import_nothing_heavy_at_parse_time():
    """Follow the DAG files' module-level imports through our own package; none may be heavy."""
    seen, todo, offenders = set(), [ROOT / f for f in DAG_FILES], []
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _top_level_imports(path):
            if name.split(".")[0] in HEAVY:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
            if name.startswith("callcentre"):
                module = ROOT / "include" / Path(*name.split("."))
                todo += [p for p in (module.with_suffix(".py"), module / "__init__.py") if p.exists()]
    assert not offenders, offenders
    assert any("scraping/pipeline.py" in str(p) for p in seen)  # the walk did follow the imports
