"""Alerts people read (issue 9, points 7-9): one Slack message per failed run, retries quiet, the
deadline watcher once per day neither loaded nor reported, and `airflow dags test` leaving the
scheduler's DAG version alone. Real PostgreSQL, MariaDB and Airflow (dag.test, the CLI); Slack is
the stand-in HTTP server."""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.pg import transaction
from callcentre.ivr import alerts, deadline, schema, synthetic
from tests.e2e.airflow_processes import run_airflow
from tests.integration.ivr_support import (
    ExtractKiller,
    at,
    ensure_tables,
    local_midnight,
    make_call,
    metrics_row,
    parse_ivr_dag,
    query,
    reset_day,
)

# Days far apart: the watcher looks at every day whose deadline passed in the last 3 days.
DAY_FAILED = date(2026, 8, 3)
DAY_LOADED = date(2026, 8, 13)
DAY_MISSING = date(2026, 8, 23)
DAY_RETRIED = date(2026, 8, 30)
DAY_UNRECORDED = date(2026, 9, 5)
DAY_CLI = date(2026, 7, 20)
UTC = ZoneInfo("UTC")


def forget_alerts(day: date) -> None:
    """Remove the alert records of ``day`` and of the days the watcher sees around it."""
    schema.migrate()
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute("DELETE FROM analytics.alert_log WHERE business_date BETWEEN %s AND %s",
                    (day - timedelta(days=5), day + timedelta(days=5)))
        cur.execute("DELETE FROM analytics.task_failures WHERE business_date = %s", (day,))


@pytest.fixture
def clean_day(request):
    day = request.param
    ensure_tables()
    reset_day(day)
    forget_alerts(day)
    yield day
    reset_day(day)
    forget_alerts(day)


def deadline_alerts(fake_slack, day: date) -> list[str]:
    return [m["text"] for m in fake_slack.messages if f"IVR business day {day} not loaded" in m["text"]]


def recorded_failures(run_id: str) -> list[tuple]:
    return query("SELECT task_id, map_index, try_number FROM analytics.task_failures WHERE run_id = %s", (run_id,))


def just_after_deadline(day: date, minutes: int = 1):
    return deadline.deadline_of(day, UTC, float(os.environ.get("IVR_LOAD_DEADLINE_HOURS", "6"))) + timedelta(minutes=minutes)


@pytest.mark.parametrize("clean_day", [DAY_FAILED], indirect=True)
def test_a_failed_run_sends_one_message_with_its_hours_first_error_and_no_phone_number(clean_day, fake_slack):
    day, dag = clean_day, parse_ivr_dag()
    phone = "3004445566"
    synthetic.write_calls([
        make_call(31, at(day, 3, 5), disposition=phone),  # a phone number where the rule reads a value
        make_call(32, at(day, 9, 10), duration=-5),
        make_call(33, at(day, 13, 2), disposition="VOICEMAIL"),
        make_call(34, at(day, 5)),
    ])
    dag_run = dag.test(logical_date=local_midnight(day), run_conf={"invalid_rows": "fail"})
    assert dag_run.state == "failed"
    assert sorted(recorded_failures(dag_run.run_id)) == [("load_hour", 3, 1), ("load_hour", 9, 1), ("load_hour", 13, 1)]

    assert len(fake_slack.messages) == 1, [m["text"] for m in fake_slack.messages]
    text = fake_slack.messages[0]["text"]
    print(f"\n--- the failed-run message ---\n{text}\n---")
    for expected in (f"`ivr_calls_daily` run failed — business date {day}", dag_run.run_id,
                     "/dags/ivr_calls_daily/runs/", "failed (3): load_hour: hours 03, 09, 13", "breaks rule"):
        assert expected in text, f"{expected!r} missing from the Slack alert"
    assert re.search(r"first error \(load_hour hour (03|09|13), try 1\): AirflowFailException: .* First: call_id=3[123]: ", text)
    for hour in (3, 9, 13):
        assert f"load_hour hour {hour:02d}: http://" in text and f"/tasks/load_hour/mapped/{hour}?try_number=1" in text
    assert phone not in text and all(make_call(i, at(day, 0))[4] not in text for i in (31, 32, 33, 34))

    # The callback fires again for the same run (as a dag-processor may): still one message.
    alerts.alert_run_failed({"dag": dag, "run_id": dag_run.run_id, "reason": "task_failure"})
    assert len(fake_slack.messages) == 1

    # The day's deadline passes: the failure was reported, so the watcher stays quiet about it.
    summary = deadline.check_deadlines(now=just_after_deadline(day))
    assert str(day) in summary["reported"] and str(day) not in summary["alerted"]
    assert deadline_alerts(fake_slack, day) == []


