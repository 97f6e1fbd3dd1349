"""
### ivr_calls_daily

Loads one business day of IVR calls from MariaDB (`ivr_mariadb`, table `calls`) into PostgreSQL
(`analytics_postgres`, schema `analytics`): one mapped task per local hour, invalid rows
quarantined in `analytics.call_rejects` with their reason, each hour replaced atomically, the day
reconciled against the source and summarised in `analytics.daily_metrics`.

**The run's logical date names the business day it loads** (a local day in `IVR_TIMEZONE`),
whatever `[core] default_timezone` is; a run that names no loadable day fails at once, saying why.
Reprocess a day: clear its run; a range: `airflow backfill create --dag-id ivr_calls_daily
--from-date D1 --to-date D2 --reprocess-behavior completed`; one hour: clear that mapped task, or
trigger with param `hours`. Late changes in the source are reloaded by `ivr_drift_check`.
See docs/ivr.md for the contract and docs/operations.md for the runbook.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum

from callcentre.common import airflow2_callback_context
from callcentre.common.assets import IVR_DAY_LOADED, announce_day
from callcentre.common.compat import Param, dag, exponential_backoff, sla_kwargs, sla_miss_callback_kwargs, task
from callcentre.ivr import alerts, deadline, runtime
from callcentre.ivr.business_day import EARLIEST_START, ivr_timezone_name
from callcentre.ivr.options import DEFAULTS, LOAD_QUEUE
from callcentre.ivr.timetable import IvrBusinessDayTimetable

IVR_TIMEZONE = ivr_timezone_name()

# Airflow 2.11 only: the run's failure alert when plan failed before load_hour expanded.
airflow2_callback_context.install()

default_args = {
    "owner": "data-engineering",
    "retries": 4,
    # The first retry after [core] default_task_retry_delay (30 s in deploy/settings.toml), doubling.
    "retry_exponential_backoff": exponential_backoff(2.0),
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(minutes=30),
    # Records a task that failed for good; the run's one Slack message is sent by the DAG callback.
    "on_failure_callback": alerts.record_task_failure,
    # A run's later tasks first: a backfill finishes its runs in order (docs/performance.md).
    "weight_rule": "upstream",
}


@dag(
    dag_id="ivr_calls_daily",
    schedule=IvrBusinessDayTimetable(pendulum.timezone(IVR_TIMEZONE)),
    # Before any business day; the first loadable one is IVR_FIRST_BUSINESS_DAY, checked loudly.
    start_date=pendulum.datetime(EARLIEST_START.year, EARLIEST_START.month, EARLIEST_START.day, tz=IVR_TIMEZONE),
    catchup=False,
    max_active_runs=4,
    max_consecutive_failed_dag_runs=5,
    default_args=default_args,
    # ONE Slack message per failed run; the deadline is watched by ivr_deadline_watch (and on 2.x an SLA).
    on_failure_callback=alerts.alert_run_failed,
    **sla_miss_callback_kwargs(deadline.sla_missed),
    doc_md=__doc__,
    tags=["ivr", "etl", "daily"],
    params={
        "dry_run": Param(DEFAULTS["dry_run"], type="boolean", description="Read and validate, write nothing."),
        "hours": Param(
            DEFAULTS["hours"],
            type="array",
            items={"type": "integer", "minimum": 0, "maximum": 23},
            description="Local hours to reprocess (empty = the whole day).",
        ),
        "invalid_rows": Param(
            DEFAULTS["invalid_rows"],
            enum=["quarantine", "fail"],
            description="quarantine: store invalid rows in analytics.call_rejects; fail: fail the hour.",
        ),
        "max_reject_ratio": Param(
            DEFAULTS["max_reject_ratio"], type="number", minimum=0, maximum=1,
            description="Fail the run when more than this share of the day's rows is invalid.",
        ),
        "min_calls": Param(
            DEFAULTS["min_calls"], type="integer", minimum=0,
            description="Fail (and retry) while the source holds fewer calls for the day; 0 accepts an empty day"
                        " and lets an hour the source no longer holds be emptied.",
        ),
        "chunk_size": Param(
            DEFAULTS["chunk_size"], type="integer", minimum=100, maximum=1_000_000,
            description="Rows fetched from MariaDB per round trip.",
        ),
    },
)
def ivr_calls_daily():
    @task.sensor(mode="reschedule", poke_interval=300, timeout=timedelta(hours=6), queue=LOAD_QUEUE)
    def plan(**context):
        """Fail fast on bad params, a date that names no business day or a database down; wait (no
        worker slot held) until the day has settled (ivr/settle.py); migrate; list the hours."""
        return runtime.plan(context)

    # map_index_template: each mapped task is named "hour HH" in the UI (set by runtime.load_hour).
    @task(pool="ivr_mariadb", queue=LOAD_QUEUE, map_index_template="{{ hour_label }}")
    def load_hour(hour: int, **context):
        """Stream one local hour from MariaDB, validate, and replace it in PostgreSQL atomically."""
        return runtime.load_hour(hour, context)

    @task(pool="ivr_mariadb", queue=LOAD_QUEUE, execution_timeout=timedelta(minutes=10), do_xcom_push=False,
          outlets=[IVR_DAY_LOADED], **sla_kwargs(deadline.sla_deadline()))
    def reconcile(hour_results, **context):
        """Per hour: source rows = loaded + rejected; any difference, or too many rejects, fails the
        run. Then the day's row in analytics.daily_metrics; the asset event ivr_day_loaded names the day."""
        return announce_day(context, runtime.reconcile_day(hour_results, context))

    reconcile(load_hour.expand(hour=plan()))


ivr_calls_daily()
