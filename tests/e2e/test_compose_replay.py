"""docker-compose.yaml, replayed: every Airflow service of the file started as written, on this
machine (tests/e2e/deploy_replay.py says what is mapped: host names, ports, volume paths).

The init service's script (passwords file, `db migrate`, `pools import`, `dags reserialize`,
unpause), then the api-server, scheduler, DAG processor, triggerer and two Celery workers with the
worker service's queue list, each in its own process group. Under them:
* one IVR day loads (a backfill: the hour loads go to the `ivr` queue, which only the compose
  worker's queue list makes anyone consume);
* a workbook upload whose lookups the API fails ends `failed`; the reconcile DAG retries it
  through connection airflow_api (the api-server's internal URL: the public base_url is not
  reachable from the components) and the upload completes;
* the jobs page answers, and its REST calls go through the internal URL too, as the IVR days
  page's reload of the loaded day does;
* with STATSD_ON=True in .env, the components' metrics reach a StatsD listener (UDP).
Test-only settings on top of the file: no scheduled runs (the reconcile DAG is triggered rather
than waited for; no "yesterday" run of the IVR DAG), and fast polls/retries, as the other e2e tests.
CALLCENTRE_COMPOSE_FILE replays another file (a copy without a connection or a queue fails here).
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from callcentre.ivr import synthetic
from tests.e2e import deploy_replay
from tests.e2e.airflow_processes import free_port, running_stand_ins, start_group, wait_api_up, wait_for
from tests.integration.ivr_support import ensure_tables, make_call, metrics_row, query, reset_day
from tests.scraping_fixtures import ROOT, make_workbook, random_numbers

COMPOSE_FILE = Path(os.environ.get("CALLCENTRE_COMPOSE_FILE", ROOT / "docker-compose.yaml"))
SCHEMA = "compose_e2e"
DAY = date(2015, 1, 1) + timedelta(days=secrets.randbelow(3000))
FIRST_CALL_ID = 7_000_000_000 + secrets.randbelow(10**6) * 1000
TIMEOUT_S = 180
TEST_ONLY = {"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False", "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "2",
             "SCRAPING_RETRY_DELAY_SECONDS": "1", "SCRAPING_POKE_SECONDS": "2", "IVR_LOAD_DEADLINE_HOURS": "0",
             "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "0",
             "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4"}  # 16 pool processes a worker: too many for 2 cores


@pytest.fixture(scope="module")
def stand_ins():
    with running_stand_ins() as servers:
        yield servers


class StatsdListener:
    """A UDP socket collecting the StatsD lines sent to it (what statsd-exporter receives)."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while not self._stop.is_set():
            try:
                self.lines += self.sock.recv(65535).decode(errors="replace").splitlines()
            except OSError:
                continue

    def names(self) -> set[str]:
        return {line.split(":", 1)[0] for line in list(self.lines)}

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture(scope="module")
def statsd():
    listener = StatsdListener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def stack(stand_ins, statsd, tmp_path_factory):
    """The compose file's Airflow services, started as written; yields (replay, admin client)."""
    import psycopg

    from callcentre.scraping.upload import AirflowRestClient

    slack, api = stand_ins
    logs = tmp_path_factory.mktemp("compose-logs")
    pg = json.loads(os.environ["AIRFLOW_CONN_ANALYTICS_POSTGRES"])
    with psycopg.connect(host=pg["host"], port=pg["port"], user=pg["login"], password=pg["password"],
                         dbname="airflow", autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    api_port = free_port()
    site = deploy_replay.local_site(SCHEMA, api_port, (*api.server_address[:2], api.token), slack.url)
    site.update({"STATSD_ON": "True", "STATSD_HOST": "127.0.0.1", "STATSD_PORT": str(statsd.port)})
    replay = deploy_replay.ComposeReplay(COMPOSE_FILE, site, tmp_path_factory.mktemp("compose"))

    init_env = replay.environment("airflow-init", TEST_ONLY)
    deploy_replay.run(replay.command("airflow-init"), init_env, timeout=400)
    passwords = json.loads((Path(init_env["AIRFLOW_HOME"]) / "secrets" / "simple_auth_manager_passwords.json").read_text())
    assert passwords == {"admin": site["AIRFLOW_ADMIN_PASSWORD"], site["AIRFLOW_API_USER"]: site["AIRFLOW_API_PASSWORD"]}

    procs = []
    api_env = replay.environment("airflow-apiserver", {**TEST_ONLY, "AIRFLOW__API__HOST": "127.0.0.1",
                                                       "AIRFLOW__API__PORT": str(api_port)})
    procs.append(start_group(replay.command("airflow-apiserver"), api_env, logs / "api-server.log"))
    for service in ("airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        env = replay.environment(service, {**TEST_ONLY, **deploy_replay.health_port_env()})
        procs.append(start_group(replay.command(service), env, logs / f"{service}.log"))
    for name in ("worker1", "worker2"):
        env = replay.environment("airflow-worker", {
            **TEST_ONLY, **deploy_replay.health_port_env(), "CALLCENTRE_WORKER_HOSTNAME": name,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "callcentre.common.hostname.worker_hostname"})
        workdir = logs / f"{name}-cwd"
        workdir.mkdir()
        procs.append(start_group([*replay.command("airflow-worker"), "--celery-hostname", f"{name}@%h"],
                                 env, logs / f"{name}.log", cwd=workdir))
    internal = site["AIRFLOW_API_INTERNAL_URL"]
    client = AirflowRestClient(internal, "admin", site["AIRFLOW_ADMIN_PASSWORD"])
    try:
        wait_api_up(procs[0], internal, logs / "api-server.log", timeout_s=120)
        for name in ("worker1", "worker2"):
            wait_for(lambda n=name: " ready." in (logs / f"{n}.log").read_text(errors="replace"), f"{name}", logs, TIMEOUT_S)
        yield replay, client, logs
    finally:
        for dag_id in ("ivr_calls_daily", "scraping_upload", "scraping_jobs_reconcile"):
            try:
                client.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})
            except Exception:  # noqa: BLE001 - the api-server may be the thing that failed
                pass
        deploy_replay.stop_all(procs)


