#!/usr/bin/env python
"""`make demo`: the IVR pipeline end to end on the local services, then the scraping flow.

Loads synthetic IVR calls for the last DEMO_DAYS days (~1.5% invalid rows) into MariaDB, runs
``airflow dags test ivr_calls_daily <date>`` for each, prints the days from ``analytics``, runs
scripts/demo_scraping.py and says what to try next. Run with .local/airflow.env sourced (the
Makefile does); non-zero exit on any failure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW = str(ROOT / ".venv" / "bin" / "airflow")
DEMO_DAYS = int(os.environ.get("DEMO_DAYS", "3"))
CALLS_PER_DAY = int(os.environ.get("DEMO_CALLS_PER_DAY", "20000"))
LOG_DIR = Path(os.environ["AIRFLOW_HOME"]) / "demo-logs"


def demo_days() -> list[date]:
    # Days that ended more than a day ago: yesterday may still be inside its settle window
    # (IVR_SETTLE_LIMIT_MINUTES after midnight), where a real run waits for open calls.
    today = datetime.now(ZoneInfo(os.environ.get("IVR_TIMEZONE", "UTC"))).date()
    return [today - timedelta(days=n) for n in range(DEMO_DAYS + 1, 1, -1)]


def load_source(days: list[date]) -> None:
    from callcentre.ivr import synthetic

    synthetic.create_source_table()
    for day in days:
        synthetic.delete_day(day)
        synthetic.write_calls(synthetic.day_calls(day, CALLS_PER_DAY, seed=2026))
    print(f"Source: {CALLS_PER_DAY} synthetic calls per day written to MariaDB ivr.calls for {days[0]}..{days[-1]}")


def run_day(day: date) -> None:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"ivr_calls_daily-{day}.log"
    with log.open("w") as fh:
        proc = subprocess.run([AIRFLOW, "dags", "test", "ivr_calls_daily", day.isoformat()], stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        print(f"ivr_calls_daily {day} FAILED (exit {proc.returncode}); log: {log}", file=sys.stderr)
        sys.exit(1)
    print(f"  ran ivr_calls_daily for {day}  (log: {log.relative_to(ROOT)})")


def print_table(days: list[date]) -> None:
    from callcentre.common.connections import ANALYTICS_POSTGRES
    from callcentre.common.pg import transaction

    with transaction(ANALYTICS_POSTGRES) as cur:
        cur.execute(
            """
            SELECT m.metric_date, m.source_calls, m.total_calls, m.rejected_calls, m.answered_calls,
                   m.abandonment_rate, m.service_level_20s, m.avg_wait_s, m.avg_duration_s, m.peak_hour,
                   (SELECT count(DISTINCT b.local_hour) FROM analytics.etl_batches b
                    WHERE b.business_date = m.metric_date AND b.outcome = 'success') AS hours_ok
            FROM analytics.daily_metrics m WHERE m.metric_date = ANY(%s) ORDER BY m.metric_date
            """,
            (days,),
        )
        rows = cur.fetchall()
        cur.execute(
            "SELECT reject_reason, count(*) FROM analytics.call_rejects WHERE business_date = ANY(%s) "
            "GROUP BY 1 ORDER BY 2 DESC",
            (days,),
        )
        reasons = cur.fetchall()
    header = ("day", "source", "loaded", "rejected", "answered", "abandon%", "SL20s%", "avg wait", "avg dur", "peak h", "hours ok")
    print("\n" + "  ".join(f"{h:>10}" for h in header))
    for r in rows:
        cells = [
            r[0].isoformat(), r[1], r[2], r[3], r[4], f"{float(r[5]) * 100:.1f}",
            f"{float(r[6]) * 100:.1f}" if r[6] is not None else "-", r[7], r[8], r[9], r[10],
        ]
        print("  ".join(f"{str(c):>10}" for c in cells))
    if len(rows) != len(days) or any(r[1] != r[2] + r[3] for r in rows):
        print("daily_metrics incomplete or unbalanced", file=sys.stderr)
        sys.exit(1)
    print("\nQuarantined rows by rule (analytics.call_rejects): " + ", ".join(f"{k} {n}" for k, n in reasons))


def main() -> None:
    days = demo_days()
    print(f"== IVR calls daily: {len(days)} business days in {os.environ.get('IVR_TIMEZONE', 'UTC')} ==")
    load_source(days)
    for day in days:
        run_day(day)
    print_table(days)

    print("\n== Scraping upload ==")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo_scraping.py")])
    if proc.returncode != 0:
        sys.exit(proc.returncode)

    print(
        "\n== Next ==\n"
        "  make airflow     # scheduler + UI on these services; prints the URL and admin password file\n"
        "  . .local/airflow.env && .venv/bin/airflow backfill create --dag-id ivr_calls_daily \\\n"
        f"      --from-date {days[0]} --to-date {days[-1]} --reprocess-behavior completed   # with `make airflow` running\n"
        "  make test         # the whole suite against the same real services"
    )


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
