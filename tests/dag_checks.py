"""Checks every DAG file must pass on both Airflow legs (tests/dags on 3.3, tests/af2 on 2.11)."""

from __future__ import annotations


def task_default_problems(dagbag) -> list[str]:
    """Tasks missing what recovery relies on: retries, a real owner, the failure callback that
    records the failure for the run's one alert, and an execution timeout."""
    problems = []
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            where = f"{dag_id}.{task.task_id}"
            if task.retries < 1:
                problems.append(f"{where} has no retries")
            if not task.owner or task.owner == "airflow":
                problems.append(f"{where} has no owner")
            if not task.on_failure_callback:
                problems.append(f"{where} has no on_failure_callback")
            if task.execution_timeout is None:
                problems.append(f"{where} has no execution_timeout")
    return problems
