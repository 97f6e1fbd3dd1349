"""Reconciliation: per hour, the source's rows must equal loaded + rejected in PostgreSQL."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import date

from callcentre.common.compat import AirflowFailException
from callcentre.common.connections import ANALYTICS_POSTGRES, IVR_MARIADB
from callcentre.common.pg import transaction
from callcentre.ivr.business_day import HOURS
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

    def as_dict(self) -> dict:
        data = asdict(self)
        # XCom round-trips through JSON: keep hour keys as strings there, ints here.
        for key in ("source", "loaded", "rejected"):
            data[key] = {str(h): n for h, n in data[key].items()}
        return data

    @classmethod
    def from_dict(cls, data: dict) -> DayCounts:
        return cls(
            business_date=data["business_date"],
            **{k: {int(h): int(n) for h, n in data[k].items()} for k in ("source", "loaded", "rejected")},
        )


def count_day(business_date: date, source_conn_id: str = IVR_MARIADB, target_conn_id: str = ANALYTICS_POSTGRES) -> DayCounts:
    with source_connection(source_conn_id) as src:
        source = count_by_hour(src, business_date)
    with transaction(target_conn_id) as cur:
        cur.execute(TARGET_COUNTS_SQL, {"d": business_date})
        rows = cur.fetchall()
    return DayCounts(
        business_date=business_date.isoformat(),
        source=source,
        loaded={int(h): int(n) for h, n, _ in rows if n},
        rejected={int(h): int(r) for h, _, r in rows if r},
    )


def check_day(counts: DayCounts, max_reject_ratio: float) -> None:
    """Fail the run loudly when an hour does not balance or too many rows were rejected."""
    bad = counts.mismatched_hours()
    if bad:
        detail = ", ".join(
            f"hour {h:02d}: source {counts.source.get(h, 0)} != loaded {counts.loaded.get(h, 0)}"
            f" + rejected {counts.rejected.get(h, 0)}"
            for h in bad
        )
        raise AirflowFailException(
            f"reconciliation failed for {counts.business_date}: {detail}. The source changed after the load or "
            f"an hour was not loaded: clear load_hour for those hours (or the whole run) to reload them."
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
