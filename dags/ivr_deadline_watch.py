"""
### ivr_deadline_watch

Every 15 minutes: one Slack message for each IVR business day whose deadline (the end of the local
day + `IVR_LOAD_DEADLINE_HOURS` hours, default 6; 0 disables the alerts) passed in the last 3 days
while the day is neither loaded nor already reported, including days that never got a run (which an
Airflow `DeadlineAlert` cannot see). It also closes the ledger rows that attempts killed on their last
try left `running`. See docs/operations.md.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum

from callcentre.common.compat import dag, task
from callcentre.ivr import alerts, deadline


@dag(
    dag_id="ivr_deadline_watch",
    schedule="*/15 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,  # the old SLA: it must watch as soon as it is deployed
    dagrun_timeout=timedelta(minutes=14),
    on_failure_callback=alerts.alert_run_failed,
    default_args={
        "owner": "data-engineering",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "execution_timeout": timedelta(minutes=5),
        "on_failure_callback": alerts.record_task_failure,
    },
    doc_md=__doc__,
    tags=["ivr", "alerts"],
)
def ivr_deadline_watch():
    @task
    def check_deadlines() -> dict:
        """Alert once per business day past its deadline that is neither loaded nor already reported."""
        return deadline.check_deadlines()

    check_deadlines()


ivr_deadline_watch()
