"""One Slack message per failed run: each task's failure callback records a final failure in
``analytics.task_failures``; the DAG's failure callback posts ONE message built from those records.
Messages are claimed in ``analytics.alert_log`` before they are sent (a Slack outage leaves them
pending for the deadline watcher); with analytics PostgreSQL down, :func:`send_unclaimed` posts
anyway, at most once per DAG an hour. docs/ivr.md, "Alerts"."""

from __future__ import annotations

import json
import logging
from dataclasses import astuple, dataclass, fields
from datetime import date, datetime, timedelta, timezone

from callcentre.common import airflow_urls, compat, run_context, variables
from callcentre.common.alerting import Outbox, is_final_failure
from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.pg import transaction
from callcentre.common.slack import scrub_numbers, send_slack, short_error
from callcentre.ivr import schema
from callcentre.ivr.alert_messages import IVR_DAG_ID, paused_message, run_failed_message, words
from callcentre.ivr.business_day import business_day_named

log = logging.getLogger(__name__)

# --- Claimed alerts: analytics.alert_log, one row per alert, sent once ---------------------------

OUTBOX = Outbox(ANALYTICS_POSTGRES, "analytics.alert_log", ("dag_id", "kind", "alert_key"))
# What fails a task at once whatever retries remain (the task runner's own list).
TERMINAL_FAILURES = (compat.AirflowFailException, compat.AirflowSensorTimeout, compat.AirflowTaskTerminated)


def _post(row: dict) -> bool:
    return send_slack(row["message"])


def send_once(dag_id: str, kind: str, key: str, text: str, *, business_date: date | None = None,
              run_id: str | None = None) -> bool:
    """Post ``text`` unless an alert of this kind and key exists already; True if posted now."""
    row = {"dag_id": dag_id, "kind": kind, "alert_key": key, "business_date": business_date, "run_id": run_id,
           "message": text}
    return OUTBOX.send_once(row, _post)


def send_pending() -> int:
    """Post the alerts a Slack outage held back; how many went out now."""
    return OUTBOX.deliver_pending(_post)


# {dag_id: when its last unclaimed alert went out}, in the metadata DB (which answers whenever a
# callback runs). Emptied by the watcher once analytics PostgreSQL answers.
UNCLAIMED_VARIABLE = "ivr_alerts_unclaimed_sent"
UNCLAIMED_REPEAT = timedelta(hours=1)


def _unclaimed_sent() -> dict:
    try:
        return json.loads(variables.read_variable(UNCLAIMED_VARIABLE, None) or "{}")
    except Exception:  # noqa: BLE001 - unreadable: the alert goes out rather than not at all
        log.exception("could not read Variable %s", UNCLAIMED_VARIABLE)
        return {}


def send_unclaimed(dag_id: str, text: str, now: datetime | None = None, *, always: bool = False) -> bool:
    """Post an alert that cannot be claimed: at most one per DAG per :data:`UNCLAIMED_REPEAT`,
    unless ``always`` (the DAG paused itself: news, not a repeat); True if posted now."""
    now = now or datetime.now(timezone.utc)
    sent = _unclaimed_sent()
    last = sent.get(dag_id)
    if last and not always and now - datetime.fromisoformat(last) < UNCLAIMED_REPEAT:
        log.warning("analytics PostgreSQL unreachable; an alert of %s went out at %s: this one is not sent", dag_id, last)
        return False
    repeat = "\n• " + words()["unclaimed"].format(dag_id=dag_id)
    if not send_slack(text + repeat):
        return False
    try:
        variables.set_variable(UNCLAIMED_VARIABLE, json.dumps({**sent, dag_id: now.isoformat()}))
    except Exception:  # noqa: BLE001
        log.exception("could not remember the unclaimed alert in Variable %s", UNCLAIMED_VARIABLE)
    return True


def end_unclaimed_outage() -> None:
    """Analytics PostgreSQL answers again: the next outage alerts at once."""
    if _unclaimed_sent():
        variables.delete_variable(UNCLAIMED_VARIABLE)


# --- Task failures: analytics.task_failures, read by the run's one message ------------------------

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


_FAILURE_COLUMNS = [f.name for f in fields(TaskFailure)]


def clean_error(text: str) -> str:
    """An error as it may appear in Slack and in the alert tables: secrets masked, numbers scrubbed."""
    return scrub_numbers(compat.redact(text))


def business_date_of(context) -> date | None:
    """The day the run names, loadable or not (a run that failed because its day is before
    IVR_FIRST_BUSINESS_DAY still names it, so the watcher sees the day as reported); None when its
    logical date names no day, or two."""
    try:
        from callcentre.ivr import runtime

        logical_date = run_context.logical_date_of(context)
        if logical_date is None or logical_date.tzinfo is None:
            return None
        return business_day_named(logical_date, **runtime.date_reading(context))
    except Exception:  # noqa: BLE001 - the alert says less rather than not at all
        return None


