#!/usr/bin/env python
"""Scraping jobs report: counts per status, jobs past their timeout, recent failures with errors.

    python scripts/scraping_report.py [--hours 24] [--json]

Replaces `manage.py check_scraping_jobs`. Read-only: timeouts are marked by the reconcile DAG and
retries are Airflow's (clear the run); see docs/scraping.md. Reads connection scraping_postgres.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24, help="window of recent failures (default 24)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)

    from callcentre.scraping.report import build_report, format_report

    report = build_report(hours=args.hours)
    print(json.dumps(report, indent=2, default=str) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
