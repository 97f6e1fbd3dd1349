"""The "IVR days" page (``include/callcentre/ivr_page/``, docs/ivr-days-page.md) and its nav entry."""

from airflow.plugins_manager import AirflowPlugin
from callcentre.common.ui_page import nav_page


class IvrDaysPlugin(AirflowPlugin):
    name = "ivr_days"
    fastapi_apps, external_views = nav_page("IVR days", "/ivr-days", "callcentre.ivr_page.app")
