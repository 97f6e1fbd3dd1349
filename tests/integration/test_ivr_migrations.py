"""Schema migrations run once per version: a current schema costs one read of its version table,
no DDL and no lock on a data table; a database from before versioning upgrades with its rows.
Real PostgreSQL; scratch schemas (the migration files carry no schema prefix) for the upgrades."""

from __future__ import annotations

import os
import threading
from datetime import date, datetime

import pytest

from callcentre.common.connections import ANALYTICS_POSTGRES, SCRAPING_POSTGRES
from callcentre.common.migrations import SchemaMigrations, SchemaVersionError, read_migrations
from callcentre.common.pg import postgres_conn, transaction
from callcentre.ivr import schema
from callcentre.scraping import jobs

SCRATCH = "analytics_migration_test"
# The tables the analytics migrations create (a run on a current schema touches none of them).
ANALYTICS_TABLES = ("calls", "call_rejects", "call_keys", "etl_batches", "daily_metrics", "hour_reads")
PROBED = "migration-lock-probe"


def drop_scratch() -> None:
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE")


@pytest.fixture
def scratch():
    drop_scratch()
    yield SchemaMigrations(SCRATCH, schema.MIGRATIONS, ANALYTICS_POSTGRES)
    drop_scratch()


def waits_on(conn_id: str, tables: list[str], action) -> list[tuple]:
    """Run ``action`` in a thread while another session holds ACCESS EXCLUSIVE on ``tables``; the
    lock requests it made that had to wait ([] when it finished without touching them). Its
    sessions are told apart from other clients of the shared database by their application name."""
    holder = postgres_conn(conn_id)
    os.environ["PGAPPNAME"] = PROBED
    waited: list[tuple] = []
    try:
        with holder.cursor() as cur:
            cur.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
            done = threading.Event()
            errors: list[BaseException] = []

            def run():
                try:
                    action()
                except BaseException as err:  # noqa: BLE001 - reported below
                    errors.append(err)
                finally:
                    done.set()

            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            # Until the action ends or a request of it queues behind our lock (then the lock goes,
            # and the action finishes): either outcome ends the loop. pg_stat_activity is read once
            # per transaction unless cleared: a first probe made before the action's session
            # existed would never see it (the test hung for 35 min so).
            while not done.wait(0.05):
                cur.execute("SELECT pg_stat_clear_snapshot()")
                cur.execute(
                    "SELECT relation::regclass::text, mode FROM pg_locks JOIN pg_stat_activity USING (pid)"
                    " WHERE NOT granted AND relation = ANY (%s::regclass[]) AND application_name = %s",
                    (tables, PROBED),
                )
                waited = cur.fetchall()
                if waited:
                    break
        holder.rollback()
        worker.join()
        assert not errors, errors
    finally:
        os.environ.pop("PGAPPNAME", None)
        holder.close()
    return waited


def test_a_run_on_a_current_schema_runs_no_ddl_and_locks_no_data_table():
    schema.migrate()
    tables = [f"analytics.{t}" for t in ANALYTICS_TABLES]
    assert waits_on(ANALYTICS_POSTGRES, tables, schema.migrate) == []
    # What every run did before versioning: CREATE INDEX IF NOT EXISTS queues for a SHARE lock
    # on analytics.calls before it finds the index exists (the probe above sees such a wait).
    def old_every_run_ddl():  # rolled back: only the lock it queues for matters here
        conn = postgres_conn(ANALYTICS_POSTGRES)
        try:
            with conn.cursor() as cur:
                cur.execute("CREATE INDEX IF NOT EXISTS calls_day_hour_idx ON analytics.calls (business_date, local_hour)")
        finally:
            conn.rollback()
            conn.close()

    assert waits_on(ANALYTICS_POSTGRES, tables, old_every_run_ddl) == [("analytics.calls", "ShareLock")]


