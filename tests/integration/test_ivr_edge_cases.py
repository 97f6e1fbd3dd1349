"""The edge cases that lost or misfiled calls (issue: the day an operator names): time values,
newest wins under a real concurrent change, ledger rows of attempts that timed out or were
killed, calls still open at midnight. Real MariaDB and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from callcentre.common.compat import AirflowFailException
from callcentre.ivr import drift, metrics, reconcile, settle, source, synthetic
from callcentre.ivr.business_day import HOURS
from callcentre.ivr.load import HourLoad, load_hour
from callcentre.ivr.rules import fall_back_fold
from tests.integration.ivr_support import ensure_tables, ledger, loaded, make_call, query, rejected, reset_day, source_execute
from tests.unit.test_ivr_rules import reject_reason

DAY = date(2026, 8, 17)
MADRID_FALL_BACK = date(2026, 10, 25)  # 03:00 CEST -> 02:00 CET: 02:00-03:00 happens twice


@pytest.fixture(scope="module", autouse=True)
def tables():
    ensure_tables()


@pytest.fixture
def day():
    reset_day(DAY)
    yield DAY
    reset_day(DAY)


@pytest.fixture
def fall_back_day():
    reset_day(MADRID_FALL_BACK)
    yield MADRID_FALL_BACK
    reset_day(MADRID_FALL_BACK)


def at(day, hour, minute=0, second=0):
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour, minutes=minute, seconds=second)


def load_day(day, tz="UTC", run_id="edge"):
    return [load_hour(day, h, tz_name=tz, run_id=run_id) for h in HOURS]


# --- time values ------------------------------------------------------------------------------

def test_a_call_across_the_autumn_change_is_valid_and_stored_as_the_instants_it_spans(fall_back_day):
    day = fall_back_day
    crossing = make_call(1, at(day, 2, 50), end_time=at(day, 2, 5), duration=900)  # 02:50 CEST -> 02:05 CET
    impossible = make_call(2, at(day, 2, 50), end_time=at(day, 1, 30), duration=900)  # ends before the window
    synthetic.write_calls([crossing, impossible])
    fold = fall_back_fold(day, ZoneInfo("Europe/Madrid"))
    assert reject_reason(crossing, fold) is None and reject_reason(impossible, fold) == "end_before_start"
    load_day(day, tz="Europe/Madrid")
    (start, end), = query("SELECT start_time, end_time FROM analytics.calls WHERE call_id = 1")
    assert end - start == timedelta(minutes=15)
    assert start == datetime(2026, 10, 25, 0, 50, tzinfo=timezone.utc)  # 02:50 CEST, the first 02:50
    assert [(r[0], r[2]) for r in rejected(day)] == [(2, "end_before_start")]


def test_the_same_wall_clock_times_on_an_ordinary_day_still_break_end_before_start(day):
    synthetic.write_calls([make_call(3, at(day, 2, 50), end_time=at(day, 2, 5), duration=900)])
    load_day(day, tz="Europe/Madrid")
    assert [(r[0], r[2]) for r in rejected(day)] == [(3, "end_before_start")]


def test_zero_and_impossible_dates_are_quarantined_and_the_hour_goes_on(day):
    synthetic.write_calls([
        make_call(10, at(day, 9)),
        make_call(11, at(day, 9, 5), end_time="0000-00-00 00:00:00"),
        make_call(12, at(day, 9, 6), end_time=f"{day.year}-{day.month:02d}-00 10:00:00"),
        make_call(13, at(day, 9, 7), updated_at="0000-00-00 00:00:00"),
    ])
    results = load_day(day)
    assert results[9].rows_read == 4 and results[9].rows_loaded == 1
    assert [(r[0], r[2]) for r in rejected(day)] == [
        (11, "end_time_invalid"), (12, "end_time_invalid"), (13, "updated_at_invalid")]
    assert [r[0] for r in loaded(day)] == [10]
    reconcile.check_day(reconcile.count_day(day), max_reject_ratio=1)


def test_fail_mode_names_the_zero_date_row_and_rule(day):
    synthetic.write_calls([make_call(14, at(day, 9), end_time="0000-00-00 00:00:00")])
    with pytest.raises(AirflowFailException, match=r"call_id=14: end_time=None breaks rule 'end_time_invalid'"):
        load_hour(day, 9, tz_name="UTC", run_id="edge", invalid_rows="fail")


# --- newest wins ------------------------------------------------------------------------------

def test_an_older_read_never_replaces_a_newer_version_written_by_a_concurrent_load(day):
    """Hour 10 reads call X; X then moves to hour 9 in the source; hour 9's load commits X;
    only then does hour 10 write. Driven phase by phase: a real interleaving, no sleeps."""
    synthetic.write_calls([make_call(20, at(day, 10, 1)), make_call(21, at(day, 10, 2))])
    load_day(day)
    late = HourLoad(day, 10, tz_name="UTC", run_id="late")
    late.begin()
    late.stage()  # reads X = 20 in hour 10
    source_execute("UPDATE calls SET start_time = %s, updated_at = %s WHERE call_id = 20",
                   (at(day, 9, 59), at(day, 11)))
    load_hour(day, 9, tz_name="UTC", run_id="early")  # commits the newer X in hour 9
    late.replace()
    late.close()
    assert late.result.rows_superseded == 1 and late.result.rows_loaded == 1
    rows = {r[0]: r for r in loaded(day)}
    assert rows[20][1] == 9 and rows[20][-1] == at(day, 11)  # hour 9's newer version survived
    assert rows[21][1] == 10
    reconcile.check_day(reconcile.count_day(day), max_reject_ratio=0)  # balances: no retry needed


def test_a_correction_with_an_older_updated_at_replaces_the_stored_call_on_reload(day):
    """A restore from backup: the source's row changes and its updated_at goes backwards. The
    reload (a clear of the hour) lands what the source holds now."""
    synthetic.write_calls([make_call(40, at(day, 10, 1)), make_call(41, at(day, 10, 2), duration=-1)])
    load_hour(day, 10, tz_name="UTC", run_id="first")
    source_execute("UPDATE calls SET disposition = 'ABANDONED', updated_at = %s WHERE call_id = 40", (at(day, 10) - timedelta(days=3),))
    source_execute("UPDATE calls SET duration = 5, updated_at = %s WHERE call_id = 41", (at(day, 10) - timedelta(days=3),))

    result = load_hour(day, 10, tz_name="UTC", run_id="clear")

    rows = {r[0]: r for r in loaded(day)}
    assert rows[40][9] == "ABANDONED" and rows[40][-1] == at(day, 10) - timedelta(days=3)
    assert rows[41][5] == 5 and rejected(day) == []  # left quarantine although "older"
    assert result.rows_superseded == 0 and result.rows_loaded == 2
    reconcile.check_day(reconcile.count_day(day), max_reject_ratio=0, loaded_hours=(10,))


@pytest.mark.parametrize("order", ["old day first", "new day first"])
def test_a_call_moved_to_the_next_day_with_an_older_updated_at_leaves_the_old_day(day, order):
    """A skewed clock moves a call past midnight with an updated_at before the stored one: both
    days reconcile after their reloads, in either order, instead of failing every try."""
    other = day + timedelta(days=1)
    reset_day(other)
    try:
        synthetic.write_calls([make_call(42, at(day, 23, 50)), make_call(43, at(day, 23, 55))])
        load_hour(day, 23, tz_name="UTC", run_id="day")
        source_execute("UPDATE calls SET start_time = %s, end_time = %s, updated_at = %s WHERE call_id = 42",
                       (at(other, 0, 5), at(other, 0, 9), at(day, 23, 50)))
        loads = [(day, 23), (other, 0)] if order == "old day first" else [(other, 0), (day, 23)]
        for d, h in loads:
            load_hour(d, h, tz_name="UTC", run_id="reload")
        assert [r[0] for r in loaded(day)] == [43] and [r[0] for r in loaded(other)] == [42]
        for d, h in loads:
            reconcile.check_day(reconcile.count_day(d), max_reject_ratio=0, loaded_hours=(h,))
    finally:
        reset_day(other)


def test_the_later_read_wins_a_concurrent_move_even_when_its_updated_at_is_older(day):
    """As the interleaving above, with the writer's clock behind: hour 9 read call X after it
    moved there, so its version survives although its updated_at is the older one."""
    synthetic.write_calls([make_call(44, at(day, 10, 1)), make_call(45, at(day, 10, 2))])
    load_day(day)
    late = HourLoad(day, 10, tz_name="UTC", run_id="late")
    late.begin()
    late.stage()  # reads X = 44 in hour 10
    source_execute("UPDATE calls SET start_time = %s, updated_at = %s WHERE call_id = 44",
                   (at(day, 9, 59), at(day, 9, 59)))  # before the stored updated_at (10:03:11)
    load_hour(day, 9, tz_name="UTC", run_id="early")
    late.replace()
    late.close()
    assert late.result.rows_superseded == 1
    rows = {r[0]: r for r in loaded(day)}
    assert rows[44][1] == 9 and rows[45][1] == 10
    reconcile.check_day(reconcile.count_day(day), max_reject_ratio=0)


def test_a_reconcile_mismatch_from_a_source_change_reloads_the_hour_instead_of_failing(day):
    synthetic.write_calls([make_call(30, at(day, 8))])
    load_day(day)
    synthetic.write_calls([make_call(31, at(day, 8, 30))])  # arrives after the load
    reloaded = []
    counts = reconcile.count_day_reloading(
        day, HOURS, reload_hour=lambda h: reloaded.append(load_hour(day, h, tz_name="UTC", run_id="re")))
    assert [r.hour for r in reloaded] == [8]
    reconcile.check_day(counts, max_reject_ratio=0)
    # An hour this run did not load is not reloaded behind the operator's back: permanent.
    synthetic.write_calls([make_call(32, at(day, 15))])
    counts = reconcile.count_day_reloading(day, [8], reload_hour=lambda h: pytest.fail("not ours"))
    with pytest.raises(AirflowFailException, match=r"Hours \[15\] were not loaded by this run"):
        reconcile.check_day(counts, max_reject_ratio=0, loaded_hours=[8])
    # One that still does not balance after its reload is retried by Airflow (transient).
    with pytest.raises(reconcile.ReconcileMismatch):
        reconcile.check_day(counts, max_reject_ratio=0, loaded_hours=[8, 15])


# --- ledger -----------------------------------------------------------------------------------

def _busy_hour(day, hour=11, calls=60_000):
    rows = synthetic.day_calls(day, calls, seed=5, invalid_share=0)
    synthetic.write_calls([(r[0], at(day, hour, 0, i % 3600), *r[2:]) for i, r in enumerate(rows)])


def test_a_timed_out_attempt_closes_its_ledger_row(day):
    from airflow.sdk.exceptions import AirflowTaskTimeout

    _busy_hour(day)
    fired = []

    def timeout(signum, frame):  # what Airflow's execution_timeout does: raise in the task
        if not fired:
            fired.append(1)
            raise AirflowTaskTimeout("Timeout, PID: test")

    def alarm_once_running():  # the timeout strikes mid-attempt: once its ledger row exists
        deadline = time.monotonic() + 60
        while not [r for r in ledger(day) if r[2] == "running"] and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(os.getpid(), signal.SIGALRM)

    previous = signal.signal(signal.SIGALRM, timeout)
    watcher = threading.Thread(target=alarm_once_running, daemon=True)
    watcher.start()
    try:
        with pytest.raises(AirflowTaskTimeout):
            load_hour(day, 11, tz_name="UTC", run_id="timeout", chunk_size=500)
    finally:
        watcher.join(60)
        signal.signal(signal.SIGALRM, previous)
    (outcome, error), = [(r[2], r[6]) for r in ledger(day)]
    assert outcome == "failed" and "AirflowTaskTimeout" in error
    assert loaded(day) == []


def test_a_killed_worker_leaves_no_running_row_after_the_next_attempt(day):
    _busy_hour(day)
    worker = subprocess.Popen(
        [sys.executable, "-c",
         f"from datetime import date; from callcentre.ivr.load import load_hour; "
         f"load_hour(date.fromisoformat('{day}'), 11, tz_name='UTC', run_id='killed', chunk_size=500)"],
        env=os.environ.copy(), start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not [r for r in ledger(day) if r[2] == "running"]:
            assert worker.poll() is None, "the worker finished before it could be killed"
            assert time.monotonic() < deadline, "the worker never started its attempt"
            time.sleep(0.01)
        os.killpg(worker.pid, signal.SIGKILL)  # the worker dies mid-attempt: no callback, no cleanup
    finally:
        worker.wait(30)
    assert [r[2] for r in ledger(day)] == ["running"]
    load_hour(day, 11, tz_name="UTC", run_id="next", try_number=2)
    rows = ledger(day)
    assert [r[2] for r in rows] == ["failed", "success"]
    assert rows[0][6].startswith("abandoned")
    assert len(loaded(day)) + len(rejected(day)) == 60_000  # the hour, exactly once


# --- calls still open at midnight ---------------------------------------------------------------

def test_the_run_waits_while_a_call_of_the_day_is_open_then_goes(day, monkeypatch):
    monkeypatch.setenv("IVR_SETTLE_MINUTES", "10")
    monkeypatch.setenv("IVR_SETTLE_LIMIT_MINUTES", "120")
    utc = ZoneInfo("UTC")
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=utc)
    synthetic.write_calls([make_call(40, at(day, 23, 58), end_time=None, duration=None)])
    assert not settle.day_has_settled(day, utc, end + timedelta(minutes=5))   # settle time not over
    assert not settle.day_has_settled(day, utc, end + timedelta(minutes=30))  # the call is still open
    assert settle.day_has_settled(day, utc, end + timedelta(hours=3))         # past the limit: go anyway
    source_execute("UPDATE calls SET end_time = %s, duration = 300 WHERE call_id = 40", (at(day + timedelta(days=1), 0, 3),))
    assert settle.day_has_settled(day, utc, end + timedelta(minutes=30))


def test_plan_waits_until_the_day_has_settled_then_lists_the_hours(day, monkeypatch):
    """The run's first task is the settle wait: its pokes say "not yet" (no hour is created) until
    the day has settled, then return the hours load_hour is mapped over."""
    from types import SimpleNamespace

    from callcentre.ivr import runtime

    monkeypatch.setenv("IVR_TIMEZONE", "UTC")
    context = {"params": {}, "dag_run": SimpleNamespace(conf={}, run_type="backfill"),
               "logical_date": datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)}
    days_ago = (datetime.now(timezone.utc).date() - day).days
    monkeypatch.setenv("IVR_SETTLE_MINUTES", str((days_ago + 1) * 24 * 60))  # ended, not settled yet
    assert runtime.plan(context) is False
    monkeypatch.setenv("IVR_SETTLE_MINUTES", "0")
    done = runtime.plan(context)
    assert done.is_done and done.xcom_value == list(HOURS)
    context["params"] = {"hours": [3, 7]}
    assert runtime.plan(context).xcom_value == [3, 7]


def test_the_open_calls_check_reads_only_the_last_call_length_of_the_day_by_its_index(day, monkeypatch):
    monkeypatch.setenv("IVR_MAX_CALL_MINUTES", "120")
    utc = ZoneInfo("UTC")
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=utc)
    # Left without an end since the morning: no call lasts 15 hours, so it holds nothing up.
    synthetic.write_calls([make_call(46, at(day, 8), end_time=None, duration=None)])
    synthetic.write_calls([make_call(47 + i, at(day, 12, i)) for i in range(50)])
    assert settle.day_has_settled(day, utc, end + timedelta(minutes=30))
    synthetic.write_calls([make_call(48 + 50, at(day, 22, 30), end_time=None, duration=None)])
    assert not settle.day_has_settled(day, utc, end + timedelta(minutes=30))
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    lower, upper = at(day, 22), at(day + timedelta(days=1), 0)  # the range the check reads
    plan = MySqlHook(mysql_conn_id="ivr_mariadb").get_records("EXPLAIN " + source.OPEN_CALLS_SQL, (lower, upper))
    row = dict(zip(("id", "select_type", "table", "type", "possible_keys", "key", "key_len", "ref", "rows", "Extra"), plan[0]))
    assert row["type"] == "range" and row["key"] == "calls_start_time_idx", row


def test_a_call_open_at_the_load_is_picked_up_by_the_drift_check(day):
    synthetic.write_calls([make_call(50, at(day, 23, 58), end_time=None, duration=None), make_call(51, at(day, 12))])
    load_day(day)
    metrics.refresh_daily_metrics(day, "edge")
    assert [(r[0], r[2]) for r in rejected(day)] == [(50, "duration_missing")]
    source_execute("UPDATE calls SET end_time = %s, duration = 300, updated_at = %s WHERE call_id = 50",
                   (at(day + timedelta(days=1), 0, 3), at(day + timedelta(days=1), 0, 3)))
    found = drift.find_drift(day + timedelta(days=1), days=2)
    assert found == [{"day": day.isoformat(), "hour": 23}]
    for item in found:
        load_hour(day, item["hour"], tz_name="UTC", run_id="drift")
    report = drift.repair_days(found, run_id="drift", max_reject_ratio=0, tz_name="UTC")
    assert report.repaired == {day.isoformat(): [23]} and report.failed == {}
    assert rejected(day) == [] and [r[0] for r in loaded(day)] == [50, 51]
    (source, total), = query("SELECT source_calls, total_calls FROM analytics.daily_metrics WHERE metric_date = %s", (day,))
    assert (source, total) == (2, 2)
    assert drift.find_drift(day + timedelta(days=1), days=2) == []  # nothing left to repair
