"""Drift: a loaded day that no longer matches its source, found hour by hour (rows and a checksum
of the stored columns, source against target) and repaired by DAG ``ivr_drift_check``
(docs/ivr.md, "Drift").

The checksum is the sum of the first 60 bits of the MD5 of each row's values joined by ``|``
(``NULL`` for a NULL), computed alike by MariaDB and PostgreSQL: both print a DATETIME /
timestamp as ``YYYY-MM-DD hh:mm:ss`` and an integer in decimal, and hash UTF-8 bytes. A zero or
impossible date reads as NULL on both sides, as the load stores it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial

from callcentre.common import compat
from callcentre.common.compat import AirflowFailException
from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.pg import transaction
from callcentre.common.slack import send_slack
from callcentre.ivr import alert_messages, columns, load, reconcile, schema
from callcentre.ivr.business_day import HOURS, day_window, first_business_day, parse_timezone
from callcentre.ivr.runtime import timezone_name
from callcentre.ivr.source import ID_RANGE_SQL, source_connection

log = logging.getLogger(__name__)

DEFAULT_DAYS = 7
NULL = "NULL"


def _source_value(column: columns.Column) -> str:
    if column.csv == "time":  # a zero or impossible date is NULL, as the load reads it
        return f"IFNULL({column.name} + INTERVAL 0 SECOND, '{NULL}')"
    return f"IFNULL({column.name}, '{NULL}')"


# The day is read through its slice of the primary key (the id bounds from the start_time index,
# as the extract reads an hour): MariaDB examines the day's rows, not the table's.
SOURCE_SUMS_SQL = (
    "SELECT HOUR(start_time), COUNT(*), SUM(CAST(CONV(LEFT(MD5(CONCAT_WS('|', "
    + ", ".join(_source_value(c) for c in columns.SOURCE)
    + ")), 15), 16, 10) AS UNSIGNED)) FROM calls"
    " WHERE call_id BETWEEN %s AND %s AND start_time >= %s AND start_time < %s GROUP BY HOUR(start_time)"
)


def _target_row(names: tuple[str, ...]) -> str:
    return "concat_ws('|', " + ", ".join(f"coalesce({c}::text, '{NULL}')" for c in names) + ")"


TARGET_SUMS_SQL = f"""
SELECT local_hour, count(*), coalesce(sum(('x' || left(md5(r), 15))::bit(60)::bigint), 0)
FROM (
    SELECT local_hour, {_target_row(columns.compared("calls"))} AS r FROM analytics.calls WHERE business_date = %(d)s
    UNION ALL
    SELECT local_hour, {_target_row(columns.compared("rejects"))} FROM analytics.call_rejects WHERE business_date = %(d)s
) t
GROUP BY local_hour
"""


Sums = tuple[int, int]  # (rows, checksum)


def _sums(rows) -> dict[int, Sums]:
    return {int(h): (int(n), int(Decimal(s or 0))) for h, n, s in rows}


def source_sums(day: date) -> dict[int, Sums]:
    """Per hour of ``day``: (rows, checksum) in MariaDB; hours without rows are absent."""
    start, end = day_window(day)
    with source_connection() as src:
        src.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        src.query("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")  # the bounds and the sums alike
        try:
            with src.cursor() as cursor:
                cursor.execute(ID_RANGE_SQL, (start, end))
                low, high = cursor.fetchone()
                cursor.execute(SOURCE_SUMS_SQL, (low, high, start, end))
                return _sums(cursor.fetchall())
        finally:
            src.rollback()


def hour_differences(day: date) -> dict[int, tuple[Sums, Sums]]:
    """The hours of ``day`` that differ: {hour: ((source rows, checksum), (target rows, checksum))}."""
    source = source_sums(day)
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(TARGET_SUMS_SQL, {"d": day})
        target = _sums(cur.fetchall())
    pairs = {h: (source.get(h, (0, 0)), target.get(h, (0, 0))) for h in HOURS}
    return {h: pair for h, pair in pairs.items() if pair[0] != pair[1]}


def find_drift(last_day: date, days: int, run_id: str | None = None) -> list[dict]:
    """The hours to reload, ``[{"day": "YYYY-MM-DD", "hour": h}, ...]``, over the ``days`` loaded
    days ending with ``last_day``; with ``run_id``, what was found is recorded."""
    with transaction(ANALYTICS_POSTGRES) as cur:  # loaded days: they passed their gate once
        cur.execute("SELECT metric_date FROM analytics.daily_metrics WHERE metric_date BETWEEN %s AND %s ORDER BY 1",
                    (last_day - timedelta(days=days - 1), last_day))
        loaded = [d for (d,) in cur.fetchall()]
    checked = {}
    for day in loaded:
        checked[day] = hour_differences(day)
        if checked[day]:
            log.info("%s: hours %s differ from the source", day, sorted(checked[day]))
    if run_id is not None:
        record_check(run_id, checked)
    return [{"day": day.isoformat(), "hour": h} for day, diffs in checked.items() for h in sorted(diffs)]


# --- The record of the checks (analytics.drift_checks, drift_hours), read by the IVR days page ----

RECORD_CHECK_SQL = """
INSERT INTO analytics.drift_checks (business_date, run_id, drifted_hours) VALUES (%(d)s, %(run)s, %(hours)s)
ON CONFLICT (business_date, run_id) DO UPDATE
SET checked_at = now(), drifted_hours = EXCLUDED.drifted_hours, repaired_at = NULL, repair_error = NULL"""
RECORD_HOUR_SQL = """
INSERT INTO analytics.drift_hours (business_date, run_id, local_hour, source_rows, source_checksum, target_rows,
                                   target_checksum)
