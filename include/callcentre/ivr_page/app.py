"""The FastAPI app of the "IVR days" page (docs/ivr-days-page.md): actions are Airflow REST calls
with the caller's own token; the runs are read from Airflow's database once the auth manager allowed it."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from callcentre.common import ui_page
from callcentre.ivr import business_day, deadline
from callcentre.ivr.alert_messages import IVR_DAG_ID as DAG_ID
from callcentre.ivr_page import charts, queries, states
from callcentre.scraping.upload import TriggerError, caller_client

PAGE_HEADER = "X-Ivr-Days-Page"
DEFAULT_DAYS = 90
MAX_DAYS = 5 * 366 + 1  # the calendar answers for any range up to five years
MAX_BACKFILL_DAYS = 366
RUNS_API = f"/api/v2/dags/{DAG_ID}/dagRuns"
_SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"  # an SVG opened on its own runs nothing
_SVG_TEXT = {
    "en": {"rejects": "Rejected calls by rule", "no_rejects": "No rejected calls", "hours": "The 24 hours"},
    "es": {"rejects": "Llamadas rechazadas por regla", "no_rejects": "Sin llamadas rechazadas",
           "hours": "Las 24 horas"},
}

can_read = Depends(requires_access_dag("GET", DagAccessEntity.RUN, param_dag_id=DAG_ID))
can_trigger = Depends(requires_access_dag("POST", DagAccessEntity.RUN, param_dag_id=DAG_ID))
page_request = ui_page.require_page_header(PAGE_HEADER)  # CSRF: only the page's script sends it


class Reload(BaseModel):
    hours: list[Annotated[int, Field(ge=0, le=23)]] = Field(default_factory=list, max_length=24)


class Backfill(BaseModel):
    from_day: date
    to_day: date
    reprocess: str = Field("completed", pattern="^(none|failed|completed)$")


def _zones() -> tuple[ZoneInfo, ZoneInfo]:
    """(the IVR zone, ``[core] default_timezone``): together they decide which day a run names."""
    with ui_page.http_error(500, ValueError):  # a bad IVR_TIMEZONE fails every run too; the page says why
        return ZoneInfo(business_day.ivr_timezone_name()), business_day.cli_timezone()


def _deadline_hours() -> float:
    with ui_page.http_error(500, Exception):  # a bad setting fails the watcher loudly; the page says so too
        return deadline.deadline_hours()


def _rest(client, method: str, path: str, body: dict | None = None, *, what: str | None = None):
    """Airflow's answer to a REST call; with ``what``, an HTTPException saying so unless it succeeded."""
    with ui_page.http_error(502, TriggerError):
        resp = client.request(method, path, body)
    if what is None or resp.status_code in (200, 201):
        return resp
    try:
        detail = resp.json().get("detail", resp.text)
    except ValueError:
        detail = resp.text
    status = resp.status_code if resp.status_code in (401, 403, 404, 409, 422) else 502
    raise HTTPException(status, f"{what}: Airflow answered {resp.status_code}: {detail}")


def runs_by_day(session: Session, user, first: date, last: date, tz: ZoneInfo,
                default_tz: ZoneInfo) -> dict[date, list[dict]]:
    """The DAG's runs naming each day of ``first..last`` (docs/ivr.md "The date contract"), oldest
    first, as the REST API's run fields; 403 unless ``user`` may read the DAG's runs, whichever route asks."""
    if not ui_page.is_authorized(user, "GET", DAG_ID):
        raise HTTPException(403, f"reading the runs of {DAG_ID} needs read access to its runs")
    # A day named by midnight UTC or in [core] default_timezone lies within a day of its local midnight.
    low = business_day.day_start(first, tz) - timedelta(days=1)
    high = business_day.day_end(last, tz) + timedelta(days=1)
    rows = session.execute(
        select(DagRun.run_id.label("dag_run_id"), DagRun.logical_date, DagRun.state, DagRun.run_type,
               DagRun.start_date, DagRun.end_date, DagRun.conf)
        .where(DagRun.dag_id == DAG_ID, DagRun.logical_date >= low, DagRun.logical_date <= high)
        .order_by(DagRun.id))
    found: dict[date, list[dict]] = {}
    for row in rows:
        named = business_day.named_day(row.logical_date, tz, (default_tz, business_day.UTC))
        if named and first <= named[0] <= last:
            found.setdefault(named[0], []).append(_json(row._asdict()))
    return found


