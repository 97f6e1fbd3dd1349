"""Airflow Variables: read in a task, and read or written where no task runner relays them."""

from __future__ import annotations

from callcentre.common.compat import Variable
from callcentre.common.run_context import supervisor_comms


def get_variable(key: str, default: str | None = None) -> str | None:
    """Read an Airflow Variable (env ``AIRFLOW_VAR_<KEY>`` first, then the metastore)."""
    return Variable.get(key, default)


def _variable_store():
    """3.x: the Task SDK's Variable relays through a task runner or the dag-processor; a DAG
    callback run in-process (``dag.test``) has none (its reads would see only the environment):
    then the metadata DB directly, as on 2.x."""
    if supervisor_comms() is not None:
        return Variable
    from airflow.models import Variable as VariableModel

    return VariableModel


def read_variable(key: str, default: str | None = None) -> str | None:
    """``get_variable`` that also works in a DAG callback run in-process."""
    return _variable_store().get(key, default)


def set_variable(key: str, value: str) -> None:
    _variable_store().set(key, value)


def delete_variable(key: str) -> None:
    _variable_store().delete(key)
