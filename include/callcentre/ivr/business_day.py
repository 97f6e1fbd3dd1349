"""Business days and their hour partitions, in the IVR's local wall-clock time (``IVR_TIMEZONE``).

A business day is the local calendar day, from its first instant (:func:`day_start`) to the next
day's. Its 24 partitions are the wall-clock hours 0-23 of the naive source column, so every day
has 24 windows whatever the DST rules and every call has exactly one (docs/ivr.md, "Business
days, hours and DST").
"""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HOURS = tuple(range(24))
DEFAULT_TIMEZONE = "UTC"
UTC = ZoneInfo("UTC")

# The IVR's zone, read by the DAG file (its schedule) and the tasks alike from the environment.
TIMEZONE_SETTING = "IVR_TIMEZONE"
# The first business day the IVR still holds; an earlier day fails loudly instead of loading nothing.
FIRST_DAY_SETTING = "IVR_FIRST_BUSINESS_DAY"
DEFAULT_FIRST_BUSINESS_DAY = date(2015, 1, 1)
# The DAG's start_date: before any first business day (Airflow creates no task before it).
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
        raise ValueError(f"{TIMEZONE_SETTING}={err}") from err  # names the value and the rule
    return name


def cli_timezone() -> ZoneInfo:
    """``[core] default_timezone``: the zone in which Airflow's CLI reads a bare date."""
    from callcentre.common.compat import airflow_conf

    name = airflow_conf().get("core", "default_timezone", fallback="UTC") or "UTC"
    if name.lower() == "system":
        import pendulum

        name = pendulum.local_timezone().name
    return parse_timezone("UTC" if name.lower() == "utc" else name)


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
    """The first instant of the local date ``day`` in ``tz`` (America/Santiago 2025-09-07 begins at
    01:00 -03). In UTC, so that adding a duration to it adds elapsed time."""
    return _first_instant(datetime.combine(day, time.min), tz)


