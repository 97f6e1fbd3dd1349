"""Where an operator goes in the Airflow UI, and the CLI line they type, for our messages."""

from __future__ import annotations

from urllib.parse import quote

from callcentre.common.compat import IS_AIRFLOW_2, airflow_conf


def ui_url(path: str) -> str:
    """Link to ``path`` (e.g. ``dags/ivr_calls_daily``) in the UI (base URL from ``[api] base_url``;
    2.x: ``[webserver] base_url``)."""
    section = "webserver" if IS_AIRFLOW_2 else "api"
    base = airflow_conf().get(section, "base_url", fallback="http://localhost:8080/").rstrip("/")
    return f"{base}/{path.lstrip('/')}"


def dag_run_url(dag_id: str, run_id: str) -> str:
    """Link to one DAG run in the UI (2.x: the run selected in the grid view)."""
    if IS_AIRFLOW_2:
        return ui_url(f"dags/{dag_id}/grid?dag_run_id={quote(run_id)}")
    return ui_url(f"dags/{dag_id}/runs/{quote(run_id)}")


def dag_runs_url(dag_id: str) -> str:
    """Link to a DAG's runs in the UI."""
    return ui_url(f"dags/{dag_id}/grid" if IS_AIRFLOW_2 else f"dags/{dag_id}/runs")


def backfill_command(dag_id: str, first_day, last_day) -> str:
    """The CLI line that (re)loads ``first_day``..``last_day``, runs that failed included."""
    if IS_AIRFLOW_2:
        return f"airflow dags backfill --rerun-failed-tasks -s {first_day} -e {last_day} {dag_id}"
    return f"airflow backfill create --dag-id {dag_id} --from-date {first_day} --to-date {last_day} --reprocess-behavior failed"
