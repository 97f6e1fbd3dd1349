"""The one Slack message of a job that ended ``failed`` or ``timeout`` (never any phone number)."""

from __future__ import annotations

from types import SimpleNamespace

from callcentre.common import compat
from callcentre.common.slack import MAX_ERROR_CHARS, scrub_numbers, send_slack

__all__ = ["alert_job_ended", "job_alert_text", "run_url", "scrub_numbers"]


def run_url(dag_id: str, run_id: str) -> str:
    return compat.run_url_of({"dag_run": SimpleNamespace(dag_id=dag_id, run_id=run_id)})


def job_alert_text(job: dict) -> str:
    icon = ":hourglass:" if job["status"] == "timeout" else ":red_circle:"
    error = scrub_numbers(job.get("last_error")) or "(no error recorded)"
    if len(error) > MAX_ERROR_CHARS:
        error = error[: MAX_ERROR_CHARS - 1] + "…"
    return "\n".join(
        [
            f"{icon} Scraping job #{job['id']} ended `{job['status']}`",
            f"• file: {scrub_numbers(job['file_name'])}",
            f"• uploader: {scrub_numbers(job['uploader'])}",
            f"• status: {job['status']} (retries used: {job['retry_count']}/{job['max_retries']})",
            f"• error: {error}",
            f"• run: {run_url(job['dag_id'], job['airflow_run_id'])}",
        ]
    )


def alert_job_ended(job: dict) -> bool:
    """Post the alert; never raises (Slack being down must not change the job's outcome)."""
    return send_slack(job_alert_text(job))
