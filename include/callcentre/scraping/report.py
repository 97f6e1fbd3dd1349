"""The operators' overview of the job table (``scripts/scraping_report.py``).

Read-only unless asked: ``timeout_minutes`` and ``retry_failed`` run the jobs page's actions first,
each skipped by ``dry_run``. No list is cut silently (``limit`` says how many were left out).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from callcentre.scraping.alerts import scrub_numbers
from callcentre.scraping.jobs import STATUSES, JobFilter, JobRepository, repository


def build_report(
    repo: JobRepository | None = None, hours: float = 24, filters: JobFilter | None = None,
    timeout_minutes: float | None = None, retry_failed: bool = False, dry_run: bool = False, airflow=None,
) -> dict:
    """The report; with ``timeout_minutes``/``retry_failed`` the actions run first (``airflow``: a REST client)."""
    from callcentre.scraping import retry

    repo = repository(repo)
    now = datetime.now(timezone.utc)
    actor = "scraping_report"
    filters = filters or JobFilter()
    actions = {}
    overdue_jobs = repo.overdue(timeout_minutes, filters)
    if timeout_minutes is not None:
        actions["timeouts"] = retry.mark_overdue_jobs_timeout(
            overdue_jobs, airflow=airflow, actor=actor, repo=repo, dry_run=dry_run)
    if retry_failed:
        actions["retries"] = retry.retry_failed_jobs(
            airflow=airflow, repo=repo, filters=filters, dry_run=dry_run, actor=actor)
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
    _section(lines, "1. Jobs running past their timeout:", report["overdue"], limit, lambda j: (
        f"  ! job #{j['id']} ({j['file_name']}) by {j['uploader']}: {j['status']} for {j['minutes_running']} min "
        f"(timeout {j['timeout_minutes']:g}) run {j['airflow_run_id']}"
    ))
    if "timeouts" in report["actions"]:
        _section(lines, "   Marked as timeout:", report["actions"]["timeouts"], limit, _action_line)
    if "retries" in report["actions"]:
        _section(lines, "2. Retrying failed jobs:", report["actions"]["retries"], limit, _action_line)
    _section(lines, f"3. Failures in the last {report['failures_window_hours']:g} h:", report["recent_failures"], limit,
             lambda j: (
                 f"  x job #{j['id']} ({j['file_name']}) by {j['uploader']}: {j['status']} "
                 f"({j['failure_kind'] or 'unknown'}) after {j['retry_count']}/{j['max_retries']} retries: "
                 f"{j['last_error']}"
             ))
    lines.append("4. Jobs per status:")
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
