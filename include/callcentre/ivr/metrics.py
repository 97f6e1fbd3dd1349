"""``analytics.daily_metrics``: SQL aggregates the day's calls, :func:`compute_daily_metrics` does
the arithmetic, :func:`refresh_daily_metrics` reads one snapshot and upserts the row."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields
from decimal import ROUND_HALF_UP, Decimal

from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.pg import transaction

log = logging.getLogger(__name__)

SERVICE_LEVEL_WAIT_S = 20

# One row per (local_hour, disposition): the only figures the metrics need.
AGGREGATE_SQL = """
SELECT local_hour, disposition, count(*), sum(duration), count(wait_seconds), coalesce(sum(wait_seconds), 0),
       count(*) FILTER (WHERE wait_seconds <= %(sl)s)
FROM analytics.calls WHERE business_date = %(d)s
GROUP BY local_hour, disposition
"""

@dataclass(frozen=True)
class CallGroup:
    """Aggregates of the valid calls of one (local hour, disposition)."""

    hour: int
    disposition: str
    calls: int
    duration_sum: int
    wait_count: int
    wait_sum: int
    within_service_level: int


@dataclass(frozen=True)
class DailyMetrics:
    metric_date: str
    source_calls: int
    total_calls: int
    rejected_calls: int
    answered_calls: int
    abandoned_calls: int
    transferred_calls: int
    failed_calls: int
    avg_duration_s: Decimal | None
    avg_wait_s: Decimal | None
    abandonment_rate: Decimal
    service_level_20s: Decimal | None
    peak_hour: int | None

    def as_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}


_COLUMNS = [*(f.name for f in fields(DailyMetrics)), "computed_by_run_id"]
UPSERT_SQL = (
    f"INSERT INTO analytics.daily_metrics ({', '.join(_COLUMNS)}, computed_at) "
    f"VALUES ({', '.join(f'%({c})s' for c in _COLUMNS)}, now()) ON CONFLICT (metric_date) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in (*_COLUMNS[1:], "computed_at"))
)


def _ratio(numerator: int, denominator: int, places: str) -> Decimal:
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def compute_daily_metrics(metric_date: str, source_calls: int, rejected_calls: int, groups: list[CallGroup]) -> DailyMetrics:
    """The day's metrics from its (hour, disposition) aggregates.

    failed_calls counts every disposition other than ANSWERED, ABANDONED and TRANSFERRED;
    abandonment_rate is 0 when there are no calls; service_level_20s is NULL when none was
    answered; peak_hour is the earliest hour with the most calls (NULL when there are none).
    """
    by_disposition: dict[str, int] = {}
    by_hour: dict[int, int] = {}
    for g in groups:
        by_disposition[g.disposition] = by_disposition.get(g.disposition, 0) + g.calls
        by_hour[g.hour] = by_hour.get(g.hour, 0) + g.calls
    total = sum(g.calls for g in groups)
    answered = by_disposition.get("ANSWERED", 0)
    abandoned = by_disposition.get("ABANDONED", 0)
    transferred = by_disposition.get("TRANSFERRED", 0)
    wait_count = sum(g.wait_count for g in groups)
    answered_within = sum(g.within_service_level for g in groups if g.disposition == "ANSWERED")
    if source_calls != total + rejected_calls:
        raise ValueError(f"{metric_date}: source_calls {source_calls} != total {total} + rejected {rejected_calls}")
    return DailyMetrics(
        metric_date=metric_date,
        source_calls=source_calls,
        total_calls=total,
        rejected_calls=rejected_calls,
        answered_calls=answered,
        abandoned_calls=abandoned,
        transferred_calls=transferred,
        failed_calls=total - answered - abandoned - transferred,
        avg_duration_s=_ratio(sum(g.duration_sum for g in groups), total, "0.01") if total else None,
        avg_wait_s=_ratio(sum(g.wait_sum for g in groups), wait_count, "0.01") if wait_count else None,
        abandonment_rate=_ratio(abandoned, total, "0.0001") if total else Decimal("0.0000"),
        service_level_20s=_ratio(answered_within, answered, "0.0001") if answered else None,
        peak_hour=min(by_hour, key=lambda h: (-by_hour[h], h)) if by_hour else None,
    )


def refresh_daily_metrics(business_date, run_id: str) -> DailyMetrics:
    """Compute and upsert the day's row from ONE snapshot of the target (REPEATABLE READ): an hour
    reloaded meanwhile is wholly in the figures or wholly out. ``source_calls`` is loaded + rejected
    of that snapshot, which reconcile has just proved equal to the source."""
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur.execute(AGGREGATE_SQL, {"d": business_date, "sl": SERVICE_LEVEL_WAIT_S})
        groups = [CallGroup(int(h), d, int(c), int(ds), int(wc), int(ws), int(sl))
                  for h, d, c, ds, wc, ws, sl in cur.fetchall()]
        cur.execute("SELECT count(*) FROM analytics.call_rejects WHERE business_date = %s", (business_date,))
        rejected_calls = int(cur.fetchone()[0])
        result = compute_daily_metrics(
            str(business_date), sum(g.calls for g in groups) + rejected_calls, rejected_calls, groups
        )
        cur.execute(UPSERT_SQL, {**asdict(result), "computed_by_run_id": run_id})
    log.info("daily_metrics for %s: %s", result.metric_date, result.as_dict())
    return result