VALUES (%s, %s, %s, %s, %s, %s, %s)"""


def record_check(run_id: str, checked: dict[date, dict[int, tuple[Sums, Sums]]]) -> None:
    """One record per day compared (its drifted hours, none when it matched) and one per drifted
    hour (both sides' rows and checksum). A retry of the same run rewrites its own records."""
    schema.migrate()
    with transaction(ANALYTICS_POSTGRES) as cur:
        for day, diffs in checked.items():
            cur.execute(RECORD_CHECK_SQL, {"d": day, "run": run_id, "hours": sorted(diffs)})
            cur.execute("DELETE FROM analytics.drift_hours WHERE business_date = %s AND run_id = %s", (day, run_id))
            for hour, ((src_rows, src_sum), (tgt_rows, tgt_sum)) in sorted(diffs.items()):
                cur.execute(RECORD_HOUR_SQL, (day, run_id, hour, src_rows, src_sum, tgt_rows, tgt_sum))


def record_repairs(run_id: str, report: RepairReport) -> None:
    """A day that passed its gate is repaired; one that failed keeps its drift, with the reason."""
    with transaction(ANALYTICS_POSTGRES) as cur:
        for day in report.repaired:
            cur.execute("UPDATE analytics.drift_checks SET repaired_at = now(), repair_error = NULL "
                        "WHERE business_date = %s AND run_id = %s", (day, run_id))
        for day, why in report.failed.items():
            cur.execute("UPDATE analytics.drift_checks SET repaired_at = NULL, repair_error = %s "
                        "WHERE business_date = %s AND run_id = %s", (why, day, run_id))


@dataclass
class RepairReport:
    """What one repair batch did, for its one Slack message."""

    repaired: dict[str, list[int]] = field(default_factory=dict)  # day -> hours reloaded, gate passed
    failed: dict[str, str] = field(default_factory=dict)  # day -> why it was not published (no metrics)

    def message(self, dag_id: str, run_id: str) -> str:
        return alert_messages.drift_batch_message(dag_id, run_id, self.repaired, self.failed)


def repair_days(drift: list[dict], *, run_id: str, max_reject_ratio: float, tz_name: str) -> RepairReport:
    """Gate and publish every day of ``drift`` whose hours the mapped tasks all reloaded, as a
    normal run does (reconcile.gate_and_publish); a day with an hour left unreloaded (its task
    failed: the source lost it, out of retries) keeps its metrics and does not hold back the others."""
    report = RepairReport()
    by_day: dict[str, list[int]] = {}
    for item in drift:
        by_day.setdefault(item["day"], []).append(int(item["hour"]))
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute("SELECT business_date::text, local_hour FROM analytics.drift_hours"
                    " WHERE run_id = %s AND reloaded_at IS NULL ORDER BY 2", (run_id,))
        left: dict[str, list[int]] = {}
        for text, hour in cur.fetchall():
            left.setdefault(text, []).append(hour)
    for text, hours in sorted(by_day.items()):
        day, hours = date.fromisoformat(text), sorted(hours)
        if text in left:
            report.failed[text] = alert_messages.words()["drift_not_reloaded"].format(hours=alert_messages.hour_list(left[text]))
            continue
        try:
            reconcile.gate_and_publish(day, hours, max_reject_ratio, run_id,
                                       reload_hour=partial(load.load_hour, day, tz_name=tz_name, run_id=run_id))
            report.repaired[text] = hours
        except Exception as err:  # noqa: BLE001 - reported in the batch's message, then the run fails
            report.failed[text] = alert_messages.words()["drift_gate_failed"].format(error=err)[:300]
    return report


# --- The tasks of dags/ivr_drift_check.py ---------------------------------------------------------

def _params(context) -> tuple[date, int, float]:
    """The run's last day (param ``last_day``, default the day before today in the IVR zone), how
    many days back it looks (``days``) and the gate's reject ratio; AirflowFailException when bad."""
    params = dict(context["params"])
    try:
        days = int(params.get("days") or DEFAULT_DAYS)
        ratio = float(params["max_reject_ratio"])
        text = (params.get("last_day") or "").strip()
        last_day = (date.fromisoformat(text) if text
                    else datetime.now(parse_timezone(timezone_name())).date() - timedelta(days=1))
    except (TypeError, ValueError, KeyError) as err:
        raise AirflowFailException(f"ivr_drift_check params {params}: {err}") from err
    if days < 1 or not 0 <= ratio <= 1:
        raise AirflowFailException(f"ivr_drift_check: days={days} must be >= 1 and max_reject_ratio={ratio} in [0, 1]")
    # Days before the first business day hold nothing to compare.
    days = min(days, (last_day - first_business_day()).days + 1)
    return last_day, max(days, 0), ratio


def find_task(context) -> list[dict]:
    last_day, days, _ = _params(context)
    try:
        schema.apply_retention(last_day + timedelta(days=1))  # housekeeping: off unless IVR_RETENTION_DAYS
    except ValueError as err:
        raise AirflowFailException(str(err)) from err
    if not days:
        return []
    found = find_drift(last_day, days, run_id=context["run_id"])
    log.info("%d hour(s) to reload over the %d day(s) up to %s", len(found), days, last_day)
    return found


def reload_task(day: str, hour: int, context) -> None:
    compat.get_current_context()["hour_label"] = f"{day} hour {hour:02d}"  # the map_index_template
    business_date, run_id = date.fromisoformat(day), context["run_id"]
    _mark_reloaded(business_date, run_id, hour, False)  # a cleared task that fails now is not reloaded
    load.load_hour(business_date, hour, tz_name=timezone_name(), run_id=run_id,
                   try_number=int(context["ti"].try_number))
    _mark_reloaded(business_date, run_id, hour, True)


def _mark_reloaded(day: date, run_id: str, hour: int, reloaded: bool) -> None:
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute("UPDATE analytics.drift_hours SET reloaded_at = CASE WHEN %s THEN now() END "
                    "WHERE business_date = %s AND run_id = %s AND local_hour = %s", (reloaded, day, run_id, hour))


def publish_task(drift: list[dict] | None, context) -> dict:
    """Gate and publish the repaired days, with ONE Slack message for the batch: this one, or, when
    a day could not be repaired (an hour not reloaded, or the gate failed), the run's failure
    alert, which carries the same summary."""
    if drift is None:  # Airflow 2.11's all_done runs this after a failed find_drift too
        raise AirflowFailException("find_drift failed: nothing to publish")
    _, _, ratio = _params(context)
    drift = list(drift)
    report = repair_days(drift, run_id=context["run_id"], max_reject_ratio=ratio, tz_name=timezone_name())
    record_repairs(context["run_id"], report)
    text = report.message(context["dag"].dag_id, context["run_id"])
    if report.failed:
        raise AirflowFailException(text)
    if drift:
        send_slack(text)
    return asdict(report)
