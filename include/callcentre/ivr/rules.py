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
caller_missing      ``caller_number`` is NULL, empty or only blanks (space, tab, CR, LF)
disposition_unknown ``disposition`` is not one of :data:`DISPOSITIONS` (exact bytes, upper case)
==================  ===========================================================

Each rule is written twice, side by side: as SQL, which MariaDB evaluates while it streams the
rows (the load's fast path never looks at a row in Python), and as the Python function
:func:`reject_reason`, the readable reference the unit tests pin down. An integration test
(tests/integration/test_ivr_rules_sql.py) runs both on the same rows in MariaDB and requires
the same answer.
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

DISPOSITIONS = ("ANSWERED", "ABANDONED", "TRANSFERRED", "FAILED", "BUSY", "NO ANSWER")
_BLANKS = " \t\r\n"

# (reason, column it is about, description, MariaDB condition), in evaluation order.
RULES = (
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

# The reason as one SQL expression (NULL when the row is valid).
REJECT_REASON_SQL = "CASE " + " ".join(f"WHEN {cond} THEN '{reason}'" for reason, _, _, cond in RULES) + " END"


def reject_reason(row: tuple) -> str | None:
    """The first rule ``row`` (a tuple in :data:`SOURCE_COLUMNS` order) breaks, or None if valid."""
    _, start, end, duration, caller, _, _, disposition, _, _, wait, _ = row
    if duration is None:
        return "duration_missing"
    if duration < 0:
        return "duration_negative"
    if end is not None and end < start:
        return "end_before_start"
    if wait is not None and wait < 0:
        return "wait_negative"
    if caller is None or not caller.strip(_BLANKS):
        return "caller_missing"
    if disposition not in DISPOSITIONS:
        return "disposition_unknown"
    return None


def describe_reject(call_id, reason: str, value) -> str:
    """A sentence naming the row, the value and the rule, for errors and logs."""
    return f"call_id={call_id}: {REASON_COLUMN[reason]}={value!r} breaks rule {reason!r} ({REJECT_REASONS[reason]})"
