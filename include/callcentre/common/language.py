"""The language of the messages we send (Slack alerts): ``CALLCENTRE_LANGUAGE`` = ``en`` or ``es``.

Read from the environment, so a callback (no Variable access on every Airflow version) sees it as a
task does. Pages follow the Airflow UI's own choice (static/airflow_prefs.js).
"""

from __future__ import annotations

import logging
import os

LANGUAGES = ("en", "es")
DEFAULT = "en"
SETTING = "CALLCENTRE_LANGUAGE"

log = logging.getLogger(__name__)


def message_language() -> str:
    """``CALLCENTRE_LANGUAGE`` (default ``en``). An unknown value is logged and English is used:
    an alert is never lost over its language."""
    raw = os.environ.get(SETTING, "").strip().lower() or DEFAULT
    if raw not in LANGUAGES:
        log.warning("%s=%r is not one of %s; messages are written in %s", SETTING, raw[:20],
                    ", ".join(LANGUAGES), DEFAULT)
        return DEFAULT
    return raw
