"""One alert policy for both pipelines: when a failure is final, and how an alert is sent once.

An alert is first committed to an outbox table as pending, so nothing that follows can lose it, then
delivered in one transaction: the row is locked (``FOR UPDATE SKIP LOCKED``: a concurrent deliverer
skips it), the message sent, the row marked sent; a failed send leaves it pending for the next
:meth:`Outbox.deliver_pending` (the IVR deadline watcher, the scraping reconcile DAG). An alert goes
out late, never never, and once (at least once if the commit after a send fails).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from callcentre.common.pg import transaction

log = logging.getLogger(__name__)

# At most this many held-back alerts are sent by one catch-up (a long outage drains over runs).
CATCH_UP_LIMIT = 100


def is_final_failure(context, permanent: tuple[type[BaseException], ...], *, unraised_counts: bool = True) -> bool:
    """Whether no retry will follow: the task raised one of ``permanent`` or used its last try; a
    callback fired for a task going ``up_for_retry`` (apache/airflow#65400) is not final. A failure
    the task did not raise (marked failed by hand, a lost worker, apache/airflow#71172) counts only
    when ``unraised_counts`` (a pipeline that settles those from the run's state says False)."""
    ti = context["ti"]
    if str(getattr(getattr(ti, "state", None), "value", getattr(ti, "state", None)) or "") == "up_for_retry":
        return False
    error = context.get("exception")
    if isinstance(error, permanent):
        return True
    if not isinstance(error, BaseException) and not unraised_counts:
        return False
    return int(ti.try_number) > int(getattr(ti, "max_tries", 0) or 0)


class _NotDelivered(Exception):
    """The channel did not take the message: the row goes back to pending."""


@dataclass(frozen=True)
class Outbox:
    """An outbox table: the ``key`` columns name one alert (a unique constraint); the table also
    has ``message`` (text), ``pending`` (boolean) and ``sent_at`` (timestamptz)."""

    conn_id: str
    table: str
    key: tuple[str, ...]

    def _where(self) -> str:
        return " AND ".join(f"{column} = %s" for column in self.key)

    def deliver(self, key: dict, send: Callable[[dict], bool]) -> bool:
        """Send the pending alert ``key`` through ``send(row) -> delivered``; True if sent now."""
        values = tuple(key[column] for column in self.key)
        try:
            with transaction(self.conn_id) as cur:
                cur.execute(f"SELECT * FROM {self.table} WHERE {self._where()} AND pending FOR UPDATE SKIP LOCKED", values)
                found = cur.fetchone()
                if found is None:
                    return False  # sent already, or being sent by another caller right now
                row = dict(zip([d[0] for d in cur.description], found))
                if not send(row):
                    raise _NotDelivered
                cur.execute(f"UPDATE {self.table} SET pending = false, sent_at = now() WHERE {self._where()}", values)
        except _NotDelivered:
            log.warning("alert %s in %s not delivered: kept pending, sent by the next catch-up", values, self.table)
            return False
        log.info("alert %s in %s sent", values, self.table)
        return True

    def send_once(self, row: dict, send: Callable[[dict], bool]) -> bool:
        """Record the alert ``row`` (its key columns, ``message``, any others) as pending and deliver
        it now, unless an alert with that key exists already (sent or pending); True if sent now."""
        columns = [*row, "pending"]
        with transaction(self.conn_id) as cur:
            cur.execute(
                f"INSERT INTO {self.table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
                f"ON CONFLICT ({', '.join(self.key)}) DO NOTHING RETURNING true",
                (*row.values(), True),
            )
            enqueued = cur.fetchone() is not None
        if not enqueued:
            log.info("alert %s in %s exists already: not sent again", tuple(row[c] for c in self.key), self.table)
            return False
        return self.deliver(row, send)

    def deliver_pending(self, send: Callable[[dict], bool]) -> int:
        """Send the alerts an outage held back, oldest first; how many went out now."""
        with transaction(self.conn_id) as cur:
            cur.execute(f"SELECT {', '.join(self.key)} FROM {self.table} WHERE pending ORDER BY sent_at LIMIT %s",
                        (CATCH_UP_LIMIT,))
            keys = [dict(zip(self.key, found)) for found in cur.fetchall()]
        sent = sum(self.deliver(key, send) for key in keys)
        if keys:
            log.info("%d held-back alert(s) in %s, %d sent now", len(keys), self.table, sent)
        return sent