def test_the_scraping_schema_when_current_locks_none_of_its_tables():
    repo = jobs.JobRepository()
    repo.migrate()
    assert waits_on(SCRAPING_POSTGRES, ["scraping.jobs", "scraping.batches"], repo.migrate) == []


def test_a_populated_database_from_before_versioning_upgrades_to_partitions_and_keeps_every_row(scratch):
    baseline = read_migrations(schema.MIGRATIONS)[0]
    with transaction(ANALYTICS_POSTGRES) as cur:  # what the old every-run DDL left: no version table
        cur.execute(f"CREATE SCHEMA {SCRATCH}")
        cur.execute(f"SET LOCAL search_path = {SCRATCH}")
        cur.execute(baseline.sql)
        cur.execute(
            "INSERT INTO calls (call_id, business_date, local_hour, start_time, start_local, duration,"
            " caller_number, disposition, source_updated_at, loaded_by_run_id)"
            " SELECT i, %s, i %% 24, %s, %s, i, '300', 'ANSWERED', %s, 'old' FROM generate_series(1, 500) i",
            (date(2026, 3, 1), datetime(2026, 3, 1, 1), datetime(2026, 3, 1, 1), datetime(2026, 3, 1, 2)),
        )
        cur.execute(
            "INSERT INTO call_rejects (call_id, business_date, local_hour, reject_reason, start_time, loaded_by_run_id)"
            " SELECT i, %s, 3, 'duration_missing', %s, 'old' FROM generate_series(1001, 1020) i",
            (date(2026, 3, 1), datetime(2026, 3, 1, 3)),
        )
        cur.execute("SELECT md5(string_agg(c::text, ',' ORDER BY call_id)) FROM calls c")
        before = cur.fetchone()[0]

    applied = scratch.ensure_current()

    assert applied == list(range(1, scratch.latest + 1))
    assert scratch.applied_version() == scratch.latest
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(f"SELECT md5(string_agg(c::text, ',' ORDER BY call_id)) FROM {SCRATCH}.calls c")
        assert cur.fetchone()[0] == before
        cur.execute(f"SELECT count(*) FROM {SCRATCH}.call_rejects")
        assert cur.fetchone()[0] == 20
        # Partitioned by business date now, every call keyed once across both tables.
        cur.execute(f"SELECT relkind FROM pg_class WHERE oid IN ('{SCRATCH}.calls'::regclass, '{SCRATCH}.call_rejects'::regclass)")
        assert [k for (k,) in cur.fetchall()] == ["p", "p"]
        cur.execute(f"SELECT count(*), count(DISTINCT call_id) FROM {SCRATCH}.call_keys")
        assert cur.fetchone() == (520, 520)
        cur.execute(f"SELECT version, name FROM {SCRATCH}.schema_migrations ORDER BY version")
        assert [v for v, _ in cur.fetchall()] == applied
    assert scratch.ensure_current() == []


def test_concurrent_runs_apply_each_migration_once(scratch):
    results: list[list[int]] = []
    threads = [threading.Thread(target=lambda: results.append(scratch.ensure_current())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=len) == [[], [], list(range(1, scratch.latest + 1))]


def test_a_schema_newer_than_the_code_is_refused_naming_both_versions(scratch):
    scratch.ensure_current()
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(f"INSERT INTO {SCRATCH}.schema_migrations (version, name) VALUES (%s, 'from_the_future')",
                    (scratch.latest + 1,))
    with pytest.raises(SchemaVersionError, match=rf"at migration {scratch.latest + 1}, newer than this code's {scratch.latest}"):
        scratch.ensure_current()


def test_migration_files_are_numbered_without_gaps(tmp_path):
    (tmp_path / "0001_first.sql").write_text("SELECT 1")
    (tmp_path / "0003_third.sql").write_text("SELECT 1")
    with pytest.raises(SchemaVersionError, match="0003_third.sql: expected migration number 0002"):
        read_migrations(tmp_path)
    assert [m.version for m in read_migrations(schema.MIGRATIONS)] == list(range(1, len(read_migrations(schema.MIGRATIONS)) + 1))
