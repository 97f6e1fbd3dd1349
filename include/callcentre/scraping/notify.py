"""The uploader is told by email when a job ends for good: completed, or failed/timeout with no
automatic retry left. Through Airflow's SMTP provider (SmtpHook, connection ``scraping_smtp``),
to the address the upload named (run conf ``notify_email``) unless it opted out (``notify: false``).

Once per outcome and attempt (a claim in ``scraping.job_emails``, taken in the transaction that
sends), never a phone number (file name, error: scrubbed), never fatal: a mail server down leaves
the job as it is and is logged.
"""

from __future__ import annotations

import html
import logging
import re

from callcentre.common.slack import scrub_numbers

log = logging.getLogger(__name__)

SMTP_CONN_ID = "scraping_smtp"
_ADDRESS = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_CLAIMS_SQL = """CREATE TABLE IF NOT EXISTS scraping.job_emails (
    job_id    bigint      NOT NULL,
    outcome   text        NOT NULL,
    attempt   integer     NOT NULL,
    recipient text        NOT NULL,
    sent_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, outcome, attempt))"""
_SUBJECTS = {"completed": "completed", "failed": "failed", "timeout": "timed out"}


class BadNotifyConf(ValueError):
    """``notify_email`` is not one address."""


def recipient(conf: dict) -> str | None:
    """The address to tell, or None: none given, or ``notify`` is false (the per-upload opt-out)."""
    address = (conf or {}).get("notify_email")
    if not address or (conf or {}).get("notify", True) is False:
        return None
    address = str(address).strip()
    if not _ADDRESS.match(address):
        raise BadNotifyConf(f"conf.notify_email={address!r} is not one email address")
    return address


def message(job: dict, jobs_page_url: str) -> tuple[str, str]:
    """(subject, HTML body) about ``job``: status, figures, the reason of a failure, the page."""
    name = scrub_numbers(job["file_name"])
    subject = f"Scraping job #{job['id']} {_SUBJECTS.get(job['status'], job['status'])}: {name}"
    rows = [("File", name), ("Status", job["status"]),
            ("Numbers", f"{job['processed_numbers'] or 0} of {job['total_numbers'] or 0} looked up"),
            ("Rejected rows", job["rejected_rows"] or 0)]
    if job["status"] != "completed":
        rows.append(("Why", scrub_numbers(job["last_error"] or "(no error recorded)")))
        rows.append(("Retries", f"{job['retry_count']} of {job['max_retries']} used; no automatic retry follows"))
    table = "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    body = (f"<p>{html.escape(subject)}</p><table>{table}</table>"
            f"<p>Jobs page: <a href='{html.escape(jobs_page_url)}'>{html.escape(jobs_page_url)}</a></p>")
    return subject, body


def tell_uploader(job: dict, conf: dict) -> bool:
    """Send the one email of ``job``'s outcome; True when this call sent it. Never raises."""
    try:
        to = recipient(conf)
    except BadNotifyConf as err:
        log.warning("job #%s: %s; nobody told", job["id"], err)
        return False
    if to is None:
        return False
    from callcentre.common.compat import ui_url
    from callcentre.common.connections import SCRAPING_POSTGRES
    from callcentre.common.pg import transaction

    subject, body = message(job, ui_url("plugin/scraping-jobs"))
    try:
        with transaction(SCRAPING_POSTGRES) as cur:
            cur.execute(_CLAIMS_SQL)
            cur.execute(
                "INSERT INTO scraping.job_emails (job_id, outcome, attempt, recipient) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING", (job["id"], job["status"], job["retry_count"], to))
            if cur.rowcount == 0:
                return False  # already told (a callback that fired twice)
            _send(to, subject, body)  # an error rolls the claim back
    except Exception as err:  # noqa: BLE001 - mail is a courtesy: it never changes the job
        log.warning("job #%s: could not email the uploader (%s); nobody told", job["id"], type(err).__name__)
        return False
    log.info("job #%s %s: uploader told by email", job["id"], job["status"])
    return True


def _send(to: str, subject: str, body: str) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=SMTP_CONN_ID) as hook:
        hook.send_email_smtp(to=to, subject=subject, html_content=body)


def _job_and_conf(context) -> tuple[dict | None, dict]:
    from callcentre.scraping.pipeline import repository

    dag_run = context["dag_run"]
    return repository().by_run(dag_run.dag_id, dag_run.run_id), dict(dag_run.conf or {})


def job_completed(context) -> None:
    """After the results workbook: tell the uploader the job completed."""
    job, conf = _job_and_conf(context)
    if job and job["status"] == "completed":
        tell_uploader(job, conf)


def job_failed_for_good(context) -> None:
    """A task's failure callback, after the job's own (which records the outcome): tell the uploader
    when the job ended failed or timeout and nothing will retry it."""
    from callcentre.scraping.alerts import is_final

    try:
        job, conf = _job_and_conf(context)
    except Exception:  # noqa: BLE001
        log.exception("could not read the job to tell its uploader")
        return
    if job and job["status"] in ("failed", "timeout") and is_final(job):
        tell_uploader(job, conf)