def test_every_component_is_up_as_its_health_check_says(stack):
    """The file's own health checks, against the replayed components."""
    import requests

    replay, client, logs = stack
    assert client.request("GET", "/api/v2/version").status_code == 200
    for service, job_type in (("airflow-dag-processor", "DagProcessorJob"), ("airflow-triggerer", "TriggererJob")):
        check = replay.services[service]["healthcheck"]["test"][1]
        assert f"--job-type {job_type}" in check
        env = replay.environment(service)
        wait_for(lambda e=env, t=job_type: _job_alive(e, t), f"{service}'s health check", logs, timeout_s=90)
    assert requests.get(f"{client.base_url}/api/v2/monitor/health", timeout=5).json()["scheduler"]["status"] == "healthy"


def _job_alive(env: dict, job_type: str) -> bool:
    import subprocess

    result = subprocess.run([str(deploy_replay.VENV_BIN / "airflow"), "jobs", "check", "--job-type", job_type,
                             "--hostname", deploy_replay.hostname()], env=env, capture_output=True, timeout=60)
    return result.returncode == 0


def test_an_ivr_day_loads_through_the_ivr_queue(stack):
    import requests

    replay, client, logs = stack
    ensure_tables()
    reset_day(DAY)
    midnight = datetime.combine(DAY, datetime.min.time())
    rows = [make_call(FIRST_CALL_ID + i, midnight + timedelta(hours=h)) for i, h in enumerate((0, 9, 23))]
    synthetic.write_calls(rows)
    try:
        deploy_replay.cancel_open_backfills(client, "ivr_calls_daily")
        deploy_replay.run([str(deploy_replay.VENV_BIN / "airflow"), "backfill", "create", "--dag-id", "ivr_calls_daily",
                           "--from-date", DAY.isoformat(), "--to-date", DAY.isoformat(), "--reprocess-behavior",
                           "completed"], replay.environment("airflow-scheduler", TEST_ONLY))

        def ended():
            runs = client.request("GET", "/api/v2/dags/ivr_calls_daily/dagRuns?run_type=backfill&limit=100"
                                         "&order_by=-id").json()["dag_runs"]
            run = next((r for r in runs if r["logical_date"][:10] == DAY.isoformat()), None)
            return run if run and run["state"] in ("success", "failed") else None

        run = wait_for(ended, f"the run of {DAY}", logs, TIMEOUT_S)
        assert run["state"] == "success"
        loaded = [r[0] for r in query("SELECT call_id FROM analytics.calls WHERE business_date = %s ORDER BY 1", (DAY,))]
        assert loaded == [r[0] for r in rows]
        assert metrics_row(DAY)["source_calls"] == 3
        tis = client.request("GET", f"/api/v2/dags/ivr_calls_daily/dagRuns/{run['dag_run_id']}/taskInstances"
                                    "?limit=100").json()["task_instances"]
        assert {ti["queue"] for ti in tis if ti["task_id"] == "load_hour"} == {"ivr"}

        # The IVR days page's Reload button: its REST call (a clear, as the caller) goes through
        # the internal URL too; the public base_url answers nothing here.
        resp = requests.post(f"{client.base_url}/ivr-days/api/days/{DAY}/reload", json={"hours": [9]},
                             headers=client._headers(), timeout=60)
        assert resp.status_code == 200, resp.text
        assert (resp.json()["action"], resp.json()["run"]["run_id"]) == ("cleared", run["dag_run_id"])
        run = wait_for(ended, f"the reloaded run of {DAY}", logs, TIMEOUT_S)
        assert run["state"] == "success"
    finally:
        deploy_replay.cancel_open_backfills(client, "ivr_calls_daily")
        reset_day(DAY)


