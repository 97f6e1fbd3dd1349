"""The COPY's read-ahead thread (common/pg.py): the source is read in a thread of its own while
PostgreSQL copies. What it must not change: an error reading the source is raised as it was
raised, a failed COPY stops and closes the source, and memory stays bounded by a few chunks
(through load_hour: test_ivr_load.py)."""

from __future__ import annotations

import threading
import time

import MySQLdb
import pytest

from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.pg import READ_AHEAD_CHUNKS, _read_ahead, copy_in, postgres_conn

COPY = "COPY read_ahead FROM STDIN WITH (FORMAT csv)"


def _psycopg2_conn():
    """The driver PostgresHook hands out on Airflow 2.11, to the same database."""
    psycopg2 = pytest.importorskip("psycopg2")
    conn = postgres_conn(ANALYTICS_POSTGRES)
    try:
        i = conn.info
        return psycopg2.connect(host=i.host, port=i.port, user=i.user, password=i.password, dbname=i.dbname)
    finally:
        conn.close()


@pytest.fixture(params=["psycopg", "psycopg2"])
def cur(request):
    """A cursor on a temporary table, through either driver copy_in serves."""
    conn = postgres_conn(ANALYTICS_POSTGRES) if request.param == "psycopg" else _psycopg2_conn()
    try:
        with conn.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE read_ahead (n int, t text)")
            yield cursor
    finally:
        conn.close()


def readers_alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "copy-read-ahead"]


class Source:
    """Chunks of CSV rows, then optionally an error; records where and whether it was closed."""

    def __init__(self, chunks: int, error: BaseException | None = None, line: bytes = b"1,a\n"):
        self.chunks, self.error, self.line = chunks, error, line
        self.yielded = 0
        self.closed_in: threading.Thread | None = None

    def __iter__(self):
        try:
            for _ in range(self.chunks):
                self.yielded += 1
                yield self.line * 100
            if self.error is not None:
                raise self.error
        finally:
            self.closed_in = threading.current_thread()


def test_every_chunk_arrives_in_order_and_the_rows_copied_are_returned(cur):
    chunks = [f"{i},row {i}\n".encode() for i in range(50)]
    assert copy_in(cur, COPY, iter(chunks)) == 50
    cur.execute("SELECT n FROM read_ahead")
    assert [n for (n,) in cur.fetchall()] == list(range(50))
    assert copy_in(cur, COPY, iter([])) == 0
    assert readers_alive() == []


def test_a_source_error_mid_stream_is_raised_as_it_was_raised(cur):
    lost = MySQLdb.OperationalError(2013, "Lost connection to server during query")
    source = Source(5, lost)
    with pytest.raises(Exception) as err:
        copy_in(cur, COPY, iter(source))
    if cur.__class__.__module__.startswith("psycopg2"):  # its copy_expert names the read() error, as always
        assert "error in .read() call" in str(err.value) and str(lost) in str(err.value)
    else:
        assert err.value is lost  # the same object: the same message and the same classification
    assert source.closed_in is not None and source.closed_in is not threading.main_thread()
    assert readers_alive() == []


def test_a_failed_copy_stops_reading_and_closes_the_source(cur):
    source = Source(10_000, line=b"not a number,a\n")
    with pytest.raises(Exception) as err:
        copy_in(cur, COPY, iter(source))
    assert "invalid input syntax for type integer" in str(err.value)
    assert source.closed_in is not None
    assert readers_alive() == []


def test_the_reader_stops_when_the_writer_fails_and_holds_at_most_a_few_chunks():
    source = Source(10_000)
    with pytest.raises(RuntimeError, match="the COPY failed"), _read_ahead(iter(source)) as queued:
        next(queued)
        time.sleep(0.3)  # the reader runs ahead as far as it may
        assert source.yielded <= 1 + READ_AHEAD_CHUNKS + 1  # taken, queued, and the one it holds
        raise RuntimeError("the COPY failed")
    assert source.closed_in is not None and source.yielded < 10_000
    assert readers_alive() == []
