"""The "Scraping jobs" page inside the Airflow UI: list, filters, actions and the upload form.

``schema`` (the page's indexes), ``queries`` (list/filter/search/sort/paging), ``intake`` (upload
and download checks), ``app`` (the FastAPI app mounted by ``plugins/scraping_jobs_plugin.py``) and
``static/`` (the HTML page, its script and style). Airflow 3 only: 2.11 has no FastAPI plugins.
"""
