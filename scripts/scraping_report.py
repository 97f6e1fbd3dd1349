#!/usr/bin/env python
"""Scraping jobs report: jobs past their timeout, failures with errors, counts per status; optional actions.

Read-only by default (connection scraping_postgres); filters apply to everything. The actions
(--retry-failed, --timeout-minutes, which also stops the runs) go through Airflow's REST API:
connection airflow_api, else $AIRFLOW_API_USERNAME/$AIRFLOW_API_PASSWORD, else the local
SimpleAuthManager password. Exit status: 0 done, 1 an action failed for some job, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24, help="window of recent failures (default 24)")
    parser.add_argument("--uploader", help="only this uploader's jobs")
    parser.add_argument("--status", help="only these statuses (comma-separated)")
    parser.add_argument("--since", type=date.fromisoformat, help="created on or after this date (YYYY-MM-DD)")
    parser.add_argument("--until", type=date.fromisoformat, help="created on or before this date (YYYY-MM-DD)")
    parser.add_argument("--retry-failed", action="store_true", help="retry retryable failed/timeout jobs once")
    parser.add_argument("--timeout-minutes", type=float, help="mark jobs running longer than this as timeout")
    parser.add_argument("--dry-run", action="store_true", help="show what the actions would do; change nothing")
    parser.add_argument("--limit", type=int, help="at most N lines per list (the rest is counted, not hidden)")
    parser.add_argument("--json", action="store_true", help="machine-readable output (every row)")
    parser.add_argument("--api-url", help="Airflow API base URL (default: connection airflow_api or [api] base_url)")
    args = parser.parse_args(argv)
    if args.timeout_minutes is not None and args.timeout_minutes <= 0:
        parser.error("--timeout-minutes must be positive")

    from callcentre.scraping.jobs import STATUSES, JobFilter
    from callcentre.scraping.retry import build_report, format_report
    from callcentre.scraping.upload import TriggerError, airflow_client

    statuses = tuple(s.strip() for s in (args.status or "").split(",") if s.strip())
    if set(statuses) - set(STATUSES):
        parser.error(f"--status: unknown {sorted(set(statuses) - set(STATUSES))}; one of {', '.join(STATUSES)}")
    filters = JobFilter(uploader=args.uploader, statuses=statuses, created_from=args.since, created_to=args.until)
    acting = (args.retry_failed or args.timeout_minutes is not None) and not args.dry_run
    try:
        report = build_report(
            hours=args.hours, filters=filters, timeout_minutes=args.timeout_minutes, retry_failed=args.retry_failed,
            dry_run=args.dry_run, airflow=airflow_client(args.api_url) if acting else None,
        )
    except TriggerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2, default=str) if args.json else format_report(report, args.limit))
    errors = [a for actions in report["actions"].values() for a in actions if a["outcome"] == "error"]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
