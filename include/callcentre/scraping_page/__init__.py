"""The "Scraping jobs" page: list, filters, actions, dashboard and the upload form in the Airflow UI
(plugins/scraping_jobs_plugin.py mounts the app; Airflow 3 only: 2.11 has no FastAPI plugins)."""
