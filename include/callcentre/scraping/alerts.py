"""The one Slack message of a job that failed for good (never any phone number).

A job that failed for a retryable reason with retries left is not alerted: the automatic retry
takes it. The alert goes out once, when the job is final: a permanent failure (bad input), or a
retryable one with every retry used. The job's ``alerted_at`` and the message owed in
``scraping.outbox`` are written by one statement, then the message is sent (:mod:`.outbox`): a
Slack outage delays the alert to the reconcile DAG's next run, never loses it. Written in the
language of ``CALLCENTRE_LANGUAGE`` (``en``, the default, or ``es``: :mod:`callcentre.common.language`).
"""

from __future__ import annotations

from types import SimpleNamespace

from callcentre.common import airflow_urls
from callcentre.common.language import message_language
from callcentre.common.slack import MAX_ERROR_CHARS, scrub_numbers
from callcentre.scraping.outbox import outbox, send

__all__ = ["alert_if_final", "alert_job_ended", "is_final", "job_alert_text", "run_url", "scrub_numbers"]


def run_url(dag_id: str, run_id: str) -> str:
    return airflow_urls.run_url_of({"dag_run": SimpleNamespace(dag_id=dag_id, run_id=run_id)})


# The alert's words; the status code and the error stay as recorded (they are searched for in logs).
_WORDS = {
    "en": {"ended": "Scraping job #{id} ended `{status}`", "file": "file", "uploader": "uploader", "status": "status",
           "retries": "retries used", "retry": "retry", "error": "error", "run": "run",
           "no_error": "(no error recorded)",
           "permanent": "not retried automatically (the upload or its settings must change)",
           "out_of_retries": "out of retries ({used}/{allowed})"},
    "es": {"ended": "El trabajo de scraping #{id} terminó `{status}`", "file": "archivo", "uploader": "usuario",
           "status": "estado", "retries": "reintentos usados", "retry": "reintento", "error": "error",
           "run": "ejecución", "no_error": "(no se registró ningún error)",
           "permanent": "no se reintenta solo (hay que cambiar el archivo o sus ajustes)",
           "out_of_retries": "sin reintentos ({used}/{allowed})"},
}


def job_alert_text(job: dict, lang: str | None = None) -> str:
    words = _WORDS[lang or message_language()]
    icon = ":hourglass:" if job["status"] == "timeout" else ":red_circle:"
    error = scrub_numbers(job.get("last_error")) or words["no_error"]
    if len(error) > MAX_ERROR_CHARS:
        error = error[: MAX_ERROR_CHARS - 1] + "…"
    return "\n".join(
        [
            f"{icon} " + words["ended"].format(id=job["id"], status=job["status"]),
            f"• {words['file']}: {scrub_numbers(job['file_name'])}",
            f"• {words['uploader']}: {scrub_numbers(job['uploader'])}",
            f"• {words['status']}: {job['status']} ({words['retries']}: {job['retry_count']}/{job['max_retries']})",
            f"• {words['retry']}: {_retry_note(job, words)}",
            f"• {words['error']}: {error}",
            f"• {words['run']}: {run_url(job['dag_id'], job['airflow_run_id'])}",
        ]
    )


# The claim and the message owed, in one statement: a job is never marked alerted without its alert.
_CLAIM = """WITH claimed AS (UPDATE scraping.jobs SET alerted_at = now() WHERE id = %s AND alerted_at IS NULL
                            RETURNING id)
            INSERT INTO scraping.outbox (job_id, channel, outcome, attempt, message)
            SELECT id, 'slack', %s, %s, %s FROM claimed ON CONFLICT DO NOTHING RETURNING job_id"""


def alert_job_ended(repo, job: dict) -> bool:
    """Claim the job's one alert and post it; True if posted now. Never raises over Slack: an
    undelivered alert stays owed in the outbox."""
    from callcentre.common.pg import transaction

    with transaction(repo.conn_id) as cur:
        cur.execute(_CLAIM, (job["id"], job["status"], job["retry_count"], job_alert_text(job)))
        if cur.fetchone() is None:
            return False  # alerted already
    key = {"job_id": job["id"], "channel": "slack", "outcome": job["status"], "attempt": job["retry_count"]}
    return outbox(repo.conn_id).deliver(key, send)


def is_final(job: dict) -> bool:
    """A failed/timeout job that nothing will retry automatically."""
    return job.get("failure_kind") == "permanent" or int(job["retry_count"]) >= int(job["max_retries"])


def alert_if_final(repo, job: dict) -> bool:
    """The job's one alert, once it is final; the first caller to claim it sends it."""
    if job["status"] not in ("failed", "timeout") or not is_final(job):
        return False
    return alert_job_ended(repo, job)


def _retry_note(job: dict, words: dict) -> str:
    if job.get("failure_kind") == "permanent":
        return words["permanent"]
    return words["out_of_retries"].format(used=job["retry_count"], allowed=job["max_retries"])
