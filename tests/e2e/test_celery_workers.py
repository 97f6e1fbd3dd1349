"""Both pipelines under the CeleryExecutor with two real workers that share nothing but the
broker, the databases and the storage root.

Started here, each in its own process group: `airflow api-server`, `airflow scheduler` (CeleryExecutor,
Redis from scripts/services.sh as the broker on a database of its own, result backend on the
metadata PostgreSQL) and two `airflow celery worker` processes, `worker1` and `worker2`: their own
hostname (what Airflow records on each task instance), log-server port and working directory.
Uploads and results go through one storage root (Variable ``storage_base``, a ``file://`` URL
outside both working directories). The metadata lives in a private schema (``celery_e2e``), so
no other scheduler runs these DAGs.

* a backfill of three days loads exactly those days, and task instances ran on both workers;
* a worker killed (SIGKILL, with its task processes) while an hour of a day is mid-load: Airflow
  notices the lost heartbeat, retries the hour on the other worker, nothing lost or doubled, the
  ledger shows the abandoned attempt and the retry, no Slack alert;
* a scraping upload read on one worker, whose worker is then killed, finishes on the other.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from callcentre.ivr import synthetic
from tests.e2e.airflow_processes import (
    AIRFLOW,
    api_healthy,
    celery_env,
    free_port,
    kill_tree,
    run_airflow,
    run_states,
    settle_backfills,
    running_stand_ins,
    start_celery_worker,
    start_celery_workers,
    start_group,
    stop_group,
    wait_for,
)
from tests.integration.ivr_support import ensure_tables, ledger, make_call, metrics_row, query, reset_day
from tests.scraping_fixtures import ROOT, make_workbook, random_numbers

METADATA_SCHEMA = "celery_e2e"
WORKERS = ("worker1", "worker2")
TIMEOUT_S = 300
# Three consecutive days no other test uses, and the day after them for the kill test.
FIRST_DAY = date(2015, 1, 1) + timedelta(days=secrets.randbelow(1500))
DAYS = [FIRST_DAY + timedelta(days=i) for i in range(3)]
KILL_DAY = FIRST_DAY + timedelta(days=5)
FIRST_CALL_ID = 6_000_000_000 + secrets.randbelow(10**6) * 1000


class Cluster:
    """The Airflow components of this module; workers can be killed and started again."""

    def __init__(self, env: dict, logs: Path):
        self.env, self.logs = env, logs
        self.workers: dict[str, subprocess.Popen] = {}
        self.base_url = env["AIRFLOW__API__BASE_URL"]
        self._client = None

    @property
    def client(self):
        """Built on first use: on a new machine the api-server writes the admin password file
        when it first starts, after this object exists."""
        if self._client is None:
            from callcentre.scraping.upload import AirflowRestClient, local_credentials

            self._client = AirflowRestClient(self.base_url, *local_credentials(self.env["AIRFLOW_HOME"]))
        return self._client

    def start_worker(self, name: str) -> None:
        try:
            self.workers[name] = start_celery_worker(name, self.env, self.logs)
        except RuntimeError as err:
            pytest.fail(str(err))

    def ensure_workers(self) -> None:
        missing = [name for name in WORKERS if name not in self.workers or self.workers[name].poll() is not None]
        try:
            self.workers.update(start_celery_workers(missing, self.env, self.logs))
        except RuntimeError as err:
            pytest.fail(str(err))

    def stop_workers(self) -> None:
        for proc in self.workers.values():
            if proc.poll() is None:
                stop_group(proc)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        resp = self.client.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100")
        return resp.json()["task_instances"]

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int | None = None) -> dict:
        suffix = f"/{map_index}" if map_index is not None else ""
        return self.client.request(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}{suffix}").json()

    def runs(self, dag_id: str) -> list[dict]:
        return self.client.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100").json()["dag_runs"]

    def wait_for(self, predicate, what: str, timeout_s: float = TIMEOUT_S):
        return wait_for(predicate, what, self.logs, timeout_s)


@pytest.fixture(scope="module")
def services():
    """Slack and the scraping API stand-ins for the whole module (the workers outlive one test)."""
    with running_stand_ins() as servers:
        yield servers


@pytest.fixture(scope="module")
def cluster(services, tmp_path_factory):
    import psycopg
    import redis

    slack, api = services
    logs = tmp_path_factory.mktemp("celery")
    storage_root = tmp_path_factory.mktemp("shared-storage")
    conn = json.loads(os.environ["AIRFLOW_CONN_ANALYTICS_POSTGRES"])
    with psycopg.connect(host=conn["host"], port=conn["port"], user=conn["login"], password=conn["password"],
                         dbname="airflow", autocommit=True) as pg:
        pg.execute(f"CREATE SCHEMA IF NOT EXISTS {METADATA_SCHEMA}")
    port = free_port()
    api_host, api_port = api.server_address[:2]
    env = celery_env({k: v for k, v in os.environ.items() if k not in (
        "AIRFLOW_VAR_SCRAPING_UPLOADS_DIR", "AIRFLOW_VAR_SCRAPING_RESULTS_DIR")}, broker_db=1)
    redis.Redis.from_url(env["AIRFLOW__CELERY__BROKER_URL"]).flushdb()  # no message left by a killed worker
    env.update({
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
            os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].split("?")[0] + f"?options=-csearch_path%3D{METADATA_SCHEMA}",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        # A lost worker is noticed after 20 s (production default: 5 min).
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        # A task the killed worker had taken but not yet started stays `queued`: it is queued
        # again after 90 s (production default: 10 min; a CI run once waited past 5 min for it).
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "90",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
        # Only the runs the tests create: no scheduled run (yesterday's on unpausing, the reconciler's).
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "IVR_LOAD_DEADLINE_HOURS": "0",  # old days: no deadline alerts, so Slack must stay silent
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "2",  # the killed hour's retry (production: 30 s, doubling)
        "SCRAPING_RETRY_DELAY_SECONDS": "1",
        "SCRAPING_POKE_SECONDS": "3",
        # One setting places uploads and results for every worker, outside their working directories.
        "AIRFLOW_VAR_STORAGE_BASE": f"file://{storage_root}",
        "AIRFLOW_CONN_SLACK_ALERTS": json.dumps({"conn_type": "slackwebhook", "password": slack.url}),
        "AIRFLOW_CONN_SCRAPING_API": json.dumps({"conn_type": "http", "host": api_host, "port": api_port,
                                                  "schema": "http", "password": api.token}),
    })
    run_airflow(env, "db", "migrate")
    run_airflow(env, "pools", "set", "ivr_mariadb", "4", "Concurrent queries against the IVR MariaDB")
    run_airflow(env, "pools", "set", "scraping_api", "4", "Concurrent calls to the external scraping API")
    run_airflow(env, "dags", "reserialize")
    api_server = start_group([AIRFLOW, "api-server", "--port", str(port), "--host", "127.0.0.1", "--workers", "1"],
                             env, logs / "api-server.log")
    scheduler = start_group([AIRFLOW, "scheduler"], env, logs / "scheduler.log")
    stack = Cluster(env, logs)
    try:
        stack.wait_for(lambda: api_healthy(stack.base_url), "the api-server", timeout_s=120)
        stack.ensure_workers()
        # The scheduler runs no run of a paused DAG, backfills included.
        for backfill in stack.client.request("GET", "/api/v2/backfills?dag_id=ivr_calls_daily").json()["backfills"]:
            if not backfill.get("completed_at"):  # left by an interrupted earlier run of this module
                stack.client.request("PUT", f"/api/v2/backfills/{backfill['id']}/cancel")
        run_airflow(env, "dags", "unpause", "ivr_calls_daily")
        yield stack
    finally:
        run_airflow(env, "dags", "pause", "ivr_calls_daily")
        stack.stop_workers()
        stop_group(scheduler)
        stop_group(api_server)



def _calls_of(day: date, first_id: int) -> list[tuple]:
    midnight = datetime.combine(day, datetime.min.time())
    return [make_call(first_id + i, midnight + offset) for i, offset in enumerate(
        (timedelta(seconds=5), timedelta(hours=9, minutes=30), timedelta(hours=12, minutes=1),
         timedelta(hours=23, minutes=59, seconds=50)))]


def _loaded_ids(day: date) -> list[int]:
    return [r[0] for r in query("SELECT call_id FROM analytics.calls WHERE business_date = %s ORDER BY 1", (day,))]


def _backfill(cluster: Cluster, first: date, last: date) -> dict[str, str]:
    """Backfill [first, last] and wait until every run of it has ended; {date: run id}."""
    run_airflow(cluster.env, "backfill", "create", "--dag-id", "ivr_calls_daily", "--from-date", first.isoformat(),
                "--to-date", last.isoformat(), "--reprocess-behavior", "completed", "--max-active-runs", "3")
    wanted = {(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)}

    def ended():
        states = run_states(cluster.env, "ivr_calls_daily", "backfill")
        return all(states.get(day) in ("success", "failed") for day in wanted) and states

    cluster.wait_for(ended, f"the backfill of {first}..{last}")
    return {r["logical_date"][:10]: r["dag_run_id"] for r in cluster.runs("ivr_calls_daily")
            if r["run_type"] == "backfill" and r["logical_date"][:10] in wanted}


def test_backfill_of_three_days_runs_on_both_workers(cluster, services):
    slack, _ = services
    cluster.ensure_workers()
    ensure_tables()
    for day in [DAYS[0] - timedelta(days=1), *DAYS, DAYS[-1] + timedelta(days=1)]:
        reset_day(day)
    expected = {}
    for n, day in enumerate(DAYS):
        rows = _calls_of(day, FIRST_CALL_ID + 10 * n)
        synthetic.write_calls(rows)
        expected[day.isoformat()] = [r[0] for r in rows]
    before = datetime.combine(DAYS[0], datetime.min.time()) - timedelta(seconds=1)
    after = datetime.combine(DAYS[-1] + timedelta(days=1), datetime.min.time())
    synthetic.write_calls([make_call(FIRST_CALL_ID + 100, before), make_call(FIRST_CALL_ID + 101, after)])
    try:
        run_ids = _backfill(cluster, DAYS[0], DAYS[-1])

        states = run_states(cluster.env, "ivr_calls_daily", "backfill")  # earlier runs of this module stay listed
        assert {d: states.get(d) for d in expected} == {d: "success" for d in expected}
        for day in DAYS:
            assert _loaded_ids(day) == expected[day.isoformat()]
            assert metrics_row(day)["source_calls"] == 4
            assert sorted(row[0] for row in ledger(day)) == list(range(24))  # one attempt per hour
        assert _loaded_ids(DAYS[0] - timedelta(days=1)) == [] and _loaded_ids(DAYS[-1] + timedelta(days=1)) == []
        tis = [ti for run_id in run_ids.values() for ti in cluster.task_instances("ivr_calls_daily", run_id)]
        per_run = 24 + 2  # the hours, plan and reconcile
        assert len(tis) == 3 * per_run and {ti["state"] for ti in tis} == {"success"}
        assert {ti["hostname"] for ti in tis} == set(WORKERS)
        assert {ti["queue"] for ti in tis if ti["task_id"] == "load_hour"} == {"ivr"}
        assert not slack.messages
    finally:
        settle_backfills(cluster.env, "ivr_calls_daily")
        for day in [DAYS[0] - timedelta(days=1), *DAYS, DAYS[-1] + timedelta(days=1)]:
            reset_day(day)


def test_worker_killed_mid_day_the_other_finishes_it(cluster, services):
    """Hour 12 opens its ledger row and stages the hour, then blocks replacing its stored call
    (row-locked here); its worker is then killed with every process under it; the hour is retried
    on the other worker, whose attempt closes the dead one's ledger row."""
    slack, _ = services
    cluster.ensure_workers()
    ensure_tables()
    reset_day(KILL_DAY)
    rows = _calls_of(KILL_DAY, FIRST_CALL_ID + 200)
    synthetic.write_calls(rows)
    analytics = json.loads(os.environ["AIRFLOW_CONN_ANALYTICS_POSTGRES"])
    import psycopg

    from callcentre.ivr.load import load_hour

    load_hour(KILL_DAY, 12, tz_name=os.environ.get("IVR_TIMEZONE", "UTC"), run_id="before-the-kill")
    # Stored differently from what the load writes (as by an earlier version of our code), so the
    # attempt must replace it: a reload leaves an identical row alone, and would not block on it.
    query("UPDATE analytics.calls SET duration = duration + 1 WHERE business_date = %s AND local_hour = 12 RETURNING call_id",
          (KILL_DAY,))
    lock = psycopg.connect(host=analytics["host"], port=analytics["port"], user=analytics["login"],
                           password=analytics["password"], dbname=analytics["schema"])
    try:
        # The stored call of hour 12, row-locked: the attempt blocks in its replace, mid-attempt.
        lock.execute("SELECT call_id FROM analytics.calls WHERE business_date = %s AND local_hour = 12 FOR UPDATE",
                     (KILL_DAY,))
        run_airflow(cluster.env, "backfill", "create", "--dag-id", "ivr_calls_daily", "--from-date", KILL_DAY.isoformat(),
                    "--to-date", KILL_DAY.isoformat(), "--reprocess-behavior", "completed")
        run_id = cluster.wait_for(lambda: next((r["dag_run_id"] for r in cluster.runs("ivr_calls_daily")
                                                if r["logical_date"][:10] == KILL_DAY.isoformat()), None), "the run")
        cluster.wait_for(lambda: (12, 1, "running") in [row[:3] for row in ledger(KILL_DAY)], "hour 12 to start loading")
        first = cluster.task_instance("ivr_calls_daily", run_id, "load_hour", 12)
        assert first["state"] == "running" and first["try_number"] == 1
        victim = first["hostname"]
        survivor = next(w for w in WORKERS if w != victim)
        kill_tree(cluster.workers[victim])
        lock.rollback()  # releases the row

        cluster.wait_for(lambda: run_states(cluster.env, "ivr_calls_daily", "backfill").get(KILL_DAY.isoformat())
                         in ("success", "failed"), f"the run of {KILL_DAY} to end")
        assert run_states(cluster.env, "ivr_calls_daily", "backfill")[KILL_DAY.isoformat()] == "success"
        retried = cluster.task_instance("ivr_calls_daily", run_id, "load_hour", 12)
        assert retried["try_number"] == 2 and retried["hostname"] == survivor
        # Nothing lost or doubled: exactly the source's calls, each once.
        assert _loaded_ids(KILL_DAY) == [r[0] for r in rows]
        assert query("SELECT count(*) FROM analytics.calls WHERE call_id = ANY(%s)", ([r[0] for r in rows],))[0][0] == 4
        assert metrics_row(KILL_DAY)["source_calls"] == 4
        attempts = [row for row in ledger(KILL_DAY) if row[0] == 12]
        assert [a[:5] for a in attempts] == [(12, 1, "success", 1, 1), (12, 1, "failed", None, None), (12, 2, "success", 1, 1)]
        assert attempts[1][6].startswith("abandoned")  # the dead try, closed by the retry: no `running` row stays
        # Every other hour succeeded (one the dead worker was running is retried too: a second
        # success if it had committed before the kill), and no attempt is left `running`.
        others = [row for row in ledger(KILL_DAY) if row[0] != 12]
        assert sorted({row[0] for row in others if row[2] == "success"}) == [h for h in range(24) if h != 12]
        assert "running" not in {row[2] for row in ledger(KILL_DAY)}
        assert not [m for m in slack.messages if run_id in m["text"]]  # retried, so no failure alert
    finally:
        lock.close()
        settle_backfills(cluster.env, "ivr_calls_daily")
        reset_day(KILL_DAY)


