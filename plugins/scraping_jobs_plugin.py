"""The "Scraping jobs" page (``include/callcentre/scraping_page/``, docs/scraping.md) and its nav entry."""

from airflow.plugins_manager import AirflowPlugin
from callcentre.common.ui_page import nav_page


class ScrapingJobsPlugin(AirflowPlugin):
    name = "scraping_jobs"
    fastapi_apps, external_views = nav_page("Scraping jobs", "/scraping-jobs", "callcentre.scraping_page.app")
