"""What a page of ours in the Airflow 3 UI needs: a plugin's nav entry and lazy app, the caller's
token, the CSRF rule, links into the UI and locked-down static files (docs/ivr-days-page.md)."""

from __future__ import annotations

from contextlib import contextmanager
from importlib import import_module, resources
from urllib.parse import quote, urlparse

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Referrer-Policy": "same-origin",
}


def api_base_url() -> str:
    """``[api] base_url``: where the api-server answers, and the path the UI is served under."""
    from callcentre.common.compat import airflow_conf

    return airflow_conf().get("api", "base_url", fallback="http://localhost:8080").rstrip("/")


def ui_root() -> str:
    """The path the Airflow UI is served under ('' at the site root)."""
    return urlparse(api_base_url()).path.rstrip("/")


def dag_url(dag_id: str) -> str:
    return f"{ui_root()}/dags/{quote(dag_id, safe='')}"


def run_url(dag_id: str, run_id: str) -> str:
    return f"{dag_url(dag_id)}/runs/{quote(run_id, safe='')}"


def telling_task(task_instances: list[dict]) -> dict | None:
    """The task whose log explains the run: the last failed one, else the last one that started."""
    def latest(tis):
        return max(tis, key=lambda t: (t.get("end_date") or t.get("start_date") or "", t.get("map_index", -1)))

    failed = [t for t in task_instances if t.get("state") == "failed"]  # not upstream_failed: it has no log
    if failed:
        return latest(failed)
    started = [t for t in task_instances if t.get("start_date")]
    return latest(started) if started else None


def log_url(dag_id: str, run_id: str, task_instances: list[dict]) -> str | None:
    """The UI page of the run's :func:`telling_task` (REST API fields, dates as ISO text)."""
    ti = telling_task(task_instances)
    if ti is None:
        return None
    mapped = f"/mapped/{ti['map_index']}" if ti.get("map_index", -1) >= 0 else ""
    return f"{run_url(dag_id, run_id)}/tasks/{quote(ti['task_id'], safe='')}{mapped}"


class LazyPageApp:
    """The ASGI app of ``module``'s ``create_app()``, built on its first request: every Airflow
    component loads plugins, and only the api-server needs FastAPI and Airflow's auth code."""

    def __init__(self, module: str):
        self.module = module
        self._app = None

    async def __call__(self, scope, receive, send):
        if self._app is None:
            self._app = import_module(self.module).create_app()
        await self._app(scope, receive, send)


def nav_page(name: str, url_prefix: str, module: str) -> tuple[list[dict], list[dict]]:
    """A plugin's ``fastapi_apps`` and ``external_views``: ``module``'s app at ``url_prefix`` and a
    nav button showing it in an iframe (same origin: Airflow's login cookie authenticates it)."""
    app = {"app": LazyPageApp(module), "url_prefix": url_prefix, "name": name}
    view = {"name": name, "href": f"{ui_root()}{url_prefix}/", "url_route": url_prefix.strip("/"), "destination": "nav",
            "nav_top_level": True}  # staff open these pages daily: a button of their own in the nav bar
    return [app], [view]


def header_token(request) -> str | None:
    """The ``Authorization: Bearer`` token, parsed as Airflow's ``get_user`` parses it."""
    from fastapi.security.utils import get_authorization_scheme_param

    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    return token if scheme.lower() == "bearer" and token else None


def caller_token(request) -> str:
    """The JWT the caller authenticated with: the header's, else the UI's cookie."""
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    return header_token(request) or request.cookies.get(COOKIE_NAME_JWT_TOKEN, "")


def is_authorized(user, method: str, dag_id: str, entity: str | None = "RUN") -> bool:
    """What a page offers this user (its buttons); every action is checked again on its route.
    ``entity``: a ``DagAccessEntity`` name, None for the DAG itself."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    return get_auth_manager().is_authorized_dag(
        method=method, access_entity=DagAccessEntity[entity] if entity else None, details=DagDetails(id=dag_id),
        user=user)


def require_page_header(header: str):
    """A FastAPI dependency against CSRF: a state-changing call needs a Bearer token or ``header: 1``
    (only the page's own script sends it); a cookie alone is what another site's form would send."""
    from fastapi import Depends, HTTPException, Request

    def check(request) -> None:
        if request.headers.get(header) != "1" and header_token(request) is None:
            raise HTTPException(403, f"missing {header} header")

    check.__annotations__["request"] = Request  # FastAPI injects the request by this type
    return Depends(check)


@contextmanager
def http_error(status: int | None, *errors: type[Exception]):
    """``errors`` raised inside as an HTTPException with their message (``status`` None: the error's own)."""
    from fastapi import HTTPException

    try:
        yield
    except errors as err:
        raise HTTPException(err.status if status is None else status, str(err)) from err


def page_app(title: str, package: str, can_read):
    """A page's FastAPI app serving ``package``'s page.html, page.js and page.css and the shared
    airflow_prefs.js behind ``can_read``; signin.js without it (no data: it opens the login page)."""
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import Response

    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    own = {"page.js": "text/javascript", "page.css": "text/css"}

    def static_file(owner: str, name: str, media_type: str) -> Response:
        body = resources.files(owner).joinpath("static", name).read_bytes()
        return Response(body, media_type=media_type, headers=PAGE_HEADERS)

    @app.get("/", dependencies=[can_read])
    def page_html():
        return static_file(package, "page.html", "text/html; charset=utf-8")

    @app.get("/static/signin.js")  # declared before /static/{name}, which needs can_read
    def sign_in_script():
        return static_file("callcentre.common", "signin.js", "text/javascript")

    @app.get("/static/{name}", dependencies=[can_read])
    def static(name: str):
        if name == "airflow_prefs.js":  # the Airflow UI's language and time zone, shared helpers
            return static_file("callcentre.common", name, "text/javascript")
        if name not in own:
            raise HTTPException(404, "not found")
        return static_file(package, name, own[name])

    return app
