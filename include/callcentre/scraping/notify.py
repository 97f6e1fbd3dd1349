"""What the scraping pipeline tells people once a job ended for good: the one Slack alert of a job
that failed, and the uploader's one email however it ended (a retryable failure with retries left
is left to the automatic retry). Never a phone number (docs/scraping.md).

Every message is claimed in ``scraping.outbox`` and sent once (:mod:`callcentre.common.alerting`):
what an outage of Slack or of the mail server held back is sent by the reconcile DAG's next run.
"""

from __future__ import annotations

import html
import logging
import re

from callcentre.common import airflow_urls
from callcentre.common.alerting import Outbox
from callcentre.common.connections import SCRAPING_POSTGRES
from callcentre.common.language import message_language
from callcentre.common.pg import transaction
from callcentre.common.slack import cut_error, scrub_numbers, send_slack
from callcentre.scraping.jobs import repository

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


def is_final(job: dict) -> bool:
    """A failed/timeout job that nothing will retry automatically."""
    return job["status"] in ("failed", "timeout") and (
        job.get("failure_kind") == "permanent" or int(job["retry_count"]) >= int(job["max_retries"]))


# The Slack alert --------------------------------------------------------------------------------
# Its words; the status code and the error stay as recorded (they are searched for in logs).
_ALERT_WORDS = {
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
    words = _ALERT_WORDS[message_language()]
    icon = ":hourglass:" if job["status"] == "timeout" else ":red_circle:"
    error = cut_error(scrub_numbers(job.get("last_error")) or words["no_error"])
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


def alert_if_final(repo, job: dict) -> bool:
    """Claim the job's one alert once it is final and post it; True if posted now. Never raises over
    Slack: an undelivered alert stays owed in the outbox."""
    if not is_final(job):
        return False
    with transaction(repo.conn_id) as cur:
        cur.execute(_CLAIM, (job["id"], job["status"], job["retry_count"], job_alert_text(job)))
        if cur.fetchone() is None:
            return False  # alerted already
    key = {"job_id": job["id"], "channel": "slack", "outcome": job["status"], "attempt": job["retry_count"]}
    return outbox(repo.conn_id).deliver(key, send)


# The uploader's email ---------------------------------------------------------------------------
_ADDRESS = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")

_EMAIL_WORDS = {
    "en": {"subject": "Scraping job #{id} {outcome}: {name}",
           "completed": "completed", "failed": "failed", "timeout": "timed out",
           "file": "File", "status": "Status", "numbers": "Numbers", "looked_up": "{done} of {total} looked up",
           "rejected": "Rejected rows", "why": "Why", "no_error": "(no error recorded)", "retries": "Retries",
           "no_retry": "{used} of {allowed} used; no automatic retry follows", "page": "Jobs page"},
    "es": {"subject": "Trabajo de scraping #{id} {outcome}: {name}",
           "completed": "completado", "failed": "fallido", "timeout": "vencido",
           "file": "Archivo", "status": "Estado", "numbers": "Números", "looked_up": "{done} de {total} consultados",
           "rejected": "Filas rechazadas", "why": "Motivo", "no_error": "(no se registró ningún error)",
           "retries": "Reintentos", "no_retry": "{used} de {allowed} usados; no sigue ningún reintento automático",
           "page": "Página de trabajos"},
}


class BadNotifyConf(ValueError):
    """``notify_email`` is not one address."""


def recipient(conf: dict) -> str | None:
    """The address to tell, or None: none given, or ``notify`` is false (the per-upload opt-out)."""
    address = conf.get("notify_email")
    if not address or conf.get("notify", True) is False:
        return None
    address = str(address).strip()
    if not _ADDRESS.match(address):
        raise BadNotifyConf(f"conf.notify_email={address!r} is not one email address")
    return address


def remember_recipient(repo, job_id: int, conf: dict) -> None:
    """Keep the upload's address (or its opt-out: NULL) on the job row. Never raises."""
    try:
        to = recipient(conf)
    except BadNotifyConf as err:
        log.warning("job #%s: %s; nobody will be told", job_id, err)
        to = None
    try:
        with transaction(repo.conn_id) as cur:
            cur.execute("UPDATE scraping.jobs SET notify_email = %s WHERE id = %s", (to, job_id))
    except Exception:  # noqa: BLE001 - the email is a courtesy: it never stops the job
        log.exception("job #%s: could not keep the uploader's address", job_id)


def message(job: dict, jobs_page_url: str) -> tuple[str, str]:
    """(subject, HTML body) about ``job``: status, figures, the reason of a failure, the page."""
    w = _EMAIL_WORDS[message_language()]
    name = scrub_numbers(job["file_name"])
    subject = w["subject"].format(id=job["id"], outcome=w.get(job["status"], job["status"]), name=name)
    rows = [(w["file"], name), (w["status"], job["status"]),
            (w["numbers"], w["looked_up"].format(done=job["processed_numbers"] or 0, total=job["total_numbers"] or 0)),
            (w["rejected"], job["rejected_rows"] or 0)]
    if job["status"] != "completed":
        rows.append((w["why"], scrub_numbers(job["last_error"] or w["no_error"])))
        rows.append((w["retries"], w["no_retry"].format(used=job["retry_count"], allowed=job["max_retries"])))
    table = "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    url = html.escape(jobs_page_url)
    body = f"<p>{html.escape(subject)}</p><table>{table}</table><p>{w['page']}: <a href='{url}'>{url}</a></p>"
    return subject, body


def tell_uploader(job: dict, conf: dict | None = None, conn_id: str = SCRAPING_POSTGRES) -> bool:
    """Send the one email of ``job``'s outcome to the address of ``conf`` (a run's conf) or, without
    it, the one kept on the job; True when this call sent it. Never raises."""
    try:
        to = recipient(conf) if conf is not None else job["notify_email"]
    except BadNotifyConf as err:
        log.warning("job #%s: %s; nobody told", job["id"], err)
        return False
    if to is None:
        return False
    subject, body = message(job, airflow_urls.ui_url("plugin/scraping-jobs"))
    row = {"job_id": job["id"], "channel": "email", "outcome": job["status"], "attempt": job["retry_count"],
           "recipient": to, "subject": subject, "message": body}
    try:
        sent = outbox(conn_id).send_once(row, send)
    except Exception as err:  # noqa: BLE001 - the job's database down: the job's own outcome matters more
        log.warning("job #%s: could not queue the uploader's email (%s)", job["id"], type(err).__name__)
        return False
    if sent:
        log.info("job #%s %s: uploader told by email", job["id"], job["status"])
    return sent


def tell_if_ended(repo, job: dict | None) -> bool:
    """Tell the uploader of a job that ended for good, from the address kept on the job."""
    if job is None or not (job["status"] == "completed" or is_final(job)):
        return False
    return tell_uploader(job, None, repo.conn_id)


def _job_and_conf(context) -> tuple[dict | None, dict]:
    dag_run = context["dag_run"]
    return repository().by_run(dag_run.dag_id, dag_run.run_id), dict(dag_run.conf or {})


def job_completed(context) -> None:
    """After the results workbook: tell the uploader the job completed."""
    job, conf = _job_and_conf(context)
    if job and job["status"] == "completed":
        tell_uploader(job, conf)


def job_failed_for_good(context) -> None:
    """A task's failure callback, after the job's own (which records the outcome)."""
    try:
        job, conf = _job_and_conf(context)
    except Exception:  # noqa: BLE001
        log.exception("could not read the job to tell its uploader")
        return
    if job and is_final(job):
        tell_uploader(job, conf)
