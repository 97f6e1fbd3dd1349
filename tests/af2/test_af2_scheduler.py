"""The operator's Airflow 2.11 paths under a real scheduler and webserver (2.11 leg only).

* `airflow dags backfill -s D1 -e D2 ivr_calls_daily` loads exactly the IVR days D1..D2, with the
  IVR zone west of `[core] default_timezone` (the bare dates name IVR days, as on 3.x);
* the native SLA: a day after the last loaded one that is not loaded one day + 6 h after it began
  reaches the Slack stand-in through the DAG's `sla_miss_callback` (run by 2.x's DAG processor),
  once, and loaded days never alert (nor, a 2.x quirk, the first day after the last loaded one);
* the upload trigger (scripts/trigger_upload.py) and the retry client use `/api/v1` with basic auth.

`airflow scheduler` (with 2.x's DAG processor inside) and `airflow webserver` run in their own
process groups, stopped by group. The metadata database is the 2.11 leg's own (airflow_af2).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcentre.ivr import synthetic
from tests.e2e.airflow_processes import AIRFLOW, process_group, run_airflow, wait_for, wait_for_changes
from tests.integration.ivr_support import ensure_tables, forget_alerts, ledger, make_call, metrics_row, query, reset_day

ROOT = Path(__file__).resolve().parents[2]
IVR_ZONE = "America/Bogota"  # UTC-5: a bare CLI date read in UTC would start the day 5 h early


def _today() -> date:
    return datetime.now(ZoneInfo(IVR_ZONE)).date()


# Recent days: 2.x looks for SLA misses only after the last successful reconcile, day by day.
D1, D2 = _today() - timedelta(days=5), _today() - timedelta(days=4)
# 2.x checks SLAs from the SECOND day after the last successful reconcile (its loop advances
# before it compares), so D2 + 1 is never an SLA miss (ivr_deadline_watch reports it); D2 + 2 began
# more than one day + 6 h ago whenever the test runs.
MISSED = D2 + timedelta(days=2)
TOUCHED = [D1 + timedelta(days=offset) for offset in range(-1, 6)]  # D1 - 1 .. today


def _forget_ivr_runs(env: dict) -> None:
    """No runs, task instances or recorded SLA misses of ivr_calls_daily from earlier sessions."""
    subprocess.run([AIRFLOW, "dags", "delete", "ivr_calls_daily", "-y"], env=env, capture_output=True, timeout=120)
    run_airflow(env, "dags", "reserialize")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """2.11 scheduler + webserver on the local services, the IVR zone set to Bogota, a Slack stand-in."""
    from callcentre.fakes._server import serve_in_thread
    from callcentre.fakes.slack_server import FakeSlackServer

    logs = tmp_path_factory.mktemp("af2-stack")
    slack = FakeSlackServer(("127.0.0.1", 0))
    serve_in_thread(slack)
    password = secrets.token_hex(12)
    env = dict(
        os.environ,
        IVR_TIMEZONE=IVR_ZONE,
        AIRFLOW__CORE__DEFAULT_TIMEZONE="UTC",
        AIRFLOW_CONN_SLACK_ALERTS=json.dumps({"conn_type": "slackwebhook", "password": slack.url}),
        AIRFLOW_API_USERNAME="e2e_admin",
        AIRFLOW_API_PASSWORD=password,
        AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL="5",
    )
    _forget_ivr_runs(env)
    # The watcher would report the same day first (both claim one alert_log key): this test is the SLA's.
    run_airflow(env, "dags", "pause", "ivr_deadline_watch")
    run_airflow(env, "users", "create", "--role", "Admin", "--username", "e2e_admin", "--password", password,
                "--email", "e2e@example.invalid", "--firstname", "e2e", "--lastname", "admin")
    port = env["AIRFLOW__WEBSERVER__WEB_SERVER_PORT"]
    with process_group([AIRFLOW, "scheduler"], env, logs / "scheduler.log"), \
         process_group([AIRFLOW, "webserver", "--port", port, "--hostname", "127.0.0.1", "--workers", "1"], env,
                       logs / "webserver.log"):
        try:
            yield {"env": env, "logs": logs, "slack": slack}
        finally:
            run_airflow(env, "pools", "set", "ivr_mariadb", "4", "Concurrent queries against the IVR MariaDB")
            for dag_id in ("ivr_calls_daily", "scraping_upload"):
                run_airflow(env, "dags", "pause", dag_id)
    _forget_ivr_runs(env)
    run_airflow(env, "users", "delete", "--username", "e2e_admin")
    slack.shutdown()
    slack.server_close()


@pytest.fixture(scope="module")
def days():
    ensure_tables()
    for day in TOUCHED:
        reset_day(day)
        forget_alerts(day)
    yield
    for day in TOUCHED:
        reset_day(day)
        forget_alerts(day)


def _hour_labels(run_id: str) -> list[str]:
    """The UI labels of the run's mapped load_hour instances (map_index_template "hour NN")."""
    import airflow.providers.fab.auth_manager.models  # noqa: F401 - the ORM's dag_run_note refers to ab_user
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return sorted(session.scalars(select(TaskInstance.rendered_map_index).where(
            TaskInstance.dag_id == "ivr_calls_daily", TaskInstance.run_id == run_id,
            TaskInstance.task_id == "load_hour")).all())


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


