"""Shared fixtures. Tests run against the real local services started by `make services`
(`make test` starts them and sources .local/airflow.env first)."""

from __future__ import annotations

import json
import os

import pytest

REQUIRED_ENV = ("AIRFLOW_HOME", "AIRFLOW_CONN_IVR_MARIADB", "AIRFLOW_CONN_ANALYTICS_POSTGRES")


def pytest_configure(config):
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        raise pytest.UsageError(
            f"{', '.join(missing)} not set: run the suite with `make test` "
            "(or `make services && . .local/airflow.env && .venv/bin/pytest tests`)."
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
