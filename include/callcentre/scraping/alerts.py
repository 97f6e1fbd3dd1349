"""The one Slack message of a job that failed for good, and the outbox all scraping messages go through.

A job with a retryable failure and retries left is not alerted: the automatic retry takes it.
Messages (Slack alerts, uploader emails) are claimed in ``scraping.outbox`` and sent once under the
shared policy of :mod:`callcentre.common.alerting`: what an outage of Slack or of the mail server
held back is sent by the reconcile DAG's next run. Never a phone number (docs/scraping.md).
"""

from __future__ import annotations

import logging

from callcentre.common import airflow_urls
from callcentre.common.alerting import Outbox
from callcentre.common.language import message_language
from callcentre.common.slack import MAX_ERROR_CHARS, scrub_numbers, send_slack

log = logging.getLogger(__name__)


def outbox(conn_id: str) -> Outbox:
    return Outbox(conn_id, "scraping.outbox", ("job_id", "channel", "outcome", "attempt"))


def send(row: dict) -> bool:
    """Deliver one outbox row on its channel; whether it was taken. Never raises."""
    if row["channel"] == "slack":
        return send_slack(row["message"])
    try:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        with SmtpHook(smtp_conn_id="scraping_smtp") as hook:
            hook.send_email_smtp(to=row["recipient"], subject=row["subject"], html_content=row["message"])
        return True
    except Exception as err:  # noqa: BLE001 - the mail server's outage leaves the email pending
        log.warning("job #%s: email not delivered (%s); sent by a later reconcile run", row["job_id"],
                    type(err).__name__)
        return False


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


def job_alert_text(job: dict) -> str:
    words = _WORDS[message_language()]
    icon = ":hourglass:" if job["status"] == "timeout" else ":red_circle:"
    error = scrub_numbers(job.get("last_error")) or words["no_error"]
    if len(error) > MAX_ERROR_CHARS:
        error = error[: MAX_ERROR_CHARS - 1] + "…"
    if job.get("failure_kind") == "permanent":
        retry_note = words["permanent"]
    else:
        retry_note = words["out_of_retries"].format(used=job["retry_count"], allowed=job["max_retries"])
    return "\n".join(
        [
            f"{icon} " + words["ended"].format(id=job["id"], status=job["status"]),
            f"• {words['file']}: {scrub_numbers(job['file_name'])}",
            f"• {words['uploader']}: {scrub_numbers(job['uploader'])}",
            f"• {words['status']}: {job['status']} ({words['retries']}: {job['retry_count']}/{job['max_retries']})",
            f"• {words['retry']}: {retry_note}",
            f"• {words['error']}: {error}",
            f"• {words['run']}: {airflow_urls.dag_run_url(job['dag_id'], job['airflow_run_id'])}",
        ]
    )


# The claim and the message owed, in one statement: a job is never marked alerted without its alert.
_CLAIM = """WITH claimed AS (UPDATE scraping.jobs SET alerted_at = now() WHERE id = %s AND alerted_at IS NULL
                            RETURNING id)
            INSERT INTO scraping.outbox (job_id, channel, outcome, attempt, message)
            SELECT id, 'slack', %s, %s, %s FROM claimed ON CONFLICT DO NOTHING RETURNING job_id"""


def is_final(job: dict) -> bool:
    """A failed/timeout job that nothing will retry automatically."""
    return job["status"] in ("failed", "timeout") and (
        job.get("failure_kind") == "permanent" or int(job["retry_count"]) >= int(job["max_retries"]))


def alert_if_final(repo, job: dict) -> bool:
    """Claim the job's one alert once it is final and post it; True if posted now. Never raises over
    Slack: an undelivered alert stays owed in the outbox."""
    from callcentre.common.pg import transaction

    if not is_final(job):
        return False
    with transaction(repo.conn_id) as cur:
        cur.execute(_CLAIM, (job["id"], job["status"], job["retry_count"], job_alert_text(job)))
        if cur.fetchone() is None:
            return False  # alerted already
    key = {"job_id": job["id"], "channel": "slack", "outcome": job["status"], "attempt": job["retry_count"]}
    return outbox(repo.conn_id).deliver(key, send)