def test_dags_backfill_loads_exactly_the_named_days_and_an_sla_miss_reaches_slack(stack, days):
    env, logs, slack = stack["env"], stack["logs"], stack["slack"]
    # Calls in the first and last second of each day, and one on each side of the range.
    synthetic.write_calls([
        make_call(910_001, _local_midnight(D1) + timedelta(seconds=5)),
        make_call(910_002, _local_midnight(D1) + timedelta(hours=23, minutes=59, seconds=50)),
        make_call(910_003, _local_midnight(D2) + timedelta(seconds=1)),
        make_call(910_004, _local_midnight(D1) - timedelta(seconds=1)),  # the day before D1
        make_call(910_005, _local_midnight(D2) + timedelta(days=1, seconds=1)),  # the day after D2
    ])

    started = time.monotonic()
    # 2.x's backfill can end "deadlocked" when a mapped task's source finishes between two of its
    # loops (apache/airflow#33994); the README's procedure is to run the same command again, which
    # continues the same runs. Anything else is a failure.
    cmd = [AIRFLOW, "dags", "backfill", "-s", D1.isoformat(), "-e", D2.isoformat(), "ivr_calls_daily"]
    for attempt in range(1, 4):
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        (logs / f"backfill-{attempt}.out").write_text(out.stdout + out.stderr)
        if out.returncode == 0:
            break
        text = out.stdout + out.stderr
        errors = [line for line in text.splitlines() if " ERROR " in line or "Error:" in line]
        assert "BackfillJob is deadlocked" in text, "\n".join(errors[:20]) + out.stderr[-2000:]
    assert out.returncode == 0, f"still deadlocked after {attempt} runs of the backfill"
    listed = run_airflow(env, "dags", "list-runs", "-d", "ivr_calls_daily", "-o", "json")
    runs = next(json.loads(line) for line in listed.splitlines() if line.startswith("[{"))  # not "[2026-..." log lines
    near = {str(D1 + timedelta(days=n)) for n in range(-2, 4)}  # a shifted range would show here; other tests' days not
    assert sorted((r["execution_date"][:19], r["state"]) for r in runs
                  if r["run_id"].startswith("backfill__") and r["execution_date"][:10] in near) == [
        (f"{d}T05:00:00", "success") for d in (D1, D2)  # IVR midnights (UTC-5), not UTC ones
    ], runs
    got = query("SELECT call_id, business_date FROM analytics.calls WHERE call_id BETWEEN 910001 AND 910005 ORDER BY 1")
    assert got == [(910_001, D1), (910_002, D1), (910_003, D2)]
    assert metrics_row(D1)["source_calls"] == 2 and metrics_row(D2)["source_calls"] == 1
    assert metrics_row(D1 - timedelta(days=1)) is None and metrics_row(D2 + timedelta(days=1)) is None
    assert sorted({row[0] for row in ledger(D1)}) == list(range(24))
    d1_run = next(r["run_id"] for r in runs if r["run_id"].startswith("backfill__") and r["execution_date"].startswith(f"{D1}T05"))
    assert _hour_labels(d1_run) == [f"hour {h:02d}" for h in range(24)]  # the mapped hours' labels
    print(f"backfill of 2 days: {time.monotonic() - started:.0f} s, {attempt} run(s) of the command")

    # The SLA: unpaused, the scheduler starts the latest scheduled run (its loads held back by a
    # pool of 0 slots, so no later day gets loaded meanwhile) and asks the DAG processor to check
    # SLAs: every day after D2 whose SLA passed is missed; MISSED is neither loaded nor reported.
    run_airflow(env, "pools", "set", "ivr_mariadb", "0", "held for the SLA test")
    run_airflow(env, "dags", "unpause", "ivr_calls_daily")

    def sla_alerts(day):
        return [m["text"] for m in slack.messages if f"IVR business day {day} not loaded" in m["text"]]

    wait_for(lambda: sla_alerts(MISSED), f"the SLA miss alert of {MISSED}", logs)
    [text] = sla_alerts(MISSED)
    assert "(Airflow SLA miss)" in text and "airflow dags backfill" in text, text
    assert query("SELECT count(*) FROM analytics.alert_log WHERE kind = 'deadline_missed' AND business_date = %s",
                 (MISSED,)) == [(1,)]
    assert not sla_alerts(D1) and not sla_alerts(D2) and not sla_alerts(D2 + timedelta(days=1))
    # The DAG processor checks SLAs each time it parses the file: two more parses, still one message.
    import requests

    auth = (env["AIRFLOW_API_USERNAME"], env["AIRFLOW_API_PASSWORD"])
    dag_url = f"{env['AIRFLOW__WEBSERVER__BASE_URL']}/api/v1/dags/ivr_calls_daily"
    wait_for(lambda: _ok(requests, dag_url, auth=auth), "the webserver", logs, timeout_s=180)
    wait_for_changes(lambda: requests.get(dag_url, auth=auth, timeout=10).json()["last_parsed_time"], 2,
                     "ivr_calls_daily's last_parsed_time", logs)
    assert len(sla_alerts(MISSED)) == 1