def test_a_failed_upload_is_retried_automatically_and_completes(stack, stand_ins, tmp_path):
    import requests

    from callcentre.scraping.jobs import JobRepository
    from callcentre.scraping.upload import file_sha256, run_id_for
    from tests.e2e.test_scraping_trigger import _forget_run, _run_reconcile, _wait_for_job, _wait_for_run

    replay, client, logs = stack
    _, api = stand_ins
    repo = JobRepository()
    numbers = random_numbers(3)
    path = make_workbook(tmp_path / "compose.xlsx", [[n] for n in numbers], header=["phone"])
    run_id = run_id_for(file_sha256(path))
    api.set_knobs(fail_lookups=True)
    try:
        # As the web app would: the REST API at the address the operator gives it.
        env = {**os.environ, "AIRFLOW_API_USERNAME": "admin", "AIRFLOW_API_PASSWORD": replay.site["AIRFLOW_ADMIN_PASSWORD"],
               "AIRFLOW__API__BASE_URL": client.base_url, "AIRFLOW_VAR_STORAGE_BASE":
               replay.environment("airflow-worker")["AIRFLOW_VAR_STORAGE_BASE"]}
        env.pop("AIRFLOW_VAR_SCRAPING_UPLOADS_DIR", None)
        deploy_replay.run([str(deploy_replay.VENV_BIN / "python"), str(ROOT / "scripts" / "trigger_upload.py"), str(path),
                           "--uploader", "ana", "--api-url", client.base_url], env, timeout=60)
        job = _wait_for_job(repo, run_id, "failed", retry_count=0)
        assert job["failure_kind"] == "retryable"
        _wait_for_run(client, run_id, {"failed"})
        api.set_knobs(fail_lookups=False)

        _run_reconcile(client)  # its retry task logs in as connection airflow_api says
        job = _wait_for_job(repo, run_id, "completed", retry_count=1)
        assert job["processed_numbers"] == 3
        assert _wait_for_run(client, run_id, {"success"})["state"] == "success"

        # The jobs page: the list, and the log link (a REST call of the page's own).
        page = f"{client.base_url}/scraping-jobs"
        headers = client._headers()
        listed = requests.get(f"{page}/api/jobs", headers=headers, timeout=30)
        assert listed.status_code == 200 and job["id"] in [j["id"] for j in listed.json()["jobs"]]
        link = requests.get(f"{page}/api/jobs/{job['id']}/logs", headers=headers, allow_redirects=False, timeout=30)
        assert link.status_code == 302 and "/tasks/" in link.headers["location"], link.text
    finally:
        api.set_knobs(fail_lookups=False)
        _forget_run(client, repo, run_id)


def test_metrics_reach_statsd(stack, statsd):
    """After the runs above: the scheduler's heartbeat and the task instances' metrics, prefix airflow."""
    _, _, logs = stack
    wanted = {"airflow.scheduler_heartbeat", "airflow.ti_successes"}
    wait_for(lambda: wanted <= statsd.names(), f"metrics {wanted} (got {sorted(statsd.names())[:20]})", logs, 60)
    assert any(name.startswith("airflow.pool.open_slots.ivr_mariadb") for name in statsd.names())
