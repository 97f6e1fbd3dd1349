"""The "IVR days" page in the Airflow UI: a FastAPI app on the api-server and a nav entry.

Built like plugins/scraping_jobs_plugin.py: the nav entry is an ``external_views`` iframe
(``/plugin/ivr-days`` in the UI) showing the page the app serves at ``/ivr-days/``; same origin, so
Airflow's login cookie authenticates it. The app lives in ``include/callcentre/ivr_page/``
(docs/ivr-days-page.md). Airflow 3.x only: 2.x loads this plugin and ignores both lists.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/ivr-days"


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
            from callcentre.ivr_page.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class IvrDaysPlugin(AirflowPlugin):
    name = "ivr_days"
    fastapi_apps = [{"app": _PageApp(), "url_prefix": URL_PREFIX, "name": "IVR days"}]
    external_views = [
        {
            "name": "IVR days",
            "href": _page_href(),
            "url_route": "ivr-days",
            "destination": "nav",
            "nav_top_level": True,
        }
    ]