def test_upload_trigger_and_retry_client_use_api_v1_with_basic_auth(stack, tmp_path):
    from tests.scraping_fixtures import make_workbook, random_numbers

    env = stack["env"]
    base = env["AIRFLOW__WEBSERVER__BASE_URL"]
    import requests

    wait_for(lambda: _ok(requests, f"{base}/health"), "the webserver", stack["logs"], timeout_s=180)
    book = make_workbook(tmp_path / f"af2-{secrets.token_hex(4)}.xlsx", [["n", x] for x in random_numbers(3)])
    cmd = [sys.executable, str(ROOT / "scripts" / "trigger_upload.py"), str(book), "--uploader", "ana"]

    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.startswith("triggered run upload__"), first.stdout
    run_id = first.stdout.split()[2]
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and f"already triggered: run {run_id} exists" in again.stdout, again.stdout

    auth = (env["AIRFLOW_API_USERNAME"], env["AIRFLOW_API_PASSWORD"])
    run = requests.get(f"{base}/api/v1/dags/scraping_upload/dagRuns/{run_id}", auth=auth, timeout=10).json()
    assert run["conf"]["uploader"] == "ana" and run["conf"]["file"].endswith(book.name)
    assert requests.get(f"{base}/api/v1/dags/scraping_upload/dagRuns/{run_id}", auth=("e2e_admin", "wrong"),
                        timeout=10).status_code in (401, 403)  # 2.x's FAB answers 403

    # The retry DAG's client, from connection airflow_api (as in production).
    from callcentre.scraping.upload import airflow_client

    os.environ["AIRFLOW_CONN_AIRFLOW_API"] = json.dumps(
        {"conn_type": "http", "host": base, "login": auth[0], "password": auth[1]})
    try:
        client = airflow_client()
        assert client.run_state("scraping_upload", run_id) == "queued"
        assert client.run_state("scraping_upload", "upload__does_not_exist") is None
        assert client.stop_run("scraping_upload", run_id) == "failed"
        # Stopping skipped the tasks that had not started; the job retry clears them (task ids on v1).
        assert ("register_job", -1) in client.unfinished_task_instances("scraping_upload", run_id)
        assert client.clear_unfinished_tasks("scraping_upload", run_id) >= 1
        assert client.run_state("scraping_upload", run_id) == "queued"
    finally:
        del os.environ["AIRFLOW_CONN_AIRFLOW_API"]
        client.delete_run(run_id)


def _ok(requests, url, **kw) -> bool:
    try:
        return requests.get(url, timeout=3, **kw).status_code == 200
    except requests.RequestException:
        return False