def _first_instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the local wall clock of ``tz`` reads ``wall`` or later:
    ``wall`` itself (its first occurrence when it happens twice), or, when the clocks skip it, the
    instant they jump past it."""
    first = wall.replace(tzinfo=tz).astimezone(UTC)  # fold=0: the earlier of two occurrences
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # ``wall`` is in a gap: the jump lies between ``wall`` read with the offset after it (earlier)
    # and with the offset before it. Offsets are whole seconds.
    low = int(wall.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    high = int(first.timestamp())
    while low < high:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle + 1
    return datetime.fromtimestamp(high, UTC)


def day_end(day: date, tz: ZoneInfo) -> datetime:
    return day_start(day + timedelta(days=1), tz)


def _named_in(instant: datetime, zone: ZoneInfo) -> date | None:
    """The local date ``instant`` names in ``zone``: it is that day's first instant, or a wall-clock
    00:00 there (the second of two midnights, which a CLI parsing a bare date may give)."""
    local = instant.astimezone(zone)
    # Compared in UTC: an aware time in a repeated hour never equals one of another zone (PEP 495).
    if local.time() == time.min or instant.astimezone(UTC) == day_start(local.date(), zone):
        return local.date()
    return None


def named_day(instant: datetime, tz: ZoneInfo, other_zones=(UTC,)) -> tuple[date, ZoneInfo] | None:
    """The calendar day an operator named with ``instant`` and the zone it was read in (the IVR
    zone first; a bare date becomes the start of that day in the zone of whoever read it, e.g.
    ``[core] default_timezone`` or a REST caller's UTC); None when it starts a day nowhere;
    AmbiguousDateError when it starts different days in two zones (e.g. Pacific/Apia and Pago_Pago)."""
    found = [(day, zone) for zone in dict.fromkeys((tz, *other_zones)) if (day := _named_in(instant, zone))]
    if len({day for day, _ in found}) > 1:
        raise AmbiguousDateError(ambiguous_message(instant, found))
    return found[0] if found else None


def unambiguous_form(day: date) -> str:
    """How to type ``day`` so that it names that day whatever the zones: its UTC midnight. No
    zone's midnight can fall on it for another date (offsets stay within ±24 h)."""
    return f"{day.isoformat()}T00:00:00+00:00"


def ambiguous_message(instant: datetime, found: list[tuple[date, ZoneInfo]]) -> str:
    readings_text = " and ".join(f"the start of {day} in {zone.key}" for day, zone in found)
    forms = ", ".join(f"{unambiguous_form(day)} for {day}" for day in sorted({day for day, _ in found}))
    return (
        f"date {instant.isoformat()} is ambiguous: it is {readings_text} (zones 24 hours apart), so nothing "
        f"was guessed. Type the day as its UTC midnight: {forms} (e.g. `airflow dags test ivr_calls_daily "
        f"{unambiguous_form(found[0][0])}`, `--from-date {unambiguous_form(found[0][0])}`)"
    )


class DateContractError(ValueError):
    """The run does not name a business day that can be loaded (a permanent error)."""


class AmbiguousDateError(DateContractError):
    """A typed date names different days in two zones; refused rather than guessed."""


def typed_day_example(day: date, tz: ZoneInfo, default_tz: ZoneInfo) -> str:
    """A value that names ``day`` when typed (``dags test``/``trigger -l``, ``--from-date``): the
    bare date, unless the CLI zone would read it as another IVR day; then its UTC midnight."""
    try:
        found = named_day(day_start(day, default_tz), tz, (default_tz, UTC))
    except AmbiguousDateError:
        return unambiguous_form(day)
    return day.isoformat() if found and found[0] == day else unambiguous_form(day)


def business_day_named(logical_date: datetime, *, tz: ZoneInfo, default_tz: ZoneInfo, typed: bool = True) -> date | None:
    """The day ``logical_date`` names (no range check): for a run the timetable dated (``typed``
    False: scheduled, backfill) the IVR zone's reading when there is one; for a typed date the one
    day it names in any zone, AmbiguousDateError when it names two."""
    if not typed:
        own = _named_in(logical_date, tz)
        if own is not None:
            return own
    found = named_day(logical_date, tz, (default_tz, UTC))
    return found[0] if found else None


def resolve_business_date(
    logical_date: datetime | None,
    *,
    tz: ZoneInfo,
    default_tz: ZoneInfo,
    first_day: date,
    now: datetime,
    typed: bool = True,
) -> date:
    """The business day a run loads: the day its logical date names (:func:`business_day_named`),
    between ``first_day`` and the last day ended in the IVR zone; else DateContractError saying why."""
    if logical_date is None:
        yesterday = (now.astimezone(tz) - timedelta(days=1)).date()
        raise DateContractError(
            "this run has no logical date, so it names no business day; trigger it with the day to load, "
            f"e.g. `airflow dags trigger ivr_calls_daily -l {typed_day_example(yesterday, tz, default_tz)}` "
            f"or \"logical_date\": \"{unambiguous_form(yesterday)}\" in the REST call"
        )
    if logical_date.tzinfo is None:
        raise DateContractError(f"logical date {logical_date!r} has no time zone")
    day = business_day_named(logical_date, tz=tz, default_tz=default_tz, typed=typed)
    if day is None:
        local = logical_date.astimezone(tz)
        example = typed_day_example(local.date(), tz, default_tz)
        raise DateContractError(
            f"logical date {logical_date.isoformat()} is {local.isoformat()} in the IVR zone {tz.key} "
            f"({TIMEZONE_SETTING}): not the start of a day there, nor in [core] default_timezone={default_tz.key} "
            f"or UTC, so it names no business day. Give the day as a date, e.g. "
            f"`airflow dags test ivr_calls_daily {example}` (REST, UI: logical date {unambiguous_form(local.date())}; "
            f"in the IVR zone the day starts at {day_start(local.date(), tz).astimezone(tz).isoformat()})"
        )
    if day < first_day:
        raise DateContractError(
            f"business date {day} is before the first business day {first_day} ({FIRST_DAY_SETTING}); "
            f"if the IVR still holds that day, set {FIRST_DAY_SETTING} earlier"
        )
    if day_end(day, tz) > now:
        raise DateContractError(
            f"business date {day} has not ended yet in the IVR zone {tz.key} (it ends at "
            f"{day_end(day, tz).astimezone(tz).isoformat()}): only closed days can be loaded"
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

