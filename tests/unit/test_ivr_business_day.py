from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from callcentre.ivr.business_day import (
    HOURS,
    AmbiguousDateError,
    DateContractError,
    day_start,
    first_business_day,
    ivr_timezone_name,
    resolve_business_date,
    day_window,
    hour_window,
    _first_instant,
    parse_timezone,
)


def real_hours_in_window(business_date: date, hour: int, tz: ZoneInfo) -> float:
    """Elapsed hours covered by a wall-clock window: 0 (skipped), 1, or 2 (repeated hour); a
    fraction where the clocks moved by less than an hour."""
    start, end = hour_window(business_date, hour)
    # From one boundary's first instant to the next one's (a skipped boundary: the jump past it),
    # so the 24 windows add up to the day, day_start to day_end.
    elapsed = (_first_instant(end, tz) - _first_instant(start, tz)).total_seconds()
    return max(elapsed, 0) / 3600


def test_hour_windows_tile_the_day_without_gaps():
    day = date(2026, 11, 20)
    windows = [hour_window(day, h) for h in HOURS]
    assert windows[0][0] == day_window(day)[0]
    assert windows[-1][1] == day_window(day)[1]
    assert all(windows[i][1] == windows[i + 1][0] for i in range(23))
    assert hour_window(day, 23) == (datetime(2026, 11, 20, 23), datetime(2026, 11, 21, 0))


@pytest.mark.parametrize("hour", [-1, 24, "3", None])
def test_hour_must_be_0_to_23(hour):
    with pytest.raises(ValueError, match="hour"):
        hour_window(date(2026, 11, 20), hour)


@pytest.mark.parametrize(
    ("zone", "day", "special_hour", "special_length", "day_length"),
    [
        ("America/New_York", date(2026, 3, 8), 2, 0, 23),   # spring forward: 02:00-03:00 does not exist
        ("America/New_York", date(2026, 11, 1), 1, 2, 25),  # fall back: 01:00-02:00 happens twice
        ("Europe/Madrid", date(2026, 3, 29), 2, 0, 23),
        ("Europe/Madrid", date(2026, 10, 25), 2, 2, 25),
    ],
)
def test_dst_days_still_have_24_wall_clock_partitions(zone, day, special_hour, special_length, day_length):
    tz = ZoneInfo(zone)
    lengths = {h: real_hours_in_window(day, h, tz) for h in HOURS}
    assert len(lengths) == 24
    assert lengths[special_hour] == special_length
    assert all(length == 1 for h, length in lengths.items() if h != special_hour)
    assert sum(lengths.values()) == day_length


def test_ordinary_day_in_a_zone_without_dst():
    tz = ZoneInfo("America/Bogota")
    assert sum(real_hours_in_window(date(2026, 11, 20), h, tz) for h in HOURS) == 24


NOW = datetime(2026, 11, 23, 13, 0, tzinfo=timezone.utc)
FIRST = date(2015, 1, 1)


def resolve(logical_date, zone, default="UTC", first=FIRST, now=NOW):
    return resolve_business_date(logical_date, tz=ZoneInfo(zone), default_tz=ZoneInfo(default), first_day=first, now=now)


ZONES = ["America/Mexico_City", "Europe/Madrid", "Asia/Kolkata", "Pacific/Auckland"]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("day", [date(2026, 11, 20), date(2025, 11, 2), date(2019, 3, 31), date(2026, 4, 5)])
def test_the_day_an_operator_names_is_the_day_loaded_in_every_zone(zone, day):
    """Scheduled/backfill runs (local midnight), a CLI whose default zone is UTC, the IVR zone or
    another one, and a REST caller writing UTC all name the same business day."""
    midnight_local = datetime.combine(day, datetime.min.time()).replace(tzinfo=ZoneInfo(zone))
    assert resolve(midnight_local, zone) == day
    for default in ("UTC", zone, "America/Bogota", "Asia/Tokyo"):
        typed = datetime.combine(day, datetime.min.time()).replace(tzinfo=ZoneInfo(default))
        assert resolve(typed, zone, default) == day, (default, typed)


def test_a_time_that_is_no_midnight_names_no_day_and_says_how_to_fix_it():
    with pytest.raises(DateContractError, match=r"IVR_TIMEZONE.*not the start of a day.*default_timezone=UTC.*2026-11-20T00:00:00-06:00"):
        resolve(datetime(2026, 11, 20, 15, 30, tzinfo=timezone.utc), "America/Mexico_City")


def test_a_run_without_logical_date_fails_instead_of_loading_today():
    with pytest.raises(DateContractError, match="no logical date"):
        resolve(None, "America/Mexico_City")


