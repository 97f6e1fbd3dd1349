"""The scraping jobs' messages (Slack alerts, uploader emails) go through one outbox,
``scraping.outbox`` (migration 0002), under the shared alert policy of
:mod:`callcentre.common.alerting`: claimed and sent once, and what an outage of Slack or of the
mail server held back is sent by the reconcile DAG's next run (:func:`send_held_back`).
"""

from __future__ import annotations

import logging

from callcentre.common.alerting import Outbox
from callcentre.common.slack import send_slack

log = logging.getLogger(__name__)

SMTP_CONN_ID = "scraping_smtp"
KEY = ("job_id", "channel", "outcome", "attempt")


def outbox(conn_id: str) -> Outbox:
    return Outbox(conn_id, "scraping.outbox", KEY)


def send(row: dict) -> bool:
    """Deliver one outbox row on its channel; whether it was taken. Never raises."""
    if row["channel"] == "slack":
        return send_slack(row["message"])
    try:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        with SmtpHook(smtp_conn_id=SMTP_CONN_ID) as hook:
            hook.send_email_smtp(to=row["recipient"], subject=row["subject"], html_content=row["message"])
        return True
    except Exception as err:  # noqa: BLE001 - the mail server's outage leaves the email pending
        log.warning("job #%s: email not delivered (%s); sent by a later reconcile run", row["job_id"],
                    type(err).__name__)
        return False


def send_held_back(conn_id: str) -> int:
    """Send the messages an outage held back; how many went out now."""
    return outbox(conn_id).deliver_pending(send)
