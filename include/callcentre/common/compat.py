"""Everything that differs between Airflow versions, in one place.

The project targets Airflow 3.3 (Task SDK, ``airflow.sdk``). An Airflow 2.11 leg only has to
extend the ``except ImportError`` branches below; no other module imports Airflow internals that
moved between major versions.
"""

from __future__ import annotations

try:  # Airflow 3.x: the Task SDK is the public authoring interface.
    from airflow.sdk import Param, Variable, dag, get_current_context, task
    from airflow.sdk.bases.hook import BaseHook
    from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

except ImportError:  # pragma: no cover - Airflow 2.11 leg
    from airflow.decorators import dag, task  # type: ignore[no-redef]
    from airflow.exceptions import AirflowFailException, AirflowNotFoundException  # type: ignore[no-redef]
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
    from airflow.models import Variable  # type: ignore[no-redef]
    from airflow.models.param import Param  # type: ignore[no-redef]
    from airflow.operators.python import get_current_context  # type: ignore[no-redef]



def redact(text: str) -> str:
    """Mask every secret Airflow knows about (connection passwords, sensitive variables)."""
    try:
        from airflow.sdk._shared.secrets_masker import redact as _redact
    except ImportError:  # pragma: no cover - Airflow 2.11 leg
        from airflow.utils.log.secrets_masker import redact as _redact
    return str(_redact(text))


def get_variable(key: str, default: str | None = None) -> str | None:
    """Read an Airflow Variable (env ``AIRFLOW_VAR_<KEY>`` first, then the metastore)."""
    return Variable.get(key, default)


def logical_date_of(context):
    """The run's logical date; None for a 3.x run created without one (no fallback: such a run
    names no day, and ``run_after`` would silently pick today)."""
    return context.get("logical_date") or getattr(context.get("dag_run"), "logical_date", None)


def default_timezone_name() -> str:
    """``[core] default_timezone``: the zone in which the CLI reads a bare date."""
    try:
        from airflow.sdk import conf
    except ImportError:  # pragma: no cover - Airflow 2.11 leg
        from airflow.configuration import conf
    name = conf.get("core", "default_timezone", fallback="UTC") or "UTC"
    if name.lower() == "system":
        import pendulum

        return pendulum.local_timezone().name
    return "UTC" if name.lower() == "utc" else name


def try_number_of(context) -> int:
    return int(context["ti"].try_number)


def log_url_of(context) -> str:
    return str(context["ti"].log_url)


def ui_url(path: str) -> str:
    """Link to ``path`` (e.g. ``dags/ivr_calls_daily``) in the UI (base URL from ``[api] base_url``)."""
    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="http://localhost:8080/").rstrip("/")
    return f"{base}/{path.lstrip('/')}"


def run_url_of(context) -> str:
    """Link to the DAG run in the UI."""
    from urllib.parse import quote

    dag_run = context["dag_run"]
    return ui_url(f"dags/{dag_run.dag_id}/runs/{quote(dag_run.run_id)}")


def terminal_failure_types() -> tuple[type[BaseException], ...]:
    """Exceptions that fail a task at once whatever retries remain (the task runner's own list)."""
    try:
        from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowTaskTerminated
    except ImportError:  # pragma: no cover - Airflow 2.11 leg
        from airflow.exceptions import AirflowSensorTimeout, AirflowTaskTerminated  # type: ignore[no-redef]
    return (AirflowFailException, AirflowSensorTimeout, AirflowTaskTerminated)


# --- Appended for the scraping pipeline (issue 4) -------------------------------------------------
try:  # Airflow 3.x
    from airflow.sdk import BaseSensorOperator, PokeReturnValue
    from airflow.sdk.exceptions import AirflowSkipException
except ImportError:  # pragma: no cover - Airflow 2.11 leg
    from airflow.exceptions import AirflowSkipException  # type: ignore[no-redef]
    from airflow.sensors.base import BaseSensorOperator, PokeReturnValue  # type: ignore[no-redef]


def clear_number_of(context) -> int:
    """How many times the run was cleared (0 for a fresh run); 2.11 has no such counter."""
    return int(getattr(context["dag_run"], "clear_number", 0) or 0)


def dagrun_state_of(context, dag_id: str, run_id: str) -> str | None:
    """State of another DAG run, from inside a task (3.x: Task SDK call; no ORM in workers).

    Returns None when the run does not exist.
    """
    ti = context["ti"]
    try:
        state = ti.get_dagrun_state(dag_id=dag_id, run_id=run_id)
        return str(getattr(state, "value", state))  # an enum whose str() is "DagRunState.FAILED"
    except Exception as err:  # noqa: BLE001 - in-process and supervised runs raise different types
        status = getattr(getattr(err, "response", None), "status_code", None)
        text = f"{err} {getattr(err, 'detail', '')} {getattr(err, 'error', '')}".lower()
        if status == 404 or "not_found" in text or "not found" in text:
            return None
        raise


def daily_interval_timetable(timezone: str):
    """Daily runs whose logical date is the start of the IVR day they cover (a core timetable
    registered by plugins/ivr_timetable_plugin.py; the same class path on 2.11)."""
    import pendulum

    from callcentre.ivr.timetable import IvrBusinessDayTimetable

    return IvrBusinessDayTimetable(pendulum.timezone(timezone))


def dag_bag(dag_folder):
    """Parse a folder of DAG files the way the DAG processor does (examples never included)."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # pragma: no cover - Airflow 2.11 leg
        from airflow.models.dagbag import DagBag

        return DagBag(dag_folder=str(dag_folder), include_examples=False)
    return DagBag(dag_folder=str(dag_folder))


def failed_runs_in_a_row(context, limit: int) -> int:
    """How many of the DAG's runs up to this one failed in a row (at most ``limit``), walking back
    by logical date as the dag-processor's callback may (Airflow 3: GetPreviousDagRun; the
    scheduler's circuit breaker orders by ``run_after``, the same order for scheduled runs)."""
    dag_run = context.get("dag_run")
    if dag_run is None or getattr(dag_run, "logical_date", None) is None:
        return 0
    try:
        from airflow.sdk.execution_time.comms import GetPreviousDagRun
        from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS
    except ImportError:  # pragma: no cover - Airflow 2.11 leg
        return 0
    count, logical_date = 1, dag_run.logical_date
    while count < limit:
        previous = SUPERVISOR_COMMS.send(GetPreviousDagRun(dag_id=dag_run.dag_id, logical_date=logical_date)).dag_run
        if previous is None or str(getattr(previous.state, "value", previous.state)) != "failed":
            break
        count, logical_date = count + 1, previous.logical_date
    return count
