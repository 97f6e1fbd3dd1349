"""The date contract in every zone of the tz database, on every day whose UTC offset changed since
2015 and the days either side (generated here, not a hand list): Chile, Cuba, Paraguay, Lebanon,
Egypt, the Azores and Brazil 2015-2018 move their clocks at midnight, so some days have no 00:00
and some have two. For each day: where it starts, its 24 wall-clock partitions cover it exactly
once, the timetable makes exactly one run for it, and `backfill` bounds on, before and after it
create exactly the named days, with [core] default_timezone both UTC and the IVR zone. Pure
functions: no database, no scheduler."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta, timezone
from functools import cache

import pendulum
import pytest

from callcentre.ivr.business_day import (
    HOURS,
    UTC,
    business_day_named,
    day_end,
    day_start,
    resolve_business_date,
)
from tests.unit.test_ivr_business_day import real_hours_in_window

SINCE = datetime(2015, 1, 1, tzinfo=timezone.utc)
UNTIL = datetime(2028, 1, 1, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)
SANTIAGO, HAVANA = zoneinfo.ZoneInfo("America/Santiago"), zoneinfo.ZoneInfo("America/Havana")


def offset_changes(tz: zoneinfo.ZoneInfo) -> list[datetime]:
    """Every instant in [SINCE, UNTIL) at which ``tz``'s UTC offset changes: a weekly scan, a daily
    one inside a week that changed, then the exact second (offsets never change twice in a week)."""
    found, week, day = [], timedelta(days=7), timedelta(days=1)
    t, offset = SINCE, SINCE.astimezone(tz).utcoffset()
    while t < UNTIL:
        nxt = t + week
        if nxt.astimezone(tz).utcoffset() != offset:
            u = t
            while u < nxt:
                v = u + day
                if v.astimezone(tz).utcoffset() != offset:
                    low, high = int(u.timestamp()), int(v.timestamp())
                    while low < high:
                        middle = (low + high) // 2
                        if datetime.fromtimestamp(middle, tz).utcoffset() != offset:
                            high = middle
                        else:
                            low = middle + 1
                    found.append(datetime.fromtimestamp(high, tz))
                    offset = found[-1].utcoffset()
                u = v
        t = nxt
    return found


def zones() -> list[str]:
    names = []
    for name in sorted(zoneinfo.available_timezones()):
        try:
            zoneinfo.ZoneInfo(name)
        except (ValueError, OSError):  # pragma: no cover - a file in the database that is no zone
            continue
        names.append(name)
    return names


@cache
def change_days(name: str) -> tuple[date, ...]:
    """The local dates an offset change touches (the date just before it and just after)."""
    tz = zoneinfo.ZoneInfo(name)
    return tuple(sorted({d for change in offset_changes(tz) for d in ((change - SECOND).astimezone(tz).date(), change.date())}))


@cache
def days_around_changes(name: str) -> tuple[date, ...]:
    """Those dates, and the day before and after each."""
    return tuple(sorted({d + timedelta(days=n) for d in change_days(name) for n in (-1, 0, 1)}))


ZONES = zones()
CHANGING = [z for z in ZONES if days_around_changes(z)]


def test_the_generated_days_include_the_midnight_changes_of_the_issue():
    """The generator finds what the issue reports (it reads the tz database, not this list)."""
    assert len(ZONES) > 400 and len(CHANGING) > 100
    for zone, day in [("America/Santiago", date(2025, 9, 7)), ("America/Havana", date(2025, 3, 9)),
                      ("America/Havana", date(2025, 11, 2)), ("Atlantic/Azores", date(2025, 3, 30)),
                      ("Atlantic/Azores", date(2025, 10, 26)), ("America/Sao_Paulo", date(2018, 11, 4)),
                      ("America/Asuncion", date(2024, 3, 24)), ("Asia/Beirut", date(2025, 3, 30)),
                      ("Africa/Cairo", date(2025, 4, 25))]:
        assert day in days_around_changes(zone), (zone, day)
    # Midnight does not exist: the day starts when the clocks jump (01:00 local).
    assert day_start(date(2025, 9, 7), SANTIAGO).astimezone(SANTIAGO).isoformat() == "2025-09-07T01:00:00-03:00"
    # Midnight happens twice: the day starts at the first.
    assert day_start(date(2025, 11, 2), HAVANA).astimezone(HAVANA).isoformat() == "2025-11-02T00:00:00-04:00"


@pytest.mark.parametrize("zone", CHANGING)
def test_each_day_starts_at_its_first_instant_and_its_partitions_cover_it_once(zone):
    tz = zoneinfo.ZoneInfo(zone)
    for day in days_around_changes(zone):
        start, end = day_start(day, tz), day_end(day, tz)
        assert start.astimezone(tz).date() == day, (zone, day, start)
        assert (start - SECOND).astimezone(tz).date() < day, (zone, day, start)  # none earlier
        assert (end - SECOND).astimezone(tz).date() == day and end.astimezone(tz).date() > day, (zone, day, end)
        # Every instant of [start, end) has a wall-clock time of the day, so exactly one of its 24
        # partitions (selected by the naive local hour) holds it; sampled at each quarter hour.
        t = start
        while t < end:
            local = t.astimezone(tz)
            assert local.date() == day and local.hour in HOURS, (zone, day, local)
            t += timedelta(minutes=15)
        # The partitions' elapsed lengths add up to the day's: none counted twice, none missing.
        lengths = [real_hours_in_window(day, hour, tz) for hour in HOURS]
        assert min(lengths) >= 0 and abs(sum(lengths) * 3600 - (end - start).total_seconds()) < 1e-6, (zone, day)


def _cli_date(day: date, zone: str):
    """What the CLI makes of a bare date typed with [core] default_timezone=``zone``."""
    from tests.airflow_compat import parse_typed_date

    return parse_typed_date(day.isoformat(), zone)


def _runs(timetable, earliest, latest, zone) -> list[tuple[date, datetime, datetime]]:
    from airflow.timetables.base import TimeRestriction

    restriction, info, runs = TimeRestriction(earliest, latest, True), None, []
    while info := timetable.next_dagrun_info(last_automated_data_interval=info and info.data_interval,
                                             restriction=restriction):
        runs.append((info.logical_date.astimezone(zone).date(), info.data_interval.start, info.data_interval.end))
        assert len(runs) < 10
    return runs


@pytest.mark.parametrize("default", ["UTC", "ivr"])
@pytest.mark.parametrize("zone", CHANGING)
def test_one_run_per_day_and_backfill_bounds_name_the_days(zone, default, monkeypatch):
    """`backfill create --from-date D1 --to-date D2` (2.x `dags backfill -s D1 -e D2`) over a day
    the clocks change: exactly D1..D2, each run aligned to its day's first instant."""
    from callcentre.ivr.timetable import IvrBusinessDayTimetable

    default_zone = zone if default == "ivr" else "UTC"
    monkeypatch.setenv("AIRFLOW__CORE__DEFAULT_TIMEZONE", default_zone)
    tz = zoneinfo.ZoneInfo(zone)
    timetable = IvrBusinessDayTimetable(pendulum.timezone(zone))
    for day in change_days(zone):
        before, after = day - timedelta(days=1), day + timedelta(days=1)
        for first, last in [(day, day), (before, day), (day, after), (before, after)]:
            runs = _runs(timetable, _cli_date(first, default_zone), _cli_date(last, default_zone), tz)
            expected = [first + timedelta(days=n) for n in range((last - first).days + 1)]
            assert [d for d, _, _ in runs] == expected, (zone, default_zone, first, last, runs)
            for d, start, end in runs:
                assert (start.astimezone(UTC), end.astimezone(UTC)) == (day_start(d, tz), day_end(d, tz)), (zone, d, start, end)
        # What the runs' first task reads: the scheduled/backfill run's date, and the bare date a
        # `dags test`/`trigger -l` gives, name the same day.
        scheduled = day_start(day, tz)
        assert business_day_named(scheduled, tz=tz, default_tz=zoneinfo.ZoneInfo(default_zone), typed=False) == day
        assert resolve_business_date(_cli_date(day, default_zone), tz=tz, default_tz=zoneinfo.ZoneInfo(default_zone),
                                     first_day=date(2000, 1, 1), now=UNTIL + timedelta(days=400)) == day
        manual = timetable.infer_manual_data_interval(run_after=_cli_date(day, default_zone))
        assert (manual.start.astimezone(UTC), manual.end.astimezone(UTC)) == (day_start(day, tz), day_end(day, tz)), (zone, day, manual)


