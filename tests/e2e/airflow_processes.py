"""Starting and stopping real Airflow components for the e2e tests.

Airflow components fork children, so each one runs in its own process group and is stopped by
signalling that group, never anything by name.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_airflow(env: dict, *args: str) -> str:
    """Run an `airflow` CLI command to completion; fail the test with its output if it fails."""
    result = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"airflow {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def run_states(env: dict, dag_id: str, kind: str) -> dict[str, str]:
    """{logical date: state} of ``dag_id``'s runs of type ``kind`` (backfill, scheduled, manual),
    through the REST API: an `airflow dags list-runs` per poll costs ~2 CPU-s, slowing the very
    runs it watches on two cores."""
    runs = rest_client(env).request(
        "GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100&run_type={kind}&order_by=-id").json()["dag_runs"]
    return {r["logical_date"][:10]: r["state"] for r in reversed(runs)}  # the newest run of a date wins


def start_group(args: list[str], env: dict, log: Path, cwd: Path | None = None) -> subprocess.Popen:
    """Start ``args`` in a new session (its own process group), output to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd)


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


def stop_group(proc: subprocess.Popen, grace_s: float = 30) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there after ``grace_s``; then SIGKILL
    whatever the leader left in its group (an idle LocalExecutor worker of the forkserver, seen
    after a scheduler stopped mid-task, would otherwise outlive the test)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def celery_env(env: dict, broker_db: int) -> dict:
    """``env`` switched to the CeleryExecutor, on Redis database ``broker_db`` of the local Redis
    (0 is `make airflow`'s), with worker hostnames from ``CALLCENTRE_WORKER_HOSTNAME``."""
    broker = env["AIRFLOW__CELERY__BROKER_URL"].rsplit("/", 1)[0] + f"/{broker_db}"
    return dict(env, AIRFLOW__CORE__EXECUTOR="CeleryExecutor", AIRFLOW__CELERY__BROKER_URL=broker,
                AIRFLOW__CORE__HOSTNAME_CALLABLE="callcentre.common.hostname.worker_hostname")


def start_celery_worker(name: str, env: dict, logs: Path, concurrency: int = 2,
                        queues: str = "default,ivr") -> subprocess.Popen:
    """`airflow celery worker` ``name`` as if on a host of its own (Celery and Airflow hostname,
    log-server port, working directory); returns once Celery says it is ready."""
    return start_celery_workers([name], env, logs, concurrency, queues)[name]


def start_celery_workers(names: list[str], env: dict, logs: Path, concurrency: int = 2,
                         queues: str = "default,ivr") -> dict[str, subprocess.Popen]:
    """Several such workers, started side by side; returns once each says it is ready."""
    started = {}
    for name in names:
        workdir = logs / f"{name}-cwd"
        workdir.mkdir(exist_ok=True)
        log = logs / f"{name}-{len(list(logs.glob(name + '-*.log')))}.log"
        worker_env = dict(env, CALLCENTRE_WORKER_HOSTNAME=name,
                          AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()))
        started[name] = (start_group([AIRFLOW, "celery", "worker", "--celery-hostname", f"{name}@%h", "--queues",
                                      queues, "--concurrency", str(concurrency)], worker_env, log, cwd=workdir), log)
    deadline = time.monotonic() + 120
    for name, (proc, log) in started.items():
        while " ready." not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                for other, _ in started.values():
                    stop_group(other)
                raise RuntimeError(f"{name} did not come up:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
    return {name: proc for name, (proc, _) in started.items()}


@contextmanager
def process_group(args: list[str], env: dict, log: Path):
    proc = start_group(args, env, log)
    try:
        yield proc
    finally:
        stop_group(proc)


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


def rest_client(env: dict):
    """The REST client of the api-server ``env`` points at, logged in as the local admin."""
    from callcentre.scraping.upload import AirflowRestClient, local_credentials

    return AirflowRestClient(env["AIRFLOW__API__BASE_URL"], *local_credentials(env["AIRFLOW_HOME"]))


def settle_backfills(env: dict, dag_id: str, timeout_s: float = 90) -> None:
    """Mark ``dag_id``'s backfills complete once none of their runs is queued or running: Airflow
    allows one running backfill per DAG and refuses the next one until then. The scheduler marks
    them itself, but only every 30 s; cancelling a backfill whose runs have all ended does the same
    at once (it sets ``completed_at``; there is no queued run left for it to fail)."""
    client = rest_client(env)
    give_up = time.monotonic() + timeout_s
    while True:
        # Newest first: the list is paged (50 by default), and a long-lived metadata DB holds more.
        open_ = [b for b in client.request("GET", f"/api/v2/backfills?dag_id={dag_id}&order_by=-id&limit=100")
                 .json().get("backfills", []) if not b.get("completed_at")]
        if not open_:
            return
        active = client.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?run_type=backfill&state=queued"
                                       f"&state=running&limit=1").json()["total_entries"]
        if not active:
            for backfill in open_:  # 409: the scheduler marked it complete in between
                client.request("PUT", f"/api/v2/backfills/{backfill['id']}/cancel")
            continue
        if time.monotonic() > give_up:
            return  # a failed test's runs still going: its own error says why
        time.sleep(2)


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
    """Return once the api-server ``proc`` answers its health endpoint; fail the test with its log
    if it exits or does not answer within ``timeout_s``."""
    import pytest

    deadline = time.monotonic() + timeout_s
    while not api_healthy(base_url):
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"api-server did not come up:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)


def api_healthy(base_url: str) -> bool:
    """The api-server answers its health endpoint (False while it starts or after it died)."""
    import requests

    try:
        return requests.get(f"{base_url}/api/v2/monitor/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def wait_for(predicate, what: str, logs: Path, timeout_s: float) -> None:
    """Poll ``predicate`` every 2 s; fail with the scheduler log's tail in ``logs`` when it never holds."""
    import pytest

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(2)
    pytest.fail(f"timed out waiting for {what}\n" + (logs / "scheduler.log").read_text(errors="replace")[-4000:])


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
