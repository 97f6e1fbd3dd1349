"""The "IVR days" page: a calendar of business days and their figures in the Airflow UI
(plugins/ivr_days_plugin.py mounts the app; docs/ivr-days-page.md)."""
