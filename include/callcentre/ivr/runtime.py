"""What the tasks of ``dags/ivr_calls_daily.py`` do with the Airflow context.

Each function takes the task context (and the upstream results), derives the business day and
the run options, and calls the plain modules. Tests call the plain modules directly, or run the
whole DAG with ``dag.test()``.
"""

from __future__ import annotations

import logging
from datetime import date

from callcentre.common import compat
from callcentre.common.connections import ANALYTICS_POSTGRES, IVR_MARIADB, check_databases
from callcentre.common.slack import send_slack, task_failure_message
from callcentre.ivr import load, metrics, reconcile, schema
from callcentre.ivr.business_day import HOURS, DEFAULT_TIMEZONE, business_date_for, parse_timezone, real_hours_in_window
from callcentre.ivr.options import RunOptions

log = logging.getLogger(__name__)


def timezone_name() -> str:
    """The IVR's IANA zone from Variable ``ivr_timezone`` (AIRFLOW_VAR_IVR_TIMEZONE), validated."""
    name = compat.get_variable("ivr_timezone", DEFAULT_TIMEZONE) or DEFAULT_TIMEZONE
    try:
        parse_timezone(name)
    except ValueError as err:
        raise compat.AirflowFailException(str(err)) from err
    return name.strip()


def business_date(context) -> date:
    return business_date_for(compat.logical_date_of(context), parse_timezone(timezone_name()))


def options(context) -> RunOptions:
    """The run's options: params, plus the raw trigger conf so a misspelt key is an error, not a no-op."""
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    return RunOptions.from_params({**dict(context["params"]), **conf})


def preflight() -> dict[str, str]:
    return check_databases([IVR_MARIADB, ANALYTICS_POSTGRES])


def plan(context) -> list[int]:
    """Validate params and time zone, migrate the target schema, and list the hours to load."""
    opts = options(context)
    day = business_date(context)
    if not opts.dry_run:
        schema.migrate()
    tz = parse_timezone(timezone_name())
    length = sum(real_hours_in_window(day, hour, tz) for hour in HOURS)
    log.info("business date %s (%s, a %g-hour day), hours %s, %s", day, tz.key, length, list(opts.hours), opts)
    return list(opts.hours)


def load_hour(hour: int, context) -> dict:
    opts = options(context)
    # map_index_template renders from the live context, so label the mapped task there.
    compat.get_current_context()["hour_label"] = f"hour {hour:02d}"
    result = load.load_hour(
        business_date(context),
        hour,
        tz_name=timezone_name(),
        run_id=context["run_id"],
        try_number=compat.try_number_of(context),
        invalid_rows=opts.invalid_rows,
        dry_run=opts.dry_run,
        chunk_size=opts.chunk_size,
        dag_id=context["dag"].dag_id,
    )
    return result.as_dict()


def reconcile_day(hour_results: list[dict], context) -> dict:
    """Compare the source with the target per hour; fail loudly on any difference."""
    opts = options(context)
    day = business_date(context)
    if opts.dry_run:
        read = sum(r["rows_read"] for r in hour_results)
        rejected = sum(r["rows_rejected"] for r in hour_results)
        log.info("dry run for %s: read %d, would load %d, would reject %d", day, read, read - rejected, rejected)
        return {"business_date": day.isoformat(), "dry_run": True, "rows_read": read, "rows_rejected": rejected}
    counts = reconcile.count_day(day)
    reconcile.check_day(counts, opts.max_reject_ratio)
    return counts.as_dict()


def compute_metrics(counts: dict, context) -> dict | None:
    if counts.get("dry_run"):
        log.info("dry run: daily_metrics left unchanged")
        return None
    day_counts = reconcile.DayCounts.from_dict(counts)
    result = metrics.compute_daily_metrics(
        day_counts.business_date,
        day_counts.source_calls,
        day_counts.rejected_calls,
        metrics.read_groups(day_counts.business_date),
    )
    metrics.write_daily_metrics(result, context["run_id"])
    log.info("daily_metrics for %s: %s", result.metric_date, result.as_dict())
    return result.as_dict()


def failure_alert(context) -> None:
    """on_failure_callback: one Slack message naming the partition; never raises."""
    try:
        partition = f"business date {business_date(context)}"
        hour = getattr(context.get("task"), "op_kwargs", {}).get("hour")
        if hour is not None:
            partition += f", hour {int(hour):02d}"
    except Exception:  # noqa: BLE001 - an alert with less detail beats no alert
        partition = None
    send_slack(task_failure_message(context, partition))
