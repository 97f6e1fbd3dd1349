"""Everything that differs between Airflow versions, in one place.

The project targets Airflow 3.3 (Task SDK, ``airflow.sdk``) and runs the same DAGs on Airflow 2.11
(the ``make test AIRFLOW=2`` leg, docs/airflow-versions.md): the ``except ImportError`` branches
and the ``IS_AIRFLOW_2`` switches below are the 2.11 side. No other module imports Airflow
internals that moved between major versions. The private Airflow APIs used here (and in the IVR
timetable) are listed in ``private_airflow.py``, whose test fails when one moves, so an ``except
ImportError`` below never silently takes the 2.11 path on 3.x.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from airflow import __version__ as AIRFLOW_VERSION

IS_AIRFLOW_2 = AIRFLOW_VERSION.startswith("2.")

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



def plain_task(**kwargs):
    """``@task`` for a task whose arguments are plain values or mapped ones, never Jinja templates
    nor XComArgs to resolve: no template rendering and no rendered-fields record (on 3.x that
    record is one Execution-API write per task instance, the costliest call after the task's
    start; ivr_calls_daily runs 24 such hours a day: docs/performance.md).

    A task taking an upstream task's result as an argument (not through ``expand``) needs ``@task``:
    Airflow resolves such an argument while rendering it."""
    try:
        from airflow.sdk.bases.decorator import task_decorator_factory
    except ImportError:  # pragma: no cover - Airflow 2.11 leg
        from airflow.decorators.base import task_decorator_factory  # type: ignore[no-redef]
    return task_decorator_factory(decorated_operator_class=_plain_operator_class(), **kwargs)


@cache
def _plain_operator_class() -> type:
    """``@task``'s operator class without template fields (one class, however many DAGs use it)."""
    try:
        from airflow.providers.standard.decorators.python import _PythonDecoratedOperator
    except ImportError:  # pragma: no cover - Airflow 2.11 leg
        from airflow.decorators.python import _PythonDecoratedOperator  # type: ignore[no-redef]

    class PlainPythonDecoratedOperator(_PythonDecoratedOperator):
        template_fields = ()
        template_fields_renderers: dict[str, str] = {}

    return PlainPythonDecoratedOperator


def label_mapped_task(label: str) -> None:
    """Name the running mapped task instance ``label`` in the UI (map_index_template
    ``"{{ hour_label }}"`` renders it from the live context).

    3.x renders the template again after the task and, when the label changed, sends it in an
    Execution-API call of its own before the task's final state; set on the task instance here,
    it is unchanged then and travels with that state (one call less per mapped task instance)."""
    context = get_current_context()
    context["hour_label"] = label
    if not IS_AIRFLOW_2:
        context["ti"].rendered_map_index = label


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


def _outside_a_task_runner(call, *args):
    """3.x: the Task SDK's Variable relays through a task runner or the dag-processor; a DAG
    callback run in-process (``dag.test``) has none (its reads would see only the environment):
    then the metadata DB directly, as on 2.x."""
    if not IS_AIRFLOW_2:
        from airflow.sdk.execution_time import task_runner

        if getattr(task_runner, "SUPERVISOR_COMMS", None) is not None:
            return getattr(Variable, call)(*args)
    from airflow.models import Variable as VariableModel

    return getattr(VariableModel, call)(*args)


def read_variable(key: str, default: str | None = None) -> str | None:
    """``get_variable`` that also works in a DAG callback run in-process."""
    return _outside_a_task_runner("get", key, default)


def set_variable(key: str, value: str) -> None:
    _outside_a_task_runner("set", key, value)


def delete_variable(key: str) -> None:
    _outside_a_task_runner("delete", key)


def logical_date_of(context):
    """The run's logical date; None for a 3.x run created without one (no fallback: such a run
    names no day, and ``run_after`` would silently pick today)."""
    return context.get("logical_date") or getattr(context.get("dag_run"), "logical_date", None)


