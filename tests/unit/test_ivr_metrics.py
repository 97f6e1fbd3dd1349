from decimal import Decimal

import pytest

from callcentre.ivr.metrics import CallGroup, compute_daily_metrics


def group(hour, disposition, calls, duration_sum=0, wait_count=0, wait_sum=0, within=0):
    return CallGroup(hour, disposition, calls, duration_sum, wait_count, wait_sum, within)


def test_a_day_of_calls():
    groups = [
        group(9, "ANSWERED", 6, duration_sum=600, wait_count=6, wait_sum=90, within=4),
        group(9, "ABANDONED", 2, duration_sum=10, wait_count=2, wait_sum=100),
        group(10, "ANSWERED", 2, duration_sum=300, wait_count=1, wait_sum=5, within=1),
        group(10, "TRANSFERRED", 1, duration_sum=60),
        group(11, "BUSY", 1),
        group(11, "NO ANSWER", 1),
        group(11, "FAILED", 1),
    ]
    m = compute_daily_metrics("2026-11-20", source_calls=16, rejected_calls=2, groups=groups)
    assert (m.total_calls, m.rejected_calls, m.source_calls) == (14, 2, 16)
    assert (m.answered_calls, m.abandoned_calls, m.transferred_calls, m.failed_calls) == (8, 2, 1, 3)
    assert m.avg_duration_s == Decimal("69.29")  # 970 / 14
    assert m.avg_wait_s == Decimal("21.67")  # 195 / 9 calls with a wait
    assert m.abandonment_rate == Decimal("0.1429")  # 2 / 14
    assert m.service_level_20s == Decimal("0.6250")  # 5 of 8 answered within 20 s
    assert m.peak_hour == 9


def test_peak_hour_tie_goes_to_the_earliest_hour():
    groups = [group(15, "ANSWERED", 3, wait_count=3), group(8, "ANSWERED", 3, wait_count=3), group(2, "FAILED", 1)]
    assert compute_daily_metrics("d", 7, 0, groups).peak_hour == 8


def test_no_calls_at_all():
    m = compute_daily_metrics("2026-11-20", source_calls=3, rejected_calls=3, groups=[])
    assert m.total_calls == 0
    assert m.abandonment_rate == Decimal("0")
    assert m.service_level_20s is None
    assert m.avg_duration_s is None and m.avg_wait_s is None and m.peak_hour is None


def test_service_level_is_null_when_nothing_was_answered():
    m = compute_daily_metrics("d", 2, 0, [group(3, "ABANDONED", 2, wait_count=2, wait_sum=40)])
    assert m.service_level_20s is None
    assert m.abandonment_rate == Decimal("1.0000")


def test_answered_calls_without_wait_count_against_service_level():
    m = compute_daily_metrics("d", 4, 0, [group(3, "ANSWERED", 4, wait_count=2, wait_sum=10, within=2)])
    assert m.service_level_20s == Decimal("0.5000")
    assert m.avg_wait_s == Decimal("5.00")


def test_unbalanced_counts_are_refused():
    with pytest.raises(ValueError, match="source_calls"):
        compute_daily_metrics("d", 10, 1, [group(3, "ANSWERED", 4)])
