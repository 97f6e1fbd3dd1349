"""The "Scraping jobs" page in the Airflow UI: a FastAPI app on the api-server and a nav entry.

An ``external_views`` iframe (``/plugin/scraping-jobs``) of the page served at ``/scraping-jobs/``,
same origin so Airflow's login cookie authenticates it; the app lives in
``include/callcentre/scraping_page/`` (docs/scraping.md). Airflow 2.x loads this plugin and ignores
both lists, so the page is absent there (nothing here runs at import but a config read).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from callcentre.common.ui_page import LazyPageApp, page_href

URL_PREFIX = "/scraping-jobs"


class ScrapingJobsPlugin(AirflowPlugin):
    name = "scraping_jobs"
    fastapi_apps = [{"app": LazyPageApp("callcentre.scraping_page.app"), "url_prefix": URL_PREFIX,
                     "name": "Scraping jobs"}]
    external_views = [
        {
            "name": "Scraping jobs",
            "href": page_href(URL_PREFIX),
            "url_route": "scraping-jobs",
            "destination": "nav",
            "nav_top_level": True,  # a button of its own in the nav bar: the staff use it daily
        }
    ]
