"""Job-level actions: retry failed/timed-out jobs, mark stuck jobs as timeout (docs/scraping.md), for
the jobs page, the reconcile DAG's automatic retry and the operators' report (``scripts/scraping_report.py``).

Each action is a conditional UPDATE of the job row first (so two people, or a person and the
automatic retry, cannot both win), then one REST call to Airflow; if Airflow refuses, the row is put
back as it was. Messages never carry file contents or phone numbers.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timezone

from callcentre.common.language import message_language
from callcentre.common.slack import scrub_numbers
from callcentre.scraping.jobs import ACTIVE, STATUSES, JobFilter, JobRepository, repository
from callcentre.scraping.notify import alert_if_final, outbox, send, tell_if_ended
from callcentre.scraping.upload import AirflowRestClient, TriggerError

log = logging.getLogger(__name__)

AUTOMATIC = "the automatic retry"
REFUSED = "retry refused by Airflow (see the retry's log); before: "


@dataclasses.dataclass(frozen=True)
class JobAction:
    job_id: int
    outcome: str  # "retried" | "timed_out" | "skipped" | "error"
    message: str  # human readable, no phone numbers


def retry_jobs(
    job_ids: Iterable[int], *, actor: str, airflow: AirflowRestClient, repo: JobRepository | None = None
) -> list[JobAction]:
    """Re-run each failed/timeout job through Airflow (clear the run's unfinished tasks)."""
    return _each(_retry_one, job_ids, actor, airflow, repo)


def mark_jobs_timeout(
    job_ids: Iterable[int], *, actor: str, airflow: AirflowRestClient, repo: JobRepository | None = None
) -> list[JobAction]:
    """End each active job ``timeout`` and stop its Airflow run."""
    return _each(_timeout_one, job_ids, actor, airflow, repo)


def _each(action, job_ids: Iterable[int], actor: str, airflow: AirflowRestClient, repo) -> list[JobAction]:
    repo = repository(repo)
    actor = scrub_numbers((actor or "someone").strip()[:100]) or "someone"
    actions = []
    for job_id in dict.fromkeys(int(j) for j in job_ids):
        before = repo.get(job_id)
        if before is None:
            actions.append(JobAction(job_id, "skipped", _say("missing", {"id": job_id})))
        else:
            actions.append(action(before, actor, airflow, repo))
    return actions


def retry_failed_jobs(
    *, airflow: AirflowRestClient | Callable[[], AirflowRestClient] | None, repo: JobRepository | None = None,
    filters: JobFilter = JobFilter(), dry_run: bool = False, actor: str = AUTOMATIC,
) -> list[JobAction]:
    """Retry every failed/timeout job whose failure is retryable and that has retries left, then send
    what is owed (alerts of final jobs never alerted, messages an outage held back).

    ``airflow`` may be a factory, called only when there is something to retry (no credentials are
    needed on a quiet day).
    """
    repo = repository(repo)
    candidates = repo.retry_candidates(filters)
    if dry_run:
        return [JobAction(j["id"], "skipped", _say("dry_retry", j, n=j["retry_count"] + 1)) for j in candidates]
    actions = []
    if candidates:
        try:
            client = airflow() if callable(airflow) else airflow
        except TriggerError as err:
            log.error("automatic retry impossible: %s", err)
            actions = [JobAction(j["id"], "error", _say("no_api", j)) for j in candidates]
        else:
            actions = retry_jobs([j["id"] for j in candidates], actor=actor, airflow=client, repo=repo)
    alerted = sum(alert_if_final(repo, job) for job in repo.final_not_alerted())
    sent_late = outbox(repo.conn_id).deliver_pending(send)  # what an outage of Slack or SMTP held back
    log.info("automatic retry: %d job(s) retried, %d not, %d final job(s) alerted, %d held-back message(s) sent",
             sum(a.outcome == "retried" for a in actions), sum(a.outcome != "retried" for a in actions), alerted,
             sent_late)
    return actions


def _retry_one(before: dict, actor: str, airflow: AirflowRestClient, repo: JobRepository) -> JobAction:
    job_id = before["id"]
    # The job turns failed in the first failing task's callback, while the run is still running
    # (its other batches not failed yet): a clear then would re-run only part of it.
    if before["status"] in ("failed", "timeout"):
        try:
            state = airflow.run_state(before["dag_id"], before["airflow_run_id"])
        except TriggerError:
            state = None  # decided by the clear below, which reports a refusal
        if state in ("queued", "running"):
            return JobAction(job_id, "skipped", _say("finishing", before, state=state))
    reopened = repo.reopen_for_retry(job_id, actor)
    if reopened is None:
        now = repo.get(job_id) or before
        why = "spent" if now["status"] in ("failed", "timeout") else "running" if now["status"] in ACTIVE else "nothing"
        return JobAction(job_id, "skipped", _say(why, now))
    try:
        cleared = airflow.clear_unfinished_tasks(reopened["dag_id"], reopened["airflow_run_id"])
    except TriggerError as err:
        previous = (before["last_error"] or "?").removeprefix(REFUSED)  # one prefix, however many refusals
        repo.undo_reopen(before, REFUSED + previous)
        log.warning("job %s: retry refused by Airflow (%s)", job_id, scrub_numbers(str(err)))
        return JobAction(job_id, "error", _say("refused_retry", before))
    log.info("job %s: retry %s/%s by %s, %d task(s) cleared in run %s", job_id, reopened["retry_count"],
             reopened["max_retries"], actor, cleared, reopened["airflow_run_id"])
    return JobAction(job_id, "retried", _say("retried", reopened, n=reopened["retry_count"]))


def _timeout_one(before: dict, actor: str, airflow: AirflowRestClient, repo: JobRepository) -> JobAction:
    job_id = before["id"]
    marked = repo.mark_timeout(job_id, f"marked as timeout by {actor} (was {before['status']})")
    if marked is None:
        now = repo.get(job_id) or before
        return JobAction(job_id, "skipped", _say("not_active", now))
    try:
        state = airflow.stop_run(marked["dag_id"], marked["airflow_run_id"])
    except TriggerError as err:
        repo.undo_timeout(before, marked)
        log.warning("job %s: Airflow refused to stop its run (%s)", job_id, scrub_numbers(str(err)))
        return JobAction(job_id, "error", _say("refused_stop", before))
    log.info("job %s marked as timeout by %s; run %s is %s", job_id, actor, marked["airflow_run_id"], state)
    tell_if_ended(repo, marked)  # out of retries: its uploader hears of it (a person's timeout is not alerted)
    return JobAction(job_id, "timed_out", _say("timed_out" if state else "timed_out_run_gone", marked, state=state))


# What the actions say (jobs page, report, task log) in CALLCENTRE_LANGUAGE; a status is said in words.
_WORDS = {
    "en": {
        "missing": "job {id} does not exist",
        "dry_retry": "dry run: job {id} would be retried (retry {n} of {max_retries})",
        "no_api": "job {id} not retried: no access to Airflow's API",
        "dry_timeout": "dry run: job {id} ({state_words}) would be marked as timed out",
        "finishing": "job {id}: its Airflow run is still finishing ({state}); retry it once the run has ended",
        "refused_retry": "job {id}: Airflow refused the re-run of run {airflow_run_id}; the job is back as it was"
                         " ({state_words})",
        "retried": "job {id} runs again in Airflow (retry {n} of {max_retries})",
        "not_active": "job {id} {state_words}: only a job waiting, running or retrying can be marked as timed out",
        "refused_stop": "job {id}: Airflow refused to stop run {airflow_run_id}; the job is back as it was"
                        " ({state_words})",
        "timed_out": "job {id} marked as timed out; its Airflow run is {state}",
        "timed_out_run_gone": "job {id} marked as timed out; its Airflow run no longer exists",
        "spent": "job {id} used {retry_count} of its {max_retries} retries: not retried",
        "running": "job {id} {state_words}: it is still running, nothing to retry",
        "nothing": "job {id} {state_words}: nothing to retry",
        "states": {"pending": "is waiting to start", "processing": "is running", "retrying": "is retrying",
                   "completed": "is completed", "failed": "failed", "timeout": "timed out"},
    },
    "es": {
        "missing": "el trabajo {id} no existe",
        "dry_retry": "simulación: el trabajo {id} se reintentaría (reintento {n} de {max_retries})",
        "no_api": "el trabajo {id} no se reintentó: sin acceso a la API de Airflow",
        "dry_timeout": "simulación: el trabajo {id} ({state_words}) se marcaría como vencido",
        "finishing": "trabajo {id}: su ejecución de Airflow aún está terminando ({state}); reinténtelo cuando termine",
        "refused_retry": "trabajo {id}: Airflow rechazó volver a ejecutar {airflow_run_id}; el trabajo queda como"
                         " estaba ({state_words})",
        "retried": "el trabajo {id} se ejecuta de nuevo en Airflow (reintento {n} de {max_retries})",
        "not_active": "el trabajo {id} {state_words}: solo un trabajo en espera, en curso o reintentándose puede"
                      " marcarse como vencido",
        "refused_stop": "trabajo {id}: Airflow rechazó detener {airflow_run_id}; el trabajo queda como estaba"
                        " ({state_words})",
        "timed_out": "el trabajo {id} se marcó como vencido; su ejecución de Airflow está {state}",
        "timed_out_run_gone": "el trabajo {id} se marcó como vencido; su ejecución de Airflow ya no existe",
        "spent": "el trabajo {id} usó {retry_count} de sus {max_retries} reintentos: no se reintenta",
        "running": "el trabajo {id} {state_words}: sigue en curso, nada que reintentar",
        "nothing": "el trabajo {id} {state_words}: nada que reintentar",
        "states": {"pending": "está en espera", "processing": "está en curso", "retrying": "se está reintentando",
                   "completed": "está completado", "failed": "falló", "timeout": "venció"},
    },
}


def _say(what: str, job: dict, **extra) -> str:
    words = _WORDS[message_language()]
    status = job.get("status")
    return words[what].format(**{**job, "state_words": words["states"].get(status, status), **extra})


# The report ---------------------------------------------------------------------------------------
def build_report(
    repo: JobRepository | None = None, hours: float = 24, filters: JobFilter = JobFilter(),
    timeout_minutes: float | None = None, retry_failed: bool = False, dry_run: bool = False, airflow=None,
) -> dict:
    """The report; with ``timeout_minutes``/``retry_failed`` the actions run first (``airflow``: a REST client)."""
    repo = repository(repo)
    now = datetime.now(timezone.utc)
    actor = "scraping_report"
    actions = {}
    overdue_jobs = repo.overdue(timeout_minutes, filters)
    if timeout_minutes is not None and dry_run:
        actions["timeouts"] = [JobAction(j["id"], "skipped", _say("dry_timeout", j)) for j in overdue_jobs]
    elif timeout_minutes is not None:
        actions["timeouts"] = mark_jobs_timeout([j["id"] for j in overdue_jobs], actor=actor, airflow=airflow,
                                                repo=repo)
    if retry_failed:
        actions["retries"] = retry_failed_jobs(airflow=airflow, repo=repo, filters=filters, dry_run=dry_run,
                                               actor=actor)
    counts = repo.counts_by_status(filters)
    overdue = [
        _listed(j, minutes_running=round((now - (j["started_at"] or j["created_at"])).total_seconds() / 60, 1),
                timeout_minutes=timeout_minutes if timeout_minutes is not None else j["timeout_minutes"])
        for j in overdue_jobs
    ]
    failures = [
        _listed(j, "failure_kind", "retry_count", "max_retries", "last_error", updated_at=j["updated_at"].isoformat())
        for j in repo.recent_failures(hours, filters)
    ]
    return {
        "counts": counts, "total": sum(counts.values()), "overdue": overdue, "recent_failures": failures,
        "failures_window_hours": hours, "dry_run": dry_run,
        "actions": {k: [dataclasses.asdict(a) for a in v] for k, v in actions.items()},
    }


def _listed(job: dict, *columns: str, **computed) -> dict:
    """A job as the report lists it (names and errors scrubbed of numbers), its run id last."""
    view = {c: job[c] for c in ("id", "file_name", "uploader", "status", *columns)}
    for column in ("file_name", "uploader", "last_error"):
        if column in view:
            view[column] = scrub_numbers(view[column])
    return {**view, **computed, "airflow_run_id": job["airflow_run_id"]}


def format_report(report: dict, limit: int | None = None) -> str:
    lines = ["Scraping jobs" + (" (dry run: nothing changed)" if report["dry_run"] and report["actions"] else ""),
             "=" * 70, ""]
    number = iter(range(1, 5))  # the sections shown, in order (no retries asked: no retry section)
    _section(lines, f"{next(number)}. Jobs running past their timeout:", report["overdue"], limit, lambda j: (
        f"  ! job #{j['id']} ({j['file_name']}) by {j['uploader']}: {j['status']} for {j['minutes_running']} min "
        f"(timeout {j['timeout_minutes']:g}) run {j['airflow_run_id']}"
    ))
    if "timeouts" in report["actions"]:
        _section(lines, "   Marked as timeout:", report["actions"]["timeouts"], limit, _action_line)
    if "retries" in report["actions"]:
        _section(lines, f"{next(number)}. Retrying failed jobs:", report["actions"]["retries"], limit, _action_line)
    window = f"{report['failures_window_hours']:g} h"
    _section(lines, f"{next(number)}. Failures in the last {window}:", report["recent_failures"], limit, lambda j: (
        f"  x job #{j['id']} ({j['file_name']}) by {j['uploader']}: {j['status']} "
        f"({j['failure_kind'] or 'unknown'}) after {j['retry_count']}/{j['max_retries']} retries: {j['last_error']}"
    ))
    lines.append(f"{next(number)}. Jobs per status:")
    for status in STATUSES:
        lines.append(f"  {status:<11} {report['counts'][status]:>6}")
    lines.append(f"  {'total':<11} {report['total']:>6}")
    return "\n".join(lines)


def _action_line(action: dict) -> str:
    return f"  {'→' if action['outcome'] in ('retried', 'timed_out') else '-'} {action['outcome']}: {action['message']}"


def _section(lines: list[str], title: str, items: list[dict], limit: int | None, line_of) -> None:
    lines.append(f"{title} {len(items)}")
    shown = items if limit is None else items[:limit]
    lines += [line_of(j) for j in shown] or ["  none"]
    if len(shown) < len(items):
        lines.append(f"  … {len(items) - len(shown)} more not shown (--limit {limit}; --json lists all)")
    lines.append("")