def _span(first: date, last: date) -> int:
    """The number of days of ``first..last``; 422 when they are the wrong way round."""
    if first > last:
        raise HTTPException(422, f"from_day {first} is after to_day {last}")
    return (last - first).days + 1


def _day_range(from_day: date | None, to_day: date | None, tz: ZoneInfo) -> tuple[date, date]:
    last = to_day or (datetime.now(tz).date() - timedelta(days=1))
    first = from_day or last - timedelta(days=DEFAULT_DAYS - 1)
    span = _span(first, last)
    if span > MAX_DAYS:
        raise HTTPException(422, f"from_day..to_day spans {span} days; at most {MAX_DAYS}")
    return first, last


def _facts(day: date, tz: ZoneInfo, hours: float, now: datetime, runs: list[dict], loaded: dict | None,
           alerted: bool, drifted: bool) -> states.DayFacts:
    return states.DayFacts(
        deadline=deadline.deadline_of(day, tz, hours) if hours > 0 else None,
        ended=business_day.day_end(day, tz) <= now, run_state=runs[-1]["state"] if runs else None,
        deadline_alerted=alerted, drifted=drifted, **(loaded or {}),
    )


def _loadable(day: date, tz: ZoneInfo) -> None:
    """Refuse at once what the DAG's plan task would fail later, with the same reasons."""
    first = business_day.first_business_day()
    if day < first:
        raise HTTPException(422, f"{day} is before the first business day {first} (IVR_FIRST_BUSINESS_DAY)")
    if business_day.day_end(day, tz) > datetime.now(timezone.utc):
        raise HTTPException(422, f"{day} has not ended yet in the IVR zone {tz.key}: only closed days can be loaded")


def _run_view(run: dict) -> dict:
    conf = run.get("conf") or {}
    hours = conf.get("hours") if isinstance(conf, dict) else None
    return {"run_id": run["dag_run_id"], "state": run["state"], "run_type": run.get("run_type"),
            "logical_date": run.get("logical_date"), "start_date": run.get("start_date"),
            "end_date": run.get("end_date"), "hours": hours or [], "url": ui_page.run_url(DAG_ID, run["dag_run_id"])}


def _log_url(session: Session, user, run_id: str) -> str | None:
    """The log of the run's most telling task (none for a caller who may not read the DAG's task instances)."""
    if not ui_page.is_authorized(user, "GET", DAG_ID, "TASK_INSTANCE"):
        return None
    tis = session.execute(
        select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state, TaskInstance.start_date,
               TaskInstance.end_date)
        .where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run_id)).all()
    return ui_page.log_url(DAG_ID, run_id, [_json(ti._asdict()) for ti in tis])


def _json(value):
    """``value`` for the page's JSON: dates as ISO text, decimals as numbers, through dicts and lists."""
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    return value.isoformat() if isinstance(value, (datetime, date)) else value


