"""Where the IVR alerts are claimed: ``analytics.alert_log``, one row per alert, sent once.

The row is written pending and marked sent in the transaction that posts it
(:class:`callcentre.common.alerting.Outbox`): a callback that fires twice finds the row and stays
quiet; a Slack outage leaves the row pending and the deadline watcher posts it later. When
analytics PostgreSQL itself is down nothing can be claimed: :func:`send_unclaimed` posts anyway,
at most one such message per DAG an hour.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta, timezone

from callcentre.common import variables
from callcentre.common.alerting import Outbox
from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.slack import send_slack
from callcentre.ivr.alert_messages import words

log = logging.getLogger(__name__)

def migrate(conn_id: str = ANALYTICS_POSTGRES) -> None:
    """The alert tables are analytics migrations (sql/migrations): applied if pending, else one read."""
    from callcentre.ivr.schema import analytics_migrations

    analytics_migrations(conn_id).ensure_current()


_migrated = False


def ensure_tables() -> None:
    global _migrated
    if not _migrated:
        migrate()
        _migrated = True


def outbox(conn_id: str = ANALYTICS_POSTGRES) -> Outbox:
    return Outbox(conn_id, "analytics.alert_log", ("dag_id", "kind", "alert_key"))


def _post(row: dict) -> bool:
    return send_slack(row["message"])


def send_once(dag_id: str, kind: str, key: str, text: str, *, business_date: date | None = None,
              run_id: str | None = None, conn_id: str = ANALYTICS_POSTGRES) -> bool:
    """Post ``text`` unless an alert of this kind and key exists already; True if posted now.
    Not delivered: kept pending, posted by the watcher's :func:`send_pending`."""
    row = {"dag_id": dag_id, "kind": kind, "alert_key": key, "business_date": business_date, "run_id": run_id,
           "message": text}
    return outbox(conn_id).send_once(row, _post)


def send_pending(conn_id: str = ANALYTICS_POSTGRES) -> int:
    """Post the alerts a Slack outage held back; how many went out now."""
    return outbox(conn_id).deliver_pending(_post)


# --- Alerts analytics.alert_log cannot claim ---------------------------------------------------

# An Airflow Variable (the metadata DB answers whenever a callback runs): {dag_id: when the last
# unclaimed alert of that DAG went out}. Emptied by the watcher once analytics PostgreSQL answers.
UNCLAIMED_VARIABLE = "ivr_alerts_unclaimed_sent"
UNCLAIMED_REPEAT = timedelta(hours=1)


def _unclaimed_sent() -> dict:
    try:
        return json.loads(variables.read_variable(UNCLAIMED_VARIABLE, None) or "{}")
    except Exception:  # noqa: BLE001 - unreadable: the alert goes out rather than not at all
        log.exception("could not read Variable %s", UNCLAIMED_VARIABLE)
        return {}


def send_unclaimed(dag_id: str, text: str, now: datetime | None = None, *, always: bool = False) -> bool:
    """Post an alert that cannot be claimed in ``analytics.alert_log`` (analytics PostgreSQL down):
    at most one per DAG per :data:`UNCLAIMED_REPEAT` while the outage lasts (the watcher fails
    every 15 minutes then), unless ``always`` (it says the DAG paused itself: news, not a repeat);
    True if posted now."""
    now = now or datetime.now(timezone.utc)
    sent = _unclaimed_sent()
    last = sent.get(dag_id)
    if last and not always and now - datetime.fromisoformat(last) < UNCLAIMED_REPEAT:
        log.warning("analytics PostgreSQL unreachable; an alert of %s went out at %s: this one is not sent", dag_id, last)
        return False
    repeat = "\n• " + words()["unclaimed"].format(dag_id=dag_id)
    if not send_slack(text + repeat):
        return False
    try:
        variables.set_variable(UNCLAIMED_VARIABLE, json.dumps({**sent, dag_id: now.isoformat()}))
    except Exception:  # noqa: BLE001
        log.exception("could not remember the unclaimed alert in Variable %s", UNCLAIMED_VARIABLE)
    return True


def end_unclaimed_outage() -> None:
    """Analytics PostgreSQL answers again: the next outage alerts at once."""
    if _unclaimed_sent():
        variables.delete_variable(UNCLAIMED_VARIABLE)
