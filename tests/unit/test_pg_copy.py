import io
import os

from callcentre.common.pg import _ChunkReader


def test_chunk_reader_returns_every_byte_in_order():
    reader = _ChunkReader(iter([b"abc", b"", b"defgh", b"i"]))
    out = io.BytesIO()
    while data := reader.read(2):
        out.write(data)
    assert out.getvalue() == b"abcdefghi"


class _Timeout(Exception):
    pass


def test_a_signal_during_the_wait_for_the_reader_still_waits_for_it():
    """A task timeout (a signal's exception in the main thread) can strike while copy_in waits for
    its read-ahead thread; the thread must be finished, its source closed, before the error leaves
    (the caller then closes that source's connection)."""
    import signal
    import threading
    import time

    import pytest

    from callcentre.common.pg import _read_ahead

    closed = []

    def chunks():
        try:
            yield b"first"
            time.sleep(0.5)  # the read under way when the caller stops
            yield b"second"
        finally:
            closed.append(threading.current_thread().name)

    def timeout(signum, frame):
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, timeout)
    try:
        with pytest.raises(_Timeout):
            with _read_ahead(chunks()) as queued:
                assert next(queued) == b"first"
                # Leaves the block now; the signal comes while the caller waits for the thread.
                threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGALRM)).start()
        assert closed == ["copy-read-ahead"]  # by the thread, before the error left
    finally:
        signal.signal(signal.SIGALRM, previous)