def dated_by_timetable(context) -> bool:
    """Whether the run's logical date came from the DAG's timetable (a scheduled or backfill run,
    cleared or not), rather than typed by an operator (``dags test``, ``trigger``, REST, UI)."""
    run_type = getattr(context.get("dag_run"), "run_type", None)
    return str(getattr(run_type, "value", run_type) or "") in ("scheduled", "backfill")


def parse_typed_date(text: str, zone: str):
    """What the CLI makes of a date typed as ``text`` (``dags test``, ``trigger -l``, backfill
    bounds) when ``[core] default_timezone`` is ``zone``: its own parser."""
    import pendulum

    try:
        from airflow._shared.timezones.timezone import parse
    except ImportError:  # pragma: no cover - Airflow 2.11 leg
        from airflow.utils.timezone import parse
    return parse(text, timezone=pendulum.timezone(zone))


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
    """Link to ``path`` (e.g. ``dags/ivr_calls_daily``) in the UI (base URL from ``[api] base_url``;
    2.x: ``[webserver] base_url``)."""
    from airflow.configuration import conf

    section = "webserver" if IS_AIRFLOW_2 else "api"
    base = conf.get(section, "base_url", fallback="http://localhost:8080/").rstrip("/")
    return f"{base}/{path.lstrip('/')}"


def run_url_of(context) -> str:
    """Link to the DAG run in the UI."""
    dag_run = context["dag_run"]
    return dag_run_url(dag_run.dag_id, dag_run.run_id)


def dag_run_url(dag_id: str, run_id: str) -> str:
    """Link to one DAG run in the UI (2.x: the run selected in the grid view)."""
    from urllib.parse import quote

    if IS_AIRFLOW_2:
        return ui_url(f"dags/{dag_id}/grid?dag_run_id={quote(run_id)}")
    return ui_url(f"dags/{dag_id}/runs/{quote(run_id)}")


def dag_runs_url(dag_id: str) -> str:
    """Link to a DAG's runs in the UI."""
    return ui_url(f"dags/{dag_id}/grid" if IS_AIRFLOW_2 else f"dags/{dag_id}/runs")


def backfill_command(dag_id: str, first_day, last_day, *, rerun: bool = True) -> str:
    """The CLI line that (re)loads ``first_day``..``last_day`` (``rerun``: runs that failed too)."""
    if IS_AIRFLOW_2:
        flag = " --rerun-failed-tasks" if rerun else ""
        return f"airflow dags backfill{flag} -s {first_day} -e {last_day} {dag_id}"
    flag = " --reprocess-behavior failed" if rerun else ""
    return f"airflow backfill create --dag-id {dag_id} --from-date {first_day} --to-date {last_day}{flag}"


def exponential_backoff(multiplier: float = 2.0):
    """``retry_exponential_backoff``: 3.x takes the multiplier; 2.x a bool (its delay always doubles)."""
    if IS_AIRFLOW_2:
        return multiplier > 1
    return multiplier


def source_after(upstream, source) -> None:
    """``upstream >> source``, where ``source`` is the task a mapped task expands over.

    2.x: nothing; ``source`` stays a root of the run and the mapped task waits for ``upstream``
    itself. 2.x's ``airflow dags backfill`` expands a mapped task only on the executor's "done"
    event of its source, and it drops that event for a task that was not a root of the run
    (BackfillJobRunner keys the running task before bumping its try number): the backfill then
    ends "deadlocked" (apache/airflow#33994).
    """
    if not IS_AIRFLOW_2:
        upstream >> source


def sla_kwargs(deadline: timedelta | None) -> dict:
    """Task arguments of a load deadline measured from the run's logical date.

    2.x: a native ``sla=`` (misses go to the DAG's ``sla_miss_callback``); 3.x removed SLAs, so
    nothing: ivr_deadline_watch watches the deadline there (and on 2.x too, for days with no run).
    """
    if IS_AIRFLOW_2 and deadline:
        return {"sla": deadline}
    return {}


def sla_miss_callback_kwargs(callback) -> dict:
    """DAG arguments: the 2.x ``sla_miss_callback``; nothing on 3.x (no SLAs)."""
    return {"sla_miss_callback": callback} if IS_AIRFLOW_2 else {}


