"""Defaults of the scraping pipeline and how one run's settings are resolved.

Order: the run's ``conf`` (or the trigger form's params) > Airflow Variable ``scraping_<name>`` >
environment ``SCRAPING_<NAME>`` > the built-in default. The knobs that shape the DAGs themselves
(retry delay, poke interval, check interval) come from the environment only: they are read when the
DAG files are parsed, never from the metadata DB.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import timedelta

DEFAULTS = {
    "timeout_minutes": 30.0,
    "max_retries": 3,
    "batch_size": 250,
}
LIMITS = {  # inclusive bounds a run's conf must respect
    "timeout_minutes": (0.01, 24 * 60.0),
    "max_retries": (0, 10),
    "batch_size": (1, 1000),
}
# Airflow's own retry budget of a batch task: the run's max_retries (<= this) decides when to stop.
RETRIES_CAP = LIMITS["max_retries"][1]
# Hard backstop for a run, whatever its timeout_minutes: the scheduler fails the run after this.
DAGRUN_TIMEOUT = timedelta(hours=25)


class BadRunConf(ValueError):
    """The run's conf is unusable (missing file, bad number): a permanent error."""


@dataclasses.dataclass(frozen=True)
class RunSettings:
    upload: str
    uploader: str
    timeout_minutes: float
    max_retries: int
    batch_size: int


def retry_delay() -> timedelta:
    return timedelta(seconds=float(os.environ.get("SCRAPING_RETRY_DELAY_SECONDS", "60")))


def poke_seconds() -> float:
    return float(os.environ.get("SCRAPING_POKE_SECONDS", "30"))


def check_interval() -> timedelta:
    """How often jobs are reconciled and failed jobs retried automatically (default 15 minutes)."""
    minutes = float(os.environ.get("SCRAPING_CHECK_INTERVAL") or 15)
    if not 1 <= minutes <= 24 * 60:
        raise ValueError(f"SCRAPING_CHECK_INTERVAL={minutes:g} must be 1..1440 minutes")
    return timedelta(minutes=minutes)


def default_of(name: str, get_variable=None):
    """The configured default of ``name`` (Variable, then environment, then built-in)."""
    kind = type(DEFAULTS[name])
    value = get_variable(f"scraping_{name}") if get_variable else None
    if value in (None, ""):
        value = os.environ.get(f"SCRAPING_{name.upper()}")
    return kind(value) if value not in (None, "") else DEFAULTS[name]


def resolve_settings(conf: dict, get_variable=None) -> RunSettings:
    """Validate a run's conf (REST triggers may skip Param validation) and fill in the defaults."""
    conf = dict(conf or {})
    upload = conf.get("file")
    uploader = conf.get("uploader")
    if not isinstance(upload, str) or not upload.strip():
        raise BadRunConf("conf.file (the stored upload, relative to the uploads folder) is required")
    if not isinstance(uploader, str) or not uploader.strip():
        raise BadRunConf("conf.uploader (who uploaded the file) is required")
    values = {}
    for name, (low, high) in LIMITS.items():
        raw = conf.get(name)
        value = default_of(name, get_variable) if raw in (None, "") else raw
        try:
            value = type(DEFAULTS[name])(value)
        except (TypeError, ValueError) as err:
            raise BadRunConf(f"conf.{name}={raw!r} is not a number") from err
        if isinstance(DEFAULTS[name], int) and isinstance(raw, float) and not raw.is_integer():
            raise BadRunConf(f"conf.{name}={raw!r} must be a whole number")
        if not low <= value <= high:
            raise BadRunConf(f"conf.{name}={value} is outside {low}..{high}")
        values[name] = value
    return RunSettings(upload=upload.strip(), uploader=uploader.strip()[:200], **values)
