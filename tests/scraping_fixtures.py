"""Fixtures of the scraping tests (import with ``from tests.scraping_fixtures import *``).

Everything is real: PostgreSQL from `make services`, the reference lookup API and the Slack
stand-in as HTTP servers on loopback, DAG runs through ``dag.test()`` on the real metadata DB.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from pathlib import Path

import pytest

# Retries and polls in seconds, not minutes (read when the DAG file is parsed).
FAST_DAG_ENV = {"SCRAPING_RETRY_DELAY_SECONDS": "1", "SCRAPING_POKE_SECONDS": "0.5"}
ROOT = Path(__file__).resolve().parents[1]


def random_numbers(count: int) -> list[str]:
    """Distinct made-up mobile numbers (every test file gets its own content hash)."""
    return [f"3{n:09d}" for n in random.sample(range(10**9), count)]


def make_workbook(path: Path, rows: list[list], header: list | None = ("Nombre", "Teléfono")) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    if header:
        ws.append(list(header))
    for row in rows:
        ws.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


@pytest.fixture
def scraping_dirs(tmp_path, monkeypatch):
    """Private uploads/results folders (Airflow Variables through the environment)."""
    uploads, results = tmp_path / "uploads", tmp_path / "results"
    uploads.mkdir()
    results.mkdir()
    monkeypatch.setenv("AIRFLOW_VAR_SCRAPING_UPLOADS_DIR", str(uploads))
    monkeypatch.setenv("AIRFLOW_VAR_SCRAPING_RESULTS_DIR", str(results))
    return uploads, results


@pytest.fixture
def scraping_api(monkeypatch):
    """A reference lookup API on a free port; connection ``scraping_api`` points at it."""
    from callcentre.fakes._server import serve_in_thread
    from callcentre.fakes.scraping_api_server import ScrapingApiServer

    token = secrets.token_hex(8)
    server = ScrapingApiServer(("127.0.0.1", 0), token=token)
    serve_in_thread(server)
    host, port = server.server_address[:2]
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCRAPING_API",
        json.dumps({"conn_type": "http", "host": host, "port": port, "schema": "http", "password": token}),
    )
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def job_repo():
    from callcentre.scraping.jobs import JobRepository

    repo = JobRepository()
    repo.migrate()
    return repo


@pytest.fixture(scope="session")
def scraping_dags():
    """The two DAGs, parsed from dags/ with fast retry/poll settings."""
    saved = {k: os.environ.get(k) for k in FAST_DAG_ENV}
    os.environ.update(FAST_DAG_ENV)
    try:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(str(ROOT / "dags"))
        errors = {k: v for k, v in bag.import_errors.items() if "scraping" in k}
        assert not errors, errors
        yield {"upload": bag.get_dag("scraping_upload"), "reconcile": bag.get_dag("scraping_jobs_reconcile")}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def run_upload(scraping_dags, scraping_dirs, job_repo):
    """Store a workbook in the uploads folder and run ``scraping_upload`` on it; return (run, job).

    Every optional param is passed (None = the default): dag.test() runs tasks in this process on
    the same DAG object, and a run's conf otherwise lingers in the tasks' params for the next run.
    """
    uploads, _ = scraping_dirs

    def run(path: Path, uploader: str = "ana", **conf):
        from callcentre.scraping.upload import store_upload

        stored = store_upload(path, uploads)
        run_conf = {"timeout_minutes": None, "max_retries": None, "batch_size": None, **conf}
        dag_run = scraping_dags["upload"].test(
            run_conf={"file": stored.relative_path, "uploader": uploader, **run_conf}
        )
        return dag_run, job_repo.by_run("scraping_upload", dag_run.run_id)

    return run
