"""The version shim: what differs between Airflow 3.3 (the target) and 2.11, and nothing else.

Every switch is ``IS_AIRFLOW_2``, never ``except ImportError``, so a path a 3.x release moves fails
loudly (``tests/unit/test_private_airflow.py``) instead of taking the 2.11 branch
(docs/airflow-versions.md).
"""

from __future__ import annotations

from datetime import timedelta

from airflow import __version__ as AIRFLOW_VERSION

IS_AIRFLOW_2 = AIRFLOW_VERSION.startswith("2.")

if not IS_AIRFLOW_2:  # Airflow 3.x: the Task SDK is the public authoring interface.
    from airflow.sdk import (
        BaseHook, BaseSensorOperator, Param, PokeReturnValue, Variable, dag, get_current_context, task,
    )
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


def airflow_conf():
    """Airflow's configuration where each version makes it public (3.x: ``airflow.sdk.conf``)."""
    if IS_AIRFLOW_2:
        from airflow.configuration import conf
    else:
        from airflow.sdk import conf
    return conf


def exponential_backoff(multiplier: float):
    """``retry_exponential_backoff``: 3.x takes the multiplier; 2.x a bool (its delay always doubles)."""
    return multiplier > 1 if IS_AIRFLOW_2 else multiplier


def sla_kwargs(deadline: timedelta | None) -> dict:
    """Task arguments of a deadline from the run's logical date: 2.x's ``sla=``; nothing on 3.x,
    which removed SLAs (ivr_deadline_watch watches the deadline on both)."""
    return {"sla": deadline} if IS_AIRFLOW_2 and deadline else {}


def sla_miss_callback_kwargs(callback) -> dict:
    """DAG arguments: the 2.x ``sla_miss_callback``; nothing on 3.x (no SLAs)."""
    return {"sla_miss_callback": callback} if IS_AIRFLOW_2 else {}


# A task that runs once its upstream tasks have all ended, at least one of them in success (2.11
# has no such rule; its all_done also runs after a failed first task, whose XCom is then missing).
ALL_DONE_MIN_ONE_SUCCESS = "all_done" if IS_AIRFLOW_2 else "all_done_min_one_success"

# The REST API: 3.x /api/v2 with a JWT from /auth/token; 2.x /api/v1 with HTTP basic auth.
REST_API_PREFIX = "/api/v1" if IS_AIRFLOW_2 else "/api/v2"
REST_API_BASIC_AUTH = IS_AIRFLOW_2
# Where `airflow standalone` writes the generated admin password (3.x: a JSON of user: password).
STANDALONE_PASSWORD_FILE = (
    "standalone_admin_password.txt" if IS_AIRFLOW_2 else "simple_auth_manager_passwords.json.generated"
)


def object_storage_path_type() -> type:
    """Airflow's ``ObjectStoragePath`` (imported on use: fsspec is heavy)."""
    if IS_AIRFLOW_2:
        from airflow.io.path import ObjectStoragePath
    else:
        from airflow.sdk import ObjectStoragePath
    return ObjectStoragePath


def asset(name: str, uri: str):
    """An ``Asset`` (3.x) or a ``Dataset`` (2.x, known by its URI alone)."""
    if IS_AIRFLOW_2:
        from airflow.datasets import Dataset

        return Dataset(uri)
    from airflow.sdk import Asset

    return Asset(name=name, uri=uri)
