from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from callcentre.ivr.business_day import (
    HOURS,
    business_date_for,
    day_window,
    hour_window,
    parse_timezone,
    real_hours_in_window,
)


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


def test_business_date_is_the_local_date_of_the_logical_date():
    bogota = ZoneInfo("America/Bogota")
    # A scheduled run for 2026-11-20 in Bogota starts at local midnight = 05:00 UTC.
    assert business_date_for(datetime(2026, 11, 20, 5, tzinfo=timezone.utc), bogota) == date(2026, 11, 20)
    madrid = ZoneInfo("Europe/Madrid")
    # Local midnight in Madrid is 23:00 UTC the day before.
    assert business_date_for(datetime(2026, 11, 19, 23, tzinfo=timezone.utc), madrid) == date(2026, 11, 20)
    assert business_date_for(datetime(2026, 11, 20, tzinfo=timezone.utc), ZoneInfo("UTC")) == date(2026, 11, 20)


def test_naive_logical_date_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        business_date_for(datetime(2026, 11, 20), ZoneInfo("UTC"))


def test_unknown_timezone_is_a_clear_error():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        parse_timezone("Mars/Olympus")
    assert parse_timezone(None) == ZoneInfo("UTC")
