"""deploy/systemd/, replayed: each unit's ExecStart with the EnvironmentFiles it names, rendered by
`python3 deploy/settings.py systemd-env` from a site file (tests/e2e/deploy_replay.py says what is
mapped: /opt/callcentre is this checkout, /etc/callcentre and /var/lib/airflow the test's folders,
the local servers' hosts and ports, the api-server's port).

airflow-init (migrate, pools), then the api-server, scheduler, DAG processor, triggerer and one
`airflow-worker@ivr1`; one IVR day loads through them (its hour loads on the `ivr` queue the
worker's ExecStart names). Then airflow-db-clean.service (what its timer starts daily) with a
retention of 0 days: the metadata rows older than now are gone. Before that,
airflow-scheduler-liveness.service against a scheduler stopped alive. Test-only settings on top: no
scheduled runs, fast retries (as test_compose_replay.py).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from callcentre.ivr import synthetic
from tests.deploy.deployments import ROOT, systemd_units
from tests.e2e import deploy_replay
from tests.e2e.airflow_processes import free_port, start_group, wait_api_up
from tests.integration.ivr_support import ensure_tables, make_call, metrics_row, query, reset_day

SCHEMA = "systemd_e2e"
DAY = date(2015, 1, 1) + timedelta(days=secrets.randbelow(3000))
FIRST_CALL_ID = 7_100_000_000 + secrets.randbelow(10**6) * 1000
TEST_ONLY = {"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False", "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "2",
             "IVR_LOAD_DEADLINE_HOURS": "0", "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4"}
UNITS = systemd_units()


class Host:
    """The units of deploy/systemd/ on one "host" (the test's folders)."""

    def __init__(self, workdir, api_port: int):
        self.workdir = workdir
        self.api_port = api_port
        self.etc = workdir / "etc"
        self.etc.mkdir()
        (workdir / "home").mkdir()

    def env(self, unit: str, extra: dict | None = None) -> dict[str, str]:
        env = {"PATH": f"{deploy_replay.VENV_BIN}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        for name in UNITS[unit].get("EnvironmentFile", []):
            optional, path = name.startswith("-"), deploy_replay.systemd_paths(name.lstrip("-"), self.workdir)
            if os.path.exists(path) or not optional:
                env.update(deploy_replay.read_environment_file(Path(path)))
        for assignment in UNITS[unit].get("Environment", []):
            name, value = assignment.split("=", 1)
            env[name] = value
        env = {k: deploy_replay.systemd_paths(v, self.workdir) for k, v in env.items()}
        env.update({**TEST_ONLY, **deploy_replay.health_port_env(), "AIRFLOW__API__HOST": "127.0.0.1"})
        return {**env, **(extra or {})}

    def commands(self, unit: str, env: dict, instance: str = "") -> list[list[str]]:
        found = []
        for line in UNITS[unit]["ExecStart"]:
            words = deploy_replay.systemd_exec(deploy_replay.systemd_paths(line, self.workdir), env, instance,
                                               deploy_replay.hostname())
            if words[:2] == [str(deploy_replay.VENV_BIN / "airflow"), "api-server"]:
                words[words.index("--port") + 1] = str(self.api_port)  # each host has its own 8080
            found.append(words)
        return found


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    import psycopg

    from callcentre.fakes._server import serve_in_thread
    from callcentre.fakes.scraping_api_server import ScrapingApiServer
    from callcentre.fakes.slack_server import FakeSlackServer
    from callcentre.scraping.upload import AirflowRestClient

    slack = FakeSlackServer(("127.0.0.1", 0))
    api = ScrapingApiServer(("127.0.0.1", 0), token=secrets.token_hex(8))
    for server in (slack, api):
        serve_in_thread(server)
    pg = json.loads(os.environ["AIRFLOW_CONN_ANALYTICS_POSTGRES"])
    with psycopg.connect(host=pg["host"], port=pg["port"], user=pg["login"], password=pg["password"],
                         dbname="airflow", autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    workdir = tmp_path_factory.mktemp("systemd")
    logs = workdir / "logs"
    logs.mkdir()
    host = Host(workdir, free_port())
    site = deploy_replay.local_site(SCHEMA, host.api_port, (*api.server_address[:2], api.token), slack.url)
    site["STORAGE_BASE"] = f"file://{workdir / 'data'}"
    site_file = workdir / "site.env"
    site_file.write_text("".join(f"{k}={v}\n" for k, v in site.items()))
    for part, name in (("common", "airflow.env"), ("control", "airflow-control.env")):  # as the operator does
        rendered = subprocess.run(["python3", str(ROOT / "deploy" / "settings.py"), "systemd-env", str(site_file),
                                   "--part", part], capture_output=True, text=True, check=True)
        (host.etc / name).write_text(rendered.stdout)
        (host.etc / name).chmod(0o600)

    init_env = host.env("airflow-init.service")
    for command in host.commands("airflow-init.service", init_env):
        deploy_replay.run(command, init_env, cwd=ROOT, timeout=400)
    # What the SimpleAuthManager would generate; production uses the auth manager of docs/deploy.md.
    passwords = workdir / "home" / "simple_auth_manager_passwords.json.generated"
    passwords.write_text(json.dumps({"admin": site["AIRFLOW_ADMIN_PASSWORD"]}))
    procs, started = [], {}
    try:
        for unit in ("airflow-api-server.service", "airflow-scheduler.service", "airflow-dag-processor.service",
                     "airflow-triggerer.service"):
            env = host.env(unit)
            [command] = host.commands(unit, env)
            procs.append(start_group(command, env, logs / f"{unit}.log"))
            started[unit] = (procs[-1], env)
        env = host.env("airflow-worker@.service", {"AIRFLOW__CORE__HOSTNAME_CALLABLE": "callcentre.common.hostname.worker_hostname",
                                                   "CALLCENTRE_WORKER_HOSTNAME": "ivr1"})
        [command] = host.commands("airflow-worker@.service", env, instance="ivr1")
        worker_log = logs / "airflow-worker@ivr1.service.log"
        procs.append(start_group(command, env, worker_log))
        base = site["AIRFLOW_API_INTERNAL_URL"]
        wait_api_up(procs[0], base, logs / "airflow-api-server.service.log", timeout_s=120)
        deadline = time.monotonic() + 120
        while " ready." not in worker_log.read_text(errors="replace"):
            assert procs[-1].poll() is None and time.monotonic() < deadline, worker_log.read_text()[-3000:]
            time.sleep(1)
        yield host, AirflowRestClient(base, "admin", site["AIRFLOW_ADMIN_PASSWORD"]), logs, started
    finally:
        deploy_replay.stop_all(procs)
        for server in (slack, api):
            server.shutdown()
            server.server_close()


def test_the_liveness_unit_fails_while_the_scheduler_is_alive_but_not_heartbeating(host):
    """airflow-scheduler-liveness.service, which its timer starts every minute (on failure systemd
    restarts the scheduler: not run here), passes while the scheduler heartbeats and fails once it
    stops. The scheduler's main process is stopped (SIGSTOP) and its health-check process left
    running: alive and silent, as apache/airflow#67870 leaves it. First in the file: the retention
    unit's replay below (0 days kept) deletes the running scheduler's own job row, which the health
    check reads."""
    host, _, logs, started = host
    scheduler, scheduler_env = started["airflow-scheduler.service"]
    port = "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"  # each host.env() draws free ports
    env = host.env("airflow-scheduler-liveness.service", {port: scheduler_env[port], "LIVENESS_TRIES": "1"})
    [command] = host.commands("airflow-scheduler-liveness.service", env)

    def probe() -> int:
        return subprocess.run(command, env=env, capture_output=True, timeout=60).returncode

    def passes_within(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while probe() != 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(2)
        return True

    scheduler_log = logs / "airflow-scheduler.service.log"
    assert passes_within(60), scheduler_log.read_text(errors="replace")[-3000:]
    os.kill(scheduler.pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 120  # [scheduler] scheduler_health_check_threshold: 30 s
        while (code := probe()) == 0:
            assert time.monotonic() < deadline, "the liveness unit still passes 2 min after the scheduler stopped"
            time.sleep(5)
        assert code == 22  # curl -f: the health check answered an HTTP error (503), it did not time out
    finally:
        os.kill(scheduler.pid, signal.SIGCONT)
    assert passes_within(60), "the liveness unit still fails a minute after the scheduler resumed"


def test_units_run_an_ivr_day_and_the_retention_unit_cleans_the_metadata(host):
    host, client, logs, _ = host
    ensure_tables()
    reset_day(DAY)
    midnight = datetime.combine(DAY, datetime.min.time())
    rows = [make_call(FIRST_CALL_ID + i, midnight + timedelta(hours=h)) for i, h in enumerate((1, 12))]
    synthetic.write_calls(rows)
    scheduler_env = host.env("airflow-scheduler.service")
    airflow = str(deploy_replay.VENV_BIN / "airflow")
    try:
        deadline = time.monotonic() + 120  # parsed by the DAG processor unit (a clean may have removed it)
        while client.request("GET", "/api/v2/dags/ivr_calls_daily").status_code != 200:
            assert time.monotonic() < deadline, "the DAG processor did not parse ivr_calls_daily"
            time.sleep(2)
        deploy_replay.run([airflow, "dags", "unpause", "ivr_calls_daily"], scheduler_env)
        deploy_replay.cancel_open_backfills(client, "ivr_calls_daily")
        deploy_replay.run([airflow, "backfill", "create", "--dag-id", "ivr_calls_daily", "--from-date", DAY.isoformat(),
                           "--to-date", DAY.isoformat(), "--reprocess-behavior", "completed"], scheduler_env)
        deadline = time.monotonic() + 180
        while True:
            runs = client.request("GET", "/api/v2/dags/ivr_calls_daily/dagRuns?run_type=backfill&order_by=-id"
                                         "&limit=100").json()["dag_runs"]
            run = next((r for r in runs if r["logical_date"][:10] == DAY.isoformat()), None)
            if run and run["state"] in ("success", "failed"):
                break
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in logs.glob("*.log"))
                pytest.fail(f"the run of {DAY} did not end\n{tails}")
            time.sleep(2)
        assert run["state"] == "success"
        assert [r[0] for r in query("SELECT call_id FROM analytics.calls WHERE business_date = %s ORDER BY 1", (DAY,))] \
            == [r[0] for r in rows]
        assert metrics_row(DAY)["source_calls"] == 2
        tis = client.request("GET", f"/api/v2/dags/ivr_calls_daily/dagRuns/{run['dag_run_id']}/taskInstances?limit=100").json()
        assert {ti["hostname"] for ti in tis["task_instances"]} == {"ivr1"}

        deploy_replay.cancel_open_backfills(client, "ivr_calls_daily")  # settled before the clean

        # The retention unit, as its timer starts it; 0 days kept stands for the unit's 30.
        before = _metadata_rows("log")
        clean_env = host.env("airflow-db-clean.service", {"RETENTION_DAYS": "0"})
        [command] = host.commands("airflow-db-clean.service", clean_env)
        time.sleep(1)  # every row above is now older than the cut
        deploy_replay.run(command, clean_env, timeout=300)
        assert before > 0 and _metadata_rows("log") < before
        assert _metadata_rows("log", older_than_s=5) == 0
    finally:
        deploy_replay.cancel_open_backfills(client, "ivr_calls_daily")
        client.request("PATCH", "/api/v2/dags/ivr_calls_daily", {"is_paused": True})
        reset_day(DAY)


def _metadata_rows(table: str, older_than_s: float | None = None) -> int:
    import psycopg

    pg = json.loads(os.environ["AIRFLOW_CONN_ANALYTICS_POSTGRES"])
    with psycopg.connect(host=pg["host"], port=pg["port"], user=pg["login"], password=pg["password"],
                         dbname="airflow") as conn:
        where = f" WHERE dttm < now() - interval '{older_than_s} seconds'" if older_than_s else ""
        return conn.execute(f"SELECT count(*) FROM {SCHEMA}.{table}{where}").fetchone()[0]
