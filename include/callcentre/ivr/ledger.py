"""``analytics.etl_batches``: one row per attempt at one partition-hour, committed as ``running``
before any work, closed as ``success`` in the data's transaction or as ``failed``. A killed
attempt's row is closed by the next attempt at that hour or by ivr_deadline_watch (:func:`close_stale`).
"""

from __future__ import annotations

from datetime import date

from callcentre.common import compat
from callcentre.common.slack import short_error

_START = """
INSERT INTO analytics.etl_batches (dag_id, run_id, try_number, business_date, local_hour, invalid_rows)
VALUES (%s, %s, %s, %s, %s, %s) RETURNING batch_id
"""
_FINISH = """
UPDATE analytics.etl_batches
SET rows_read = %(read)s, rows_loaded = %(loaded)s, rows_rejected = %(rejected)s,
    finished_at = clock_timestamp(), duration_s = EXTRACT(EPOCH FROM clock_timestamp() - started_at),
    outcome = %(outcome)s, error = %(error)s
WHERE batch_id = %(batch_id)s
"""
_CLOSE_ABANDONED = """
UPDATE analytics.etl_batches
SET outcome = 'failed', finished_at = clock_timestamp(),
    duration_s = EXTRACT(EPOCH FROM clock_timestamp() - started_at),
    error = 'abandoned: the attempt ended without closing its row (worker killed or connection lost); '
            || %s
WHERE dag_id = %s AND business_date = %s AND local_hour = %s AND outcome = 'running'
"""
# Rows ``running`` for longer than this are candidates: an attempt records its row, then takes its
# partition's lock again for its work (a moment without the lock).
STALE_AFTER = "5 minutes"
_STALE = f"""
SELECT DISTINCT dag_id, business_date, local_hour FROM analytics.etl_batches
WHERE outcome = 'running' AND started_at < now() - interval '{STALE_AFTER}'
ORDER BY business_date, local_hour
"""


def close_abandoned(conn, dag_id: str, business_date: date, hour: int) -> int:
    """Close the partition's rows still ``running``: only call it holding the partition's lock,
    which every live attempt holds for its whole life."""
    with conn.cursor() as cur:
        cur.execute(_CLOSE_ABANDONED, ("closed by the next attempt", dag_id, business_date, hour))
        closed = cur.rowcount
    conn.commit()
    return closed


def close_stale(conn, lock_key) -> list[tuple[str, date, int]]:
    """Close the rows left ``running`` by attempts that are gone (killed on their last try: no next
    attempt closes them), partition by partition, where no live attempt holds the partition's lock
    (``lock_key(dag_id, day, hour)``, the key every attempt locks). Returns the partitions closed."""
    with conn.cursor() as cur:
        cur.execute(_STALE)
        partitions = cur.fetchall()
    conn.commit()
    closed = []
    for dag_id, business_date, hour in partitions:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", (lock_key(dag_id, business_date, hour),))
            if cur.fetchone()[0]:
                cur.execute(_CLOSE_ABANDONED, ("closed by ivr_deadline_watch (no attempt was left to close it)",
                                               dag_id, business_date, hour))
                if cur.rowcount:
                    closed.append((dag_id, business_date, int(hour)))
        conn.commit()
    return closed


def start(conn, dag_id: str, run_id: str, try_number: int, business_date: date, hour: int, invalid_rows: str) -> int:
    with conn.cursor() as cur:
        cur.execute(_START, (dag_id, run_id, try_number, business_date, hour, invalid_rows))
        batch_id = cur.fetchone()[0]
    conn.commit()
    return batch_id


def finish(cur, batch_id: int, outcome: str, result, error: str | None = None) -> None:
    cur.execute(
        _FINISH,
        {
            "batch_id": batch_id,
            "outcome": outcome,
            "error": error,
            "read": result.rows_read,
            "loaded": result.rows_loaded if outcome == "success" else 0,
            "rejected": result.rows_rejected if outcome == "success" else 0,
        },
    )


def record_failure(conn, batch_id: int, result, err: BaseException) -> None:
    """Close the attempt as failed; best effort (the target may be what just failed)."""
    try:
        with conn.cursor() as cur:
            finish(cur, batch_id, "failed", result, compat.redact(short_error(err)))
        conn.commit()
    except Exception:  # noqa: BLE001 - the original error is the one to report
        try:
            conn.rollback()
        except Exception:  # noqa: BLE001 - the connection itself is gone
            pass