@pytest.mark.parametrize("clean_day", [DAY_UNRECORDED], indirect=True)
def test_the_task_that_failed_the_run_is_listed_even_without_its_record(clean_day, fake_slack, monkeypatch):
    day, dag = clean_day, parse_ivr_dag()
    for task in dag.tasks:  # as when the worker died before its callback: no record at all
        task.on_failure_callback = None
    synthetic.write_calls([make_call(61, at(day, 13)), make_call(62, at(day, 13, 2), disposition="VOICEMAIL")])
    dag_run = dag.test(logical_date=local_midnight(day), run_conf={"invalid_rows": "fail"})
    assert dag_run.state == "failed" and recorded_failures(dag_run.run_id) == []
    [message] = [m["text"] for m in fake_slack.messages]
    assert f"business date {day}" in message and "failed (1): load_hour" in message
    assert "/tasks/load_hour/mapped/13?try_number=1" in message


@pytest.mark.parametrize("clean_day", [DAY_RETRIED], indirect=True)
def test_retries_stay_quiet_even_when_a_failure_callback_fires_with_tries_left(clean_day, fake_slack):
    day, dag = clean_day, parse_ivr_dag()
    seen = []

    def failure_callback_with_tries_left(context):
        """apache/airflow#65400: the failure callback fired for a task that is up for retry; also
        as the dag-processor builds the context (no state on the task instance)."""
        ti = context["ti"]
        seen.append((str(getattr(ti.state, "value", ti.state)), ti.try_number, ti.max_tries))
        alerts.record_task_failure(context)
        alerts.record_task_failure({**context, "ti": ti.model_copy(update={"state": None})})

    for task in dag.tasks:
        task.on_retry_callback = failure_callback_with_tries_left
    big_hour = [make_call(400_000 + i, at(day, 10) + timedelta(seconds=i % 3600)) for i in range(30_000)]
    synthetic.write_calls(big_hour + [make_call(41, at(day, 3))])

    with ExtractKiller() as killer:  # a real source outage mid-stream: the hour fails once, then loads
        dag_run = dag.test(logical_date=local_midnight(day), run_conf={"chunk_size": 200})

    assert killer.killed and dag_run.state == "success"
    assert seen and all(state == "up_for_retry" and try_number <= max_tries for state, try_number, max_tries in seen)
    assert recorded_failures(dag_run.run_id) == []
    assert fake_slack.messages == []


@pytest.mark.parametrize("clean_day", [DAY_LOADED], indirect=True)
def test_a_loaded_day_raises_no_deadline_alert(clean_day, fake_slack):
    day = clean_day
    synthetic.write_calls([make_call(51, at(day, 8)), make_call(52, at(day, 17))])
    assert parse_ivr_dag().test(logical_date=local_midnight(day)).state == "success"
    assert metrics_row(day)["source_calls"] == 2

    summary = deadline.check_deadlines(now=just_after_deadline(day, minutes=30))
    assert str(day) in summary["days_due"] and str(day) in summary["loaded"]
    assert deadline_alerts(fake_slack, day) == []


