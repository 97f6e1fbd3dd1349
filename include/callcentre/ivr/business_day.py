"""Business days and their hour partitions, in the IVR's local wall-clock time.

The IVR writes naive local times (``DATETIME``) in the zone ``IVR_TIMEZONE`` (environment).
A business day is the local calendar day [00:00, next day 00:00). Its 24 partitions are the local
wall-clock hours 0-23, selected on the naive source column, so every day has exactly 24 windows
whatever the DST rules: on a spring-forward day one window is empty (the skipped hour), on a
fall-back day one window holds both occurrences of the repeated hour. No call is lost or doubled
because every call has exactly one naive ``start_time`` and so exactly one window.

Turning a naive local time into a ``timestamptz`` happens in PostgreSQL (``ts AT TIME ZONE tz``),
whose rule we adopt and test (tests/integration/test_ivr_dst.py):
  * an ambiguous time (the repeated hour of a fall-back day) is read as standard time, i.e. the
    later of the two instants;
  * a non-existent time (the skipped hour of a spring-forward day) is read with the offset in force
    just before the jump, i.e. 02:30 becomes 03:30 daylight time.
The original naive values are kept in ``start_local``/``end_local``, so nothing is lost.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HOURS = tuple(range(24))
DEFAULT_TIMEZONE = "UTC"
UTC = ZoneInfo("UTC")

# The one source of truth for the IVR's zone: read by the DAG file (its schedule) and by the
# tasks alike, from the environment of every Airflow component (never from the metadata DB).
TIMEZONE_SETTING = "IVR_TIMEZONE"
# The first business day the IVR still holds; an earlier day fails loudly instead of loading nothing.
FIRST_DAY_SETTING = "IVR_FIRST_BUSINESS_DAY"
DEFAULT_FIRST_BUSINESS_DAY = date(2015, 1, 1)
# The DAG's start_date: Airflow creates no task at all for a logical date before it (a green, empty
# run), so it lies before any first business day an operator may configure.
EARLIEST_START = date(1970, 1, 1)


def parse_timezone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name`` (default UTC); ValueError naming the value when unknown."""
    name = (name or DEFAULT_TIMEZONE).strip()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:  # OSError: a folder such as "Mexico"
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. 'America/Bogota')") from err


def ivr_timezone_name(environ=os.environ) -> str:
    """The IVR's IANA zone (``IVR_TIMEZONE``, default UTC), validated."""
    name = (environ.get(TIMEZONE_SETTING) or DEFAULT_TIMEZONE).strip()
    try:
        parse_timezone(name)
    except ValueError as err:
        raise ValueError(f"{TIMEZONE_SETTING}={name!r} is not an IANA time zone (e.g. 'America/Bogota')") from err
    return name


