"""Calls that finish after midnight: wait for the day to settle before loading it.

A call that started at 23:58 and is still going at midnight has no ``end_time``/``duration`` yet;
loaded then, it would be quarantined as ``duration_missing`` for good. Two things prevent that:

1. **Settle wait** (sensor ``day_closed``, the run's first task): the load starts once
   ``IVR_SETTLE_MINUTES`` (default 15) have passed since the day ended AND no call of the day is
   still open, or at the latest ``IVR_SETTLE_LIMIT_MINUTES`` (default 120) after the day ended.
   A day long past (a backfill, a clear) passes at once without asking MariaDB.
2. **Drift check** (DAG ``ivr_drift_check``, ``drift.py``): a call still open after the settle
   limit changes its source row later; the daily check finds that hour drifted and reloads it,
   without an operator. One that never ends stays quarantined with its reason.
"""

from __future__ import annotations

import logging
import os
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from callcentre.common.connections import IVR_MARIADB
from callcentre.ivr.business_day import day_end, day_window
from callcentre.ivr.source import count_open_calls, source_connection

log = logging.getLogger(__name__)

SETTLE_SETTING = "IVR_SETTLE_MINUTES"
LIMIT_SETTING = "IVR_SETTLE_LIMIT_MINUTES"

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
