"""The jobs page's dashboard over a capped range of days in the person's time zone; every figure
counts the jobs *created* on the range's days (one day axis)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callcentre.common.connections import SCRAPING_POSTGRES
from callcentre.common.pg import transaction
from callcentre.scraping.jobs import STATUSES

DEFAULT_DAYS = 30
MAX_DAYS = 366
MAX_UPLOADERS = 50  # the busiest; the rest are counted, not listed


class BadRange(ValueError):
    """A range or zone the dashboard cannot honour; the message names the parameter."""


@dataclasses.dataclass(frozen=True)
class Range:
    first: date
    last: date  # inclusive
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), self.zone)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), self.zone)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def day_range(from_day: date | None, to_day: date | None, zone_name: str, now: datetime) -> Range:
    """The range asked for; by default the last :data:`DEFAULT_DAYS` days up to today in the zone."""
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise BadRange(f"tz {zone_name[:60]!r} is not a time zone name (e.g. America/Bogota)") from err
    last = to_day or now.astimezone(zone).date()
    first = from_day or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise BadRange(f"from_day {first} is after to_day {last}")
    if (last - first).days >= MAX_DAYS:
        raise BadRange(f"the range covers more than {MAX_DAYS} days: narrow from_day/to_day")
    if first.year < 1900 or last.year > 9000:
        raise BadRange("days must be between years 1900 and 9000")
    return Range(first, last, zone)


_PER_DAY = """
SELECT (created_at AT TIME ZONE %(tz)s)::date AS day, status, count(*), coalesce(sum(processed_numbers), 0)
FROM scraping.jobs WHERE created_at >= %(start)s AND created_at < %(end)s
GROUP BY 1, 2"""
_PER_UPLOADER = """
SELECT uploader, status, count(*)
FROM scraping.jobs WHERE created_at >= %(start)s AND created_at < %(end)s
GROUP BY 1, 2"""
_DURATION = """
SELECT count(*), avg(seconds), percentile_cont(0.95) WITHIN GROUP (ORDER BY seconds)
FROM (SELECT extract(epoch FROM completed_at - created_at) AS seconds
      FROM scraping.jobs WHERE created_at >= %(start)s AND created_at < %(end)s
       AND status = 'completed' AND completed_at IS NOT NULL) AS done"""


def figures(span: Range, conn_id: str = SCRAPING_POSTGRES) -> dict:
    """The dashboard's figures for ``span`` (JSON-ready)."""
    params = {"tz": span.zone.key, "start": span.start, "end": span.end}
    with transaction(conn_id) as cur:
        cur.execute("SET LOCAL statement_timeout = '10s'")
        cur.execute(_PER_DAY, params)
        per_day = cur.fetchall()
        cur.execute(_PER_UPLOADER, params)
        per_uploader = cur.fetchall()
        cur.execute(_DURATION, params)
        completed, avg_s, p95_s = cur.fetchone()

    days = {d: {"day": d.isoformat(), "jobs": dict.fromkeys(STATUSES, 0), "total": 0, "numbers": 0}
            for d in span.days()}
    for day, status, count, numbers in per_day:
        entry = days[day]
        entry["jobs"][status] += count  # the table's CHECK allows only STATUSES
        entry["total"] += count
        entry["numbers"] += int(numbers)

    uploaders: dict[str, dict] = {}
    for uploader, status, count in per_uploader:
        entry = uploaders.setdefault(uploader, {"uploader": uploader, "completed": 0, "failed": 0, "timeout": 0,
                                                "active": 0, "total": 0})
        entry[status if status in ("completed", "failed", "timeout") else "active"] += count
        entry["total"] += count
    ranked = sorted(uploaders.values(), key=lambda u: (-u["total"], u["uploader"]))

    return {
        "from_day": span.first.isoformat(), "to_day": span.last.isoformat(), "timezone": span.zone.key,
        "statuses": list(STATUSES),
        "days": list(days.values()),
        "uploaders": ranked[:MAX_UPLOADERS],
        "more_uploaders": max(0, len(ranked) - MAX_UPLOADERS),
        "completion": {"completed": completed,
                       "average_s": round(float(avg_s), 1) if avg_s is not None else None,
                       "p95_s": round(float(p95_s), 1) if p95_s is not None else None},
    }
