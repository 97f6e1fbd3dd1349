"""Bring the job table in line with Airflow when callbacks were lost (docs/scraping.md, "Reconcile DAG").

Callbacks are best-effort: a worker killed by SIGKILL/OOM runs no ``on_failure_callback`` and a
dagrun timeout runs no task callback. Each ``failed``/``timeout`` transition is the callbacks' own
conditional UPDATE, so a late callback and the reconciler never both make it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timezone

from callcentre.common.slack import send_slack, task_failure_message
from callcentre.scraping.jobs import repository
from callcentre.scraping.notify import alert_if_final, tell_if_ended

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Decision:
    job_id: int
    action: str  # completed | failed | timeout | none
    reason: str


def decide(job: dict, run_state: str | None, now: datetime, results_exist: bool) -> Decision:
    overdue = job["deadline"] is not None and now > job["deadline"]
    minutes = f"{job['timeout_minutes']:g}"
    if run_state == "success" and results_exist:
        action, reason = "completed", "run succeeded; completion callback lost"
    elif run_state == "success":
        action, reason = "failed", "run succeeded but wrote no results file"
    elif run_state == "failed" and overdue:
        action, reason = "timeout", f"run failed after passing its {minutes}-minute timeout"
    elif run_state == "failed":
        action, reason = "failed", "Airflow run failed and no failure callback ran (worker lost?)"
    elif not overdue:
        action, reason = "none", ""
    elif run_state is None:
        action, reason = "failed", "its Airflow run no longer exists"
    else:
        action, reason = "timeout", f"still {run_state} after its {minutes}-minute timeout"
    return Decision(job["id"], action, reason)


def reconcile(run_state_of: Callable[[str, str], str | None]) -> list[Decision]:
    """Apply :func:`decide` to every active job; return what was done (for the task log)."""
    from callcentre.common import storage

    repo = repository()
    now = datetime.now(timezone.utc)
    decisions = []
    for job in repo.active():
        try:
            state = run_state_of(job["dag_id"], job["airflow_run_id"])
        except Exception:  # noqa: BLE001 - one unreadable run must not stop the others
            log.exception("job #%s: state of run %s unreadable; left as it is", job["id"], job["airflow_run_id"])
            continue
        results_file = storage.as_storage(job["results_file"]) if job["results_file"] else None
        decision = decide(job, state, now, bool(results_file and results_file.exists()))
        if decision.action == "completed":
            tell_if_ended(repo, repo.mark_completed(job["id"], job["processed_numbers"], job["results_file"]))
        elif decision.action in ("failed", "timeout"):
            kind = "permanent" if state is None else "retryable"  # a deleted run cannot be re-run
            ended = repo.mark_ended(job["dag_id"], job["airflow_run_id"], decision.action,
                                    f"reconcile: {decision.reason}", kind)
            if ended:
                alert_if_final(repo, ended)
                tell_if_ended(repo, ended)
        if decision.action != "none":
            log.info("job #%s: run %s -> %s (%s)", job["id"], state, decision.action, decision.reason)
        decisions.append(decision)
    return decisions


def on_reconcile_failure(context) -> None:
    """The reconciler itself failed: say so in Slack (jobs may now stay stale). Never raises."""
    try:
        send_slack(task_failure_message(context))
    except Exception:  # noqa: BLE001
        log.exception("could not build the reconcile failure alert")