def failure_from_context(context) -> TaskFailure:
    ti = context["ti"]
    dag_run = context.get("dag_run")
    map_index = getattr(ti, "map_index", None)
    hour = (getattr(context.get("task"), "op_kwargs", None) or {}).get("hour")
    try:
        log_url = str(context["ti"].log_url)
    except Exception:  # noqa: BLE001 - a message without the link beats no message
        log_url = None
    return TaskFailure(
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        run_attempt=run_context.run_attempt_of(dag_run) if dag_run is not None else 0,
        task_id=ti.task_id,
        map_index=-1 if map_index is None else int(map_index),
        business_date=business_date_of(context) if ti.dag_id == IVR_DAG_ID else None,
        local_hour=int(hour) if hour is not None else None,
        try_number=int(ti.try_number),
        error=clean_error(short_error(context.get("exception"))),
        log_url=log_url,
    )


def record_task_failure(context) -> None:
    """Task ``on_failure_callback``: record a final failure for the run's one message. Never raises."""
    try:
        ti = context["ti"]
        # The shared final-failure rule with the IVR's permanent errors.
        if not is_final_failure(context, TERMINAL_FAILURES):
            log.info("try %s of %s failed with tries left (apache/airflow#65400): nothing recorded",
                     ti.try_number, int(getattr(ti, "max_tries", 0) or 0) + 1)
            return
        f = failure_from_context(context)
        schema.migrate()  # the alert tables are analytics migrations
        with transaction(ANALYTICS_POSTGRES) as cur:
            cur.execute(
                f"""INSERT INTO analytics.task_failures ({', '.join(_FAILURE_COLUMNS)})
                   VALUES ({', '.join(['%s'] * len(_FAILURE_COLUMNS))})
                   ON CONFLICT (dag_id, run_id, run_attempt, task_id, map_index) DO UPDATE
                   SET try_number = EXCLUDED.try_number, error = EXCLUDED.error, log_url = EXCLUDED.log_url,
                       business_date = EXCLUDED.business_date, local_hour = EXCLUDED.local_hour, failed_at = now()""",
                astuple(f),
            )
        log.info("recorded the final failure of %s (try %s) for the run's alert", f.label, f.try_number)
    except Exception:  # noqa: BLE001 - a callback must never change the task's outcome
        log.exception("could not record the task failure; the run's alert will say less")


def run_failures(dag_id: str, run_id: str, run_attempt: int | None) -> list[TaskFailure]:
    """The recorded failures of one attempt of a run (the latest attempt when None), oldest first."""
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(
            f"""SELECT {', '.join(_FAILURE_COLUMNS)} FROM analytics.task_failures
               WHERE dag_id = %s AND run_id = %s
                 AND run_attempt = COALESCE(%s, (SELECT max(run_attempt) FROM analytics.task_failures
                                                 WHERE dag_id = %s AND run_id = %s))
               ORDER BY failed_at, task_id, map_index""",
            (dag_id, run_id, run_attempt, dag_id, run_id),
        )
        return [TaskFailure(*row) for row in cur.fetchall()]


# --- The run's one message ---------------------------------------------------------------------

def alert_run_failed(context) -> None:
    """DAG ``on_failure_callback``: ONE Slack message for the failed run. Never raises."""
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
    note = circuit_breaker_note(context, dag_id)
    try:
        schema.migrate()
        # Read once, no waiting: a task whose own record is not there yet is listed from the context.
        failures = run_failures(dag_id, run_id, attempt)
    except Exception:  # noqa: BLE001 - analytics PostgreSQL down: say so, throttled, rather than nothing
        log.exception("could not read the recorded failures; sending the alert without them")
        text = run_failed_message(dag_id, run_id, run_url, business_date, reason, [])
        text += "\n• (analytics PostgreSQL unreachable: failed tasks not listed)" + note
        send_unclaimed(dag_id, text, always=bool(note))
        return
    last_ti = context.get("ti")
    # Airflow 2.x passes the run's last task instance whatever its state: only a failed one counts.
    if last_ti is not None and getattr(last_ti, "state", "failed") in ("failed", None) and not any(
        (f.task_id, f.map_index) == (last_ti.task_id, getattr(last_ti, "map_index", -1)) for f in failures
    ):
        try:  # the task that failed the run left no record (marked failed by hand, worker lost): list it anyway
            failures.append(failure_from_context(context))
        except Exception:  # noqa: BLE001
            log.exception("could not describe the task that failed the run")
    if attempt is None:
        attempt = failures[0].run_attempt if failures else 0
    business_date = business_date or next((f.business_date for f in failures if f.business_date), None)
    text = run_failed_message(dag_id, run_id, run_url, business_date, reason, failures) + note
    try:
        send_once(dag_id, "run_failed", f"{run_id}#{attempt}", text, business_date=business_date, run_id=run_id)
    except Exception:  # noqa: BLE001
        log.exception("could not claim the run's alert; sending it without deduplication")
        send_unclaimed(dag_id, text, always=bool(note))


def circuit_breaker_note(context, dag_id: str) -> str:
    """The line saying this failure paused the DAG (``max_consecutive_failed_dag_runs``, applied
    before this callback)."""
    try:
        limit = int(getattr(context["dag"], "max_consecutive_failed_dag_runs", 0) or 0)
        if limit > 0 and run_context.failed_runs_in_a_row(context, limit) >= limit:
            return paused_message(dag_id, limit)
    except Exception:  # noqa: BLE001 - the alert goes out without the note rather than not at all
        log.exception("could not count the DAG's failed runs in a row")
    return ""
