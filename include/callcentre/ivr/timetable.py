"""The schedule of ivr_calls_daily: one run per IVR business day, its logical date the day's first
instant (cron at "0 0 * * *" skips or shifts a day whose 00:00 does not exist). Typed dates are
read as business_day.named_day reads them (docs/ivr.md, "The date contract"). Registered by
``plugins/ivr_timetable_plugin.py``.
"""

from __future__ import annotations

from datetime import date, timedelta

import pendulum
from airflow.timetables.base import DagRunInfo, DataInterval, Timetable

from callcentre.ivr.business_day import UTC, AmbiguousDateError, cli_timezone, day_start, named_day, parse_timezone


class IvrBusinessDayTimetable(Timetable):
    """Daily at the start of each local day in ``timezone`` (the IVR zone). Airflow's public
    Timetable interface only, with the rules of its cron timetable at "0 0 * * *" on the days'
    first instants; tests/unit/test_ivr_every_zone.py holds the two side by side."""

    description = "daily at the start of each IVR day (00:00, or when the clocks jump past it); typed dates are IVR business days"

    def __init__(self, timezone) -> None:
        self._zone = parse_timezone(getattr(timezone, "name", None) or str(timezone))

    @classmethod
    def deserialize(cls, data):
        return cls(data["timezone"])  # parse_timezone: a clear error for an unknown zone

    def serialize(self):
        return {"timezone": self._zone.key}

    @property
    def summary(self) -> str:
        return f"daily 00:00 {self._zone.key}"

    # All in UTC: Python compares two times of one zone by their wall clock, which is ambiguous in
    # a repeated hour.

    def _day_of(self, instant) -> date:
        """The local date of ``instant``: the day whose start is the last at or before it."""
        return instant.astimezone(self._zone).date()

    def _start_of(self, day: date):
        return pendulum.instance(day_start(day, self._zone)).in_timezone("UTC")

    def _interval(self, day: date) -> DataInterval:
        return DataInterval(start=self._start_of(day), end=self._start_of(day + timedelta(days=1)))

    def _first_day_from(self, instant) -> date:
        """The first day that starts at or after ``instant``."""
        day = self._day_of(instant)
        return day if self._start_of(day) == instant else day + timedelta(days=1)

    def _as_ivr_day_start(self, instant):
        """``instant`` moved to the start of the IVR day it names, or unchanged if it names none;
        AmbiguousDateError when it names two."""
        if instant is None:
            return None
        found = named_day(instant, self._zone, (cli_timezone(), UTC))
        return instant if found is None else self._start_of(found[0])

    def next_dagrun_info(self, *, last_automated_data_interval, restriction):
        earliest, latest = restriction.earliest, restriction.latest
        if restriction.catchup:
            # Only a backfill asks with catchup on (the DAG itself never catches up): its bounds
            # are the operator's dates.
            earliest, latest = self._as_ivr_day_start(earliest), self._as_ivr_day_start(latest)
            first = earliest and self._first_day_from(earliest)
        else:  # no catch-up: the latest day that has ended, or the first from earliest if later
            first = self._day_of(pendulum.now("UTC")) - timedelta(days=1)
            if earliest is not None:
                first = max(first, self._first_day_from(earliest))
        last = last_automated_data_interval
        if last is None:
            if first is None:
                return None
            day = first
        else:  # the day after the last run's, even if the schedule changed since
            day = self._day_of(last.end)
            if self._start_of(day) <= last.start:
                day += timedelta(days=1)
            day = max(day, first) if first is not None else day
        if latest is not None and self._start_of(day) > latest:
            return None
        return DagRunInfo.interval(*self._interval(day))

    def infer_manual_data_interval(self, *, run_after):
        """A typed date (or a day's first instant) is that day; any other time, the day before its own."""
        try:
            named = self._as_ivr_day_start(run_after)
        except AmbiguousDateError:
            named = run_after  # the run's first task refuses it, naming both readings
        if named is not run_after or self._start_of(self._day_of(run_after)) == run_after:
            return self._interval(self._day_of(named))
        return self._interval(self._day_of(run_after) - timedelta(days=1))
