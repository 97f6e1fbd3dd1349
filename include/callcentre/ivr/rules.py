"""The validation rules for a source call: the one place they are written down.

A row breaking any of :data:`RULES` is quarantined in ``analytics.call_rejects`` with the first
it breaks. A zero or impossible date (MariaDB accepts ``2026-11-00``) is invalid. On a fall-back
day, a call that starts and ends in the repeated hour is valid when it ends after its start read
in the first occurrence (01:50 then 01:05 is 15 minutes, not -45). The rules run as SQL in
MariaDB; tests/unit/test_ivr_rules.py holds them as Python, the reference the SQL must agree with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

DISPOSITIONS = ("ANSWERED", "ABANDONED", "TRANSFERRED", "FAILED", "BUSY", "NO ANSWER")


@dataclass(frozen=True)
class Fold:
    """The repeated wall-clock window [start, end) of a fall-back day, and how far clocks went back."""

    start: datetime
    end: datetime
    shift_s: int


def fall_back_fold(business_date: date, tz: ZoneInfo) -> Fold | None:
    """The window of ``business_date`` whose wall-clock times happen twice in ``tz``, if any."""
    step = timedelta(minutes=15)
    t = datetime.combine(business_date, datetime.min.time())
    first = last = None
    shift = 0
    while t < datetime.combine(business_date + timedelta(days=1), datetime.min.time()):
        early, late = t.replace(tzinfo=tz, fold=0).utcoffset(), t.replace(tzinfo=tz, fold=1).utcoffset()
        if early > late:
            first = first or t
            last, shift = t + step, int((early - late).total_seconds())
        t += step
    return Fold(first, last, shift) if first else None


# A DATETIME plus nothing is NULL for a zero or impossible date (and for NULL).
_INVALID_TIME = "{c} IS NOT NULL AND {c} + INTERVAL 0 SECOND IS NULL"
# On a fall-back day: start and end in the repeated window, end after start read as first occurrence.
_FOLD_EXCEPTION = (
    " AND NOT (start_time >= '{start}' AND start_time < '{end}' AND end_time >= '{start}'"
    " AND TIMESTAMPDIFF(SECOND, start_time, end_time) + {shift} >= 0)"
)

# (reason, column it is about, description, MariaDB condition), in evaluation order.
RULES = (
    ("end_time_invalid", "end_time", "end_time is a zero or impossible date", _INVALID_TIME.format(c="end_time")),
    ("updated_at_invalid", "updated_at", "updated_at is a zero or impossible date", _INVALID_TIME.format(c="updated_at")),
    ("duration_missing", "duration", "duration is NULL", "duration IS NULL"),
    ("duration_negative", "duration", "duration is negative", "duration < 0"),
    ("end_before_start", "end_time", "end_time is before start_time", "end_time < start_time"),
    ("wait_negative", "wait_seconds", "wait_seconds is negative", "wait_seconds < 0"),
    (
        "caller_missing",
        "caller_number",
        "caller_number is NULL or blank",
        "caller_number IS NULL OR TRIM(REPLACE(REPLACE(REPLACE(caller_number, '\\t', ' '), '\\r', ' '), '\\n', ' ')) = ''",
    ),
    (
        "disposition_unknown",
        "disposition",
        "disposition is not one of " + ", ".join(DISPOSITIONS),
        # BINARY: the column's collation is case- and trailing-space-insensitive; the rule is not.
        "disposition IS NULL OR CAST(disposition AS BINARY) NOT IN (" + ", ".join(f"'{d}'" for d in DISPOSITIONS) + ")",
    ),
)
REJECT_REASONS = {reason: description for reason, _, description, _ in RULES}
REASON_COLUMN = {reason: column for reason, column, _, _ in RULES}


def reject_reason_sql(fold: Fold | None = None) -> str:
    """The reason as one SQL expression (NULL when the row is valid), for a day with ``fold``."""
    def condition(reason: str, cond: str) -> str:
        if reason == "end_before_start" and fold is not None:
            fmt = "%Y-%m-%d %H:%M:%S"  # our own datetimes: safe to inline
            cond += _FOLD_EXCEPTION.format(start=fold.start.strftime(fmt), end=fold.end.strftime(fmt), shift=fold.shift_s)
        return cond

    return "CASE " + " ".join(f"WHEN {condition(reason, cond)} THEN '{reason}'" for reason, _, _, cond in RULES) + " END"


def describe_reject(call_id, reason: str, value) -> str:
    """A sentence naming the row, the value and the rule, for errors and logs."""
    return f"call_id={call_id}: {REASON_COLUMN[reason]}={value!r} breaks rule {reason!r} ({REJECT_REASONS[reason]})"
