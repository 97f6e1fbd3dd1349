"""The one Slack message of a job that failed for good (never any phone number).

A job that failed for a retryable reason with retries left is not alerted: the automatic retry
takes it. The alert goes out once, when the job is final: a permanent failure (bad input), or a
retryable one with every retry used.
"""

from __future__ import annotations

from types import SimpleNamespace

from callcentre.common import compat
from callcentre.common.slack import MAX_ERROR_CHARS, scrub_numbers, send_slack

__all__ = ["alert_if_final", "alert_job_ended", "is_final", "job_alert_text", "run_url", "scrub_numbers"]


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
            f"• retry: {_retry_note(job)}",
            f"• error: {error}",
            f"• run: {run_url(job['dag_id'], job['airflow_run_id'])}",
        ]
    )


def alert_job_ended(job: dict) -> bool:
    """Post the alert; never raises (Slack being down must not change the job's outcome)."""
    return send_slack(job_alert_text(job))


def is_final(job: dict) -> bool:
    """A failed/timeout job that nothing will retry automatically."""
    return job.get("failure_kind") == "permanent" or int(job["retry_count"]) >= int(job["max_retries"])


def alert_if_final(repo, job: dict) -> bool:
    """The job's one alert, once it is final; the first caller to claim it sends it."""
    if job["status"] not in ("failed", "timeout") or not is_final(job):
        return False
    return repo.mark_alerted(job["id"]) and alert_job_ended(job)


def _retry_note(job: dict) -> str:
    if job.get("failure_kind") == "permanent":
        return "not retried automatically (the upload or its settings must change)"
    return f"out of retries ({job['retry_count']}/{job['max_retries']})"
