"""The schedule of ivr_calls_daily: one run per IVR business day, stamped with that day.

A data-interval timetable over the IVR zone's local days: the run of day D has as logical date
the first instant of D (its 00:00; where the clocks jump at midnight, the instant they jump:
America/Santiago 2025-09-07 begins at 01:00 -03; where midnight happens twice, the first one) and
starts once D has ended. So exactly one run per local date, for the schedule, a catch-up and a
backfill alike (cron at "0 0 * * *" skips or shifts a day whose 00:00 does not exist). What it
adds besides is that the dates an operator types name IVR days whatever
``[core] default_timezone`` is:

* ``airflow backfill create --from-date D1 --to-date D2`` (2.x: ``airflow dags backfill -s D1
  -e D2``) reads D1 and D2 as the start of those days in ``[core] default_timezone``; in a zone
  west or east of the IVR's that range would start or end a day off. A bound that starts a day
  in the IVR zone, in that zone or in UTC is read here as the same calendar day in the IVR zone,
  so exactly D1..D2 are created; a bound that starts different days in two zones (24 hours
  apart) is refused, naming both readings (business_day.AmbiguousDateError).
* a manual run (``dags test``, ``dags trigger -l``, the REST API, the UI form) of a named day gets
  that day as its data interval.

Registered by ``plugins/ivr_timetable_plugin.py`` (the scheduler, dag-processor and api-server
must find the class to (de)serialize the DAG).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.timetables.base import DataInterval, TimeRestriction
from airflow.timetables.interval import CronDataIntervalTimetable

from callcentre.common.compat import default_timezone_name
from callcentre.ivr.business_day import UTC, AmbiguousDateError, day_start, named_day, parse_timezone


def daily_interval_timetable(timezone: str) -> IvrBusinessDayTimetable:
    """The schedule of ivr_calls_daily in the IVR zone ``timezone`` (an IANA name)."""
    import pendulum

    return IvrBusinessDayTimetable(pendulum.timezone(timezone))


def _default_zone():
    return parse_timezone(default_timezone_name())


class IvrBusinessDayTimetable(CronDataIntervalTimetable):
    """Daily at the start of each local day in ``timezone`` (the IVR zone); typed dates are IVR
    business days."""

    description = "daily at the start of each IVR day (00:00, or when the clocks jump past it); typed dates are IVR business days"

    def __init__(self, timezone) -> None:
        super().__init__("0 0 * * *", timezone)
        self.description = type(self).description  # CronMixin sets cron_descriptor's "At 00:00"

    @classmethod
    def deserialize(cls, data):
        import pendulum

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
        import pendulum

        return pendulum.instance(day_start(day, self._ivr_zone()))

    @staticmethod
    def _utc(instant):
        import pendulum

        return pendulum.instance(instant).in_timezone("UTC")

    def _local_date(self, instant):
        return instant.astimezone(self._ivr_zone()).date()

    def _is_start(self, current) -> bool:
        return self._utc(current) == self._start_of(self._local_date(current))

    def _get_next(self, current):
        current, day = self._utc(current), self._local_date(current)
        start = self._start_of(day)
        while start <= current:
            day += timedelta(days=1)
            start = self._start_of(day)
        return start

    def _get_prev(self, current):
        current, day = self._utc(current), self._local_date(current)
        start = self._start_of(day)
        while start >= current:
            day -= timedelta(days=1)
            start = self._start_of(day)
        return start

    def _align_to_next(self, current):
        return self._utc(current) if self._is_start(current) else self._get_next(current)

    def _align_to_prev(self, current):
        return self._utc(current) if self._is_start(current) else self._get_prev(current)

    def _as_ivr_day_start(self, instant):
        """``instant`` moved to the start of the IVR day it names, or unchanged if it names none;
        AmbiguousDateError when it names two."""
        if instant is None:
            return None
        found = named_day(instant, self._ivr_zone(), (_default_zone(), UTC))
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