def test_the_scheduler_makes_one_run_per_day_across_a_midnight_gap_and_a_double_midnight():
    """Catch-up, as the scheduler asks (the restriction's bounds are the DAG's own dates)."""
    from airflow.timetables.base import TimeRestriction

    from callcentre.ivr.timetable import IvrBusinessDayTimetable

    for zone, day in [("America/Santiago", date(2025, 9, 7)), ("America/Havana", date(2025, 11, 2))]:
        tz = zoneinfo.ZoneInfo(zone)
        timetable = IvrBusinessDayTimetable(pendulum.timezone(zone))
        restriction = TimeRestriction(pendulum.instance(day_start(day - timedelta(days=2), tz)), None, True)
        info, runs = None, []
        for _ in range(5):
            info = timetable.next_dagrun_info(last_automated_data_interval=info and info.data_interval,
                                              restriction=restriction)
            runs.append(info.logical_date)
        assert [r.astimezone(tz).date() for r in runs] == [day + timedelta(days=n) for n in range(-2, 3)]
        assert runs[2].astimezone(UTC) == day_start(day, tz)
        assert [r.astimezone(UTC) for r in runs] == sorted({r.astimezone(UTC) for r in runs})


@pytest.mark.parametrize("zone", ["UTC", "Europe/Madrid", "America/Mexico_City", "Asia/Kolkata", "Pacific/Apia"])
def test_the_daily_schedule_and_manual_runs_are_airflows_midnight_cron_where_midnight_exists(zone):
    """The scheduler's own asks (no catch-up: the latest ended day; after a run, the next day) and a
    manual run at a time that names no day (the day before) are what Airflow's cron "0 0 * * *"
    gives, in a zone whose midnights exist on the days asked about."""
    from airflow.timetables.base import DataInterval, TimeRestriction
    from airflow.timetables.interval import CronDataIntervalTimetable

    from callcentre.ivr.timetable import IvrBusinessDayTimetable

    ours, cron = IvrBusinessDayTimetable(pendulum.timezone(zone)), CronDataIntervalTimetable("0 0 * * *", pendulum.timezone(zone))
    now, tz = pendulum.now("UTC"), zoneinfo.ZoneInfo(zone)
    today = now.astimezone(tz).date()

    def interval(day: date) -> DataInterval:
        return DataInterval(pendulum.instance(day_start(day, tz)), pendulum.instance(day_end(day, tz)))

    asks = [(last, earliest) for last in (None, interval(today - timedelta(days=5)), interval(today - timedelta(days=1)))
            for earliest in (None, pendulum.instance(day_start(today - timedelta(days=30), tz)),
                             pendulum.instance(day_start(today - timedelta(days=30), tz)) + timedelta(hours=5),
                             pendulum.instance(day_start(today + timedelta(days=3), tz)))]
    for catchup in (False, True):
        for last, earliest in asks:
            if catchup and earliest is None:
                continue
            restriction = TimeRestriction(earliest, None, catchup)
            got = ours.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
            want = cron.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
            assert (got and got.data_interval) == (want and want.data_interval), (zone, catchup, last, earliest)
    latest = pendulum.instance(day_start(today - timedelta(days=10), tz))
    assert ours.next_dagrun_info(last_automated_data_interval=interval(today - timedelta(days=10)),
                                 restriction=TimeRestriction(None, latest, True)) is None
    for run_after in (now, pendulum.instance(day_start(today - timedelta(days=3), tz)) + timedelta(hours=13, minutes=45)):
        assert ours.infer_manual_data_interval(run_after=run_after) == cron.infer_manual_data_interval(run_after=run_after)
