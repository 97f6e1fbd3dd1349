"""Every private Airflow API the project relies on, in one place, with why.

Each entry names what we use (``module:attribute``, an attribute path after the colon), the Airflow
major version it is used on, where, and why no public API does. ``tests/unit/test_private_airflow.py``
resolves every entry of the running version and fails naming the entry when Airflow moved it (the
code picks a version's path by ``IS_AIRFLOW_2``, never by ``except ImportError``, so a moved path
fails where it is used too), and fails when the code uses one of these markers without an entry here. Nothing is imported here.
"""

from __future__ import annotations

from typing import NamedTuple


class PrivateApi(NamedTuple):
    target: str  # "module:attribute.path"
    airflow: int  # the major version it is used on
    used_in: str  # the file that uses it, relative to the repository
    why: str
    annotation_only: bool = False  # declared by a module annotation, bound only at run time


PRIVATE_APIS: tuple[PrivateApi, ...] = (
    PrivateApi("airflow.sdk._shared.secrets_masker:redact", 3, "include/callcentre/common/compat.py",
               "mask connection passwords in Slack text; the SDK exports no public redact"),
    PrivateApi("airflow._shared.timezones.timezone:parse", 3, "include/callcentre/common/compat.py",
               "the CLI's own date parser, so suggested dates are tested as the CLI reads them"),
    PrivateApi("airflow.sdk.execution_time.task_runner:SUPERVISOR_COMMS", 3, "include/callcentre/common/run_context.py",
               "whether a task runner relays Variables (else a DAG callback runs in-process: dag.test), and "
               "GetPreviousDagRun for the circuit-breaker note from a DAG callback in the dag-processor",
               annotation_only=True),
    PrivateApi("airflow.sdk.execution_time.comms:GetPreviousDagRun", 3, "include/callcentre/common/run_context.py",
               "the previous run's state from a DAG callback in the dag-processor"),
    PrivateApi("airflow.timetables.interval:CronDataIntervalTimetable._get_next", 3, "include/callcentre/ivr/timetable.py",
               "the IVR timetable's day starts (a day without a local midnight) drive the cron timetable"),
    PrivateApi("airflow.timetables.interval:CronDataIntervalTimetable._get_prev", 3, "include/callcentre/ivr/timetable.py",
               "as _get_next"),
    PrivateApi("airflow.timetables.interval:CronDataIntervalTimetable._align_to_next", 3,
               "include/callcentre/ivr/timetable.py", "as _get_next"),
    PrivateApi("airflow.timetables.interval:CronDataIntervalTimetable._align_to_prev", 3,
               "include/callcentre/ivr/timetable.py", "as _get_next"),
    PrivateApi("airflow.timetables.interval:CronDataIntervalTimetable._get_next", 2, "include/callcentre/ivr/timetable.py",
               "the same on 2.x"),
    PrivateApi("airflow.timetables.interval:CronDataIntervalTimetable._get_prev", 2, "include/callcentre/ivr/timetable.py",
               "the same on 2.x"),
    PrivateApi("airflow.timetables.interval:CronDataIntervalTimetable._align_to_next", 2,
               "include/callcentre/ivr/timetable.py", "the same on 2.x"),
    PrivateApi("airflow.timetables.interval:CronDataIntervalTimetable._align_to_prev", 2,
               "include/callcentre/ivr/timetable.py", "the same on 2.x"),
    PrivateApi("airflow.models.dag:DAG.fetch_callback", 2, "include/callcentre/common/airflow2_callback_context.py",
               "wrapped, once installed by dags/ivr_calls_daily.py, so a DAG failure callback gets the context of an "
               "expanded task (the upstream one picks tis[-1] with no ORDER BY)"),
    PrivateApi("airflow.api_fastapi.common.db.common:SessionDep", 3, "include/callcentre/ivr_page/app.py",
               "the api-server's per-request metadata session, as its own UI routes take it: the IVR page reads the "
               "DAG's runs in one SELECT (the REST API pages them 100 at a time; five years = 19 calls)"),
    PrivateApi("airflow.models.dagrun:DagRun", 3, "include/callcentre/ivr_page/app.py",
               "the runs of a logical-date window for the IVR page, read after the auth manager allowed it"),
    PrivateApi("airflow.models.taskinstance:TaskInstance", 3, "include/callcentre/ivr_page/app.py",
               "the IVR page's log link (a run's last failed or last started task) without a REST round trip"),
)

# What marks a private use in our code: each marker found in include/, plugins/ or dags/ must have
# an entry above naming that file.
MARKERS = ("_PythonDecoratedOperator", "rendered_map_index", "_shared", "SUPERVISOR_COMMS", "GetPreviousDagRun",
           "_get_next", "_get_prev", "_align_to_next", "_align_to_prev", "fetch_callback", "_describe_with_dom_dow_fix")