@pytest.mark.parametrize("clean_day", [DAY_MISSING], indirect=True)
def test_a_day_past_its_deadline_and_not_loaded_alerts_once(clean_day, fake_slack):
    day = clean_day
    before = deadline.check_deadlines(now=just_after_deadline(day, minutes=-1))
    assert str(day) not in before["days_due"] and deadline_alerts(fake_slack, day) == []

    fake_slack.fail_with = 503  # Slack down at the first check: the alert is owed, not sent...
    assert str(day) not in deadline.check_deadlines(now=just_after_deadline(day, minutes=1))["alerted"]
    assert deadline_alerts(fake_slack, day) == []
    fake_slack.fail_with = None  # ...and the next watcher run delivers it, once
    assert deadline.check_deadlines(now=just_after_deadline(day, minutes=16))["sent_late"] >= 1
    assert str(day) not in deadline.check_deadlines(now=just_after_deadline(day, minutes=31))["alerted"]

    [text] = deadline_alerts(fake_slack, day)
    print(f"\n--- the deadline message ---\n{text}\n---")
    assert f"deadline: {day + timedelta(days=1)} 06:00 UTC" in text and "ivr_calls_daily" in text

    # Days only matter within the lookback: three days later the day is out of the window.
    later = deadline.check_deadlines(now=just_after_deadline(day) + deadline.LOOKBACK + timedelta(hours=1))
    assert str(day) not in later["days_due"]


@pytest.mark.parametrize("clean_day", [date(2026, 6, 10)], indirect=True)
def test_the_watcher_reads_the_deadline_in_the_ivr_zone(clean_day, monkeypatch, fake_slack):
    monkeypatch.setenv("IVR_TIMEZONE", "America/Mexico_City")  # UTC-6 in June: due 06-11 12:00 UTC
    due = deadline.deadline_of(clean_day, ZoneInfo("America/Mexico_City"), 6)
    assert due.isoformat() == "2026-06-11T12:00:00+00:00"
    assert str(clean_day) not in deadline.check_deadlines(now=due - timedelta(minutes=1))["days_due"]
    assert str(clean_day) in deadline.check_deadlines(now=due + timedelta(minutes=1))["alerted"]
    [text] = deadline_alerts(fake_slack, clean_day)
    assert "deadline: 2026-06-11 06:00 America/Mexico_City" in text


def test_deadline_hours_zero_disables_the_watcher(monkeypatch, fake_slack):
    monkeypatch.setenv("IVR_LOAD_DEADLINE_HOURS", "0")
    assert deadline.check_deadlines(now=just_after_deadline(DAY_MISSING, minutes=60))["disabled"] is True
    assert fake_slack.messages == []


def _dag_versions(dag_id: str) -> tuple[int, str | None]:
    from sqlalchemy import text

    from airflow.utils.session import create_session

    with create_session() as session:
        count = session.execute(text("SELECT count(*) FROM dag_version WHERE dag_id = :d"), {"d": dag_id}).scalar()
        latest = session.execute(
            text("SELECT dag_hash FROM serialized_dag WHERE dag_id = :d ORDER BY created_at DESC LIMIT 1"), {"d": dag_id}
        ).scalar()
    return count, latest


@pytest.mark.parametrize("clean_day", [DAY_CLI], indirect=True)
def test_airflow_dags_test_does_not_change_the_dag_version_the_scheduler_runs(clean_day):
    day = clean_day
    # Write any DAG that differs at once (the default skips writes within 30 s of the last one).
    env = dict(os.environ, AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL="0")

    run_airflow(env, "dags", "reserialize")  # what the dag-processor writes
    before = _dag_versions("ivr_calls_daily")
    assert before[0] >= 1 and before[1]
    synthetic.write_calls(synthetic.day_calls(day, 50, seed=5))

    run_airflow(env, "dags", "test", "ivr_calls_daily", day.isoformat())

    assert metrics_row(day)["source_calls"] == 50  # the in-process run really ran
    assert _dag_versions("ivr_calls_daily") == before


