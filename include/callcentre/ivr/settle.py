"""Calls that finish after midnight: wait for the day to settle before loading it.

A call still going at midnight has no ``end_time``/``duration`` yet; loaded then, it would be
quarantined as ``duration_missing``. So the sensor ``plan`` lets the load start once
``IVR_SETTLE_MINUTES`` (default 15) have passed since the day ended AND no call of the day is
still open, or at the latest ``IVR_SETTLE_LIMIT_MINUTES`` (default 120) after; a day long past
passes at once without asking MariaDB. A call still open after that is repaired by ``drift.py``.
"""

from __future__ import annotations

import logging
import os
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

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


def day_has_settled(day: date, tz: ZoneInfo, now: datetime) -> bool:
    settle = _minutes(SETTLE_SETTING, 15)
    limit = max(settle, _minutes(LIMIT_SETTING, 120))
    ended = day_end(day, tz)
    if now < ended + settle:
        log.info("%s ended at %s; waiting until %s (%s)", day, ended.isoformat(), (ended + settle).isoformat(), SETTLE_SETTING)
        return False
    if now >= ended + limit:
        return True
    with source_connection() as src:
        still_open = count_open_calls(src, *day_window(day))
    if still_open:
        log.info("%s: %d call(s) still open; waiting (at most until %s, %s)", day, still_open,
                 (ended + limit).isoformat(), LIMIT_SETTING)
        return False
    return True
