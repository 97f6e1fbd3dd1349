"""Business days and their hour partitions, in the IVR's local wall-clock time.

The IVR writes naive local times (``DATETIME``) in the zone of Airflow Variable ``ivr_timezone``.
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

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HOURS = tuple(range(24))
DEFAULT_TIMEZONE = "UTC"


def parse_timezone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name`` (default UTC); ValueError naming the value when unknown."""
    name = (name or DEFAULT_TIMEZONE).strip()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"ivr_timezone={name!r} is not an IANA time zone (e.g. 'America/Bogota')") from err


def business_date_for(logical_date: datetime, tz: ZoneInfo) -> date:
    """The business day a run processes: the calendar date of its logical date in the IVR zone.

    Scheduled and backfill runs have a logical date at local midnight of the day they load; the
    CLI (`dags test`, `backfill create`) reads naive dates in ``[core] default_timezone``, which
    `make services` sets to the IVR zone, so the date an operator names is the date processed.
    """
    if logical_date.tzinfo is None:
        raise ValueError(f"logical date {logical_date!r} has no time zone")
    return logical_date.astimezone(tz).date()


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
