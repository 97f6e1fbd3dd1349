"""PostgreSQL plumbing shared by the pipelines: connections through PostgresHook and COPY.

PostgresHook hands out psycopg 3 connections when SQLAlchemy 2 is installed (Airflow 3) and
psycopg2 ones otherwise (Airflow 2.11); :func:`copy_in` hides that difference.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


def postgres_conn(conn_id: str):
    """A new DB-API connection (autocommit off) for ``conn_id``."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    conn = PostgresHook(postgres_conn_id=conn_id).get_conn()
    if hasattr(conn, "prepare_threshold"):  # psycopg 3
        # Never a server-side prepared statement: behind a transaction pooler (PgBouncer) the
        # next transaction may run on a backend that does not have it.
        conn.prepare_threshold = None
    return conn


@contextmanager
def transaction(conn_id: str):
    """A cursor in one transaction: committed on success, rolled back on any error."""
    conn = postgres_conn(conn_id)
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


def copy_in(cursor, copy_sql: str, chunks: Iterable[bytes]) -> None:
    """Stream ``chunks`` (bytes in the COPY statement's format) into ``COPY ... FROM STDIN``.

    ``chunks`` is closed on the way out, even on error, so a source cursor behind it is released
    before the caller reuses its connection.
    """
    try:
        if hasattr(cursor, "copy"):  # psycopg 3
            with cursor.copy(copy_sql) as copy:
                for chunk in chunks:
                    copy.write(chunk)
        else:  # psycopg2
            cursor.copy_expert(copy_sql, _ChunkReader(iter(chunks)))
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (what psycopg2's copy_expert wants)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data
