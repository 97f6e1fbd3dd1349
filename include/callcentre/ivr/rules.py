"""The validation rules for a source call: the one place they are written down.

A source row is loaded into ``analytics.calls`` only when it breaks none of these rules; otherwise it
is quarantined in ``analytics.call_rejects`` with the first rule it breaks (checked in this order):

==================  ===========================================================
reason              the row is invalid when
==================  ===========================================================
duration_missing    ``duration`` is NULL
duration_negative   ``duration`` < 0
end_before_start    ``end_time`` is set and earlier than ``start_time``
wait_negative       ``wait_seconds`` < 0
caller_missing      ``caller_number`` is NULL, empty or only whitespace
disposition_unknown ``disposition`` is not one of :data:`DISPOSITIONS` (exact, upper case)
==================  ===========================================================
"""

from __future__ import annotations

# The source's columns, in the order the extract query returns them.
SOURCE_COLUMNS = (
    "call_id",
    "start_time",
    "end_time",
    "duration",
    "caller_number",
    "dialed_number",
    "ivr_path",
    "disposition",
    "queue_name",
    "agent_id",
    "wait_seconds",
    "updated_at",
)

DISPOSITIONS = frozenset({"ANSWERED", "ABANDONED", "TRANSFERRED", "FAILED", "BUSY", "NO ANSWER"})

REJECT_REASONS = {
    "duration_missing": "duration is NULL",
    "duration_negative": "duration is negative",
    "end_before_start": "end_time is before start_time",
    "wait_negative": "wait_seconds is negative",
    "caller_missing": "caller_number is NULL or blank",
    "disposition_unknown": "disposition is not one of " + ", ".join(sorted(DISPOSITIONS)),
}

# Which column each rule is about (to quote the offending value in errors).
REASON_COLUMN = {
    "duration_missing": "duration",
    "duration_negative": "duration",
    "end_before_start": "end_time",
    "wait_negative": "wait_seconds",
    "caller_missing": "caller_number",
    "disposition_unknown": "disposition",
}


def reject_reason(row: tuple) -> str | None:
    """The first rule ``row`` (a tuple in :data:`SOURCE_COLUMNS` order) breaks, or None if valid.

    Times may be ``datetime`` objects or ``'YYYY-MM-DD HH:MM:SS'`` strings (the extract reads them
    as strings, which compare correctly as text); both sides must be of the same kind.
    """
    # Unpacking by position keeps this hot loop cheap (it runs once per source row).
    _, start, end, duration, caller, _, _, disposition, _, _, wait, _ = row
    if duration is None:
        return "duration_missing"
    if duration < 0:
        return "duration_negative"
    if end is not None and end < start:
        return "end_before_start"
    if wait is not None and wait < 0:
        return "wait_negative"
    if caller is None or not caller.strip():
        return "caller_missing"
    if disposition not in DISPOSITIONS:
        return "disposition_unknown"
    return None


def describe_reject(row: tuple, reason: str) -> str:
    """A sentence naming the row, the value and the rule, for errors and logs."""
    column = REASON_COLUMN[reason]
    value = row[SOURCE_COLUMNS.index(column)]
    return f"call_id={row[0]}: {column}={value!r} breaks rule {reason!r} ({REJECT_REASONS[reason]})"
