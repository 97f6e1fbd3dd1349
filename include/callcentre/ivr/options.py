"""Run options: the DAG's params, validated once, with an error an operator can act on."""

from __future__ import annotations

import os
from dataclasses import dataclass

from callcentre.common.compat import AirflowFailException
from callcentre.ivr.business_day import HOURS

INVALID_ROWS_MODES = ("quarantine", "fail")
# Celery queue of the tasks that read the IVR: workers near its database listen on it (docs/deploy.md).
LOAD_QUEUE = os.environ.get("IVR_LOAD_QUEUE", "ivr")

# Defaults, also shown in the UI trigger form (dags/ivr_calls_daily.py builds its Params from these).
DEFAULTS = {
    "dry_run": False,
    "hours": [],
    "invalid_rows": "quarantine",
    "max_reject_ratio": 0.05,
    "min_calls": 1,
    "chunk_size": 20_000,
}


@dataclass(frozen=True)
class RunOptions:
    dry_run: bool
    hours: tuple[int, ...]
    invalid_rows: str
    max_reject_ratio: float
    min_calls: int
    chunk_size: int

    @classmethod
    def from_params(cls, params) -> RunOptions:
        """Validate ``params`` (defaults merged with the trigger conf); AirflowFailException listing
        every problem, before any work is done."""
        params = dict(params or {})
        problems = []
        unknown = sorted(set(params) - set(DEFAULTS))
        if unknown:
            problems.append(f"unknown param(s) {unknown}; expected some of {sorted(DEFAULTS)}")

        dry_run = params.get("dry_run", DEFAULTS["dry_run"])
        if not isinstance(dry_run, bool):
            problems.append(f"dry_run={dry_run!r} must be true or false")

        hours = params.get("hours") or []
        parsed_hours = []
        for value in hours if isinstance(hours, (list, tuple)) else [hours]:
            try:
                hour = int(value)
            except (TypeError, ValueError):
                hour = None
            if hour not in HOURS or isinstance(value, bool):
                problems.append(f"hours: {value!r} is not an hour of the day (0-23)")
            else:
                parsed_hours.append(hour)

        invalid_rows = params.get("invalid_rows", DEFAULTS["invalid_rows"])
        if invalid_rows not in INVALID_ROWS_MODES:
            problems.append(f"invalid_rows={invalid_rows!r} must be one of {list(INVALID_ROWS_MODES)}")

        ratio = params.get("max_reject_ratio", DEFAULTS["max_reject_ratio"])
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
            problems.append(f"max_reject_ratio={ratio!r} must be a number between 0 and 1")

        min_calls = params.get("min_calls", DEFAULTS["min_calls"])
        if isinstance(min_calls, bool) or not isinstance(min_calls, int) or min_calls < 0:
            problems.append(f"min_calls={min_calls!r} must be a whole number >= 0")

        chunk_size = params.get("chunk_size", DEFAULTS["chunk_size"])
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or not 100 <= chunk_size <= 1_000_000:
            problems.append(f"chunk_size={chunk_size!r} must be an integer between 100 and 1000000")

        if problems:
            raise AirflowFailException("invalid run params: " + "; ".join(problems))
        return cls(
            dry_run=dry_run,
            hours=tuple(sorted(set(parsed_hours))) or HOURS,
            invalid_rows=invalid_rows,
            max_reject_ratio=float(ratio),
            min_calls=min_calls,
            chunk_size=chunk_size,
        )


def positive_setting(name: str, default: int, convert=int, *, what: str, error=ValueError):
    """The environment setting ``name`` (``default`` when unset or empty), a number > 0; ``error``
    saying that it must be ``what`` otherwise."""
    raw = os.environ.get(name) or str(default)
    try:
        value = convert(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise error(f"{name}={raw!r} is not {what} > 0")
    return value
