"""What the IVR days page reads from the analytics tables: the only module that names them, so a
rename of a table or column (a migration) touches this file alone.

Read-only; every value is a parameter. A table that does not exist yet (no run so far) reads as
empty, so the page works on a fresh install.
"""

from __future__ import annotations

from datetime import date

from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.ivr.alerts import IVR_DAG_ID

METRICS = "analytics.daily_metrics"
LEDGER = "analytics.etl_batches"
REJECTS = "analytics.call_rejects"
ALERTS = "analytics.alert_log"

# The day's figures shown on the page, in this order (columns of daily_metrics).
METRIC_COLUMNS = (
    "source_calls", "total_calls", "rejected_calls", "answered_calls", "abandoned_calls", "transferred_calls",
    "failed_calls", "avg_duration_s", "avg_wait_s", "abandonment_rate", "service_level_20s", "peak_hour",
    "computed_by_run_id", "computed_at",
)
MESSAGE_CHARS = 4000  # an alert is a few lines; a cap keeps one odd row from bloating the page


def _cursor():
    from callcentre.common.pg import transaction

    return transaction(ANALYTICS_POSTGRES)


def _existing(cur, *tables: str) -> set[str]:
    cur.execute("SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(t) IS NOT NULL", (list(tables),))
    return {row[0] for row in cur.fetchall()}


def calendar(first: date, last: date) -> tuple[dict[date, dict], set[date]]:
    """({day: source/loaded/rejected counts} of the loaded days, {days a deadline alert was sent for})."""
    with _cursor() as cur:
        present = _existing(cur, METRICS, ALERTS)
        loaded: dict[date, dict] = {}
        if METRICS in present:
            cur.execute(
                f"SELECT metric_date, source_calls, total_calls, rejected_calls FROM {METRICS} "
                "WHERE metric_date BETWEEN %s AND %s", (first, last))
            loaded = {d: {"source_calls": s, "loaded_calls": t, "rejected_calls": r} for d, s, t, r in cur.fetchall()}
        alerted: set[date] = set()
        if ALERTS in present:
            cur.execute(
                f"SELECT DISTINCT business_date FROM {ALERTS} WHERE dag_id = %s AND kind = 'deadline_missed' "
                "AND business_date BETWEEN %s AND %s", (IVR_DAG_ID, first, last))
            alerted = {row[0] for row in cur.fetchall()}
        return loaded, alerted


def day_detail(day: date) -> dict:
    """Everything the page shows about one day: metrics, rejects by rule, the hours, the alerts."""
    with _cursor() as cur:
        present = _existing(cur, METRICS, LEDGER, REJECTS, ALERTS)
        metrics = None
        if METRICS in present:
            cur.execute(f"SELECT {', '.join(METRIC_COLUMNS)} FROM {METRICS} WHERE metric_date = %s", (day,))
            row = cur.fetchone()
            metrics = dict(zip(METRIC_COLUMNS, row)) if row else None
        rejects: dict[str, int] = {}
        if REJECTS in present:
            cur.execute(f"SELECT reject_reason, count(*) FROM {REJECTS} WHERE business_date = %s GROUP BY 1", (day,))
            rejects = dict(cur.fetchall())
        hours: list[dict] = []
        if LEDGER in present:
            # Per hour: its latest attempt (by start) and how many attempts the ledger holds, whichever
            # DAG made them (the day's runs, the drift check's repairs).
            cur.execute(
                f"""SELECT DISTINCT ON (local_hour) local_hour, outcome, rows_read, rows_loaded, rows_rejected,
                           dag_id, run_id, try_number, started_at, finished_at, left(error, 500),
                           count(*) OVER (PARTITION BY local_hour)
                    FROM {LEDGER} WHERE business_date = %s
                    ORDER BY local_hour, started_at DESC, batch_id DESC""", (day,))
            names = ("hour", "outcome", "rows_read", "rows_loaded", "rows_rejected", "dag_id", "run_id", "try_number",
                     "started_at", "finished_at", "error", "attempts")
            hours = [dict(zip(names, row)) for row in cur.fetchall()]
        alerts: list[dict] = []
        if ALERTS in present:
            cur.execute(  # every IVR DAG's alerts about the day (the load's, the drift check's)
                f"SELECT dag_id, kind, run_id, left(message, {MESSAGE_CHARS}), sent_at FROM {ALERTS} "
                "WHERE business_date = %s ORDER BY sent_at", (day,))
            alerts = [dict(zip(("dag_id", "kind", "run_id", "message", "sent_at"), row)) for row in cur.fetchall()]
        return {"metrics": metrics, "rejects": rejects, "hours": hours, "alerts": alerts}
