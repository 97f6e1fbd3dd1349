"""The "IVR days" page in the Airflow UI (``include/callcentre/ivr_page/``, docs/ivr-days-page.md):
its FastAPI app on the api-server at ``/ivr-days/`` and a nav entry."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from callcentre.common.ui_page import nav_page


class IvrDaysPlugin(AirflowPlugin):
    name = "ivr_days"
    fastapi_apps, external_views = nav_page("IVR days", "/ivr-days", "callcentre.ivr_page.app")
