"""Helpers for the IVR integration tests: real MariaDB and PostgreSQL, one business day per test."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from callcentre.common.connections import ANALYTICS_POSTGRES, IVR_MARIADB
from callcentre.common.pg import transaction
from callcentre.ivr import schema, synthetic

CALL_COLUMNS = (
    "call_id, local_hour, start_time, end_time, start_local, duration, caller_number, dialed_number, "
    "ivr_path, disposition, queue_name, agent_id, wait_seconds, source_updated_at"
)


def ensure_tables() -> None:
    synthetic.create_source_table()
    schema.migrate()


def reset_day(day: date) -> None:
    """Remove every trace of ``day`` from the source and the target."""
    synthetic.delete_day(day)
    with transaction(ANALYTICS_POSTGRES) as cur:
        for table in ("calls", "call_rejects", "etl_batches"):
            cur.execute(f"DELETE FROM analytics.{table} WHERE business_date = %s", (day,))
        cur.execute("DELETE FROM analytics.daily_metrics WHERE metric_date = %s", (day,))


def forget_alerts(day: date) -> None:
    """Remove the alert claims of ``day``: on Airflow 2.x every ``dag.test`` of a day is the same
    run (``manual__<date>``, same start date), whose failure alert a claim would otherwise silence."""
    from callcentre.ivr import schema

    schema.migrate()
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute("DELETE FROM analytics.alert_log WHERE business_date = %s", (day,))
        cur.execute("DELETE FROM analytics.task_failures WHERE business_date = %s", (day,))


def make_call(call_id: int, start: datetime, **overrides) -> tuple:
    """A valid source row starting at ``start`` (naive local time); override any column."""
    row = {
        "call_id": call_id,
        "start_time": start,
        "end_time": start + timedelta(seconds=130),
        "duration": 120,
        "caller_number": f"300{call_id % 10_000_000:07d}",
        "dialed_number": "6015550100",
        "ivr_path": "1>2",
        "disposition": "ANSWERED",
        "queue_name": "ventas",
        "agent_id": 101,
        "wait_seconds": 10,
        "updated_at": start + timedelta(seconds=131),
    }
    row.update(overrides)
    return tuple(row.values())


def query(sql: str, params=()) -> list[tuple]:
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def loaded_ids(day: date) -> set[int]:
    return {r[0] for r in query("SELECT call_id FROM analytics.calls WHERE business_date = %s", (day,))}


def loaded(day: date) -> list[tuple]:
    return query(f"SELECT {CALL_COLUMNS} FROM analytics.calls WHERE business_date = %s ORDER BY call_id", (day,))


def rejected(day: date) -> list[tuple]:
    return query(
        "SELECT call_id, local_hour, reject_reason, duration, caller_number, disposition, wait_seconds "
        "FROM analytics.call_rejects WHERE business_date = %s ORDER BY call_id",
        (day,),
    )


def metrics_row(day: date) -> dict | None:
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute("SELECT * FROM analytics.daily_metrics WHERE metric_date = %s", (day,))
        row = cur.fetchone()
        return dict(zip([c.name for c in cur.description], row)) if row else None


def ledger(day: date) -> list[tuple]:
    return query(
        "SELECT local_hour, try_number, outcome, rows_read, rows_loaded, rows_rejected, error "
        "FROM analytics.etl_batches WHERE business_date = %s ORDER BY batch_id",
        (day,),
    )


def source_execute(sql: str, params=()) -> None:
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    MySqlHook(mysql_conn_id=IVR_MARIADB).run(sql, parameters=params)


def local_midnight(day: date, zone: str = "UTC") -> datetime:
    return datetime.combine(day, datetime.min.time()).replace(tzinfo=ZoneInfo(zone))


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """Naive local time ``hour:minute`` of ``day`` (as the IVR writes it)."""
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour, minutes=minute)


def parse_ivr_dag():
    """A fresh parse of dags/ivr_calls_daily.py, as every real run gets (dag.test() merges a run's
    conf into the in-memory DAG's params, which would leak into the next test's run), with quick
    retries."""
    import runpy
    from pathlib import Path

    from callcentre.common.compat import exponential_backoff

    ensure_tables()
    dag = runpy.run_path(str(Path(__file__).resolve().parents[2] / "dags" / "ivr_calls_daily.py"))["ivr_calls_daily"]()
    for task in dag.tasks:  # keep retries, make them quick
        task.retry_delay = timedelta(seconds=1)
        task.retry_exponential_backoff = exponential_backoff(0)
    return dag


class ExtractKiller:
    """Kills the ETL's extract query in MariaDB while it streams: a real source outage mid-run.

    A thread watches the server's process list and issues ``KILL CONNECTION`` on the first
    connection running the extract, exactly as a DBA or a crashing proxy would cut it.
    """

    PATTERN = "SELECT CAST(CONCAT_WS(%FROM calls WHERE call_id BETWEEN%"
    MIN_RUNNING_MS = 20

    def __init__(self, timeout_s: float = 120):
        import threading

        self.timeout_s = timeout_s
        self.killed: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)

    def _run(self):
        import time

        from airflow.providers.mysql.hooks.mysql import MySqlHook

        import MySQLdb

        conn = MySqlHook(mysql_conn_id=IVR_MARIADB).get_conn()
        cur = conn.cursor()
        deadline = time.monotonic() + self.timeout_s
        try:
            while not self._stop.is_set() and not self.killed and time.monotonic() < deadline:
                # Only an extract that has been streaming for a while: cut it mid-stream, not
                # an empty hour's query that is over before the KILL arrives.
                cur.execute(
                    "SELECT ID FROM information_schema.PROCESSLIST"
                    " WHERE INFO LIKE %s AND TIME_MS > %s AND ID <> CONNECTION_ID()",
                    (self.PATTERN, self.MIN_RUNNING_MS),
                )
                for (conn_id,) in cur.fetchall():
                    try:
                        cur.execute(f"KILL CONNECTION {int(conn_id)}")
                    except MySQLdb.OperationalError:  # it finished meanwhile: wait for the next one
                        continue
                    self.killed.append(conn_id)
                    break
                time.sleep(0.002)
        finally:
            conn.close()
