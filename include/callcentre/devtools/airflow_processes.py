"""Real Airflow components on this machine for bench/ and the e2e tests, each in its own process
group and stopped by signalling that group (they fork children), never anything by name."""

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
    """Run an `airflow` CLI command to completion; raise with its output if it fails."""
    result = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise AssertionError(f"airflow {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def start_group(args: list[str], env: dict, log: Path, cwd: Path | None = None) -> subprocess.Popen:
    """Start ``args`` in a new session (its own process group), output to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd)


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there after 30 s; then SIGKILL whatever
    the leader left in its group (an idle LocalExecutor worker of the forkserver, seen after a
    scheduler stopped mid-task, would otherwise outlive its caller)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def process_group(args: list[str], env: dict, log: Path):
    proc = start_group(args, env, log)
    try:
        yield proc
    finally:
        stop_group(proc)


def celery_env(env: dict, broker_db: int) -> dict:
    """``env`` switched to the CeleryExecutor, on Redis database ``broker_db`` of the local Redis
    (0 is `make airflow`'s), with worker hostnames from ``CALLCENTRE_WORKER_HOSTNAME``."""
    broker = env["AIRFLOW__CELERY__BROKER_URL"].rsplit("/", 1)[0] + f"/{broker_db}"
    return dict(env, AIRFLOW__CORE__EXECUTOR="CeleryExecutor", AIRFLOW__CELERY__BROKER_URL=broker,
                AIRFLOW__CORE__HOSTNAME_CALLABLE="callcentre.common.hostname.worker_hostname")


def start_celery_worker(name: str, env: dict, logs: Path, concurrency: int = 2) -> subprocess.Popen:
    """`airflow celery worker` ``name`` on queues default and ivr as if on a host of its own
    (Celery and Airflow hostname, log-server port, working directory); returns once it is ready."""
    return start_celery_workers([name], env, logs, concurrency)[name]


def start_celery_workers(names: list[str], env: dict, logs: Path, concurrency: int = 2) -> dict[str, subprocess.Popen]:
    """Several such workers, started side by side; returns once each says it is ready."""
    started = {}
    for name in names:
        workdir = logs / f"{name}-cwd"
        workdir.mkdir(exist_ok=True)
        log = logs / f"{name}-{len(list(logs.glob(name + '-*.log')))}.log"
        worker_env = dict(env, CALLCENTRE_WORKER_HOSTNAME=name,
                          AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()))
        started[name] = (start_group([AIRFLOW, "celery", "worker", "--celery-hostname", f"{name}@%h", "--queues",
                                      "default,ivr", "--concurrency", str(concurrency)], worker_env, log, cwd=workdir), log)
    deadline = time.monotonic() + 120
    try:
        for name, (proc, log) in started.items():
            wait_up(lambda log=log: " ready." in log.read_text(errors="replace"), proc, log, name, deadline)
    except RuntimeError:
        for other, _ in started.values():
            stop_group(other)
        raise
    return {name: proc for name, (proc, _) in started.items()}


def wait_up(ready, proc: subprocess.Popen, log: Path, what: str, deadline: float) -> None:
    """Return once ``ready()`` holds; raise with the tail of ``proc``'s ``log`` if it exits first
    or the ``time.monotonic()`` ``deadline`` passes."""
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)


def rest_client(env: dict):
    """The REST client of the api-server ``env`` points at, logged in as the local admin."""
    from callcentre.scraping.upload import AirflowRestClient, local_credentials

    return AirflowRestClient(env["AIRFLOW__API__BASE_URL"], *local_credentials(env["AIRFLOW_HOME"]))


def settle_backfills(env: dict, dag_id: str, timeout_s: float = 90) -> None:
    """Mark ``dag_id``'s backfills complete once none of their runs is queued or running (Airflow
    refuses a second running backfill per DAG, and the scheduler marks them only every 30 s):
    cancelling a backfill whose runs have all ended sets ``completed_at`` at once."""
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
            return  # a failed run's own error says why
        time.sleep(2)
