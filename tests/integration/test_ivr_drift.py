"""The drift check: a loaded day compared hour by hour with its source (rows and a checksum of what
the load stores), only the drifted hours reloaded through the DAG's mapped tasks, metrics only for
days that pass the gate, one Slack message per batch. Real MariaDB, PostgreSQL and Slack stand-in."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from callcentre.ivr import drift, metrics, synthetic
from callcentre.ivr.business_day import HOURS
from callcentre.ivr.load import load_hour
from tests.airflow_compat import dag_test
from tests.integration.ivr_support import (
    ensure_tables,
    loaded,
    local_midnight,
    make_call,
    metrics_row,
    query,
    rejected,
    reset_day,
    source_execute,
)

DAY = date(2026, 6, 23)
ID = 623_000_000  # call ids no other test writes (the source table is shared)


@pytest.fixture(scope="module", autouse=True)
def tables():
    ensure_tables()


@pytest.fixture(scope="module")
def serialized():
    """The DAG in the metadata DB, as the dag-processor writes it (dag.test needs it there)."""
    import os

    from tests.e2e.airflow_processes import run_airflow

    run_airflow(dict(os.environ), "dags", "reserialize")


def forget_checks(day):
    query("DELETE FROM analytics.drift_checks WHERE business_date = %s RETURNING 1", (day,))
    # On 2.x every dag.test of the check is the same run (manual__<its logical date>): the claim of
    # an earlier failure alert would silence this one, and its recorded task failures join this run's.
    for table in ("alert_log", "task_failures"):
        query(f"DELETE FROM analytics.{table} WHERE dag_id = 'ivr_drift_check' AND run_id LIKE %s RETURNING 1",
              (f"manual__{day + timedelta(days=2)}T%",))


@pytest.fixture
def day():
    reset_day(DAY)
    forget_checks(DAY)
    yield DAY
    reset_day(DAY)
    forget_checks(DAY)


def at(day, hour, minute=0):
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour, minutes=minute)


def load_and_publish(day):
    for hour in HOURS:
        load_hour(day, hour, tz_name="UTC", run_id="daily")
    metrics.refresh_daily_metrics(day, "daily")


def a_day_of_every_kind_of_row(day):
    synthetic.write_calls([
        make_call(ID + 1, at(day, 3, 10)),
        make_call(ID + 2, at(day, 10, 5), dialed_number=None, ivr_path=None, queue_name=None, agent_id=None, wait_seconds=None),
        make_call(ID + 3, at(day, 10, 6), caller_number="  ", disposition="ANSWERED"),  # caller_missing
        make_call(ID + 4, at(day, 14, 0), caller_number='30|0"1,ñ'),
        make_call(ID + 5, at(day, 23, 58), end_time=None, duration=None),  # still open at the load
        make_call(ID + 6, at(day, 12, 0), duration=-5),
    ])
    source_execute("UPDATE calls SET end_time = '0000-00-00 00:00:00' WHERE call_id = %s", (ID + 6,))


def test_a_loaded_day_matches_its_source_in_every_hour(day):
    a_day_of_every_kind_of_row(day)
    load_and_publish(day)
    assert len(rejected(day)) == 3
    assert sorted(drift.hour_differences(day)) == []


def test_late_changes_are_found_in_their_hours_and_only_there(day):
    a_day_of_every_kind_of_row(day)
    load_and_publish(day)
    source_execute("UPDATE calls SET end_time = %s, duration = 300 WHERE call_id = %s", (at(day + timedelta(days=1), 0, 3), ID + 5))
    source_execute("UPDATE calls SET disposition = 'ABANDONED' WHERE call_id = %s", (ID + 2,))  # updated_at unchanged
    source_execute("DELETE FROM calls WHERE call_id = %s", (ID + 1,))
    synthetic.write_calls([make_call(ID + 7, at(day, 16, 30))])  # reached the replica late
    assert sorted(drift.hour_differences(day)) == [3, 10, 16, 23]


def load_dag():
    """A fresh parse of the DAG file, as a real run gets (dag.test merges the conf into params)."""
    import runpy
    from pathlib import Path

    dag = runpy.run_path(str(Path(__file__).resolve().parents[2] / "dags" / "ivr_drift_check.py"))["ivr_drift_check"]()
    for task in dag.tasks:
        task.retry_delay = timedelta(seconds=1)
    return dag


@pytest.fixture
def fake_slack(fake_slack, serialized):
    return fake_slack


def run_check(day, fake_slack, **params):
    dag = load_dag()
    return dag_test(dag, local_midnight(day + timedelta(days=2)), {"last_day": day.isoformat(), **params})


def test_the_check_reloads_only_the_drifted_hours_then_rewrites_the_days_metrics(day, fake_slack):
    a_day_of_every_kind_of_row(day)
    load_and_publish(day)
    source_execute("UPDATE calls SET end_time = %s, duration = 300 WHERE call_id = %s", (at(day + timedelta(days=1), 0, 3), ID + 5))
    synthetic.write_calls([make_call(ID + 7, at(day, 16, 30))])

    run_check(day, fake_slack, max_reject_ratio=0.5)  # 2 of 7 rows stay invalid

    reloads = query("SELECT local_hour, outcome FROM analytics.etl_batches WHERE business_date = %s"
                    " AND run_id <> 'daily' ORDER BY local_hour", (day,))
    assert reloads == [(16, "success"), (23, "success")]
    assert sorted(drift.hour_differences(day)) == []
    assert {ID + 5, ID + 7} <= {r[0] for r in loaded(day)}
    row = metrics_row(day)
    assert row["source_calls"] == 7 and row["computed_by_run_id"] != "daily"
    [message] = [m["text"] for m in fake_slack.messages]
    assert f"{day}: hours 16, 23; metrics rewritten" in message
    [(run_id, hours, repaired, error)] = checks(day)
    assert (hours, repaired, error) == ([16, 23], True, None)
    figures = query("SELECT local_hour, source_rows, target_rows, reloaded_at IS NOT NULL, "
                    "source_checksum <> target_checksum FROM analytics.drift_hours WHERE business_date = %s AND run_id = %s"
                    " ORDER BY 1", (day, run_id))
    assert figures == [(16, 1, 0, True, True), (23, 1, 1, True, True)]  # 23: same rows, other values

    run_check(day, fake_slack, max_reject_ratio=0.5)  # nothing drifted: nothing reloaded, no message
    assert len(fake_slack.messages) == 1
    # The latest check found no drift (on 2.x both dag.test runs share one run id: the record is rewritten).
    assert checks(day)[-1][1:] == ([], False, None)


def checks(day):
    """The drift checks recorded for ``day``, oldest first: (run_id, hours, repaired, repair_error)."""
    return [(r, list(h), rep, e) for r, h, rep, e in query(
        "SELECT run_id, drifted_hours, repaired_at IS NOT NULL, repair_error FROM analytics.drift_checks "
        "WHERE business_date = %s ORDER BY checked_at", (day,))]


def test_a_retried_check_rewrites_its_own_record(day):
    a_day_of_every_kind_of_row(day)
    load_and_publish(day)
    synthetic.write_calls([make_call(ID + 7, at(day, 16, 30))])
    assert drift.find_drift(day, 1, run_id="manual__retry") == [{"day": str(day), "hour": 16}]
    assert drift.find_drift(day, 1, run_id="manual__retry") == [{"day": str(day), "hour": 16}]
    assert checks(day) == [("manual__retry", [16], False, None)]
    assert query("SELECT count(*) FROM analytics.drift_hours WHERE business_date = %s", (day,)) == [(1,)]


def test_a_repaired_day_that_fails_its_gate_keeps_its_metrics_and_says_so(day, fake_slack):
    synthetic.write_calls([make_call(ID + i, at(day, 9, i)) for i in range(1, 11)])
    load_and_publish(day)
    before = metrics_row(day)
    source_execute("UPDATE calls SET duration = -1 WHERE call_id BETWEEN %s AND %s", (ID + 1, ID + 5))

    run_check(day, fake_slack)

    assert len(rejected(day)) == 5  # the hour was reloaded: the target is true to its source
    assert metrics_row(day) == before  # but the day fails its gate: no metrics written
    [message] = [m["text"] for m in fake_slack.messages]
    assert "ivr_drift_check` run failed" in message  # the run's failure alert is the batch's message
    assert f"{day}: FAILED, metrics left as they were: its quality gate failed" in message and "max_reject_ratio" in message
    [(_, hours, repaired, error)] = checks(day)  # still drifted for the page, with the reason
    assert (hours, repaired) == ([9], False) and "max_reject_ratio" in error


def test_a_day_never_loaded_is_left_to_its_own_run(day, fake_slack):
    synthetic.write_calls([make_call(ID + 1, at(day, 9))])
    load_hour(day, 9, tz_name="UTC", run_id="partial")  # loaded in part, never published
    assert drift.find_drift(day, 7) == []
    run_check(day, fake_slack)
    assert metrics_row(day) is None and fake_slack.messages == []


def test_an_hour_the_source_purged_does_not_hold_back_the_other_days_repairs(day, fake_slack):
    """Day 1 lost an hour in the source (deleted or purged) and day 2 had a late correction: day
    2 is repaired and published, day 1 keeps its calls and metrics and is named as failed, in the
    batch's one message."""
    other = day + timedelta(days=1)
    reset_day(other)
    forget_checks(other)
    try:
        synthetic.write_calls([make_call(ID + 11, at(day, 8)), make_call(ID + 12, at(day, 9)),
                               make_call(ID + 21, at(other, 8))])
        load_and_publish(day)
        load_and_publish(other)
        source_execute("DELETE FROM calls WHERE call_id = %s", (ID + 11,))
        source_execute("UPDATE calls SET duration = 77 WHERE call_id = %s", (ID + 21,))
        before = metrics_row(day)

        run = dag_test(load_dag(), local_midnight(other + timedelta(days=2)), {"last_day": other.isoformat(), "days": 2})

        assert run.state == "failed"
        assert {r[0] for r in loaded(day)} == {ID + 11, ID + 12} and metrics_row(day) == before
        assert [r[5] for r in loaded(other)] == [77] and metrics_row(other)["computed_by_run_id"] != "daily"
        [message] = [m["text"] for m in fake_slack.messages]
        assert f"{other}: hours 08; metrics rewritten" in message
        assert f"{day}: FAILED, metrics left as they were: hours 08 not reloaded" in message
        assert "the IVR deleted or purged them" in message  # the reload task's own error
    finally:
        reset_day(other)
        forget_checks(other)


def test_publish_after_a_failed_find_drift_fails_saying_so():
    """On Airflow 2.11 publish's all_done also runs it after find_drift failed, with no XCom."""
    from callcentre.common.compat import AirflowFailException

    with pytest.raises(AirflowFailException, match="find_drift failed: nothing to publish"):
        drift.publish_task(None, {})


def test_a_reload_cleared_and_failing_now_does_not_count_as_reloaded(day):
    a_day_of_every_kind_of_row(day)
    load_and_publish(day)
    synthetic.write_calls([make_call(ID + 7, at(day, 16, 30))])
    assert drift.find_drift(day, 1, run_id="manual__cleared") == [{"day": str(day), "hour": 16}]
    drift._mark_reloaded(day, "manual__cleared", 16, True)  # its first try succeeded
    drift._mark_reloaded(day, "manual__cleared", 16, False)  # cleared, and its new try starts (then fails)

    report = drift.repair_days([{"day": str(day), "hour": 16}], run_id="manual__cleared", max_reject_ratio=0.5,
                               tz_name="UTC")

    assert report.repaired == {} and "16 not reloaded" in report.failed[str(day)]
