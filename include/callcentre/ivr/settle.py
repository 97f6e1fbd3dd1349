"""Calls that finish after midnight: a call still going then has no ``duration`` yet and would be
quarantined, so the load starts ``IVR_SETTLE_MINUTES`` after the day ended once no call of it is
still open, or at the latest ``IVR_SETTLE_LIMIT_MINUTES`` after (docs/ivr.md); drift.py repairs the rest.
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
