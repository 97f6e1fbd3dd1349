"""The operators' overview of the job table (replaces ``manage.py check_scraping_jobs``). Read-only."""

from __future__ import annotations

from datetime import datetime, timezone

from callcentre.scraping.alerts import scrub_numbers
from callcentre.scraping.jobs import STATUSES, JobRepository


def build_report(repo: JobRepository | None = None, hours: float = 24, now: datetime | None = None) -> dict:
    repo = repo or JobRepository()
    repo.migrate()
    now = now or datetime.now(timezone.utc)
    counts = repo.counts_by_status()
    overdue = [
        {
            "id": j["id"],
            "file_name": j["file_name"],
            "uploader": j["uploader"],
            "status": j["status"],
            "minutes_running": round((now - (j["started_at"] or j["created_at"])).total_seconds() / 60, 1),
            "timeout_minutes": j["timeout_minutes"],
            "airflow_run_id": j["airflow_run_id"],
        }
        for j in repo.overdue()
    ]
    failures = [
        {
            "id": j["id"],
            "file_name": j["file_name"],
            "uploader": j["uploader"],
            "status": j["status"],
            "retry_count": j["retry_count"],
            "max_retries": j["max_retries"],
            "last_error": scrub_numbers(j["last_error"]),
            "updated_at": j["updated_at"].isoformat(),
            "airflow_run_id": j["airflow_run_id"],
        }
        for j in repo.recent_failures(hours)
    ]
    return {"counts": counts, "total": sum(counts.values()), "overdue": overdue, "recent_failures": failures,
            "failures_window_hours": hours}


def format_report(report: dict) -> str:
    lines = ["Scraping jobs", "=" * 70, ""]
    _section(lines, "1. Jobs running past their timeout:", report["overdue"], lambda j: (
        f"  ! job #{j['id']} ({j['file_name']}) by {j['uploader']}: {j['status']} for {j['minutes_running']} min "
        f"(timeout {j['timeout_minutes']:g}) run {j['airflow_run_id']}"
    ))
    _section(lines, f"2. Failures in the last {report['failures_window_hours']:g} h:", report["recent_failures"], lambda j: (
        f"  x job #{j['id']} ({j['file_name']}) by {j['uploader']}: {j['status']} after "
        f"{j['retry_count']}/{j['max_retries']} retries: {j['last_error']}"
    ))
    lines.append("3. Jobs per status:")
    for status in STATUSES:
        lines.append(f"  {status:<11} {report['counts'][status]:>6}")
    lines.append(f"  {'total':<11} {report['total']:>6}")
    return "\n".join(lines)


def _section(lines: list[str], title: str, jobs: list[dict], line_of) -> None:
    lines.append(title)
    lines += [line_of(j) for j in jobs] or ["  none"]
    lines.append("")
