from datetime import datetime

import pytest

from callcentre.ivr.rules import DISPOSITIONS, REJECT_REASONS, describe_reject, reject_reason


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