def first_business_day(environ=os.environ) -> date:
    """``IVR_FIRST_BUSINESS_DAY`` (YYYY-MM-DD, default 2015-01-01): no earlier day can be loaded."""
    text = (environ.get(FIRST_DAY_SETTING) or "").strip()
    if not text:
        return DEFAULT_FIRST_BUSINESS_DAY
    try:
        day = date.fromisoformat(text)
    except ValueError as err:
        raise ValueError(f"{FIRST_DAY_SETTING}={text!r} is not a date (YYYY-MM-DD)") from err
    if day <= EARLIEST_START:
        raise ValueError(f"{FIRST_DAY_SETTING}={text!r} must be after {EARLIEST_START} (the DAG's start_date)")
    return day


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The instant local midnight of ``day`` begins (fold=0: a repeated midnight counts once, first)."""
    return datetime.combine(day, datetime.min.time()).replace(tzinfo=tz)


def day_end(day: date, tz: ZoneInfo) -> datetime:
    return day_start(day + timedelta(days=1), tz)


def _midnight_date(instant: datetime, tz: ZoneInfo) -> date | None:
    local = instant.astimezone(tz)
    return local.date() if local.time() == datetime.min.time() else None


def named_day(instant: datetime, tz: ZoneInfo, other_zones=(UTC,)) -> tuple[date, ZoneInfo] | None:
    """The calendar day an operator named with ``instant``, and the zone it was read in.

    A day typed as a bare date becomes local midnight in the zone of whoever read it: the IVR
    zone (scheduled and backfill runs, a CLI whose ``[core] default_timezone`` is the IVR zone),
    or another zone (``[core] default_timezone``, a REST caller writing UTC). Midnight in the IVR
    zone wins; otherwise the first of ``other_zones`` in which ``instant`` is a midnight. None when
    it is a midnight nowhere: then it names no day.
    """
    for zone in (tz, *other_zones):
        day = _midnight_date(instant, zone)
        if day is not None:
            return day, zone
    return None


class DateContractError(ValueError):
    """The run does not name a business day that can be loaded (a permanent error)."""


def resolve_business_date(
    logical_date: datetime | None,
    *,
    tz: ZoneInfo,
    default_tz: ZoneInfo,
    first_day: date,
    now: datetime,
) -> date:
    """The business day a run loads, or DateContractError saying why the run names none.

    The rule: the calendar day the run's logical date names (see :func:`named_day`), which must
    lie between ``first_day`` and the last day that has ended in the IVR zone.
    """
    if logical_date is None:
        raise DateContractError(
            "this run has no logical date, so it names no business day; trigger it with the day to load, "
            "e.g. `airflow dags trigger ivr_calls_daily -l 2026-11-20` or logical_date in the REST call"
        )
    if logical_date.tzinfo is None:
        raise DateContractError(f"logical date {logical_date!r} has no time zone")
    found = named_day(logical_date, tz, (default_tz, UTC))
    if found is None:
        local = logical_date.astimezone(tz)
        raise DateContractError(
            f"logical date {logical_date.isoformat()} is {local.isoformat()} in the IVR zone {tz.key} "
            f"({TIMEZONE_SETTING}): not the start of a day there, nor in [core] default_timezone={default_tz.key} "
            f"or UTC, so it names no business day. Give the day at 00:00, e.g. {day_start(local.date(), tz).isoformat()}"
        )
    day, _ = found
    if day < first_day:
        raise DateContractError(
            f"business date {day} is before the first business day {first_day} ({FIRST_DAY_SETTING}); "
            f"if the IVR still holds that day, set {FIRST_DAY_SETTING} earlier"
        )
    if day_end(day, tz) > now:
        raise DateContractError(
            f"business date {day} has not ended yet in the IVR zone {tz.key} (it ends at "
            f"{day_end(day, tz).isoformat()}): only closed days can be loaded"
        )
    return day


def hour_window(business_date: date, hour: int) -> tuple[datetime, datetime]:
    """Naive local [start, end) of partition ``hour`` (0-23) of ``business_date``."""
    if hour not in HOURS:
        raise ValueError(f"hour={hour!r} is not an hour of the day (0-23)")
    start = datetime.combine(business_date, datetime.min.time()) + timedelta(hours=hour)
    return start, start + timedelta(hours=1)


def day_window(business_date: date) -> tuple[datetime, datetime]:
    """Naive local [start, end) of the whole business day."""
    start = datetime.combine(business_date, datetime.min.time())
    return start, start + timedelta(days=1)


def real_hours_in_window(business_date: date, hour: int, tz: ZoneInfo) -> float:
    """Elapsed hours covered by a wall-clock window: 0 (skipped), 1, or 2 (repeated hour)."""
    start, end = hour_window(business_date, hour)
    # fold=0 picks the first occurrence of a repeated wall time and, for a skipped one, the offset
    # before the jump: the window then runs from its first instant to the first instant of the next.
    start_instant = start.replace(tzinfo=tz, fold=0)
    end_instant = end.replace(tzinfo=tz, fold=0)
    elapsed = (end_instant.astimezone(ZoneInfo("UTC")) - start_instant.astimezone(ZoneInfo("UTC"))).total_seconds()
    return max(elapsed, 0) / 3600