def _svg(body: str) -> Response:
    return Response(body, media_type="image/svg+xml", headers={
        "Content-Security-Policy": _SVG_CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


def create_app():
    app = ui_page.page_app("IVR days", "callcentre.ivr_page", can_read)

    @app.get("/api/days", dependencies=[can_read])
    def calendar(session: SessionDep, user: GetUserDep, from_day: date | None = None, to_day: date | None = None,
                 reject_threshold: Annotated[float, Query(ge=0, le=1)] = states.REJECT_WARN_RATIO) -> dict:
        tz, default_tz = _zones()
        first, last = _day_range(from_day, to_day, tz)
        hours = _deadline_hours()
        runs = runs_by_day(session, user, first, last, tz, default_tz)
        loaded, alerted = queries.calendar(first, last)
        drifted = queries.drifted_days(first, last)
        now = datetime.now(timezone.utc)
        days = []
        for day in (first + timedelta(days=n) for n in range((last - first).days + 1)):
            facts = _facts(day, tz, hours, now, runs.get(day, []), loaded.get(day), day in alerted, day in drifted)
            days.append({"day": day.isoformat(), "state": states.day_state(facts, now, reject_threshold),
                         **(loaded.get(day) or {}), "runs": len(runs.get(day, []))})
        return {"from_day": first.isoformat(), "to_day": last.isoformat(), "timezone": tz.key,
                "reject_threshold": reject_threshold, "states": list(states.STATES), "days": days,
                "user": user.get_name(), "can_trigger": ui_page.is_authorized(user, "POST", DAG_ID)}

    @app.get("/api/days/{day}", dependencies=[can_read])
    def day_detail(session: SessionDep, user: GetUserDep, day: date,
                   reject_threshold: Annotated[float, Query(ge=0, le=1)] = states.REJECT_WARN_RATIO) -> dict:
        tz, default_tz = _zones()
        runs = runs_by_day(session, user, day, day, tz, default_tz).get(day, [])
        detail = queries.day_detail(day)
        metrics = detail["metrics"]
        loaded = None if metrics is None else {
            "source_calls": metrics["source_calls"], "loaded_calls": metrics["total_calls"],
            "rejected_calls": metrics["rejected_calls"]}
        now = datetime.now(timezone.utc)
        hours = _deadline_hours()
        alerted = any(a["kind"] == "deadline_missed" for a in detail["alerts"])
        drift = queries.drift_detail(day)
        facts = _facts(day, tz, hours, now, runs, loaded, alerted, drift is not None)
        latest = runs[-1] if runs else None
        return {
            "day": day.isoformat(), "timezone": tz.key, "state": states.day_state(facts, now, reject_threshold),
            "deadline": _json(facts.deadline), "metrics": _json(metrics), "rejects": detail["rejects"],
            "hours": _json(detail["hours"]), "alerts": _json(detail["alerts"]), "drift": _json(drift),
            "runs": [_run_view(r) for r in reversed(runs[-10:])],  # newest first
            "run_url": ui_page.run_url(DAG_ID, latest["dag_run_id"]) if latest else None,
            "log_url": _log_url(session, user, latest["dag_run_id"]) if latest else None,
        }

    @app.get("/api/days/{day}/rejects.svg", dependencies=[can_read])
    def rejects_svg(day: date, lang: str = "en") -> Response:
        text = _SVG_TEXT.get(lang, _SVG_TEXT["en"])
        return _svg(charts.rejects_chart(queries.day_detail(day)["rejects"], text["rejects"], text["no_rejects"]))

    @app.get("/api/days/{day}/hours.svg", dependencies=[can_read])
    def hours_svg(day: date, lang: str = "en") -> Response:
        text = _SVG_TEXT.get(lang, _SVG_TEXT["en"])
        cells = [charts.HourCell(h["hour"], h["outcome"], h["rows_read"], h["attempts"])
                 for h in queries.day_detail(day)["hours"]]
        return _svg(charts.hours_strip(cells, f"{text['hours']} {day}"))

    @app.post("/api/days/{day}/reload", dependencies=[can_trigger, page_request])
    def reload(request: Request, session: SessionDep, user: GetUserDep, day: date, body: Reload) -> dict:
        """Reload the day, or only ``hours``, as the caller (see :func:`reload_day`)."""
        tz, default_tz = _zones()
        _loadable(day, tz)
        runs = runs_by_day(session, user, day, day, tz, default_tz).get(day, [])
        return reload_day(caller_client(request), day, sorted(set(body.hours)), runs, tz, default_tz)

    @app.post("/api/backfills", dependencies=[can_trigger, page_request])
    def backfill(request: Request, body: Backfill) -> dict:
        """An Airflow backfill of ``from_day..to_day`` (the scheduler runs it), created as the caller."""
        tz, _ = _zones()
        span = _span(body.from_day, body.to_day)
        if span > MAX_BACKFILL_DAYS:
            raise HTTPException(422, f"a backfill of {span} days; the page creates at most {MAX_BACKFILL_DAYS}")
        _loadable(body.from_day, tz)
        _loadable(body.to_day, tz)
        payload = {"dag_id": DAG_ID, "from_date": f"{body.from_day.isoformat()}T00:00:00+00:00",
                   "to_date": f"{body.to_day.isoformat()}T00:00:00+00:00", "reprocess_behavior": body.reprocess,
                   "max_active_runs": 1}
        resp = _rest(caller_client(request), "POST", "/api/v2/backfills", payload,
                     what=f"the backfill {body.from_day}..{body.to_day}")
        return {"backfill_id": resp.json().get("id"), "from_day": body.from_day.isoformat(),
                "to_day": body.to_day.isoformat(), "reprocess": body.reprocess,
                "runs_url": f"{ui_page.dag_url(DAG_ID)}/runs"}

    return app


def _free_logical_date(day: date, runs: list[dict], tz: ZoneInfo, default_tz: ZoneInfo) -> datetime | None:
    """An instant naming ``day`` that no run holds yet (Airflow keeps one run per logical date):
    midnight UTC, in the IVR zone or in ``[core] default_timezone``."""
    used = {datetime.fromisoformat(r["logical_date"]) for r in runs if r.get("logical_date")}
    for zone in (business_day.UTC, tz, default_tz):
        instant = business_day.day_start(day, zone)
        named = business_day.named_day(instant, tz, (default_tz, business_day.UTC))
        if instant not in used and named and named[0] == day:
            return instant
    return None


def _planned_hours(client, run_id: str) -> set[int]:
    """The map indexes of ``load_hour`` in a full-day run (= its hours); empty before ``plan`` ran
    (Airflow answers a clear of an unexpanded mapped task with an error 500)."""
    resp = _rest(client, "GET", f"{RUNS_API}/{quote(run_id, safe='')}/taskInstances/load_hour/listMapped?limit=100")
    if resp.status_code != 200:
        return set()
    return {ti["map_index"] for ti in resp.json().get("task_instances", []) if ti.get("map_index", -1) >= 0}


def reload_day(client, day: date, hours: list[int], runs: list[dict], tz: ZoneInfo, default_tz: ZoneInfo) -> dict:
    """Reload ``day`` (``hours``: only those) with the caller's rights: clear the day's newest
    full-day run (for hours, their ``load_hour`` map indexes and what follows), else trigger a new
    run (docs/ivr-days-page.md "Actions")."""
    full = [r for r in runs if not _run_view(r)["hours"]]
    if full:
        run = full[-1]
        clear: dict = {"dag_run_id": run["dag_run_id"], "dry_run": False, "only_failed": False, "reset_dag_runs": True,
                       "note": "reloaded from the IVR days page"}
        if hours:
            missing = sorted(set(hours) - _planned_hours(client, run["dag_run_id"]))
            if missing:
                raise HTTPException(409, f"run {run['dag_run_id']} of {day} has no load_hour task for hour(s) "
                                         f"{', '.join(map(str, missing))} yet (its plan has not run): wait for it, "
                                         "or reload the day")
            clear.update(task_ids=[["load_hour", h] for h in hours], include_downstream=True)
        resp = _rest(client, "POST", f"/api/v2/dags/{DAG_ID}/clearTaskInstances", clear,
                     what=f"clearing run {run['dag_run_id']}")
        cleared = resp.json().get("task_instances", [])
        if cleared:
            after = _rest(client, "GET", f"{RUNS_API}/{quote(run['dag_run_id'], safe='')}")
            return {"action": "cleared", "day": day.isoformat(), "hours": hours, "tasks": len(cleared),
                    "run": _run_view(after.json() if after.status_code == 200 else run)}
    instant = _free_logical_date(day, runs, tz, default_tz)
    if instant is None:
        raise HTTPException(409, f"every logical date naming {day} already has a run, none of them a full-day run "
                                 "that could be cleared: clear one of them in Airflow")
    payload = {"logical_date": instant.astimezone(timezone.utc).isoformat(), "conf": {"hours": hours} if hours else {},
               "note": "reloaded from the IVR days page"}
    resp = _rest(client, "POST", RUNS_API, payload, what=f"reloading {day}")
    return {"action": "triggered", "day": day.isoformat(), "hours": hours, "tasks": None, "run": _run_view(resp.json())}
