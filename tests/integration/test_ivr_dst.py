"""DST days: 24 wall-clock partitions, no call lost or doubled, the documented timestamptz rule."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from callcentre.ivr import reconcile, synthetic
from callcentre.ivr.business_day import HOURS
from callcentre.ivr.load import load_hour
from tests.integration.ivr_support import ensure_tables, loaded, make_call, reset_day

ZONE = "America/New_York"
FALL_BACK = date(2026, 11, 1)  # 01:00-01:59 happens twice
SPRING_FORWARD = date(2026, 3, 8)  # 02:00-02:59 does not exist


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def clean():
    ensure_tables()
    for day in (FALL_BACK, SPRING_FORWARD):
        reset_day(day)
    yield
    for day in (FALL_BACK, SPRING_FORWARD):
        reset_day(day)


def load(day):
    for hour in HOURS:
        load_hour(day, hour, tz_name=ZONE, run_id="dst")
    counts = reconcile.count_day(day)
    reconcile.check_day(counts, 0.05)
    return counts


def test_fall_back_day_keeps_both_occurrences_of_the_repeated_hour():
    naive = [
        datetime(2026, 11, 1, 0, 30),
        datetime(2026, 11, 1, 1, 15),  # ambiguous: 05:15Z (EDT) or 06:15Z (EST)
        datetime(2026, 11, 1, 1, 45),
        datetime(2026, 11, 1, 2, 10),
    ]
    synthetic.write_calls([make_call(500 + i, t) for i, t in enumerate(naive)])
    counts = load(FALL_BACK)
    assert counts.source_calls == counts.loaded_calls == 4
    rows = {r[0]: r for r in loaded(FALL_BACK)}
    assert {r[1] for r in rows.values()} == {0, 1, 2}
    # The rule: an ambiguous local time is read as standard time (the later instant).
    assert rows[500][2] == utc(2026, 11, 1, 4, 30)
    assert rows[501][2] == utc(2026, 11, 1, 6, 15)
    assert rows[503][2] == utc(2026, 11, 1, 7, 10)
    assert rows[501][4] == naive[1]  # the wall-clock value is kept as read


def test_spring_forward_day_has_an_empty_hour_and_shifts_impossible_times_forward():
    naive = [datetime(2026, 3, 8, 1, 59), datetime(2026, 3, 8, 2, 30), datetime(2026, 3, 8, 3, 0)]
    synthetic.write_calls([make_call(600 + i, t) for i, t in enumerate(naive)])
    counts = load(SPRING_FORWARD)
    assert counts.source_calls == counts.loaded_calls == 3
    rows = {r[0]: r for r in loaded(SPRING_FORWARD)}
    assert rows[600][2] == utc(2026, 3, 8, 6, 59)  # 01:59 EST
    # The rule: a non-existent local time uses the offset before the jump, so 02:30 is 03:30 EDT.
    assert rows[601][2] == utc(2026, 3, 8, 7, 30)
    assert rows[602][2] == utc(2026, 3, 8, 7, 0)  # 03:00 EDT
    assert rows[601][1] == 2  # still in its wall-clock partition
