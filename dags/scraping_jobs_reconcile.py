"""Every 15 minutes: align ``scraping.jobs`` with Airflow's run states and time out stuck jobs.

Replaces the Django cron ``auto_retry_jobs``: retries themselves are Airflow task retries now; this
DAG only repairs what lost callbacks left behind (see include/callcentre/scraping/reconcile.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from callcentre.common.compat import dag, task
from callcentre.scraping.reconcile import on_reconcile_failure


@dag(
    schedule="*/15 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,  # it replaces a cron job: it must run as soon as it is deployed
    dagrun_timeout=timedelta(minutes=14),
    tags=["scraping"],
    doc_md=__doc__,
    default_args={
        "owner": "data-engineering",
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
        "execution_timeout": timedelta(minutes=10),
        "on_failure_callback": on_reconcile_failure,
    },
)
def scraping_jobs_reconcile():
    @task
    def reconcile_jobs() -> dict:
        """Mark jobs whose run ended without a callback, and jobs past their timeout; alert Slack once per job."""
        from functools import partial

        from callcentre.common import compat
        from callcentre.scraping.reconcile import reconcile

        decisions = reconcile(partial(compat.dagrun_state_of, compat.get_current_context()))
        changed = [d for d in decisions if d.action != "none"]
        return {"active_jobs": len(decisions), "changed": {str(d.job_id): d.action for d in changed}}

    reconcile_jobs()


scraping_jobs_reconcile()