def test_days_before_the_first_business_day_fail_loudly():
    with pytest.raises(DateContractError, match="before the first business day 2015-01-01 .IVR_FIRST_BUSINESS_DAY"):
        resolve(datetime(2014, 12, 31, tzinfo=timezone.utc), "UTC")
    assert resolve(datetime(2014, 12, 31, tzinfo=timezone.utc), "UTC", first=date(2010, 1, 1)) == date(2014, 12, 31)


@pytest.mark.parametrize("zone", ZONES)
def test_a_day_that_has_not_ended_in_the_ivr_zone_cannot_be_loaded(zone):
    local_today = NOW.astimezone(ZoneInfo(zone)).date()
    with pytest.raises(DateContractError, match="has not ended yet"):
        resolve(datetime.combine(local_today, datetime.min.time()).replace(tzinfo=ZoneInfo(zone)), zone)
    yesterday = local_today - timedelta(days=1)
    assert resolve(datetime.combine(yesterday, datetime.min.time()).replace(tzinfo=ZoneInfo(zone)), zone) == yesterday


def test_settings_are_validated_with_their_names():
    assert ivr_timezone_name({"IVR_TIMEZONE": " America/Mexico_City "}) == "America/Mexico_City"
    assert ivr_timezone_name({}) == "UTC"
    with pytest.raises(ValueError, match="IVR_TIMEZONE='Mexico' is not an IANA"):
        ivr_timezone_name({"IVR_TIMEZONE": "Mexico"})
    assert first_business_day({}) == date(2015, 1, 1)
    assert first_business_day({"IVR_FIRST_BUSINESS_DAY": "2009-06-01"}) == date(2009, 6, 1)
    with pytest.raises(ValueError, match="IVR_FIRST_BUSINESS_DAY='yesterday'"):
        first_business_day({"IVR_FIRST_BUSINESS_DAY": "yesterday"})


@pytest.mark.parametrize("zone", ZONES)
def test_a_backfill_range_typed_in_utc_creates_exactly_the_named_ivr_days(zone, monkeypatch):
    """What `airflow backfill create --from-date D1 --to-date D2` asks of the timetable when
    [core] default_timezone is UTC: the bounds are UTC midnights; the runs are D1..D2 local."""
    import pendulum
    from airflow.timetables.base import TimeRestriction

    from callcentre.ivr.timetable import IvrBusinessDayTimetable

    monkeypatch.setenv("AIRFLOW__CORE__DEFAULT_TIMEZONE", "UTC")
    timetable = IvrBusinessDayTimetable(pendulum.timezone(zone))
    restriction = TimeRestriction(pendulum.datetime(2025, 10, 31, tz="UTC"), pendulum.datetime(2025, 11, 2, tz="UTC"), True)
    days, info = [], None
    while info := timetable.next_dagrun_info(last_automated_data_interval=info and info.data_interval, restriction=restriction):
        days.append(info.logical_date.in_timezone(zone))
    assert [(d.date(), d.hour, d.minute) for d in days] == [(date(2025, 10, 31 + i) if i == 0 else date(2025, 11, i), 0, 0) for i in range(3)]
    manual = timetable.infer_manual_data_interval(run_after=pendulum.datetime(2025, 11, 2, tz="UTC"))
    assert manual.start.in_timezone(zone).date() == date(2025, 11, 2) and manual.start.in_timezone(zone).hour == 0



def test_unknown_timezone_is_a_clear_error():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        parse_timezone("Mars/Olympus")
    assert parse_timezone(None) == ZoneInfo("UTC")


def _typed(text: str, default_zone: str):
    """What `airflow dags test`/`trigger -l`/`--from-date` make of ``text`` (the CLI's parser)."""
    from tests.airflow_compat import parse_typed_date

    return parse_typed_date(text, default_zone)


def _suggested_date(message: str) -> str:
    import re

    return re.search(r"`airflow dags (?:test|trigger) ivr_calls_daily (?:-l )?(\S+)`", message).group(1)


@pytest.mark.parametrize(("zone", "day"), [("America/Santiago", date(2025, 9, 7)), ("America/Havana", date(2025, 11, 2)),
                                           ("Atlantic/Azores", date(2025, 3, 30)), ("America/Mexico_City", date(2025, 11, 2))])
