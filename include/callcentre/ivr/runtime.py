"""The tasks of ``dags/ivr_calls_daily.py``: each derives the business day and the run options from
the task context and calls the plain modules (which tests call directly)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timezone

from callcentre.common import compat, run_context
from callcentre.common.variables import get_variable
from callcentre.common.connections import ANALYTICS_POSTGRES, IVR_MARIADB, check_databases
from callcentre.ivr import load, reconcile, schema, settle
from callcentre.ivr.business_day import (
    TIMEZONE_SETTING,
    DateContractError,
    cli_timezone,
    day_end,
    day_start,
    first_business_day,
    ivr_timezone_name,
    parse_timezone,
    resolve_business_date,
)
from callcentre.ivr.options import RunOptions

log = logging.getLogger(__name__)


def timezone_name() -> str:
    """The IVR's IANA zone (environment ``IVR_TIMEZONE``, the schedule's zone too), validated."""
    try:
        return ivr_timezone_name()
    except ValueError as err:
        raise compat.AirflowFailException(str(err)) from err


def date_reading(context) -> dict:
    """How the run's logical date is read: the IVR zone, ``[core] default_timezone``, and whether an
    operator typed it (not the timetable)."""
    return {"tz": parse_timezone(timezone_name()), "default_tz": cli_timezone(),
            "typed": not run_context.dated_by_timetable(context)}


def business_date(context) -> date:
    """The business day this run loads: the day its logical date names (docs/ivr.md, "The date
    contract"); AirflowFailException, naming the setting or value at fault, when it names none."""
    try:
        return resolve_business_date(run_context.logical_date_of(context), **date_reading(context),
                                     first_day=first_business_day(), now=datetime.now(timezone.utc))
    except (DateContractError, ValueError) as err:
        raise compat.AirflowFailException(str(err)) from err


def check_single_zone_source() -> None:
    """The zone has one source (IVR_TIMEZONE). A Variable ``ivr_timezone`` left from older setups
    would silently disagree with the schedule: refuse to run until it is removed or equal."""
    stale = get_variable("ivr_timezone", None)
    if stale not in (None, "") and stale.strip() != timezone_name():
        raise compat.AirflowFailException(
            f"Variable ivr_timezone={stale!r} disagrees with {TIMEZONE_SETTING}={timezone_name()!r}, the one setting "
            f"the schedule and the tasks read; delete the Variable (or AIRFLOW_VAR_IVR_TIMEZONE) and set {TIMEZONE_SETTING}"
        )


def options(context) -> RunOptions:
    """The run's options: params, plus the raw trigger conf so a misspelt key is an error, not a no-op."""
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    return RunOptions.from_params({**dict(context["params"]), **conf})


def plan(context):
    """Sensor body (the DAG's ``plan`` says what it checks); done: the hours to load, the mapped
    load_hour's argument."""
    opts = options(context)
    check_single_zone_source()
    day = business_date(context)
    check_databases([IVR_MARIADB, ANALYTICS_POSTGRES])
    tz = parse_timezone(timezone_name())
    if not settle.day_has_settled(day, tz, datetime.now(timezone.utc)):
        return False
    if not opts.dry_run:
        schema.migrate()
    length = (day_end(day, tz) - day_start(day, tz)).total_seconds() / 3600
    log.info(
        "business date %s (%s, a %g-hour day; logical date %s), hours %s, %s",
        day, tz.key, length, run_context.logical_date_of(context), list(opts.hours), opts,
    )
    return compat.PokeReturnValue(is_done=True, xcom_value=list(opts.hours))


def load_hour(hour: int, context) -> dict | None:
    # The hour's name in the UI: the task's map_index_template renders it from the live context.
    compat.get_current_context()["hour_label"] = f"hour {hour:02d}"
    opts = options(context)
    result = _load(business_date(context), hour, opts, context)
    # Only a dry run's reconcile reads the hour results; a real run counts both databases.
    return result.as_dict() if opts.dry_run else None


def _load(day: date, hour: int, opts: RunOptions, context) -> load.HourResult:
    return load.load_hour(day, hour, tz_name=timezone_name(), run_id=context["run_id"],
                          try_number=int(context["ti"].try_number), invalid_rows=opts.invalid_rows,
                          dry_run=opts.dry_run, chunk_size=opts.chunk_size, dag_id=context["dag"].dag_id,
                          # min_calls=0 accepts an empty day, and so an hour the source emptied.
                          empty_ok=opts.min_calls == 0)


def reconcile_day(hour_results: Iterable[dict], context) -> dict | None:
    """The day's gate and metrics (returned). A dry run writes none: it only sums ``hour_results``
    (the load_hour XComs, one API call each), which only its hours return."""
    opts = options(context)
    day = business_date(context)
    if opts.dry_run:
        hour_results = list(hour_results)
        read = sum(r["rows_read"] for r in hour_results)
        rejected = sum(r["rows_rejected"] for r in hour_results)
        log.info("dry run for %s: read %d, would load %d, would reject %d", day, read, read - rejected, rejected)
        return None
    return reconcile.gate_and_publish(day, opts.hours, opts.max_reject_ratio, context["run_id"],
                                      reload_hour=lambda hour: _load(day, hour, opts, context),
                                      min_calls=opts.min_calls).as_dict()
