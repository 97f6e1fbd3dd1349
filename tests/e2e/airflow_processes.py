"""Real Airflow components for the e2e tests: what only tests need, on top of the process groups
of callcentre.devtools.airflow_processes (shared with bench/, re-exported here)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from callcentre.devtools.airflow_processes import (  # noqa: F401  (re-exported for the tests)
    AIRFLOW,
    celery_env,
    free_port,
    process_group,
    rest_client,
    run_airflow,
    settle_backfills,
    start_celery_worker,
    start_celery_workers,
    start_group,
    stop_group,
    wait_up,
)


def api_healthy(base_url: str) -> bool:
    """The api-server answers its health endpoint (False while it starts or after it died)."""
    import requests

    try:
        return requests.get(f"{base_url}/api/v2/monitor/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def run_states(env: dict, dag_id: str, kind: str) -> dict[str, str]:
    """{logical date: state} of ``dag_id``'s runs of type ``kind`` (backfill, scheduled, manual),
    through the REST API: an `airflow dags list-runs` per poll costs ~2 CPU-s, slowing the very
    runs it watches on two cores."""
    runs = rest_client(env).request(
        "GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100&run_type={kind}&order_by=-id").json()["dag_runs"]
    return {r["logical_date"][:10]: r["state"] for r in reversed(runs)}  # the newest run of a date wins


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (Airflow puts each task process in a group of its own)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc``'s group and every process below it at once, as when its host dies."""
    below = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)
    for pid in below:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=10)


@contextmanager
def ivr_airflow(env: dict, logs: Path):
    """`airflow api-server` and `airflow scheduler` on ``env`` (its AIRFLOW__API__PORT), with
    ivr_calls_daily reserialized from ``env`` and unpaused; yields once the api-server answers.
    On exit: the DAG paused, its backfills settled, both stopped by group, and the DAG reserialized
    as the other tests' components parse it."""
    env = {**env, "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "0"}  # even if just written
    run_airflow(env, "dags", "reserialize")
    try:
        with process_group([AIRFLOW, "api-server", "--port", env["AIRFLOW__API__PORT"], "--host", "127.0.0.1",
                            "--workers", "1"], env, logs / "api.log") as api, \
             process_group([AIRFLOW, "scheduler"], env, logs / "scheduler.log"):
            run_airflow(env, "dags", "unpause", "ivr_calls_daily")
            # REST calls need the api-server itself, not only the metadata DB.
            wait_api_up(api, env["AIRFLOW__API__BASE_URL"], logs / "api.log")
            try:
                yield
            finally:
                rest_client(env).request("PATCH", "/api/v2/dags/ivr_calls_daily", {"is_paused": True})
                settle_backfills(env, "ivr_calls_daily")
    finally:
        run_airflow({**os.environ, "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "0"}, "dags", "reserialize")


def private_metadata_env(schema: str, fresh: bool = False) -> dict:
    """Overrides for an Airflow whose metadata lives in ``schema`` of the metadata database
    (created; dropped first when ``fresh``) and whose api-server has a port of its own, so no
    other scheduler on the machine runs its DAGs. Migrate it with ``airflow db migrate``."""
    import json

    import psycopg

    conn = json.loads(os.environ["AIRFLOW_CONN_ANALYTICS_POSTGRES"])
    with psycopg.connect(host=conn["host"], port=conn["port"], user=conn["login"], password=conn["password"],
                         dbname="airflow", autocommit=True) as pg:
        if fresh:
            pg.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        pg.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    port = free_port()
    return {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
            os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].split("?")[0] + f"?options=-csearch_path%3D{schema}",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
    }


def wait_api_up(proc: subprocess.Popen, base_url: str, log: Path, timeout_s: float = 90) -> None:
    """Return once the api-server ``proc`` answers its health endpoint; raise with its log if it
    exits or does not answer within ``timeout_s``."""
    wait_up(lambda: api_healthy(base_url), proc, log, "api-server", time.monotonic() + timeout_s)


def wait_for(predicate, what: str, logs: Path, timeout_s: float = 300):
    """Poll ``predicate`` every 2 s and return its first true value; fail with the tails of the
    ``*.log`` files in ``logs`` when it never holds."""
    import pytest

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(2)
    tails = "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:] for p in sorted(Path(logs).glob("*.log")))
    pytest.fail(f"timed out waiting for {what}\n{tails}")


def wait_for_changes(read, times: int, what: str, logs: Path, timeout_s: float = 120) -> None:
    """Wait until ``read()`` has returned ``times`` new values (a scheduler's heartbeat, a file's
    parse time): proof that a component looped that often, where a test checks that something
    did NOT happen, instead of a fixed sleep."""
    seen = [read()]

    def changed_enough() -> bool:
        value = read()
        if value != seen[-1]:
            seen.append(value)
        return len(seen) > times

    wait_for(changed_enough, f"{what} to change {times} times (seen {seen})", logs, timeout_s)


@contextmanager
def running_stand_ins():
    """The Slack and scraping API stand-ins, real HTTP servers on loopback, for a module's Airflow."""
    import secrets

    from callcentre.fakes._server import serve_in_thread
    from callcentre.fakes.scraping_api_server import ScrapingApiServer
    from callcentre.fakes.slack_server import FakeSlackServer

    slack = FakeSlackServer(("127.0.0.1", 0))
    api = ScrapingApiServer(("127.0.0.1", 0), token=secrets.token_hex(8))
    for server in (slack, api):
        serve_in_thread(server)
    try:
        yield slack, api
    finally:
        for server in (slack, api):
            server.shutdown()
            server.server_close()