@pytest.fixture
def analytics_down(monkeypatch):
    """Analytics PostgreSQL unreachable: its connection points at a port nothing listens on."""
    import json

    from tests.e2e.airflow_processes import free_port

    alerts.end_unclaimed_outage()  # no earlier outage remembered
    conn = json.loads(os.environ["AIRFLOW_CONN_ANALYTICS_POSTGRES"])
    monkeypatch.setenv("AIRFLOW_CONN_ANALYTICS_POSTGRES", json.dumps({**conn, "port": free_port()}))
    yield
    alerts.end_unclaimed_outage()


def test_with_analytics_postgres_down_the_watcher_posts_at_most_once_an_hour(analytics_down, fake_slack):
    """The watcher fails every 15 minutes while analytics PostgreSQL is down (it cannot claim
    its alert there): one message per outage per hour, not one per run."""
    import runpy
    from pathlib import Path

    from tests.airflow_compat import dag_test

    watch = runpy.run_path(str(Path(__file__).resolve().parents[2] / "dags" / "ivr_deadline_watch.py"))["ivr_deadline_watch"]
    dag = watch()
    for task in dag.tasks:
        task.retries = 0
    first = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    states = [dag_test(dag, first + timedelta(minutes=15 * n)).state for n in range(3)]
    assert states == ["failed"] * 3
    [text] = [m["text"] for m in fake_slack.messages]
    assert "`ivr_deadline_watch` run failed" in text and "analytics PostgreSQL unreachable" in text
    assert "at most one such message an hour" in text

    # An hour on, the outage still going: one more.
    later = datetime.now(UTC) + timedelta(minutes=61)
    assert alerts.send_unclaimed("ivr_deadline_watch", "still down", now=later)
    assert not alerts.send_unclaimed("ivr_deadline_watch", "still down", now=later + timedelta(minutes=15))
    # A message that says the DAG paused itself is news: it goes out whatever the last one.
    assert alerts.send_unclaimed("ivr_deadline_watch", "paused", now=later + timedelta(minutes=30), always=True)
    assert len(fake_slack.messages) == 3


def test_the_outage_ends_when_the_watcher_reaches_analytics_postgres_again(fake_slack):
    """Once analytics PostgreSQL answers, the next outage alerts at once."""
    from callcentre.common import variables

    alerts.end_unclaimed_outage()
    assert alerts.send_unclaimed("ivr_deadline_watch", "down")
    assert not alerts.send_unclaimed("ivr_deadline_watch", "down again")
    deadline.check_deadlines(now=just_after_deadline(DAY_MISSING, minutes=-60))
    assert variables.read_variable(alerts.UNCLAIMED_VARIABLE, None) is None
    assert alerts.send_unclaimed("ivr_deadline_watch", "down: a new outage")
    alerts.end_unclaimed_outage()
    firsts = [m["text"].splitlines()[0] for m in fake_slack.messages]
    assert [line for line in firsts if line.startswith("down")] == ["down", "down: a new outage"]