# The REST API the scripts and the automatic retry call: 3.x /api/v2 with a JWT from /auth/token;
# 2.x /api/v1 with HTTP basic auth (backend airflow.api.auth.backend.basic_auth).
REST_API_PREFIX = "/api/v1" if IS_AIRFLOW_2 else "/api/v2"
REST_API_BASIC_AUTH = IS_AIRFLOW_2
# Where `airflow standalone` writes the generated admin password (3.x: a JSON of user: password).
STANDALONE_PASSWORD_FILE = (
    "standalone_admin_password.txt" if IS_AIRFLOW_2 else "simple_auth_manager_passwords.json.generated"
)


def dag_test(dag, logical_date=None, conf: dict | None = None):
    """``dag.test`` of one logical date (2.x names it ``execution_date``)."""
    if IS_AIRFLOW_2:
        # The run's ORM models refer to the FAB user table (dag_run_note.user_id): outside the
        # CLI nothing imports it, and the first flush fails with NoReferencedTableError.
        import airflow.providers.fab.auth_manager.models  # noqa: F401

        return dag.test(execution_date=logical_date, run_conf=conf or {})
    return dag.test(logical_date=logical_date, run_conf=conf or {})


def timeout_exceptions() -> tuple[type[BaseException], type[BaseException]]:
    """``(AirflowSensorTimeout, AirflowTaskTimeout)``: a sensor or a task that ran out of time."""
    try:
        from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowTaskTimeout
    except ImportError:  # pragma: no cover - Airflow 2.11 leg
        from airflow.exceptions import AirflowSensorTimeout, AirflowTaskTimeout  # type: ignore[no-redef]
    return AirflowSensorTimeout, AirflowTaskTimeout


def terminal_failure_types() -> tuple[type[BaseException], ...]:
    """Exceptions that fail a task at once whatever retries remain (the task runner's own list)."""
    try:
        from airflow.sdk.exceptions import AirflowTaskTerminated
    except ImportError:  # pragma: no cover - Airflow 2.11 leg
        from airflow.exceptions import AirflowTaskTerminated  # type: ignore[no-redef]
    return (AirflowFailException, timeout_exceptions()[0], AirflowTaskTerminated)


def object_storage_path(url: str):
    """Airflow's ``ObjectStoragePath`` of ``url`` (imported on use: fsspec is heavy)."""
    return object_storage_path_type()(url)


def attach_filesystem(protocol: str, fs) -> None:
    """Register an fsspec file system with Airflow's object store (as a provider registers s3)."""
    try:
        from airflow.sdk.io import attach
    except ImportError:  # pragma: no cover - Airflow 2.11 leg
        from airflow.io.store import attach  # type: ignore[no-redef]
    attach(protocol, fs=fs)


def object_storage_path_type() -> type:
    try:
        from airflow.sdk import ObjectStoragePath
    except ImportError:  # pragma: no cover - Airflow 2.11 leg
        from airflow.io.path import ObjectStoragePath  # type: ignore[no-redef]
    return ObjectStoragePath


# --- Appended for the scraping pipeline (issue 4) -------------------------------------------------
try:  # Airflow 3.x
    from airflow.sdk import BaseSensorOperator, PokeReturnValue
    from airflow.sdk.exceptions import AirflowSkipException
except ImportError:  # pragma: no cover - Airflow 2.11 leg
    from airflow.exceptions import AirflowSkipException  # type: ignore[no-redef]
    from airflow.sensors.base import BaseSensorOperator, PokeReturnValue  # type: ignore[no-redef]


def clear_number_of(context) -> int:
    """Which attempt of the run this is: grows each time the run is cleared (see run_attempt_of)."""
    return run_attempt_of(context["dag_run"])


