"""Every SCRAPING_CHECK_INTERVAL minutes (15): align ``scraping.jobs`` with Airflow, then retry failed jobs.

``reconcile_jobs`` repairs what lost callbacks left behind and times out stuck jobs;
``retry_failed_jobs`` re-runs every failed/timeout job whose failure is retryable until its
``max_retries`` and sends the one Slack alert of jobs out of retries (docs/scraping.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from callcentre.common.compat import dag, get_current_context, task
from callcentre.common.run_context import dagrun_state_of
from callcentre.scraping import config
from callcentre.scraping.reconcile import on_reconcile_failure, reconcile

CHECK_INTERVAL = config.check_interval()


@dag(
    schedule=CHECK_INTERVAL,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,  # it replaces a cron job: it must run as soon as it is deployed
    dagrun_timeout=min(CHECK_INTERVAL - timedelta(minutes=0.5), timedelta(minutes=60)),
    tags=["scraping"],
    doc_md=__doc__,
    default_args={
        "owner": "data-engineering",
        "retries": 1,
        "retry_delay": timedelta(seconds=30),
        "execution_timeout": timedelta(minutes=10),
        "on_failure_callback": on_reconcile_failure,
    },
)
def scraping_jobs_reconcile():
    @task
    def reconcile_jobs() -> dict:
        """Mark jobs whose run ended without a callback, and jobs past their timeout; alert Slack once per final job."""
        decisions = reconcile(partial(dagrun_state_of, get_current_context()))
        changed = [d for d in decisions if d.action != "none"]
        return {"active_jobs": len(decisions), "changed": {str(d.job_id): d.action for d in changed}}

    @task
    def retry_failed_jobs() -> dict:
        """Re-run failed/timeout jobs with a retryable failure and retries left (clears their runs, REST
        connection airflow_api); alert Slack once for jobs out of retries."""
        from callcentre.scraping.retry import retry_failed_jobs
        from callcentre.scraping.upload import airflow_client

        actions = retry_failed_jobs(airflow=airflow_client)  # logs in only when there is work
        return {str(a.job_id): a.outcome for a in actions}

    reconcile_jobs() >> retry_failed_jobs()


scraping_jobs_reconcile()
