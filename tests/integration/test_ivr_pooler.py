"""The hour loads through a real PgBouncer in transaction mode (scripts/pgbouncer.sh, pool of two
backends shared by every session): loads and reloads on backends another client already used,
two attempts at one hour, an attempt killed mid-way. Real MariaDB and PostgreSQL behind it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.pg import postgres_conn, transaction
from callcentre.ivr import reconcile, synthetic
from callcentre.ivr.load import DAG_ID, HourLoad, load_hour, partition_lock_key
from tests.integration.ivr_support import ensure_tables, ledger, loaded, make_call, rejected, reset_day

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 5, 19)
ID = 519_000_000  # call ids no other test writes (the source table is shared)
POOLED = "analytics_pooled"
# An advisory lock on one partition, held or awaited (the key is what load.py locks).
HOUR_LOCK_SQL = """
SELECT granted FROM pg_locks WHERE locktype = 'advisory'
  AND ((classid::bigint << 32) | objid::bigint) = hashtext(%s)::bigint
"""


@pytest.fixture(scope="module")
def pooler():
    ensure_tables()
    target = json.loads(os.environ["AIRFLOW_CONN_ANALYTICS_POSTGRES"])
    env = {**os.environ, "PGBOUNCER_TARGET": f"{target['host']}:{target['port']}/{target['schema']}",
           "PGBOUNCER_USER": target["login"], "PGBOUNCER_PASSWORD": target["password"]}
    script = ROOT / "scripts" / "pgbouncer.sh"
    port = subprocess.run([script, "start"], env=env, check=True, capture_output=True, text=True).stdout.split()[-1]
    os.environ[f"AIRFLOW_CONN_{POOLED.upper()}"] = json.dumps({**target, "port": int(port)})
    yield POOLED
    os.environ.pop(f"AIRFLOW_CONN_{POOLED.upper()}", None)
    subprocess.run([script, "stop"], env=env, check=True, capture_output=True)


@pytest.fixture
def day(pooler):
    reset_day(DAY)
    yield DAY
    reset_day(DAY)


def at(day, hour, minute=0, second=0):
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour, minutes=minute, seconds=second)


def hour_locks(hour: int) -> list[bool]:
    with transaction(ANALYTICS_POSTGRES) as cur:  # direct, not through the pooler
        cur.execute(HOUR_LOCK_SQL, (partition_lock_key(DAG_ID, DAY, hour),))
        return [granted for (granted,) in cur.fetchall()]


def use_every_backend_with_a_temp_table(conn_id: str) -> None:
    """What another client of the pool does: both backends touch a temp table at the default
    temp_buffers, which PostgreSQL then refuses to change for the rest of their lives."""
    conns = [postgres_conn(conn_id) for _ in range(2)]
    try:
        for conn in conns:  # both in a transaction at once: one backend each
            with conn.cursor() as cur:
                cur.execute("CREATE TEMP TABLE other_client (i int) ON COMMIT DROP")
                cur.execute("INSERT INTO other_client VALUES (1)")
        for conn in conns:
            conn.commit()
    finally:
        for conn in conns:
            conn.close()


def test_loads_and_reloads_through_the_pooler_on_backends_other_clients_used(day, pooler):
    use_every_backend_with_a_temp_table(pooler)
    conn = postgres_conn(pooler)
    try:
        with conn.cursor() as cur, pytest.raises(Exception, match="temp_buffers") as refused:
            cur.execute("SET temp_buffers = '256MB'")  # what a session setting meets on such a backend
        assert getattr(refused.value, "sqlstate", None) == "22023"
    finally:
        conn.close()
    calls = [make_call(ID + i, at(day, 9 + i % 3, i)) for i in range(1, 31)] + [make_call(ID + 99, at(day, 10, 50), duration=-1)]
    synthetic.write_calls(calls)

    for run_id in ("first", "reload"):
        for hour in (9, 10, 11):
            load_hour(day, hour, tz_name="UTC", run_id=run_id, target_conn_id=pooler)

    assert [r[0] for r in loaded(day)] == list(range(ID + 1, ID + 31)) and [r[0] for r in rejected(day)] == [ID + 99]
    assert [r[2] for r in ledger(day)] == ["success"] * 6
    counts = reconcile.count_day(day, target_conn_id=pooler)
    reconcile.check_day(counts, max_reject_ratio=1, loaded_hours=(9, 10, 11))
    assert all(hour_locks(h) == [] for h in (9, 10, 11)), "no lock outlives its attempt on a pooled backend"


def test_two_attempts_at_one_hour_through_the_pooler_take_turns(day, pooler):
    synthetic.write_calls([make_call(ID + i, at(day, 12, i)) for i in range(1, 11)])
    first = HourLoad(day, 12, tz_name="UTC", run_id="first", target_conn_id=pooler)
    first.begin()
    first.stage()
    second: list = []
    other = threading.Thread(target=lambda: second.append(
        load_hour(day, 12, tz_name="UTC", run_id="second", try_number=2, target_conn_id=pooler)))
    other.start()
    try:
        while sorted(hour_locks(12)) != [False, True]:  # the second attempt queues behind the first
            assert other.is_alive(), "the second attempt ran while the first held the hour"
            time.sleep(0.01)
    finally:
        first.replace()
        first.close()
        other.join()
    assert second and second[0].rows_loaded == 10
    assert [(r[1], r[2]) for r in ledger(day)] == [(1, "success"), (2, "success")]
    assert len(loaded(day)) == 10 and hour_locks(12) == []


def test_an_attempt_killed_through_the_pooler_leaves_nothing_held(day, pooler):
    rows = synthetic.day_calls(day, 60_000, seed=5, invalid_share=0)
    synthetic.write_calls([(r[0], at(day, 11, 0, i % 3600), *r[2:]) for i, r in enumerate(rows)])
    worker = subprocess.Popen(
        [sys.executable, "-c",
         f"from datetime import date; from callcentre.ivr.load import load_hour; "
         f"load_hour(date.fromisoformat('{day}'), 11, tz_name='UTC', run_id='killed', chunk_size=500, "
         f"target_conn_id='{pooler}')"],
        env=os.environ.copy(), start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not ([r for r in ledger(day) if r[2] == "running"] and hour_locks(11) == [True]):
            assert worker.poll() is None, "the worker finished before it could be killed"
            assert time.monotonic() < deadline, "the worker never started its attempt"
            time.sleep(0.01)
        os.killpg(worker.pid, signal.SIGKILL)  # mid-attempt, holding the hour: no cleanup
    finally:
        worker.wait(30)

    load_hour(day, 11, tz_name="UTC", run_id="next", try_number=2, target_conn_id=pooler)

    assert [r[2] for r in ledger(day)] == ["failed", "success"]
    assert len(loaded(day)) + len(rejected(day)) == 60_000 and hour_locks(11) == []  # the hour, once
