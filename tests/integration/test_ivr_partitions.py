"""The partitioned target: a month per partition, created ahead by the loads, an hour's replace
writing one partition, a call stored once across partitions, retention that drops whole old months
(off by default). Real MariaDB and PostgreSQL; retention on a scratch schema."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest

from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.pg import transaction
from callcentre.ivr import load as load_mod
from callcentre.ivr import schema, synthetic
from callcentre.ivr.load import load_hour
from tests.integration.ivr_support import ensure_tables, loaded, make_call, query, reset_day, source_execute

DAY = date(2026, 4, 30)
NEXT = date(2026, 5, 1)
ID = 430_000_000  # call ids no other test writes (the source table is shared)
SCRATCH = "analytics_partition_test"


@pytest.fixture(scope="module", autouse=True)
def tables():
    ensure_tables()


@pytest.fixture
def days():
    for d in (DAY, NEXT):
        reset_day(d)
    yield DAY, NEXT
    for d in (DAY, NEXT):
        reset_day(d)


def at(day, hour, minute=0):
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour, minutes=minute)


def test_an_hours_replace_writes_one_partition_and_the_next_month_exists_ahead(days):
    day, _ = days
    synthetic.write_calls([make_call(ID + i, at(day, 14, i)) for i in range(1, 6)] + [make_call(ID + 9, at(day, 14, 9), duration=-1)])
    load_hour(day, 14, tz_name="UTC", run_id="p")
    stored = query("SELECT tableoid::regclass::text, count(*) FROM analytics.calls WHERE call_id BETWEEN %s AND %s"
                   " GROUP BY 1 UNION ALL SELECT tableoid::regclass::text, count(*) FROM analytics.call_rejects"
                   " WHERE call_id BETWEEN %s AND %s GROUP BY 1 ORDER BY 1", (ID, ID + 99, ID, ID + 99))
    assert stored == [("analytics.call_rejects_p2026_04", 1), ("analytics.calls_p2026_04", 5)]
    with transaction(ANALYTICS_POSTGRES) as cur:  # the partitions the load resolves and writes directly
        assert load_mod.HourPartitions.resolve(cur, day) == load_mod.HourPartitions(
            "analytics.calls_p2026_04", "analytics.call_rejects_p2026_04")
    assert query("SELECT to_regclass('analytics.calls_p2026_05') IS NOT NULL") == [(True,)]  # created ahead
    # The hour's own rows are read and replaced in its own partitions only.
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(load_mod.STAGE_DDL)
        partitions = set()
        for statement in load_mod.hour_sql(load_mod.HourPartitions.resolve(cur, day)):
            if not statement.startswith("SET"):
                cur.execute("EXPLAIN " + statement, {"d": day, "h": 14, "tz": "UTC", "shift": 0})
                partitions |= set(re.findall(r"\b(calls_p\d{4}_\d{2}|call_rejects_p\d{4}_\d{2})\b",
                                             "\n".join(r[0] for r in cur.fetchall())))
        cur.connection.rollback()
    assert partitions == {"calls_p2026_04", "call_rejects_p2026_04"}


@pytest.mark.parametrize("order", ["old month first", "new month first"])
def test_a_call_moved_to_the_next_month_is_stored_once_there(days, order):
    day, nxt = days
    synthetic.write_calls([make_call(ID + 20, at(day, 23, 50))])
    load_hour(day, 23, tz_name="UTC", run_id="first")
    source_execute("UPDATE calls SET start_time = %s, end_time = %s WHERE call_id = %s", (at(nxt, 0, 5), at(nxt, 0, 9), ID + 20))
    loads = [(day, 23), (nxt, 0)] if order == "old month first" else [(nxt, 0), (day, 23)]
    for d, h in loads:
        load_hour(d, h, tz_name="UTC", run_id="moved")
    assert loaded(day) == [] and [r[0] for r in loaded(nxt)] == [ID + 20]
    assert query("SELECT tableoid::regclass::text FROM analytics.calls WHERE call_id = %s", (ID + 20,)) == [("analytics.calls_p2026_05",)]
    assert query("SELECT business_date, local_hour FROM analytics.call_keys WHERE call_id = %s", (ID + 20,)) == [(nxt, 0)]


@pytest.fixture
def scratch():
    from callcentre.common.migrations import SchemaMigrations

    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE")
    SchemaMigrations(SCRATCH, schema.MIGRATIONS, ANALYTICS_POSTGRES).ensure_current()
    yield SCRATCH
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE")


def test_retention_is_off_by_default_and_drops_whole_old_months_with_their_keys(scratch, monkeypatch):
    with transaction(ANALYTICS_POSTGRES) as cur:
        for day in (date(2025, 1, 15), date(2025, 2, 27), date(2025, 3, 2)):
            cur.execute(f"SELECT {scratch}.ensure_month_partitions(%s)", (day,))
            cur.execute(
                f"INSERT INTO {scratch}.calls (call_id, business_date, local_hour, start_time, start_local, duration,"
                " caller_number, disposition, source_updated_at, loaded_by_run_id)"
                " SELECT %s * 1000 + i, %s, 1, now(), now(), 1, '300', 'ANSWERED', now(), 'r' FROM generate_series(1, 10) i",
                (day.month, day))
            cur.execute(f"INSERT INTO {scratch}.hour_reads (business_date, local_hour, read_seq) VALUES (%s, 1, 1)", (day,))
    today = date(2025, 3, 31)
    monkeypatch.delenv(schema.RETENTION_SETTING, raising=False)
    assert schema.apply_retention(today, schema=scratch) == []

    monkeypatch.setenv(schema.RETENTION_SETTING, "40")  # keeps 2025-02-19 on: February stays whole
    dropped = schema.apply_retention(today, schema=scratch)

    assert dropped == ["call_rejects_p2025_01", "calls_p2025_01"]
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(f"SELECT business_date, count(*) FROM {scratch}.calls GROUP BY 1 ORDER BY 1")
        assert cur.fetchall() == [(date(2025, 2, 27), 10), (date(2025, 3, 2), 10)]
        cur.execute(f"SELECT min(business_date), count(*) FROM {scratch}.call_keys")
        assert cur.fetchone() == (date(2025, 2, 27), 20)
        cur.execute(f"SELECT min(business_date) FROM {scratch}.hour_reads")
        assert cur.fetchone() == (date(2025, 2, 27),)


def test_a_retention_setting_that_is_not_a_number_of_days_is_refused(monkeypatch):
    monkeypatch.setenv(schema.RETENTION_SETTING, "ten")
    with pytest.raises(ValueError, match="IVR_RETENTION_DAYS='ten' is not a whole number of days"):
        schema.retention_cutoff(date(2026, 1, 1))


def test_keys_follow_a_truncate_by_hand(scratch):
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(f"SELECT {scratch}.ensure_month_partitions(%s)", (date(2025, 1, 15),))
        cur.execute(
            f"INSERT INTO {scratch}.calls (call_id, business_date, local_hour, start_time, start_local, duration,"
            " caller_number, disposition, source_updated_at, loaded_by_run_id)"
            " SELECT i, '2025-01-15', 1, now(), now(), 1, '300', 'ANSWERED', now(), 'r' FROM generate_series(1, 10) i")
        cur.execute(
            f"INSERT INTO {scratch}.call_rejects (call_id, business_date, local_hour, reject_reason, start_time, loaded_by_run_id)"
            " SELECT i, '2025-01-15', 1, 'duration_missing', now(), 'r' FROM generate_series(11, 13) i")
        cur.execute(f"TRUNCATE {scratch}.calls")
        cur.execute(f"SELECT array_agg(call_id ORDER BY call_id) FROM {scratch}.call_keys")
        assert cur.fetchone()[0] == [11, 12, 13]


def test_a_reload_right_after_a_load_probes_each_staged_call_by_its_full_key(days):
    # Statistics are stale right after a load (the partition and call_keys look empty): the plan
    # must still read the stage once and find each call by index, never by a scan per stored row.
    day, _ = days
    synthetic.write_calls([make_call(ID + 100 + i, at(day, 15, i % 60)) for i in range(2000)])
    load_hour(day, 15, tz_name="UTC", run_id="first")
    attempt = load_mod.HourLoad(day, 15, tz_name="UTC", run_id="plan", dry_run=True)
    attempt.begin()
    try:
        attempt.stage()
        values = {"d": day, "h": 15, "tz": "UTC", "run_id": "plan", "seq": attempt.read_seq, "shift": 0}
        for statement in load_mod.PROBE_SETTINGS:  # the planner settings the probes run with
            attempt.cur.execute(statement)
        for statement in load_mod.PROBE_SQL:
            attempt.cur.execute("EXPLAIN " + statement, values)
            plan = [row[0] for row in attempt.cur.fetchall()]
            found = plan[:next(i for i, line in enumerate(plan) if "CTE replaced" in line)]
            assert sum("Seq Scan on stage_calls" in line for line in found) == 1, "\n".join(found)
            assert not [line for line in found if "Hash Join" in line or "Merge Join" in line], "\n".join(found)
            partition_probes = [line for line in found if "Index Cond" in line and "local_hour = k.local_hour" in line]
            other_probes = [line for line in found if "Index Cond" in line and "call_id" in line
                            and "local_hour = k.local_hour" not in line and "s.call_id" not in line
                            and "IS NOT NULL" not in line]
            assert partition_probes and not other_probes, "\n".join(found)
    finally:
        attempt.pg.rollback()
        attempt.close()


def test_a_new_month_partition_does_not_wait_for_readers_of_the_table():
    """An analyst's long query holds analytics.calls: creating next month's partition goes on
    (ATTACH takes SHARE UPDATE EXCLUSIVE), where CREATE ... PARTITION OF would queue behind it."""
    import threading

    from callcentre.common.pg import postgres_conn

    reader = postgres_conn(ANALYTICS_POSTGRES)
    done = threading.Event()
    try:
        with reader.cursor() as cur:
            cur.execute("SELECT count(*) FROM analytics.calls")  # the reader's lock lasts until its rollback
            worker = threading.Thread(target=lambda: (query("SELECT analytics.ensure_month_partitions('2031-07-15')"),
                                                      done.set()), daemon=True)
            worker.start()
            while not done.wait(0.05):
                cur.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation IN"
                            " ('analytics.calls'::regclass, 'analytics.call_rejects'::regclass)")
                assert cur.fetchone()[0] == 0, "the partition's creation queued behind a reader"
    finally:
        reader.rollback()
        reader.close()
        worker.join()
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute("DROP TABLE IF EXISTS analytics.calls_p2031_07, analytics.calls_p2031_08,"
                    " analytics.call_rejects_p2031_07, analytics.call_rejects_p2031_08")


def test_two_loads_creating_the_same_new_month_both_go_on():
    """Two hours of a new month start together (the DAG loads two at a time): the second waits for
    the first's partitions and then uses them, where it once failed permanently on "relation
    already exists" (its catalog cache still said the partition was missing)."""
    import threading

    from callcentre.common.pg import postgres_conn

    months = ("2032_03", "2032_04")
    first, second = postgres_conn(ANALYTICS_POSTGRES), postgres_conn(ANALYTICS_POSTGRES)
    errors = []

    def second_load():
        try:
            with second.cursor() as cur:
                cur.execute("SELECT analytics.ensure_month_partitions('2032-03-10')")
            second.commit()
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)
            second.rollback()

    try:
        with first.cursor() as cur:
            cur.execute("SELECT analytics.ensure_month_partitions('2032-03-09')")  # created, not committed
            worker = threading.Thread(target=second_load, daemon=True)
            worker.start()
            with postgres_conn(ANALYTICS_POSTGRES) as watcher:
                for _ in range(200):  # until the second load waits for the first one's lock
                    waiting = watcher.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = %s",
                                              (second.info.backend_pid,)).fetchone()[0]
                    if waiting:
                        break
                    threading.Event().wait(0.05)
                assert waiting, "the second load never waited for the first one"
        first.commit()
        worker.join(30)
        assert not errors, errors
        rows = query("SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE %s ORDER BY 1", ("calls_p2032_0%",))
        assert [r[0] for r in rows] == [f"calls_p{m}" for m in months]
    finally:
        first.close()
        second.close()
        with transaction(ANALYTICS_POSTGRES) as cur:
            cur.execute("DROP TABLE IF EXISTS " + ", ".join(
                f"analytics.{t}_p{m}" for t in ("calls", "call_rejects") for m in months))
