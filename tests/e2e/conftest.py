"""The scraping e2e modules' Airflow: one private metadata schema and one api-server for the
package (test_runbook_scraping, test_scraping_retry_actions and test_scraping_trigger share them:
each start costs ~20 s), and a scheduler per test (it runs with that test's stand-ins)."""

from __future__ import annotations

import json
import os

import pytest

from tests.e2e.airflow_processes import AIRFLOW, free_port, run_airflow, start_group, stop_group, wait_api_up
from tests.scraping_fixtures import FAST_DAG_ENV

STARTUP_S = 90
METADATA_SCHEMA = "scraping_e2e"
# Polls every 5 s: short reschedules race the scheduler's own loop (it then sees the previous poke
# finish while the next one is queued and turns it into a retry); production polls every 30 s.
E2E_DAG_ENV = {**FAST_DAG_ENV, "SCRAPING_POKE_SECONDS": "5"}


@pytest.fixture(scope="package")
def isolated_airflow() -> dict:
    """Environment overrides for a private metadata schema, migrated, with pool and DAGs."""
    import psycopg

    conn = json.loads(os.environ["AIRFLOW_CONN_SCRAPING_POSTGRES"])
    with psycopg.connect(host=conn["host"], port=conn["port"], user=conn["login"], password=conn["password"],
                         dbname="airflow", autocommit=True) as pg:
        pg.execute(f"CREATE SCHEMA IF NOT EXISTS {METADATA_SCHEMA}")
    port = free_port()
    overrides = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
            os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].split("?")[0] + f"?options=-csearch_path%3D{METADATA_SCHEMA}",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        **E2E_DAG_ENV,
    }
    env = dict(os.environ, **overrides)
    run_airflow(env, "db", "migrate")
    run_airflow(env, "pools", "set", "scraping_api", "4", "Concurrent calls to the external scraping API")
    run_airflow(env, "dags", "reserialize")
    # The IVR deadline watcher is on from creation (every 15 min): here its first tick on a fresh
    # analytics database would post the recent unloaded days to the scraping tests' Slack stand-in.
    run_airflow(env, "dags", "pause", "ivr_deadline_watch")
    return overrides


@pytest.fixture(scope="package")
def api_server(isolated_airflow, tmp_path_factory):
    """`airflow api-server` on the private schema; stopped by process group."""
    port = isolated_airflow["AIRFLOW__API__PORT"]
    log = tmp_path_factory.mktemp("api") / "api-server.log"
    proc = start_group(
        [AIRFLOW, "api-server", "--port", port, "--host", "127.0.0.1", "--workers", "1"],
        dict(os.environ, **isolated_airflow), log,
    )
    base = isolated_airflow["AIRFLOW__API__BASE_URL"]
    try:
        wait_api_up(proc, base, log, STARTUP_S)
        yield base
    finally:
        stop_group(proc)


@pytest.fixture
def scheduler(isolated_airflow, api_server, scraping_api, scraping_dirs, fake_slack, tmp_path):
    """A real scheduler (LocalExecutor) whose workers see this test's API, folders and Slack."""
    env = dict(os.environ, **isolated_airflow)  # os.environ now holds this test's connections
    proc = start_group([AIRFLOW, "scheduler"], env, tmp_path / "scheduler.log")
    yield proc
    stop_group(proc)
