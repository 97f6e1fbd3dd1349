"""Slack alerts through the provider's SlackWebhookNotifier on connection ``slack_alerts``.

Alerts are best-effort by design: a Slack outage is logged and swallowed so it can never change a
task's outcome. Messages carry identifiers and errors only (redacted), never data rows.
"""

from __future__ import annotations

import logging
import re

from callcentre.common import compat
from callcentre.common.connections import SLACK_ALERTS

log = logging.getLogger(__name__)

SLACK_TIMEOUT_S = 10
MAX_ERROR_CHARS = 600


def send_slack(text: str) -> bool:
    """Post ``text``; return whether Slack accepted it. Never raises."""
    try:
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        SlackWebhookNotifier(slack_webhook_conn_id=SLACK_ALERTS, text=compat.redact(text), timeout=SLACK_TIMEOUT_S).notify({})
        return True
    except Exception as err:  # noqa: BLE001 - alerting must not fail the task
        log.warning("Slack alert not delivered (%s: %s); the task outcome is unchanged", type(err).__name__, err)
        return False


# Digit groups joined by single spaces, dots, dashes or parentheses: 3001234567, +57 300 123 4567,
# (601) 555-1234, 55 92 19 32 70, 612 34 56 78, 300 123 45 67. Not inside words (run ids, hex).
_DIGIT_RUN = re.compile(r"(?<![\w.:/-])\+?\(?\d+\)?(?:[ \u00a0.\-]\(?\d+\)?)*(?![\w:])")
# Runs that are not phone numbers: ISO dates and IPv4 addresses (every part <= 255).
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
MIN_PHONE_DIGITS = 7


# A number in a URI or a labelled field: sip:3001234567@pbx, sips:, tel:+57-300-123-4567,
# msisdn:573001234567, callto:, caller=..., the user part of a SIP URI. The run of digits
# follows the scheme or label directly; the plain pattern above skips text after a colon.
_URI_NUMBER = re.compile(
    r"(?i)\b(sips?|tel|msisdn|callto|fax|phone|caller|callee|ani|dnis|cli)(\s*[:=]\s*)(\+?[\d(][\d ()\u00a0.\-]*\d)"
)


def scrub_numbers(text: str | None) -> str:
    """Replace anything that looks like a phone number (7 digits or more) with ``[number]``, in
    URIs too (``sip:[number]@pbx``)."""
    text = _URI_NUMBER.sub(_scrub_uri, text or "")
    return _DIGIT_RUN.sub(_scrub_run, text)


def _scrub_uri(match: re.Match) -> str:
    if sum(c.isdigit() for c in match.group(3)) < MIN_PHONE_DIGITS:
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}[number]"


def _scrub_run(match: re.Match) -> str:
    run = match.group(0)
    if sum(c.isdigit() for c in run) < MIN_PHONE_DIGITS or _ISO_DATE.fullmatch(run):
        return run
    if _IPV4.fullmatch(run) and all(int(part) <= 255 for part in run.split(".")):
        return run
    return "[number]"


def short_error(exc: BaseException | None) -> str:
    """The error in one line of at most MAX_ERROR_CHARS, secrets masked and numbers scrubbed
    BEFORE it is cut (a cut secret or number would no longer be recognised)."""
    if exc is None:
        return "(no exception recorded)"
    return cut_error(scrub_numbers(compat.redact(f"{type(exc).__name__}: {exc}")))


def cut_error(text: str) -> str:
    """At most MAX_ERROR_CHARS of an error's text, "…" marking the cut."""
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def task_failure_message(context) -> str:
    """The text of a task-failure alert: what failed, where, which try, why, and the log link."""
    ti = context["ti"]
    dag_run = context["dag_run"]
    task = f"`{ti.task_id}`"
    if getattr(ti, "map_index", -1) is not None and ti.map_index >= 0:
        task += f" (map index {ti.map_index})"
    return "\n".join([
        f":red_circle: Task failed in DAG `{dag_run.dag_id}`",
        f"• run: `{dag_run.run_id}`",
        f"• task: {task}",
        f"• try: {ti.try_number}",
        f"• error: {short_error(context.get('exception'))}",
        f"• log: {ti.log_url}",
    ])
