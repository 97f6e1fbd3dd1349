"""Task failures of the IVR DAGs, recorded for their run's one message (analytics.task_failures).

Each task's ``on_failure_callback`` (:func:`record_task_failure`) posts nothing: it records a task
instance that failed for good; a callback fired while retries remain records nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from callcentre.common import compat, run_context
from callcentre.common.alerting import is_final_failure
from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.slack import scrub_numbers, short_error
from callcentre.ivr.alert_log import ensure_tables
from callcentre.ivr.alert_messages import IVR_DAG_ID

log = logging.getLogger(__name__)


def is_final(context) -> bool:
    """The shared final-failure rule with the IVR's permanent errors (the task runner's own list)."""
    return is_final_failure(context, compat.terminal_failure_types())


@dataclass(frozen=True)
class TaskFailure:
    dag_id: str
    run_id: str
    run_attempt: int
    task_id: str
    map_index: int
    business_date: date | None
    local_hour: int | None
    try_number: int
    error: str
    log_url: str | None

    @property
    def label(self) -> str:
        if self.local_hour is not None:
            return f"{self.task_id} hour {self.local_hour:02d}"
        return self.task_id if self.map_index < 0 else f"{self.task_id} [{self.map_index}]"


def clean_error(text: str) -> str:
    """An error as it may appear in Slack and in the alert tables: secrets masked, numbers scrubbed."""
    return scrub_numbers(compat.redact(text))


def business_date_of(context) -> date | None:
    """The day the run names, loadable or not: a run that failed because its day is before
    IVR_FIRST_BUSINESS_DAY still names it, so the watcher sees the day as reported."""
    try:
        from callcentre.ivr import runtime

        return runtime.named_business_date(context)
    except Exception:  # noqa: BLE001 - the alert says less rather than not at all
        return None


def _hour_of(context) -> int | None:
    hour = (getattr(context.get("task"), "op_kwargs", None) or {}).get("hour")
    return int(hour) if hour is not None else None


def failure_from_context(context) -> TaskFailure:
    ti = context["ti"]
    dag_run = context.get("dag_run")
    map_index = getattr(ti, "map_index", None)
    try:
        log_url = run_context.log_url_of(context)
    except Exception:  # noqa: BLE001 - a message without the link beats no message
        log_url = None
    return TaskFailure(
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        run_attempt=run_context.run_attempt_of(dag_run) if dag_run is not None else 0,
        task_id=ti.task_id,
        map_index=-1 if map_index is None else int(map_index),
        business_date=business_date_of(context) if ti.dag_id == IVR_DAG_ID else None,
        local_hour=_hour_of(context),
        try_number=int(ti.try_number),
        error=clean_error(short_error(context.get("exception"))),
        log_url=log_url,
    )


def save_failure(failure: TaskFailure, conn_id: str = ANALYTICS_POSTGRES) -> None:
    from callcentre.common.pg import transaction

    with transaction(conn_id) as cur:
        cur.execute(
            """INSERT INTO analytics.task_failures (dag_id, run_id, run_attempt, task_id, map_index, business_date,
                                                    local_hour, try_number, error, log_url)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (dag_id, run_id, run_attempt, task_id, map_index) DO UPDATE
               SET try_number = EXCLUDED.try_number, error = EXCLUDED.error, log_url = EXCLUDED.log_url,
                   business_date = EXCLUDED.business_date, local_hour = EXCLUDED.local_hour, failed_at = now()""",
            (failure.dag_id, failure.run_id, failure.run_attempt, failure.task_id, failure.map_index,
             failure.business_date, failure.local_hour, failure.try_number, failure.error, failure.log_url),
        )


def run_failures(dag_id: str, run_id: str, run_attempt: int | None, conn_id: str = ANALYTICS_POSTGRES) -> list[TaskFailure]:
    """The recorded failures of one attempt of a run (the latest attempt when None), oldest first."""
    from callcentre.common.pg import transaction

    with transaction(conn_id) as cur:
        cur.execute(
            """SELECT dag_id, run_id, run_attempt, task_id, map_index, business_date, local_hour, try_number, error, log_url
               FROM analytics.task_failures
               WHERE dag_id = %s AND run_id = %s
                 AND run_attempt = COALESCE(%s, (SELECT max(run_attempt) FROM analytics.task_failures
                                                 WHERE dag_id = %s AND run_id = %s))
               ORDER BY failed_at, task_id, map_index""",
            (dag_id, run_id, run_attempt, dag_id, run_id),
        )
        return [TaskFailure(*row) for row in cur.fetchall()]


def record_task_failure(context) -> None:
    """Task ``on_failure_callback``: record a final failure for the run's one message. Never raises."""
    try:
        ti = context["ti"]
        if not is_final(context):
            log.info("try %s of %s failed with tries left (apache/airflow#65400): nothing recorded",
                     ti.try_number, int(getattr(ti, "max_tries", 0) or 0) + 1)
            return
        failure = failure_from_context(context)
        ensure_tables()
        save_failure(failure)
        log.info("recorded the final failure of %s (try %s) for the run's alert", failure.label, failure.try_number)
    except Exception:  # noqa: BLE001 - a callback must never change the task's outcome
        log.exception("could not record the task failure; the run's alert will say less")


