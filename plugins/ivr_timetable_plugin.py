"""Registers the IVR business-day timetable, so Airflow can (de)serialize ivr_calls_daily."""

from airflow.plugins_manager import AirflowPlugin

from callcentre.ivr.timetable import IvrBusinessDayTimetable


class IvrTimetablePlugin(AirflowPlugin):
    name = "ivr_timetable"
    timetables = [IvrBusinessDayTimetable]