@pytest.mark.parametrize("default", ["UTC", "ivr"])
def test_a_day_without_a_midnight_or_with_two_is_the_day_typed(zone, day, default):
    """`airflow dags test ivr_calls_daily 2025-09-07` with default_timezone=America/Santiago: the CLI
    gives the instant the day begins (01:00 -03, no 00:00 that day); both midnights of a day that
    has two name it; the schedule's date is the day's first instant."""
    default_zone = zone if default == "ivr" else "UTC"
    assert resolve(_typed(day.isoformat(), default_zone), zone, default_zone) == day
    first = resolve_business_date(day_start(day, ZoneInfo(zone)), tz=ZoneInfo(zone), default_tz=ZoneInfo(default_zone),
                                  first_day=FIRST, now=NOW, typed=False)
    assert first == day
    second_midnight = datetime.combine(day, datetime.min.time()).replace(tzinfo=ZoneInfo(zone), fold=1)
    assert resolve(second_midnight, zone, default_zone) == day


@pytest.mark.parametrize("default", ["UTC", "America/Santiago", "Pacific/Pago_Pago"])
@pytest.mark.parametrize(("zone", "wrong"), [("America/Santiago", "2025-09-07T12:00:00"), ("Pacific/Apia", "2025-06-15T12:00:00")])
def test_the_fix_an_error_suggests_works_when_typed(zone, wrong, default):
    with pytest.raises(DateContractError, match="names no business day") as err:
        resolve(_typed(wrong, default), zone, default)
    suggested = _suggested_date(str(err.value))
    intended = _typed(wrong, default).astimezone(ZoneInfo(zone)).date()
    assert resolve(_typed(suggested, default), zone, default) == intended, str(err.value)
    with pytest.raises(DateContractError, match="no logical date") as err:
        resolve(None, zone, default)
    assert resolve(_typed(_suggested_date(str(err.value)), default), zone, default) == (NOW.astimezone(ZoneInfo(zone)) - timedelta(days=1)).date()


def test_a_date_typed_between_zones_24_hours_apart_is_refused_naming_both_readings():
    """IVR in Pacific/Apia (UTC+13), CLI in Pacific/Pago_Pago (UTC-11): a bare date typed on the
    CLI is midnight in both, one day apart. Refused, with the form that is not ambiguous."""
    typed = _typed("2025-06-15", "Pacific/Pago_Pago")
    with pytest.raises(AmbiguousDateError) as err:
        resolve(typed, "Pacific/Apia", "Pacific/Pago_Pago")
    message = str(err.value)
    assert "the start of 2025-06-16 in Pacific/Apia" in message and "the start of 2025-06-15 in Pacific/Pago_Pago" in message
    assert "2025-06-15T00:00:00+00:00 for 2025-06-15" in message and "2025-06-16T00:00:00+00:00 for 2025-06-16" in message
    assert resolve(_typed("2025-06-15T00:00:00+00:00", "Pacific/Pago_Pago"), "Pacific/Apia", "Pacific/Pago_Pago") == date(2025, 6, 15)
    assert resolve(_typed(_suggested_date(message), "Pacific/Pago_Pago"), "Pacific/Apia", "Pacific/Pago_Pago") == date(2025, 6, 16)
    # The schedule's own date is the IVR day, whatever the CLI zone.
    assert resolve_business_date(typed, tz=ZoneInfo("Pacific/Apia"), default_tz=ZoneInfo("Pacific/Pago_Pago"),
                                 first_day=FIRST, now=NOW, typed=False) == date(2025, 6, 16)


def test_backfill_bounds_between_zones_24_hours_apart_are_refused_and_the_utc_form_works(monkeypatch):
    import pendulum
    from airflow.timetables.base import TimeRestriction

    from callcentre.ivr.timetable import IvrBusinessDayTimetable

    monkeypatch.setenv("AIRFLOW__CORE__DEFAULT_TIMEZONE", "Pacific/Pago_Pago")
    timetable = IvrBusinessDayTimetable(pendulum.timezone("Pacific/Apia"))

    def runs(first, last):
        restriction = TimeRestriction(_typed(first, "Pacific/Pago_Pago"), _typed(last, "Pacific/Pago_Pago"), True)
        info, days = None, []
        while info := timetable.next_dagrun_info(last_automated_data_interval=info and info.data_interval, restriction=restriction):
            days.append(info.logical_date.in_timezone("Pacific/Apia").date())
        return days

    with pytest.raises(AmbiguousDateError, match="2025-06-15T00:00:00-11:00 is ambiguous.*2025-06-16 in Pacific/Apia"):
        runs("2025-06-15", "2025-06-16")
    assert runs("2025-06-15T00:00:00+00:00", "2025-06-16T00:00:00+00:00") == [date(2025, 6, 15), date(2025, 6, 16)]
