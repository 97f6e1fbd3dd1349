"""
### ivr_drift_check

Daily: compares each hour of the last `days` (default 7) loaded IVR business days with the source
(rows and a checksum) and reloads only the hours that differ, one mapped task each (labelled
`YYYY-MM-DD hour HH` in the Airflow UI); each repaired day then passes the normal quality gate
before its `analytics.daily_metrics` row is rewritten, and one Slack message per batch names the
days and hours. See docs/ivr.md, "Drift".
"""

from __future__ import annotations

from datetime import timedelta

import pendulum

from callcentre.common.compat import ALL_DONE_MIN_ONE_SUCCESS, Param, dag, task
from callcentre.ivr import alerts, drift
from callcentre.ivr.business_day import ivr_timezone_name
from callcentre.ivr.options import DEFAULTS, LOAD_QUEUE


@dag(
    dag_id="ivr_drift_check",
    # After the day's load and its deadline (IVR_LOAD_DEADLINE_HOURS, default 6 h after midnight).
    schedule="0 7 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz=ivr_timezone_name()),
    catchup=False,
    max_active_runs=1,
    # A batch with a day it could not repair (an hour not reloaded, or the gate) fails the run: its
    # one Slack message is the run's failure alert, which carries the batch's summary.
    on_failure_callback=alerts.alert_run_failed,
    default_args={
        "owner": "data-engineering",
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(minutes=30),
        "on_failure_callback": alerts.record_task_failure,
    },
    doc_md=__doc__,
    tags=["ivr", "quality"],
    params={
        "days": Param(drift.DEFAULT_DAYS, type="integer", minimum=1, maximum=366,
                      description="How many days back to compare (loaded days only)."),
        "last_day": Param("", type="string", description="Last day to compare, YYYY-MM-DD (empty: yesterday)."),
        "max_reject_ratio": Param(DEFAULTS["max_reject_ratio"], type="number", minimum=0, maximum=1,
                                  description="The quality gate of a repaired day, as in ivr_calls_daily."),
    },
)
def ivr_drift_check():
    @task(pool="ivr_mariadb", queue=LOAD_QUEUE)
    def find_drift(**context) -> list[dict]:
        """Hours whose rows or checksum differ between the source and the target."""
        return drift.find_task(context)

    # map_index_template: each mapped task is named "YYYY-MM-DD hour HH" in the UI (set by drift.reload_task).
    @task(pool="ivr_mariadb", queue=LOAD_QUEUE, map_index_template="{{ hour_label }}", do_xcom_push=False)
    def reload_hour(day: str, hour: int, **context):
        """Reload one drifted hour (the normal hour load: atomic, converging)."""
        drift.reload_task(day, hour, context)

    # After every reload, failed ones too: a day whose hour could not be reloaded does not hold
    # back the others' metrics.
    @task(pool="ivr_mariadb", queue=LOAD_QUEUE, trigger_rule=ALL_DONE_MIN_ONE_SUCCESS)
    def publish(found, **context) -> dict:
        """Gate each repaired day, rewrite its metrics when it passes, one Slack message."""
        return drift.publish_task(found, context)

    found = find_drift()
    reloads = reload_hour.expand_kwargs(found)
    reloads >> publish(found)


ivr_drift_check()
