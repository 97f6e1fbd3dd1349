"""The one Slack message of a job that failed for good (never any phone number).

A job that failed for a retryable reason with retries left is not alerted: the automatic retry
takes it. The alert goes out once, when the job is final: a permanent failure (bad input), or a
retryable one with every retry used.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

from callcentre.common import compat
from callcentre.common.slack import MAX_ERROR_CHARS, send_slack

# Digit groups joined by single spaces, dots, dashes or parentheses: 3001234567, +57 300 123 4567,
# (601) 555-1234, 55 92 19 32 70, 612 34 56 78, 300 123 45 67. Not inside words (run ids, hex).
_DIGIT_RUN = re.compile(r"(?<![\w.:/-])\+?\(?\d+\)?(?:[ \u00a0.\-]\(?\d+\)?)*(?![\w:])")
# Runs that are not phone numbers: ISO dates and IPv4 addresses (every part <= 255).
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
MIN_PHONE_DIGITS = 7


def scrub_numbers(text: str | None) -> str:
    """Replace anything that looks like a phone number (7 digits or more) with ``[number]``."""
    return _DIGIT_RUN.sub(_scrub_run, text or "")


def _scrub_run(match: re.Match) -> str:
    run = match.group(0)
    if sum(c.isdigit() for c in run) < MIN_PHONE_DIGITS or _ISO_DATE.fullmatch(run):
        return run
    if _IPV4.fullmatch(run) and all(int(part) <= 255 for part in run.split(".")):
        return run
    return "[number]"


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