def test_scraping_upload_started_on_one_worker_finishes_on_the_other(cluster, services, tmp_path):
    """worker1 alone registers the job and reads the workbook from the storage root; while its
    batch polls the API, worker2 starts and worker1 is killed: worker2 finishes the upload."""
    from callcentre.common import storage
    from callcentre.scraping.jobs import JobRepository
    from callcentre.scraping.upload import file_sha256, run_id_for

    _, api = services
    cluster.ensure_workers()
    stop_group(cluster.workers.pop("worker2"))
    numbers = random_numbers(4)
    path = make_workbook(tmp_path / "lista compartida.xlsx", [[n] for n in numbers], header=["phone"])
    run_id = run_id_for(file_sha256(path))
    api.set_knobs(latency=3)
    assert cluster.client.request("PATCH", "/api/v2/dags/scraping_upload", {"is_paused": False}).status_code == 200
    repo = JobRepository()
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "trigger_upload.py"), str(path), "--uploader", "ana",
             "--api-url", cluster.base_url], capture_output=True, text=True, timeout=60, env=cluster.env)
        assert result.returncode == 0, result.stderr
        cluster.wait_for(lambda: [a for a in api.arrivals if a["method"] == "GET"], "the batch to poll the API")
        cluster.start_worker("worker2")
        kill_tree(cluster.workers["worker1"])
        api.set_knobs(latency=0)

        def ended():
            state = cluster.client.request("GET", f"/api/v2/dags/scraping_upload/dagRuns/{run_id}").json()["state"]
            return state if state in ("success", "failed") else None

        assert cluster.wait_for(ended, "the upload run") == "success"
        hosts = {ti["task_id"]: ti["hostname"] for ti in cluster.task_instances("scraping_upload", run_id)}
        assert hosts["register_job"] == hosts["read_numbers"] == "worker1"
        assert hosts["write_results"] == "worker2"
        job = repo.by_run("scraping_upload", run_id)
        assert job["status"] == "completed" and job["processed_numbers"] == 4
        assert Path(job["results_file"]).parent == Path(cluster.env["AIRFLOW_VAR_STORAGE_BASE"][len("file://"):]) / "results"
        from openpyxl import load_workbook

        with storage.local_copy(job["results_file"]) as local:
            sheet = load_workbook(local, read_only=True)["results"]
            assert sorted(str(r[0]) for r in sheet.iter_rows(min_row=2, values_only=True)) == sorted(numbers)
        assert list(api.lookups_created_per_reference().values()) == [1]  # submitted once
    finally:
        cluster.client.request("PATCH", "/api/v2/dags/scraping_upload", {"is_paused": True})
        cluster.client.request("PATCH", f"/api/v2/dags/scraping_upload/dagRuns/{run_id}", {"state": "failed"})
        cluster.client.delete_run(run_id)
        with repo._cursor() as cur:
            cur.execute("DELETE FROM scraping.jobs WHERE airflow_run_id = %s", (run_id,))
