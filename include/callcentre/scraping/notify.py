"""The uploader's one email when a job ends for good: completed, or failed/timeout with no automatic
retry left, however it ended. Sent through the outbox (:mod:`.alerts`) with the SMTP provider
(connection ``scraping_smtp``) to the upload's ``notify_email`` unless it opted out (``notify: false``);
the address is kept on the job row at registration. Never a phone number (docs/scraping.md).
"""

from __future__ import annotations

import html
import logging
import re

from callcentre.common.language import message_language
from callcentre.common.slack import scrub_numbers
from callcentre.scraping.alerts import is_final, outbox, send

log = logging.getLogger(__name__)

_ADDRESS = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")

_WORDS = {
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
    address = (conf or {}).get("notify_email")
    if not address or (conf or {}).get("notify", True) is False:
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
    from callcentre.common.pg import transaction

    try:
        with transaction(repo.conn_id) as cur:
            cur.execute("UPDATE scraping.jobs SET notify_email = %s WHERE id = %s", (to, job_id))
    except Exception:  # noqa: BLE001 - the email is a courtesy: it never stops the job
        log.exception("job #%s: could not keep the uploader's address", job_id)


def message(job: dict, jobs_page_url: str) -> tuple[str, str]:
    """(subject, HTML body) about ``job``: status, figures, the reason of a failure, the page."""
    w = _WORDS[message_language()]
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


def tell_uploader(job: dict, conf: dict | None = None, conn_id: str | None = None) -> bool:
    """Send the one email of ``job``'s outcome to the address of ``conf`` (a run's conf) or, without
    it, the one kept on the job; True when this call sent it. Never raises."""
    from callcentre.common.airflow_urls import ui_url
    from callcentre.common.connections import SCRAPING_POSTGRES

    try:
        to = recipient(conf) if conf is not None else job["notify_email"]
    except BadNotifyConf as err:
        log.warning("job #%s: %s; nobody told", job["id"], err)
        return False
    if to is None:
        return False
    subject, body = message(job, ui_url("plugin/scraping-jobs"))
    row = {"job_id": job["id"], "channel": "email", "outcome": job["status"], "attempt": job["retry_count"],
           "recipient": to, "subject": subject, "message": body}
    try:
        sent = outbox(conn_id or SCRAPING_POSTGRES).send_once(row, send)
    except Exception as err:  # noqa: BLE001 - the job's database down: the job's own outcome matters more
        log.warning("job #%s: could not queue the uploader's email (%s)", job["id"], type(err).__name__)
        return False
    if sent:
        log.info("job #%s %s: uploader told by email", job["id"], job["status"])
    return sent


def tell_if_ended(repo, job: dict | None) -> bool:
    """Tell the uploader of a job that ended for good (completed, or failed/timeout with no retry
    left), from the address kept on the job; the reconcile DAG's and a person's endings."""
    if job is None or not (job["status"] == "completed" or is_final(job)):
        return False
    return tell_uploader(job, None, repo.conn_id)


def _job_and_conf(context) -> tuple[dict | None, dict]:
    from callcentre.scraping.jobs import repository

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
    try:
        job, conf = _job_and_conf(context)
    except Exception:  # noqa: BLE001
        log.exception("could not read the job to tell its uploader")
        return
    if job and is_final(job):
        tell_uploader(job, conf)
