"""The schedule of ivr_calls_daily: one run per IVR business day, stamped with that day.

A data-interval timetable over the IVR zone's local days: the run of day D has as logical date
the first instant of D (business_day.day_start) and starts once D has ended, so there is exactly
one run per local date (cron at "0 0 * * *" skips or shifts a day whose 00:00 does not exist).
The dates an operator types name IVR days whatever ``[core] default_timezone`` is: a backfill
bound or a manual run's date that starts a day in the IVR zone, in that zone or in UTC is read as
that IVR day; one that starts different days in two zones is refused (AmbiguousDateError).

Registered by ``plugins/ivr_timetable_plugin.py`` (the scheduler, dag-processor and api-server
must find the class to (de)serialize the DAG).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.timetables.base import DataInterval, TimeRestriction
from airflow.timetables.interval import CronDataIntervalTimetable

from callcentre.common.compat import default_timezone_name
from callcentre.ivr.business_day import UTC, AmbiguousDateError, day_start, named_day, parse_timezone


class IvrBusinessDayTimetable(CronDataIntervalTimetable):
    """Daily at the start of each local day in ``timezone`` (the IVR zone); typed dates are IVR
    business days."""

    description = "daily at the start of each IVR day (00:00, or when the clocks jump past it); typed dates are IVR business days"

    def __init__(self, timezone) -> None:
        super().__init__("0 0 * * *", timezone)
        self.description = type(self).description  # CronMixin sets cron_descriptor's "At 00:00"

    @classmethod
    def deserialize(cls, data):
        parse_timezone(data["timezone"])  # a clear error for an unknown zone
        return cls(pendulum.timezone(data["timezone"]))

    def serialize(self):
        return {"timezone": self._ivr_zone().key}

    @property
    def summary(self) -> str:
        return f"daily 00:00 {self._ivr_zone().key}"

    def _ivr_zone(self):
        return parse_timezone(getattr(self._timezone, "name", None) or str(self._timezone))

    # The day boundaries: the first instant of each local date (CronMixin's cron arithmetic
    # finds no 00:00 on a day whose midnight does not exist). All in UTC: Python compares two
    # times of one zone by their wall clock, which is ambiguous in a repeated hour.

    def _start_of(self, day):
        return pendulum.instance(day_start(day, self._ivr_zone()))

    @staticmethod
    def _utc(instant):
        return pendulum.instance(instant).in_timezone("UTC")

    def _local_date(self, instant):
        return instant.astimezone(self._ivr_zone()).date()

    def _is_start(self, current) -> bool:
        return self._utc(current) == self._start_of(self._local_date(current))

    def _step(self, current, days: int):
        """The first day start after (``days`` 1) or before (-1) ``current``."""
        current, day = self._utc(current), self._local_date(current)
        start = self._start_of(day)
        while start <= current if days > 0 else start >= current:
            day += timedelta(days=days)
            start = self._start_of(day)
        return start

    def _get_next(self, current):
        return self._step(current, 1)

    def _get_prev(self, current):
        return self._step(current, -1)

    def _align_to_next(self, current):
        return self._utc(current) if self._is_start(current) else self._get_next(current)

    def _align_to_prev(self, current):
        return self._utc(current) if self._is_start(current) else self._get_prev(current)

    def _as_ivr_day_start(self, instant):
        """``instant`` moved to the start of the IVR day it names, or unchanged if it names none;
        AmbiguousDateError when it names two."""
        if instant is None:
            return None
        found = named_day(instant, self._ivr_zone(), (parse_timezone(default_timezone_name()), UTC))
        return instant if found is None else self._start_of(found[0])

    def next_dagrun_info(self, *, last_automated_data_interval, restriction):
        # Only a backfill asks with catchup on (the DAG itself never catches up): its bounds are
        # the operator's dates.
        if restriction.catchup:
            restriction = TimeRestriction(
                self._as_ivr_day_start(restriction.earliest), self._as_ivr_day_start(restriction.latest), True
            )
        return super().next_dagrun_info(last_automated_data_interval=last_automated_data_interval, restriction=restriction)

    def infer_manual_data_interval(self, *, run_after):
        try:
            start = self._as_ivr_day_start(run_after)
        except AmbiguousDateError:
            start = run_after  # the run's first task refuses it, naming both readings
        if start is not run_after or self._is_start(run_after):
            start = self._utc(start)
            return DataInterval(start=start, end=self._get_next(start))
        return super().infer_manual_data_interval(run_after=run_after)
