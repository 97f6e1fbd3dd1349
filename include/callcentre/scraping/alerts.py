"""The one Slack message of a job that ended ``failed`` or ``timeout`` (never any phone number)."""

from __future__ import annotations

import re
from types import SimpleNamespace

from callcentre.common import compat
from callcentre.common.slack import MAX_ERROR_CHARS, send_slack

# Plain digit runs (3001234567, +573001234567) and written-out numbers (300 123 4567, (601) 555-1234).
_PHONE_LIKE = re.compile(r"\+?\d{7,15}|\+?\(?\d{2,4}\)?[\s.-]\d{3,4}[\s.-]\d{3,4}")


def scrub_numbers(text: str | None) -> str:
    """Replace anything that looks like a phone number with ``[number]``."""
    return _PHONE_LIKE.sub("[number]", text or "")


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
