"""What the IVR days page reads from the analytics tables (read-only): a table that does not exist
yet (no run so far) reads as empty, so the page works on a fresh install."""

from __future__ import annotations

from datetime import date

from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.pg import transaction
from callcentre.ivr.alert_messages import IVR_DAG_ID

METRICS = "analytics.daily_metrics"
LEDGER = "analytics.etl_batches"
REJECTS = "analytics.call_rejects"
ALERTS = "analytics.alert_log"
DRIFT_CHECKS = "analytics.drift_checks"
DRIFT_HOURS = "analytics.drift_hours"

# The day's figures shown on the page, in this order (columns of daily_metrics).
METRIC_COLUMNS = (
    "source_calls", "total_calls", "rejected_calls", "answered_calls", "abandoned_calls", "transferred_calls",
    "failed_calls", "avg_duration_s", "avg_wait_s", "abandonment_rate", "service_level_20s", "peak_hour",
    "computed_by_run_id", "computed_at",
)
MESSAGE_CHARS = 4000  # an alert is a few lines; a cap keeps one odd row from bloating the page


def _existing(cur, *tables: str) -> set[str]:
    cur.execute("SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(t) IS NOT NULL", (list(tables),))
    return {row[0] for row in cur.fetchall()}


def _select(cur, present: set[str], table: str, sql: str, params: tuple) -> list[tuple]:
    """The rows of ``sql`` (which reads ``table``); none while ``table`` does not exist yet."""
    if table not in present:
        return []
    cur.execute(sql, params)
    return cur.fetchall()


def calendar(first: date, last: date) -> tuple[dict[date, dict], set[date]]:
    """({day: source/loaded/rejected counts} of the loaded days, {days a deadline alert was sent for})."""
    with transaction(ANALYTICS_POSTGRES) as cur:
        present = _existing(cur, METRICS, ALERTS)
        loaded = {d: {"source_calls": s, "loaded_calls": t, "rejected_calls": r} for d, s, t, r in _select(
            cur, present, METRICS, f"SELECT metric_date, source_calls, total_calls, rejected_calls FROM {METRICS} "
            "WHERE metric_date BETWEEN %s AND %s", (first, last))}
        alerted = {row[0] for row in _select(
            cur, present, ALERTS, f"SELECT DISTINCT business_date FROM {ALERTS} WHERE dag_id = %s "
            "AND kind = 'deadline_missed' AND business_date BETWEEN %s AND %s", (IVR_DAG_ID, first, last))}
        return loaded, alerted


def day_detail(day: date) -> dict:
    """Everything the page shows about one day: metrics, rejects by rule, the hours, the alerts."""
    with transaction(ANALYTICS_POSTGRES) as cur:
        present = _existing(cur, METRICS, LEDGER, REJECTS, ALERTS)
        metrics = _select(cur, present, METRICS, f"SELECT {', '.join(METRIC_COLUMNS)} FROM {METRICS} "
                          "WHERE metric_date = %s", (day,))
        rejects = _select(cur, present, REJECTS, f"SELECT reject_reason, count(*) FROM {REJECTS} "
                          "WHERE business_date = %s GROUP BY 1", (day,))
        # Per hour: its latest attempt (by start) and how many attempts the ledger holds, whichever
        # DAG made them (the day's runs, the drift check's repairs).
        hours = _select(cur, present, LEDGER, f"""
            SELECT DISTINCT ON (local_hour) local_hour, outcome, rows_read, rows_loaded, rows_rejected,
                   dag_id, run_id, try_number, started_at, finished_at, left(error, 500),
                   count(*) OVER (PARTITION BY local_hour)
            FROM {LEDGER} WHERE business_date = %s
            ORDER BY local_hour, started_at DESC, batch_id DESC""", (day,))
        # Every IVR DAG's alerts about the day; pending: held back by a Slack outage, not sent yet.
        alerts = _select(cur, present, ALERTS, f"SELECT dag_id, kind, run_id, left(message, {MESSAGE_CHARS}), "
                         f"sent_at, pending FROM {ALERTS} WHERE business_date = %s ORDER BY sent_at", (day,))
        hour_names = ("hour", "outcome", "rows_read", "rows_loaded", "rows_rejected", "dag_id", "run_id", "try_number",
                      "started_at", "finished_at", "error", "attempts")
        return {"metrics": dict(zip(METRIC_COLUMNS, metrics[0])) if metrics else None, "rejects": dict(rejects),
                "hours": [dict(zip(hour_names, row)) for row in hours],
                "alerts": [dict(zip(("dag_id", "kind", "run_id", "message", "sent_at", "pending"), row)) for row in alerts]}


# Per day: its latest drift check, when it found drift that is still there: the check's repair did
# not pass the gate, and no load has rewritten the day's metrics since (a reload from the page).
_DRIFTED_SQL = f"""
SELECT c.business_date, c.run_id, c.checked_at, c.drifted_hours, c.repair_error
FROM (SELECT DISTINCT ON (business_date) * FROM {DRIFT_CHECKS}
      WHERE business_date BETWEEN %s AND %s ORDER BY business_date, checked_at DESC, run_id DESC) c
LEFT JOIN {METRICS} m ON m.metric_date = c.business_date
WHERE cardinality(c.drifted_hours) > 0 AND c.repaired_at IS NULL
  AND (m.computed_at IS NULL OR m.computed_at <= c.checked_at)"""


def drifted_days(first: date, last: date) -> dict[date, dict]:
    """{day: its unrepaired drift (run_id, checked_at, hours, repair_error)} between ``first`` and ``last``."""
    with transaction(ANALYTICS_POSTGRES) as cur:
        if {DRIFT_CHECKS, METRICS} - _existing(cur, DRIFT_CHECKS, METRICS):
            return {}
        cur.execute(_DRIFTED_SQL, (first, last))
        return {d: {"run_id": run, "checked_at": at, "hours": list(hours), "repair_error": error}
                for d, run, at, hours, error in cur.fetchall()}


def drift_detail(day: date) -> dict | None:
    """The day's unrepaired drift with its hours' source and target figures, or None."""
    found = drifted_days(day, day).get(day)
    if found is None:
        return None
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(
            f"SELECT local_hour, source_rows, target_rows, source_checksum::text, target_checksum::text, reloaded_at "
            f"FROM {DRIFT_HOURS} WHERE business_date = %s AND run_id = %s ORDER BY local_hour", (day, found["run_id"]))
        names = ("hour", "source_rows", "target_rows", "source_checksum", "target_checksum", "reloaded_at")
        return {**found, "hour_figures": [dict(zip(names, row)) for row in cur.fetchall()]}
