"""The "Scraping jobs" page in the Airflow UI: a FastAPI app on the api-server and a nav entry.

The nav entry is an ``external_views`` iframe (``/plugin/scraping-jobs`` in the UI) showing the
page the app serves at ``/scraping-jobs/``; same origin, so Airflow's login cookie authenticates
it. The app and its security live in ``include/callcentre/scraping_page/`` (docs/scraping.md).

Airflow 3.x only: Airflow 2.x loads this plugin but ignores ``fastapi_apps`` and ``external_views``
(nothing here runs at import but a config read), so the page is simply absent there (docs/airflow-versions.md;
tests/af2 checks the plugins load).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/scraping-jobs"


def _page_href() -> str:
    """The page's path, under the path Airflow itself is served from (``[api] base_url``)."""
    from urllib.parse import urlparse

    from airflow.configuration import conf

    root = urlparse(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    return f"{root}{URL_PREFIX}/"


class _PageApp:
    """The ASGI app, built on its first request: every Airflow component loads plugins, and only
    the api-server needs FastAPI and Airflow's auth code."""

    def __init__(self):
        self._app = None

    async def __call__(self, scope, receive, send):
        if self._app is None:
            from callcentre.scraping_page.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class ScrapingJobsPlugin(AirflowPlugin):
    name = "scraping_jobs"
    fastapi_apps = [{"app": _PageApp(), "url_prefix": URL_PREFIX, "name": "Scraping jobs"}]
    external_views = [
        {
            "name": "Scraping jobs",
            "href": _page_href(),
            "url_route": "scraping-jobs",
            "destination": "nav",
            "nav_top_level": True,  # a button of its own in the nav bar: the staff use it daily
        }
    ]