def test_the_watcher_closes_ledger_rows_of_attempts_killed_on_their_last_try():
    """A row left `running` with no attempt alive (none holds the partition's lock) is closed as
    failed; one whose attempt is alive, or that started a moment ago, is left alone."""
    from callcentre.common.pg import postgres_conn
    from callcentre.ivr.load import partition_lock_key

    day = date(2026, 5, 4)
    ensure_tables()
    reset_day(day)
    try:
        with transaction(ANALYTICS_POSTGRES) as cur:
            for hour, age in ((3, "1 hour"), (4, "1 hour"), (5, "0 seconds")):
                cur.execute(
                    "INSERT INTO analytics.etl_batches (dag_id, run_id, try_number, business_date, local_hour, invalid_rows,"
                    " started_at) VALUES ('ivr_calls_daily', 'scheduled__killed', 5, %s, %s, 'quarantine', now() - %s::interval)",
                    (day, hour, age))
        live = postgres_conn(ANALYTICS_POSTGRES)  # an attempt at hour 04 still running: it holds the lock
        try:
            with live.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(hashtext(%s))", (partition_lock_key("ivr_calls_daily", day, 4),))
            closed = deadline.close_abandoned_attempts()
        finally:
            live.close()
        assert f"ivr_calls_daily {day} hour 03" in closed and not [c for c in closed if str(day) in c and "hour 03" not in c]
        rows = dict(query("SELECT local_hour, outcome || ': ' || coalesce(error, '') FROM analytics.etl_batches"
                          " WHERE business_date = %s", (day,)))
        assert rows[3].startswith("failed: abandoned") and "closed by ivr_deadline_watch" in rows[3]
        assert rows[4] == "running: " and rows[5] == "running: "
        summary = deadline.check_deadlines(now=just_after_deadline(day, minutes=-60 * 24 * 10))
        assert f"ivr_calls_daily {day} hour 04" in summary["closed_attempts"]  # the attempt is gone now
    finally:
        reset_day(day)


@pytest.mark.parametrize("clean_day", [date(2026, 6, 3)], indirect=True)
def test_a_run_failure_alert_held_back_by_a_slack_outage_is_sent_once_by_the_watcher(clean_day, fake_slack):
    from types import SimpleNamespace

    run_id = f"manual__slack_outage_{os.getpid()}_{clean_day}"
    context = {"dag": SimpleNamespace(dag_id="ivr_drift_check", max_consecutive_failed_dag_runs=0),
               "run_id": run_id, "reason": "task_failure"}
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute("DELETE FROM analytics.alert_log WHERE run_id = %s", (run_id,))

    def sent() -> list[str]:
        return [m["text"] for m in fake_slack.messages if run_id in m["text"]]

    fake_slack.fail_with = 500
    alerts.alert_run_failed(context)
    alerts.alert_run_failed(context)  # fired again during the outage: still one alert owed
    assert sent() == []
    fake_slack.fail_with = None
    for minutes in (16, 31):  # the watcher's next runs: the first delivers it, the second has nothing to do
        deadline.check_deadlines(now=just_after_deadline(clean_day, minutes=minutes))
    alerts.alert_run_failed(context)  # and a late duplicate callback stays quiet
    [text] = sent()
    assert "`ivr_drift_check` run failed" in text



def test_a_task_that_succeeded_is_never_listed_as_failed(fake_slack):
    """Airflow 2.x hands the run's failure callback the run's last task instance, whatever its
    state: a reload that succeeded after the one that failed must not join the failures."""
    import dataclasses
    from types import SimpleNamespace

    run_id = f"manual__last_ti_{os.getpid()}"
    with transaction(ANALYTICS_POSTGRES) as cur:
        for table in ("alert_log", "task_failures"):
            cur.execute(f"DELETE FROM analytics.{table} WHERE run_id = %s", (run_id,))
        recorded = alerts.TaskFailure("ivr_drift_check", run_id, 0, "reload_hour", 0, None, 8, 1,
                                      "AirflowFailException: the source lost it", None)
        names = [f.name for f in dataclasses.fields(recorded)]
        cur.execute(f"INSERT INTO analytics.task_failures ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})",
                    dataclasses.astuple(recorded))
    succeeded = SimpleNamespace(task_id="reload_hour", map_index=1, state="success", dag_id="ivr_drift_check",
                                run_id=run_id, try_number=1, log_url="http://ui/x")
    alerts.alert_run_failed({"dag": SimpleNamespace(dag_id="ivr_drift_check", max_consecutive_failed_dag_runs=0),
                             "run_id": run_id, "reason": "task_failure", "ti": succeeded})

    [text] = [m["text"] for m in fake_slack.messages if run_id in m["text"]]
    assert "failed (1): reload_hour: hour 08" in text and "[1]" not in text
