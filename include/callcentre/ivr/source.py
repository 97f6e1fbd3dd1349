"""Reading the IVR's MariaDB: the one function that opens the source cursor, and the counts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta

from callcentre.common.variables import get_variable
from callcentre.common.connections import IVR_MARIADB
from callcentre.ivr.business_day import day_window, hour_window
from callcentre.ivr.columns import SOURCE
from callcentre.ivr.options import positive_setting
from callcentre.ivr.rules import Fold, reject_reason_sql

# Seconds any single source statement may run before MariaDB aborts it (protects the IVR).
DEFAULT_STATEMENT_TIMEOUT_S = 900


def _csv_field(column: str, kind: str) -> str:
    """``column`` as one CSV field: NULL is an empty unquoted field, text is always quoted.
    ``kind`` is columns.Column.csv; a ``key`` gets no NULL test (each costs MariaDB time on every
    row, and a NULL there would shift the line and fail the COPY loudly)."""
    if kind == "text":
        return f"IF({column} IS NULL, '', CONCAT('\"', REPLACE({column}, '\"', '\"\"'), '\"'))"
    if kind == "value":
        return f"IFNULL({column}, '')"
    if kind == "time":  # a zero or impossible date becomes NULL (its rule quarantines the row)
        return f"IFNULL({column} + INTERVAL 0 SECOND, '')"
    return column


# The hour is read between its smallest and largest call_id as well as by start_time, from one
# snapshot: when ids grow with time MariaDB scans that slice of the primary key in order (a third
# less CPU per row than start_time index lookups, measured); when they do not, the rows are the same.
ID_RANGE_SQL = "SELECT MIN(call_id), MAX(call_id) FROM calls WHERE start_time >= %s AND start_time < %s"


# MariaDB renders each row as one CSV line ready for PostgreSQL's COPY, the rule it breaks
# (rules.reject_reason_sql) last: Python only moves bytes, no per-row objects. Cast to BINARY so
# that the driver hands over the UTF-8 bytes as they are (no decode and encode back).
def extract_sql(fold: Fold | None = None) -> str:
    """The hour's extract; the rules depend on the day only through its fall-back window."""
    fields = [*(_csv_field(c.name, c.csv) for c in SOURCE), _csv_field(reject_reason_sql(fold), "value")]
    return (
        "SELECT CAST(CONCAT_WS(',', " + ", ".join(fields) + ") AS BINARY)"
        " FROM calls WHERE call_id BETWEEN %s AND %s AND start_time >= %s AND start_time < %s"
    )


COUNT_BY_HOUR_SQL = """
SELECT HOUR(start_time) AS local_hour, COUNT(*) AS calls
FROM calls
WHERE start_time >= %s AND start_time < %s
GROUP BY HOUR(start_time)
"""


OPEN_CALLS_SQL = "SELECT COUNT(*) FROM calls WHERE start_time >= %s AND start_time < %s AND end_time IS NULL"

# The longest a call can last: end_time is not in the start_time index, so the open-calls check
# reads only the rows that started that long before the window's end. A row without an end for
# longer is quarantined (duration_missing), and the drift check reloads its hour once completed.
MAX_CALL_SETTING = "IVR_MAX_CALL_MINUTES"
DEFAULT_MAX_CALL_MINUTES = 240


@contextmanager
def source_connection(timeout_s: int | None = None):
    """A MariaDB connection through MySqlHook whose statements are capped by ``max_statement_time``."""
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    if timeout_s is None:
        timeout_s = int(get_variable("ivr_source_statement_timeout_s", str(DEFAULT_STATEMENT_TIMEOUT_S)))
    hook = MySqlHook(mysql_conn_id=IVR_MARIADB, init_command=f"SET SESSION max_statement_time={int(timeout_s)}")
    conn = hook.get_conn()
    try:
        yield conn
    finally:
        conn.close()


def stream_rows(conn, start: datetime, end: datetime, chunk_size: int, fold: Fold | None = None) -> Iterator[bytes]:
    """Yield the rows with ``start <= start_time < end`` as CSV bytes, one chunk at a time, through
    an unbuffered cursor; both statements read one snapshot, so no call falls outside the ids."""
    import MySQLdb.cursors

    conn.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    conn.query("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
    cursor = conn.cursor()
    cursor.execute(ID_RANGE_SQL, (start, end))
    # An empty hour gives NULLs: the extract still runs (and still checks the source's
    # columns against the contract), returning nothing.
    low, high = cursor.fetchone()
    cursor.close()
    cursor = conn.cursor(MySQLdb.cursors.SSCursor)
    cursor.execute(extract_sql(fold), (low, high, start, end))
    while True:
        rows = cursor.fetchmany(chunk_size)
        if not rows:
            break
        yield b"\n".join([row[0] for row in rows]) + b"\n"
    # Only after the whole result was read: closing an unbuffered cursor mid-result (a timeout, a
    # failed COPY) would first read the rest of the hour, or fail with "commands out of sync" and
    # hide the real error. The caller closes the connection, which ends the transaction.
    cursor.close()
    conn.rollback()


def hour_rows(conn, business_date: date, hour: int, chunk_size: int, fold: Fold | None = None) -> Iterator[bytes]:
    start, end = hour_window(business_date, hour)
    return stream_rows(conn, start, end, chunk_size, fold)


def count_by_hour(conn, business_date: date) -> dict[int, int]:
    """Source rows per local hour of ``business_date`` (hours without calls are absent)."""
    with conn.cursor() as cursor:
        cursor.execute(COUNT_BY_HOUR_SQL, day_window(business_date))
        return {int(hour): int(calls) for hour, calls in cursor.fetchall()}


def max_call_length() -> timedelta:
    minutes = positive_setting(MAX_CALL_SETTING, DEFAULT_MAX_CALL_MINUTES, float, what="a number of minutes")
    return timedelta(minutes=minutes)


def count_open_calls(conn, start: datetime, end: datetime) -> int:
    """Calls still in progress at ``end`` that started in [start, end): no end_time yet, and
    started at most the longest call length (:func:`max_call_length`) before ``end``."""
    lower = max(start, end - max_call_length())
    with conn.cursor() as cursor:
        cursor.execute(OPEN_CALLS_SQL, (lower, end))
        return int(cursor.fetchone()[0])
