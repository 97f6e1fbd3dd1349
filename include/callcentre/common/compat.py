"""The version shim: what differs between Airflow 3.3 and 2.11, and nothing else.

The project targets Airflow 3.3 (Task SDK, ``airflow.sdk``) and runs the same DAGs on Airflow 2.11
(the ``make test AIRFLOW=2`` leg, docs/airflow-versions.md): the ``except ImportError`` branches
and the ``IS_AIRFLOW_2`` switches below are the 2.11 side. Each ``try`` imports the 3.x path first
and the ``except`` is taken only on 2.x: ``tests/unit/test_private_airflow.py`` resolves every 3.x
path on the 3.3 leg (and the private ones listed in ``private_airflow.py``), so a path moved in a
3.x release fails there instead of silently taking the 2.11 branch.
"""

from __future__ import annotations

from datetime import timedelta

from airflow import __version__ as AIRFLOW_VERSION

IS_AIRFLOW_2 = AIRFLOW_VERSION.startswith("2.")

if not IS_AIRFLOW_2:  # Airflow 3.x: the Task SDK is the public authoring interface.
    from airflow.sdk import BaseSensorOperator, Param, PokeReturnValue, Variable, dag, get_current_context, task
    from airflow.sdk.bases.hook import BaseHook
    from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException, AirflowSensorTimeout
    from airflow.sdk.exceptions import AirflowSkipException, AirflowTaskTerminated, AirflowTaskTimeout
else:  # pragma: no cover - Airflow 2.11 leg
    from airflow.decorators import dag, task  # type: ignore[no-redef]
    from airflow.exceptions import AirflowFailException, AirflowNotFoundException, AirflowSensorTimeout  # type: ignore[no-redef]
    from airflow.exceptions import AirflowSkipException, AirflowTaskTerminated, AirflowTaskTimeout  # type: ignore[no-redef]
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
    from airflow.models import Variable  # type: ignore[no-redef]
    from airflow.models.param import Param  # type: ignore[no-redef]
    from airflow.operators.python import get_current_context  # type: ignore[no-redef]
    from airflow.sensors.base import BaseSensorOperator, PokeReturnValue  # type: ignore[no-redef]


def redact(text: str) -> str:
    """Mask every secret Airflow knows about (connection passwords, sensitive variables)."""
    if IS_AIRFLOW_2:
        from airflow.utils.log.secrets_masker import redact as _redact
    else:
        from airflow.sdk._shared.secrets_masker import redact as _redact
    return str(_redact(text))


def parse_typed_date(text: str, zone: str):
    """What the CLI makes of a date typed as ``text`` (``dags test``, ``trigger -l``, backfill
    bounds) when ``[core] default_timezone`` is ``zone``: its own parser."""
    import pendulum

    if IS_AIRFLOW_2:
        from airflow.utils.timezone import parse
    else:
        from airflow._shared.timezones.timezone import parse
    return parse(text, timezone=pendulum.timezone(zone))


def default_timezone_name() -> str:
    """``[core] default_timezone``: the zone in which the CLI reads a bare date."""
    if IS_AIRFLOW_2:
        from airflow.configuration import conf
    else:
        from airflow.sdk import conf
    name = conf.get("core", "default_timezone", fallback="UTC") or "UTC"
    if name.lower() == "system":
        import pendulum

        return pendulum.local_timezone().name
    return "UTC" if name.lower() == "utc" else name


def exponential_backoff(multiplier: float = 2.0):
    """``retry_exponential_backoff``: 3.x takes the multiplier; 2.x a bool (its delay always doubles)."""
    if IS_AIRFLOW_2:
        return multiplier > 1
    return multiplier


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


# Whether the task a mapped task expands over must be a root of the run: on 2.x, ``airflow dags
# backfill`` expands a mapped task only on the executor's "done" event of its source, and drops
# that event for a task that was not a root (BackfillJobRunner keys the running task before bumping
# its try number): the backfill then ends "deadlocked" (apache/airflow#33994).
MAPPED_SOURCE_MUST_BE_A_ROOT = IS_AIRFLOW_2

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
    return AirflowSensorTimeout, AirflowTaskTimeout


def terminal_failure_types() -> tuple[type[BaseException], ...]:
    """Exceptions that fail a task at once whatever retries remain (the task runner's own list)."""
    return (AirflowFailException, AirflowSensorTimeout, AirflowTaskTerminated)


def attach_filesystem(protocol: str, fs) -> None:
    """Register an fsspec file system with Airflow's object store (as a provider registers s3)."""
    if IS_AIRFLOW_2:
        from airflow.io.store import attach
    else:
        from airflow.sdk.io import attach
    attach(protocol, fs=fs)


def object_storage_path_type() -> type:
    """Airflow's ``ObjectStoragePath`` (imported on use: fsspec is heavy)."""
    if IS_AIRFLOW_2:
        from airflow.io.path import ObjectStoragePath
    else:
        from airflow.sdk import ObjectStoragePath
    return ObjectStoragePath


def dag_bag(dag_folder):
    """Parse a folder of DAG files the way the DAG processor does (examples never included)."""
    if IS_AIRFLOW_2:
        from airflow.models.dagbag import DagBag

        return DagBag(dag_folder=str(dag_folder), include_examples=False)
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(dag_folder))


def asset(name: str, uri: str):
    """A data product other DAGs can be scheduled on: an ``Asset`` (3.x) or a ``Dataset`` (2.x,
    known by its URI alone)."""
    if IS_AIRFLOW_2:
        from airflow.datasets import Dataset

        return Dataset(uri)
    from airflow.sdk import Asset

    return Asset(name=name, uri=uri)
