"""The FastAPI app of the "Scraping jobs" page: reading needs read access to ``scraping_upload``'s runs,
retry/timeout edit rights, an upload trigger rights; actions call Airflow with the caller's own token."""

from __future__ import annotations

import dataclasses
import functools
import logging
from datetime import date, datetime, timezone
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from callcentre.common import storage, ui_page
from callcentre.scraping.jobs import STATUSES, JobRepository
from callcentre.scraping.retry import mark_jobs_timeout, retry_jobs
from callcentre.scraping.upload import TriggerError, caller_client, safe_file_name, store_upload
from callcentre.scraping_page import dashboard, intake, queries, wording

log = logging.getLogger(__name__)

DAG_ID = "scraping_upload"
# The DAGs whose pause stops the page's work, and what stops with them (the page's banner).
WATCHED_DAGS = {
    DAG_ID: "uploads wait and no new job starts",
    "scraping_jobs_reconcile": "failed jobs are not retried automatically and stuck jobs are not timed out",
}
MAX_JOBS_PER_ACTION = 200
PAGE_HEADER = "X-Scraping-Jobs-Page"
_SESSION_OVER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Scraping jobs: sign in</title>
<script src="static/signin.js"></script></head>
<body data-signed-out="1"><p>Your Airflow session has ended. Taking you to the sign-in page…</p></body></html>
"""
JobId = Annotated[int, PathParam(ge=1, le=queries.MAX_JOB_ID)]

can_read = Depends(requires_access_dag("GET", DagAccessEntity.RUN, param_dag_id=DAG_ID))
can_edit = Depends(requires_access_dag("PUT", DagAccessEntity.RUN, param_dag_id=DAG_ID))
can_trigger = Depends(requires_access_dag("POST", DagAccessEntity.RUN, param_dag_id=DAG_ID))
page_request = ui_page.require_page_header(PAGE_HEADER)  # CSRF: only the page's script sends it


class JobIds(BaseModel):
    job_ids: list[Annotated[int, Field(ge=1, le=queries.MAX_JOB_ID)]] = Field(
        min_length=1, max_length=MAX_JOBS_PER_ACTION)


def paused_dags() -> dict[str, bool]:
    """``{dag_id: is_paused}`` of :data:`WATCHED_DAGS` from Airflow's metadata DB (the api-server's
    own session: no REST round trip on every refresh). A DAG not parsed yet is left out."""
    from sqlalchemy import select

    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            select(DagModel.dag_id, DagModel.is_paused).where(DagModel.dag_id.in_(list(WATCHED_DAGS)))
        ).all()
    return {dag_id: bool(paused) for dag_id, paused in rows}


def _dag_views(user) -> list[dict]:
    return [
        {"dag_id": dag_id, "paused": paused, "stops": WATCHED_DAGS[dag_id], "url": ui_page.dag_url(dag_id),
         "can_unpause": paused and ui_page.is_authorized(user, "PUT", dag_id, entity=None)}
        for dag_id, paused in sorted(paused_dags().items())
    ]


@functools.cache  # a failed migration is not cached: the next request tries again
def ensure_migrated() -> None:
    """The job table, with the page's indexes (its migration 0003), at this code's version, once per
    process before the first query (two first requests at once may both run it: it is idempotent)."""
    JobRepository().migrate()


def create_app():
    app = ui_page.page_app("Scraping jobs", "callcentre.scraping_page", can_read)

    @app.exception_handler(HTTPException)
    async def session_over(request: Request, exc: HTTPException) -> Response:
        # The page itself, opened with no session or an ended one: the browser goes to the login
        # page (the UI frames this page, so plain JSON would be all the person sees).
        signed_out = exc.status_code == 401 or (exc.status_code == 403 and exc.detail == "Invalid JWT token")
        if request.url.path.rstrip("/") == request.scope.get("root_path", "").rstrip("/") and signed_out:
            return Response(_SESSION_OVER, status_code=exc.status_code, media_type="text/html; charset=utf-8",
                            headers=ui_page.PAGE_HEADERS)
        return await http_exception_handler(request, exc)

    @app.get("/api/jobs", dependencies=[can_read])
    def list_jobs(
        user: GetUserDep,
        status: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        uploader: str | None = None,
        search: str | None = None,
        sort: Annotated[str, Query(max_length=40)] = "created_at",
        order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
        page: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 1,
        page_size: Annotated[int, Query(ge=1, le=queries.MAX_PAGE_SIZE)] = 50,
        lang: Annotated[str, Query(pattern="^(en|es)$")] = "en",
    ) -> dict:
        with ui_page.http_error(422, queries.BadQuery):
            if len(status) > len(STATUSES):
                raise queries.BadQuery(f"status: at most {len(STATUSES)} values")
            query = queries.JobQuery(
                statuses=tuple(s for s in status if s), created_from=created_from, created_to=created_to,
                uploader=(uploader or "").strip() or None, search=search, sort=sort,
                descending=order == "desc", page=page, page_size=page_size,
            )
        ensure_migrated()
        result = queries.list_jobs(query)
        return {
            "jobs": [_job_view(job, lang) for job in result.jobs],
            "total": result.total, "page": result.page, "page_size": result.page_size, "pages": result.pages,
            "user": user.get_name(),
            "can_edit": ui_page.is_authorized(user, "PUT", DAG_ID),
            "can_trigger": ui_page.is_authorized(user, "POST", DAG_ID),
            "dags": _dag_views(user),
            "status_words": wording.status_words(lang),
        }

    @app.get("/api/dashboard", dependencies=[can_read])
    def dashboard_figures(
        from_day: date | None = None,
        to_day: date | None = None,
        tz: Annotated[str, Query(max_length=60)] = "UTC",
    ) -> dict:
        """The dashboard over ``from_day``..``to_day`` (days in zone ``tz``; default the last 30)."""
        with ui_page.http_error(422, dashboard.BadRange):
            span = dashboard.day_range(from_day, to_day, tz, datetime.now(timezone.utc))
        ensure_migrated()
        return dashboard.figures(span)

    @app.post("/api/dags/{dag_id}/unpause",
              dependencies=[Depends(requires_access_dag("PUT")), page_request])
    def unpause(request: Request, dag_id: str) -> dict:
        """Unpause one of :data:`WATCHED_DAGS` through Airflow's REST API, as the caller."""
        if dag_id not in WATCHED_DAGS:
            raise HTTPException(404, f"the page does not manage DAG {dag_id[:100]!r}")
        with ui_page.http_error(502, TriggerError):
            resp = caller_client(request).request(
                "PATCH", f"/api/v2/dags/{quote(dag_id, safe='')}", {"is_paused": False})
        if resp.status_code != 200:
            raise HTTPException(502 if resp.status_code >= 500 else resp.status_code,
                                f"Airflow did not unpause {dag_id}: HTTP {resp.status_code}")
        return {"dag_id": dag_id, "paused": bool(resp.json().get("is_paused"))}

    @app.get("/api/uploaders", dependencies=[can_read])
    def uploaders() -> list[str]:
        ensure_migrated()
        return JobRepository().uploaders()

    @app.get("/api/jobs/{job_id}/results", dependencies=[can_read])
    def download_results(job_id: JobId) -> FileResponse:
        job = JobRepository().get(job_id)
        if not job or not job["results_file"]:
            raise HTTPException(404, f"job {job_id} has no results workbook")
        with ui_page.http_error(503, storage.StorageError):
            results_dir = storage.local_path(storage.folder("results"))
        if results_dir is None:  # object storage: the page serves local results only (docs/scraping.md)
            raise HTTPException(501, "results live in object storage: download them from there")
        path = intake.inside(results_dir, job["results_file"])
        if path is None:
            log.warning("job %s: results file outside the results folder refused", job_id)
            raise HTTPException(404, f"job {job_id} has no results workbook in the results folder")
        if not path.is_file():
            raise HTTPException(404, f"the results workbook of job {job_id} is missing")
        return FileResponse(
            path, filename=safe_file_name(path.name) or "results.xlsx",
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    @app.get("/api/jobs/{job_id}/logs", dependencies=[can_read])
    def task_logs(request: Request, job_id: JobId) -> RedirectResponse:
        """To the log of the run's most telling task (ui_page.telling_task), else to the run."""
        job = JobRepository().get(job_id)
        if not job:
            raise HTTPException(404, f"job {job_id} not found")
        dag_id, run_id = job["dag_id"], job["airflow_run_id"]
        resp = caller_client(request).request(
            "GET", f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/taskInstances?limit=100")
        tis = resp.json().get("task_instances", []) if resp.status_code == 200 else []
        url = ui_page.log_url(dag_id, run_id, tis) or ui_page.run_url(dag_id, run_id)
        return RedirectResponse(url, status_code=302)

    @app.post("/api/jobs/retry", dependencies=[can_edit, page_request])
    def retry(request: Request, user: GetUserDep, body: JobIds) -> dict:
        return _actions(retry_jobs(body.job_ids, actor=user.get_name(), airflow=caller_client(request)))

    @app.post("/api/jobs/timeout", dependencies=[can_edit, page_request])
    def mark_timeout(request: Request, user: GetUserDep, body: JobIds) -> dict:
        return _actions(mark_jobs_timeout(body.job_ids, actor=user.get_name(), airflow=caller_client(request)))

    @app.post("/api/uploads", dependencies=[can_trigger, page_request])
    async def upload(request: Request, user: GetUserDep) -> JSONResponse:
        # The body is read only now, after the auth dependencies, and only when its declared
        # length fits the cap (uvicorn never hands over more than Content-Length).
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            raise HTTPException(411, "the upload needs a Content-Length")
        if int(length) > intake.MAX_UPLOAD_BYTES + 64 * 1024:
            raise HTTPException(413, f"larger than {intake.MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
        form = await request.form(max_files=1, max_fields=4)
        try:
            file = form.get("file")
            if file is None or not hasattr(file, "filename"):
                raise HTTPException(422, "no file in the upload (form field 'file')")
            with ui_page.http_error(None, intake.UploadRefused):  # before the file is read: a typo stores nothing
                notify = intake.notify_conf(_text_field(form, "notify_email"), _text_field(form, "no_email"))
            result = await run_in_threadpool(
                _store_and_trigger, file.file, file.filename, user.get_name(), caller_client(request), notify
            )
        finally:
            await form.close()
        return JSONResponse(result, status_code=201 if result["created"] else 200)

    return app


def _actions(actions) -> dict:
    return {"actions": [dataclasses.asdict(a) for a in actions]}


def _text_field(form, name: str) -> str | None:
    value = form.get(name)
    if value is not None and not isinstance(value, str):
        raise HTTPException(422, f"{name}: a text field, not a file")
    return value


def _store_and_trigger(stream, raw_name: str | None, uploader: str, client, notify: dict) -> dict:
    """Check, store and trigger exactly as ``scripts/trigger_upload.py`` does; ``notify`` (the
    address to email, the opt-out) goes into the run conf."""
    with ui_page.http_error(503, storage.StorageError):
        uploads_dir = storage.folder("uploads")  # the same folder, local or object storage, as the workers'
    with ui_page.http_error(None, intake.UploadRefused), intake.received_upload(stream, raw_name) as path:
        stored = store_upload(path, uploads_dir)
        name = path.name
    with ui_page.http_error(502, TriggerError):
        result = client.trigger_upload(stored, uploader, notify)
    ensure_migrated()
    job = JobRepository().by_run(DAG_ID, result.run_id)
    waits = result.created and bool(paused_dags().get(DAG_ID))
    # ``message`` for scripts; the page words the same facts in the person's language.
    if waits:
        message = (f"{name}: uploaded, but it waits: {DAG_ID} is paused in Airflow, so the job starts "
                   "only when it is unpaused")
    elif result.created:
        message = f"{name}: uploaded; run {result.run_id} started, the job appears in the list when it begins"
    else:
        which = f"job #{job['id']} ({job['status']})" if job else f"run {result.run_id} ({result.state})"
        message = f"{name}: this file was already uploaded as {which}; no new job was created"
    told = result.conf.get("notify_email") if result.conf.get("notify", True) is not False else None
    return {"created": result.created, "run_id": result.run_id, "state": result.state, "waits": waits,
            "notify_email": told,
            "file_name": name, "job_id": job["id"] if job else None, "job_status": job["status"] if job else None,
            "message": message}


def _job_view(job: dict, lang: str) -> dict:
    view = {k: v for k, v in job.items() if k not in ("dag_id", "airflow_run_id")}
    for key in ("created_at", "started_at", "completed_at"):
        view[key] = job[key].isoformat() if job[key] else None
    view["run_id"] = job["airflow_run_id"]
    view["run_url"] = ui_page.run_url(job["dag_id"], job["airflow_run_id"])
    view["status_text"] = wording.status_words(lang).get(job["status"], job["status"])
    view["problem"] = wording.plain_error(job["last_error"], job["file_name"], lang)
    return view
