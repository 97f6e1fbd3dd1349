"""Reconciliation: per hour, the source's rows must equal loaded + rejected in PostgreSQL."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

from callcentre.common.compat import AirflowFailException
from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.pg import transaction
from callcentre.ivr import metrics
from callcentre.ivr.business_day import HOURS
from callcentre.ivr.options import DEFAULTS
from callcentre.ivr.source import count_by_hour, source_connection

log = logging.getLogger(__name__)

TARGET_COUNTS_SQL = """
SELECT local_hour, count(*) FILTER (WHERE kind = 'loaded'), count(*) FILTER (WHERE kind = 'rejected')
FROM (
    SELECT local_hour, 'loaded' AS kind FROM analytics.calls WHERE business_date = %(d)s
    UNION ALL
    SELECT local_hour, 'rejected' FROM analytics.call_rejects WHERE business_date = %(d)s
) t
GROUP BY local_hour
"""


@dataclass
class DayCounts:
    business_date: str
    source: dict[int, int]
    loaded: dict[int, int]
    rejected: dict[int, int]

    @property
    def source_calls(self) -> int:
        return sum(self.source.values())

    @property
    def rejected_calls(self) -> int:
        return sum(self.rejected.values())

    @property
    def loaded_calls(self) -> int:
        return sum(self.loaded.values())

    def mismatched_hours(self) -> list[int]:
        return [
            h for h in HOURS if self.source.get(h, 0) != self.loaded.get(h, 0) + self.rejected.get(h, 0)
        ]


def count_day(business_date: date, target_conn_id: str = ANALYTICS_POSTGRES) -> DayCounts:
    """The day's rows per hour on both sides. Each count scans the whole day (a second or so for a
    1M-call day): the two servers count at the same time, the source's in a thread of its own."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        source_counted = pool.submit(_count_source, business_date)
        with transaction(target_conn_id) as cur:
            cur.execute(TARGET_COUNTS_SQL, {"d": business_date})
            rows = cur.fetchall()
        source = source_counted.result()
    return DayCounts(
        business_date=business_date.isoformat(),
        source=source,
        loaded={int(h): int(n) for h, n, _ in rows if n},
        rejected={int(h): int(r) for h, _, r in rows if r},
    )


def _count_source(business_date: date) -> dict[int, int]:
    with source_connection() as src:
        return count_by_hour(src, business_date)


class ReconcileMismatch(Exception):
    """An hour this run loaded does not balance even after reloading it: the source is changing
    under us. Transient: Airflow retries reconcile, which reloads the hour again."""


class SourceEmpty(Exception):
    """The source holds fewer calls for the day than the run's ``min_calls``: the IVR or its replica
    may not have written the day yet. Transient: reconcile's retry reloads the hours that arrived."""


def count_day_reloading(business_date: date, hours, reload_hour) -> DayCounts:
    """Count the day; reload once, with ``reload_hour(h)``, every hour of ``hours`` that does not
    balance (a concurrent change in the source between an hour's read and the count), and count again."""
    counts = count_day(business_date)
    stale = [h for h in counts.mismatched_hours() if h in set(hours)]
    if stale:
        log.warning("%s: hours %s changed in the source since their load; reloading them", business_date, stale)
        for hour in stale:
            reload_hour(hour)
        counts = count_day(business_date)
    return counts


def check_day(counts: DayCounts, max_reject_ratio: float, loaded_hours=HOURS,
              min_calls: int = DEFAULTS["min_calls"]) -> None:
    """Fail the run loudly when an hour does not balance (transient, ReconcileMismatch, in an hour
    of ``loaded_hours``; permanent in another: only loading it can fix it), when the source holds
    fewer than ``min_calls`` calls for the day (transient, SourceEmpty: never a green run that
    loaded nothing) or too many rows were rejected."""
    bad = counts.mismatched_hours()
    if bad:
        detail = ", ".join(
            f"hour {h:02d}: source {counts.source.get(h, 0)} != loaded {counts.loaded.get(h, 0)}"
            f" + rejected {counts.rejected.get(h, 0)}"
            for h in bad
        )
        not_ours = [h for h in bad if h not in set(loaded_hours)]
        if not_ours:
            raise AirflowFailException(
                f"reconciliation failed for {counts.business_date}: {detail}. Hours {not_ours} were not loaded by "
                f"this run: clear load_hour for those hours (or the whole run) to reload them."
            )
        raise ReconcileMismatch(
            f"reconciliation failed for {counts.business_date}: {detail}, still after reloading them: the source "
            f"is changing; retrying."
        )
    if counts.source_calls < min_calls:
        raise SourceEmpty(
            f"the IVR source holds {counts.source_calls} calls for {counts.business_date}, fewer than "
            f"min_calls={min_calls}: the IVR or its replica may not have written the day yet; retrying. If the "
            f"day really had so few, trigger it with min_calls={counts.source_calls}."
        )
    if counts.source_calls:
        ratio = counts.rejected_calls / counts.source_calls
        if ratio > max_reject_ratio:
            raise AirflowFailException(
                f"{counts.rejected_calls} of {counts.source_calls} source rows for {counts.business_date} were "
                f"rejected ({ratio:.1%}), above max_reject_ratio={max_reject_ratio:.1%}. They are quarantined in "
                f"analytics.call_rejects with their reasons; fix the source and clear this run."
            )
    log.info(
        "%s reconciled: source %d = loaded %d + rejected %d",
        counts.business_date, counts.source_calls, counts.loaded_calls, counts.rejected_calls,
    )


def gate_and_publish(business_date: date, hours, max_reject_ratio: float, run_id: str,
                     reload_hour, min_calls: int = DEFAULTS["min_calls"]) -> metrics.DailyMetrics:
    """The day's quality gate (every hour balances, those of ``hours`` that changed meanwhile
    reloaded once; the reject ratio), then its ``daily_metrics`` row: a day that fails gets none."""
    counts = count_day_reloading(business_date, hours, reload_hour)
    check_day(counts, max_reject_ratio, loaded_hours=hours, min_calls=min_calls)
    return metrics.refresh_daily_metrics(business_date, run_id)
