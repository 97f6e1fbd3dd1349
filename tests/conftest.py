"""Shared fixtures. Tests run against the real local services started by `make services`
(`make test` starts them and sources .local/airflow.env first)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
# The Airflow 2.11 leg (`make test AIRFLOW=2`, .venv-af2) runs what differs between versions:
# tests/af2/ (2.11 only) and the unit tests; the 3.3 leg runs everything but tests/af2/.
AF2_DIRS = ("af2", "unit")
# dag.test of ivr_calls_daily and ivr_drift_check (its publish's trigger rule differs): the same files on both.
AF2_FILES = ("integration/test_ivr_dag.py", "integration/test_ivr_drift.py")
AF2_EXCLUDED = ("unit/test_jobs_page_rules.py",)  # the jobs page is a 3.x plugin (FastAPI)


def _airflow_2() -> bool:
    from airflow import __version__

    return __version__.startswith("2.")


def pytest_ignore_collect(collection_path, config):
    try:
        parts = Path(collection_path).resolve().relative_to(TESTS_DIR).parts
    except ValueError:
        return None
    if not parts or not Path(collection_path).is_dir() and len(parts) == 1:
        return None  # tests/ itself, and its own modules (conftest, helpers)
    if _airflow_2():
        path = "/".join(parts)
        if path in AF2_FILES or path == "integration":
            return None
        return True if parts[0] not in AF2_DIRS or path in AF2_EXCLUDED else None
    return True if parts[0] == "af2" else None

REQUIRED_ENV = ("AIRFLOW_HOME", "AIRFLOW_CONN_IVR_MARIADB", "AIRFLOW_CONN_ANALYTICS_POSTGRES")
# Levels, one per folder, as markers (`pytest -m unit`, `-m "not e2e"`); only `unit` needs no server.
LEVELS = {
    "unit": "plain functions: no server, no Airflow metadata database",
    "dags": "the DAG files parsed (DagBag)",
    "deploy": "deployment files checked (no Docker needed)",
    "integration": "real MariaDB, PostgreSQL and stand-ins, no scheduler",
    "e2e": "a real scheduler and api-server in their own process groups",
    "af2": "the Airflow 2.11 leg only",
}


def pytest_configure(config):
    for level, meaning in LEVELS.items():
        config.addinivalue_line("markers", f"{level}: {meaning}")


def pytest_collection_modifyitems(config, items):
    levels = set()
    for item in items:
        level = Path(str(item.fspath)).resolve().relative_to(TESTS_DIR).parts[0]
        if level in LEVELS:
            item.add_marker(level)
            levels.add(level)
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing and levels - {"unit"}:
        raise pytest.UsageError(
            f"{', '.join(missing)} not set: run the suite with `make test` "
            "(or `make services && . .local/airflow.env && .venv/bin/pytest tests`); "
            "`pytest tests/unit` needs no server."
        )


@pytest.fixture
def fake_slack(monkeypatch):
    """A real HTTP server standing in for Slack; ``slack_alerts`` points at it for this test."""
    from callcentre.fakes._server import serve_in_thread
    from callcentre.fakes.slack_server import FakeSlackServer

    server = FakeSlackServer(("127.0.0.1", 0))
    serve_in_thread(server)
    monkeypatch.setenv(
        "AIRFLOW_CONN_SLACK_ALERTS", json.dumps({"conn_type": "slackwebhook", "password": server.url})
    )
    yield server
    server.shutdown()
    server.server_close()
