"""IVR alerts people read: one Slack message per failed run, one per day not loaded by its deadline.

* Each task's ``on_failure_callback`` records a task instance that failed for good
  (:func:`callcentre.ivr.task_failures.record_task_failure`); it posts nothing.
* The DAG's ``on_failure_callback`` (:func:`alert_run_failed`) runs once when the run fails (in the
  dag-processor under a scheduler, in-process under ``dag.test``) and posts ONE message: the
  business date, the failed hours and tasks, the first error and the log links.
* The watcher DAG ``ivr_deadline_watch`` reports days not loaded by their deadline and posts what a
  Slack outage held back (:mod:`callcentre.ivr.deadline`).

Every message is claimed in ``analytics.alert_log`` and sent once, late rather than never
(:mod:`callcentre.ivr.alert_log`); its words are in :mod:`callcentre.ivr.alert_messages`.
"""

from __future__ import annotations

import logging

from callcentre.common import airflow_urls, run_context
from callcentre.ivr.alert_log import (  # noqa: F401 - the alerts' interface for DAGs, pages and tests
    UNCLAIMED_VARIABLE, end_unclaimed_outage, ensure_tables, migrate, send_once, send_unclaimed,
)
from callcentre.ivr.alert_messages import (  # noqa: F401
    IVR_DAG_ID, MAX_LINKS, deadline_message, paused_message, run_failed_message,
)
from callcentre.ivr.deadline import (  # noqa: F401
    LOOKBACK, check_deadlines, close_abandoned_attempts, days_due, deadline_hours, deadline_of, sla_deadline,
    sla_missed,
)
from callcentre.ivr.task_failures import (  # noqa: F401
    TaskFailure, business_date_of, clean_error, failure_from_context, record_task_failure, run_failures,
)

log = logging.getLogger(__name__)


def _same_task(failure: TaskFailure, ti) -> bool:
    return (failure.task_id, failure.map_index) == (ti.task_id, getattr(ti, "map_index", -1))


def alert_run_failed(context) -> None:
    """DAG ``on_failure_callback``: ONE Slack message for the failed run. Never raises.

    The dag-processor gives it ``dag``, ``run_id`` and ``reason``, plus the task context of the
    task instance that failed the run (``dag_run``, ``ti``, ...) when there is one.
    """
    try:
        dag_id = context["dag"].dag_id
        run_id = context["run_id"]
        dag_run = context.get("dag_run")
        attempt = run_context.run_attempt_of(dag_run) if dag_run is not None else None
        run_url = airflow_urls.dag_run_url(dag_id, run_id)
        reason = context.get("reason")
    except Exception:  # noqa: BLE001
        log.exception("the run's failure callback got an unexpected context; nothing sent")
        return
    business_date = business_date_of(context) if dag_id == IVR_DAG_ID and dag_run is not None else None
    try:
        ensure_tables()
        # Read once, no waiting: a task whose own record is not there yet is listed from the context.
        failures = run_failures(dag_id, run_id, attempt)
    except Exception:  # noqa: BLE001 - analytics PostgreSQL down: say so, throttled, rather than nothing
        log.exception("could not read the recorded failures; sending the alert without them")
        text = run_failed_message(dag_id, run_id, run_url, business_date, reason, [])
        note = circuit_breaker_note(context, dag_id)
        text += "\n• (analytics PostgreSQL unreachable: failed tasks not listed)" + note
        send_unclaimed(dag_id, text, always=bool(note))
        return
    last_ti = context.get("ti")
    if last_ti is not None and not any(_same_task(f, last_ti) for f in failures):
        try:  # the task that failed the run left no record (marked failed by hand, worker lost): list it anyway
            failures.append(failure_from_context(context))
        except Exception:  # noqa: BLE001
            log.exception("could not describe the task that failed the run")
    if attempt is None:
        attempt = failures[0].run_attempt if failures else 0
    business_date = business_date or next((f.business_date for f in failures if f.business_date), None)
    text = run_failed_message(dag_id, run_id, run_url, business_date, reason, failures)
    note = circuit_breaker_note(context, dag_id)
    text += note
    try:
        send_once(dag_id, "run_failed", f"{run_id}#{attempt}", text, business_date=business_date, run_id=run_id)
    except Exception:  # noqa: BLE001
        log.exception("could not claim the run's alert; sending it without deduplication")
        send_unclaimed(dag_id, text, always=bool(note))


def circuit_breaker_note(context, dag_id: str) -> str:
    """The line that tells the operator this failure paused the DAG (Airflow's circuit breaker
    pauses it after ``max_consecutive_failed_dag_runs`` failed runs, before this callback runs).
    The count walks the DAG's runs through run_context.failed_runs_in_a_row, which on 3.x still asks
    the dag-processor's supervisor directly (listed in common/private_airflow.py): the public
    ``ti.get_previous_dagrun`` goes back one run only and the dag-processor answers no run count."""
    try:
        limit = int(getattr(context["dag"], "max_consecutive_failed_dag_runs", 0) or 0)
        if limit > 0 and run_context.failed_runs_in_a_row(context, limit) >= limit:
            return paused_message(dag_id, limit)
    except Exception:  # noqa: BLE001 - the alert goes out without the note rather than not at all
        log.exception("could not count the DAG's failed runs in a row")
    return ""
