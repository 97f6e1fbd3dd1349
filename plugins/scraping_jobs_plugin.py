"""The "Scraping jobs" page in the Airflow UI (``include/callcentre/scraping_page/``, docs/scraping.md):
its FastAPI app on the api-server at ``/scraping-jobs/`` and a nav entry."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from callcentre.common.ui_page import nav_page


class ScrapingJobsPlugin(AirflowPlugin):
    name = "scraping_jobs"
    fastapi_apps, external_views = nav_page("Scraping jobs", "/scraping-jobs", "callcentre.scraping_page.app")
