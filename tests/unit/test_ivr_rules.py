from datetime import datetime

import pytest

from callcentre.ivr.columns import SOURCE_NAMES
from callcentre.ivr.rules import DISPOSITIONS, REJECT_REASONS, Fold, describe_reject

_BLANKS = " \t\r\n"


def _as_time(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _valid_time(value) -> bool:
    """A datetime, or text that is one (zero and impossible dates come through as text)."""
    try:
        _as_time(value)
        return True
    except ValueError:
        return False


def _ends_before_start(start: datetime, end: datetime, fold: Fold | None) -> bool:
    if end >= start:
        return False
    if fold is not None and fold.start <= start < fold.end and end >= fold.start:
        return (end - start).total_seconds() + fold.shift_s < 0
    return True


def reject_reason(row: tuple, fold: Fold | None = None) -> str | None:
    """The rules of callcentre.ivr.rules as readable Python, the reference their SQL must agree with:
    the first rule ``row`` (a tuple in columns.SOURCE order) breaks, or None if valid; ``fold`` is
    the repeated window of the row's day (rules.fall_back_fold), if it has one."""
    values = dict(zip(SOURCE_NAMES, row, strict=True))
    start, end, updated = values["start_time"], values["end_time"], values["updated_at"]
    duration, wait, caller, disposition = (values["duration"], values["wait_seconds"], values["caller_number"],
                                           values["disposition"])
    if end is not None and not _valid_time(end):
        return "end_time_invalid"
    if not _valid_time(updated):
        return "updated_at_invalid"
    if duration is None:
        return "duration_missing"
    if duration < 0:
        return "duration_negative"
    if end is not None and _ends_before_start(_as_time(start), _as_time(end), fold):
        return "end_before_start"
    if wait is not None and wait < 0:
        return "wait_negative"
    if caller is None or not caller.strip(_BLANKS):
        return "caller_missing"
    if disposition not in DISPOSITIONS:
        return "disposition_unknown"
    return None


def call(**overrides):
    row = {
        "call_id": 1,
        "start_time": "2026-11-20 10:00:00",
        "end_time": "2026-11-20 10:05:00",
        "duration": 300,
        "caller_number": "3001234567",
        "dialed_number": "6015550100",
        "ivr_path": "1>3>2",
        "disposition": "ANSWERED",
        "queue_name": "ventas",
        "agent_id": 101,
        "wait_seconds": 12,
        "updated_at": "2026-11-20 10:05:01",
    }
    row.update(overrides)
    return tuple(row.values())


def test_a_complete_call_is_valid():
    assert reject_reason(call()) is None


@pytest.mark.parametrize("disposition", sorted(DISPOSITIONS))
def test_every_known_disposition_is_valid(disposition):
    assert reject_reason(call(disposition=disposition)) is None


def test_optional_columns_may_be_null():
    row = call(end_time=None, ivr_path=None, queue_name=None, agent_id=None, wait_seconds=None, dialed_number=None)
    assert reject_reason(row) is None


def test_zero_duration_and_zero_wait_are_valid():
    assert reject_reason(call(duration=0, wait_seconds=0, end_time="2026-11-20 10:00:00")) is None


CASES = [
        ({"duration": None}, "duration_missing"),
        ({"duration": -1}, "duration_negative"),
        ({"end_time": "2026-11-20 09:59:59"}, "end_before_start"),
        ({"wait_seconds": -5}, "wait_negative"),
        ({"caller_number": None}, "caller_missing"),
        ({"caller_number": ""}, "caller_missing"),
        ({"caller_number": " \t "}, "caller_missing"),
        ({"caller_number": "\r\n"}, "caller_missing"),
        ({"disposition": "VOICEMAIL"}, "disposition_unknown"),
        ({"disposition": "answered"}, "disposition_unknown"),
        ({"disposition": "ANSWERED "}, "disposition_unknown"),
        ({"disposition": None}, "disposition_unknown"),
]


@pytest.mark.parametrize(("overrides", "reason"), CASES)
def test_each_rule(overrides, reason):
    assert reject_reason(call(**overrides)) == reason
    assert reason in REJECT_REASONS


def test_first_broken_rule_wins():
    assert reject_reason(call(duration=-1, caller_number=None, disposition="X")) == "duration_negative"


def test_datetime_values_work_as_well_as_text():
    row = call(start_time=datetime(2026, 11, 20, 10), end_time=datetime(2026, 11, 20, 9), updated_at=datetime(2026, 11, 20, 10))
    assert reject_reason(row) == "end_before_start"


def test_description_names_row_value_and_rule():
    text = describe_reject(42, "wait_negative", -7)
    assert "call_id=42" in text and "wait_seconds=-7" in text and "'wait_negative'" in text
