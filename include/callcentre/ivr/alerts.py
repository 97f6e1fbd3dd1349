"""IVR alerts people read: one Slack message per failed run, one per day not loaded by its deadline.

* Each task's ``on_failure_callback`` (:func:`record_task_failure`) posts nothing. It records a
  task instance that failed for good in ``analytics.task_failures``; a callback fired while
  retries remain (apache/airflow#65400) records nothing.
* The DAG's ``on_failure_callback`` (:func:`alert_run_failed`) runs once when the run fails (in the
  dag-processor under a scheduler, in-process under ``dag.test``) and posts ONE message: the
  business date, the failed hours and tasks, the first error and the log links.
* The watcher DAG ``ivr_deadline_watch`` calls :func:`check_deadlines` every 15 minutes: one
  message per business day whose deadline (end of the local day + ``IVR_LOAD_DEADLINE_HOURS``)
  passed within :data:`LOOKBACK` and which is neither loaded nor already reported. It replaces a
  ``DeadlineAlert``, which cannot see a day that never got a run, alerts again after the run's own
  failure alert (apache/airflow#60927), and fires for every backfilled day of history.
* On Airflow 2.x the deadline is also a native ``sla=`` on ``daily_metrics`` (:func:`sla_deadline`);
  its ``sla_miss_callback`` (:func:`sla_missed`) claims the same alert as the watcher, so a day is
  reported once, by whichever sees it first.

Every message is claimed in ``analytics.alert_log`` (unique per DAG, kind and key) in the
transaction that sends it: a callback that fires twice finds the row and stays quiet; a Slack
failure rolls the claim back, so the watcher still reports the day later. Messages carry ids,
dates, hours and redacted errors only: no phone number, no secret.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from callcentre.common import compat
from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.language import message_language
from callcentre.common.slack import scrub_numbers, send_slack, short_error

log = logging.getLogger(__name__)

IVR_DAG_ID = "ivr_calls_daily"
ALERTS_SQL = Path(__file__).with_name("sql") / "alerts.sql"
_MIGRATION_LOCK = 7_301_002
DEFAULT_DEADLINE_HOURS = "6"
# The watcher reports days whose deadline passed this recently: a backfill of older days (their
# deadline passed long ago) never alerts, and a watcher down for a day still catches up.
LOOKBACK = timedelta(days=3)
# How long the run's callback waits for the failing task's own record (written by its worker).
RECORD_WAIT_S = 15.0
MAX_LINKS = 10


def deadline_hours() -> float:
    """``IVR_LOAD_DEADLINE_HOURS`` (default 6), read when the watcher runs; 0 disables its alerts."""
    raw = os.environ.get("IVR_LOAD_DEADLINE_HOURS", DEFAULT_DEADLINE_HOURS)
    try:
        hours = float(raw)
    except ValueError:
        hours = -1.0
    if hours < 0:
        raise compat.AirflowFailException(
            f"IVR_LOAD_DEADLINE_HOURS={raw!r} is not a number of hours >= 0 (default 6; 0 disables the deadline alert)"
        )
    return hours


def migrate(conn_id: str = ANALYTICS_POSTGRES) -> None:
    """Create the alert tables if missing (idempotent, serialised by an advisory lock)."""
    from callcentre.common.pg import transaction

    with transaction(conn_id) as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        cur.execute(ALERTS_SQL.read_text())


# --- Task failures -----------------------------------------------------------------------------

def _state_name(state) -> str:
    return str(getattr(state, "value", state) or "")


def is_final_failure(context) -> bool:
    """Whether the failing task instance is done for good: no retry will follow.

    A task fails for good when its tries are used up (try_number > max_tries) or when it raised a
    terminal error (AirflowFailException: bad data, a missing connection). A callback fired for a
    task instance that is up for retry, or that still has tries left after a retryable error, is
    a spurious one (apache/airflow#65400).
    """
    ti = context["ti"]
    if _state_name(getattr(ti, "state", None)) == "up_for_retry":
        return False
    if isinstance(context.get("exception"), compat.terminal_failure_types()):
        return True
    return int(ti.try_number) > int(getattr(ti, "max_tries", 0) or 0)


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


def _business_date(context) -> date | None:
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
        log_url = compat.log_url_of(context)
    except Exception:  # noqa: BLE001 - a message without the link beats no message
        log_url = None
    return TaskFailure(
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        run_attempt=compat.run_attempt_of(dag_run) if dag_run is not None else 0,
        task_id=ti.task_id,
        map_index=-1 if map_index is None else int(map_index),
        business_date=_business_date(context) if ti.dag_id == IVR_DAG_ID else None,
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


_migrated = False


def _ensure_tables() -> None:
    global _migrated
    if not _migrated:
        migrate()
        _migrated = True


def record_task_failure(context) -> None:
    """Task ``on_failure_callback``: record a final failure for the run's one message. Never raises."""
    try:
        ti = context["ti"]
        if not is_final_failure(context):
            log.info("try %s of %s failed with tries left (apache/airflow#65400): nothing recorded",
                     ti.try_number, int(getattr(ti, "max_tries", 0) or 0) + 1)
            return
        failure = failure_from_context(context)
        _ensure_tables()
        save_failure(failure)
        log.info("recorded the final failure of %s (try %s) for the run's alert", failure.label, failure.try_number)
    except Exception:  # noqa: BLE001 - a callback must never change the task's outcome
        log.exception("could not record the task failure; the run's alert will say less")


# --- The run's one message -----------------------------------------------------------------------

# The messages' words in CALLCENTRE_LANGUAGE (callcentre.common.language); codes, ids, commands and
# error texts stay as they are.
_WORDS = {
    "en": {
        "run_failed": ":red_circle: `{dag_id}` run failed", "business_date": " — business date {day}",
        "run": "run", "reason": "reason",
        "no_failure": "no task failure was recorded (a worker killed before its callback, or the run's timeout): open the run",
        "failed": "failed", "first_error": "first error ({label}, try {try_number})", "logs": "logs",
        "no_link": "(no link)", "more": "… and {n} more in the run's grid",
        "hour": "hour", "hours": "hours", "map_index": "map index",
        "unclaimed": "while analytics PostgreSQL is unreachable, at most one such message an hour for `{dag_id}`",
        "paused": (":double_vertical_bar: Airflow has PAUSED `{dag_id}`: its last {n} runs failed"
                   " (max_consecutive_failed_dag_runs), so no new run starts. Fix the cause, then unpause it:"
                   " {url} (the pause toggle) or `airflow dags unpause {dag_id}`"),
        "late": ":alarm_clock: IVR business day {day} not loaded by its deadline{seen_by}",
        "deadline": "deadline: {due} {zone} (end of the day + {hours} h, IVR_LOAD_DEADLINE_HOURS)",
        "no_row": "analytics.daily_metrics has no row for {day}, and no failed run of `{dag_id}` was reported for it",
        "runs": "runs", "no_run": "if the day has no run", "sla": " (Airflow SLA miss)",
    },
    "es": {
        "run_failed": ":red_circle: falló la ejecución de `{dag_id}`", "business_date": " — día de negocio {day}",
        "run": "ejecución", "reason": "motivo",
        "no_failure": ("no se registró ningún fallo de tarea (un worker terminado antes de su callback, o el "
                       "tiempo límite de la ejecución): abra la ejecución"),
        "failed": "fallidas", "first_error": "primer error ({label}, intento {try_number})", "logs": "logs",
        "no_link": "(sin enlace)", "more": "… y {n} más en la cuadrícula de la ejecución",
        "hour": "hora", "hours": "horas", "map_index": "índice",
        "unclaimed": "mientras PostgreSQL de analítica no responda, como mucho un mensaje así por hora para `{dag_id}`",
        "paused": (":double_vertical_bar: Airflow PAUSÓ `{dag_id}`: sus últimas {n} ejecuciones fallaron"
                   " (max_consecutive_failed_dag_runs), así que no empieza ninguna nueva. Corrija la causa y"
                   " reanúdelo: {url} (el interruptor de pausa) o `airflow dags unpause {dag_id}`"),
        "late": ":alarm_clock: el día de negocio {day} del IVR no se cargó a tiempo{seen_by}",
        "deadline": "plazo: {due} {zone} (fin del día + {hours} h, IVR_LOAD_DEADLINE_HOURS)",
        "no_row": "analytics.daily_metrics no tiene fila para {day}, y no se informó ninguna ejecución fallida de `{dag_id}`",
        "runs": "ejecuciones", "no_run": "si el día no tiene ejecución", "sla": " (SLA de Airflow incumplido)",
    },
}


def _words(lang: str | None = None) -> dict:
    return _WORDS[lang or message_language()]


def _failed_list(failures: list[TaskFailure], words: dict | None = None) -> str:
    """``load_hour: hours 03, 04, 13; reconcile``, in first-failure order."""
    words = words or _WORDS["en"]
    by_task: dict[str, list[TaskFailure]] = {}
    for failure in failures:
        by_task.setdefault(failure.task_id, []).append(failure)
    parts = []
    for task_id, items in by_task.items():
        hours = sorted(f.local_hour for f in items if f.local_hour is not None)
        if hours:
            parts.append(f"{task_id}: {words['hours' if len(hours) > 1 else 'hour']} "
                         f"{', '.join(f'{h:02d}' for h in hours)}")
        elif any(f.map_index >= 0 for f in items):
            parts.append(f"{task_id}: {words['map_index']} {', '.join(str(f.map_index) for f in items)}")
        else:
            parts.append(task_id)
    return "; ".join(parts)


def run_failed_message(dag_id: str, run_id: str, run_url: str | None, business_date: date | None,
                       reason: str | None, failures: list[TaskFailure], lang: str | None = None) -> str:
    w = _words(lang)
    title = w["run_failed"].format(dag_id=dag_id)
    if business_date is not None:
        title += w["business_date"].format(day=business_date)
    lines = [title, f"• {w['run']}: `{run_id}`" + (f" {run_url}" if run_url else "")]
    if reason:
        lines.append(f"• {w['reason']}: {reason}")
    if not failures:
        lines.append(f"• {w['no_failure']}")
        return "\n".join(lines)
    first = failures[0]
    lines += [
        f"• {w['failed']} ({len(failures)}): {_failed_list(failures, w)}",
        f"• {w['first_error'].format(label=first.label, try_number=first.try_number)}: {first.error}",
        f"• {w['logs']}:",
    ]
    lines += [f"    {f.label}: {f.log_url or w['no_link']}" for f in failures[:MAX_LINKS]]
    if len(failures) > MAX_LINKS:
        lines.append(f"    {w['more'].format(n=len(failures) - MAX_LINKS)}")
    return "\n".join(lines)


def _wait_for_record(dag_id: str, run_id: str, attempt: int | None, last_ti) -> list[TaskFailure]:
    """The run's recorded failures; waits briefly for the failing task's own record, which its
    worker writes after reporting the failure (so possibly after the scheduler saw the run fail)."""
    give_up = time.monotonic() + RECORD_WAIT_S
    while True:
        failures = run_failures(dag_id, run_id, attempt)
        if last_ti is None or time.monotonic() > give_up or any(
            (f.task_id, f.map_index) == (last_ti.task_id, getattr(last_ti, "map_index", -1)) for f in failures
        ):
            return failures
        time.sleep(0.5)


class _NotDelivered(Exception):
    """Slack did not take the message: roll the claim back."""


def send_once(dag_id: str, kind: str, key: str, text: str, *, business_date: date | None = None,
              run_id: str | None = None, conn_id: str = ANALYTICS_POSTGRES) -> bool:
    """Post ``text`` unless an alert of this kind and key was already sent; True if posted now.

    The claim row and the post share one transaction: a concurrent second call waits on the
    unique key and then finds it; an undelivered post rolls the claim back.
    """
    from callcentre.common.pg import transaction

    try:
        with transaction(conn_id) as cur:
            cur.execute(
                """INSERT INTO analytics.alert_log (dag_id, kind, alert_key, business_date, run_id, message)
                   VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT ON CONSTRAINT alert_log_once DO NOTHING
                   RETURNING alert_id""",
                (dag_id, kind, key, business_date, run_id, text),
            )
            if cur.fetchone() is None:
                log.info("%s alert %s of %s already sent: not sent again", kind, key, dag_id)
                return False
            if not send_slack(text):
                raise _NotDelivered
    except _NotDelivered:
        log.warning("%s alert %s of %s not delivered: claim rolled back", kind, key, dag_id)
        return False
    log.info("%s alert %s of %s sent", kind, key, dag_id)
    return True


def alert_run_failed(context) -> None:
    """DAG ``on_failure_callback``: ONE Slack message for the failed run. Never raises.

    The dag-processor gives it ``dag``, ``run_id`` and ``reason``, plus the task context of the
    task instance that failed the run (``dag_run``, ``ti``, ...) when there is one.
    """
    try:
        dag_id = context["dag"].dag_id
        run_id = context["run_id"]
        dag_run = context.get("dag_run")
        attempt = compat.run_attempt_of(dag_run) if dag_run is not None else None
        run_url = compat.dag_run_url(dag_id, run_id)
        reason = context.get("reason")
    except Exception:  # noqa: BLE001
        log.exception("the run's failure callback got an unexpected context; nothing sent")
        return
    business_date = _business_date(context) if dag_id == IVR_DAG_ID and dag_run is not None else None
    try:
        _ensure_tables()
        failures = _wait_for_record(dag_id, run_id, attempt, context.get("ti"))
    except Exception:  # noqa: BLE001 - analytics PostgreSQL down: say so, throttled, rather than nothing
        log.exception("could not read the recorded failures; sending the alert without them")
        text = run_failed_message(dag_id, run_id, run_url, business_date, reason, [])
        note = circuit_breaker_note(context, dag_id)
        text += "\n• (analytics PostgreSQL unreachable: failed tasks not listed)" + note
        send_unclaimed(dag_id, text, always=bool(note))
        return
    last_ti = context.get("ti")
    if last_ti is not None and not any(
        (f.task_id, f.map_index) == (last_ti.task_id, getattr(last_ti, "map_index", -1)) for f in failures
    ):
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


# --- Alerts analytics.alert_log cannot claim ---------------------------------------------------

# An Airflow Variable (the metadata DB answers whenever a callback runs): {dag_id: when the last
# unclaimed alert of that DAG went out}. Emptied by the watcher once analytics PostgreSQL answers.
UNCLAIMED_VARIABLE = "ivr_alerts_unclaimed_sent"
UNCLAIMED_REPEAT = timedelta(hours=1)


def _unclaimed_sent() -> dict:
    try:
        return json.loads(compat.read_variable(UNCLAIMED_VARIABLE, None) or "{}")
    except Exception:  # noqa: BLE001 - unreadable: the alert goes out rather than not at all
        log.exception("could not read Variable %s", UNCLAIMED_VARIABLE)
        return {}


def send_unclaimed(dag_id: str, text: str, now: datetime | None = None, *, always: bool = False) -> bool:
    """Post an alert that cannot be claimed in ``analytics.alert_log`` (analytics PostgreSQL down):
    at most one per DAG per :data:`UNCLAIMED_REPEAT` while the outage lasts (the watcher fails
    every 15 minutes then), unless ``always`` (it says the DAG paused itself: news, not a repeat);
    True if posted now."""
    now = now or datetime.now(timezone.utc)
    sent = _unclaimed_sent()
    last = sent.get(dag_id)
    if last and not always and now - datetime.fromisoformat(last) < UNCLAIMED_REPEAT:
        log.warning("analytics PostgreSQL unreachable; an alert of %s went out at %s: this one is not sent", dag_id, last)
        return False
    repeat = "\n• " + _words()["unclaimed"].format(dag_id=dag_id)
    if not send_slack(text + repeat):
        return False
    try:
        compat.set_variable(UNCLAIMED_VARIABLE, json.dumps({**sent, dag_id: now.isoformat()}))
    except Exception:  # noqa: BLE001
        log.exception("could not remember the unclaimed alert in Variable %s", UNCLAIMED_VARIABLE)
    return True


def end_unclaimed_outage() -> None:
    """Analytics PostgreSQL answers again: the next outage alerts at once."""
    if _unclaimed_sent():
        compat.delete_variable(UNCLAIMED_VARIABLE)


def paused_message(dag_id: str, failed_in_a_row: int, lang: str | None = None) -> str:
    return "\n• " + _words(lang)["paused"].format(dag_id=dag_id, n=failed_in_a_row, url=compat.ui_url(f"dags/{dag_id}"))


def circuit_breaker_note(context, dag_id: str) -> str:
    """The line that tells the operator this failure paused the DAG (Airflow's circuit breaker
    pauses it after ``max_consecutive_failed_dag_runs`` failed runs, before this callback runs)."""
    try:
        limit = int(getattr(context["dag"], "max_consecutive_failed_dag_runs", 0) or 0)
        if limit > 0 and compat.failed_runs_in_a_row(context, limit) >= limit:
            return paused_message(dag_id, limit)
    except Exception:  # noqa: BLE001 - the alert goes out without the note rather than not at all
        log.exception("could not count the DAG's failed runs in a row")
    return ""


# --- The deadline watcher ------------------------------------------------------------------------

def close_abandoned_attempts(conn_id: str = ANALYTICS_POSTGRES) -> list[str]:
    """Close the ledger rows of attempts killed on their last try (see ledger.close_stale)."""
    from callcentre.common.pg import postgres_conn
    from callcentre.ivr import ledger
    from callcentre.ivr.load import partition_lock_key

    conn = postgres_conn(conn_id)
    try:
        closed = ledger.close_stale(conn, partition_lock_key)
    finally:
        conn.close()
    if closed:
        log.warning("closed the ledger rows of abandoned attempts at %s", closed)
    return [f"{dag_id} {day} hour {hour:02d}" for dag_id, day, hour in closed]


def deadline_of(day: date, tz: ZoneInfo, hours: float) -> datetime:
    """When ``day`` must be loaded: ``hours`` elapsed hours after the end of the local day."""
    from callcentre.ivr.business_day import day_end

    return day_end(day, tz).astimezone(timezone.utc) + timedelta(hours=hours)


def days_due(now: datetime, tz: ZoneInfo, hours: float, lookback: timedelta = LOOKBACK) -> list[date]:
    """Business days whose deadline passed in ``(now - lookback, now]``, oldest first."""
    today = now.astimezone(tz).date()
    span = lookback.days + int(hours // 24) + 3
    candidates = [today - timedelta(days=offset) for offset in range(span, -1, -1)]
    return [day for day in candidates if now - lookback < deadline_of(day, tz, hours) <= now]


def deadline_message(day: date, due: datetime, tz: ZoneInfo, hours: float, dag_id: str = IVR_DAG_ID,
                     seen_by: str = "", lang: str | None = None) -> str:
    w = _words(lang)
    local_due = due.astimezone(tz)
    return "\n".join([
        w["late"].format(day=day, seen_by=seen_by),
        "• " + w["deadline"].format(due=f"{local_due:%Y-%m-%d %H:%M}", zone=tz.key, hours=f"{hours:g}"),
        "• " + w["no_row"].format(day=day, dag_id=dag_id),
        f"• {w['runs']}: {compat.dag_runs_url(dag_id)}",
        f"• {w['no_run']}: `{compat.backfill_command(dag_id, *[_typed(day, tz)] * 2)}`",
    ])


def _typed(day: date, tz: ZoneInfo) -> str:
    """``day`` as the CLI must be given it to name that IVR day (a bare date, or its UTC
    midnight where the CLI's zone is 24 hours from the IVR's)."""
    from callcentre.ivr.business_day import parse_timezone, typed_day_example

    try:
        return typed_day_example(day, tz, parse_timezone(compat.default_timezone_name()))
    except ValueError:
        return day.isoformat()


def _loaded_and_reported(days: list[date], dag_id: str, conn_id: str) -> tuple[set[date], set[date]]:
    from callcentre.common.pg import transaction

    with transaction(conn_id) as cur:
        cur.execute("SELECT to_regclass('analytics.daily_metrics') IS NOT NULL")
        loaded: set[date] = set()
        if cur.fetchone()[0]:
            cur.execute("SELECT metric_date FROM analytics.daily_metrics WHERE metric_date = ANY(%s)", (days,))
            loaded = {row[0] for row in cur.fetchall()}
        cur.execute(
            "SELECT DISTINCT business_date FROM analytics.alert_log WHERE dag_id = %s AND business_date = ANY(%s)",
            (dag_id, days),
        )
        return loaded, {row[0] for row in cur.fetchall()}


def check_deadlines(now: datetime | None = None, dag_id: str = IVR_DAG_ID, conn_id: str = ANALYTICS_POSTGRES) -> dict:
    """The watcher's task: one alert per day past its deadline, neither loaded nor reported."""
    hours = deadline_hours()
    if hours == 0:
        log.info("IVR_LOAD_DEADLINE_HOURS=0: deadline alerts are disabled")
        return {"disabled": True}
    from callcentre.ivr.runtime import timezone_name  # IVR_TIMEZONE, the one source of the zone

    tz = ZoneInfo(timezone_name())
    now = now or datetime.now(timezone.utc)
    due = days_due(now, tz, hours)
    migrate(conn_id)
    end_unclaimed_outage()
    closed = close_abandoned_attempts(conn_id)
    loaded, reported = _loaded_and_reported(due, dag_id, conn_id)
    alerted = [
        day for day in due
        if day not in loaded and day not in reported
        and send_once(dag_id, "deadline_missed", day.isoformat(), deadline_message(day, deadline_of(day, tz, hours), tz, hours, dag_id),
                      business_date=day, conn_id=conn_id)
    ]
    summary = {"days_due": [str(d) for d in due], "closed_attempts": closed, "loaded": sorted(str(d) for d in loaded),
               "reported": sorted(str(d) for d in reported), "alerted": [str(d) for d in alerted]}
    log.info("deadline check at %s (%s, %g h after the day): %s", now.isoformat(), tz.key, hours, summary)
    return summary


# --- Airflow 2.x: the deadline as a native SLA ---------------------------------------------------

def sla_deadline() -> timedelta | None:
    """``sla=`` of ``daily_metrics`` on Airflow 2.x, read when the DAG file is parsed: 2.x measures
    an SLA from the run's logical date (the start of the IVR day), so one day + the deadline hours
    (an hour early or late on a DST day). None when ``IVR_LOAD_DEADLINE_HOURS`` is 0."""
    hours = deadline_hours()
    return timedelta(hours=24 + hours) if hours else None


def sla_missed(dag, task_list, blocking_task_list, slas, blocking_tis) -> None:
    """Airflow 2.x ``sla_miss_callback`` (run by the DAG processor): one message per business day
    whose SLA was missed and which is neither loaded nor already reported, claimed like the
    watcher's (same kind and key). Never raises: Airflow would only log it."""
    try:
        from callcentre.ivr.runtime import timezone_name

        tz = ZoneInfo(timezone_name())
        hours = deadline_hours()
        # The SLA miss's execution_date is the run's logical date: the IVR midnight starting the day.
        days = sorted({miss.execution_date.astimezone(tz).date() for miss in slas})
        migrate()
        loaded, reported = _loaded_and_reported(days, dag.dag_id, ANALYTICS_POSTGRES)
        for day in days:
            if day in loaded or day in reported:
                log.info("SLA miss of %s: already loaded or reported, nothing sent", day)
                continue
            text = deadline_message(day, deadline_of(day, tz, hours), tz, hours, dag.dag_id,
                                    seen_by=_words()["sla"])
            send_once(dag.dag_id, "deadline_missed", day.isoformat(), text, business_date=day)
    except Exception:  # noqa: BLE001 - the watcher still reports the day
        log.exception("the SLA miss callback failed; ivr_deadline_watch will report the day")
