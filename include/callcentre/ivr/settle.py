"""Calls that finish after midnight: wait for the day to settle, and refresh the day before.

A call that started at 23:58 and is still going at midnight has no ``end_time``/``duration`` yet;
loaded then, it would be quarantined as ``duration_missing`` for good. Two things prevent that:

1. **Settle wait** (sensor ``day_closed``, the run's first task): the load starts once
   ``IVR_SETTLE_MINUTES`` (default 15) have passed since the day ended AND no call of the day is
   still open, or at the latest ``IVR_SETTLE_LIMIT_MINUTES`` (default 120) after the day ended.
   A day long past (a backfill, a clear) passes at once without asking MariaDB.
2. **Rolling refresh** (task ``refresh_previous_day``): every full run of day D reloads the hours
   of D-1 that still hold calls quarantined while open (``duration_missing`` with no
   ``end_time``), then reconciles D-1 and rewrites its daily_metrics. A call still open after the
   settle limit is therefore picked up by the next day's run, without an operator; one that never
   ends stays quarantined with its reason.
"""

from __future__ import annotations

import logging
import os
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from callcentre.common.connections import ANALYTICS_POSTGRES, IVR_MARIADB
from callcentre.common.pg import transaction
from callcentre.ivr import load, metrics, reconcile
from callcentre.ivr.business_day import day_end, day_window
from callcentre.ivr.source import count_open_calls, source_connection

log = logging.getLogger(__name__)

SETTLE_SETTING = "IVR_SETTLE_MINUTES"
LIMIT_SETTING = "IVR_SETTLE_LIMIT_MINUTES"

OPEN_REJECT_HOURS_SQL = """
SELECT DISTINCT local_hour FROM analytics.call_rejects
WHERE business_date = %(d)s AND reject_reason = 'duration_missing' AND end_time IS NULL
ORDER BY local_hour
"""


def _minutes(name: str, default: float) -> timedelta:
    try:
        return timedelta(minutes=float(os.environ.get(name) or default))
    except ValueError as err:
        raise ValueError(f"{name}={os.environ.get(name)!r} is not a number of minutes") from err


def settle_window() -> tuple[timedelta, timedelta]:
    settle, limit = _minutes(SETTLE_SETTING, 15), _minutes(LIMIT_SETTING, 120)
    return settle, max(settle, limit)


def day_has_settled(day: date, tz: ZoneInfo, now: datetime, source_conn_id: str = IVR_MARIADB) -> bool:
    settle, limit = settle_window()
    ended = day_end(day, tz)
    if now < ended + settle:
        log.info("%s ended at %s; waiting until %s (%s)", day, ended.isoformat(), (ended + settle).isoformat(), SETTLE_SETTING)
        return False
    if now >= ended + limit:
        return True
    with source_connection(source_conn_id) as src:
        still_open = count_open_calls(src, *day_window(day))
    if still_open:
        log.info("%s: %d call(s) still open; waiting (at most until %s, %s)", day, still_open,
                 (ended + limit).isoformat(), LIMIT_SETTING)
        return False
    return True


def hours_with_open_calls(day: date, conn_id: str = ANALYTICS_POSTGRES) -> list[int]:
    with transaction(conn_id) as cur:
        cur.execute(OPEN_REJECT_HOURS_SQL, {"d": day})
        return [int(h) for (h,) in cur.fetchall()]


def refresh_open_calls(day: date, *, tz_name: str, first_day: date, run_id: str, try_number: int = 1,
                       dag_id: str = load.DAG_ID) -> dict:
    """Reload the hours of the day before ``day`` that hold calls quarantined while still open."""
    previous = day - timedelta(days=1)
    if previous < first_day:
        return {"previous_day": previous.isoformat(), "hours": []}
    hours = hours_with_open_calls(previous)
    if not hours:
        log.info("%s: no call was open at its load; nothing to refresh", previous)
        return {"previous_day": previous.isoformat(), "hours": []}

    def reload(hour: int) -> load.HourResult:
        return load.load_hour(previous, hour, tz_name=tz_name, run_id=run_id, try_number=try_number, dag_id=dag_id)

    results = [reload(hour) for hour in hours]
    counts = reconcile.count_day_reloading(previous, hours, reload_hour=reload)
    # Only the refreshed hours are this run's business (D-1's own run judged the rest).
    unbalanced = [h for h in counts.mismatched_hours() if h in hours]
    if unbalanced:
        raise reconcile.ReconcileMismatch(f"{previous}: refreshed hours {unbalanced} do not balance; retrying")
    metrics.refresh_daily_metrics(previous, run_id)
    still_open = sum(r.reasons.get("duration_missing", 0) for r in results)
    log.info("%s: refreshed hours %s; %d call(s) still without a duration", previous, hours, still_open)
    return {"previous_day": previous.isoformat(), "hours": hours, "still_missing_duration": still_open}