def run_attempt_of(dag_run) -> int:
    """3.x: the run's ``clear_number`` (0 for a fresh run). 2.x has no such counter: the epoch
    second the run (re)started, which a clear resets, so it also grows with every clear."""
    if IS_AIRFLOW_2:
        started = getattr(dag_run, "start_date", None)
        return int(started.timestamp()) if started else 0
    return int(getattr(dag_run, "clear_number", 0) or 0)


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
    except ImportError:  # 2.x, or a callback run in-process (dag.test): the ORM answers
        return _failed_runs_in_a_row_orm(dag_run, limit)
    count, logical_date = 1, dag_run.logical_date
    while count < limit:
        previous = SUPERVISOR_COMMS.send(GetPreviousDagRun(dag_id=dag_run.dag_id, logical_date=logical_date)).dag_run
        if previous is None or str(getattr(previous.state, "value", previous.state)) != "failed":
            break
        count, logical_date = count + 1, previous.logical_date
    return count


def _failed_runs_in_a_row_orm(dag_run, limit: int) -> int:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    logical = DagRun.execution_date if IS_AIRFLOW_2 else DagRun.logical_date
    with create_session() as session:
        states = session.query(DagRun.state).filter(
            DagRun.dag_id == dag_run.dag_id, logical <= dag_run.logical_date
        ).order_by(logical.desc()).limit(limit).all()
    count = 0
    for (state,) in states:
        if str(getattr(state, "value", state)) != "failed":
            break
        count += 1
    return count


def _dag_callback_context_from_an_expanded_task() -> None:  # pragma: no cover - Airflow 2.11 leg
    """Airflow 2.11 builds a DAG callback's context from the run's last task instance in table
    order (``DAG.fetch_callback``: ``tis[-1]``, no ORDER BY). When a run failed before a mapped
    task expanded (ivr_calls_daily: ``plan`` failed), that can be the unexpanded ``load_hour``,
    whose context raises NotFullyPopulated: `dag.test()` fails with it and, under a scheduler, the
    run's failure message is lost. Only then, the context is built from the last other task
    instance, as 2.11 would have. Airflow 3 builds DAG callback contexts differently."""
    from airflow.models.dag import DAG
    from airflow.models.expandinput import NotFullyPopulated
    from airflow.models.mappedoperator import MappedOperator
    from airflow.utils.session import NEW_SESSION, provide_session
    from airflow.utils.state import TaskInstanceState

    upstream = DAG.fetch_callback
    if getattr(upstream, "callcentre_patched", False):
        return

    @provide_session
    def fetch_callback(dag, dag_run_id, success=True, reason=None, *, session=NEW_SESSION):
        try:
            return upstream(dag, dag_run_id, success, reason, session=session)
        except NotFullyPopulated:
            callbacks = dag.on_success_callback if success else dag.on_failure_callback
            dagrun = DAG.fetch_dagrun(dag_id=dag.dag_id, run_id=dag_run_id, session=session)
            tis = [ti for ti in dagrun.get_task_instances(session=session)
                   if ti.state != TaskInstanceState.REMOVED
                   and not (ti.map_index < 0 and isinstance(dag.get_task(ti.task_id), MappedOperator))]
            ti = tis[-1]
            ti.task = dag.get_task(ti.task_id)
            context = ti.get_template_context(session=session)
            context["reason"] = reason
            return (callbacks if isinstance(callbacks, list) else [callbacks]), context

    fetch_callback.callcentre_patched = True
    fetch_callback.upstream = upstream
    DAG.fetch_callback = staticmethod(fetch_callback)


if IS_AIRFLOW_2:
    _dag_callback_context_from_an_expanded_task()


def asset(name: str, uri: str):
    """A data product other DAGs can be scheduled on: an ``Asset`` (3.x) or a ``Dataset`` (2.x,
    known by its URI alone)."""
    if IS_AIRFLOW_2:
        from airflow.datasets import Dataset

        return Dataset(uri)
    from airflow.sdk import Asset

    return Asset(name=name, uri=uri)


def set_outlet_extra(context, target, extra: dict) -> None:
    """The ``extra`` of the event the running task emits for its outlet ``target`` (both versions)."""
    context["outlet_events"][target].extra = extra
