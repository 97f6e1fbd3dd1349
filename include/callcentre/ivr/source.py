"""Reading the IVR's MariaDB: the one function that opens the source cursor, and the counts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

from callcentre.common.compat import get_variable
from callcentre.common.connections import IVR_MARIADB
from callcentre.ivr.business_day import day_window, hour_window
from callcentre.ivr.rules import REJECT_REASON_SQL

# Seconds any single source statement may run before MariaDB aborts it (protects the IVR).
DEFAULT_STATEMENT_TIMEOUT_S = 900



def _csv_field(expr: str, text: bool) -> str:
    """``expr`` as one CSV field: NULL is an empty unquoted field, text is always quoted."""
    if text:
        return f"IF({expr} IS NULL, '', CONCAT('\"', REPLACE({expr}, '\"', '\"\"'), '\"'))"
    return f"IFNULL({expr}, '')"


# MariaDB renders each row as one CSV line ready for PostgreSQL's COPY, with the rule it breaks
# (rules.REJECT_REASON_SQL) as the last field. Python then only moves bytes: no per-row objects,
# no per-row validation in the interpreter. Times stay the IVR's naive wall-clock values.
_FIELDS = (
    ("call_id", False),
    ("CAST(start_time AS CHAR)", False),
    ("CAST(end_time AS CHAR)", False),
    ("duration", False),
    ("caller_number", True),
    ("dialed_number", True),
    ("ivr_path", True),
    ("disposition", True),
    ("queue_name", True),
    ("agent_id", False),
    ("wait_seconds", False),
    ("CAST(updated_at AS CHAR)", False),
    (REJECT_REASON_SQL, False),
)
EXTRACT_SQL = (
    "SELECT CONCAT_WS(',', " + ", ".join(_csv_field(e, t) for e, t in _FIELDS) + ")"
    " FROM calls WHERE start_time >= %s AND start_time < %s"
)

COUNT_BY_HOUR_SQL = """
SELECT HOUR(start_time) AS local_hour, COUNT(*) AS calls
FROM calls
WHERE start_time >= %s AND start_time < %s
GROUP BY HOUR(start_time)
"""


def statement_timeout_s() -> int:
    return int(get_variable("ivr_source_statement_timeout_s", str(DEFAULT_STATEMENT_TIMEOUT_S)))


@contextmanager
def source_connection(conn_id: str = IVR_MARIADB, timeout_s: int | None = None):
    """A MariaDB connection through MySqlHook whose statements are capped by ``max_statement_time``."""
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    timeout_s = statement_timeout_s() if timeout_s is None else timeout_s
    hook = MySqlHook(mysql_conn_id=conn_id, init_command=f"SET SESSION max_statement_time={int(timeout_s)}")
    conn = hook.get_conn()
    try:
        yield conn
    finally:
        conn.close()


def stream_rows(conn, start: datetime, end: datetime, chunk_size: int) -> Iterator[bytes]:
    """Yield the rows with ``start <= start_time < end`` as CSV bytes, one chunk of rows at a time.

    A server-side (unbuffered) cursor streams the result: the client never holds more than one
    chunk, however big the hour is.
    """
    import MySQLdb.cursors

    cursor = conn.cursor(MySQLdb.cursors.SSCursor)
    try:
        cursor.execute(EXTRACT_SQL, (start, end))
        while True:
            rows = cursor.fetchmany(chunk_size)
            if not rows:
                return
            yield ("\n".join([row[0] for row in rows]) + "\n").encode()
    finally:
        cursor.close()


def hour_rows(conn, business_date: date, hour: int, chunk_size: int) -> Iterator[bytes]:
    start, end = hour_window(business_date, hour)
    return stream_rows(conn, start, end, chunk_size)


def count_by_hour(conn, business_date: date) -> dict[int, int]:
    """Source rows per local hour of ``business_date`` (hours without calls are absent)."""
    start, end = day_window(business_date)
    cursor = conn.cursor()
    try:
        cursor.execute(COUNT_BY_HOUR_SQL, (start, end))
        return {int(hour): int(calls) for hour, calls in cursor.fetchall()}
    finally:
        cursor.close()
