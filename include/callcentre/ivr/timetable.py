"""The schedule of ivr_calls_daily: one run per IVR business day, stamped with that day.

A data-interval timetable at local midnight in the IVR zone: the run of day D has logical date
D 00:00 local and starts once D has ended. What it adds to Airflow's ``CronDataIntervalTimetable``
is that the dates an operator types name IVR days whatever ``[core] default_timezone`` is:

* ``airflow backfill create --from-date D1 --to-date D2`` reads D1 and D2 as midnights in
  ``[core] default_timezone``; in a zone west or east of the IVR's that range would start or
  end a day off. A backfill's bounds that are a midnight in that zone (or UTC) are read here as
  the same calendar days in the IVR zone, so exactly D1..D2 are created.
* a manual run (``dags test``, ``dags trigger -l``, the REST API, the UI form) of a named day gets
  that day as its data interval.

Registered by ``plugins/ivr_timetable_plugin.py`` (the scheduler, dag-processor and api-server
must find the class to (de)serialize the DAG).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.timetables.base import DataInterval, TimeRestriction
from airflow.timetables.interval import CronDataIntervalTimetable

from callcentre.ivr.business_day import UTC, day_start, named_day, parse_timezone


def _default_zone():
    from callcentre.common.compat import default_timezone_name

    return parse_timezone(default_timezone_name())


class IvrBusinessDayTimetable(CronDataIntervalTimetable):
    """Daily at 00:00 in ``timezone`` (the IVR zone); typed dates are IVR business days."""

    description = "daily at 00:00 in the IVR zone; typed dates are IVR business days"

    def __init__(self, timezone) -> None:
        super().__init__("0 0 * * *", timezone)

    def _describe_with_dom_dow_fix(self, expression: str) -> str:
        # CronMixin.__init__ would set the UI's description from cron_descriptor ("At 00:00"),
        # hiding ours, and spend ~4 ms of every parse of the DAG file (each task instance's too).
        return type(self).description

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

    def _as_ivr_midnight(self, instant):
        """``instant`` moved to the IVR midnight of the day it names, or unchanged if it names none."""
        if instant is None:
            return None
        zone = self._ivr_zone()
        found = named_day(instant, zone, (_default_zone(), UTC))
        if found is None:
            return instant
        import pendulum

        return pendulum.instance(day_start(found[0], zone))

    def next_dagrun_info(self, *, last_automated_data_interval, restriction):
        # Only a backfill asks with catchup on (the DAG itself never catches up): its bounds are
        # the operator's dates.
        if restriction.catchup:
            restriction = TimeRestriction(
                self._as_ivr_midnight(restriction.earliest), self._as_ivr_midnight(restriction.latest), True
            )
        return super().next_dagrun_info(last_automated_data_interval=last_automated_data_interval, restriction=restriction)

    def infer_manual_data_interval(self, *, run_after):
        start = self._as_ivr_midnight(run_after)
        if start is not run_after:
            return DataInterval(start=start, end=self._get_next(start))
        return super().infer_manual_data_interval(run_after=run_after)
