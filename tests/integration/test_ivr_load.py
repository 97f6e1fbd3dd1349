"""The hourly load against real MariaDB and PostgreSQL, called as the DAG's tasks call it."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import MySQLdb
import pytest

from callcentre.common.compat import AirflowFailException
from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.pg import postgres_conn
from callcentre.ivr import load as load_mod
from callcentre.ivr import metrics, reconcile, synthetic
from callcentre.ivr.business_day import HOURS
from callcentre.ivr.load import load_hour
from tests.integration.ivr_support import (
    ExtractKiller,
    ensure_tables,
    ledger,
    loaded,
    loaded_ids,
    make_call,
    metrics_row,
    query,
    rejected,
    reset_day,
    source_execute,
)
from tests.unit.test_ivr_rules import reject_reason

DAY = date(2026, 9, 14)


@pytest.fixture(scope="module", autouse=True)
def tables():
    ensure_tables()


@pytest.fixture
def day():
    reset_day(DAY)
    yield DAY
    reset_day(DAY)


def load_day(day, run_id="test-run", **kwargs):
    results = [load_hour(day, h, tz_name="UTC", run_id=run_id, **kwargs) for h in HOURS]
    counts = reconcile.count_day(day)
    return results, counts


def at(day, hour, minute=0):
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour, minutes=minute)


def test_full_day_then_rerun_converges_to_the_same_rows(day):
    rows = synthetic.day_calls(day, 3000, seed=1)
    synthetic.write_calls(rows)
    invalid = sum(1 for r in rows if reject_reason(r))
    assert invalid > 0

    results, counts = load_day(day)
    reconcile.check_day(counts, max_reject_ratio=0.05)
    assert counts.source_calls == 3000
    assert counts.loaded_calls == 3000 - invalid and counts.rejected_calls == invalid
    assert sum(r.rows_read for r in results) == 3000
    first = loaded(day)
    first_rejects = rejected(day)
    assert len(first) == 3000 - invalid and len(first_rejects) == invalid

    load_day(day, run_id="second-run")
    assert loaded(day) == first
    assert rejected(day) == first_rejects
    outcomes = [row[2] for row in ledger(day)]
    assert outcomes == ["success"] * 48


def test_reprocessing_one_hour_picks_up_source_changes_and_leaves_other_hours(day):
    synthetic.write_calls([make_call(1, at(day, 5)), make_call(2, at(day, 5, 30)), make_call(3, at(day, 6))])
    load_day(day)
    source_execute("UPDATE calls SET disposition = 'ABANDONED', duration = 3 WHERE call_id = 2")
    source_execute("DELETE FROM calls WHERE call_id = 1")
    synthetic.write_calls([make_call(4, at(day, 5, 45))])
    before_hour_6 = [r for r in loaded(day) if r[1] == 6]

    result = load_hour(day, 5, tz_name="UTC", run_id="reprocess-5")

    assert (result.rows_read, result.rows_loaded) == (2, 2)
    rows = {r[0]: r for r in loaded(day)}
    assert sorted(rows) == [2, 3, 4]
    assert rows[2][9] == "ABANDONED" and rows[2][5] == 3
    assert [r for r in loaded(day) if r[1] == 6] == before_hour_6
    reconcile.check_day(reconcile.count_day(day), 0.05)


@pytest.mark.parametrize("order", [(3, 7), (7, 3)])
def test_a_call_moved_to_another_hour_moves_in_the_target(day, order):
    synthetic.write_calls([make_call(10, at(day, 3, 15)), make_call(11, at(day, 3, 20))])
    load_day(day)
    source_execute("UPDATE calls SET start_time = %s, end_time = %s WHERE call_id = 10", (at(day, 7, 5), at(day, 7, 8)))

    for hour in order:
        load_hour(day, hour, tz_name="UTC", run_id=f"move-{hour}")

    hours = {r[0]: r[1] for r in loaded(day)}
    assert hours == {10: 7, 11: 3}
    assert query("SELECT count(*) FROM analytics.calls WHERE call_id = 10") == [(1,)]


def test_an_hour_the_source_no_longer_holds_is_not_emptied_unless_asked(day):
    """A backfill past the IVR's retention (or a purge by mistake): the source lost the hour's
    calls; analytics keeps them, and says so, until a run with min_calls=0 empties the hour."""
    synthetic.write_calls([make_call(30, at(day, 4)), make_call(31, at(day, 4, 30)), make_call(32, at(day, 5))])
    load_day(day)
    source_execute("DELETE FROM calls WHERE call_id IN (30, 31)")

    with pytest.raises(AirflowFailException, match=r"hour 04: the source holds no call for it, nor any of the 2 calls "
                                                   r"analytics holds for it \(2 looked up by id\).*"
                                                   r'with \{"min_calls": 0, "hours": \[4\]\}'):
        load_hour(day, 4, tz_name="UTC", run_id="after-purge")
    assert loaded_ids(day) == {30, 31, 32}
    assert ledger(day)[-1][:3] == (4, 1, "failed")

    load_hour(day, 4, tz_name="UTC", run_id="emptied", empty_ok=True)
    assert loaded_ids(day) == {32}


def test_an_hour_whose_only_call_moved_to_another_hour_is_emptied(day):
    synthetic.write_calls([make_call(40, at(day, 2, 10))])
    load_day(day)
    source_execute("UPDATE calls SET start_time = %s, end_time = %s WHERE call_id = 40", (at(day, 8, 5), at(day, 8, 9)))

    load_hour(day, 2, tz_name="UTC", run_id="moved-2")  # the call still is in the source: no refusal
    load_hour(day, 8, tz_name="UTC", run_id="moved-8")

    assert {r[0]: r[1] for r in loaded(day)} == {40: 8}


# One way per column to store a value that differs from what the load writes (as an earlier,
# faulty version of our transformation could have): NULLs become values too.
TAMPER_CALLS = {
    "business_date": "business_date + 1",
    "local_hour": "(local_hour + 1) %% 24",
    "start_time": "start_time + interval '1 hour'",
    "end_time": "coalesce(end_time + interval '1 second', start_time)",
    "start_local": "start_local + interval '1 hour'",
    "end_local": "coalesce(end_local + interval '1 second', start_local)",
    "duration": "duration + 1",
    "caller_number": "caller_number || '0'",
    "dialed_number": "coalesce(dialed_number || '0', '0')",
    "ivr_path": "coalesce(ivr_path || '>x', 'x')",
    "disposition": "disposition || 'X'",
    "queue_name": "coalesce(queue_name || 'x', 'x')",
    "agent_id": "coalesce(agent_id + 1, 0)",
    "wait_seconds": "coalesce(wait_seconds + 1, 0)",
    "source_updated_at": "source_updated_at - interval '1 second'",
}
TAMPER_REJECTS = {
    "business_date": "business_date + 1",
    "local_hour": "(local_hour + 1) %% 24",
    "reject_reason": "reject_reason || 'x'",
    "start_time": "start_time + interval '1 hour'",
    "end_time": "coalesce(end_time + interval '1 second', start_time)",
    "duration": "coalesce(duration + 1, 0)",
    "caller_number": "coalesce(caller_number || '0', '0')",
    "dialed_number": "coalesce(dialed_number || '0', '0')",
    "ivr_path": "coalesce(ivr_path || '>x', 'x')",
    "disposition": "coalesce(disposition || 'X', 'X')",
    "queue_name": "coalesce(queue_name || 'x', 'x')",
    "agent_id": "coalesce(agent_id + 1, 0)",
    "wait_seconds": "coalesce(wait_seconds + 1, 0)",
    "updated_at": "updated_at - interval '1 second'",
}


def test_a_reload_keeps_identical_rows_and_rewrites_every_row_stored_differently(day):
    # A reload must still repair rows after a fix in our own transformation: a stored row that
    # differs from what the load would write, in any one column, is rewritten; identical ones stay.
    assert set(TAMPER_CALLS) | {"call_id"} == set(load_mod.CALLS_VALUES)
    assert set(TAMPER_REJECTS) | {"call_id"} == set(load_mod.REJECTS_VALUES)
    calls = [make_call(100 + i, at(day, 9 + i % 2, i)) for i in range(len(TAMPER_CALLS) + 3)]
    rejects = [make_call(200 + i, at(day, 9 + i % 2, 30 + i), duration=-1) for i in range(len(TAMPER_REJECTS) + 3)]
    synthetic.write_calls(calls + rejects)
    for hour in (9, 10):
        load_hour(day, hour, tz_name="UTC", run_id="first")
    calls_sql = f"SELECT {', '.join(load_mod.CALLS_VALUES)} FROM analytics.calls WHERE call_id BETWEEN 100 AND 299 ORDER BY call_id"
    rejects_sql = f"SELECT {', '.join(load_mod.REJECTS_VALUES)} FROM analytics.call_rejects WHERE call_id BETWEEN 100 AND 299 ORDER BY call_id"
    expected = query(calls_sql), query(rejects_sql)
    for table, tamper, first_id in (("calls", TAMPER_CALLS, 100), ("call_rejects", TAMPER_REJECTS, 200)):
        for call_id, (column, value) in enumerate(tamper.items(), start=first_id):
            query(f"UPDATE analytics.{table} SET {column} = {value} WHERE call_id = %s RETURNING call_id", (call_id,))
    assert (query(calls_sql), query(rejects_sql)) != expected

    results = [load_hour(day, hour, tz_name="UTC", run_id="reload") for hour in (9, 10)]

    assert (query(calls_sql), query(rejects_sql)) == expected
    rewritten = query("SELECT call_id FROM analytics.calls WHERE loaded_by_run_id = 'reload'"
                      " UNION ALL SELECT call_id FROM analytics.call_rejects WHERE loaded_by_run_id = 'reload' ORDER BY 1")
    assert [r[0] for r in rewritten] == [*range(100, 100 + len(TAMPER_CALLS)), *range(200, 200 + len(TAMPER_REJECTS))]
    assert sum(r.rows_unchanged for r in results) == 6
    assert sum(r.rows_loaded for r in results) == len(calls) and sum(r.rows_rejected for r in results) == len(rejects)
    reconcile.check_day(reconcile.count_day(day), max_reject_ratio=1, loaded_hours=(9, 10))


def test_a_call_moved_to_another_day_leaves_the_old_day(day):
    other = day + timedelta(days=1)
    reset_day(other)
    try:
        synthetic.write_calls([make_call(20, at(day, 23, 50))])
        load_hour(day, 23, tz_name="UTC", run_id="r1")
        source_execute("UPDATE calls SET start_time = %s, end_time = %s WHERE call_id = 20", (at(other, 0, 5), at(other, 0, 9)))
        load_hour(other, 0, tz_name="UTC", run_id="r2")
        assert loaded(day) == [] and [r[0] for r in loaded(other)] == [20]
    finally:
        reset_day(other)


def test_a_call_committed_meanwhile_by_another_hours_load_is_replaced_in_the_same_attempt(day):
    # Hour 8's load read call 25 before it moved to hour 9 in the source; that load commits while
    # hour 9's load is inserting it. The clash is a race, not bad data: hour 9's keys wait for
    # hour 8's commit, meet its key, and the attempt finds and replaces that older version.
    synthetic.write_calls([make_call(25, at(day, 9, 5))])
    other_load = postgres_conn(ANALYTICS_POSTGRES)
    with other_load.cursor() as cur:
        cur.execute(
            "INSERT INTO analytics.calls (call_id, business_date, local_hour, start_time, start_local, duration,"
            " caller_number, disposition, source_updated_at, loaded_by_run_id)"
            " VALUES (25, %s, 8, %s, %s, 120, '3000000025', 'ANSWERED', %s, 'hour-8')",
            (day, at(day, 8, 5), at(day, 8, 5), at(day, 8, 6)),
        )
    committed = threading.Timer(1.0, other_load.commit)
    committed.start()
    try:
        result = load_hour(day, 9, tz_name="UTC", run_id="hour-9", try_number=1)
    finally:
        committed.join()
        other_load.close()
    assert (result.rows_loaded, result.rows_superseded) == (1, 0)
    assert {r[0]: r[1] for r in loaded(day)} == {25: 9}


def test_call_ids_that_do_not_follow_time_are_read_in_full(day):
    # The extract bounds an hour by its smallest and largest call_id: calls of other hours inside
    # those bounds must stay out, and every call of the hour must come in.
    hour_10 = [make_call(5, at(day, 10, 1)), make_call(50_000, at(day, 10, 2)), make_call(900, at(day, 10, 59))]
    hour_11 = [make_call(i, at(day, 11, i % 60)) for i in range(6, 900)]
    synthetic.write_calls(hour_10 + hour_11)

    result = load_hour(day, 10, tz_name="UTC", run_id="ids")

    assert (result.rows_read, result.rows_loaded) == (3, 3)
    assert [(r[0], r[1]) for r in loaded(day)] == [(5, 10), (900, 10), (50_000, 10)]
    assert set(result.phases) == {"stage", "validate", "delete", "keys", "insert", "commit"}


def test_quarantine_keeps_invalid_rows_with_reason_and_raw_values(day):
    synthetic.write_calls([
        make_call(30, at(day, 9)),
        make_call(31, at(day, 9, 1), duration=-120),
        make_call(32, at(day, 9, 2), caller_number=None),
        make_call(33, at(day, 9, 3), disposition="VOICEMAIL"),
    ])
    result = load_hour(day, 9, tz_name="UTC", run_id="q")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 1, 3)
    assert result.reasons == {"duration_negative": 1, "caller_missing": 1, "disposition_unknown": 1}
    assert rejected(day) == [
        (31, 9, "duration_negative", -120, "3000000031", "ANSWERED", 10),
        (32, 9, "caller_missing", 120, None, "ANSWERED", 10),
        (33, 9, "disposition_unknown", 120, "3000000033", "VOICEMAIL", 10),
    ]


def test_fail_mode_names_the_row_value_and_rule_and_writes_nothing(day):
    synthetic.write_calls([make_call(40, at(day, 11))])
    load_hour(day, 11, tz_name="UTC", run_id="before")
    before = loaded(day)
    synthetic.write_calls([make_call(41, at(day, 11, 5), wait_seconds=-9), make_call(42, at(day, 11, 6))])

    with pytest.raises(AirflowFailException) as err:
        load_hour(day, 11, tz_name="UTC", run_id="strict", invalid_rows="fail")

    message = str(err.value)
    assert "call_id=41" in message and "wait_seconds=-9" in message and "wait_negative" in message
    assert "nothing was written" in message
    assert loaded(day) == before and rejected(day) == []
    assert ledger(day)[-1][:3] == (11, 1, "failed")


def test_a_row_that_becomes_valid_leaves_quarantine(day):
    synthetic.write_calls([make_call(50, at(day, 14), duration=None)])
    load_hour(day, 14, tz_name="UTC", run_id="r1")
    assert [r[0] for r in rejected(day)] == [50]
    source_execute("UPDATE calls SET duration = 60 WHERE call_id = 50")
    load_hour(day, 14, tz_name="UTC", run_id="r2")
    assert rejected(day) == [] and [r[0] for r in loaded(day)] == [50]


def test_dry_run_reads_and_validates_but_writes_nothing(day):
    synthetic.write_calls([make_call(60, at(day, 2)), make_call(61, at(day, 2, 1), duration=-1)])
    result = load_hour(day, 2, tz_name="UTC", run_id="dry", dry_run=True)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected, result.dry_run) == (2, 1, 1, True)
    assert loaded(day) == [] and rejected(day) == [] and ledger(day) == []


def test_source_outage_mid_stream_then_retry_loses_and_doubles_nothing(day):
    rows = [make_call(100_000 + i, at(day, 16) + timedelta(seconds=i % 3600)) for i in range(40_000)]
    synthetic.write_calls(rows)
    load_hour(day, 16, tz_name="UTC", run_id="first-load")
    # The source changes, then the reload is cut mid-stream.
    source_execute("UPDATE calls SET disposition = 'TRANSFERRED' WHERE call_id < 100100")
    synthetic.write_calls([make_call(200_000, at(day, 16, 59))])
    before = loaded(day)

    with ExtractKiller() as killer, pytest.raises(Exception) as err:
        load_hour(day, 16, tz_name="UTC", run_id="reload", try_number=1, chunk_size=200)
    assert killer.killed, "the extract query was never seen running"
    assert not isinstance(err.value, AirflowFailException), "a lost connection must be retried"
    assert loaded(day) == before  # the failed attempt left the previous state untouched

    result = load_hour(day, 16, tz_name="UTC", run_id="reload", try_number=2, chunk_size=200)
    assert result.rows_loaded == 40_001
    after = loaded(day)
    assert len(after) == len({r[0] for r in after}) == 40_001
    assert sum(1 for r in after if r[9] == "TRANSFERRED") == 100
    assert [(r[1], r[2]) for r in ledger(day)] == [(1, "success"), (1, "failed"), (2, "success")]


def test_reconcile_fails_loudly_when_the_source_changed_after_the_load(day):
    synthetic.write_calls([make_call(70, at(day, 8))])
    load_day(day)
    synthetic.write_calls([make_call(71, at(day, 8, 30))])
    with pytest.raises(reconcile.ReconcileMismatch, match=r"hour 08: source 2 != loaded 1 \+ rejected 0"):
        reconcile.check_day(reconcile.count_day(day), 0.05)


def test_too_many_rejects_fail_the_day_even_in_quarantine(day):
    synthetic.write_calls([make_call(80, at(day, 8)), make_call(81, at(day, 8, 1), duration=None)])
    _, counts = load_day(day)
    with pytest.raises(AirflowFailException, match="above max_reject_ratio"):
        reconcile.check_day(counts, max_reject_ratio=0.2)
    assert [r[0] for r in rejected(day)] == [81]  # quarantined, not lost


def test_daily_metrics_are_upserted_from_the_loaded_calls(day):
    synthetic.write_calls([
        make_call(90, at(day, 10), wait_seconds=5),
        make_call(91, at(day, 10, 5), wait_seconds=40),
        make_call(92, at(day, 12), disposition="ABANDONED", duration=4, wait_seconds=70),
        make_call(93, at(day, 12, 1), duration=-1),
    ])
    load_day(day)
    for run in ("m1", "m2"):
        metrics.refresh_daily_metrics(day, run)
    row = metrics_row(day)
    assert (row["source_calls"], row["total_calls"], row["rejected_calls"]) == (4, 3, 1)
    assert (row["answered_calls"], row["abandoned_calls"], row["peak_hour"]) == (2, 1, 10)
    assert float(row["service_level_20s"]) == 0.5 and float(row["abandonment_rate"]) == pytest.approx(0.3333)
    assert row["computed_by_run_id"] == "m2"


def test_daily_metrics_follow_a_reload_made_after_reconcile(day):
    """Metrics read one snapshot of the target, not reconcile's earlier counts: a reload that
    lands between reconcile and daily_metrics (a clear, the next day's refresh) is reflected."""
    synthetic.write_calls([make_call(95, at(day, 9)), make_call(96, at(day, 9, 30))])
    load_day(day)
    metrics.refresh_daily_metrics(day, "before")
    synthetic.write_calls([make_call(97, at(day, 9, 45), duration=None)])  # a new, invalid call
    load_hour(day, 9, tz_name="UTC", run_id="reload")
    row = metrics.refresh_daily_metrics(day, "after")
    assert (row.source_calls, row.total_calls, row.rejected_calls) == (3, 2, 1)
    assert (metrics_row(day)["source_calls"], metrics_row(day)["computed_by_run_id"]) == (3, "after")


def test_schema_drift_in_the_source_fails_without_retry(day):
    source_execute("ALTER TABLE calls CHANGE wait_seconds wait_s INT NULL")
    try:
        with pytest.raises(AirflowFailException, match="does not match the contract"):
            load_hour(day, 1, tz_name="UTC", run_id="drift")
    finally:
        source_execute("ALTER TABLE calls CHANGE wait_s wait_seconds INT NULL")


def test_a_reload_right_after_a_load_never_scans_the_stage_once_per_stored_row(day):
    """Right after a load the hour's statistics are stale (the planner expects about one stored
    row). The deletes of calls gone from the source must then still hash or merge the stage: a
    nested anti-join over the unindexed stage took 54 s for a 40k-call hour (seen in this suite).
    The statements are planned exactly as the reload runs them, in its own transaction."""
    rows = [make_call(100_000 + i, at(day, 16) + timedelta(seconds=i % 3600)) for i in range(5_000)]
    synthetic.write_calls(rows)
    load_hour(day, 16, tz_name="UTC", run_id="first-load")
    attempt = load_mod.HourLoad(day, 16, tz_name="UTC", run_id="reload")
    attempt.begin()
    try:
        attempt.stage()
        values = {"d": day, "h": 16, "tz": "UTC", "shift": 0}
        hour_joins = [s for s in load_mod.hour_sql(attempt.partitions) if not s.startswith("SET")]
        assert len(hour_joins) == 2
        for statement in load_mod.hour_sql(attempt.partitions):
            if statement in hour_joins:
                plan = "\n".join(r[0] for r in attempt.cur.execute("EXPLAIN " + statement, values).fetchall())
                assert "Nested Loop" not in plan, plan
                assert "Seq Scan on call_keys" not in plan, plan
            else:
                attempt.cur.execute(statement, values)
    finally:
        attempt.fail(RuntimeError("plan check only"))
        attempt.close()


def stored_keys(day) -> tuple[list, list]:
    """(call_keys, the calls and rejects actually stored) for the day's ids, as (id, date, hour)."""
    ids = "SELECT call_id FROM analytics.calls WHERE business_date = %(d)s UNION SELECT call_id FROM analytics.call_rejects WHERE business_date = %(d)s"
    keys = query(f"SELECT call_id, business_date, local_hour FROM analytics.call_keys WHERE business_date = %(d)s"
                 f" OR call_id IN ({ids}) ORDER BY 1", {"d": day})
    rows = query("SELECT call_id, business_date, local_hour FROM analytics.calls WHERE business_date = %(d)s UNION ALL"
                 " SELECT call_id, business_date, local_hour FROM analytics.call_rejects WHERE business_date = %(d)s"
                 " ORDER BY 1", {"d": day})
    return keys, rows


def test_call_keys_follow_every_write_of_the_hour(day):
    """The load writes its hour's partitions directly and keeps call_keys itself: after a first
    load, a reload of changed rows, rows deleted in the source, a call that became invalid and
    one that moved to another hour, the keys are exactly the stored calls."""
    synthetic.write_calls([make_call(900 + i, at(day, 11, i)) for i in range(10)])
    load_hour(day, 11, tz_name="UTC", run_id="first")
    keys, rows = stored_keys(day)
    assert keys == rows and len(rows) == 10
    source_execute("UPDATE calls SET disposition = 'TRANSFERRED' WHERE call_id IN (900, 901)")
    source_execute("UPDATE calls SET duration = -1 WHERE call_id = 902")
    source_execute("DELETE FROM calls WHERE call_id = 903")
    source_execute("UPDATE calls SET start_time = %s, end_time = %s WHERE call_id = 904", (at(day, 12, 1), at(day, 12, 9)))
    for hour in (11, 12):
        load_hour(day, hour, tz_name="UTC", run_id="reload")
    keys, rows = stored_keys(day)
    assert keys == rows and len(rows) == 9
    assert (904, day, 12) in keys and (902, day, 11) in keys
    assert [r[0] for r in rejected(day)] == [902]


def _failing_source(error: BaseException):
    real = load_mod.hour_rows

    def hour_rows(*args, **kwargs):
        chunks = real(*args, **kwargs)
        yield next(chunks)  # the first chunk really read, then the source fails
        chunks.close()
        raise error

    return hour_rows


@pytest.mark.parametrize(
    ("error", "permanent"),
    [(MySQLdb.OperationalError(2013, "Lost connection to server during query"), False),
     (MySQLdb.OperationalError(1054, "Unknown column 'wait_seconds' in 'field list'"), True)],
)
def test_a_source_error_in_the_read_ahead_thread_fails_the_load_as_before_and_leaves_nothing(
        day, monkeypatch, error, permanent):
    synthetic.write_calls([make_call(300 + i, at(day, 5, i % 60)) for i in range(50)])
    monkeypatch.setattr(load_mod, "hour_rows", _failing_source(error))
    with pytest.raises(Exception) as err:
        load_hour(day, 5, tz_name="UTC", run_id="read-ahead", chunk_size=10)
    if permanent:  # classified by raise_classified exactly as when read in the load's own thread
        assert isinstance(err.value, AirflowFailException) and "does not match the contract" in str(err.value)
        assert err.value.__cause__ is error
    else:
        assert err.value is error
    assert loaded(day) == [] and rejected(day) == []
    assert [(r[1], r[2]) for r in ledger(day)] == [(1, "failed")]
    assert not [t for t in threading.enumerate() if t.name == "copy-read-ahead"]

    monkeypatch.undo()
    assert load_hour(day, 5, tz_name="UTC", run_id="read-ahead", try_number=2).rows_loaded == 50
    assert len(loaded(day)) == 50
