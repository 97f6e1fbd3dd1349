"""The "IVR days" page in the Airflow UI: a FastAPI app on the api-server and a nav entry.

An ``external_views`` iframe (``/plugin/ivr-days``) of the page served at ``/ivr-days/``, same
origin so Airflow's login cookie authenticates it; the app lives in ``include/callcentre/ivr_page/``
(docs/ivr-days-page.md). Airflow 2.x loads this plugin and ignores both lists.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from callcentre.common.ui_page import LazyPageApp, page_href

URL_PREFIX = "/ivr-days"


class IvrDaysPlugin(AirflowPlugin):
    name = "ivr_days"
    fastapi_apps = [{"app": LazyPageApp("callcentre.ivr_page.app"), "url_prefix": URL_PREFIX, "name": "IVR days"}]
    external_views = [
        {
            "name": "IVR days",
            "href": page_href(URL_PREFIX),
            "url_route": "ivr-days",
            "destination": "nav",
            "nav_top_level": True,  # the analysts' daily look at the data
        }
    ]
