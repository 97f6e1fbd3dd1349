"""The IVR's load deadline: one Slack message per business day not loaded by its deadline.

``ivr_deadline_watch`` calls :func:`check_deadlines` every 15 minutes, instead of a ``DeadlineAlert``,
which cannot see a day that never got a run, alerts again after the run's own failure alert
(apache/airflow#60927) and fires for every backfilled day. On Airflow 2.x :func:`sla_missed` claims
the same alert as the watcher.
"""

from __future__ import annotations

import logging
import os
from contextlib import closing
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from callcentre.common import compat
from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.pg import postgres_conn, transaction
from callcentre.ivr import ledger, schema
from callcentre.ivr.alert_messages import IVR_DAG_ID, deadline_message, words
from callcentre.ivr.alerts import end_unclaimed_outage, send_once, send_pending
from callcentre.ivr.business_day import day_end

log = logging.getLogger(__name__)

DEFAULT_DEADLINE_HOURS = "6"
# The watcher reports days whose deadline passed this recently: a backfill of older days (their
# deadline passed long ago) never alerts, and a watcher down for a day still catches up.
LOOKBACK = timedelta(days=3)


def deadline_hours() -> float:
    """``IVR_LOAD_DEADLINE_HOURS`` (default 6), read when the watcher runs; 0 disables its alerts."""
    raw = os.environ.get("IVR_LOAD_DEADLINE_HOURS", DEFAULT_DEADLINE_HOURS)
    try:
        hours = float(raw)
    except ValueError:
        hours = -1.0
    if hours < 0:
        raise compat.AirflowFailException(
            f"IVR_LOAD_DEADLINE_HOURS={raw!r} is not a number of hours >= 0 (default 6; 0 disables the deadline alert)"
        )
    return hours


def close_abandoned_attempts() -> list[str]:
    """Close the ledger rows of attempts killed on their last try (see ledger.close_stale)."""
    from callcentre.ivr.load import partition_lock_key

    with closing(postgres_conn(ANALYTICS_POSTGRES)) as conn:
        closed = ledger.close_stale(conn, partition_lock_key)
    if closed:
        log.warning("closed the ledger rows of abandoned attempts at %s", closed)
    return [f"{dag_id} {day} hour {hour:02d}" for dag_id, day, hour in closed]


def deadline_of(day: date, tz: ZoneInfo, hours: float) -> datetime:
    """When ``day`` must be loaded: ``hours`` elapsed hours after the end of the local day."""
    return day_end(day, tz).astimezone(timezone.utc) + timedelta(hours=hours)


def days_due(now: datetime, tz: ZoneInfo, hours: float) -> list[date]:
    """Business days whose deadline passed in ``(now - LOOKBACK, now]``, oldest first."""
    today = now.astimezone(tz).date()
    span = LOOKBACK.days + int(hours // 24) + 3
    candidates = [today - timedelta(days=offset) for offset in range(span, -1, -1)]
    return [day for day in candidates if now - LOOKBACK < deadline_of(day, tz, hours) <= now]


def _alert_unreported(days: list[date], tz: ZoneInfo, hours: float, dag_id: str,
                      seen_by: str = "") -> tuple[set[date], set[date], list[date]]:
    """One deadline alert per day of ``days`` neither loaded nor reported: (loaded, reported, alerted)."""
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute("SELECT metric_date FROM analytics.daily_metrics WHERE metric_date = ANY(%s)", (days,))
        loaded = {row[0] for row in cur.fetchall()}
        cur.execute(
            "SELECT DISTINCT business_date FROM analytics.alert_log WHERE dag_id = %s AND business_date = ANY(%s)",
            (dag_id, days),
        )
        reported = {row[0] for row in cur.fetchall()}
    alerted = [
        day for day in days
        if day not in loaded and day not in reported
        and send_once(dag_id, "deadline_missed", day.isoformat(),
                      deadline_message(day, deadline_of(day, tz, hours), tz, hours, dag_id, seen_by=seen_by),
                      business_date=day)
    ]
    return loaded, reported, alerted


def check_deadlines(now: datetime | None = None) -> dict:
    """The watcher's task: the alerts a Slack outage held back, then a day past its deadline each."""
    hours = deadline_hours()
    schema.migrate()
    end_unclaimed_outage()
    sent_late = send_pending()  # what a Slack outage held back, deadline alerts or not
    if hours == 0:
        log.info("IVR_LOAD_DEADLINE_HOURS=0: deadline alerts are disabled")
        return {"disabled": True, "sent_late": sent_late}
    from callcentre.ivr.runtime import timezone_name  # IVR_TIMEZONE, the one source of the zone

    tz = ZoneInfo(timezone_name())
    now = now or datetime.now(timezone.utc)
    due = days_due(now, tz, hours)
    closed = close_abandoned_attempts()
    loaded, reported, alerted = _alert_unreported(due, tz, hours, IVR_DAG_ID)
    summary = {"days_due": [str(d) for d in due], "closed_attempts": closed, "sent_late": sent_late,
               "loaded": sorted(str(d) for d in loaded), "reported": sorted(str(d) for d in reported),
               "alerted": [str(d) for d in alerted]}
    log.info("deadline check at %s (%s, %g h after the day): %s", now.isoformat(), tz.key, hours, summary)
    return summary


# --- Airflow 2.x: the deadline as a native SLA ---------------------------------------------------

def sla_deadline() -> timedelta | None:
    """``sla=`` of ``reconcile`` on Airflow 2.x, measured from the start of the IVR day: one day +
    the deadline hours (an hour off on a DST day); None when disabled."""
    hours = deadline_hours()
    return timedelta(hours=24 + hours) if hours else None


def sla_missed(dag, task_list, blocking_task_list, slas, blocking_tis) -> None:
    """Airflow 2.x ``sla_miss_callback``: the watcher's alert (same kind and key) for each day whose
    SLA was missed. Never raises."""
    try:
        from callcentre.ivr.runtime import timezone_name

        tz = ZoneInfo(timezone_name())
        hours = deadline_hours()
        # The SLA miss's execution_date is the run's logical date: the IVR midnight starting the day.
        days = sorted({miss.execution_date.astimezone(tz).date() for miss in slas})
        schema.migrate()
        _, _, alerted = _alert_unreported(days, tz, hours, dag.dag_id, seen_by=words()["sla"])
        log.info("SLA miss of %s: alerted %s (the others already loaded or reported)", days, alerted)
    except Exception:  # noqa: BLE001 - the watcher still reports the day
        log.exception("the SLA miss callback failed; ivr_deadline_watch will report the day")
