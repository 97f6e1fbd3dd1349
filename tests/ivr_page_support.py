"""Seeds of the IVR days page tests: business facts written straight into the analytics tables
(as the DAG writes them) and the days' cleanup."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.pg import transaction

XSS_MESSAGE = "</pre><script>alert('slack')</script><img src=x onerror=alert(2)> & \"q\""


def seed_metrics(day: date, source: int, rejected: int, run_id: str = "seed") -> None:
    loaded = source - rejected
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(
            """INSERT INTO analytics.daily_metrics (metric_date, source_calls, total_calls, rejected_calls,
                   answered_calls, abandoned_calls, transferred_calls, failed_calls, avg_duration_s, avg_wait_s,
                   abandonment_rate, service_level_20s, peak_hour, computed_by_run_id)
               VALUES (%s, %s, %s, %s, %s, %s, 0, 0, 120.5, 9.25, %s, 0.9, 10, %s)""",
            (day, source, loaded, rejected, loaded - loaded // 10, loaded // 10, round((loaded // 10) / max(loaded, 1), 4),
             run_id))


def seed_rejects(day: date, counts: dict[str, int], first_id: int) -> None:
    call_id = first_id
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute("SELECT analytics.ensure_month_partitions(%s)", (day,))  # as a load does first
        for reason, n in counts.items():
            for _ in range(n):
                cur.execute(
                    "INSERT INTO analytics.call_rejects (call_id, business_date, local_hour, reject_reason, start_time, "
                    "loaded_by_run_id) VALUES (%s, %s, 4, %s, %s, 'seed')",
                    (call_id, day, reason, datetime.combine(day, datetime.min.time()) + timedelta(hours=4)))
                call_id += 1


def seed_attempt(day: date, hour: int, outcome: str, rows: int | None, run_id: str = "seed", error: str | None = None,
                 minute: int = 0, dag_id: str = "ivr_calls_daily") -> None:
    started = datetime.combine(day + timedelta(days=1), datetime.min.time(), timezone.utc) + timedelta(minutes=minute)
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(
            """INSERT INTO analytics.etl_batches (dag_id, run_id, try_number, business_date, local_hour, invalid_rows,
                   rows_read, rows_loaded, rows_rejected, started_at, finished_at, outcome, error)
               VALUES (%s, %s, 1, %s, %s, 'quarantine', %s, %s, 0, %s, %s, %s, %s)""",
            (dag_id, run_id, day, hour, rows, rows, started, started + timedelta(seconds=5), outcome, error))


def seed_alert(day: date, kind: str, message: str, run_id: str | None = None, pending: bool = False) -> None:
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(
            "INSERT INTO analytics.alert_log (dag_id, kind, alert_key, business_date, run_id, message, pending) "
            "VALUES ('ivr_calls_daily', %s, %s, %s, %s, %s, %s)",
            (kind, f"page-test-{day}-{kind}", day, run_id, message, pending))


def seed_drift(day: date, hours: dict[int, tuple[int, int]], run_id: str = "drift-seed", checked_minutes_ago: int = 0,
               repaired: bool = False) -> None:
    """A drift check's record of ``day``: {hour: (source rows, target rows)}, as drift.record_check writes it."""
    checked = datetime.now(timezone.utc) - timedelta(minutes=checked_minutes_ago)
    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute("INSERT INTO analytics.drift_checks (business_date, run_id, checked_at, drifted_hours, repaired_at) "
                    "VALUES (%s, %s, %s, %s, %s)", (day, run_id, checked, sorted(hours), checked if repaired else None))
        for hour, (source, target) in hours.items():
            cur.execute("INSERT INTO analytics.drift_hours (business_date, run_id, local_hour, source_rows, "
                        "source_checksum, target_rows, target_checksum) VALUES (%s, %s, %s, %s, 1, %s, 2)",
                        (day, run_id, hour, source, target))


def clean_days(days) -> None:
    from tests.integration.ivr_support import forget_alerts

    for day in days:
        with transaction(ANALYTICS_POSTGRES) as cur:
            for table in ("call_rejects", "etl_batches"):
                cur.execute(f"DELETE FROM analytics.{table} WHERE business_date = %s", (day,))
            cur.execute("DELETE FROM analytics.daily_metrics WHERE metric_date = %s", (day,))
            cur.execute("DELETE FROM analytics.drift_checks WHERE business_date = %s", (day,))
        forget_alerts(day)
