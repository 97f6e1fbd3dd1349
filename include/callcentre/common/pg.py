"""PostgreSQL plumbing shared by the pipelines: connections through PostgresHook and COPY.

PostgresHook hands out psycopg 3 connections when SQLAlchemy 2 is installed (Airflow 3) and
psycopg2 ones otherwise (Airflow 2.11); :func:`copy_in` hides that difference.
"""

from __future__ import annotations

import io
import queue
import threading
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


# Chunks read ahead of the COPY: the source and PostgreSQL work at the same time, as in
# `mariadb | psql`, while at most this many chunks (and the one being read) wait in memory.
# Why: the IVR load's stage (MariaDB read + COPY), one hour at a time, 1M-call day, A/B
# interleaved: 1.35 -> 1.14 s per four hours (-16 %); with two loads at once, 0-15 %.
READ_AHEAD_CHUNKS = 2


def copy_in(cursor, copy_sql: str, chunks: Iterable[bytes]) -> int:
    """Stream ``chunks`` (bytes in the COPY statement's format) into ``COPY ... FROM STDIN``; the
    rows copied. :func:`_read_ahead`'s thread reads ``chunks`` and closes it even on error (its source
    cursor is released before the caller reuses that connection); what reading raised is raised here."""
    with _read_ahead(chunks) as queued:
        if hasattr(cursor, "copy"):  # psycopg 3
            with cursor.copy(copy_sql) as copy:
                for chunk in queued:
                    copy.write(chunk)
        else:  # psycopg2
            cursor.copy_expert(copy_sql, _ChunkReader(queued))
    return cursor.rowcount


class _Raised:
    def __init__(self, error: BaseException):
        self.error = error


_END = object()


@contextmanager
def _read_ahead(chunks: Iterable[bytes]) -> Iterator[Iterator[bytes]]:
    """The chunks, read by a thread at most READ_AHEAD_CHUNKS ahead of the caller. Only the thread
    touches ``chunks`` (and its source connection) until the block ends, where the caller stops it
    and waits (at most the read under way, which the source's statement timeout caps)."""
    ahead: queue.Queue = queue.Queue(READ_AHEAD_CHUNKS)
    stop, done = threading.Event(), threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    break
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread, raised there
            put(_Raised(err))
        finally:
            try:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            except BaseException as err:  # noqa: BLE001 - as above
                put(_Raised(err))
            put(_END)
            done.set()

    def queued() -> Iterator[bytes]:
        while (item := ahead.get()) is not _END:
            if isinstance(item, _Raised):
                raise item.error
            yield item

    reader = threading.Thread(target=read, name="copy-read-ahead", daemon=True)
    reader.start()
    try:
        yield queued()
    finally:
        stop.set()
        try:
            done.wait()
        except BaseException:
            # A signal's exception (a task timeout) cut the wait short: the thread still holds the
            # source, which the caller closes next; wait for it first. (Not Thread.join: Python 3.11
            # marks a thread stopped when a signal interrupts joining it.)
            done.wait()
            raise


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
